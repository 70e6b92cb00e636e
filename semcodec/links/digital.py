"""The digital link: bytes -> LDPC codewords -> QAM symbols, and back with soft decisions.

Transmitter: payload bytes + CRC-32 -> bits -> LDPC codewords (5G NR by default, the last one
shortened to what it carries; the earlier regular codes fill it with fixed pseudo-random bits) -> scrambled coded bits -> Gray QAM -> symbols interleaved over the frame (each codeword spread over
every fade of a fading channel). Receiver: de-interleaving, soft demapping (max-log LLRs with the
noise variance and CSI) -> layered min-sum decoding of every codeword in one batch -> bytes; a
codeword that fails keeps its hard decisions (a real receiver has nothing better) and is counted.

The MCS (modulation + code rate) is chosen from the FER table measured on the channel the link is
deployed on (AWGN, or Rayleigh block fading) for a *design* SNR
(:func:`semcodec.phy.mcs.choose_mcs`: the highest rate whose FER at the design SNR minus a
margin is below 1e-2), or forced. Its header fields: the MCS (name and 4-bit index) and the
payload length (24 bits).

A CRC-32 of the payload travels after it, inside the codewords (it costs payload capacity, as a
transport block's CRC does): the parity checks of a short regular LDPC code sometimes accept a
*wrong* codeword near the waterfall (a few in 10^4 codewords here), and without the CRC the
receiver would call a corrupted picture intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SemcodecError
from . import Transmission

if TYPE_CHECKING:
    from ..phy.mcs import MCS
    from ..signal import ReceivedStream

#: Header fields of the link: MCS index (5 bits: the code family and the MCS) and payload length
#: in bytes (24 bits).
HEADER_BITS = 5 + 24
#: Bytes of the CRC-32 sent after a non-empty payload.
CRC_BYTES = 4


def crc32(data: bytes) -> bytes:
    """The CRC-32 (zlib's polynomial) of ``data``, big-endian."""
    import zlib

    return zlib.crc32(data).to_bytes(CRC_BYTES, "big")


@dataclass
class DigitalPayload:
    """What the digital receiver got: the bytes, how many codewords failed of how many, and
    whether the payload's CRC matched (a mismatch with no failed codeword is an undetected one)."""

    data: bytes
    failed_codewords: int
    codewords: int
    crc_ok: bool = True

    @property
    def intact(self) -> bool:
        """Every codeword passed its parity checks and the CRC matched."""
        return self.failed_codewords == 0 and self.crc_ok


class DigitalLink:
    """Bytes <-> LDPC + QAM symbols with one MCS.

    Args:
        mcs: the modulation and coding scheme (:class:`~semcodec.phy.mcs.MCS`).
        iterations: LDPC decoder iterations at the receiver.
    """

    def __init__(self, mcs: "MCS", iterations: int = 20) -> None:
        self.mcs = mcs
        self.iterations = int(iterations)

    @classmethod
    def for_design_snr(cls, design_snr_db: float, margin_db: float | None = None,
                       forced: str | None = None, iterations: int = 20, channel: str = "awgn",
                       fades: int | None = None, family: str = "nr") -> "DigitalLink":
        """The link a transmitter designing for ``design_snr_db`` on a ``channel`` (``awgn``,
        ``rayleigh``, its frame spanning ``fades`` fading blocks) uses: the forced MCS (a name such
        as ``qpsk-1/2``), or the highest-rate MCS that channel's measured table allows with
        ``margin_db``; codes of ``family`` (``nr``: 5G NR LDPC; ``regular``: the earlier codes)."""
        from ..phy.mcs import MARGIN_DB, choose_mcs, parse_mcs

        if forced:
            return cls(parse_mcs(forced, family), iterations)
        return cls(choose_mcs(design_snr_db, MARGIN_DB if margin_db is None else margin_db, channel, fades,
                              family), iterations)

    @classmethod
    def from_header(cls, header: dict[str, Any], iterations: int = 20) -> "DigitalLink":
        """The receiver's link, from the header's MCS index (family and MCS); its name must agree."""
        from ..errors import SignalFileError
        from ..phy.mcs import mcs_from_index

        try:
            mcs = mcs_from_index(int(header["mcs_index"]))
        except SemcodecError as exc:
            raise SignalFileError(f"header: {exc}") from None
        if mcs.name != str(header["mcs"]):
            raise SignalFileError("header: mcs and mcs_index disagree")
        return cls(mcs, iterations)

    def capacity_bytes(self, channel_uses: int) -> int:
        """Largest payload (bytes) that fits in ``channel_uses`` symbols with this MCS, its CRC
        beside it."""
        from ..phy.mcs import capacity_bytes

        return max(0, capacity_bytes(channel_uses, self.mcs) - CRC_BYTES)

    def symbols_for(self, n_bytes: int) -> int:
        """Symbols a payload of ``n_bytes`` takes with its CRC (whole codewords; 0 for an empty
        payload: nothing is sent)."""
        from ..phy.mcs import frame_symbols

        return frame_symbols((n_bytes + CRC_BYTES) * 8, self.mcs) if n_bytes else 0

    def transmit(self, data: bytes) -> Transmission:
        """Payload -> digital stream + ``{mcs, mcs_index, payload_bytes}``."""
        import torch

        from ..phy.mcs import mcs_index, transmit_bytes
        from ..signal import Stream

        symbols = transmit_bytes(data + crc32(data), self.mcs) if data else torch.zeros(0, dtype=torch.complex64)
        header = {"mcs": self.mcs.name, "mcs_index": mcs_index(self.mcs), "payload_bytes": len(data)}
        return Transmission(Stream(symbols, "digital", bits=len(data) * 8), header, HEADER_BITS)

    def receive(self, stream: "ReceivedStream", header: dict[str, Any]) -> DigitalPayload:
        """Noisy stream + header -> the payload's bytes (failed codewords keep hard decisions) and
        whether its CRC matched."""
        from ..phy.mcs import receive_bytes

        n_bytes = int(header["payload_bytes"])
        if n_bytes == 0:
            return DigitalPayload(b"", 0, 0)
        if stream.symbols.numel() != self.symbols_for(n_bytes):
            from ..errors import SignalFileError

            raise SignalFileError(f"the digital stream has {stream.symbols.numel()} symbols; {n_bytes} bytes with "
                                  f"{self.mcs.name} send {self.symbols_for(n_bytes)}")
        data, failed, total = receive_bytes(stream.symbols, stream.noise_var, stream.fading, self.mcs,
                                            n_bytes + CRC_BYTES, self.iterations)
        return DigitalPayload(data[:n_bytes], failed, total, crc32(data[:n_bytes]) == data[n_bytes:])
