"""The settings every training run has, declared once for every trainer's configuration.

A trainer's configuration is a dataclass written whole into its checkpoint's card, and compared
field by field on ``--resume`` (:func:`~.checkpoint.changed_settings`). What every run has —
batch, learning rate, seed, device — and what every step-counted run adds — steps, warm-up,
checkpoint interval — are declared here, keyword-only, so a trainer's configuration lists only
what is its own (and the default it prefers, by declaring the field again).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True)
class RunSettings:
    """What every training run is set by (keyword-only, so subclasses may add required fields)."""

    batch: int = 16
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"


@dataclass(kw_only=True)
class StepSettings(RunSettings):
    """A run counted in optimiser steps: how many, the linear warm-up, and the checkpoint interval."""

    steps: int = 20_000
    warmup: int = 500
    save_every: int = 500
