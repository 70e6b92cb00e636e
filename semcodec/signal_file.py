"""Saving what the receiver got, so the receiver can run in another process.

A signal file (``.npz``, no pickles) holds the received symbols of every stream, the fading
coefficients and noise variance, the header, and the codec's name and configuration. It is
written after the channel: ``semcodec decode`` rebuilds exactly what the one-process path
rebuilds from the same seed.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from .errors import InvalidInput, SignalFileError
from .signal import Received, ReceivedStream

FORMAT = "semcodec-signal/1"


def save_received(path: str | Path, received: Received, codec: str, config: dict[str, Any],
                  extra: dict[str, Any] | None = None) -> Path:
    """Write ``received`` plus the codec's identity to ``path`` (npz)."""
    import numpy as np

    path = Path(path)
    arrays: dict[str, Any] = {}
    streams = {}
    for name, s in received.streams.items():
        arrays[f"y::{name}"] = s.symbols.numpy()
        if s.fading is not None:
            arrays[f"h::{name}"] = s.fading.numpy()
        streams[name] = {"kind": s.kind, "noise_var": s.noise_var, "bits": s.bits,
                         "fading": s.fading is not None}
    meta = {"format": FORMAT, "codec": codec, "config": config, "header": received.header,
            "header_bits": received.header_bits, "channel": received.channel,
            "snr_db": received.snr_db, "streams": streams, "extra": extra or {}}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    try:
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def load_received(path: str | Path) -> tuple[Received, str, dict[str, Any], dict[str, Any]]:
    """Read a signal file -> ``(received, codec name, codec config, extra)``."""
    import numpy as np
    import torch

    path = Path(path)
    if not path.is_file():
        raise SignalFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") != FORMAT:
                raise SignalFileError(f"{path}: not a {FORMAT} file")
            streams = {}
            for name, s in meta["streams"].items():
                y = torch.from_numpy(z[f"y::{name}"].copy())
                h = torch.from_numpy(z[f"h::{name}"].copy()) if s["fading"] else None
                if not torch.is_complex(y) or (h is not None and h.shape != y.shape):
                    raise SignalFileError(f"{path}: stream {name!r} is malformed")
                streams[name] = ReceivedStream(y, s["kind"], float(s["noise_var"]), h, s["bits"])
            received = Received(streams, meta["header"], int(meta["header_bits"]),
                                meta["channel"], float(meta["snr_db"]))
            return received, meta["codec"], meta["config"], meta.get("extra", {})
    except SignalFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError,
            json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SignalFileError(f"{path}: not a readable signal file ({type(exc).__name__})") from None
