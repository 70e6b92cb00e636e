"""``bpg-capacity``: BPG at the channel's capacity — the bound every "BPG + LDPC" curve sits below.

What the JSCC papers draw as "BPG + capacity": the HEVC file sized to ``channel uses x C`` bits,
with ``C`` the channel's Shannon capacity at its SNR (bits per complex channel use), delivered
without error — what an ideal, infinitely long capacity-achieving code would do:

- AWGN: ``C = log2(1 + SNR)``;
- Rayleigh fading with receiver CSI (block or fast: the same ergodic value over a long frame):
  ``C = E[log2(1 + |h|^2 SNR)] = log2(e) e^(1/SNR) E1(1/SNR)``; Rician fading and OFDM over TDL
  multipath: the same mean over fades the channel draws (Monte Carlo).

It is a *bound*, not a codec that can be built: its records say ``"bound": true``, plots draw it
dashed, tables mark it, and it never counts as a codec that "wins". Being ideal, it adapts to the
channel SNR itself (``sees_channel_snr``; ``--design-snr`` is refused). The stream it sends is
``ceil(8 * bytes / C)`` unit-energy symbols (the channel uses the payload needs at capacity;
their values stand for the ideal codebook); the receiver's ideal decoder returns the payload,
which rides beside the header for the simulation and is not counted as header bits (its cost is
the stream's channel uses).
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING

from ..codec import Codec, Option
from ..errors import InvalidInput
from ..schema import SIDE, Int, Obj, Str
from ..signal import Reconstruction, Signal
from ..source_coding.hevc import CHROMA, DECODE_BYTES_PER_PIXEL, PRESETS, check_declared_size

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..signal import Received

#: Header: height, width (16 bits each) and the payload length (24 bits).
HEADER_BITS = 16 + 16 + 24
#: Channels with a capacity formula here (fast and block Rayleigh share the ergodic value).
AWGN_LIKE = ("awgn",)
RAYLEIGH_LIKE = ("rayleigh", "rayleigh-fast")
#: Fading channels whose ergodic capacity is the mean over fades drawn from the channel itself.
MONTE_CARLO = ("rician", "ofdm-tdl")


def _ergodic_by_sampling(snr: float, channel: str, params: dict) -> float:
    """``E[log2(1 + |h|^2 SNR)]`` over 2^18 fades the channel block draws (fixed seed)."""
    import torch

    from ..channel import load_channel

    cls = load_channel(channel)
    kwargs = {k: v for k, v in params.items() if k in getattr(cls, "params", {})}
    if "coherence" in getattr(cls, "params", {}):
        kwargs["coherence"] = 1  # every draw its own fade: 2^18 independent samples, not 256 blocks
    block = cls(**kwargs)
    x = torch.ones(64, 4096, dtype=torch.complex64)
    _, h = block(x, 60.0, torch.Generator().manual_seed(0))
    return float(torch.log2(1.0 + h.abs().square().double() * snr).mean())


def capacity(snr_db: float, channel: str = "awgn", params: dict | None = None) -> float:
    """Bits per complex channel use at ``snr_db`` (Es/N0) on ``channel`` (see the module docstring).

    Rician fading and OFDM over TDL multipath: the ergodic capacity, a fixed-seed Monte Carlo over
    2^18 fades drawn from the channel block with ``params``."""
    snr = 10.0 ** (snr_db / 10.0)
    if channel in AWGN_LIKE:
        return math.log2(1.0 + snr)
    if channel in MONTE_CARLO:
        return _ergodic_by_sampling(snr, channel, params or {})
    if channel in RAYLEIGH_LIKE:
        from scipy.special import exp1

        x = 1.0 / snr
        if x > 700:  # e^x overflows; the capacity is ~SNR log2(e) there
            return snr * math.log2(math.e)
        return math.log2(math.e) * math.exp(x) * float(exp1(x))
    raise InvalidInput(f"bpg-capacity has no capacity formula for the {channel!r} channel "
                       f"(known: {', '.join(AWGN_LIKE + RAYLEIGH_LIKE + MONTE_CARLO)})")


class BpgCapacityCodec(Codec):
    """HEVC intra at ``channel uses x C`` bits, delivered error-free: an upper bound."""

    name = "bpg-capacity"
    kind = "bound"
    bound = True
    needs = "nothing to download (HEVC via pillow-heif); a bound, not a buildable codec"
    sees_channel_snr = True
    uses_design_snr = False
    options = {
        "chroma": Option("420", "HEVC chroma subsampling", choices=CHROMA),
        "preset": Option("fast", "x265 speed preset", choices=PRESETS),
    }
    decode_bytes_per_pixel = DECODE_BYTES_PER_PIXEL
    stream_kinds = {"image": "digital"}
    header_schema = Obj({"height": SIDE, "width": SIDE, "payload_bytes": Int(0, 2**24 - 1),
                         "capacity_bits": Str(32, pattern=r"[0-9.e+-]+"), "payload": Str(1 << 20)})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from ..source_coding.hevc import HevcEncoder

        self.hevc = HevcEncoder(str(self.opts["chroma"]), str(self.opts["preset"]))

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        c = float(header["capacity_bits"])
        return {"image": math.ceil(8 * header["payload_bytes"] / c) if header["payload_bytes"] else 0}

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        import torch

        from ..codec import budget_of
        from ..signal import Stream, header_channel_uses

        h, w = image.shape[-2:]
        snr = op.channel_snr_db if op.channel_snr_db is not None else op.design_snr_db
        c = capacity(snr, op.channel, dict(op.channel_params))
        room = budget_of(self, h, w) - header_channel_uses(HEADER_BITS)
        if room < 1:
            raise InvalidInput(f"bpg-capacity: a {w}x{h} image at k/n {self.bandwidth:.4g} leaves no channel use "
                               f"once the {header_channel_uses(HEADER_BITS)}-use header is sent")
        max_bytes = min(2**24 - 1, int(room * c // 8))
        fit = self.hevc.fit(image, max_bytes) if max_bytes > 0 else None
        quality, data = fit if fit is not None else (None, b"")
        uses = math.ceil(8 * len(data) / c) if data else 0
        gen = torch.Generator().manual_seed(0xCAFE)
        symbols = torch.view_as_complex(torch.randn(uses, 2, generator=gen) * math.sqrt(0.5)).to(torch.complex64)
        self.note_transmitter(capacity_bits_per_use=round(c, 6), quality=quality, max_bytes=max_bytes,
                              channel_snr_db=float(snr))
        header = {"height": int(h), "width": int(w), "payload_bytes": len(data), "capacity_bits": repr(c),
                  "payload": base64.b64encode(data).decode("ascii")}
        return Signal({"image": Stream(symbols, "digital", bits=8 * len(data))}, header, HEADER_BITS)

    def decode(self, received: "Received") -> Reconstruction:
        import torch

        hdr = received.header
        h, w = hdr["height"], hdr["width"]
        grey = torch.full((3, 1, 1), 0.5).expand(3, h, w)  # a view: a header's 64 MP costs no memory here
        info = {"payload_bytes": hdr["payload_bytes"], "bound": True}
        if not hdr["payload_bytes"]:
            return Reconstruction(grey, "decode_failed", info={**info, "reason": "budget too small for any bitstream"})
        try:
            data = base64.b64decode(hdr["payload"], validate=True)
        except ValueError:
            data = b""
        if len(data) != hdr["payload_bytes"]:
            from ..errors import SignalFileError

            raise SignalFileError("header: the payload does not match payload_bytes")
        try:
            image = self.hevc.decode(data)
        except ValueError as exc:
            return Reconstruction(grey, "decode_failed", info={**info, "reason": str(exc)})
        check_declared_size(image, h, w)  # sent within capacity: every bit arrived
        return Reconstruction(image, "ok", info=info)
