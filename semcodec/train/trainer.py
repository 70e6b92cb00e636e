"""What a trainer is to the command line: a name, typed options, and one ``run``.

Trainers plug in like codecs: a class registered in the ``semcodec.trainers`` entry-point group
(the built-in three are declared in ``pyproject.toml`` the same way a plugin declares its own),
found by :func:`load_trainer`. ``semcodec train NAME`` builds its options from
:attr:`Trainer.options` and adds the four every trainer has (``--out``, ``--resume``,
``--force``, ``--device``); the framework checks the output path, the resume rule and the device
before :meth:`Trainer.run` is called, and draws the one progress display from what the trainer
reports through :class:`TrainRun`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from .checkpoint import check_resume

#: The entry-point group of trainers.
TRAINERS = "semcodec.trainers"
#: ``TrainOption.default`` for an option that must be given.
REQUIRED: Any = ...


@dataclass(frozen=True)
class TrainOption:
    """One command-line option of a trainer.

    Args:
        type: the value's type as the command line parses it: ``int``, ``float``, ``str``,
            ``bool``, ``Path``, ``list[Path]``, ``list[str]`` (repeatable), or ``X | None``.
        default: the value when not given (:data:`REQUIRED`: it must be given).
        help: one line for ``semcodec train NAME --help``.
        flags: the option's names (default ``--name`` with dashes); a bool may give
            ``("--x/--no-x",)``.
        min, max: inclusive bounds of a number.
    """

    type: Any
    default: Any = REQUIRED
    help: str = ""
    flags: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass
class TrainRun:
    """What a run is given besides its options: where the checkpoint goes, whether it continues
    or replaces one, the command line for the card, and ``progress(step, text, milestone)`` to
    report to (a milestone, such as an evaluation, is kept on screen and always logged)."""

    out: Path
    resume: bool = False
    force: bool = False
    device: str = "cpu"
    command: str = ""
    progress: Callable[[int, str, bool], None] = field(default=lambda step, text, milestone=False: None)


class Trainer:
    """Base class of trainers: declare ``name``, ``options`` and :meth:`run`.

    Attributes:
        name: the registered name (``semcodec train NAME``).
        options: python name -> :class:`TrainOption` (the four common options are added).
        log_every: in a log (not a terminal), a progress line every this many steps.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, TrainOption]] = {}
    log_every: ClassVar[int] = 1

    def total(self, values: dict[str, Any]) -> int:
        """How many steps the progress display counts to."""
        return int(values.get("steps", 0) or 0)

    def check(self, run: TrainRun) -> None:
        """The resume rule, before anything is loaded (see :func:`~.checkpoint.check_resume`)."""
        check_resume(run.out, run.resume, run.force)

    def run(self, values: dict[str, Any], run: TrainRun) -> str:
        """Train; returns the line to print at the end (e.g. ``wrote OUT``)."""
        raise NotImplementedError


def load_trainer(name: str) -> type[Trainer]:
    """The trainer class registered as ``name`` in the ``semcodec.trainers`` group."""
    from ..registry import load_subclass

    return load_subclass(TRAINERS, name, Trainer)
