"""What made a record: the codec's configuration, every model and checkpoint, device, versions.

A record is only worth comparing with another when both say what produced them. Each record
carries ``provenance``: the codec configuration; for each pretrained component its id and the
exact weights (the Hugging Face snapshot hash, or for a local folder a fingerprint of its
contents) and whether it is one of the test kit's tiny random models; checkpoint SHA-256s;
device and dtype; library versions. ``config_digest`` hashes everything that changes what the
codec computes (not the library versions), and is part of the bench's resume key: change a
model, an option or the device, and the bench recomputes instead of reusing.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: A file the test kit (:mod:`semcodec.testing`) puts in every model folder it builds (and beside
#: every model file, as ``<file>.semcodec-test-model``): records made with it say so.
TEST_MODEL_MARKER = "SEMCODEC_TEST_MODEL"
#: Libraries whose versions a record names.
LIBRARIES = ("semcodec", "torch", "torchvision", "numpy", "pillow-heif", "transformers", "diffusers")
#: Small files (configs, tokenizers) are hashed by content; big ones (weights) by name and size.
SMALL_FILE = 4 << 20


def digest(obj: Any) -> str:
    """A short, stable hash of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_test_model(path: str | Path) -> bool:
    path = Path(path)
    return (path / TEST_MODEL_MARKER).exists() if path.is_dir() else \
        path.with_name(path.name + ".semcodec-test-model").exists()


def mark_test_model(path: str | Path) -> None:
    """Used by the test kit: mark ``path`` (folder or file) as a tiny random model."""
    path = Path(path)
    marker = path / TEST_MODEL_MARKER if path.is_dir() else path.with_name(path.name + ".semcodec-test-model")
    marker.write_text("tiny random weights built by semcodec.testing: results from it mean nothing\n")


def fingerprint(path: str | Path) -> str:
    """``local:<hash>`` of a local model folder or file (cached per path and modification time)."""
    path = Path(path)
    st = path.stat()
    return _fingerprint(str(path.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=None)
def _fingerprint(path: str, mtime_ns: int, size: int) -> str:
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root) if f != root else f.name}\0{st.st_size}\0".encode())
        if st.st_size <= SMALL_FILE:
            h.update(f.read_bytes())
    return "local:" + h.hexdigest()[:16]


def component_provenance(key: str) -> dict[str, Any]:
    """``{"id", "revision", "test_model"}`` of a pretrained component as it resolves now."""
    from .models.source import hf_cache, locate, model_id

    mid = model_id(key)
    path = locate(key)
    if path is None:
        return {"id": mid, "revision": None, "test_model": False}
    try:
        rel = Path(path).resolve().relative_to(hf_cache().resolve())
        revision = rel.parts[2] if len(rel.parts) >= 3 and rel.parts[1] == "snapshots" else fingerprint(path)
    except ValueError:
        revision = fingerprint(path)
    return {"id": mid, "revision": revision, "test_model": is_test_model(path)}


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def build(config: dict[str, Any], components: dict[str, dict[str, Any]], checkpoints: dict[str, str],
          device: str, dtype: str) -> dict[str, Any]:
    """The ``provenance`` object of a record (see the module docstring)."""
    what = {"config": config, "components": components, "checkpoints": checkpoints, "device": device,
            "dtype": dtype}
    return {**what, "versions": library_versions(),
            "test_models": sorted(k for k, c in components.items() if c.get("test_model")),
            "config_digest": digest(what)}
