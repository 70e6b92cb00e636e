"""Optional dependency groups (pip extras), and the one line a user sees when one is missing.

The core install runs the classical and learned codecs, the bench and the report. The
vision-language codecs and the metrics that need models or text tools come with
``pip install 'semcodec[semantic]'``; without it they say so in one line instead of failing on
an import deep inside.
"""

from __future__ import annotations

from importlib.util import find_spec

#: Import names the ``semantic`` extra provides (see pyproject.toml).
SEMANTIC = ("transformers", "diffusers", "accelerate", "huggingface_hub", "tokenizers", "sacrebleu", "lpips")


def missing(modules: tuple[str, ...]) -> list[str]:
    """Those of ``modules`` that cannot be imported here (checked without importing them)."""
    out = []
    for name in modules:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def missing_reason(modules: tuple[str, ...], what: str, extra: str = "semantic") -> str | None:
    """``"<what> needs the semantic extra: pip install 'semcodec[semantic]' (x, y not installed)"``,
    or ``None`` when every module is there."""
    gone = missing(modules)
    if not gone:
        return None
    return f"{what} needs the {extra} extra: pip install 'semcodec[{extra}]' ({', '.join(gone)} not installed)"


def require(modules: tuple[str, ...], what: str, extra: str = "semantic") -> None:
    """Raise a one-line :class:`~semcodec.errors.MissingExtra` when a module of ``modules`` is missing."""
    from .errors import MissingExtra

    reason = missing_reason(modules, what, extra)
    if reason:
        raise MissingExtra(reason)
