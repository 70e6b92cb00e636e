"""Codecs, channels and metrics, found through entry points — the only registry there is.

This is the bottom of the package: it knows entry-point groups and names, never what the
objects are (each base class's module offers its own ``load_*``: :func:`semcodec.codec.load_codec`,
:func:`semcodec.channel.load_channel`, :func:`semcodec.metrics.load_metric`,
:func:`semcodec.train.load_trainer`). Built-in codecs are declared in ``pyproject.toml`` exactly like third-party plugins, so
``semcodec`` treats its own codecs and a plugin's the same way. Names are listed from the
distribution metadata without importing any codec module; a module is imported only when its
object is asked for, and a plugin that fails to import is reported for itself without breaking
the others.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import RegistryConflict, SemcodecError, UnknownName

CODECS = "semcodec.codecs"

#: The codec ``encode`` uses when none is named (the system the project exists for), and the one
#: suggested when it cannot run here (it needs no download).
DEFAULT_CODEC = "multi-sc"
NO_DOWNLOAD_CODEC = "deep-jscc"
CHANNELS = "semcodec.channels"
METRICS = "semcodec.metrics"


class PluginLoadError(SemcodecError):
    """An installed plugin's entry point could not be imported."""


@dataclass(frozen=True)
class Registered:
    """One registered name: where it points and which distribution declared it."""

    name: str
    target: str
    distribution: str
    entry_point: EntryPoint


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "<unknown distribution>"


@lru_cache(maxsize=None)
def registered(group: str) -> dict[str, Registered]:
    """All names in ``group``, sorted; two distributions claiming one name is an error."""
    found: dict[str, Registered] = {}
    for ep in entry_points(group=group):
        item = Registered(ep.name, ep.value, _dist_name(ep), ep)
        other = found.get(ep.name)
        if other is not None and (other.distribution, other.target) != (item.distribution, item.target):
            raise RegistryConflict(
                f"{group} name {ep.name!r} is registered twice: by {other.distribution} "
                f"({other.target}) and by {item.distribution} ({item.target}); uninstall one"
            )
        found[ep.name] = item
    return dict(sorted(found.items()))


def names(group: str) -> list[str]:
    """Registered names in ``group`` (no module is imported)."""
    return list(registered(group))


def load(group: str, name: str) -> Any:
    """Import and return the object registered as ``name`` in ``group``."""
    entries = registered(group)
    if name not in entries:
        kind = group.rsplit(".", 1)[-1].rstrip("s")
        known = ", ".join(entries) or "none installed"
        raise UnknownName(f"unknown {kind} {name!r} (known: {known})")
    item = entries[name]
    try:
        return item.entry_point.load()
    except Exception as exc:  # a broken plugin must not take the others down
        raise PluginLoadError(
            f"{item.distribution} registers {name!r} as {item.target}, which fails to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def load_subclass(group: str, name: str, base: type) -> type:
    """``load`` that also checks the object is a subclass of ``base`` (a plugin may register a
    function, an instance or a module by mistake; say so instead of failing later)."""
    obj = load(group, name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        item = registered(group)[name]
        raise PluginLoadError(f"{item.distribution} registers {name!r} as {item.target}, which is not a "
                              f"{base.__module__.split('.')[0]}.{base.__name__} subclass")
    return obj
