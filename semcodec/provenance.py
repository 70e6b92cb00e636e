"""What made a record: the codec's configuration, every model and checkpoint, device, versions.

A record is only worth comparing with another when both say what produced them. Each record
carries ``provenance``: the codec configuration; for each pretrained component its id and the
exact weights (the Hugging Face snapshot hash, or for a local folder a fingerprint of its
contents) and whether it is one of the test kit's tiny random models; checkpoint SHA-256s;
device and dtype; library versions. ``config_digest`` hashes everything that changes what the
codec computes (library versions included; not the models behind metrics, which are keyed per
metric), and is part of the bench's resume key: change a
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
#: Hashes of big files, kept on disk by (path, size, mtime): a multi-GB model is read once.
HASH_CACHE = "file-hashes.json"


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
    """``local:<hash>`` of a local model folder or file: its files' relative names and contents
    (not where it lies, so an identical copy elsewhere is the same model). Cached per listing of
    (file, size, modification time), so any rewritten file is hashed again."""
    root = Path(path).resolve()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    listing = tuple((str(f.relative_to(root)) if f != root else "", f.stat().st_size, f.stat().st_mtime_ns)
                    for f in files)
    return _fingerprint(str(root), listing)


@lru_cache(maxsize=None)
def _fingerprint(root: str, listing: tuple) -> str:
    base = Path(root)
    h = hashlib.sha256()
    for rel, size, mtime in listing:
        h.update(f"{rel}\0{size}\0{file_hash(base / rel if rel else base, size, mtime)}\0".encode())
    return "local:" + h.hexdigest()[:16]


def _cache_path() -> Path:
    import os

    root = os.environ.get("SEMCODEC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "semcodec")
    return Path(root) / HASH_CACHE


def file_hash(path: Path, size: int, mtime_ns: int) -> str:
    """SHA-256 of a whole file; for files over 16 MB remembered on disk per (path, size, mtime),
    so a 5 GB model is read once, not at every run."""
    key = f"{path.resolve()}|{size}|{mtime_ns}"
    cache: dict[str, str] = {}
    if size > 16 << 20:
        try:
            cache = json.loads(_cache_path().read_text())
        except (OSError, ValueError):
            cache = {}
        if isinstance(cache, dict) and isinstance(cache.get(key), str):
            return cache[key]
    digest_ = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest_.update(block)
    value = digest_.hexdigest()
    if size > 16 << 20:
        try:
            cache = cache if isinstance(cache, dict) else {}
            cache[key] = value
            _cache_path().parent.mkdir(parents=True, exist_ok=True)
            tmp = _cache_path().with_suffix(".tmp")
            tmp.write_text(json.dumps(cache))
            tmp.replace(_cache_path())
        except OSError:
            pass  # a read-only home: hash again next time
    return value


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


def _identity(component: dict[str, Any]) -> Any:
    """What identifies weights in the digest: a local folder by its content fingerprint (not its
    path: the same weights anywhere are the same model), a hub model by id and snapshot."""
    rev = component.get("revision")
    return rev if isinstance(rev, str) and rev.startswith("local:") else [component.get("id"), rev]


def metric_model_identity(rec: dict[str, Any], metric: str) -> Any:
    """Which model computed ``metric`` in ``rec`` (``None`` for metrics without one)."""
    models = (rec.get("provenance") or {}).get("metric_models") or {}
    return _identity(models[metric]) if isinstance(models.get(metric), dict) else None


def metric_models(metrics: list[str] | None) -> dict[str, dict[str, Any]]:
    """The pretrained models behind the requested metrics that are usable here (CLIP for
    ``clip_cos``, AlexNet for ``lpips``, the VQA model for ``answer_match``): their numbers depend
    on them too."""
    from .metrics import ALEXNET_FILE
    from .models.source import torch_hub_dir
    from .registry import METRICS, names

    wanted = names(METRICS) if metrics is None else metrics
    out: dict[str, dict[str, Any]] = {}
    for metric, key in (("clip_cos", "clip"), ("answer_match", "vqa")):
        if metric in wanted:
            model = component_provenance(key)
            if model["revision"] is not None:
                out[metric] = model
    if "lpips" in wanted:
        alex = torch_hub_dir() / "checkpoints" / ALEXNET_FILE
        if alex.is_file():
            out["lpips"] = {"id": ALEXNET_FILE, "revision": fingerprint(alex), "test_model": is_test_model(alex)}
    return out


def build(config: dict[str, Any], components: dict[str, dict[str, Any]], checkpoints: dict[str, str],
          device: str, dtype: str, metrics: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ``provenance`` object of a record (see the module docstring)."""
    metrics = metrics or {}
    device = "cpu" if str(device).split(":")[0] == "cpu" else str(device)  # cpu:0 is the cpu
    # The models behind metrics are recorded but not in the digest: asking for fewer metrics must
    # not recompute the codec's work (a changed metric model is handled per metric: the bench
    # recomputes a record whose metric model differs, the report never mixes two).
    what = {"config": config, "components": {k: _identity(c) for k, c in components.items()},
            "checkpoints": checkpoints, "device": device, "dtype": dtype, "versions": library_versions()}
    return {"config": config, "components": components, "metric_models": metrics, "checkpoints": checkpoints,
            "device": device, "dtype": dtype, "versions": library_versions(),
            "test_models": sorted({k for k, c in {**components, **metrics}.items() if c.get("test_model")}),
            "config_digest": digest(what)}
