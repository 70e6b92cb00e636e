"""Text over the channel: a 6-bit printable alphabet, QPSK, uncoded by default.

The alphabet has exactly 64 printable characters (a–z, A–Z, 0–9, space, full stop), so *every*
6-bit pattern decodes to a printable character: a bit error turns a letter into another letter
(or digit), which is the kind of misspelling the receiver's BART corrector is meant to fix, and
no byte pattern can raise. Characters outside the alphabet are mapped before sending (accents
stripped; ``,;:!?`` -> ``.``; anything else -> space) — the sent text recorded is the mapped one.
Uncoded (the letter's setting) or, with ``text_fec="ldpc"``, protected by the project's QPSK
rate-1/2 LDPC code.
"""

from __future__ import annotations

import math
import unicodedata
from typing import TYPE_CHECKING, Any

import torch

from . import Transmission

if TYPE_CHECKING:
    from ..signal import ReceivedStream

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ."
BITS_PER_CHAR = 6
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
TEXT_MCS = "qpsk-1/2"
FEC_CHOICES = ("none", "ldpc")
#: Header field of the link: the text's length in characters (16 bits).
HEADER_BITS = 16


def to_alphabet(text: str) -> str:
    """Map ``text`` onto the 64-character alphabet (what is actually sent)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = []
    for ch in plain:
        if ch in _INDEX:
            out.append(ch)
        elif ch in ",;:!?":
            out.append(".")
        else:
            out.append(" ")
    return " ".join("".join(out).split())  # collapse runs of spaces


def text_to_bits(text: str) -> torch.Tensor:
    """Alphabet text -> bits ``[6 * len]`` (MSB first)."""
    idx = torch.tensor([_INDEX[c] for c in text], dtype=torch.int64)
    shifts = torch.arange(BITS_PER_CHAR - 1, -1, -1)
    return ((idx[:, None] >> shifts) & 1).flatten().to(torch.uint8)


def bits_to_text(bits: torch.Tensor) -> str:
    """Any bits -> text; every 6-bit group is a printable character."""
    n = bits.numel() // BITS_PER_CHAR
    groups = bits[: n * BITS_PER_CHAR].to(torch.int64).reshape(n, BITS_PER_CHAR)
    idx = (groups << torch.arange(BITS_PER_CHAR - 1, -1, -1)).sum(1)
    return "".join(ALPHABET[i] for i in idx.tolist())


def encode_text(text: str, fec: str = "none") -> tuple[torch.Tensor, int]:
    """Alphabet text -> (QPSK symbols, payload bits)."""
    from ..phy.mcs import bits_to_bytes, parse_mcs, transmit_bytes
    from ..phy.modulation import modulation

    bits = text_to_bits(text)
    if fec == "ldpc":
        return transmit_bytes(bits_to_bytes(bits), parse_mcs(TEXT_MCS)), bits.numel()
    padded = torch.cat([bits, bits.new_zeros(bits.numel() % 2)])
    return modulation("qpsk").modulate(padded), bits.numel()


def text_symbols(n_chars: int, fec: str = "none") -> int:
    """QPSK symbols a text of ``n_chars`` characters takes (what :func:`encode_text` emits)."""
    from ..phy.mcs import frame_symbols, parse_mcs

    n_bits = n_chars * BITS_PER_CHAR
    if fec == "ldpc":
        return frame_symbols(math.ceil(n_bits / 8) * 8, parse_mcs(TEXT_MCS)) if n_bits else 0
    return math.ceil(n_bits / 2)


def decode_text(y: torch.Tensor, noise_var: float, fading: torch.Tensor | None, n_chars: int,
                fec: str = "none") -> str:
    """Received symbols -> text of ``n_chars`` characters (hard decisions; never raises)."""
    from ..phy.mcs import bytes_to_bits, parse_mcs, receive_bytes
    from ..phy.modulation import modulation

    n_bits = n_chars * BITS_PER_CHAR
    if fec == "ldpc":
        data, _, _ = receive_bytes(y, noise_var, fading, parse_mcs(TEXT_MCS), math.ceil(n_bits / 8))
        bits = bytes_to_bits(data)
    else:
        bits = (modulation("qpsk").demap(y, noise_var, fading) < 0).to(torch.uint8)
    return bits_to_text(bits[:n_bits])


class TextLink:
    """Text <-> QPSK symbols through the 64-character alphabet, uncoded or LDPC-protected.

    Args:
        fec: ``"none"`` (the letter's setting: a bit error is a typo) or ``"ldpc"``.
    """

    def __init__(self, fec: str = "none") -> None:
        if fec not in FEC_CHOICES:
            from ..errors import InvalidInput

            raise InvalidInput(f"text_fec must be one of {', '.join(FEC_CHOICES)}, got {fec!r}")
        self.fec = fec

    @staticmethod
    def prepare(text: str) -> str:
        """What is actually sent for ``text`` (mapped onto the alphabet); record this one."""
        return to_alphabet(text)

    def symbols_for(self, n_chars: int) -> int:
        """Symbols a text of ``n_chars`` characters takes."""
        return text_symbols(n_chars, self.fec)

    def transmit(self, text: str) -> Transmission:
        """Text -> digital stream + ``{length}`` (the text is mapped onto the alphabet first)."""
        from ..signal import Stream

        sent = to_alphabet(text)
        symbols, bits = encode_text(sent, self.fec)
        return Transmission(Stream(symbols, "digital", bits=bits), {"length": len(sent)}, HEADER_BITS)

    def receive(self, stream: "ReceivedStream", header: dict[str, Any]) -> str:
        """Noisy stream + ``{length}`` -> text of that many characters (hard decisions; never raises)."""
        return decode_text(stream.symbols, stream.noise_var, stream.fading, int(header["length"]), self.fec)
