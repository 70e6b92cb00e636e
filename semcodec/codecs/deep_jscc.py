"""Deep JSCC (Bourtsoulatze, Kurka, Gündüz 2019): the learned baseline, analog symbols.

The encoder's latent is the channel input, so quality degrades gracefully with SNR instead of
falling off a cliff. Checkpoints trained by this project ship in ``semcodec/weights`` (one per
bandwidth ratio and training SNR, each with a JSON card); the codec picks the one for
``--bandwidth`` whose training SNR is nearest the design SNR, unless ``--opt checkpoint=NAME``
(a shipped name or a path to a ``.safetensors`` file) names one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import SIDE, Obj, Str
from ..signal import Reconstruction, Signal, Stream

if TYPE_CHECKING:
    from torch import Tensor

    from ..signal import Received

#: Header: image height and width (16 bits each) and the checkpoint index (4 bits).
HEADER_BITS = 16 + 16 + 4


def punctured_positions(full: int, sent: int) -> "Tensor":
    """Indices of the ``full - sent`` latent symbols *not* sent when only ``sent`` fit the budget:
    spread evenly over the latent (each end derives the same set), so the loss acts like a little
    extra noise everywhere rather than a hole in one corner of the image."""
    import torch

    drop = full - sent
    if drop <= 0:
        return torch.zeros(0, dtype=torch.long)
    return torch.unique(torch.linspace(0, full - 1, drop).round().long())


def puncture(symbols: "Tensor", sent: int) -> "Tensor":
    """``[n]`` symbols -> the ``sent`` that are transmitted, rescaled to unit mean energy."""
    import torch

    keep = torch.ones(symbols.numel(), dtype=torch.bool)
    keep[punctured_positions(symbols.numel(), sent)] = False
    s = symbols[keep][:sent]
    return s / s.abs().square().mean().sqrt().clamp_min(1e-12)


def depuncture(received: "Tensor", full: int) -> "Tensor":
    """The receiver's ``[full]`` latent symbols: what arrived in place, zeros where nothing was sent."""
    import torch

    keep = torch.ones(full, dtype=torch.bool)
    keep[punctured_positions(full, received.numel())] = False
    out = received.new_zeros(full)
    out[keep] = received
    return out


def symbol_budget(height: int, width: int, ratio: float) -> int:
    """Complex symbols the image stream may use: the k/n budget minus the header's uses."""
    from ..codec import budget_uses
    from ..signal import header_channel_uses

    return budget_uses(ratio, height, width) - header_channel_uses(HEADER_BITS)


@dataclass(frozen=True)
class Checkpoint:
    """A trained model on disk and what its card says about it."""

    name: str
    path: Path
    bandwidth_ratio: float
    train_snr_db: float
    card: dict


def shipped_cards(pattern: str) -> list[tuple[str, Path, dict]]:
    """``(name, weights file, card)`` of the shipped checkpoints whose card matches ``pattern``."""
    folder = Path(str(resources.files("semcodec") / "weights"))
    out = []
    for card_path in sorted(folder.glob(pattern)):
        weights = card_path.with_suffix(".safetensors")
        if weights.is_file():
            out.append((card_path.stem, weights, json.loads(card_path.read_text())))
    return out


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


def file_sha256(path: Path) -> str:
    """``sha256:<hex>`` of a checkpoint file (cached per path, size and mtime)."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=None)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def header_id(ckpt: Any, shipped: Sequence[Any] | None = None) -> str:
    """How a header names ``ckpt`` (anything with ``name`` and ``path``): a shipped name, or the
    content hash of a file of one's own (never a path: a receiver must not open a file because a
    signal says so). ``shipped``: the codec's shipped checkpoints (default: deep-jscc's)."""
    shipped = shipped_checkpoints() if shipped is None else shipped
    if any(c.name == ckpt.name and c.path == ckpt.path for c in shipped):
        return ckpt.name
    return file_sha256(ckpt.path)


def receiver_checkpoint(codec: str, named: str, own: Any | None, shipped: Sequence[Any]) -> Any:
    """The checkpoint a header names: a shipped one, or — for a content hash — the receiver's own
    file (``--opt checkpoint=PATH``, ``own``), which must have that hash. One-line errors."""
    if own is not None:
        if header_id(own, shipped) != named:
            raise InvalidInput(f"{codec}: the signal was sent with checkpoint {named[:40]}, "
                               f"the receiver has {header_id(own, shipped)[:40]}")
        return own
    if named.startswith("sha256:"):
        raise InvalidInput(f"{codec}: the signal was sent with a checkpoint of your own ({named[:19]}…); "
                           "give the receiver that file with --opt checkpoint=PATH")
    for c in shipped:
        if c.name == named:
            return c
    raise InvalidInput(f"{codec}: the header names checkpoint {named!r}, which is not shipped")


#: A header's checkpoint: a shipped name or a content hash.
CHECKPOINT_ID = r"[A-Za-z0-9_.-]{1,80}|sha256:[0-9a-f]{64}"


def checkpoint_by_name(name: str) -> Checkpoint:
    """A shipped checkpoint by name, or any ``.safetensors`` file (its card beside it, if any)."""
    for c in shipped_checkpoints():
        if c.name == name:
            return c
    path = Path(name)
    if not path.is_file():
        known = ", ".join(c.name for c in shipped_checkpoints())
        raise InvalidInput(f"deep-jscc checkpoint {name!r} is neither shipped ({known}) nor a file")
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return Checkpoint(path.stem, path, card.get("bandwidth_ratio", float("nan")),
                      card.get("train_snr_db", float("nan")), card)


@lru_cache(maxsize=None)
def load_model(path: str, device: str):
    """Load a checkpoint once per process (the latent width is read from the weights)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .deep_jscc_net import DeepJSCC

    try:
        state = load_file(path)
        model = DeepJSCC(state["encoder.4.0.weight"].shape[0])
        model.load_state_dict(state)
    except (SafetensorError, KeyError, RuntimeError, OSError) as exc:
        raise InvalidInput(f"{path}: not a deep-jscc checkpoint ({type(exc).__name__})") from None
    return model.to(torch.device(device)).eval()


class DeepJsccCodec(Codec):
    """Deep JSCC autoencoder; one analog stream ``image`` of ``c*H*W/32`` complex symbols."""

    name = "deep-jscc"
    kind = "learned"
    needs = "nothing to download (checkpoints ship with the package)"
    options = {"checkpoint": Option(None, "a shipped checkpoint name or a .safetensors file (default: "
                                          "the shipped one nearest the design SNR)", path=True)}
    header_schema = Obj({"height": SIDE, "width": SIDE, "checkpoint": Str(80, pattern=CHECKPOINT_ID)})

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        return {"image": None}  # its length depends on the checkpoint: checked in decode

    def checkpoint(self) -> Checkpoint:
        if self.opts["checkpoint"]:
            return checkpoint_by_name(str(self.opts["checkpoint"]))
        return choose_checkpoint(self.bandwidth, self.operating_snr_db())

    def provenance_checkpoints(self) -> dict[str, str]:
        if self.opts["checkpoint"]:
            ckpt = self.checkpoint()
            return {ckpt.name: file_sha256(ckpt.path)}
        return {c.name: file_sha256(c.path) for c in shipped_checkpoints()
                if math.isclose(c.bandwidth_ratio, self.bandwidth, rel_tol=0.02)}

    def receiver_checkpoint(self, named: str) -> Checkpoint:
        own = self.checkpoint() if self.opts["checkpoint"] else None
        return receiver_checkpoint(self.name, named, own, shipped_checkpoints())

    def _model(self, ckpt: Checkpoint):
        """The checkpoint's network; its latent width must be the one the budget k/n implies."""
        model = load_model(str(ckpt.path), self.device or "cpu")
        if not math.isclose(model.c / 96, self.bandwidth, rel_tol=0.02):
            raise InvalidInput(f"deep-jscc: checkpoint {ckpt.name} sends k/n {model.c}/96, not the budget "
                               f"{self.bandwidth:.4g} (choose --bandwidth {model.c}/96 or another checkpoint)")
        return model

    def encode(self, image: "Tensor") -> Signal:
        import torch

        ckpt = self.checkpoint()
        model = self._model(ckpt)
        h, w = image.shape[-2:]
        budget = symbol_budget(h, w, self.bandwidth)
        if budget < 1:
            raise InvalidInput(f"deep-jscc: a {w}x{h} image leaves no channel use for the image at "
                               f"k/n {self.bandwidth:.4g} once the header is sent")
        with torch.no_grad():
            symbols, _ = model.encode(image.unsqueeze(0).to(next(model.parameters()).device))
        # The budget holds the header too: a few latent values, spread evenly, are not sent (the
        # receiver reads them as zeros); what is sent keeps unit mean energy.
        s = puncture(symbols[0], min(budget, symbols.shape[1]))
        self.note_transmitter(checkpoint=ckpt.name, symbols_dropped=int(symbols.shape[1] - s.numel()))
        header = {"height": int(h), "width": int(w), "checkpoint": header_id(ckpt)}
        return Signal({"image": Stream(s.cpu(), "analog")}, header, HEADER_BITS)

    def decode(self, received: "Received") -> Reconstruction:
        import torch

        from .deep_jscc_net import DOWNSAMPLE

        header = received.header
        ckpt = self.receiver_checkpoint(str(header["checkpoint"]))
        model = self._model(ckpt)
        h, w = header["height"], header["width"]
        hp, wp = h + (-h) % DOWNSAMPLE, w + (-w) % DOWNSAMPLE
        shape = (model.c, hp // DOWNSAMPLE, wp // DOWNSAMPLE)
        full = math.prod(shape) // 2
        stream = received.streams["image"]
        if stream.symbols.numel() != min(full, symbol_budget(h, w, self.bandwidth)):
            raise InvalidInput("deep-jscc: the received stream does not match the header's image size")
        y = depuncture(stream.equalized(), full)
        with torch.no_grad():
            y = y.unsqueeze(0).to(next(model.parameters()).device)
            image = model.decode(y, shape, (h, w))[0].cpu()
        return Reconstruction(image=image, info={"checkpoint": ckpt.name,
                                                 "train_snr_db": ckpt.train_snr_db})
