"""Training the project's own learned codecs, and any plugin's: one framework, a module per trainer.

:mod:`.trainer` is the contract (a :class:`Trainer` declares typed options and one ``run``;
trainers are found through the ``semcodec.trainers`` entry points, like codecs);
:mod:`.checkpoint` is the one checkpoint writer and resume rule (weights, card, training state,
each written atomically; a damaged state is one line); :mod:`.data` holds the image lists,
crops, the held-out rule and the memory estimate. :mod:`.deep_jscc`, :mod:`.adjscc` and
:mod:`.uo_isc` are the built-in trainers. May import the contract (channel, links, networks,
models, data); never the bench, the report or the command line.
"""

from .trainer import REQUIRED, TRAINERS, Trainer, TrainOption, TrainRun, load_trainer

__all__ = ["REQUIRED", "TRAINERS", "TrainOption", "TrainRun", "Trainer", "load_trainer"]
