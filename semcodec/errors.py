"""Errors a user can cause.

Everything a user can trigger (a bad file, an unknown codec, missing weights, an SNR that is
not a number) raises a :class:`SemcodecError` subclass. The CLI turns them into one red line
and exit code 2; the library never calls ``sys.exit``.
"""

from __future__ import annotations


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
