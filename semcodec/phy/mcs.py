"""The digital link: bytes -> LDPC codewords -> QAM symbols, and back with soft decisions.

An MCS is a (modulation, code rate) pair of a code *family*: ``nr`` (the default: 5G NR LDPC
codewords of 6144 coded bits, :mod:`semcodec.phy.nr_ldpc`, the papers' baseline) or ``regular``
(the project's earlier regular Gallager codes, n = 1728, kept for one release so that old results
can be re-made). By default the transmitter picks the highest-rate MCS whose *measured* frame
error rate at the design SNR is below 1e-2, from the family's table for the channel it is deployed
on (AWGN; Rayleigh block fading with 1 to 32 fades per codeword) that ``benchmarks/ber_curves.py``
writes to ``semcodec/phy/mcs_table_nr.json`` (``mcs_table.json`` for the regular family), checked
in with the commands that made it. On the way out the coded bits are scrambled and the symbols
interleaved over the frame; the receiver undoes both before decoding.

Frames of the ``nr`` family are whole codewords but the last, which is *shortened* to the bits it
carries (a 5G code of its own ``(k_last, n_last)`` at the same rate), never padded with filler.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from ..errors import InvalidInput
from .ldpc import RATES
from .modulation import Modulation, modulation

#: Target frame error rate for the automatic MCS choice.
TARGET_FER = 1e-2
#: Code families: ``nr`` (5G NR LDPC, the default) and ``regular`` (the earlier Gallager codes).
FAMILIES = ("nr", "regular")
#: The MCS table file of each family (in ``semcodec/phy``).
TABLE_FILES = {"nr": "mcs_table_nr.json", "regular": "mcs_table.json"}
#: Header MCS index = family offset + position in the family's list (5 bits in all).
INDEX_OFFSET = {"nr": 0, "regular": 16}


@dataclass(frozen=True)
class MCS:
    """A modulation and coding scheme of a code family, e.g. ``qpsk-1/3`` (5G NR)."""

    modulation: str
    rate: str
    family: str = "nr"

    @property
    def name(self) -> str:
        return f"{self.modulation}-{self.rate}"

    @property
    def mod(self) -> Modulation:
        return modulation(self.modulation)

    @property
    def rate_value(self) -> float:
        num, den = self.rate.split("/")
        return int(num) / int(den)

    @property
    def code(self):
        """The full-length code (``n``: 6144 for ``nr``, 1728 for ``regular``)."""
        if self.family == "nr":
            from .nr_ldpc import NR_N, nr_code

            return nr_code(round(NR_N * self.rate_value), NR_N)
        from .ldpc import ldpc_code

        return ldpc_code(self.rate)

    @property
    def n(self) -> int:
        """Coded bits of a full codeword (known without building the code)."""
        if self.family == "nr":
            from .nr_ldpc import NR_N

            return NR_N
        from .ldpc import DEFAULT_N

        return DEFAULT_N

    @property
    def nominal_efficiency(self) -> float:
        """Information bits per channel use (nominal rate)."""
        return self.mod.bits_per_symbol * self.rate_value

    @property
    def symbols_per_codeword(self) -> int:
        return self.n // self.mod.bits_per_symbol


def _by_efficiency(mcs: list[MCS]) -> list[MCS]:
    # By efficiency; at equal efficiency the smaller constellation (more robust) comes last, so the
    # automatic choice prefers it (16qam-3/4 over 64qam-1/2).
    return sorted(mcs, key=lambda m: (m.nominal_efficiency, -m.mod.bits_per_symbol))


#: The 5G NR set: the papers' (QPSK 1/3, 1/2, 2/3; 16-QAM 1/2, 2/3; 64-QAM 1/2) widened at both
#: ends (BPSK 1/3 for low SNR; 64-QAM 2/3, 3/4, 5/6 for high SNR) and filled in between (QPSK 1/4,
#: 3/4, 16-QAM 3/4, 5/6), so that no step between neighbours costs more than ~2 dB of design SNR.
NR_MCS = _by_efficiency([MCS(m, r) for m, r in (
    ("bpsk", "1/3"), ("qpsk", "1/4"), ("qpsk", "1/3"), ("qpsk", "1/2"), ("qpsk", "2/3"), ("qpsk", "3/4"), ("16qam", "1/2"),
    ("16qam", "2/3"), ("16qam", "3/4"), ("16qam", "5/6"), ("64qam", "1/2"), ("64qam", "2/3"), ("64qam", "3/4"),
    ("64qam", "5/6"))])
#: The earlier regular codes (rates 1/2, 2/3, 3/4 with every modulation).
REGULAR_MCS = _by_efficiency([MCS(m, r, "regular") for m in ("bpsk", "qpsk", "16qam", "64qam") for r in RATES])
#: The default family's MCS list.
ALL_MCS = NR_MCS


def mcs_list(family: str = "nr") -> list[MCS]:
    """The MCS of ``family`` by efficiency (most robust first)."""
    check_family(family)
    return NR_MCS if family == "nr" else REGULAR_MCS


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise InvalidInput(f"unknown code family {family!r} (known: {', '.join(FAMILIES)})")
    return family


def mcs_index(m: MCS) -> int:
    """The MCS's header index (5 bits: the family is part of it)."""
    return INDEX_OFFSET[m.family] + [x.name for x in mcs_list(m.family)].index(m.name)


def mcs_from_index(index: int) -> MCS:
    """The inverse of :func:`mcs_index`; :class:`InvalidInput` for an index no MCS has."""
    for family, offset in INDEX_OFFSET.items():
        found = mcs_list(family)
        if offset <= index < offset + len(found):
            return found[index - offset]
    raise InvalidInput(f"no MCS has index {index}")


def parse_mcs(name: str, family: str = "nr") -> MCS:
    for m in mcs_list(family):
        if m.name == str(name).lower():
            return m
    raise InvalidInput(f"unknown MCS {name!r} for the {family} codes "
                       f"(known: {', '.join(m.name for m in mcs_list(family))})")


@lru_cache(maxsize=None)
def mcs_table(family: str = "nr") -> dict:
    """The family's measured FER table (``{"fer": {mcs: {snr: fer}}, ...}``)."""
    return json.loads(table_path(family).read_text())


def table_path(family: str = "nr"):
    """Where the family's table lies (its hash goes into a record's provenance)."""
    return resources.files("semcodec") / "phy" / TABLE_FILES[check_family(family)]


#: Rayleigh block fading's tables (``benchmarks/ber_curves.py --channel rayleigh --fades F``): F
#: independent fades per codeword -> key. With the link's interleaver a codeword sees every
#: coherence block of its frame, so F = the blocks the frame spans (a Kodak image at 1/12 spans
#: ~96 of 1,024 symbols); the transmitter designs with the table of the largest F it is sure of.
RAYLEIGH_TABLES = {1: "fer_rayleigh_1", 2: "fer_rayleigh_2", 4: "fer_rayleigh_4", 8: "fer_rayleigh_8",
                   16: "fer_rayleigh_16", 32: "fer_rayleigh"}


#: Fading channels whose links design with the Rayleigh tables: Rayleigh block fading itself, fast
#: Rayleigh fading (every symbol its own fade: a codeword sees as many fades as it has symbols, the
#: 32-fade table), Rician fading (a line-of-sight path only helps: Rayleigh's FER is an upper
#: bound, so the choice is conservative) and OFDM over TDL multipath (its resource elements fade
#: roughly as Rayleigh, independently every coherence bandwidth x coherence time: the channel's
#: ``coherence`` says how many elements a fade spans).
FADING_ON_RAYLEIGH_TABLES = ("rayleigh", "rayleigh-fast", "rician", "ofdm-tdl")


def table_key(channel: str = "awgn", fades: int | None = None) -> str:
    """The key of the FER table a link deployed on ``channel`` designs with. AWGN, and any channel
    without tables of its own (noiseless, a plugin's), use AWGN's. Rayleigh: the table of the most
    fades per codeword not above ``fades`` (``None``: a long frame, 32 or more)."""
    if channel not in FADING_ON_RAYLEIGH_TABLES:
        return "fer"
    return RAYLEIGH_TABLES[tabulated_fades(fades)]


def tabulated_fades(fades: int | None) -> int:
    """The fades per codeword of the Rayleigh table a frame spanning ``fades`` blocks designs with:
    the most tabulated not above it (``None``: a long frame, 32)."""
    return 32 if fades is None else max(f for f in RAYLEIGH_TABLES if f <= max(1, fades))


def frame_fades(frame_symbols: int, coherence: int | None) -> int | None:
    """Independent fades a codeword of an interleaved frame of ``frame_symbols`` sees on a channel
    whose fades last ``coherence`` symbols (whole blocks only: a conservative count); ``None`` on a
    channel without fading."""
    return max(1, int(frame_symbols) // int(coherence)) if coherence else None


def measured_fer(m: MCS, snr_db: float, channel: str = "awgn", fades: int | None = None) -> float:
    """FER measured on ``channel`` (with ``fades`` per codeword on Rayleigh; see :func:`table_key`)
    at the largest tabulated SNR not above ``snr_db`` (conservative); 1 below the table."""
    table = mcs_table(m.family)
    key = table_key(channel, fades)
    if key not in table:
        raise RuntimeError(f"{table_path(m.family).name} has no {key} table (a damaged install?): "
                           f"run benchmarks/ber_curves.py --write-table for it")
    points = sorted((float(s), f) for s, f in table[key].get(m.name, {}).items())
    below = [f for s, f in points if s <= snr_db + 1e-9]
    return below[-1] if below else 1.0


#: Link margin of the automatic choice. One image is ~100–300 codewords and a single failed
#: codeword spoils the HEVC stream, so a codeword FER of 1e-2 *at* the design SNR would lose most
#: images; 1 dB down the LDPC waterfall (about two decades per 0.5 dB here) keeps whole images
#: intact at the design SNR while staying within one MCS step of the edge.
MARGIN_DB = 1.0


def choose_mcs(snr_db: float, margin_db: float = MARGIN_DB, channel: str = "awgn",
               fades: int | None = None, family: str = "nr") -> MCS:
    """The highest-rate MCS whose FER measured on ``channel`` at ``snr_db - margin_db`` is below 1e-2.

    ``channel`` is the kind of channel the link is deployed on and ``fades`` how many fading
    blocks its frame spans (design facts, like the design SNR; the fades themselves are never
    known to the transmitter). Falls back to the most robust MCS when none qualifies (the cliff
    is then visible).
    """
    found = mcs_list(family)
    # On fading, an MCS must also pass every table of *more* fades per codeword (an easier channel):
    # a table of few fades measured on few frames can be lucky, and fewer fades never allow more.
    checks = [fades]
    if table_key(channel, fades) != "fer":
        checks = [f for f in RAYLEIGH_TABLES if f >= tabulated_fades(fades)]
    usable = [m for m in found
              if all(measured_fer(m, snr_db - margin_db, channel, f) < TARGET_FER for f in checks)]
    return usable[-1] if usable else found[0]


def bytes_to_bits(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).copy())


def bits_to_bytes(bits: torch.Tensor) -> bytes:
    return np.packbits(bits.numpy().astype(np.uint8)).tobytes()


#: Fewest information bits of a 5G NR code (TS 38.212); a shorter last codeword is padded to it.
NR_MIN_K = 12
#: A shortened last codeword carries its bits rounded up to this grid (fixed pseudo-random fill):
#: building a 5G code costs ~0.1 s, and on the grid an image sweep meets each one again.
SHORT_GRID = 64


def codeword_plan(payload_bits: int, m: MCS) -> list[tuple[int, int]]:
    """``(k_i, n_i)`` of each codeword carrying ``payload_bits``: whole codewords of the family's
    code, the last one (``nr``) a shortened 5G code with as many coded bits as its rate gives,
    rounded up to whole symbols; ``regular``: whole codewords only (the last filled)."""
    if payload_bits <= 0:
        return []
    k, n = full_kn(m)
    full, rest = divmod(int(payload_bits), k)
    plan = [(k, n)] * full
    if rest:
        if m.family == "regular":
            plan.append((k, n))
        else:  # k_last on a 64-bit grid (<= 63 fill bits): a sweep reuses a few codes, built once
            plan.append(_shortened(min(k, max(NR_MIN_K, math.ceil(rest / SHORT_GRID) * SHORT_GRID)), m))
    return plan


def full_kn(m: MCS) -> tuple[int, int]:
    """Information and coded bits of a full codeword of ``m`` (without building a code)."""
    if m.family == "nr":
        return round(m.n * m.rate_value), m.n
    return m.code.k, m.n


def _shortened(k_last: int, m: MCS) -> tuple[int, int]:
    bps = m.mod.bits_per_symbol
    n_last = math.ceil(k_last / m.rate_value / bps) * bps
    while k_last / n_last > 0.95:  # 5G's highest rate (tiny codewords: more parity)
        n_last += bps
    return k_last, n_last


def codewords_for(payload_bits: int, m: MCS) -> int:
    return len(codeword_plan(payload_bits, m))


def frame_symbols(payload_bits: int, m: MCS) -> int:
    """Symbols a payload of ``payload_bits`` takes with ``m`` (its codewords, shortened last)."""
    return sum(n for _, n in codeword_plan(payload_bits, m)) // m.mod.bits_per_symbol


def capacity_bytes(channel_uses: int, m: MCS) -> int:
    """Largest payload (bytes) that fits in ``channel_uses`` complex symbols with ``m``."""
    k, _ = full_kn(m)
    per = m.symbols_per_codeword
    full, rest = divmod(max(0, int(channel_uses)), per)
    bits = full * k
    if m.family == "nr" and rest:
        k_part = math.floor(rest * m.mod.bits_per_symbol * m.rate_value)
        while k_part >= NR_MIN_K and frame_symbols(bits + k_part, m) > channel_uses:
            k_part -= 1
        if k_part >= NR_MIN_K:
            bits += k_part
    return bits // 8


def _encode_plan(bits: torch.Tensor, m: MCS) -> tuple[list[torch.Tensor], list[tuple[int, int]]]:
    """Payload bits -> coded bits of each codeword (uint8), and the plan."""
    plan = codeword_plan(bits.numel(), m)
    k, n = full_kn(m)
    coded, pos = [], 0
    full = bits.numel() // k  # codewords the payload fills; a last one (even of k bits on the grid) is padded
    if m.family == "regular":
        fill = len(plan) * k - bits.numel()
        pad = torch.randint(0, 2, (fill,), generator=torch.Generator().manual_seed(0x5EED), dtype=torch.uint8)
        info = torch.cat([bits.to(torch.uint8), pad]).reshape(len(plan), k)
        return [m.code.encode(info).reshape(-1)], plan
    if full:
        coded.append(m.code.encode(bits[: full * k].to(torch.uint8).reshape(full, k)).reshape(-1))
        pos = full * k
    if len(plan) > full:
        k_last, n_last = plan[-1]
        rest = bits[pos:].to(torch.uint8)
        pad = torch.randint(0, 2, (k_last - rest.numel(),), generator=torch.Generator().manual_seed(0x5EED),
                            dtype=torch.uint8)
        from .nr_ldpc import nr_code

        coded.append(nr_code(k_last, n_last).encode(torch.cat([rest, pad]).reshape(1, -1)).reshape(-1))
    return coded, plan


def transmit_bytes(data: bytes, m: MCS) -> torch.Tensor:
    """Payload -> complex64 symbols: its codewords (:func:`codeword_plan`), coded bits scrambled,
    mapped, interleaved over the frame. The ``regular`` family fills its last codeword with fixed
    pseudo-random bits, not zeros (zero fill maps to one constellation point, and on a short
    payload that alone moves the mean symbol energy by a few per cent); ``nr`` shortens it."""
    coded, plan = _encode_plan(bytes_to_bits(data), m)
    bits = torch.cat(coded) if coded else torch.zeros(0, dtype=torch.uint8)
    symbols = m.mod.modulate(bits ^ scrambling_bits(bits.numel()))
    return interleave(symbols, [n // m.mod.bits_per_symbol for _, n in plan])


#: Seed of the scrambling sequence both ends share.
SCRAMBLER_SEED = 0x5C4A


def scrambling_bits(n_bits: int) -> torch.Tensor:
    """The fixed pseudo-random bits (uint8 ``[n_bits]``) XORed onto the coded bits before mapping.

    Why: a QAM symbol's energy depends on its bits, so a low-entropy payload (zeros, text) would
    send symbols whose mean energy is far from 1 (all-zero 64-QAM: +3 dB) and the real SNR would
    not be the nominal one; scrambled, every payload maps to unit mean energy."""
    return torch.randint(0, 2, (n_bits,), generator=torch.Generator().manual_seed(SCRAMBLER_SEED), dtype=torch.uint8)


def interleave_order(lengths: "list[int] | int", total: int | None = None) -> torch.Tensor:
    """Send order of a frame of codewords of ``lengths`` symbols (codeword-major positions).

    Symbol ``j`` of codeword ``i`` (of ``S_i`` symbols) is sent at the rank of its relative
    position ``(j + 1/2) / S_i`` in the frame (ties by ``i``): every codeword — a shortened last
    one too — is spread evenly over the whole frame. With equal lengths this is ``j*C + i``.
    ``lengths`` may be an int ``C`` (``C`` equal codewords of ``total`` symbols)."""
    if isinstance(lengths, int):
        lengths = [int(total) // lengths] * lengths if lengths else []
    if not lengths:
        return torch.zeros(0, dtype=torch.long)
    pos = torch.cat([(torch.arange(s, dtype=torch.float64) + 0.5) / s for s in lengths])
    cw = torch.cat([torch.full((s,), i, dtype=torch.float64) for i, s in enumerate(lengths)])
    return torch.from_numpy(np.lexsort((cw.numpy(), pos.numpy())))


def interleave(symbols: torch.Tensor, lengths: "list[int] | int") -> torch.Tensor:
    """Codeword-major symbols -> the order they are sent in (:func:`interleave_order`).

    Why: on a fading channel the symbols of one codeword sent back to back share one or two
    fades, and one deep fade then loses the codeword (and with it the HEVC picture); spread over
    the frame, each codeword sees every fade of it and the code corrects the faded symbols. On
    AWGN the order changes nothing. Shapes: ``[sum S_i] -> [sum S_i]``; ``lengths`` the symbols
    of each codeword, or their number ``C`` when all are equal."""
    return symbols[interleave_order(lengths, symbols.numel())]


def deinterleave(symbols: torch.Tensor, lengths: "list[int] | int") -> torch.Tensor:
    """The receiver's inverse of :func:`interleave`: sent order -> codeword-major."""
    out = torch.empty_like(symbols)
    out[interleave_order(lengths, symbols.numel())] = symbols
    return out


def receive_bytes(y: torch.Tensor, noise_var, fading: torch.Tensor | None, m: MCS,
                  n_bytes: int, iterations: int = 20) -> tuple[bytes, int, int]:
    """Symbols -> ``(payload, failed codewords, total codewords)``; failed blocks keep their
    hard decisions (a real receiver has nothing better). ``noise_var``: N0, a float or one per
    symbol (``[n]``, after equalisation)."""
    plan = codeword_plan(n_bytes * 8, m)
    bps = m.mod.bits_per_symbol
    lengths = [n // bps for _, n in plan]
    if y.numel() != sum(lengths):
        raise InvalidInput(f"received {y.numel()} symbols where {n_bytes} bytes with {m.name} send {sum(lengths)}")
    y = deinterleave(y.reshape(-1), lengths)
    fading = deinterleave(fading.reshape(-1), lengths) if fading is not None else None
    if torch.is_tensor(noise_var) and noise_var.numel() > 1:
        noise_var = deinterleave(noise_var.reshape(-1), lengths)
    llr = m.mod.demap(y, noise_var, fading).reshape(-1)
    llr = llr * (1.0 - 2.0 * scrambling_bits(llr.numel()).float())  # descramble
    k, n = full_kn(m)
    full = (n_bytes * 8) // k if m.family == "nr" else len(plan)
    parts, failed = [], 0
    if full:
        info, ok, _ = m.code.decode(llr[: full * n].reshape(full, n), iterations=iterations)
        parts.append(info.reshape(-1))
        failed += int((~ok).sum())
    if len(plan) > full:
        from .nr_ldpc import nr_code

        k_last, n_last = plan[-1]
        info, ok, _ = nr_code(k_last, n_last).decode(llr[full * n:].reshape(1, n_last), iterations=iterations)
        parts.append(info.reshape(-1))
        failed += int((~ok).sum())
    bits = torch.cat(parts)[: n_bytes * 8]
    return bits_to_bytes(bits), failed, len(plan)
