"""Where weights come from: component ids, overrides, the cache check, the clear error.

A component's id is, in order of precedence: an override given on the command line
(``--model captioner=ID``), the environment variable ``SEMCODEC_<COMPONENT>``, the ``[models]``
table of ``semcodec.toml`` in the working directory, or the default below. An id is a Hugging
Face repo id (looked up in the HF cache, ``HF_HOME``) or a local folder/file, which may stand
for any id. Availability is checked in the cache *before* any load, so a missing model costs
milliseconds, not the 23–140 s a hub client spends retrying on a machine without network.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, ModelUnavailable

FCN_FILE = "fcn_resnet50_coco-1167a1af.pth"
TORCHVISION_FCN = "torchvision/fcn_resnet50.COCO_WITH_VOC_LABELS_V1"


@dataclass(frozen=True)
class Component:
    """A pretrained component: its default id, what proves it is cached, what it is for."""

    key: str
    default: str
    probe: str  # a file that exists in a complete copy (relative to the repo / folder); "a|b": either
    role: str
    size: str  # approximate download size of the default

    @property
    def env(self) -> str:
        return f"SEMCODEC_{self.key.upper()}"


COMPONENTS: dict[str, Component] = {c.key: c for c in (
    Component("captioner", "llava-hf/llava-interleave-qwen-0.5b-hf", "config.json",
              "LLaVA (Qwen1.5-0.5B) captioner and VQA model", "1.8 GB"),
    Component("blip", "Salesforce/blip-image-captioning-base", "config.json",
              "BLIP captioner (VLM-CSC)", "1.0 GB"),
    Component("speller", "oliverguhr/spelling-correction-english-base", "config.json",
              "BART spelling corrector", "0.56 GB"),
    Component("generator", "stable-diffusion-v1-5/stable-diffusion-v1-5", "model_index.json",
              "Stable Diffusion 1.5", "5.2 GB (fp32 safetensors)"),
    Component("ip_adapter", "h94/IP-Adapter", "models/ip-adapter_sd15.bin|models/ip-adapter_sd15.safetensors",
              "IP-Adapter for SD 1.5 and its image encoder", "2.6 GB"),
    Component("segmenter", TORCHVISION_FCN, FCN_FILE,
              "FCN-ResNet50 (COCO with VOC labels) segmenter", "0.14 GB"),
    Component("clip", "openai/clip-vit-base-patch32", "config.json",
              "CLIP ViT-B/32 (clip_cos metric)", "0.6 GB"),
    Component("clipseg", "CIDAS/clipseg-rd64-refined", "config.json",
              "CLIPSeg ViT-B/16: UO-ISC's frozen image encoder and query embedding", "0.6 GB"),
    Component("vqa", "llava-hf/llava-interleave-qwen-0.5b-hf", "config.json",
              "VQA model of the answer_match metric (default: the captioner's LLaVA)", "1.8 GB"),
    Component("relevance_vlm", "llava-hf/llava-interleave-qwen-0.5b-hf", "config.json",
              "frozen VLM of UO-ISC's user-intent relevance loss (training only)", "1.8 GB"),
)}

_overrides: dict[str, str] = {}
#: A settings file is small; anything larger is not one.
MAX_TOML_BYTES = 1 << 20


def component(key: str) -> Component:
    try:
        return COMPONENTS[key]
    except KeyError:
        raise InvalidInput(f"unknown model component {key!r} (known: {', '.join(COMPONENTS)})") from None


def set_override(key: str, model_id: str) -> None:
    """Make ``key`` use ``model_id`` in this process (the CLI's ``--model KEY=ID``)."""
    component(key)
    _overrides[key] = model_id


def apply_overrides(items: list[str] | None) -> None:
    """``--model COMPONENT=ID`` values -> :func:`set_override` for each (one line on a bad one)."""
    for item in items or []:
        if "=" not in item:
            raise InvalidInput(f"--model wants COMPONENT=ID, got {item!r}")
        key, value = item.split("=", 1)
        set_override(key.strip(), value.strip())


def _toml_ids() -> dict[str, str]:
    path = Path("semcodec.toml")
    if not os.path.lexists(path):
        return {}
    if not path.is_file():  # a folder, a FIFO (reading would block), a device or a dangling link
        raise InvalidInput("semcodec.toml: not a regular file (a folder, a pipe, a device or a broken link); "
                           "remove or rename it")
    try:
        if path.stat().st_size > MAX_TOML_BYTES:
            raise InvalidInput(f"semcodec.toml: {path.stat().st_size:,} bytes; a settings file is at most "
                               f"{MAX_TOML_BYTES:,}")
        models = tomllib.loads(path.read_text(encoding="utf-8")).get("models", {})
    except (RecursionError, MemoryError):  # tables or arrays nested thousands deep
        raise InvalidInput("semcodec.toml: nested too deeply to read (tables or arrays inside one another)") from None
    except (ValueError, OSError) as exc:  # TOMLDecodeError, UnicodeDecodeError, a 5,000-digit int
        raise InvalidInput(f"semcodec.toml: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
        raise InvalidInput("semcodec.toml: [models] must map component names to model ids or folders (strings)")
    unknown = sorted(k for k in models if k not in COMPONENTS)
    if unknown:  # a misspelt component would silently leave the default in use
        raise InvalidInput(f"semcodec.toml: [models] has no component {unknown[0]!r} (components: "
                           f"{', '.join(sorted(COMPONENTS))})")
    return dict(models)


def model_id(key: str) -> str:
    """The id ``key`` resolves to now (override, env, semcodec.toml, default)."""
    comp = component(key)
    return _overrides.get(key) or os.environ.get(comp.env) or _toml_ids().get(key) or comp.default


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` without importing torch (TORCH_HOME, XDG_CACHE_HOME, ~/.cache)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]) / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "torch" / "hub"


def torch_checkpoints() -> Path:
    return torch_hub_dir() / "checkpoints"


def hf_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def locate(key: str) -> Path | None:
    """The local folder/file holding ``key``'s weights, or ``None`` when they are not here."""
    comp = component(key)
    mid = model_id(key)
    local = Path(mid).expanduser()
    if local.exists():
        if key == "segmenter":  # the FCN weights are one state-dict file
            return local if local.is_file() else None
        return local if local.is_dir() and _has_probe(local, comp) else None
    if mid == TORCHVISION_FCN:
        path = torch_checkpoints() / FCN_FILE
        return path if path.is_file() else None
    if mid.count("/") != 1:
        return None
    repo = hf_cache() / f"models--{mid.replace('/', '--')}" / "snapshots"
    if not repo.is_dir():
        return None
    for snapshot in sorted(repo.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if _has_probe(snapshot, comp):
            return snapshot
    return None


def _has_probe(folder: Path, comp: Component) -> bool:
    return any((folder / probe).exists() for probe in comp.probe.split("|"))


def looks_local(model_id: str) -> bool:
    """An id that names a path (``/models/llava``, ``./sd``, ``~/x``, ``a/b/c``), not a hub repo."""
    return model_id.startswith(("/", ".", "~")) or model_id.count("/") != 1 or Path(model_id).expanduser().exists()


def missing_reason(key: str, codec: str | None = None) -> str | None:
    """One line saying why ``key`` cannot load and how to fix it (``None`` if it can).

    A local folder the user named is their folder: it is said what it lacks, never that it should be
    pulled. ``codec`` is what to pull when it is a codec's name (a name with a space, like "uo-isc
    training", is a purpose, not a command argument: the component is named then)."""
    if locate(key) is not None:
        return None
    comp = component(key)
    mid = model_id(key)
    local = Path(mid).expanduser()
    if local.exists():
        what = ("not the FCN state-dict file (" + comp.probe + ")" if key == "segmenter" else
                "not a folder with " + comp.probe.replace("|", " or "))
        return (f"{key} ({comp.role}): {mid!r} is {what}; point {comp.env} (or --model {key}=...) "
                "at a complete copy of the model")
    if looks_local(mid) and mid != TORCHVISION_FCN:
        return (f"{key} ({comp.role}): {mid!r} does not exist (no such file or folder); point {comp.env} "
                f"(or --model {key}=...) at a copy of the model, or at a Hugging Face id")
    where = (f"not in the torch cache ({torch_checkpoints()})" if mid == TORCHVISION_FCN
             else f"not in the Hugging Face cache ({hf_cache()})")
    target = codec if codec and not any(ch.isspace() for ch in codec) else key
    return (f"{key} ({comp.role}) {mid!r} is {where}; run `semcodec models pull {target}` "
            f"with internet access, or set {comp.env} to a local folder")


def require(key: str, codec: str | None = None) -> Path:
    """The local path of ``key``'s weights, or :class:`ModelUnavailable` saying how to get them."""
    path = locate(key)
    if path is None:
        raise ModelUnavailable(missing_reason(key, codec))
    return path


def best_device(override: str | None = None) -> str:
    """``--device`` / ``SEMCODEC_DEVICE``, else CUDA when present, else CPU."""
    chosen = override or os.environ.get("SEMCODEC_DEVICE")
    if chosen:
        return chosen
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def dtype_for(device: str):
    """fp16 on CUDA, fp32 elsewhere."""
    import torch

    return torch.float16 if str(device).startswith("cuda") else torch.float32
