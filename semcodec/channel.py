"""Channels, and the one SNR convention of the project.

SNR is Es/N0 per complex channel use: transmit symbols have unit mean energy (Es = 1), and the
channel adds circularly-symmetric complex Gaussian noise of variance ``N0 = 10 ** (-snr_db/10)``
(``N0 / 2`` per real dimension). Rayleigh block fading multiplies each block of
``coherence`` consecutive symbols by one ``h ~ CN(0, 1)``, known to the receiver (CSI), so the
*average* received SNR is also ``snr_db``.

Blocks are composable, Sionna style: ``channel(x, snr_db, generator) -> (y, h)`` works on any
shape of complex tensor (training uses it on ``[B, n]`` batches); ``transmit(signal, ...)``
applies it to every stream of a :class:`~semcodec.signal.Signal`, in sorted stream order, from
one seeded ``torch.Generator``: same seed, same result.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, ClassVar

from .equalization import mmse_equalize
from .errors import InvalidInput
from .numbers import decimal, integer

if TYPE_CHECKING:
    import torch

    from .signal import Received, Signal

__all__ = ["AWGNChannel", "Channel", "ChannelMixture", "NoiselessChannel", "RayleighChannel", "RayleighFastChannel",
           "RicianChannel", "check_snr", "complex_noise",
           "mmse_equalize", "noise_variance", "SNR_RANGE_DB"]

#: The SNR range the CLI accepts; beyond it results are meaningless or numerically degenerate.
SNR_RANGE_DB = (-30.0, 60.0)


def noise_variance(snr_db):
    """Complex noise variance N0 per symbol for unit-energy symbols at ``snr_db`` (Es/N0).

    The one dB -> N0 conversion of the project (channel, links, training, tests, benchmarks).
    ``snr_db``: a float, or a tensor (e.g. ``[B, 1]``, one SNR per sample in training)."""
    return 10.0 ** (-snr_db / 10.0)


#: SNRs are resolved to this many decimals of a dB (1 µdB): finer differences are no other
#: operating point, and a record's ``5e-324`` must not open a table column beside 0 dB.
SNR_DECIMALS = 6


def snr_value(snr_db: float) -> float:
    """``snr_db`` (a finite number) as the operating point it names: rounded to
    :data:`SNR_DECIMALS`, ``-0.0`` made ``0.0``."""
    return round(float(snr_db), SNR_DECIMALS) + 0.0


#: The form of the channel label a record or a signal file carries: ``NAME`` or ``NAME:key=value,...``.
CHANNEL_LABEL = r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_]+=[A-Za-z0-9_.+-]+(,[A-Za-z0-9_]+=[A-Za-z0-9_.+-]+)*)?"


def label_problem(label: str) -> str | None:
    """Why ``label`` is no channel label a bench writes (``None`` if it is one): its form, and every
    numeric parameter finite (``rician:K=nan`` is no channel; a plugin's unknown name still is)."""
    if not re.fullmatch(CHANNEL_LABEL, label):
        return "not a channel label (NAME or NAME:key=value,...)"
    for item in label.partition(":")[2].split(",") if ":" in label else ():
        try:
            number = decimal(item.split("=", 1)[1])
        except ValueError:
            continue  # a word (model=C)
        if not math.isfinite(number):
            return f"parameter {item} is not a finite number"
    return None


def check_snr(snr_db: float) -> float:
    """Return ``snr_db`` as float (resolved by :func:`snr_value`) or raise :class:`InvalidInput`
    if it is not usable."""
    try:
        value = decimal(snr_db) if isinstance(snr_db, str) else float(snr_db)
    except OverflowError:  # an integer beyond any float (10**400)
        raise InvalidInput(f"SNR {str(snr_db)[:12]}... dB is outside the supported range "
                           f"[{SNR_RANGE_DB[0]:g}, {SNR_RANGE_DB[1]:g}] dB") from None
    except (TypeError, ValueError):
        raise InvalidInput(f"SNR must be a number in dB, got {str(snr_db)[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"SNR must be a finite number in dB, got {snr_db!r}")
    lo, hi = SNR_RANGE_DB
    if not lo <= value <= hi:
        raise InvalidInput(f"SNR {value:g} dB is outside the supported range [{lo:g}, {hi:g}] dB")
    return snr_value(value)


def complex_noise(shape, n0, generator, device=None) -> "torch.Tensor":
    """Complex Gaussian noise of variance ``n0`` (``n0/2`` per real dimension), complex64.

    ``n0``: a float, or a tensor broadcastable to ``shape`` (one variance per sample)."""
    import torch

    re_im = torch.randn((*shape, 2), generator=generator, device=device)
    if torch.is_tensor(n0):
        return torch.view_as_complex(re_im * (n0 / 2.0).sqrt().unsqueeze(-1))
    return torch.view_as_complex(re_im * math.sqrt(n0 / 2.0))


class Channel:
    """Base class: a memoryless channel acting on complex symbols at a given Es/N0.

    ``name`` is the registered kind (what a digital link designs for); ``params`` declares the
    typed parameters a spec ``NAME:key=value,...`` may set (:func:`parse_channel_spec`), and
    ``label`` is the canonical spec a record carries (``rician:K=3``; defaults left out)."""

    name: ClassVar[str] = "channel"
    #: parameter -> (type, default, minimum, maximum, help)
    params: ClassVar[dict[str, tuple]] = {}

    @property
    def label(self) -> str:
        set_ = {k: getattr(self, k) for k in self.params if getattr(self, k) != self.params[k][1]}
        return self.name + (":" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                           for k, v in sorted(set_.items())) if set_ else "")

    def describe(self) -> dict:
        """Every parameter of this channel with its value (defaults included), for the record."""
        return {k: getattr(self, k) for k in self.params}

    def __call__(
        self, x: "torch.Tensor", snr_db: float, generator: "torch.Generator | None" = None
    ) -> tuple["torch.Tensor", "torch.Tensor | None"]:
        """Pass symbols through the channel.

        Args:
            x: complex tensor of any shape ``[..., n]``, unit mean energy.
            snr_db: Es/N0 in dB: a float, or a tensor broadcastable to ``x`` (``[B, 1]``: one
                SNR per row, as training draws them).
            generator: seeded generator on ``x``'s device (``None``: the global RNG).

        Returns:
            ``(y, h)``: received symbols, same shape as ``x``; fading coefficients of the same
            shape, or ``None`` when there is no fading.
        """
        raise NotImplementedError

    #: receiver CSI: ``perfect`` (the receiver knows every fade) or ``estimated`` (from pilots)
    csi: str = "perfect"

    def pilot_uses(self, n: int) -> int:
        """Pilot symbols a stream of ``n`` data symbols takes on this channel (channel uses, as any
        symbol; 0 with perfect CSI or without fading)."""
        return 0

    def effective_noise_var(self, n0: float) -> float:
        """The noise variance the receiver works with: ``N0``, plus the channel-estimation error
        variance with estimated CSI (``y = h_hat x + (h - h_hat) x + n``, unit-energy ``x``)."""
        return n0

    def transmit(self, signal: "Signal", snr_db: float, seed: int = 0) -> "Received":
        """Send every stream of ``signal`` through this channel (streams are orthogonal)."""
        import torch

        from .signal import Received, ReceivedStream

        generator = torch.Generator().manual_seed(int(seed))
        n0 = self.effective_noise_var(noise_variance(snr_db)) if self.name != "noiseless" else 0.0
        out: dict[str, ReceivedStream] = {}
        for key in sorted(signal.streams):
            stream = signal.streams[key]
            y, h = self(stream.symbols.to(torch.complex64), snr_db, generator)
            out[key] = ReceivedStream(
                symbols=y, kind=stream.kind, noise_var=n0, fading=h, bits=stream.bits
            )
        return Received(
            streams=out,
            header=dict(signal.header),
            header_bits=signal.header_bits,
            channel=self.label,
            snr_db=float(snr_db),
        )


class NoiselessChannel(Channel):
    """An ideal channel: ``y = x``. Useful to test that a codec's own losses are right."""

    name = "noiseless"

    def __call__(self, x, snr_db, generator=None):
        return x.clone(), None


class AWGNChannel(Channel):
    """Additive white Gaussian noise: ``y = x + n``, ``n ~ CN(0, N0)``."""

    name = "awgn"

    def __call__(self, x, snr_db, generator=None):
        return x + complex_noise(x.shape, noise_variance(snr_db), generator, x.device), None


#: Receiver CSI choices of the fading channels (a spec parameter: ``rayleigh:csi=estimated``).
CSI_CHOICES = ("perfect", "estimated")
_CSI = (str, "perfect", CSI_CHOICES, None, "receiver CSI: perfect, or estimated from pilots (LS)")
_PILOTS = (int, 16, 1, 4096, "pilot symbols at the start of every fading block (csi=estimated)")


class _BlockFading(Channel):
    """Block fading ``y = h x + n``, one ``h`` per block of ``coherence`` channel uses.

    CSI: ``perfect`` gives the receiver every ``h``. ``estimated``: each block starts with
    ``pilots`` known unit-energy symbols (channel uses like any other, so a block carries
    ``coherence - pilots`` data symbols), and the receiver takes the least-squares estimate
    ``h_hat = mean(y_p / p)`` over them, whose error has variance ``N0 / pilots``; it equalises
    with ``h_hat`` and the noise variance ``N0 (1 + 1/pilots)`` (:meth:`effective_noise_var`).
    """

    def __init__(self, coherence: int, csi: str, pilots: int) -> None:
        if coherence < 1:
            raise InvalidInput(f"{type(self).__name__[:-7]} coherence must be at least one symbol")
        if csi not in CSI_CHOICES:
            raise InvalidInput(f"csi must be one of {', '.join(CSI_CHOICES)}, got {csi!r}")
        if csi == "estimated" and pilots >= coherence:
            raise InvalidInput(f"{self.name}: csi=estimated needs more symbols in a fading block (coherence="
                               f"{coherence}) than pilots ({pilots}): no room for data")
        self.coherence, self.csi, self.pilots = int(coherence), str(csi), int(pilots)

    def _fades(self, shape, generator, device) -> "torch.Tensor":
        """One fading coefficient for each block: ``shape = [..., blocks]``."""
        raise NotImplementedError

    @property
    def data_per_fade(self) -> int:
        """Data symbols a fading block carries (its pilots take the rest)."""
        return self.coherence - (self.pilots if self.csi == "estimated" else 0)

    def pilot_uses(self, n: int) -> int:
        return self.pilots * math.ceil(n / self.data_per_fade) if self.csi == "estimated" else 0

    def effective_noise_var(self, n0: float) -> float:
        return n0 * (1.0 + 1.0 / self.pilots) if self.csi == "estimated" else n0

    def __call__(self, x, snr_db, generator=None):
        n = x.shape[-1]
        d = self.data_per_fade
        blocks = math.ceil(n / d)
        n0 = noise_variance(snr_db)
        h_blocks = self._fades((*x.shape[:-1], blocks), generator, x.device)
        h = h_blocks.repeat_interleave(d, dim=-1)[..., :n]
        y = h * x + complex_noise(x.shape, n0, generator, x.device)
        if self.csi == "perfect":
            return y, h
        # LS over the block's pilots (p = 1): y_p = h + n_p, so h_hat = h + mean(n_p)
        n0_p = n0.unsqueeze(-1) if hasattr(n0, "unsqueeze") else n0
        pilot_noise = complex_noise((*x.shape[:-1], blocks, self.pilots), n0_p, generator, x.device)
        h_hat = h_blocks + pilot_noise.mean(-1)
        return y, h_hat.repeat_interleave(d, dim=-1)[..., :n]


class RayleighChannel(_BlockFading):
    """Rayleigh block fading: ``y = h x + n``, one ``h ~ CN(0, 1)`` per block.

    Args:
        coherence: channel uses per fading block (along the last axis); the last block may be
            shorter. ``coherence=1`` is fast (i.i.d.) fading.
        csi: ``perfect`` (default) or ``estimated`` (``pilots`` per block, LS; see
            :class:`_BlockFading`).
    """

    name = "rayleigh"
    params = {"coherence": (int, 1024, 1, 2**30, "symbols per fading block"), "csi": _CSI, "pilots": _PILOTS}

    def __init__(self, coherence: int = 1024, csi: str = "perfect", pilots: int = 16) -> None:
        super().__init__(coherence, csi, pilots)

    def _fades(self, shape, generator, device):
        return complex_noise(shape, 1.0, generator, device)


class RayleighFastChannel(RayleighChannel):
    """Fast Rayleigh fading with receiver CSI: an independent ``h ~ CN(0, 1)`` for every symbol
    (no pilot could estimate it: CSI is perfect by definition here)."""

    name = "rayleigh-fast"
    params = {}

    def __init__(self) -> None:
        super().__init__(coherence=1)


class RicianChannel(_BlockFading):
    """Rician block fading: ``h = sqrt(K/(K+1)) e^(j phi) + sqrt(1/(K+1)) g``,
    ``g ~ CN(0, 1)``, one ``h`` per block of ``coherence`` symbols, ``phi`` uniform per block.

    ``E|h|^2 = 1`` (the average SNR is the channel's); ``K = 0`` is Rayleigh, ``K -> inf`` AWGN
    with a phase the receiver knows (``csi=estimated``: it estimates it, as Rayleigh's).
    Shapes as every channel: ``x [..., n] -> (y, h)``.
    """

    name = "rician"
    params = {"K": (float, 3.0, 0.0, 1e6, "power of the line-of-sight path over the scattered ones"),
              "coherence": (int, 1024, 1, 2**30, "symbols per fading block"), "csi": _CSI, "pilots": _PILOTS}

    def __init__(self, K: float = 3.0, coherence: int = 1024, csi: str = "perfect",  # noqa: N803 - the field's name
                 pilots: int = 16) -> None:
        if not (math.isfinite(K) and K >= 0):
            raise InvalidInput("Rician K must be a finite number >= 0")
        self.K = float(K)
        super().__init__(coherence, csi, pilots)

    def _fades(self, shape, generator, device):
        import torch

        phase = torch.rand(shape, generator=generator, device=device) * (2 * math.pi)
        los = torch.polar(torch.full(shape, math.sqrt(self.K / (self.K + 1)), device=device), phase)
        return los + complex_noise(shape, 1.0 / (self.K + 1), generator, device)


class ChannelMixture(Channel):
    """Training block: each row of ``x [B, n]`` goes through one of ``members``, drawn per row.

    Why: a learned codec that must serve AWGN and fading alike is trained on a mixture, each
    sample over its own channel. Rows through a channel without fading get ``h = 1`` in the
    returned fading tensor (the receiver's LMMSE treats both alike).

    Args:
        members: channel blocks (e.g. AWGN, Rayleigh block, Rayleigh fast).
        weights: relative probabilities of the members (default: equal).
    """

    name = "mixture"

    def __init__(self, members: "list[Channel]", weights: "list[float] | None" = None) -> None:
        if not members:
            raise InvalidInput("a channel mixture needs at least one channel")
        weights = list(weights or [1.0] * len(members))
        if len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise InvalidInput("a channel mixture needs one non-negative weight per channel, not all zero")
        self.members, self.weights = list(members), weights

    def __call__(self, x, snr_db, generator=None):
        import torch

        rows = x.reshape(-1, x.shape[-1])
        probs = torch.tensor(self.weights, dtype=torch.float32)
        pick = torch.multinomial(probs, rows.shape[0], replacement=True, generator=generator).to(x.device)
        y, h = torch.empty_like(rows), torch.ones_like(rows)
        snr = snr_db.reshape(-1, 1) if torch.is_tensor(snr_db) and snr_db.numel() > 1 else snr_db
        for i, member in enumerate(self.members):
            sel = (pick == i).nonzero().flatten()
            if sel.numel() == 0:
                continue
            y_m, h_m = member(rows[sel], snr[sel] if torch.is_tensor(snr) and snr.numel() > 1 else snr, generator)
            y[sel] = y_m
            if h_m is not None:
                h[sel] = h_m
        return y.reshape(x.shape), h.reshape(x.shape)


def load_channel(name: str) -> type[Channel]:
    """The channel class registered as ``name`` in the ``semcodec.channels`` entry-point group."""
    from .registry import CHANNELS, load_subclass

    return load_subclass(CHANNELS, name, Channel)


def parse_channel_spec(spec: str):
    """``NAME[:key=value,...]`` -> the channel block, parameters typed and range-checked against
    what the channel declares (one line on anything else): ``rician:K=3``, ``rayleigh:coherence=256``."""
    name, _, rest = str(spec).strip().partition(":")
    cls = load_channel(name)
    declared = getattr(cls, "params", {}) or {}
    kwargs: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in declared:
            known = ", ".join(declared) or "none"
            raise InvalidInput(f"channel {name}: unknown parameter {key!r} (parameters: {known})")
        if not eq or not value.strip():
            raise InvalidInput(f"channel {name}: {key} needs a value ({key}=...)")
        kind, _, lo, hi, _ = declared[key]
        if key in kwargs:
            raise InvalidInput(f"channel {name}: {key} is given twice")
        if kind is str:  # lo: the choices
            if value.strip() not in lo:
                raise InvalidInput(f"channel {name}: {key} must be one of {', '.join(lo)}, got {value.strip()!r}")
            kwargs[key] = value.strip()
            continue
        try:
            v = decimal(value) if kind is not int else integer(value)
        except ValueError:
            raise InvalidInput(f"channel {name}: {key} must be {'an integer' if kind is int else 'a number'}, "
                               f"got {value.strip()!r}") from None
        if isinstance(v, float) and not math.isfinite(v) or not lo <= v <= hi:
            raise InvalidInput(f"channel {name}: {key} must be in [{lo:g}, {hi:g}], got {value.strip()}")
        kwargs[key] = v
    return cls(**kwargs)


def build_channel(name: str, csi: str | None = None):
    """The channel of ``--channel NAME[:params]``; ``--csi`` sets its ``csi`` parameter (perfect or
    estimated receiver CSI) on a channel that has one."""
    if csi is None:
        return parse_channel_spec(name)
    if csi not in ("perfect", "estimated"):
        raise InvalidInput(f"--csi must be perfect or estimated, got {csi!r}")
    base, _, rest = str(name).strip().partition(":")
    if "csi" not in (getattr(load_channel(base), "params", {}) or {}):
        raise InvalidInput(f"--csi: channel {base} has no channel state to estimate (a fading block channel "
                           f"has: rayleigh, rician, ofdm-tdl)" if csi == "estimated" else
                           f"--csi: channel {base} takes no csi setting")
    if any(item.split("=")[0].strip() == "csi" for item in rest.split(",")):
        raise InvalidInput("--csi and the channel spec's csi= say the same thing: give one")
    return parse_channel_spec(f"{base}:{rest + ',' if rest.strip() else ''}csi={csi}")
