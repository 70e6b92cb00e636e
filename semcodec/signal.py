"""The data that crosses the codec / channel boundary.

Every codec meets the channel in one place: named streams of complex symbols with unit mean
energy. ``channel_uses`` is the number of complex symbols over all streams plus the header's
bits at one bit per channel use (QPSK at rate 1/2), so every codec's bandwidth is comparable:
``bandwidth_ratio = channel_uses / (3 * H * W)``.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, TypedDict

if TYPE_CHECKING:
    from torch import Tensor

StreamKind = Literal["digital", "analog"]

#: Side information is delivered error-free but never free: 1 bit per channel use.
HEADER_BITS_PER_CHANNEL_USE = 1.0


def header_channel_uses(bits: int) -> int:
    """Channel uses that ``bits`` of side information cost (1 bit per use, rounded up)."""
    return math.ceil(bits / HEADER_BITS_PER_CHANNEL_USE)


#: While a transmitter encodes for a channel with pilots, the channel uses its data may take of
#: a budget (:func:`pilots_reserved`); ``None``: all of them.
_DATA_SHARE: ContextVar["Callable[[int], int] | None"] = ContextVar("semcodec_data_share", default=None)


def budget_uses(ratio: float, height: int, width: int) -> int:
    """Channel uses a budget of k/n = ``ratio`` allows on a ``height`` x ``width`` image — for
    data, while :func:`pilots_reserved` is in force (pilots are channel uses of the budget too)."""
    total = math.floor(ratio * 3 * height * width + 1e-9)
    share = _DATA_SHARE.get()
    return total if share is None else max(0, share(total))


@contextmanager
def pilots_reserved(pilot_uses: "Callable[[int], int]"):
    """Within this block a budget of ``T`` channel uses leaves its data the most symbols ``n``
    with ``n + pilot_uses(n) <= T`` (one stream: every budget codec sends one; ``pilot_uses``
    must not decrease with ``n``)."""

    def data_uses(total: int) -> int:
        lo, hi = 0, max(0, int(total))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if mid + pilot_uses(mid) <= total:
                lo = mid
            else:
                hi = mid - 1
        return lo

    token = _DATA_SHARE.set(data_uses)
    try:
        yield
    finally:
        _DATA_SHARE.reset(token)


@dataclass
class Stream:
    """One orthogonal stream on the channel.

    Attributes:
        symbols: complex64 tensor, shape ``[n]``, unit mean energy.
        kind: ``"digital"`` (bits -> code -> QAM) or ``"analog"`` (real features -> symbols).
        bits: payload bits carried (digital streams), ``None`` for analog streams.
    """

    symbols: "Tensor"
    kind: StreamKind
    bits: int | None = None
    #: pilot symbols the channel inserts for this stream (estimated CSI): channel uses too
    pilots: int = 0

    @property
    def channel_uses(self) -> int:
        return int(self.symbols.numel()) + int(self.pilots)


@dataclass
class Signal:
    """What a transmitter emits: streams plus a header of side information.

    ``header`` must be JSON-serialisable; ``header_bits`` is what its fields cost on a real
    link (declared by the codec from the field widths it needs, e.g. 2x16 bits for H, W).
    """

    streams: dict[str, Stream]
    header: dict[str, Any] = field(default_factory=dict)
    header_bits: int = 0

    @property
    def header_channel_uses(self) -> int:
        return header_channel_uses(self.header_bits)

    @property
    def channel_uses(self) -> int:
        return sum(s.channel_uses for s in self.streams.values()) + self.header_channel_uses


@dataclass
class ReceivedStream:
    """A stream after the channel.

    Attributes:
        symbols: complex64 ``[n]``, ``y = h * x + n``.
        noise_var: N0, the complex noise variance per symbol.
        fading: complex64 ``[n]`` channel coefficients known to the receiver (CSI), or
            ``None`` for a channel without fading (h = 1).
    """

    symbols: "Tensor"
    kind: StreamKind
    noise_var: float
    fading: "Tensor | None" = None
    bits: int | None = None

    def equalized(self) -> "Tensor":
        """Linear-MMSE estimate of the sent symbols (``y`` itself when there is no fading)."""
        from .equalization import mmse_equalize

        return mmse_equalize(self.symbols, self.fading, self.noise_var)

    def lmmse(self) -> "tuple[Tensor, Tensor]":
        """``(x_hat, v)``: LMMSE estimates (``h = 1`` without fading) and their per-symbol error
        variance ``N0 / (|h|^2 + N0)`` (see :func:`semcodec.equalization.lmmse`)."""
        from .equalization import lmmse

        return lmmse(self.symbols, self.fading, self.noise_var)


@dataclass
class Received:
    """What the receiver gets: noisy streams, the error-free header, the channel's name/SNR."""

    streams: dict[str, ReceivedStream]
    header: dict[str, Any]
    header_bits: int
    channel: str
    snr_db: float


@dataclass
class Reconstruction:
    """What a receiver produces.

    Attributes:
        image: float tensor ``[3, H, W]`` in [0, 1].
        status: ``"ok"`` or ``"decode_failed"`` (the receiver could not rebuild the payload;
            ``image`` is what a real receiver would show).
        texts: per text stream ``{"sent", "received", "corrected"}`` for semantic codecs.
        info: free-form per-stream details (MCS, failed blocks, ...), copied to the record.
    """

    image: "Tensor"
    status: str = "ok"
    texts: dict[str, dict[str, str]] | None = None
    info: dict[str, Any] = field(default_factory=dict)


#: Version of the record layout. 2: ``effective_design_snr_db`` (was ``design_snr_db``, easily
#: confused with the requested ``config.design_snr_db``); older records are migrated on read
#: (:func:`semcodec.bench.results_file.migrate`).
RECORD_VERSION = 2


class Record(TypedDict, total=False):
    """One transmission as written to JSONL and printed by ``encode --json`` (DESIGN.md schema).

    Fixed fields: codec, dataset, image, snr_db, channel, seed, status (``ok``,
    ``decode_failed``, ``skipped``), channel_uses, bandwidth_ratio, metrics (name -> value or
    None), unavailable (name -> reason), streams (name -> kind, channel_uses, bits), texts,
    elapsed_s, semcodec_version, record_version. Extra fields: config (bandwidth, the *requested*
    design SNR — null: matched to each channel SNR —, options; part of the bench's resume key),
    effective_design_snr_db (what the transmitter designed for), image_size, info (receiver),
    transmitter, provenance, encode_s / channel_s / decode_s.
    """

    codec: str
    dataset: str | None
    image: str | None
    snr_db: float
    channel: str
    seed: int
    status: str
    channel_uses: int
    bandwidth_ratio: float
    rate: str
    metrics: dict[str, float | None]
    unavailable: dict[str, str]
    streams: dict[str, dict[str, Any]]
    texts: dict[str, dict[str, str]] | None
    elapsed_s: float
    semcodec_version: str
    config: dict[str, Any]
    record_version: int
    effective_design_snr_db: float
    image_size: list[int]
    info: dict[str, Any]
    transmitter: dict[str, Any]
    provenance: dict[str, Any]
    encode_s: float
    channel_s: float
    decode_s: float


def parse_ratio(text: str) -> float:
    """'1/12' or '0.0833' -> float in (0, 10]; anything else is a one-line error."""
    from .errors import InvalidInput
    from .numbers import decimal

    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = decimal(num) / decimal(den)
        else:
            value = decimal(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"bandwidth must look like 1/12 or 0.083, got {text!r}") from None
    if not 0 < value <= 10 or value != value:
        raise InvalidInput(f"bandwidth ratio must be in (0, 10], got {text!r}")
    return value
