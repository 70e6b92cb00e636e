"""Links: the reusable transmit / receive blocks codecs are built from.

Each link turns one payload into one :class:`~semcodec.signal.Stream` of unit-energy complex
symbols plus the header fields its receiver needs, and back:

=================  ==========================================  ===========================
link               payload                                     stream
=================  ==========================================  ===========================
``DigitalLink``    bytes -> LDPC + QAM (MCS from the design    ``digital``, whole codewords
                   SNR) -> soft demap -> min-sum -> bytes
``AnalogLink``     image ``[3, H, W]`` -> learned encoder ->   ``analog``, at most the
                   power-normalised latent -> decoder -> image  budget's symbols
``TextLink``       text -> 6-bit alphabet -> QPSK (± LDPC)     ``digital``
                   -> text
=================  ==========================================  ===========================

The interface is small on purpose: ``transmit(payload, ...) -> Transmission`` (stream, header
fields, what those fields cost in bits) and ``receive(received_stream, header, ...) -> payload``.
A codec composes links (bpg-ldpc = HEVC + DigitalLink; deep-jscc = AnalogLink; Multi-SC =
segmenter + AnalogLink + captioner + TextLink + generator) and never adds noise itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..signal import Stream

__all__ = ["Transmission"]


@dataclass
class Transmission:
    """What a link puts on the channel for one payload.

    Attributes:
        stream: the symbols (complex64 ``[n]``, unit mean energy) and their kind.
        header: the fields the link's receiver needs (JSON values), delivered error-free.
        header_bits: what those fields cost on a real link (counted in the channel uses).
    """

    stream: "Stream"
    header: dict[str, Any]
    header_bits: int
