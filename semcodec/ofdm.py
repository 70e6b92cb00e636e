"""OFDM over a 3GPP TR 38.901 TDL multipath channel (Sionna's models), as every codec sees it.

Why Sionna: the TDL profiles A–E (delays, powers, Rician first tap for D/E, Doppler by
sum-of-sinusoids) and the channel frequency response on a resource grid are the field's
standard, and Sionna implements them (:class:`sionna.phy.channel.tr38901.TDL`,
:func:`sionna.phy.channel.cir_to_ofdm_channel`); writing them again by hand is how
reproductions go wrong.

Model: a stream's symbols fill an OFDM resource grid, ``fft`` subcarriers (all carrying data)
per OFDM symbol, OFDM symbol after OFDM symbol; each resource element sees the channel's
frequency response ``H[t, f]`` at its subcarrier and OFDM symbol, normalised to unit mean energy
over the grid: ``y = H x + n``. The cyclic prefix must cover the profile's longest delay — then
the frequency-domain model is exact (no inter-symbol interference); a shorter one is refused
rather than silently idealised. SNR is Es/N0 per complex *data* symbol, as on every channel: the
cyclic prefix's time is stated (``cp_overhead`` in the record) but is not a channel use.

Shapes: ``x [..., n]`` complex (a batch of rows in training) -> ``(y, h)`` of the same shape.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

from .channel import _CSI, CSI_CHOICES, Channel, complex_noise, noise_variance
from .errors import InvalidInput

#: TDL profiles of TR 38.901 Table 7.7.2 (D and E have a line-of-sight first tap).
PROFILES = ("A", "B", "C", "D", "E")
#: Normalised delay of each profile's last tap (TR 38.901 Tables 7.7.2-1..5), x the delay spread.
LAST_TAP = {"A": 9.6586, "B": 4.7834, "C": 8.6523, "D": 12.5254, "E": 20.6519}
#: OFDM symbols of a slot, and those that carry pilots on every subcarrier with csi=estimated
#: (Sionna's "kronecker" pattern of its OFDM examples, as NR's two DM-RS symbols a slot).
SLOT, PILOT_SYMBOLS = 14, (2, 11)
DATA_SYMBOLS = tuple(t for t in range(SLOT) if t not in PILOT_SYMBOLS)


def _interpolation_weights() -> list[float]:
    """Weight of the second pilot symbol in the linear interpolation of each data symbol (held
    at the nearest pilot outside the two: no extrapolation)."""
    first, second = PILOT_SYMBOLS
    return [min(1.0, max(0.0, (t - first) / (second - first))) for t in DATA_SYMBOLS]


@lru_cache(maxsize=8)
def _tdl(model: str, delay_spread_s: float, carrier_hz: float, speed: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sionna.phy.channel.tr38901 import TDL

        return TDL(model, delay_spread_s, carrier_hz, min_speed=speed, max_speed=speed)


class OfdmTdlChannel(Channel):
    """OFDM over a 38.901 TDL profile with receiver CSI (the frequency response of each element).

    Args (all spec parameters, ``ofdm-tdl:model=A,delay_spread=30,...``):
        model: TDL profile ``A``–``E`` (default ``C``, NLOS).
        delay_spread: RMS delay spread in ns (default 100, TR 38.901's "nominal").
        speed: UE speed in m/s (Doppler; default 3).
        carrier: carrier frequency in GHz (default 3.5).
        fft: subcarriers per OFDM symbol, all carrying data (default 256).
        scs: subcarrier spacing in kHz (default 30).
        cp: cyclic prefix in samples (default 18, ~7 % as NR's normal prefix).
        csi: ``perfect`` (default: the receiver knows ``H`` of every element) or ``estimated``:
            OFDM symbols 2 and 11 of every 14-symbol slot carry pilots on every subcarrier (2/14 of
            the channel uses), the receiver takes the LS estimate at each pilot and interpolates
            it linearly in time between the slot's two pilot symbols (held outside them), and
            equalises with the mean noise-plus-estimation-error variance of the data elements.
    """

    name = "ofdm-tdl"
    params = {"model": (str, "C", PROFILES, None, "TDL profile of TR 38.901"),
              "delay_spread": (float, 100.0, 1.0, 10_000.0, "RMS delay spread, ns"),
              "speed": (float, 3.0, 0.0, 500.0, "UE speed, m/s"),
              "carrier": (float, 3.5, 0.5, 100.0, "carrier frequency, GHz"),
              "fft": (int, 256, 16, 4096, "subcarriers per OFDM symbol"),
              "scs": (float, 30.0, 15.0, 960.0, "subcarrier spacing, kHz"),
              "cp": (int, 18, 0, 4096, "cyclic prefix, samples"),
              "csi": _CSI}

    def __init__(self, model: str = "C", delay_spread: float = 100.0, speed: float = 3.0, carrier: float = 3.5,
                 fft: int = 256, scs: float = 30.0, cp: int = 18, csi: str = "perfect") -> None:
        if csi not in CSI_CHOICES:
            raise InvalidInput(f"ofdm-tdl: csi must be one of {', '.join(CSI_CHOICES)}, got {csi!r}")
        self.csi = str(csi)
        if str(model).upper() not in PROFILES:
            raise InvalidInput(f"ofdm-tdl: model must be one of {', '.join(PROFILES)}")
        self.model, self.delay_spread, self.speed = str(model).upper(), float(delay_spread), float(speed)
        self.carrier, self.fft, self.scs, self.cp = float(carrier), int(fft), float(scs), int(cp)
        sample = 1.0 / (self.fft * self.scs * 1e3)
        longest = LAST_TAP[self.model] * self.delay_spread * 1e-9
        if self.cp * sample < longest:
            raise InvalidInput(f"ofdm-tdl: the cyclic prefix ({self.cp} samples, {self.cp * sample * 1e6:.2f} us) is "
                               f"shorter than TDL-{self.model}'s last tap ({longest * 1e6:.2f} us): raise cp or "
                               f"lower delay_spread (a frequency-domain model would hide the interference)")

    @property
    def symbol_duration(self) -> float:
        """One OFDM symbol with its cyclic prefix, in seconds."""
        return (1.0 + self.cp / self.fft) / (self.scs * 1e3)

    @property
    def coherence(self) -> int:
        """Resource elements per independent fade, for a digital link's design (a design fact):
        coherence bandwidth ``1 / (5 DS)`` in subcarriers x coherence time ``0.423 / f_D`` in OFDM
        symbols (at most the whole band / any time)."""
        bc = max(1, min(self.fft, int(1.0 / (5 * self.delay_spread * 1e-9) / (self.scs * 1e3))))
        doppler = self.speed / 3e8 * self.carrier * 1e9
        tc = 10**6 if doppler == 0 else max(1, int(0.423 / doppler / self.symbol_duration))
        return int(bc * min(tc, 10**6))

    def describe(self) -> dict:
        return {**super().describe(), "cp_overhead": round(self.cp / self.fft, 6)}

    def _slots(self, n: int) -> int:
        return math.ceil(math.ceil(n / self.fft) / len(DATA_SYMBOLS))

    def pilot_uses(self, n: int) -> int:
        return len(PILOT_SYMBOLS) * self.fft * self._slots(n) if self.csi == "estimated" else 0

    def effective_noise_var(self, n0: float) -> float:
        if self.csi == "perfect":
            return n0
        w = _interpolation_weights()  # LS error N0 at a pilot; (1-w)^2 + w^2 of it where interpolated
        return n0 * (1.0 + sum((1 - a) ** 2 + a ** 2 for a in w) / len(w))

    def _response(self, rows: int, steps: int, generator, device):
        """Sionna's TDL frequency response ``[rows, steps, fft]``, unit mean energy over the grid."""
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sionna.phy import config
            from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

        # Sionna draws from its own generator: seed it from ours (same seed, same channel)
        config.seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
        tdl = _tdl(self.model, self.delay_spread * 1e-9, self.carrier * 1e9, self.speed)
        a, tau = tdl(rows, steps, 1.0 / self.symbol_duration)
        freqs = subcarrier_frequencies(self.fft, self.scs * 1e3)
        h = cir_to_ofdm_channel(freqs, a, tau, normalize=True)  # [rows, 1, 1, 1, 1, steps, fft]
        return h.reshape(rows, steps, self.fft).to(torch.complex64).to(device)

    def __call__(self, x, snr_db, generator=None):
        import torch

        n = x.shape[-1]
        rows = math.prod(x.shape[:-1]) if x.dim() > 1 else 1
        n0 = noise_variance(snr_db)
        if self.csi == "perfect":
            steps = max(1, math.ceil(n / self.fft))
            h = self._response(rows, steps, generator, x.device).reshape(rows, -1)[:, :n].reshape(x.shape)
            return h * x + complex_noise(x.shape, n0, generator, x.device), h
        slots = self._slots(n)
        grid = self._response(rows, SLOT * slots, generator, x.device).reshape(rows, slots, SLOT, self.fft)
        h = grid[:, :, list(DATA_SYMBOLS)].reshape(rows, -1)[:, :n].reshape(x.shape)
        y = h * x + complex_noise(x.shape, n0, generator, x.device)
        n0_p = n0.reshape(rows, 1, 1, 1) if torch.is_tensor(n0) and n0.numel() > 1 else n0
        pilots = grid[:, :, list(PILOT_SYMBOLS)]  # LS at each pilot (p = 1): h + noise
        pilots = pilots + complex_noise(pilots.shape, n0_p, generator, x.device)
        w = torch.tensor(_interpolation_weights(), dtype=torch.float32, device=x.device).view(1, 1, -1, 1)
        h_hat = (1 - w) * pilots[:, :, :1] + w * pilots[:, :, 1:]  # [rows, slots, data symbols, fft]
        return y, h_hat.reshape(rows, -1)[:, :n].reshape(x.shape)
