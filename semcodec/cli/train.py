"""``semcodec train NAME``: one command for every trainer registered in ``semcodec.trainers``.

Each command is built from the trainer's declared options (:class:`~semcodec.train.TrainOption`)
plus the four every trainer has; the checks before a run (the output path, the resume rule,
the device) and the progress display (a bar on a terminal, a line every ``log_every`` steps in
a log, milestones such as evaluations always) are here once for all of them.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from ..errors import SemcodecError
from .app import console, err_console, train_app
from .common import check_device, check_output, file_path, number, range_text

#: The options every trainer has, added after its own.
COMMON = {
    "out": (Path, ..., ("--out",), "Checkpoint to write (.safetensors; a .json card and a .state.pt beside it).", file_path),
    "device": (str, "cpu", ("--device",), "cpu, cuda, ...", None),
    "resume": (bool, False, ("--resume",), "Continue from the .state.pt beside --out.", None),
    "force": (bool, False, ("--force",), "Replace an existing --out checkpoint (and its card and state).", None),
}


def _parameter(name: str, kind: Any, default: Any, flags: tuple[str, ...], help_text: str,
               lo: float | None = None, hi: float | None = None, parser: Any = None) -> inspect.Parameter:
    numeric = next((t for t in (int, float) if kind in (t, Optional[t])), None)
    if numeric is not None and parser is None:  # the one number rule (6_0 is not 60), and the range
        if lo is not None or hi is not None:  # --help still shows it
            help_text = f"{help_text} [{range_text(lo, hi)}]".strip()
        parser, lo, hi = number(numeric, lo, hi), None, None
    option = typer.Option(*(flags or (f"--{name.replace('_', '-')}",)), help=help_text or None, min=lo, max=hi,
                          parser=parser)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[kind, option])


def _command(name: str, trainer_cls: type) -> Any:
    """A Typer command whose signature is the trainer's options (so ``--help`` lists them)."""
    own = {key: _parameter(key, o.type, o.default, o.flags, o.help, o.min, o.max)
           for key, o in trainer_cls.options.items()}
    common = {key: _parameter(key, kind, default, flags, text, parser=parser)
              for key, (kind, default, flags, text, parser) in COMMON.items()}
    params = [p for p in own.values() if p.default is ...] + [p for p in own.values() if p.default is not ...]
    params += [p for key, p in common.items() if key not in own]

    def command(**values: Any) -> None:
        run_trainer(trainer_cls, values)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = inspect.getdoc(trainer_cls) or f"Train {name}."
    command.__name__ = f"train_{name.replace('-', '_')}"
    return command


def run_trainer(trainer_cls: type, values: dict[str, Any]) -> None:
    """Check, then run one trainer with a progress display; print its closing line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..train import TrainRun

    trainer = trainer_cls()
    out = values.pop("out")
    check_output(out, (".safetensors",))
    run = TrainRun(out=out, resume=values.pop("resume"), force=values.pop("force"), device=values.pop("device"),
                   command="semcodec " + " ".join(sys.argv[1:]))
    trainer.check(run)
    check_device(run.device)
    trainer.check_memory(values, run)
    total = trainer.total(values)
    terminal = err_console.is_terminal
    bar = Progress(TextColumn(f"[bold]{escape(trainer.name)}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=err_console, transient=True, disable=not terminal)  # a log gets no blank line
    task = bar.add_task("train", total=total or None, status="")

    def progress(step: int, text: str, milestone: bool = False) -> None:
        bar.update(task, completed=step, status=escape(text))
        if milestone or (not terminal and (step % max(1, trainer.log_every) == 0 or step == total)):
            err_console.print(text, highlight=False)

    run.progress = progress
    from ..train.checkpoint import TrainingInterrupted

    try:
        with bar:
            line = trainer.run(values, run)
    except TrainingInterrupted as stopped:
        err_console.print(f"[yellow]{escape(str(stopped))}[/yellow]", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    console.print(escape(line), highlight=False)


def _broken(message: str) -> Any:
    def broken() -> None:
        raise SemcodecError(message)

    return broken


def register_trainers(argv: list[str]) -> None:
    """Add ``train NAME`` for each registered trainer, when the command line is ``train ...``
    (other commands never import a trainer). A trainer that fails to load is still listed and
    says why when run."""
    if not any(a == "train" for a in argv[:3]) or train_app.registered_commands:
        return
    from ..registry import names
    from ..train import TRAINERS, load_trainer

    for name in names(TRAINERS):
        try:
            cls = load_trainer(name)
        except SemcodecError as exc:
            train_app.command(name, help=f"(cannot load: {exc})")(_broken(str(exc)))
            continue
        train_app.command(name)(_command(name, cls))
