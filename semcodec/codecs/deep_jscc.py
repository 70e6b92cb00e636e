"""Deep JSCC (Bourtsoulatze, Kurka, Gündüz 2019): the learned baseline, analog symbols.

The encoder's latent is the channel input, so quality degrades gracefully with SNR instead of
falling off a cliff. Checkpoints trained by this project ship in ``semcodec/weights`` (one per
bandwidth ratio and training SNR, each with a JSON card); the codec picks the one for
``--bandwidth`` whose training SNR is nearest the design SNR, unless ``--opt checkpoint=NAME``
(a shipped name or a path to a ``.safetensors`` file) names one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkpoints import CHECKPOINT_BITS, CHECKPOINT_ID, card_beside, file_sha256, header_id, receiver_checkpoint, shipped_cards
from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import SIDE, Obj, Str
from ..signal import Reconstruction, Signal

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..links.analog import AnalogLink
    from ..signal import Received

#: Header: the analog link's image height and width (32 bits) and the checkpoint index
#: (:data:`~semcodec.checkpoints.CHECKPOINT_BITS`).


@dataclass(frozen=True)
class Checkpoint:
    """A trained model on disk and what its card says about it."""

    name: str
    path: Path
    bandwidth_ratio: float
    train_snr_db: float | None  # None: a checkpoint of the user's whose card does not say
    card: dict


@lru_cache(maxsize=1)
def shipped_checkpoints() -> tuple[Checkpoint, ...]:
    """The checkpoints that come with the package, sorted by (ratio, SNR); cards read once."""
    out = [Checkpoint(name, weights, card["bandwidth_ratio"], card["train_snr_db"], card)
           for name, weights, card in shipped_cards("deep_jscc_*.json")]
    return tuple(sorted(out, key=lambda c: (c.bandwidth_ratio, c.train_snr_db)))


def choose_checkpoint(bandwidth: float, snr_db: float) -> Checkpoint:
    """The shipped checkpoint of ratio ``bandwidth`` whose training SNR is nearest ``snr_db``."""
    ckpts = [c for c in shipped_checkpoints() if math.isclose(c.bandwidth_ratio, bandwidth, rel_tol=0.02)]
    if not ckpts:
        ratios = sorted({f"1/{round(1 / c.bandwidth_ratio)}" for c in shipped_checkpoints()})
        raise InvalidInput(
            f"deep-jscc has no checkpoint for bandwidth {bandwidth:.4g} (shipped: {', '.join(ratios)}); "
            "train one with `semcodec train deep-jscc` and pass --opt checkpoint=PATH"
        )
    return min(ckpts, key=lambda c: (abs(c.train_snr_db - snr_db), -c.train_snr_db))


def checkpoint_by_name(name: str) -> Checkpoint:
    """A shipped checkpoint by name, or any ``.safetensors`` file (its card beside it, if any)."""
    for c in shipped_checkpoints():
        if c.name == name:
            return c
    path = Path(name)
    if not path.is_file():
        known = ", ".join(c.name for c in shipped_checkpoints())
        raise InvalidInput(f"deep-jscc checkpoint {name!r} is neither shipped ({known}) nor a file")
    card = card_beside(path)
    return Checkpoint(path.stem, path, card.get("bandwidth_ratio", float("nan")),
                      _finite_or_none(card.get("train_snr_db")), card)


def _finite_or_none(value: object) -> float | None:
    """A card's number as a float, or ``None`` when it is missing or not a finite number (records
    are strict JSON: a NaN there would make them unwritable)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@lru_cache(maxsize=None)
def load_model(path: str, device: str):
    """Load a checkpoint once per process (the latent width is read from the weights)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..networks.deep_jscc import DeepJSCC

    try:
        state = load_file(path)
        model = DeepJSCC(state["encoder.4.0.weight"].shape[0])
        model.load_state_dict(state)
    except (SafetensorError, KeyError, RuntimeError, OSError) as exc:
        raise InvalidInput(f"{path}: not a deep-jscc checkpoint ({type(exc).__name__})") from None
    return model.to(torch.device(device)).eval()


#: What a deep-JSCC transmission's header holds (the codec's, and Multi-SC's slice).
HEADER_SCHEMA = Obj({"height": SIDE, "width": SIDE, "checkpoint": Str(80, pattern=CHECKPOINT_ID)})


def analog_link(ckpt: Checkpoint, bandwidth: float, device: str | None) -> "AnalogLink":
    """The analog link of a deep-JSCC checkpoint at budget ``bandwidth``; the checkpoint's latent
    width must be the one the budget implies (k/n = c/96)."""
    from ..links.analog import AnalogLink

    model = load_model(str(ckpt.path), device or "cpu")
    if not math.isclose(model.c / 96, bandwidth, rel_tol=0.02):
        raise InvalidInput(f"deep-jscc: checkpoint {ckpt.name} sends k/n {model.c}/96, not the budget "
                           f"{bandwidth:.4g} (choose --bandwidth {model.c}/96 or another checkpoint)")
    return AnalogLink(model, bandwidth, other_header_bits=CHECKPOINT_BITS)


class DeepJsccCodec(Codec):
    """Deep JSCC autoencoder; one analog stream ``image`` of ``c*H*W/32`` complex symbols."""

    name = "deep-jscc"
    kind = "learned"
    needs = "nothing to download (checkpoints ship with the package)"
    options = {"checkpoint": Option(None, "a shipped checkpoint name or a .safetensors file (default: "
                                          "the shipped one nearest the design SNR)", path=True)}
    stream_kinds = {"image": "analog"}
    header_schema = HEADER_SCHEMA

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        return {"image": None}  # its length depends on the checkpoint: checked in decode

    def checkpoint(self, design_snr_db: float | None = None) -> Checkpoint:
        """``--opt checkpoint``, or the shipped one of this bandwidth nearest ``design_snr_db``."""
        if self.opts["checkpoint"]:
            return checkpoint_by_name(str(self.opts["checkpoint"]))
        if design_snr_db is None:
            raise InvalidInput("deep-jscc needs a design SNR (--design-snr) to choose its checkpoint")
        return choose_checkpoint(self.bandwidth, design_snr_db)

    def check_config(self) -> None:
        if self.opts["checkpoint"]:
            self.link(self.checkpoint())  # a file that is a deep-jscc checkpoint of this budget
        else:
            choose_checkpoint(self.bandwidth, 10.0)  # some shipped checkpoint serves this budget

    def provenance_checkpoints(self) -> dict[str, str]:
        if self.opts["checkpoint"]:
            ckpt = self.checkpoint()
            return {ckpt.name: file_sha256(ckpt.path)}
        return {c.name: file_sha256(c.path) for c in shipped_checkpoints()
                if math.isclose(c.bandwidth_ratio, self.bandwidth, rel_tol=0.02)}

    def receiver_checkpoint(self, named: str) -> Checkpoint:
        own = self.checkpoint() if self.opts["checkpoint"] else None
        return receiver_checkpoint(self.name, named, own, shipped_checkpoints())

    def link(self, ckpt: Checkpoint) -> "AnalogLink":
        return analog_link(ckpt, self.bandwidth, self.device)

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        ckpt = self.checkpoint(op.design_snr_db)
        link = self.link(ckpt)
        try:
            tx = link.transmit(image)
        except InvalidInput as exc:
            raise InvalidInput(f"deep-jscc: {exc}") from None
        full = math.prod(link.latent_shape(*image.shape[-2:])) // 2
        self.note_transmitter(checkpoint=ckpt.name, symbols_dropped=int(full - tx.stream.channel_uses))
        header = {**tx.header, "checkpoint": header_id(ckpt, shipped_checkpoints())}
        return Signal({"image": tx.stream}, header, tx.header_bits + CHECKPOINT_BITS)

    def decode(self, received: "Received") -> Reconstruction:
        ckpt = self.receiver_checkpoint(str(received.header["checkpoint"]))
        try:
            image = self.link(ckpt).receive(received.streams["image"], received.header)
        except InvalidInput as exc:
            raise InvalidInput(f"deep-jscc: {exc}") from None
        return Reconstruction(image=image, info={"checkpoint": ckpt.name, "train_snr_db": ckpt.train_snr_db})
