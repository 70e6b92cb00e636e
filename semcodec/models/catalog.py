"""`semcodec models`: which components each codec needs, pulling them, checking them.

Which codec needs which component comes from the codecs themselves (their ``components``
attribute, read through the entry-point registry), plus the ``clip_cos`` metric's CLIP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import InvalidInput, ModelUnavailable
from .source import COMPONENTS, FCN_FILE, TORCHVISION_FCN, locate, model_id, require, torch_checkpoints
from .validate import check_state_tensors


@dataclass
class ComponentStatus:
    key: str
    model_id: str
    used_by: list[str]
    path: Path | None
    size: str


def users() -> dict[str, list[str]]:
    """component -> codecs (and metrics) that need it, from the installed codecs."""
    from ..registry import CODECS, load, names

    out: dict[str, list[str]] = {key: [] for key in COMPONENTS}
    for name in names(CODECS):
        try:
            cls = load(CODECS, name)
        except Exception:  # a broken plugin is reported by `semcodec codecs`, not here
            continue
        for key in getattr(cls, "components", ()):
            out.setdefault(key, []).append(name)
    out["clip"].append("metric clip_cos")
    out["vqa"].append("metric answer_match")
    out["relevance_vlm"].append("train uo-isc")
    return out


def _size_of(path: Path) -> str:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    return f"{total / 1e9:.2f} GB" if total > 1e8 else f"{total / 1e6:.1f} MB"


def status() -> list[ComponentStatus]:
    who = users()
    out = []
    for key, comp in COMPONENTS.items():
        path = locate(key)
        out.append(ComponentStatus(key, model_id(key), who.get(key, []), path,
                                   _size_of(path) if path else f"~{comp.size}"))
    return out


def components_for(target: str) -> list[str]:
    """A codec name or a component name -> the component keys it stands for."""
    if target in COMPONENTS:
        return [target]
    wanted = [key for key, codecs in users().items() if target in codecs]
    if not wanted:
        raise InvalidInput(f"{target!r} is neither a component ({', '.join(COMPONENTS)}) "
                           "nor a codec that needs pretrained weights")
    return wanted


def pull(key: str) -> Path:
    """Download ``key``'s weights into the HF / torch cache (with a progress bar)."""
    mid = model_id(key)
    if Path(mid).expanduser().exists():
        return Path(mid).expanduser()
    if mid == TORCHVISION_FCN:
        from torchvision.models.segmentation import FCN_ResNet50_Weights

        FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.get_state_dict(progress=True)
        return torch_checkpoints() / FCN_FILE
    from ..extras import require

    require(("huggingface_hub",), f"downloading {key}")
    from huggingface_hub import snapshot_download

    patterns = None
    if key == "ip_adapter":
        patterns = ["models/ip-adapter_sd15.bin", "models/image_encoder/*"]
    elif key == "generator":
        patterns = ["model_index.json", "*/*.json", "*/*.txt", "*/*.safetensors"]
    try:
        return Path(snapshot_download(mid, allow_patterns=patterns))
    except Exception as exc:  # network errors come in many types; say it in one line
        raise ModelUnavailable(f"could not download {key} {mid!r}: {type(exc).__name__}: {exc}") from None


def _finite(key: str, *tensors) -> None:
    """A probe's output must be numbers: NaN or infinite weights load without complaint."""
    import torch

    from ..errors import ModelUnavailable

    for t in tensors:
        if not bool(torch.isfinite(torch.as_tensor(t, dtype=torch.float32)).all()):
            raise ModelUnavailable(f"{key}: the model loads but computes NaN or infinity (damaged weights?)")


def _modules(obj: Any, depth: int = 0) -> Iterator[Any]:
    """The torch modules inside what a loader built: a model, a (processor, model) pair, a
    diffusers pipeline (its ``components``)."""
    import torch

    if isinstance(obj, torch.nn.Module):
        yield obj
    elif depth < 3 and isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _modules(item, depth + 1)
    elif depth < 3 and isinstance(getattr(obj, "components", None), dict):
        for item in obj.components.values():
            yield from _modules(item, depth + 1)


#: No trained network's parameter is this large (fp16 checkpoints stop at 65,504): a value beyond
#: it is damage, even when finite.
MAX_WEIGHT = 1e6


def _finite_weights(key: str) -> None:
    """Every floating-point weight of ``key``'s loaded model must be a number: a text model with
    one NaN tensor still emits token ids, so its probe's output alone cannot tell."""
    import torch

    from .loading import loaded

    path = str(require(key))  # this folder's entries only: others built earlier in the process are not its
    for entry, where, obj in loaded():
        # the component's own entries ("generator", "generator+ip_adapter:PATH" for ip_adapter)
        if not ((entry == key and where == path) or (key == "ip_adapter" and entry == f"generator+ip_adapter:{path}")):
            continue
        for module in _modules(obj):
            for name, t in [*module.named_parameters(), *module.named_buffers()]:
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise ModelUnavailable(f"{key}: weight {name[:80]} holds NaN or infinity (damaged weights?)")
            # what the file gave (parameters, persistent buffers such as BART's final_logits_bias); the
            # non-persistent buffers a model builds itself may hold large mask constants
            for name, t in module.state_dict(keep_vars=True).items():
                biggest = float(t.detach().abs().max()) if t.is_floating_point() and t.numel() else 0.0
                if biggest > MAX_WEIGHT:
                    raise ModelUnavailable(f"{key}: weight {name[:80]} holds {biggest:.3g}, beyond any trained "
                                           "weight (damaged weights?)")
            # blanked weight matrices: the one rule pickled weight files are held to
            check_state_tensors({n: t.detach() for n, t in module.named_parameters()}, type(module).__name__, key)


def check(key: str) -> str:
    """Load ``key`` from the cache, run one tiny forward pass and check every weight is finite;
    returns what the pass produced."""
    said = _probe(key)
    _finite_weights(key)
    if said in ("''", '""'):  # a text model that writes nothing on an image or a sentence
        raise ModelUnavailable(f"{key}: the model loads but writes nothing on a probe (damaged weights?)")
    return said


def _probe(key: str) -> str:
    """One tiny forward pass of ``key``; returns what it produced."""
    import torch

    probe = torch.rand(3, 64, 64)
    if key == "captioner":
        from .captioner import LlavaCaptioner

        return repr(LlavaCaptioner(max_new_tokens=8).caption([probe])[0])
    if key == "blip":
        from .captioner import BlipCaptioner

        return repr(BlipCaptioner(max_new_tokens=8).caption([probe])[0])
    if key == "speller":
        from .speller import SpellingCorrector

        return repr(SpellingCorrector().correct(["a cqt on a sofa"])[0])
    if key == "clip":
        from .clip import ClipEmbedder

        embeds = ClipEmbedder().image_embeds([probe])
        _finite(key, embeds)
        return f"embedding dim {embeds.shape[-1]}"
    if key == "segmenter":
        from .segmenter import Segmenter

        seg = Segmenter(size=64).segment(probe)
        return "no object" if seg is None else f"{seg.label} at {seg.box}"
    if key in ("generator", "ip_adapter"):
        from .generator import Generator

        image, _ = Generator(ip_adapter=key == "ip_adapter", steps=1, resolution=64).generate(
            "a photo", (64, 64), image_prompt=probe if key == "ip_adapter" else None)
        _finite(key, image)
        return f"image {tuple(image.shape)}"
    if key == "vqa":
        from .captioner import VQA

        return repr(VQA(max_new_tokens=8).answer(probe, "what is this?"))
    if key == "relevance_vlm":
        from .relevance import RelevanceLoss

        loss = RelevanceLoss().__call__(probe[None], probe[None], ["what is this?"])
        _finite(key, loss)
        return f"relevance loss {float(loss):.4f}"
    if key == "clipseg":
        from .clipseg import ClipSegTowers

        towers = ClipSegTowers()
        hidden = towers.hidden_states(probe[None], (towers.num_layers,))[0]
        text = towers.text_features(["what is this?"])
        _finite(key, hidden, text)
        return f"vision {tuple(hidden.shape)}, query embedding dim {text.shape[-1]}"
    # every component in COMPONENTS is probed above: this is a programming error, not a user's
    raise AssertionError(f"no probe for component {key!r}")

