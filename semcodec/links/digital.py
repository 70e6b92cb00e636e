"""The digital link: bytes -> LDPC codewords -> QAM symbols, and back with soft decisions.

Transmitter: payload bytes -> bits -> whole LDPC codewords (the last zero-padded) -> Gray QAM.
Receiver: soft demapping (max-log LLRs with the noise variance and CSI) -> layered min-sum
decoding of every codeword in one batch -> bytes; a codeword that fails keeps its hard
decisions (a real receiver has nothing better) and is counted.

The MCS (modulation + code rate) is chosen from the measured FER table for a *design* SNR
(:func:`semcodec.phy.mcs.choose_mcs`: the highest rate whose FER at the design SNR minus a
margin is below 1e-2), or forced. Its header fields: the MCS (name and 4-bit index) and the
payload length (24 bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import Transmission

if TYPE_CHECKING:
    from ..phy.mcs import MCS
    from ..signal import ReceivedStream

#: Header fields of the link: MCS index (4 bits) and payload length in bytes (24 bits).
HEADER_BITS = 4 + 24


@dataclass
class DigitalPayload:
    """What the digital receiver got: the bytes, and how many codewords failed of how many."""

    data: bytes
    failed_codewords: int
    codewords: int


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
                       forced: str | None = None, iterations: int = 20) -> "DigitalLink":
        """The link a transmitter designing for ``design_snr_db`` uses: the forced MCS (a name such
        as ``qpsk-1/2``), or the highest-rate MCS the measured table allows with ``margin_db``."""
        from ..phy.mcs import MARGIN_DB, choose_mcs, parse_mcs

        if forced:
            return cls(parse_mcs(forced), iterations)
        return cls(choose_mcs(design_snr_db, MARGIN_DB if margin_db is None else margin_db), iterations)

    @classmethod
    def from_header(cls, header: dict[str, Any], iterations: int = 20) -> "DigitalLink":
        """The receiver's link, from the header's MCS name."""
        from ..phy.mcs import parse_mcs

        return cls(parse_mcs(str(header["mcs"])), iterations)

    def capacity_bytes(self, channel_uses: int) -> int:
        """Largest payload (bytes) that fits in ``channel_uses`` symbols with this MCS."""
        from ..phy.mcs import capacity_bytes

        return capacity_bytes(channel_uses, self.mcs)

    def symbols_for(self, n_bytes: int) -> int:
        """Symbols a payload of ``n_bytes`` takes (whole codewords; 0 for an empty payload)."""
        from ..phy.mcs import codewords_for

        return codewords_for(n_bytes * 8, self.mcs) * self.mcs.symbols_per_codeword if n_bytes else 0

    def transmit(self, data: bytes) -> Transmission:
        """Payload -> digital stream + ``{mcs, mcs_index, payload_bytes}``."""
        import torch

        from ..phy.mcs import mcs_index, transmit_bytes
        from ..signal import Stream

        symbols = transmit_bytes(data, self.mcs) if data else torch.zeros(0, dtype=torch.complex64)
        header = {"mcs": self.mcs.name, "mcs_index": mcs_index(self.mcs), "payload_bytes": len(data)}
        return Transmission(Stream(symbols, "digital", bits=len(data) * 8), header, HEADER_BITS)

    def receive(self, stream: "ReceivedStream", header: dict[str, Any]) -> DigitalPayload:
        """Noisy stream + header -> the payload's bytes (failed codewords keep hard decisions)."""
        from ..phy.mcs import receive_bytes

        n_bytes = int(header["payload_bytes"])
        if n_bytes == 0:
            return DigitalPayload(b"", 0, 0)
        data, failed, total = receive_bytes(stream.symbols, stream.noise_var, stream.fading, self.mcs,
                                            n_bytes, self.iterations)
        return DigitalPayload(data, failed, total)
