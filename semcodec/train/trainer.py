"""What a trainer is to the command line: a name, typed options, and one ``run``.

Trainers plug in like codecs: a class registered in the ``semcodec.trainers`` entry-point group
(the built-in three are declared in ``pyproject.toml`` the same way a plugin declares its own),
found by :func:`load_trainer`. ``semcodec train NAME`` builds its options from
:attr:`Trainer.options` and adds the four every trainer has (``--out``, ``--resume``,
``--force``, ``--device``); the framework checks the output path, the resume rule, the device and
the memory one step will take (:meth:`Trainer.step_memory`: batch x crop by default) before
:meth:`Trainer.run` is called, and draws the one progress display from what the trainer reports
through :class:`TrainRun`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from .checkpoint import check_resume
from .data import check_memory

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
        bytes_per_pixel: peak memory of one step per pixel of its batch (forward + backward),
            measured for the built-in trainers. A trainer that has not measured its own keeps
            this deliberately high figure: an absurd ``--batch`` is then refused in one line
            instead of being killed by the kernel without a word.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, TrainOption]] = {}
    log_every: ClassVar[int] = 1
    bytes_per_pixel: ClassVar[float] = 1000.0

    def total(self, values: dict[str, Any]) -> int:
        """How many steps the progress display counts to."""
        return int(values.get("steps", 0) or 0)

    def check(self, run: TrainRun) -> None:
        """The resume rule, before anything is loaded (see :func:`~.checkpoint.check_resume`)."""
        check_resume(run.out, run.resume, run.force)

    def step_memory(self, values: dict[str, Any]) -> tuple[int, int, float] | None:
        """``(batch, pixels an item, bytes a pixel)`` of one optimiser step, from the options:
        by default ``batch`` x ``crop``² at :attr:`bytes_per_pixel`. ``None`` when the options
        do not tell (no ``batch``/``crop``, or pixels known only once a model is loaded: such a
        trainer checks in :meth:`run`, with :func:`~.data.check_memory`)."""
        batch, crop = values.get("batch"), values.get("crop")
        if not isinstance(batch, int) or not isinstance(crop, int) or isinstance(batch, bool):
            return None
        return batch, crop * crop, self.bytes_per_pixel

    def check_memory(self, values: dict[str, Any], run: TrainRun) -> None:
        """Refuse, before any data is loaded, a step that would not fit in the free memory:
        memory follows ``--batch`` x crop, not the data."""
        step = self.step_memory(values)
        if step is not None:
            check_memory(*step, run.device, self.name, "--crop" if "crop" in values else None)

    def run(self, values: dict[str, Any], run: TrainRun) -> str:
        """Train; returns the line to print at the end (e.g. ``wrote OUT``)."""
        raise NotImplementedError


def load_trainer(name: str) -> type[Trainer]:
    """The trainer class registered as ``name`` in the ``semcodec.trainers`` group."""
    from ..registry import load_subclass

    return load_subclass(TRAINERS, name, Trainer)
