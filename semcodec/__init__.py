"""semcodec: images over simulated noisy channels with interchangeable codecs, measured side by side.

The plugin API is importable from here (lazily, so ``import semcodec`` stays instant):
``semcodec.Codec``, ``Option``, ``OperatingPoint``, ``Signal``, ``Stream``, ``Reconstruction``,
``Channel``, ``Trainer``, ``TrainOption``, ``TrainRun`` and the ``load_*`` functions. See
``ARCHITECTURE.md`` for the package plan.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0.dev0"

#: name -> the module that defines it (imported on first use)
_API = {
    "Codec": "codec", "Option": "codec", "OperatingPoint": "codec", "load_codec": "codec",
    "Signal": "signal", "Stream": "signal", "Reconstruction": "signal",
    "Channel": "channel", "load_channel": "channel", "parse_channel_spec": "channel",
    "Trainer": "train", "TrainOption": "train", "TrainRun": "train", "load_trainer": "train",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f"semcodec.{_API[name]}"), name)
    raise AttributeError(f"module 'semcodec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
