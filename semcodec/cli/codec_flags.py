"""Codec-declared flags on ``encode`` and ``bench`` (``--mcs X`` for ``--opt mcs=X``): the codecs
own their flags and the command line names none."""

from __future__ import annotations


import typer

from ..errors import InvalidInput, SemcodecError
from .app import app


#: Commands on which a codec's flag options (``Option(flag=True)``) may be given as flags.
CODEC_FLAG_COMMANDS = ("encode", "bench")


def codec_flags() -> dict[str, list[tuple[str, str, object, bool]]]:
    """``--flag`` -> every ``(codec, option key, Option, negated)`` declaring it: each option a
    registered codec marks ``flag=True`` (a bool one also as ``--no-flag``). A codec that fails
    to import is left out here; using it reports why."""
    from ..registry import CODECS, registered
    from ..codec import load_codec

    out: dict[str, list[tuple[str, str, object, bool]]] = {}
    for name in registered(CODECS):
        try:
            specs = load_codec(name).option_specs()
        except SemcodecError:
            continue
        for key, spec in specs.items():
            if spec.flag:
                dashed = key.replace("_", "-")
                out.setdefault(f"--{dashed}", []).append((name, key, spec, False))
                if spec.kind is bool:
                    out.setdefault(f"--no-{dashed}", []).append((name, key, spec, True))
    return out


def _selected_codecs(args: list[str]) -> set[str] | None:
    """The codecs ``--codec``/``-c``/``--codecs`` name in ``args`` (``None``: the default or all)."""
    names: set[str] = set()
    for i, token in enumerate(args):
        flag, eq, value = token.partition("=")
        if flag in ("--codec", "-c", "--codecs"):
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            names |= {v.strip() for v in value.split(",") if v.strip()}
    return None if not names or "all" in names else names


def _flag_help(command: str) -> None:
    """List the codecs' flags in ``encode --help`` / ``bench --help`` (built only when asked)."""
    lines = []
    for flag, decls in sorted(codec_flags().items()):
        if flag.startswith("--no-"):
            continue
        spec = decls[0][2]
        shown = f"{flag} / --no-{flag[2:]}" if spec.kind is bool else f"{flag} VALUE"
        lines.append(f"{shown} ({', '.join(sorted({d[0] for d in decls}))}): {spec.help}")
    epilog = ("Codec flags, each the same as --opt KEY=VALUE for the codecs that declare it:\n\n"
              + "\n\n".join(lines)) if lines else None
    for info in app.registered_commands:
        if info.name == command:
            info.epilog = epilog


def codec_flags_as_options(argv: list[str]) -> list[str]:
    """``encode``/``bench`` arguments with each codec-declared flag rewritten as ``--opt``
    (``--mcs qpsk-1/2`` -> ``--opt mcs=qpsk-1/2``, ``--paste-slice`` -> ``--opt paste_slice=true``),
    so codecs own their flags and the command line names none. A flag is read as the selected
    codecs declare it; two of them declaring it differently is an error. Codec classes are imported
    only when a ``--token`` is not one of the command's own options; anything else is left for the
    parser to judge (an unknown flag is still a one-line usage error)."""
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if at is None or argv[at] not in CODEC_FLAG_COMMANDS:
        return argv
    if "--help" in argv[at + 1:]:
        _flag_help(argv[at])
        return argv
    command = typer.main.get_command(app).commands[argv[at]]  # type: ignore[attr-defined]
    own = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    out, rest = argv[: at + 1], argv[at + 1:]
    selected = _selected_codecs(rest)
    flags: dict | None = None
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == "--":
            out.extend(rest[i:])
            break
        name, eq, value = token.partition("=")
        if token.startswith("--") and name not in own:
            flags = codec_flags() if flags is None else flags
            decls = [d for d in flags.get(name, []) if selected is None or d[0] in selected]
            if len({(d[1], d[2].kind is bool, d[3]) for d in decls}) > 1:
                raise InvalidInput(f"{name} means different things to {', '.join(sorted({d[0] for d in decls}))}; "
                                   f"use --opt {decls[0][1]}=VALUE")
            if decls:
                _, key, spec, negated = decls[0]
                if spec.kind is bool and not eq:
                    out += ["--opt", f"{key}={'false' if negated else 'true'}"]
                    i += 1
                    continue
                if not negated:
                    if not eq and (i + 1 >= len(rest) or rest[i + 1].startswith("-") and len(rest[i + 1]) > 1
                                   and not rest[i + 1][1:2].isdigit()):
                        raise InvalidInput(f"{name} needs a value ({spec.describe()})")
                    out += ["--opt", f"{key}={value if eq else rest[i + 1]}"]
                    i += 1 if eq else 2
                    continue
        out.append(token)
        i += 1
    return out
