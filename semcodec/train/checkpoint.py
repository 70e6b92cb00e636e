"""The one checkpoint writer and resume rule of every trainer.

A trained model is work, so it is never replaced silently, a file is never left half written,
and a damaged or foreign training state is refused in one line. A run writes three files:
``out`` (safetensors weights, with metadata), ``out.json`` (the card: data, steps, hardware,
command, curves) and ``out.state.pt`` (what ``--resume`` needs: optimiser, step, random states).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import InvalidInput


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename over ``path``: a reader sees the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def state_path(out: Path) -> Path:
    """Where the training state beside checkpoint ``out`` lives."""
    return out.with_suffix(".state.pt")


def save_checkpoint(out: Path, weights: Any, card: dict, metadata: dict[str, str] | None = None,
                    state: dict | None = None) -> None:
    """Write ``out`` (the module's or state dict's tensors), its card and, when given, the
    training state, each atomically."""
    from safetensors.torch import save_file

    out.parent.mkdir(parents=True, exist_ok=True)
    items = weights.state_dict().items() if hasattr(weights, "state_dict") else weights.items()
    tensors = {k: v.detach().cpu().contiguous() for k, v in items}
    atomic_write(out, lambda p: save_file(tensors, str(p), metadata=metadata))
    atomic_write(out.with_suffix(".json"), lambda p: p.write_text(json.dumps(card, indent=2) + "\n"))
    if state is not None:
        import torch

        # the state names the checkpoint it continues: weights copied over ``out`` are refused
        state = {**state, CHECKPOINT_HASH: file_sha256(out)}
        atomic_write(state_path(out), lambda p: torch.save(state, p))


#: The training state's key for the SHA-256 of the checkpoint written with it.
CHECKPOINT_HASH = "checkpoint_sha256"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DeferredInterrupt:
    """Hold Ctrl-C and SIGTERM until the current training step has finished.

    Inside ``with DeferredInterrupt() as stop:`` the first SIGINT or SIGTERM only sets
    ``stop.requested``; the loop checks it after each step, writes its checkpoint and calls
    :meth:`raise_now`. An interrupt never lands inside ``optimizer.step()`` (which would save
    half-updated weights); a second one interrupts at once. Outside the main thread (where
    handlers cannot be installed) it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _hold(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._restore()  # a second signal is not deferred

    def _restore(self) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old = {}

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._old[signum] = signal.signal(signum, self._hold)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._restore()

    def raise_now(self, out: Path, where: str) -> None:
        """Stop the run as the interrupt would have, saying what was saved (the CLI exits 130)."""
        raise TrainingInterrupted(f"interrupted: the run is saved at {where} in {out} and "
                                  f"{state_path(out).name}; add --resume to continue it")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run after it saved its checkpoint; the message says where."""


def check_resume(out: Path, resume: bool, force: bool = False) -> None:
    """Without ``--resume`` an existing checkpoint (or its card or training state) is refused
    unless ``--force``; ``--resume`` without a training state would silently start over: refused
    too, and so is giving both."""
    state = state_path(out)
    if resume and force:
        raise InvalidInput("--resume continues a run and --force replaces it: give one of them")
    if not resume and not force:
        existing = [p for p in (out, out.with_suffix(".json"), state) if p.exists()]
        if existing:
            raise InvalidInput(f"--out: {existing[0]} exists (a trained model's files); add --resume to continue "
                               "that run or --force to replace it")
    if resume and out.exists() and not state.exists():
        raise InvalidInput(f"--resume: {out} exists but its training state {state.name} does not; "
                           "remove --resume and add --force to start over (it overwrites the file)")
    if resume and not state.exists():
        raise InvalidInput(f"--resume: nothing to resume (no training state {state}); remove --resume to start")


def load_state(out: Path, device: Any, what: str = "a training state", require: tuple[str, ...] = ("config",)) -> dict:
    """The training state beside ``out`` (holding the keys ``require``); a truncated or
    foreign file is one line."""
    import torch

    path = state_path(out)
    for what_file in (path, out):
        if what_file.exists() and not what_file.is_file():  # a FIFO would block for ever
            raise InvalidInput(f"--resume: {what_file} is not a regular file")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line
        raise InvalidInput(f"--resume: {path} is not {what} ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise InvalidInput(f"--resume: {path} is not {what} (a {type(state).__name__})")
    missing = [k for k in require if k not in state]
    if missing:
        raise InvalidInput(f"--resume: {path} is not {what} (no {missing[0]!r})")
    if "config" in require and not isinstance(state["config"], dict):
        raise InvalidInput(f"--resume: {path} is not {what} (its configuration is damaged)")
    saved = state.get(CHECKPOINT_HASH)
    if isinstance(saved, str) and out.is_file() and file_sha256(out) != saved:
        raise InvalidInput(f"--resume: {out} is not the checkpoint its training state {path.name} was saved with "
                           "(it was replaced or changed since); put the run's own file back, or add --force "
                           "without --resume to start over")
    return state


#: Settings that name files or folders: compared as the places they name, so ``tiny``, ``./tiny``
#: and ``$PWD/tiny`` are one folder, and ``tiny`` from another working directory is another.
PATH_SETTINGS = ("data", "val", "eval_data", "init")


def real_paths(value: Any) -> Any:
    """A path setting (a string, or a list of them) with every path made absolute and resolved."""
    if isinstance(value, str):
        return os.path.realpath(value) if value else value
    if isinstance(value, list):
        return [real_paths(v) for v in value]
    return value


def changed_settings(old: Any, new: dict, resumable: Iterable[str], later: dict | None = None) -> list[str]:
    """The settings of ``new`` that a resumed run may not change and that differ from ``old``
    (a setting added after ``old`` was written counts with its value in ``later``; paths compare
    as the places they name, see :data:`PATH_SETTINGS`)."""
    if not isinstance(old, dict):
        return sorted(new)
    later = later or {}
    keep = set(resumable)

    def same(key: str, was: Any, now: Any) -> bool:
        return real_paths(was) == real_paths(now) if key in PATH_SETTINGS else was == now

    return sorted(k for k, v in new.items() if k not in keep and not same(k, old.get(k, later.get(k)), v))


def restore_rng(out: Path, rng: Any, python_state: Any, torch_state: Any) -> None:
    """Put back the random states a state file saved (damage is one line)."""
    import torch

    try:
        rng.setstate(python_state)
        torch.set_rng_state(torch_state)
    except Exception as exc:  # noqa: BLE001 - a damaged state: one line
        raise InvalidInput(f"--resume: {state_path(out)}'s random state is damaged ({type(exc).__name__})") from None
