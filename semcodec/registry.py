"""Codecs, channels and metrics, found through entry points — the only registry there is.

Built-in codecs are declared in ``pyproject.toml`` exactly like third-party plugins, so
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


def _load_subclass(group: str, name: str, base: type) -> type:
    """``load`` that also checks the object is a subclass of ``base`` (a plugin may register a
    function, an instance or a module by mistake; say so instead of failing later)."""
    obj = load(group, name)
    if not (isinstance(obj, type) and issubclass(obj, base)):
        item = registered(group)[name]
        raise PluginLoadError(f"{item.distribution} registers {name!r} as {item.target}, which is not a "
                              f"{base.__module__.split('.')[0]}.{base.__name__} subclass")
    return obj


def load_codec(name: str) -> type:
    from .codec import Codec

    return _load_subclass(CODECS, name, Codec)


def load_channel(name: str) -> type:
    from .channel import Channel

    return _load_subclass(CHANNELS, name, Channel)


def load_metric(name: str) -> type:
    from .metrics import Metric

    return _load_subclass(METRICS, name, Metric)


def parse_channel_spec(spec: str):
    """``NAME[:key=value,...]`` -> the channel block, parameters typed and range-checked against
    what the channel declares (one line on anything else): ``rician:K=3``, ``rayleigh:coherence=256``."""
    from .errors import InvalidInput

    name, _, rest = str(spec).strip().partition(":")
    cls = load_channel(name)
    declared = getattr(cls, "params", {}) or {}
    kwargs: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if key not in declared:
            known = ", ".join(declared) or "none"
            raise InvalidInput(f"channel {name}: unknown parameter {key!r} (parameters: {known})")
        if not eq or not value.strip():
            raise InvalidInput(f"channel {name}: {key} needs a value ({key}=...)")
        kind, _, lo, hi, _ = declared[key]
        if key in kwargs:
            raise InvalidInput(f"channel {name}: {key} is given twice")
        if kind is str:  # lo: the choices
            if value.strip() not in lo:
                raise InvalidInput(f"channel {name}: {key} must be one of {', '.join(lo)}, got {value.strip()!r}")
            kwargs[key] = value.strip()
            continue
        try:
            v = kind(value.strip()) if kind is not int else int(value.strip(), 10)
        except ValueError:
            raise InvalidInput(f"channel {name}: {key} must be {'an integer' if kind is int else 'a number'}, "
                               f"got {value.strip()!r}") from None
        if isinstance(v, float) and not math.isfinite(v) or not lo <= v <= hi:
            raise InvalidInput(f"channel {name}: {key} must be in [{lo:g}, {hi:g}], got {value.strip()}")
        kwargs[key] = v
    return cls(**kwargs)
