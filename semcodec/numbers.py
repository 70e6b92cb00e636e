"""Numbers as a person types them: one rule for every number semcodec reads from text.

Python's ``float`` and ``int`` (and the CLI's option parser) take more than a person means: ``6_0``
is sixty (digit grouping), ``٦`` is six (other scripts' digits). A typo for ``6`` or ``6.0`` must not
run a sweep at 60 dB, so every number read from the command line, a channel's parameters, a codec's
``--opt`` or a bandwidth goes through :func:`decimal` or :func:`integer`: ASCII digits, one sign, one
point, one exponent — and the words ``inf``/``nan`` (so the caller can say "must be finite").
"""

from __future__ import annotations

import re

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_WORDS = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def decimal(text: str) -> float:
    """``text`` (surrounding spaces allowed) as a float; ``ValueError`` unless it is a plain
    decimal number or ``inf``/``nan``."""
    s = text.strip()
    if _DECIMAL.fullmatch(s) or _WORDS.fullmatch(s):
        return float(s)
    raise ValueError(f"{text!r} is not a plain decimal number")


def integer(text: str) -> int:
    """``text`` (surrounding spaces allowed) as an int; ``ValueError`` unless it is plain ASCII
    digits with an optional sign (``int`` also raises it past its digit limit)."""
    s = text.strip()
    if _INTEGER.fullmatch(s):
        return int(s, 10)
    raise ValueError(f"{text!r} is not a plain integer")
