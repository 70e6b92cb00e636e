"""Checks that a model folder is what its component needs, before and after loading it.

Why: ``from_pretrained`` on a folder laid out differently from the expected repo either fails
deep inside a library (a traceback) or, worse, *succeeds* with randomly initialised weights and
a suppressed warning — and a codec would then report numbers from noise. So each component
names what must be in its folder (checked before loading, one line naming what is missing), its
expected ``model_type``, and after loading transformers' missing-keys report is an error.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelUnavailable

#: component -> files or folders (relative) that must exist; "a|b" means either.
REQUIRED: dict[str, tuple[str, ...]] = {
    "captioner": ("config.json", "preprocessor_config.json|processor_config.json",
                  "tokenizer.json|tokenizer.model|tokenizer_config.json"),
    "vqa": ("config.json", "preprocessor_config.json|processor_config.json",
            "tokenizer.json|tokenizer.model|tokenizer_config.json"),
    "relevance_vlm": ("config.json", "preprocessor_config.json|processor_config.json",
                      "tokenizer.json|tokenizer.model|tokenizer_config.json"),
    "blip": ("config.json", "preprocessor_config.json|processor_config.json", "tokenizer.json|vocab.txt"),
    "speller": ("config.json", "tokenizer.json|vocab.json|tokenizer.model"),
    "clip": ("config.json", "preprocessor_config.json|processor_config.json", "tokenizer.json|vocab.json"),
    "clipseg": ("config.json", "preprocessor_config.json|processor_config.json", "tokenizer.json|vocab.json"),
    "generator": ("model_index.json", "unet/config.json", "vae/config.json", "text_encoder/config.json",
                  "tokenizer", "scheduler"),
    "ip_adapter": ("models/ip-adapter_sd15.bin|models/ip-adapter_sd15.safetensors",
                   "models/image_encoder/config.json"),
}

#: component -> the ``model_type`` values of config.json it can load.
MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "captioner": ("llava", "llava_next", "llava_onevision"),
    "blip": ("blip",),
    "speller": ("bart", "mbart"),
    "clip": ("clip",),
    "clipseg": ("clipseg",),
    "vqa": ("llava", "llava_next", "llava_onevision"),
    "relevance_vlm": ("llava", "llava_next", "llava_onevision"),
}


def check_shards_inside(path: Path, role: str) -> None:
    """Every shard a ``*.index.json`` names (in the folder or a sub-folder) is a file of that
    folder: an index pointing at ``../elsewhere`` would load weights the fingerprint never saw."""
    for index in path.rglob("*.index.json"):
        try:
            names = json.loads(index.read_text()).get("weight_map", {}).values() if index.is_file() else []
            names = list(names)
        except (OSError, ValueError, AttributeError, RecursionError):
            raise ModelUnavailable(f"{role}: {index} is not a readable weight index") from None
        for name in set(names):
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise ModelUnavailable(f"{role}: {index} points outside its folder ({str(name)[:80]!r}); "
                                       "shards must sit beside their index")


def check_configs(path: Path, role: str) -> None:
    """Every ``*config.json`` and ``model_index.json`` of the folder (three levels deep) is a JSON
    object: given a list, diffusers treats the folder as a hub id and reports a failed download."""
    for depth in ("*", "*/*", "*/*/*"):
        for file in sorted(path.glob(depth)):
            if not (file.name.endswith("config.json") or file.name == "model_index.json"):
                continue
            try:
                if not file.is_file() or file.stat().st_size > 16 * 2**20:  # a FIFO would block
                    raise ValueError("too large")
                ok = isinstance(json.loads(file.read_bytes()), dict)
            except (OSError, ValueError, RecursionError):
                raise ModelUnavailable(f"{role}: {file} is not readable JSON") from None
            if not ok:
                raise ModelUnavailable(f"{role}: {file} is not a JSON object (a model's configuration is one)")


def check_layout(key: str, path: str | Path, role: str) -> None:
    """Raise :class:`ModelUnavailable` if ``path`` lacks what component ``key`` needs."""
    path = Path(path)
    if key == "segmenter":
        if not path.is_file():
            raise ModelUnavailable(f"{role}: {path} is {'a folder' if path.is_dir() else 'missing'}; "
                                   "it must be the FCN state-dict file (fcn_resnet50_coco-1167a1af.pth)")
        return
    if not path.is_dir():
        raise ModelUnavailable(f"{role}: {path} is not a folder")
    for need in REQUIRED.get(key, ()):
        options = need.split("|")
        if not any((path / o).exists() for o in options):
            raise ModelUnavailable(f"{role}: {path} has no {' or '.join(options)} "
                                   "(is it a complete copy of the model's repo?)")
    check_shards_inside(path, role)
    check_configs(path, role)
    check_weight_dtypes(path, role)
    expected = MODEL_TYPES.get(key)
    if expected:
        try:
            model_type = json.loads((path / "config.json").read_text()).get("model_type")
        except (OSError, ValueError, AttributeError, RecursionError):
            raise ModelUnavailable(f"{role}: {path}/config.json is not readable JSON") from None
        if model_type not in expected:
            raise ModelUnavailable(f"{role}: {path} holds a {model_type!r} model, not {' / '.join(expected)}")


#: Keys a checkpoint may hold that no model parameter takes: buffers older libraries saved.
BENIGN_UNEXPECTED = ("position_ids", "num_batches_tracked")

#: safetensors dtypes of weights; an integer or boolean tensor is one only in these buffers.
_FLOAT_DTYPES = ("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2")


def safetensors_dtypes(file: Path) -> dict[str, str] | None:
    """Tensor name -> dtype, read from a ``.safetensors`` file's header alone (8 bytes of length,
    then JSON); ``None`` when the header is unreadable (the loader then says what is wrong)."""
    try:
        with open(file, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 2 <= size <= 100 * 2**20:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    return {str(k): str(v.get("dtype")) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


#: A trained (or randomly initialised) network's weight matrices hold almost no exact zeros; a
#: model with more than this share of them zero is blanked, whatever its probe says.
MAX_ZERO_FRACTION = 0.5


def check_state_tensors(state: dict, file: str, role: str) -> None:
    """A pickled state dict (``.bin``/``.pth``, nested groups allowed) as loaded: every tensor
    floating point (integer buffers such as ``num_batches_tracked`` aside) and its weight matrices
    not mostly zero — a loader casts an int32 tensor into a float parameter without a word, and an
    adapter's small blanked matrices vanish in the checks of the big model they plug into."""
    import torch

    counts = [0, 0]  # entries of >= 2-D float tensors, and how many of them are zero

    def walk(group: dict, prefix: str) -> None:
        for key, value in group.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, name + ".")
            elif isinstance(value, torch.Tensor):
                if not value.is_floating_point():
                    if not name.endswith(BENIGN_UNEXPECTED):
                        raise ModelUnavailable(f"{role}: {file} stores weight {name[:80]} as {value.dtype}, "
                                               "not floating point (damaged or converted weights?)")
                elif value.dim() >= 2:
                    counts[0] += value.numel()
                    counts[1] += int((value == 0).sum())

    walk(state, "")
    if counts[0] and counts[1] > MAX_ZERO_FRACTION * counts[0]:
        raise ModelUnavailable(f"{role}: {counts[1] / counts[0]:.0%} of {file}'s weight matrix entries are zero "
                               "(no trained model is; damaged or blanked weights?)")


def check_weight_dtypes(path: Path, role: str) -> None:
    """Every tensor of the folder's ``.safetensors`` files is floating point (integer buffers such
    as ``position_ids`` aside): a loader casts an int32 weight into its float parameter without a
    word, and the model then computes with rounded or garbage values."""
    for file in sorted(path.rglob("*.safetensors")):
        for name, dtype in (safetensors_dtypes(file) or {}).items():
            if dtype not in _FLOAT_DTYPES and not name.endswith(BENIGN_UNEXPECTED):
                raise ModelUnavailable(f"{role}: {file} stores weight {name[:80]} as {dtype[:16]}, not floating "
                                       "point (damaged or converted weights?)")


def check_loading_info(info: dict, path: str, role: str, sub: str = "", allow_unexpected: tuple[str, ...] = ()) -> None:
    """A loader's ``output_loading_info`` (transformers or diffusers): any weight left at random
    initialisation, or any tensor in the file that the model does not take, is an error naming
    the folder and the sub-folder (``sub``: ``text_encoder``, ``unet``, ``models/image_encoder`` …).

    ``allow_unexpected``: key prefixes the file may hold beyond the model (a CLIPSeg repo's
    segmentation decoder, when only its CLIP towers are loaded)."""
    where = f"{Path(path) / sub}" if sub else str(path)
    missing = sorted(str(k) for k in info.get("missing_keys") or [])
    mismatched = sorted((tuple(m) if isinstance(m, (tuple, list)) else (m,)) for m in info.get("mismatched_keys") or [])
    unexpected = sorted(str(k) for k in info.get("unexpected_keys") or []
                        if not str(k).endswith(BENIGN_UNEXPECTED) and not str(k).startswith(allow_unexpected))
    if missing:
        raise ModelUnavailable(f"{role}: {where} lacks {len(missing)} weight tensor(s) (e.g. {missing[0]}); "
                               "they would be random — is this the right model folder?")
    if mismatched:
        name, *shapes = mismatched[0]
        sizes = f": {list(shapes[0])} in the file, {list(shapes[1])} in its configuration" if len(shapes) == 2 else ""
        raise ModelUnavailable(f"{role}: {where} holds {len(mismatched)} weight tensor(s) of the wrong shape "
                               f"(e.g. {name}{sizes}); they would be random — is this the right model folder?")
    if unexpected:
        raise ModelUnavailable(f"{role}: {where} holds {len(unexpected)} tensor(s) the model does not take "
                               f"(e.g. {unexpected[0]}) — is this the right model folder?")
    errors = [str(e) for e in info.get("error_msgs") or [] if str(e).strip()]
    if errors:
        raise ModelUnavailable(f"{role}: {where} does not load ({errors[0].strip().splitlines()[0][:160]})")
