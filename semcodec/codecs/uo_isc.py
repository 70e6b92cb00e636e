"""UO-ISC: user-oriented image semantic coding (Huang & Wong, GLOBECOM 2025, arXiv 2509.08913).

The user asks a question about the image (``encode --query``, ``bench --queries``); the
transmitter sends the image features
relevant to it. Transmitter: frozen CLIPSeg vision tower (352 px) -> hidden states of the
checkpoint's layers -> projection + FiLM by the query's CLIP text embedding (alignment; off in
the ablation) -> segment-wise VQ -> indices -> bits -> the digital link (LDPC + QAM, MCS chosen
for the design SNR; index errors at low SNR are real) or, as in the authors' code, uncoded: each
6-bit index as two 8-PSK symbols. Receiver: bits -> indices -> codes -> the query-conditioned
decoder -> 352 px -> the source size.

The payload is set by the checkpoint (layers x tokens x reduce_dim/32 indices of log2(codebook)
bits), not by ``--bandwidth``, which is refused (``rate = "configured"``): a smaller payload is a
checkpoint trained with a smaller ``reduce_dim`` or fewer layers (``semcodec train uo-isc``).

The query travels with the header but costs no channel use: it is the receiving user's own
question (it came up the uplink). Trained checkpoints are not shipped (training needs COCO +
VQAv2, CLIPSeg and a VLM on a GPU); ``--opt checkpoint=PATH`` names one.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import SIDE, Int, Obj, Str
from ..signal import Reconstruction, Signal
from .semantic import SemanticCodec

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..signal import Received

#: Header bits counted: height, width (16 each), checkpoint id (4); + the digital link's 28.
SIZE_BITS = 16 + 16 + 4
LINKS = ("ldpc", "8psk")


@lru_cache(maxsize=None)
def load_checkpoint(path: str, device: str):
    """``(network, extract layers, card)`` of a UO-ISC checkpoint (architecture in its metadata)."""
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from ..checkpoints import card_beside
    from ..networks.uo_isc import UoIscNet

    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
        arch = json.loads(meta["architecture"])
        layers = tuple(int(x) for x in json.loads(meta["extract_layers"]))
        net = UoIscNet(**arch)
        net.load_state_dict(load_file(path))
    except (SafetensorError, KeyError, RuntimeError, OSError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a uo-isc checkpoint ({type(exc).__name__})") from None
    return net.to(torch.device(device)).eval(), layers, card_beside(Path(path))


def indices_to_bits(indices: "Tensor", bits: int) -> "Tensor":
    """``[...]`` integer indices -> ``[n * bits]`` uint8 bits, MSB first."""
    import torch

    flat = indices.reshape(-1).to(torch.int64)
    shifts = torch.arange(bits - 1, -1, -1)
    return ((flat[:, None] >> shifts) & 1).reshape(-1).to(torch.uint8)


def bits_to_indices(bits: "Tensor", count: int, width: int) -> "Tensor":
    """The first ``count * width`` bits -> ``[count]`` indices."""
    import torch

    b = bits[: count * width].to(torch.int64).reshape(count, width)
    return (b << torch.arange(width - 1, -1, -1)).sum(1)


class UoIscCodec(Codec):
    """A text query steers what is sent: CLIP-aligned features, segment-wise VQ, digital link."""

    name = "uo-isc"
    kind = "semantic"
    rate = "configured"
    takes_query = True
    needs = "CLIPSeg weights and a trained UO-ISC checkpoint (`semcodec train uo-isc`); the semantic extra"
    components = ("clipseg",)
    options = {
        "checkpoint": Option(None, "a trained UO-ISC checkpoint (.safetensors, its card beside it)", path=True),
        "link": Option("ldpc", "ldpc: LDPC + QAM, MCS from the design SNR; 8psk: uncoded, two 8-PSK symbols "
                               "per 6-bit index (the authors' setting)", choices=LINKS),
        "mcs": Option(None, "force the digital link's MCS, e.g. qpsk-1/2", flag=True),
        "margin_db": Option(1.0, "MCS safety margin below the design SNR (dB)", min=-10.0, max=30.0),
        "iterations": Option(20, "LDPC decoder iterations", min=1, max=200),
        "allow_other_frozen": Option(False, "use the checkpoint with a CLIPSeg other than the one it was trained "
                                            "with (its card's revision); recorded in the config", flag=True),
    }
    stream_kinds = {"indices": "digital"}
    header_schema = Obj({"height": SIDE, "width": SIDE, "query": Str(1000), "checkpoint": Str(80),
                         "link": Str(8, pattern="ldpc|8psk"), "indices": Int(0, 2**31 - 1),
                         "index_bits": Int(1, 16), "mcs": Str(16), "mcs_index": Int(0, 31),
                         "payload_bytes": Int(0, 2**24 - 1)},
                        optional=("mcs", "mcs_index", "payload_bytes"))

    provenance_device = SemanticCodec.provenance_device

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._last_sent: "Tensor | None" = None  # for the record's index-error count only
        self._last_received: "Tensor | None" = None

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        """The semantic extra and the CLIPSeg weights (the checkpoint is checked at encode)."""
        return SemanticCodec.readiness.__func__(cls)  # type: ignore[attr-defined]

    # -- pieces ----------------------------------------------------------------------------
    def _checkpoint(self):
        path = self.opts["checkpoint"]
        if not path:
            raise InvalidInput("uo-isc needs a trained checkpoint: train one with `semcodec train uo-isc` "
                               "and pass --opt checkpoint=PATH (none ships: training needs COCO, VQAv2 and a GPU)")
        if not Path(str(path)).is_file():
            raise InvalidInput(f"uo-isc checkpoint {path!r} is not a file")
        from ..models.source import best_device

        return load_checkpoint(str(path), best_device(self.device))

    def check_config(self) -> None:
        path = self.opts["checkpoint"]
        if not path:
            self._checkpoint()  # says how to get one
        elif not Path(str(path)).is_file():
            raise InvalidInput(f"uo-isc checkpoint {path!r} is not a file")

    def _model(self):
        """``(network, layers, towers)``: the checkpoint, checked against this machine's CLIPSeg
        (its layers exist, its widths are the ones the network was trained on)."""
        net, layers, _ = self._checkpoint()
        towers = self._towers()
        arch = net.architecture()
        problems = []
        if len(layers) != arch["layers"] or len(set(layers)) != len(layers):
            problems.append(f"its extract_layers {list(layers)} do not fit its {arch['layers']} projected layers")
        elif any(not 1 <= i <= towers.num_layers for i in layers):
            problems.append(f"it uses CLIPSeg layers {list(layers)}; this CLIPSeg has {towers.num_layers}")
        if arch["hidden"] != towers.hidden_size or arch["text_dim"] != towers.text_dim:
            problems.append(f"it was trained on a CLIPSeg of width {arch['hidden']} / text {arch['text_dim']}; "
                            f"this one has {towers.hidden_size} / {towers.text_dim}")
        if not problems and not self.opts["allow_other_frozen"]:
            trained, here = self._frozen_revisions()
            if trained and here and trained != here:
                problems.append(f"it was trained with CLIPSeg {trained}, and this machine's clipseg is {here}: "
                                f"another model, whose features mean other things to its decoder "
                                f"(--allow-other-frozen uses it anyway, recorded)")
        if problems:
            raise InvalidInput(f"uo-isc checkpoint {Path(str(self.opts['checkpoint'])).name}: {problems[0]}")
        return net, layers, towers

    def _frozen_revisions(self) -> tuple[str | None, str | None]:
        """The CLIPSeg revision the checkpoint's card records (an HF snapshot hash or the local
        folder's content fingerprint) and the one this machine resolves now."""
        import json

        from ..provenance import component_provenance

        try:
            card = json.loads(Path(str(self.opts["checkpoint"])).with_suffix(".json").read_text())
            trained = card["clipseg"]["revision"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None, None
        return (trained if isinstance(trained, str) else None), component_provenance("clipseg")["revision"]

    def provenance_checkpoints(self) -> dict[str, str]:
        from ..checkpoints import file_sha256

        path = self.opts["checkpoint"]
        return {Path(str(path)).name: file_sha256(Path(str(path)))} if path and Path(str(path)).is_file() else {}

    def _towers(self):
        from ..models.clipseg import ClipSegTowers

        return ClipSegTowers(self.device, self.name)

    def _checkpoint_id(self) -> str:
        from ..checkpoints import file_sha256

        return file_sha256(Path(str(self.opts["checkpoint"])))

    # -- the contract -----------------------------------------------------------------------
    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        import torch

        from ..links.digital import DigitalLink
        from ..phy import psk
        from ..signal import Stream

        query = op.query
        if not query:
            raise InvalidInput("uo-isc needs the user's question: --query TEXT")
        if self.opts["link"] == "8psk" and self.opts["mcs"]:
            raise InvalidInput("uo-isc: --mcs is for the ldpc link; the 8psk link is uncoded")
        net, layers, towers = self._model()
        with torch.no_grad():
            hidden = towers.hidden_states(image.unsqueeze(0), layers)
            text = towers.text_features([query]).to(hidden[0].device)
            _, indices, _ = net.encode(hidden, text)
        self._last_sent = indices[0].cpu()
        width = net.vq.bits_per_index
        bits = indices_to_bits(indices[0].cpu(), width)
        h, w = image.shape[-2:]
        header: dict[str, Any] = {"height": int(h), "width": int(w), "query": query,
                                  "checkpoint": self._checkpoint_id(), "link": self.opts["link"],
                                  "indices": int(indices[0].numel()), "index_bits": width}
        header_bits = SIZE_BITS
        if self.opts["link"] == "8psk":
            padded = torch.cat([bits, bits.new_zeros((-bits.numel()) % psk.BITS_PER_SYMBOL)])
            stream = Stream(psk.modulate(padded), "digital", bits=int(bits.numel()))
        else:
            from ..phy.mcs import ALL_MCS, bits_to_bytes, frame_fades

            # the frame is at least what the densest MCS would take: as many fades as are sure
            shortest = int(bits.numel() / max(m.nominal_efficiency for m in ALL_MCS))
            link = DigitalLink.for_design_snr(op.design_snr_db, float(self.opts["margin_db"]), self.opts["mcs"],
                                              int(self.opts["iterations"]), op.channel,
                                              frame_fades(shortest, op.coherence))
            tx = link.transmit(bits_to_bytes(bits))
            stream, header_bits = tx.stream, header_bits + tx.header_bits
            header.update(tx.header)
        self.note_transmitter(indices=int(indices[0].numel()), index_bits=width,
                              payload_bits=int(bits.numel()))
        return Signal({"indices": stream}, header, header_bits)

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        """The header must describe what this receiver's checkpoint sends (index count and width,
        a question, a payload of exactly those bits); then the symbols those imply."""
        from ..errors import SignalFileError
        from ..links.digital import DigitalLink
        from ..phy import psk
        from ..phy.mcs import mcs_index

        net, _, towers = self._model()
        tokens = 1 + (towers.image_size // towers.patch_size) ** 2
        count = net.vq.layers * tokens * (net.vq.dim // net.vq.group)
        if header["index_bits"] != net.vq.bits_per_index or header["indices"] != count:
            raise SignalFileError(f"header: {header['indices']} indices of {header['index_bits']} bits; the "
                                  f"receiver's checkpoint sends {count} of {net.vq.bits_per_index}")
        if not str(header["query"]).strip():
            raise SignalFileError("header: the question is empty")
        n_bits = header["indices"] * header["index_bits"]
        if header["link"] == "8psk":
            return {"indices": math.ceil(n_bits / psk.BITS_PER_SYMBOL)}
        if "payload_bytes" not in header or "mcs" not in header or "mcs_index" not in header:
            raise SignalFileError("header: the ldpc link needs mcs, mcs_index and payload_bytes")
        link = DigitalLink.from_header(header)
        if mcs_index(link.mcs) != header["mcs_index"]:
            raise SignalFileError("header: mcs and mcs_index disagree")
        if header["payload_bytes"] != math.ceil(n_bits / 8):
            raise SignalFileError(f"header: payload_bytes {header['payload_bytes']} is not the "
                                  f"{math.ceil(n_bits / 8)} bytes of {n_bits} bits")
        return {"indices": link.symbols_for(header["payload_bytes"])}

    def decode(self, received: "Received") -> Reconstruction:
        import torch
        from torch.nn import functional as F

        from ..links.digital import DigitalLink
        from ..phy import psk
        from ..phy.mcs import bytes_to_bits

        hdr = received.header
        net, layers, towers = self._model()
        if hdr["checkpoint"] != self._checkpoint_id():
            raise InvalidInput(f"uo-isc: the signal was sent with checkpoint {hdr['checkpoint'][:19]}…, "
                               "the receiver has another (--opt checkpoint=PATH)")
        stream = received.streams["indices"]
        info: dict[str, Any] = {"link": hdr["link"]}
        if hdr["link"] == "8psk":
            bits = psk.hard_bits(stream.symbols, stream.fading)
        else:
            payload = DigitalLink.from_header(hdr, int(self.opts["iterations"])).receive(stream, hdr)
            bits = bytes_to_bits(payload.data)
            info.update(mcs=hdr["mcs"], failed_codewords=payload.failed_codewords, codewords=payload.codewords,
                        crc_ok=payload.crc_ok)
        width, count = int(hdr["index_bits"]), int(hdr["indices"])
        indices = bits_to_indices(bits, count, width).clamp_max(net.vq.size - 1)
        lay, groups = net.vq.layers, net.vq.dim // net.vq.group
        indices = indices.reshape(1, lay, count // (lay * groups), groups)
        self._last_received = indices[0]
        with torch.no_grad():
            text = towers.text_features([str(hdr["query"])])
            device = next(net.parameters()).device
            out = net.decode(indices.to(device), text.to(device))
            image = F.interpolate(out.float(), size=(hdr["height"], hdr["width"]), mode="bilinear",
                                  align_corners=False, antialias=True)[0].clamp(0, 1).cpu()
        status = "decode_failed" if info.get("failed_codewords") or info.get("crc_ok") is False else "ok"
        return Reconstruction(image=image, status=status, info={**info, "query": hdr["query"]})

    def run(self, image, **kwargs):
        """The template method, plus the count of indices the channel changed (a measurement, as
        metrics are: the receiver never sees what was sent)."""
        result = super().run(image, **kwargs)
        if self._last_sent is not None and self._last_received is not None:
            errors = int((self._last_sent != self._last_received.cpu()).sum())
            result.record["index_errors"] = errors
            result.record["index_error_rate"] = errors / max(1, self._last_sent.numel())
        return result
