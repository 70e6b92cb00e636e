"""Checkpoints the project ships (``semcodec/weights``) and how a signal names one.

A learned codec's transmitter and receiver must use the same weights. A header names them by
*shipped name* or by *content hash* (``sha256:…``) — never by path: a receiver must not open a
file because a signal file says so. A receiver given a hash needs the file itself
(``--opt checkpoint=PATH``), and it is checked against the hash.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from .errors import InvalidInput

#: The header field that says which of a codec's checkpoints (by index) the transmitter used.
CHECKPOINT_BITS = 4

#: A header's checkpoint: a shipped name or a content hash.
CHECKPOINT_ID = r"[A-Za-z0-9_.-]{1,80}|sha256:[0-9a-f]{64}"


def weights_folder() -> Path:
    """The package's ``weights/`` folder (checkpoints + JSON cards)."""
    return Path(str(resources.files("semcodec") / "weights"))


def shipped_cards(pattern: str) -> list[tuple[str, Path, dict]]:
    """``(name, weights file, card)`` of the shipped checkpoints whose card matches ``pattern``."""
    out = []
    for card_path in sorted(weights_folder().glob(pattern)):
        weights = card_path.with_suffix(".safetensors")
        if weights.is_file():
            out.append((card_path.stem, weights, json.loads(card_path.read_text())))
    return out


def card_beside(path: Path) -> dict:
    """The JSON card next to a ``.safetensors`` file of one's own (``{}`` when there is none)."""
    card_path = path.with_suffix(".json")
    return json.loads(card_path.read_text()) if card_path.is_file() else {}


def file_sha256(path: Path) -> str:
    """``sha256:<hex>`` of a file (cached per path, size and mtime)."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=None)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def header_id(ckpt: Any, shipped: Sequence[Any]) -> str:
    """How a header names ``ckpt`` (anything with ``name`` and ``path``): its shipped name, or the
    content hash of a file of one's own."""
    if any(c.name == ckpt.name and c.path == ckpt.path for c in shipped):
        return ckpt.name
    return file_sha256(ckpt.path)


def receiver_checkpoint(codec: str, named: str, own: Any | None, shipped: Sequence[Any]) -> Any:
    """The checkpoint a header names: a shipped one, or — for a content hash — the receiver's own
    file (``--opt checkpoint=PATH``, ``own``), which must have that hash. One-line errors."""
    if own is not None:
        if header_id(own, shipped) != named:
            raise InvalidInput(f"{codec}: the signal was sent with checkpoint {named[:40]}, "
                               f"the receiver has {header_id(own, shipped)[:40]}")
        return own
    if named.startswith("sha256:"):
        raise InvalidInput(f"{codec}: the signal was sent with a checkpoint of your own ({named[:19]}…); "
                           "give the receiver that file with --opt checkpoint=PATH")
    for c in shipped:
        if c.name == named:
            return c
    raise InvalidInput(f"{codec}: the header names checkpoint {named!r}, which is not shipped")
