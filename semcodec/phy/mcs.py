"""The digital link: bytes -> LDPC codewords -> QAM symbols, and back with soft decisions.

An MCS is a (modulation, code rate) pair. By default the transmitter picks the highest-rate
MCS whose *measured* frame error rate at the design SNR is below 1e-2, from the table of the
channel it is deployed on (AWGN; Rayleigh block fading with 1 to 32 fades per codeword) that
``benchmarks/ber_curves.py`` writes to ``semcodec/phy/mcs_table.json`` (checked in with the
commands that made it). On the way out the coded bits are scrambled and the symbols interleaved
over the frame; the receiver undoes both before decoding.
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
from .ldpc import RATES, LDPCCode, ldpc_code
from .modulation import Modulation, modulation

#: Target frame error rate for the automatic MCS choice.
TARGET_FER = 1e-2


@dataclass(frozen=True)
class MCS:
    """A modulation and coding scheme, e.g. ``qpsk-1/2``."""

    modulation: str
    rate: str

    @property
    def name(self) -> str:
        return f"{self.modulation}-{self.rate}"

    @property
    def mod(self) -> Modulation:
        return modulation(self.modulation)

    @property
    def code(self) -> LDPCCode:
        return ldpc_code(self.rate)

    @property
    def nominal_efficiency(self) -> float:
        """Information bits per channel use (nominal rate)."""
        num, den = self.rate.split("/")
        return self.mod.bits_per_symbol * int(num) / int(den)

    @property
    def symbols_per_codeword(self) -> int:
        return self.code.n // self.mod.bits_per_symbol


ALL_MCS = [MCS(m, r) for m in ("bpsk", "qpsk", "16qam", "64qam") for r in RATES]
# By efficiency; at equal efficiency the smaller constellation (more robust) comes last, so the
# automatic choice prefers it (16qam-3/4 over 64qam-1/2).
ALL_MCS.sort(key=lambda m: (m.nominal_efficiency, -m.mod.bits_per_symbol))


def mcs_index(m: MCS) -> int:
    return [x.name for x in ALL_MCS].index(m.name)


def parse_mcs(name: str) -> MCS:
    for m in ALL_MCS:
        if m.name == name.lower():
            return m
    raise InvalidInput(f"unknown MCS {name!r} (known: {', '.join(m.name for m in ALL_MCS)})")


@lru_cache(maxsize=1)
def mcs_table() -> dict:
    """The measured FER table (``{"fer": {mcs: {snr: fer}}, ...}``)."""
    path = resources.files("semcodec") / "phy" / "mcs_table.json"
    return json.loads(path.read_text())


#: Rayleigh block fading's tables (``benchmarks/ber_curves.py --channel rayleigh --fades F``): F
#: independent fades per codeword -> key. With the link's interleaver a codeword sees every
#: coherence block of its frame, so F = the blocks the frame spans (a Kodak image at 1/12 spans
#: ~96 of 1,024 symbols); the transmitter designs with the table of the largest F it is sure of.
RAYLEIGH_TABLES = {1: "fer_rayleigh_1", 2: "fer_rayleigh_2", 4: "fer_rayleigh_4", 8: "fer_rayleigh_8",
                   16: "fer_rayleigh_16", 32: "fer_rayleigh"}


def table_key(channel: str = "awgn", fades: int | None = None) -> str:
    """The key of the FER table a link deployed on ``channel`` designs with. AWGN, and any channel
    without tables of its own (noiseless, a plugin's), use AWGN's. Rayleigh: the table of the most
    fades per codeword not above ``fades`` (``None``: a long frame, 32 or more)."""
    if channel != "rayleigh":
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
    table = mcs_table()
    key = table_key(channel, fades)
    if key not in table:
        raise RuntimeError(f"mcs_table.json has no {key} table: run benchmarks/ber_curves.py --write-table for it")
    points = sorted((float(s), f) for s, f in table[key].get(m.name, {}).items())
    below = [f for s, f in points if s <= snr_db + 1e-9]
    return below[-1] if below else 1.0


#: Link margin of the automatic choice. One image is ~100–300 codewords and a single failed
#: codeword spoils the HEVC stream, so a codeword FER of 1e-2 *at* the design SNR would lose most
#: images; 1 dB down the LDPC waterfall (about two decades per 0.5 dB here) keeps whole images
#: intact at the design SNR while staying within one MCS step of the edge.
MARGIN_DB = 1.0


def choose_mcs(snr_db: float, margin_db: float = MARGIN_DB, channel: str = "awgn",
               fades: int | None = None) -> MCS:
    """The highest-rate MCS whose FER measured on ``channel`` at ``snr_db - margin_db`` is below 1e-2.

    ``channel`` is the kind of channel the link is deployed on and ``fades`` how many fading
    blocks its frame spans (design facts, like the design SNR; the fades themselves are never
    known to the transmitter). Falls back to the most robust MCS when none qualifies (the cliff
    is then visible).
    """
    usable = [m for m in ALL_MCS if measured_fer(m, snr_db - margin_db, channel, fades) < TARGET_FER]
    return usable[-1] if usable else ALL_MCS[0]


def bytes_to_bits(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).copy())


def bits_to_bytes(bits: torch.Tensor) -> bytes:
    return np.packbits(bits.numpy().astype(np.uint8)).tobytes()


def codewords_for(payload_bits: int, m: MCS) -> int:
    return math.ceil(payload_bits / m.code.k)


def capacity_bytes(channel_uses: int, m: MCS) -> int:
    """Largest payload (bytes) that fits in ``channel_uses`` complex symbols with ``m``."""
    codewords = max(0, channel_uses) // m.symbols_per_codeword
    return codewords * m.code.k // 8


def transmit_bytes(data: bytes, m: MCS) -> torch.Tensor:
    """Payload -> complex64 symbols (whole codewords). The last codeword is filled with fixed
    pseudo-random bits, not zeros: zero fill maps to one constellation point, and on a short
    payload that alone moves the mean symbol energy (and so the real SNR) by a few per cent."""
    bits = bytes_to_bits(data)
    code = m.code
    blocks = codewords_for(bits.numel(), m)
    fill = blocks * code.k - bits.numel()
    pad = torch.randint(0, 2, (fill,), generator=torch.Generator().manual_seed(0x5EED), dtype=torch.uint8)
    info = torch.cat([bits.to(torch.uint8), pad])
    coded = code.encode(info.reshape(blocks, code.k)).reshape(-1)
    return interleave(m.mod.modulate(coded ^ scrambling_bits(coded.numel())), blocks)


#: Seed of the scrambling sequence both ends share.
SCRAMBLER_SEED = 0x5C4A


def scrambling_bits(n_bits: int) -> torch.Tensor:
    """The fixed pseudo-random bits (uint8 ``[n_bits]``) XORed onto the coded bits before mapping.

    Why: a QAM symbol's energy depends on its bits, so a low-entropy payload (zeros, text) would
    send symbols whose mean energy is far from 1 (all-zero 64-QAM: +3 dB) and the real SNR would
    not be the nominal one; scrambled, every payload maps to unit mean energy."""
    return torch.randint(0, 2, (n_bits,), generator=torch.Generator().manual_seed(SCRAMBLER_SEED), dtype=torch.uint8)


def interleave(symbols: torch.Tensor, codewords: int) -> torch.Tensor:
    """Codeword-major symbols ``[C*S]`` -> the order they are sent in: symbol ``j`` of codeword ``i``
    goes out at position ``j*C + i``, so every codeword is spread over the whole frame.

    Why: on a fading channel the symbols of one codeword sent back to back share one or two
    fades, and one deep fade then loses the codeword (and with it the HEVC picture); spread over
    the frame, each codeword sees every fade of it and the code corrects the faded symbols. On
    AWGN the order changes nothing. Shapes: ``[C*S] -> [C*S]`` (``S`` symbols a codeword)."""
    return symbols.reshape(codewords, -1).T.reshape(-1) if codewords > 1 else symbols


def deinterleave(symbols: torch.Tensor, codewords: int) -> torch.Tensor:
    """The receiver's inverse of :func:`interleave`: sent order ``[C*S]`` -> codeword-major."""
    return symbols.reshape(-1, codewords).T.reshape(-1) if codewords > 1 else symbols


def receive_bytes(y: torch.Tensor, noise_var: float, fading: torch.Tensor | None, m: MCS,
                  n_bytes: int, iterations: int = 20) -> tuple[bytes, int, int]:
    """Symbols -> ``(payload, failed codewords, total codewords)``; failed blocks keep their
    hard decisions (a real receiver has nothing better)."""
    code = m.code
    blocks = y.numel() // m.symbols_per_codeword
    y = deinterleave(y.reshape(-1), blocks)
    fading = deinterleave(fading.reshape(-1), blocks) if fading is not None else None
    llr = m.mod.demap(y, noise_var, fading).reshape(-1)
    llr = (llr * (1.0 - 2.0 * scrambling_bits(llr.numel()).float())).reshape(-1, code.n)  # descramble
    info, ok, _ = code.decode(llr, iterations=iterations)
    bits = info.reshape(-1)[: n_bytes * 8]
    return bits_to_bytes(bits), int((~ok).sum()), int(ok.numel())
