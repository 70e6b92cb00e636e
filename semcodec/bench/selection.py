"""Which codecs a bench runs, built once per budget: ``--codecs``, ``--opt`` and ``--bandwidth``
turned into codec instances, and the reasons the others are skipped.

Why here and not in the command line: it is the bench's rule of what runs, and a script that
drives :func:`~semcodec.bench.run_bench` wants the same rule. Codecs the user named must all run
(any fault is an error); with ``all``, a codec that is not ready or needs questions that were not
given is skipped with its reason. ``KEY=VALUE`` goes to every selected codec that declares
``KEY``, ``CODEC.KEY=VALUE`` to that codec only; an option no selected codec takes is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import CodecNotReady, InvalidInput, SemcodecError
from ..signal import parse_ratio

if TYPE_CHECKING:
    from ..codec import Codec


@dataclass
class CodecSelection:
    """The instances to run (``name`` or ``name@budget`` when several budgets are swept) and the
    codecs skipped, each with its one-line reason."""

    instances: dict[str, "Codec"] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def parse_budgets(text: str | None) -> list[str | None]:
    """``--bandwidth 1/24,1/12`` -> the distinct budgets as written (``1/12`` and ``0.0833…`` are
    one); ``[None]`` (each codec's default) when none is given."""
    budgets: list[str | None] = [b.strip() for b in text.split(",") if b.strip()] if text else [None]
    by_value: dict[float | None, str | None] = {}
    for b in budgets:
        by_value.setdefault(parse_ratio(b) if b is not None else None, b)
    return list(by_value.values())


def select_codecs(codecs: str, options: dict[str, object], budgets: list[str | None], design_snr: str | None,
                  device: str | None, have_queries: bool) -> CodecSelection:
    """Build the codecs of ``--codecs`` (comma-separated names, or ``all``) for every budget."""
    from ..codec import build_codec, load_codec
    from ..registry import CODECS, names

    selection = CodecSelection()
    explicit = codecs.strip() != "all"
    wanted = [c.strip() for c in codecs.split(",") if c.strip()] if explicit else names(CODECS)
    if not wanted:
        raise InvalidInput("--codecs names no codec (comma-separated names, or all)")
    accepted_anywhere: set[str] = set()
    for codec_name in wanted:
        try:
            cls = load_codec(codec_name)
        except SemcodecError as exc:
            if explicit:
                raise
            selection.skipped[codec_name] = str(exc)
            continue
        accepted = {k: v for k, v in options.items() if "." not in k and k in cls.options}
        accepted_anywhere |= set(accepted)
        scoped = {k.split(".", 1)[1]: v for k, v in options.items() if k.startswith(f"{codec_name}.")}
        accepted.update(scoped)
        accepted_anywhere |= {f"{codec_name}.{k}" for k in scoped}
        cls.parse_options(accepted)  # a bad value is the user's to fix, whichever codecs are selected
        try:
            if not explicit:
                ready, reason = cls.readiness()
                if not ready:
                    selection.skipped[codec_name] = reason
                    continue
                if cls.takes_query and not have_queries:
                    selection.skipped[codec_name] = "it answers users' questions: give them with --queries FILE"
                    continue
            for b in budgets:
                key = codec_name if len(budgets) == 1 else f"{codec_name}@{b}"
                selection.instances[key] = build_codec(codec_name, b, design_snr, accepted, device)
        except SemcodecError as exc:
            if explicit or (accepted and not isinstance(exc, CodecNotReady)):
                raise  # with options of the user's, a codec that cannot be built is the user's to fix
            selection.skipped[codec_name] = str(exc)
    unused = set(options) - accepted_anywhere
    if unused:
        raise InvalidInput(f"no selected codec takes option(s) {', '.join(sorted(unused))} (CODEC.KEY=VALUE gives "
                           "an option to one codec)")
    return selection

