"""Do two answers to one question agree? The rules of UO-ISC's answer match rate.

A VQA model answers the user's question on the original image and on the reconstruction; the
pair *matches* when, after normalisation (lower case, punctuation and the articles a/an/the
removed), the rule of the question's type says so:

=============  =============================================  ==============================
type           recognised by                                  match when
=============  =============================================  ==============================
``count``      starts with "how many"                         the first number is equal
                                                              (digits or zero … twelve)
``yes/no``     first word is/are/do/does/was/were/can/could   the first words are equal
``where``      starts with "where"                            one contains the other, or
                                                              similarity ratio >= 0.8
``other``      anything else                                  equal, or ratio >= 0.85
=============  =============================================  ==============================

The similarity ratio is :class:`difflib.SequenceMatcher`'s. Pure functions, no model: the
metric that asks the VQA model lives in :mod:`semcodec.metrics`.
"""

from __future__ import annotations

import difflib
import re

NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
YES_NO_STARTS = frozenset({"is", "are", "do", "does", "was", "were", "can", "could"})
ARTICLES = frozenset({"a", "an", "the"})
WHERE_RATIO = 0.8
OTHER_RATIO = 0.85


def normalize(text: str) -> str:
    """Lower case, punctuation dropped (a decimal point kept), articles removed, spaces collapsed."""
    text = re.sub(r"(?<!\d)[.](?!\d)|[^\w\s.]", " ", text.lower())
    return " ".join(word for word in text.split() if word not in ARTICLES)


def question_type(question: str) -> str:
    """``count``, ``yes/no``, ``where`` or ``other``."""
    q = normalize(question)
    if q.startswith("how many"):
        return "count"
    first = q.split(" ", 1)[0] if q else ""
    if first in YES_NO_STARTS:
        return "yes/no"
    if first == "where":
        return "where"
    return "other"


def first_number(answer: str) -> float | None:
    """The first number in an answer: digits (``2``, ``2.5``) or a word from zero to twelve."""
    for word in normalize(answer).split():
        if word in NUMBER_WORDS:
            return float(NUMBER_WORDS[word])
        try:
            return float(word)
        except ValueError:
            continue
    return None


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def answers_match(question: str, original: str, reconstructed: str) -> bool:
    """Whether the answer on the reconstruction agrees with the answer on the original."""
    a, b = normalize(original), normalize(reconstructed)
    kind = question_type(question)
    if kind == "count":
        x, y = first_number(a), first_number(b)
        return x is not None and x == y
    if kind == "yes/no":
        return bool(a) and a.split()[0] == (b.split()[0] if b else None)
    if kind == "where":
        return bool(a and b) and (a in b or b in a or similarity(a, b) >= WHERE_RATIO)
    return a == b or similarity(a, b) >= OTHER_RATIO
