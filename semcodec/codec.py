"""The codec contract and its template method.

Every codec implements :meth:`Codec.encode` (transmitter) and :meth:`Codec.decode` (receiver);
:meth:`Codec.run` — the only place that does so — chains encode → channel → decode, times it
and computes the metrics, so no codec computes its own numbers and every codec's numbers mean
the same thing. A codec never adds noise itself and never sees the source image at the
receiver: ``decode`` gets a :class:`~semcodec.signal.Received` and nothing else.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import InvalidInput
from .numbers import decimal, integer
from .signal import RECORD_VERSION, Reconstruction, Record, Signal, budget_uses, parse_ratio, pilots_reserved

if TYPE_CHECKING:
    from torch import Tensor

    from .channel import Channel
    from .signal import Received

#: The default channel-use budget, so that a default bench compares codecs at equal bandwidth.
DEFAULT_BANDWIDTH = 1 / 12

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Option:
    """One typed codec option (``--opt NAME=VALUE``): what it is, and what values it takes.

    Args:
        default: the value when not given; its type is the option's type unless ``type`` says
            otherwise (a ``None`` default means a string that may be absent).
        help: one line for ``semcodec codecs --options``.
        type: ``int``, ``float``, ``str`` or ``bool``.
        choices: the allowed values, if the option is an enumeration.
        min, max: inclusive bounds of a number.
        path: the value names a local file; a receiver takes it from its own command line, never
            from a signal file (which anyone may have written).
        flag: also accepted as a flag of ``encode`` and ``bench``: ``--NAME VALUE`` (underscores
            as dashes), a bool as ``--NAME`` / ``--no-NAME``; the same as ``--opt NAME=VALUE``.
    """

    default: Any
    help: str = ""
    type: type | None = None
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    path: bool = False
    flag: bool = False

    @property
    def kind(self) -> type:
        if self.type is not None:
            return self.type
        return str if self.default is None else type(self.default)

    def describe(self) -> str:
        """``int in [1, 200]``, ``one of 420, 444`` ... for help texts and errors."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        name = self.kind.__name__
        if self.min is not None or self.max is not None:
            fmt = (lambda v: f"{int(v):,}") if self.kind is int else (lambda v: f"{v:g}")
            lo = "-inf" if self.min is None else fmt(self.min)
            hi = "inf" if self.max is None else fmt(self.max)
            return f"{name} in [{lo}, {hi}]"
        return name

    def parse(self, codec: str, name: str, value: Any) -> Any:
        """``value`` (a CLI string, JSON value or Python value) -> the typed value, or a one-line
        :class:`InvalidInput` naming the option and what it takes."""
        if value is None and self.default is None:
            return None
        kind = self.kind
        if kind is str and self.default is None and isinstance(value, str) and not value.strip():
            return None  # --mcs= is "not given", not a configuration of its own
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:59] + "…"
        bad = InvalidInput(f"{codec}: option {name}={shown} is not valid ({self.describe()})")
        try:
            if kind is bool:
                if isinstance(value, bool):
                    out: Any = value
                elif str(value).strip().lower() in _TRUE:
                    out = True
                elif str(value).strip().lower() in _FALSE:
                    out = False
                else:
                    raise bad
            elif kind is int:
                if isinstance(value, bool):
                    raise bad
                if isinstance(value, float):
                    if not value.is_integer():
                        raise bad
                    out = int(value)
                else:
                    out = integer(str(value)) if not isinstance(value, int) else value
            elif kind is float:
                if isinstance(value, bool):
                    raise bad
                if isinstance(value, str) and "/" in value:
                    num, den = value.split("/", 1)
                    out = decimal(num) / decimal(den)
                else:
                    out = decimal(value) if isinstance(value, str) else float(value)
                if not math.isfinite(out):
                    raise bad
            else:
                if isinstance(value, (dict, list)):
                    raise bad
                out = str(value)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            raise bad from None
        if self.choices is not None and out not in self.choices:
            raise bad
        if (self.min is not None and out < self.min) or (self.max is not None and out > self.max):
            raise bad
        return out


@dataclass(frozen=True)
class OperatingPoint:
    """What the transmitter may know when it encodes — passed to :meth:`Codec.encode`.

    Attributes:
        design_snr_db: the SNR the transmitter designs for (MCS, checkpoint, the SNR input of an
            adaptive encoder): the requested one (``--design-snr``), or — when none was
            requested — the channel SNR of the run (ideal adaptation, ``matched``).
        matched: no design SNR was requested, so ``design_snr_db`` is the channel's.
        channel_snr_db: the channel SNR itself, given only to a codec that declares
            ``sees_channel_snr = True`` (it models feedback); ``None`` for every other codec.
        query: the user's question (UO-ISC): it comes from the receiving user, so the
            transmitter knows it; only a codec with ``takes_query = True`` gets one.
        channel: the kind of channel the link is deployed on (``awgn``, ``rayleigh``, ...): a
            design fact like the design SNR — a digital link picks its MCS from that channel's
            measured table. The fades themselves are never known to the transmitter.
        coherence: symbols a fade lasts on that channel (``None``: no fading), so a digital link
            knows how many fades its frame spans.
    """

    design_snr_db: float
    matched: bool = False
    channel_snr_db: float | None = None
    #: the receiving user's question, for a query-driven codec (``takes_query``); else ``None``
    query: str | None = None
    channel: str = "awgn"
    coherence: int | None = None
    #: the channel's statistics (e.g. a Rician K factor): design facts, like the coherence
    channel_params: tuple = ()
    #: SNR the receiver loses to channel estimation (estimated CSI: its pilots are known to the
    #: transmitter, so is this loss), dB; 0 with perfect CSI
    estimation_loss_db: float = 0.0


@dataclass
class RunResult:
    """One transmission: the record (JSON-ready dict) and what the receiver rebuilt."""

    record: Record
    reconstruction: Reconstruction
    signal: Signal
    received: "Received"


class Codec(ABC):
    """Base class of every codec (built-in or plugin).

    Class attributes a codec sets:
        name: registry key, e.g. ``"deep-jscc"``.
        kind: ``"classical"``, ``"learned"``, ``"semantic"``, ``"baseline"`` or ``"bound"``.
        needs: one line saying what it needs (weights, packages), shown by ``semcodec codecs``.
        options: the codec-specific options it accepts (``--opt key=value``): name ->
            :class:`Option` (typed, validated), or a plain default value (its type is inferred).

    Args:
        bandwidth: channel-use budget k/n = channel uses / (3 H W); codecs with a fixed budget
            ignore it and report theirs.
        design_snr_db: the SNR the transmitter designs for (MCS, checkpoint); ``None`` = the
            channel SNR of each run (ideal adaptation).
        device: torch device for heavy components (``None``: best available).
    """

    name: ClassVar[str] = "codec"
    kind: ClassVar[str] = "baseline"
    needs: ClassVar[str] = "nothing"
    options: ClassVar[dict[str, "Option | Any"]] = {}
    #: How the codec uses the channel. ``"budget"``: at most ``floor(bandwidth * 3HW)`` channel
    #: uses, header included (checked in :meth:`run` for every image); ``"fixed"``: a ratio of
    #: its own (``fixed_ratio``), so ``--bandwidth`` is refused; ``"variable"``: it depends on
    #: the content (texts), so ``--bandwidth`` is refused and records say ``"variable"``;
    #: ``"configured"``: a payload its options and checkpoint set (whatever the image), so
    #: ``--bandwidth`` is refused and the options say how to change it.
    rate: ClassVar[str] = "budget"
    fixed_ratio: ClassVar[float | None] = None
    #: Whether :meth:`encode` may see the channel SNR (a codec modelling feedback); the others
    #: get only the design SNR in their :class:`OperatingPoint`.
    sees_channel_snr: ClassVar[bool] = False
    #: Whether the transmitter's behaviour depends on the design SNR (MCS, checkpoint, an SNR
    #: input); one that sends the same whatever the channel refuses ``--design-snr`` and its
    #: records carry no effective design SNR.
    uses_design_snr: ClassVar[bool] = True
    #: Whether the codec serves a user's question (``encode --query``, ``bench --queries``); its
    #: records carry ``query`` and the ``answer_match`` metric applies.
    takes_query: ClassVar[bool] = False
    #: Whether the codec is a theoretical bound (e.g. BPG at capacity), not a buildable codec: its
    #: records say ``"bound": true``, plots draw it dashed, tables mark it, and no ranking counts it.
    bound: ClassVar[bool] = False
    #: Peak memory of one run per pixel of the image (the image, the codec's work, the metrics),
    #: measured: ~280 B for every built-in codec at 2048x2048. A bench refuses an image that
    #: would not fit in the memory free (a skipped record), instead of being killed by the kernel.
    bytes_per_pixel: ClassVar[float] = 320.0
    #: Peak memory per pixel of :meth:`decode` alone, from a signal file (``None``: as a whole
    #: run, :attr:`bytes_per_pixel`). A header of a few bytes may claim any picture: ``decode``
    #: refuses one whose decode would not fit in the memory free.
    decode_bytes_per_pixel: ClassVar[float | None] = None
    #: Schema of the codec's header (:mod:`semcodec.schema`), checked when a signal comes from a
    #: file; ``None``: only the generic checks (finite symbols, image size) apply.
    header_schema: ClassVar[Any] = None
    #: Stream name -> the kind (``digital``/``analog``) the codec sends it as, checked when a signal
    #: comes from a file (a relabelled stream is refused); empty: not declared.
    stream_kinds: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        *,
        bandwidth: float = DEFAULT_BANDWIDTH,
        design_snr_db: float | None = None,
        device: str | None = None,
        **options: Any,
    ) -> None:
        self.bandwidth = float(bandwidth)
        self.design_snr_db = design_snr_db
        self.device = device
        self.opts = self.parse_options(options)
        self._provenance: dict[str, Any] | None = None
        self._tx_info: dict[str, Any] = {}  # set by encode; for the record only

    @classmethod
    def parse_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Every option's typed value: the defaults updated with ``options``, each validated; an
        unknown key or a bad value is one :class:`InvalidInput` line naming what is valid."""
        specs = cls.option_specs()
        unknown = set(options) - set(specs)
        if unknown:
            allowed = ", ".join(sorted(specs)) or "none"
            raise InvalidInput(f"{cls.name} has no option {', '.join(sorted(unknown))} (options: {allowed})")
        out = {key: spec.default for key, spec in specs.items()}
        out.update({key: specs[key].parse(cls.name, key, value) for key, value in options.items()})
        return out

    @classmethod
    def option_specs(cls) -> dict[str, Option]:
        """The codec's options as :class:`Option` objects (plain defaults wrapped)."""
        return {key: spec if isinstance(spec, Option) else Option(spec)
                for key, spec in cls.options.items()}

    def check_config(self) -> None:
        """Raise a one-line :class:`InvalidInput` when this configuration cannot run at all (no
        checkpoint for the budget, a file that is not one): called before a bench starts, so a
        configuration error is not reported once per image. Cheap; loads nothing heavy."""

    # -- readiness -------------------------------------------------------------------------
    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        """``(ready, reason)``: can this codec run on this machine now? Must be cheap (no loads)."""
        return True, ""

    # -- the contract ----------------------------------------------------------------------
    @abstractmethod
    def encode(self, image: "Tensor", op: OperatingPoint) -> Signal:
        """Transmitter: ``[3, H, W]`` in [0, 1] at operating point ``op`` -> :class:`Signal`
        (unit-energy streams, header included in the budget)."""

    @abstractmethod
    def decode(self, received: "Received") -> Reconstruction:
        """Receiver: noisy streams + header -> :class:`Reconstruction` (never the source)."""

    # -- untrusted input --------------------------------------------------------------------
    def expected_streams(self, header: dict[str, Any]) -> dict[str, int | None] | None:
        """Stream name -> symbol count a valid signal with ``header`` has (``None``: any count);
        ``None`` overall: not declared. Called only after ``header_schema`` accepted the header."""
        return None

    def validate_received(self, received: "Received") -> None:
        """Check a :class:`Received` read from a file before :meth:`decode` allocates anything:
        the header against ``header_schema``, the image size against the pixel limit and the
        memory free (a few bytes of header may claim any picture), and the streams against
        :meth:`expected_streams`. Raises a one-line :class:`SemcodecError`."""
        from .errors import SignalFileError
        from .limits import check_pixels, check_run_memory

        if self.header_schema is not None:
            received.header = self.header_schema.check(received.header, "header")
        h, w = received.header.get("height"), received.header.get("width")
        if isinstance(h, int) and isinstance(w, int):
            if h < 1 or w < 1:
                raise SignalFileError(f"header: image size {h}x{w} is not positive")
            check_pixels(h, w, "signal file")
            check_run_memory(h, w, self.decode_bytes_per_pixel or self.bytes_per_pixel, "signal file")
        for name, kind in self.stream_kinds.items():
            if name in received.streams and received.streams[name].kind != kind:
                raise SignalFileError(f"stream {name!r} is {received.streams[name].kind}; {self.name} sends it {kind}")
        expected = self.expected_streams(received.header)
        if expected is None:
            return
        if set(expected) != set(received.streams):
            raise SignalFileError(f"{self.name} sends streams {', '.join(sorted(expected)) or 'none'}; the file "
                                  f"has {', '.join(sorted(received.streams)) or 'none'}")
        for name, count in expected.items():
            got = received.streams[name].symbols.numel()
            if count is not None and got != count:
                raise SignalFileError(f"stream {name!r} has {got} symbols; its header implies {count}")
            # a length only the decoder knows (a checkpoint's latent) is still bounded before it is
            # read: no codec sends more channel uses than the picture has values (k/n = 1)
            if count is None and isinstance(h, int) and isinstance(w, int) and got > 3 * h * w:
                raise SignalFileError(f"stream {name!r} has {got:,} symbols, more than the {w}x{h} picture of its "
                                      f"header has values ({3 * h * w:,})")

    # -- operating point -------------------------------------------------------------------
    def operating_point(self, channel_snr_db: float | None = None, query: str | None = None,
                        channel: str = "awgn", coherence: int | None = None) -> OperatingPoint:
        """What the transmitter knows for a run over a channel at ``channel_snr_db``: the requested
        design SNR, or the channel's when none was requested (then ``channel_snr_db`` is needed);
        and the user's question, which a query-driven codec needs (another codec is not told it:
        the question is then only asked of its reconstruction, by ``answer_match``); and the
        kind of ``channel`` the link is deployed on, with its fades' ``coherence`` (symbols)."""
        query = " ".join(str(query).split()) if query is not None else None
        if query and len(query) > 1000:
            raise InvalidInput(f"the question is {len(query):,} characters long; at most 1,000 are taken")
        if self.takes_query and not query:
            raise InvalidInput(f"{self.name} needs the user's question: --query TEXT (bench: --queries FILE)")
        if self.design_snr_db is not None:
            design, matched = float(self.design_snr_db), False
        elif channel_snr_db is not None:
            design, matched = float(channel_snr_db), True
        else:
            raise InvalidInput(f"{self.name} needs a design SNR (--design-snr) to encode")
        seen = float(channel_snr_db) if self.sees_channel_snr and channel_snr_db is not None else None
        return OperatingPoint(design, matched, seen, (query or None) if self.takes_query else None, channel,
                              coherence)

    def config(self) -> dict[str, Any]:
        """What a separate receiver process needs to rebuild this codec (saved with a signal)."""
        return {"bandwidth": self.bandwidth, "design_snr_db": self.design_snr_db, "options": dict(self.opts)}

    # -- provenance -------------------------------------------------------------------------
    def provenance_checkpoints(self) -> dict[str, str]:
        """Checkpoint name -> ``sha256:…`` of every checkpoint this codec may load (a codec with
        weights of its own overrides this)."""
        return {}

    def provenance_device(self) -> tuple[str, str]:
        """``(device, dtype)`` the codec computes with."""
        return (self.device or "cpu", "float32")

    def provenance(self, metrics: list[str] | None = None) -> dict[str, Any]:
        """What makes this codec's records what they are (:mod:`semcodec.provenance`):
        configuration, pretrained components (``components`` class attribute), checkpoints,
        device, dtype, the models behind the requested ``metrics`` (``None``: all), versions,
        and their ``config_digest``. The codec's part is computed once per instance."""
        from .provenance import build, component_provenance, metric_models

        if self._provenance is None:
            comps = {key: component_provenance(key) for key in getattr(self, "components", ())}
            self._provenance = {"args": (self.config(), comps, self.provenance_checkpoints(),
                                         *self.provenance_device())}
        key = "metrics" if metrics is None else tuple(metrics)
        if key not in self._provenance:  # once per metric list, not once per record
            self._provenance[key] = metric_models(metrics)
        return build(*self._provenance["args"], metrics=self._provenance[key])

    def note_transmitter(self, **facts: Any) -> None:
        """Called by ``encode`` to put transmitter-side facts (texts sent, quality chosen, ...)
        in the record. ``texts`` (name -> sent text) is what BLEU compares against."""
        self._tx_info.update(facts)

    @classmethod
    def from_config(cls, config: dict[str, Any], device: str | None = None) -> "Codec":
        """The codec :meth:`config` describes (how a separate receiver process rebuilds it)."""
        return cls(bandwidth=config.get("bandwidth", DEFAULT_BANDWIDTH), design_snr_db=config.get("design_snr_db"),
                   device=device, **(config.get("options") or {}))

    def transmitter_info(self) -> dict[str, Any]:
        """Transmitter-side facts of the last ``encode``; never given to ``decode``."""
        return self._tx_info

    # -- template method -------------------------------------------------------------------
    def run(
        self,
        image: "Tensor",
        *,
        snr_db: float,
        channel: "Channel",
        seed: int = 0,
        metrics: list[str] | None = None,
        query: str | None = None,
    ) -> RunResult:
        """Encode, send through ``channel`` at ``snr_db``, decode, and measure (``query``: the
        user's question, for a query-driven codec)."""
        from .metrics import compute_metrics, score_texts

        coherence = getattr(channel, "data_per_fade", None) or getattr(channel, "coherence", None)
        op = self.operating_point(snr_db, query, channel.name, coherence)
        if hasattr(channel, "describe"):
            op = replace(op, channel_params=tuple(sorted(channel.describe().items())))
        if hasattr(channel, "effective_noise_var") and channel.effective_noise_var(1.0) != 1.0:
            op = replace(op, estimation_loss_db=10 * math.log10(channel.effective_noise_var(1.0)))
        query = " ".join(query.split()) if query else None
        self._tx_info = {"query": query} if query else {}  # facts of this run's encode only
        t0 = time.perf_counter()
        with budget_on(channel):  # estimated CSI: pilots come out of the budget
            signal = self.encode(image, op)
        if hasattr(channel, "pilot_uses"):
            for stream in signal.streams.values():
                stream.pilots = channel.pilot_uses(int(stream.symbols.numel())) if stream.symbols.numel() else 0
        t1 = time.perf_counter()
        check_budget(self, signal, image)
        received = channel.transmit(signal, snr_db, seed=seed)
        t2 = time.perf_counter()
        with budget_on(channel):  # the receiver knows the pilot pattern too
            recon = self.decode(received)
        t3 = time.perf_counter()
        elapsed = t3 - t0
        timing = {"encode_s": round(t1 - t0, 4), "channel_s": round(t2 - t1, 4), "decode_s": round(t3 - t2, 4)}
        check_reconstruction(recon, image)
        attach_sent_texts(recon, self.transmitter_info())
        score_texts(recon.texts)
        values, unavailable = compute_metrics(image, recon, self.transmitter_info(), metrics)
        record = build_record(self, op, signal, recon, image, values, unavailable, received, seed, elapsed,
                              metrics)
        record.update(timing)
        if hasattr(channel, "describe") and channel.describe():
            record["channel_params"] = channel.describe()  # every parameter, defaults included
        return RunResult(record=record, reconstruction=recon, signal=signal, received=received)


@contextmanager
def budget_on(channel: "Channel"):
    """Within this block a budget is what its data may take on ``channel``: the channel uses its
    pilots need (estimated CSI) are reserved (:func:`semcodec.signal.pilots_reserved`)."""
    pilot_uses = getattr(channel, "pilot_uses", None)
    if pilot_uses is None or not pilot_uses(1):
        yield
        return
    with pilots_reserved(pilot_uses):
        yield


def budget_of(codec: "Codec", height: int, width: int) -> int:
    """Channel uses a budget codec may spend on an ``height`` x ``width`` image, header included."""
    return budget_uses(codec.bandwidth, height, width)


def check_budget(codec: "Codec", signal: Signal, image: "Tensor") -> None:
    """The one budget rule: a ``"budget"`` codec never exceeds its budget (a codec bug if so)."""
    if codec.rate != "budget":
        return
    h, w = image.shape[-2:]
    budget = budget_of(codec, h, w)
    if signal.channel_uses > budget:
        raise RuntimeError(f"{codec.name} used {signal.channel_uses} channel uses on a {w}x{h} image, over its "
                           f"budget of {budget} (k/n {codec.bandwidth:.4g}, header included)")


def check_reconstruction(recon: Reconstruction, image: "Tensor") -> None:
    """A codec must give back an image of the source's shape; anything else is a codec bug."""
    if tuple(recon.image.shape) != tuple(image.shape):
        raise RuntimeError(
            f"codec returned an image of shape {tuple(recon.image.shape)} for {tuple(image.shape)}"
        )


def attach_sent_texts(recon: Reconstruction, tx_info: dict[str, Any]) -> None:
    """Put the transmitter's texts beside the receiver's, for the record and BLEU."""
    sent = tx_info.get("texts")
    if sent and recon.texts is not None:
        for key, text in sent.items():
            recon.texts.setdefault(key, {})["sent"] = text


def stream_summary(signal: Signal) -> dict[str, dict[str, Any]]:
    """Per stream: kind, channel uses and (digital) payload bits; the header as its own entry."""
    out = {
        name: {"kind": s.kind, "channel_uses": s.channel_uses, "bits": s.bits, **({"pilots": s.pilots} if s.pilots else {})}
        for name, s in sorted(signal.streams.items())
    }
    if signal.header_bits:
        out["header"] = {"kind": "header", "channel_uses": signal.header_channel_uses, "bits": signal.header_bits}
    return out


def build_record(codec: Codec, op: OperatingPoint, signal: Signal, recon: Reconstruction, image: "Tensor",
                 values: dict, unavailable: dict, received: "Received", seed: int,
                 elapsed: float, metrics: list[str] | None = None) -> Record:
    """The DESIGN.md record of one transmission (dataset/image are added by the caller)."""
    from . import __version__

    h, w = image.shape[-2:]
    uses = signal.channel_uses
    record: Record = {
        "codec": codec.name,
        "dataset": None,
        "image": None,
        "snr_db": float(received.snr_db),
        "channel": received.channel,
        "seed": int(seed),
        "status": recon.status,
        "channel_uses": uses,
        "bandwidth_ratio": uses / (3 * h * w),
        "rate": codec.rate,
        "metrics": values,
        "unavailable": unavailable,
        "streams": stream_summary(signal),
        "texts": recon.texts,
        "elapsed_s": round(elapsed, 4),
        "semcodec_version": __version__,
        "config": codec.config(),
        "record_version": RECORD_VERSION,
        "effective_design_snr_db": op.design_snr_db if codec.uses_design_snr else None,
        "query": codec.transmitter_info().get("query"),
        "image_size": [int(h), int(w)],
        "info": recon.info,
        "transmitter": {k: v for k, v in codec.transmitter_info().items() if k not in ("texts", "query")},
        "provenance": codec.provenance(metrics),
    }
    if codec.bound:
        record["bound"] = True
    pilots = sum(s.pilots for s in signal.streams.values())
    if pilots:
        record["pilot_uses"] = pilots  # counted in channel_uses too
    return record


def load_codec(name: str) -> type[Codec]:
    """The codec class registered as ``name`` in the ``semcodec.codecs`` entry-point group."""
    from .registry import CODECS, load_subclass

    return load_subclass(CODECS, name, Codec)


def build_codec(name: str, bandwidth: str | None, design_snr: str | None, options: dict, device: str | None,
                explicit: bool = True) -> Codec:
    """Instantiate the registered codec ``name`` as a command line asks for it, or raise a one-line
    error saying why it cannot run: its options parsed (a typo before missing weights), its
    readiness, whether it takes a design SNR and a budget, its configuration checked.

    ``bandwidth`` and ``design_snr`` are the user's text (``"1/12"``, ``"10"``); ``explicit``: the
    user named this codec (else a missing default codec suggests one that needs no download).
    """
    from .channel import check_snr
    from .errors import CodecNotReady, UnknownName
    from .registry import NO_DOWNLOAD_CODEC

    try:
        cls = load_codec(name)
    except UnknownName:
        if explicit:
            raise
        raise CodecNotReady(
            f"the default codec {name} is not installed; use --codec {NO_DOWNLOAD_CODEC}, "
            "which works with no download"
        ) from None
    cls.parse_options(options)  # a typo in an option is reported before missing weights
    ready, reason = cls.readiness()
    if not ready:
        hint = "" if explicit else f"; or use --codec {NO_DOWNLOAD_CODEC}, which works with no download"
        raise CodecNotReady(f"{name} is not ready: {reason}{hint}")
    design = check_snr(design_snr) if design_snr is not None else None
    if design is not None and not cls.uses_design_snr:
        raise InvalidInput(f"{name} does not take --design-snr: it sends the same whatever the channel")
    if bandwidth is not None and cls.rate != "budget":
        if cls.rate == "configured":
            raise InvalidInput(f"{name} does not take --bandwidth: its channel uses follow from its options and "
                               f"checkpoint (see `semcodec codecs --options {name}`)")
        use = f"a fixed k/n of {cls.fixed_ratio:g}" if cls.rate == "fixed" else "a content-dependent number of"
        raise InvalidInput(f"{name} does not take --bandwidth: it uses {use} channel uses"
                           + ("" if cls.rate == "fixed" else " (records say \"variable\")"))
    ratio = parse_ratio(bandwidth) if bandwidth is not None else DEFAULT_BANDWIDTH
    codec = cls(bandwidth=ratio, design_snr_db=design, device=device, **options)
    codec.check_config()  # e.g. no checkpoint for this budget: said now, not once per image later
    return codec
