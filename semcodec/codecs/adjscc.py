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

from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import SIDE, Obj, Str
from ..signal import Reconstruction, Signal, Stream
from .deep_jscc import (CHECKPOINT_ID, HEADER_BITS, depuncture, file_sha256, header_id, puncture, receiver_checkpoint,
                        shipped_cards, symbol_budget)

if TYPE_CHECKING:
    from torch import Tensor

    from ..signal import Received

#: The header is deep-jscc's: image height and width (16 bits each), checkpoint index (4 bits).
DOWNSAMPLE = 4


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
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return AdaptiveCheckpoint(path.stem, path, card)


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
        model = AdaptiveJSCC(**arch)
        model.load_state_dict(load_file(path))
    except (SafetensorError, KeyError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: not an adjscc checkpoint ({type(exc).__name__})") from None
    return model.to(torch.device(device)).eval()


class AdaptiveJsccCodec(Codec):
    """SNR- and rate-adaptive deep JSCC; one analog stream ``image``."""

    name = "adjscc"
    kind = "learned"
    needs = "nothing to download (one checkpoint for all SNRs ships with the package)"
    options = {"checkpoint": Option(None, "a shipped checkpoint name or a .safetensors file of your own",
                                    path=True)}
    header_schema = Obj({"height": SIDE, "width": SIDE, "checkpoint": Str(80, pattern=CHECKPOINT_ID)})

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        if shipped():
            return True, ""
        return False, "no adjscc checkpoint ships with this install (train one: `semcodec train adjscc`)"

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

    def encode(self, image: "Tensor") -> Signal:
        import torch

        ckpt = self._checkpoint()
        model = self._model(ckpt)
        c = self._channels(model, ckpt)
        h, w = image.shape[-2:]
        budget = symbol_budget(h, w, self.bandwidth)
        if budget < 1:
            raise InvalidInput(f"adjscc: a {w}x{h} image leaves no channel use for the image at k/n "
                               f"{self.bandwidth:.4g} once the header is sent")
        with torch.no_grad():
            x = image.unsqueeze(0).to(next(model.parameters()).device)
            symbols, _ = model.encode(x, self.operating_snr_db(), c)
        s = puncture(symbols[0], min(budget, symbols.shape[1]))  # unit mean energy, evenly punctured
        self.note_transmitter(checkpoint=ckpt.name, latent_channels=c,
                              symbols_dropped=int(symbols.shape[1] - s.numel()))
        header = {"height": int(h), "width": int(w), "checkpoint": header_id(ckpt, shipped())}
        return Signal({"image": Stream(s.cpu(), "analog")}, header, HEADER_BITS)

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        return {"image": None}  # its length depends on the checkpoint: checked in decode

    def decode(self, received: "Received") -> Reconstruction:
        import torch

        header = received.header
        ckpt = self._receiver_checkpoint(str(header["checkpoint"]))
        model = self._model(ckpt)
        c = self._channels(model, ckpt)
        h, w = int(header["height"]), int(header["width"])
        hp, wp = h + (-h) % DOWNSAMPLE, w + (-w) % DOWNSAMPLE
        full = c * (hp // DOWNSAMPLE) * (wp // DOWNSAMPLE) // 2
        stream = received.streams["image"]
        sent = min(full, symbol_budget(h, w, self.bandwidth))
        if stream.symbols.numel() != sent:
            raise InvalidInput(f"adjscc: the received stream has {stream.symbols.numel()} symbols; "
                               f"the header implies {sent}")
        y = depuncture(stream.equalized(), full)  # what was not sent reads as zeros
        with torch.no_grad():
            dev = next(model.parameters()).device
            image = model.decode(y.unsqueeze(0).to(dev), (c, hp // DOWNSAMPLE, wp // DOWNSAMPLE), (h, w),
                                 float(received.snr_db))[0].cpu()
        return Reconstruction(image=image, info={"checkpoint": ckpt.name, "latent_channels": c,
                                                 "decoder_snr_db": float(received.snr_db)})

    def _receiver_checkpoint(self, named: str) -> AdaptiveCheckpoint:
        own = self._checkpoint() if self.opts["checkpoint"] else None
        return receiver_checkpoint(self.name, named, own, shipped())
