"""Errors a user can cause.

Everything a user can trigger (a bad file, an unknown codec, missing weights, an SNR that is
not a number) raises a :class:`SemcodecError` subclass. The CLI turns them into one red line
and exit code 2; the library never calls ``sys.exit``.
"""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1). No codec, dataset or channel name holds one, and none is
#: printed or drawn raw: a newline cuts an error line short, an escape recolours the terminal.
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` on one line with control characters shown as escapes (``\\n``, ``\\x1b``): our
    messages name files and ids, which may hold a newline or a terminal escape."""
    return CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], str(text)).strip()


class SemcodecError(Exception):
    """Base class of every error a user can cause and fix."""


class InvalidInput(SemcodecError):
    """An argument or file the user gave is not usable (bad image, bad number, bad path)."""


class UnknownName(SemcodecError):
    """A codec, channel, metric or dataset name that no installed distribution provides."""


class RegistryConflict(SemcodecError):
    """Two installed distributions register the same name in one entry-point group."""


class ModelUnavailable(SemcodecError):
    """Pretrained weights that a component needs are not on this machine."""


class CodecNotReady(SemcodecError):
    """A codec cannot run here (weights missing, optional dependency absent)."""


class DatasetError(SemcodecError):
    """A dataset is missing, incomplete or fails its pinned checksums."""


class SignalFileError(SemcodecError):
    """A saved signal file is unreadable, truncated or from an incompatible version."""


class MissingExtra(SemcodecError):
    """An optional dependency group (``pip install 'semcodec[semantic]'``) is not installed."""
