"""``adjscc``: one learned model for every SNR (−5…20 dB) and two bandwidths (k/n 1/12, 1/6).

The network (:mod:`semcodec.networks.adjscc`) takes the SNR as an input: the transmitter gives
its encoder the *design* SNR (all it knows), the receiver gives its decoder the *channel* SNR
(it estimates it; here it is known), so a model designed for 10 dB and sent at 4 dB degrades
gracefully instead of falling off a cliff. Rate adaptation is channel masking: k/n = c/96 sends
the first ``c`` latent channels.

The budget is the budget: an image whose sides are not multiples of 4 is padded for the network,
but only ``floor(3·H·W·k/n)`` channel uses are spent, header included — the last latent values
are not sent (the receiver reads them as zeros, which the masking training makes graceful).
"""

from __future__ import annotations

import json
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

# The header is deep-jscc's: the analog link's image height and width, checkpoint index (4 bits).


@dataclass(frozen=True)
class AdaptiveCheckpoint:
    name: str
    path: Path
    card: dict


@lru_cache(maxsize=1)
def shipped() -> tuple[AdaptiveCheckpoint, ...]:
    """The adaptive checkpoints that ship with the package (cards read once)."""
    return tuple(AdaptiveCheckpoint(*item) for item in shipped_cards("adjscc*.json"))


def checkpoint_from(name: str | None) -> AdaptiveCheckpoint:
    """A shipped checkpoint by name (default: the first), or a ``.safetensors`` file of one's own."""
    found = shipped()
    if not name:
        if not found:
            raise InvalidInput("adjscc: no checkpoint ships with this install; train one with "
                               "`semcodec train adjscc` and pass --opt checkpoint=PATH")
        return found[0]
    for c in found:
        if c.name == name:
            return c
    path = Path(name)
    if not path.is_file():
        raise InvalidInput(f"adjscc checkpoint {name!r} is neither shipped "
                           f"({', '.join(c.name for c in found) or 'none'}) nor a file")
    return AdaptiveCheckpoint(path.stem, path, card_beside(path))


@lru_cache(maxsize=None)
def load_model(path: str, device: str):
    """Load a checkpoint once per process; its architecture is stored in the file's metadata."""
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from ..networks.adjscc import AdaptiveJSCC

    try:
        with safe_open(path, "pt") as f:
            arch = json.loads((f.metadata() or {}).get("architecture", "{}"))
        _check_architecture(arch)
        tensors = load_file(path)
        with torch.device("meta"):  # shapes first: a file's metadata must not make us allocate
            skeleton = AdaptiveJSCC(**arch)
        expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
        if expected != {k: tuple(v.shape) for k, v in tensors.items()}:
            raise ValueError("the tensors do not match the architecture")
        bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise InvalidInput(f"{path}: adjscc checkpoint with non-finite weights (in {bad[0]})")
        model = AdaptiveJSCC(**arch)
        model.load_state_dict(tensors)
    except (SafetensorError, KeyError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: not an adjscc checkpoint ({type(exc).__name__})") from None
    return model.to(torch.device(device)).eval()


def trained_snr(ckpt: "AdaptiveCheckpoint", snr_db: float | None) -> float | None:
    """The SNR the network is told: ``snr_db`` held to the range its card says it was trained on
    (−5…20 dB for the shipped model). Outside it the network would extrapolate — and get worse
    as the channel gets better; held to the edge, a better channel can only help."""
    if snr_db is None:
        return None
    try:
        lo, hi = (float(v) for v in (ckpt.card or {}).get("snr_range_db"))
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError
    except (TypeError, ValueError):  # a card of one's own that does not say (or says nonsense)
        lo, hi = -5.0, 20.0
    return min(max(float(snr_db), lo), hi)


#: Bounds on a checkpoint's architecture metadata (the shipped model: c_max 16, width 64, blocks 2).
ARCH_LIMITS = {"c_max": 1024, "width": 4096, "blocks": 64}


def _check_architecture(arch: object) -> None:
    if not isinstance(arch, dict) or set(arch) - set(ARCH_LIMITS) - {"csi"}:
        raise ValueError("unknown architecture fields")
    if type(arch.get("csi", False)) is not bool:
        raise ValueError("architecture csi must be true or false")
    for key, value in arch.items():
        if key == "csi":
            continue
        if type(value) is not int or not 1 <= value <= ARCH_LIMITS[key]:
            raise ValueError(f"architecture {key} out of range")


class AdaptiveJsccCodec(Codec):
    """SNR- and rate-adaptive deep JSCC; one analog stream ``image``."""

    name = "adjscc"
    kind = "learned"
    needs = "nothing to download (one checkpoint for all SNRs ships with the package)"
    options = {"checkpoint": Option(None, "a shipped checkpoint name or a .safetensors file of your own",
                                    path=True),
               "interleave": Option(False, "send the latent in a spreading order (golden-ratio permutation, undone "
                                           "at the receiver) so a deep fade costs a little everywhere")}
    stream_kinds = {"image": "analog"}
    header_schema = Obj({"height": SIDE, "width": SIDE, "checkpoint": Str(80, pattern=CHECKPOINT_ID)})

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        if shipped():
            return True, ""
        return False, "no adjscc checkpoint ships with this install (train one: `semcodec train adjscc`)"

    def check_config(self) -> None:
        self.link(self._checkpoint())  # an adjscc checkpoint that serves this budget

    def provenance_checkpoints(self) -> dict[str, str]:
        ckpt = self._checkpoint()
        return {ckpt.name: file_sha256(ckpt.path)}

    def _checkpoint(self) -> AdaptiveCheckpoint:
        return checkpoint_from(self.opts["checkpoint"])

    def _model(self, ckpt: AdaptiveCheckpoint):
        return load_model(str(ckpt.path), self.device or "cpu")

    def _channels(self, model, ckpt: AdaptiveCheckpoint) -> int:
        """Latent channels for ``--bandwidth``: only the ratios the checkpoint was trained for."""
        from ..networks.adjscc import latent_channels

        trained = ckpt.card.get("bandwidth_ratios") or []
        if trained and not any(math.isclose(self.bandwidth, r, rel_tol=0.02) for r in trained):
            shown = ", ".join(f"1/{round(1 / r)}" for r in trained)
            raise InvalidInput(f"adjscc: checkpoint {ckpt.name} serves k/n {shown}, not {self.bandwidth:.4g}")
        try:
            return latent_channels(self.bandwidth, model.c_max)
        except ValueError as exc:
            raise InvalidInput(f"adjscc: {exc}") from None

    def link(self, ckpt: AdaptiveCheckpoint) -> "AnalogLink":
        """The analog link of the checkpoint's network at ``--bandwidth`` (channel masking)."""
        from ..links.analog import AnalogLink

        model = self._model(ckpt)
        return AnalogLink(model, self.bandwidth, self._channels(model, ckpt), other_header_bits=CHECKPOINT_BITS,
                          interleave=bool(self.opts["interleave"]))

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        ckpt = self._checkpoint()
        link = self.link(ckpt)
        try:
            # the encoder knows the design SNR only (within the range the model was trained on)
            tx = link.transmit(image, trained_snr(ckpt, op.design_snr_db))
        except InvalidInput as exc:
            raise InvalidInput(f"adjscc: {exc}") from None
        full = math.prod(link.latent_shape(*image.shape[-2:])) // 2
        self.note_transmitter(checkpoint=ckpt.name, latent_channels=link.channels,
                              symbols_dropped=int(full - tx.stream.channel_uses))
        header = {**tx.header, "checkpoint": header_id(ckpt, shipped())}
        return Signal({"image": tx.stream}, header, tx.header_bits + CHECKPOINT_BITS)

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        return {"image": None}  # its length depends on the checkpoint: checked in decode

    def decode(self, received: "Received") -> Reconstruction:
        ckpt = self._receiver_checkpoint(str(received.header["checkpoint"]))
        link = self.link(ckpt)
        try:  # the decoder is told the channel SNR (the receiver estimates it; here it is known)
            told = trained_snr(ckpt, float(received.snr_db))
            image = link.receive(received.streams["image"], received.header, told)
        except InvalidInput as exc:
            raise InvalidInput(f"adjscc: {exc}") from None
        return Reconstruction(image=image, info={"checkpoint": ckpt.name, "latent_channels": link.channels,
                                                 "decoder_snr_db": told})

    def _receiver_checkpoint(self, named: str) -> AdaptiveCheckpoint:
        own = self._checkpoint() if self.opts["checkpoint"] else None
        return receiver_checkpoint(self.name, named, own, shipped())


#: The shipped checkpoint trained with fading in the loop (``tools/train_adjscc_fading.sh``).
FADING_CHECKPOINT = "adjscc_fading"


class FadingAdjsccCodec(AdaptiveJsccCodec):
    """adjscc trained over AWGN, Rayleigh block and fast Rayleigh fading, whose decoder takes each
    symbol's post-equalisation error variance (the receiver's LMMSE gives it on every channel)."""

    name = "adjscc-fading"
    needs = "nothing to download (the fading-trained checkpoint ships with the package)"
    #: designed for fading channels, it interleaves by default, as the digital baseline does
    options = {**AdaptiveJsccCodec.options,
               "interleave": Option(True, AdaptiveJsccCodec.options["interleave"].help + " (default: on)")}

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        if any(c.name == FADING_CHECKPOINT for c in shipped()):
            return True, ""
        return False, f"the {FADING_CHECKPOINT} checkpoint is not in this install (tools/train_adjscc_fading.sh)"

    def _checkpoint(self) -> AdaptiveCheckpoint:
        return checkpoint_from(self.opts["checkpoint"] or FADING_CHECKPOINT)
