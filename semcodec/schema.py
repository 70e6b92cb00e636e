"""Small validators for untrusted JSON (a signal file's header and configuration).

Why not a library: the shapes are tiny and the error must be one line naming the field, e.g.
``header.height: expected an integer in [1, 65535], got '12'``. Each spec's ``check`` returns the
value or raises :class:`~semcodec.errors.SignalFileError`; nothing is coerced (a string where a
number belongs is an error, as is ``true`` where an integer belongs).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import SignalFileError


def _fail(where: str, expected: str, value: Any) -> SignalFileError:
    shown = repr(value)
    return SignalFileError(f"{where}: expected {expected}, got {shown[:60]}{'…' if len(shown) > 60 else ''}")


class Spec:
    """Base class: ``check(value, where) -> value`` or :class:`SignalFileError`."""

    def check(self, value: Any, where: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Spec):
    lo: int
    hi: int

    def check(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not self.lo <= value <= self.hi:
            raise _fail(where, f"an integer in [{self.lo}, {self.hi}]", value)
        return value


@dataclass(frozen=True)
class Num(Spec):
    lo: float
    hi: float

    def check(self, value: Any, where: str) -> float:
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or (isinstance(value, float) and not math.isfinite(value))  # an int never overflows here
                or not self.lo <= value <= self.hi):
            raise _fail(where, f"a finite number in [{self.lo:g}, {self.hi:g}]", value)
        return float(value)


@dataclass(frozen=True)
class Str(Spec):
    max_len: int = 256
    choices: tuple[str, ...] | None = None
    pattern: str | None = None

    def check(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or len(value) > self.max_len:
            raise _fail(where, f"a string of at most {self.max_len} characters", value)
        if self.choices is not None and value not in self.choices:
            raise _fail(where, "one of " + ", ".join(self.choices), value)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise _fail(where, f"a string matching {self.pattern}", value)
        return value


@dataclass(frozen=True)
class Bool(Spec):
    def check(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise _fail(where, "true or false", value)
        return value


@dataclass(frozen=True)
class Nullable(Spec):
    inner: Spec

    def check(self, value: Any, where: str) -> Any:
        return None if value is None else self.inner.check(value, where)


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    min_len: int = 0
    max_len: int = 1024

    def check(self, value: Any, where: str) -> list:
        if not isinstance(value, list) or not self.min_len <= len(value) <= self.max_len:
            raise _fail(where, f"a list of {self.min_len}..{self.max_len} items", value)
        return [self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class MapOf(Spec):
    value: Spec
    max_len: int = 64
    key: Spec = field(default_factory=lambda: Str(64))

    def check(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict) or len(value) > self.max_len:
            raise _fail(where, f"an object of at most {self.max_len} entries", value)
        return {self.key.check(k, f"{where} key"): self.value.check(v, f"{where}.{k}") for k, v in value.items()}


@dataclass(frozen=True)
class Obj(Spec):
    """An object with exactly these fields (``optional`` ones may be absent; no others)."""

    fields: dict[str, Spec]
    optional: tuple[str, ...] = ()

    def check(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        extra = sorted(set(value) - set(self.fields))
        if extra:
            raise SignalFileError(f"{where}: unexpected field(s) {', '.join(map(str, extra))[:80]}")
        out = {}
        for name, spec in self.fields.items():
            if name not in value:
                if name in self.optional:
                    continue
                raise SignalFileError(f"{where}: field {name!r} is missing")
            out[name] = spec.check(value[name], f"{where}.{name}")
        return out


#: Image sides in headers: 16 bits each, as the codecs count them.
SIDE = Int(1, 65535)


@dataclass(frozen=True)
class Scalar(Spec):
    """A JSON scalar: null, true/false, a finite number or a string of at most ``max_len``."""

    max_len: int = 1024

    def check(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and -2**63 <= value < 2**63:  # no option is larger (10**400 is no float)
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        if isinstance(value, str) and len(value) <= self.max_len:
            return value
        raise _fail(where, "a number, string, true/false or null", value)


@dataclass(frozen=True)
class Any_(Spec):
    """Any JSON value (a codec's own schema checks it later), bounded in nesting depth."""

    max_depth: int = 8

    def check(self, value: Any, where: str, depth: int = 0) -> Any:
        if depth > self.max_depth:
            raise SignalFileError(f"{where}: nested too deeply")
        if isinstance(value, dict):
            for k, v in value.items():
                self.check(v, f"{where}.{k}", depth + 1)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.check(v, f"{where}[{i}]", depth + 1)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _fail(where, "a finite number", value)
        return value


def loads_unique(text: str | bytes) -> Any:
    """``json.loads`` that refuses an object naming one key twice (``ValueError``): plain JSON
    keeps the last silently, so a file could say one thing to a reader and another to us."""
    import json

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ValueError(f"key {key[:40]!r} is given twice")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=pairs)
