"""Image generation: Stable Diffusion 1.5, optionally with IP-Adapter (text + image prompt).

Prompts longer than CLIP's 77 tokens are not truncated: they are encoded in 75-token chunks
(each wrapped in BOS/EOS) whose embeddings are concatenated along the sequence axis — the
UNet's cross-attention takes any length. The image is generated at the source's aspect ratio
(sides multiples of 8, longer side ``resolution``) and resized to the source size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .loading import load_failure, load_once, to_pil
from .source import dtype_for, require
from .validate import check_state_tensors

if TYPE_CHECKING:
    from torch import Tensor


#: Stable Diffusion 1.5's sub-models: sub-folder -> (library, class). Each is loaded on its own
#: with its loader's report, because a pipeline load leaves a missing tensor randomly initialised
#: with nothing but a log line — and the codec would report numbers made by noise.
SD_PARTS = {"text_encoder": ("transformers", "CLIPTextModel"), "unet": ("diffusers", "UNet2DConditionModel"),
            "vae": ("diffusers", "AutoencoderKL")}


def _checked(library: str, cls_name: str, path: str, sub: str, dtype: Any, role: str) -> Any:
    """``cls.from_pretrained(path/sub)`` with every missing or unexpected tensor an error naming
    the folder and the sub-folder."""
    import importlib

    from .validate import check_loading_info

    from pathlib import Path

    from ..errors import ModelUnavailable, SemcodecError

    cls = getattr(importlib.import_module(library), cls_name)
    dtype_kw = {"dtype": dtype} if library == "transformers" else {"torch_dtype": dtype}
    try:
        # a tensor of the wrong shape is loaded as reported (named in the check below), not
        # raised as "look at the above report" with the report silenced
        model, info = cls.from_pretrained(path, subfolder=sub, local_files_only=True, output_loading_info=True,
                                          ignore_mismatched_sizes=True, **dtype_kw)
    except SemcodecError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated file, a bad config: name the sub-folder at fault
        raise ModelUnavailable(f"{role}: cannot load {Path(path) / sub} ({load_failure(exc)})") from None
    check_loading_info(info, path, role, sub=sub)
    return model


def _load_sd(path: str, device: str, image_encoder: Any = None) -> Any:
    import json
    from pathlib import Path

    from diffusers import StableDiffusionPipeline

    from ..errors import ModelUnavailable
    from .loading import BUILDING

    role = BUILDING.get() or "generator (Stable Diffusion 1.5)"
    try:
        index = json.loads((Path(path) / "model_index.json").read_text())
    except (OSError, ValueError):
        raise ModelUnavailable(f"{role}: {path}/model_index.json is not readable JSON") from None
    parts = {}
    for sub, (library, cls_name) in SD_PARTS.items():
        declared = index.get(sub) if isinstance(index, dict) else None
        if not (isinstance(declared, list) and len(declared) == 2 and declared[1] == cls_name):
            raise ModelUnavailable(f"{role}: {path}/model_index.json declares {sub} as {declared!r}, "
                                   f"not {cls_name} (is it a Stable Diffusion 1.5 folder?)")
        parts[sub] = _checked(library, cls_name, path, sub, dtype_for(device), role)
    if image_encoder is not None:
        parts["image_encoder"] = image_encoder
    pipe = StableDiffusionPipeline.from_pretrained(path, dtype=dtype_for(device), safety_checker=None,
                                                   requires_safety_checker=False, local_files_only=True, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def ip_adapter_state(ip_path: str, weight: str, unet: Any, role: str) -> dict:
    """The IP-Adapter file as the two state dicts diffusers takes, checked tensor by tensor
    against the image projection and the UNet's cross-attention layers (diffusers itself ignores
    an extra tensor and fails deep inside on a missing one)."""
    import torch

    from ..errors import ModelUnavailable

    file = f"{ip_path}/models/{weight}"
    try:
        if weight.endswith(".safetensors"):
            from safetensors.torch import load_file

            flat = load_file(file)
            state: dict = {"image_proj": {}, "ip_adapter": {}}
            for key, value in flat.items():
                group, _, rest = key.partition(".")
                state.setdefault(group, {})[rest] = value
        else:
            state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line naming it
        raise ModelUnavailable(f"{role}: cannot read {file} ({type(exc).__name__})") from None
    if not isinstance(state, dict) or set(state) != {"image_proj", "ip_adapter"} or not all(
            isinstance(v, dict) for v in state.values()):
        raise ModelUnavailable(f"{role}: {file} is not an IP-Adapter (wants the groups image_proj and ip_adapter)")
    want_ip = {f"{i}.to_{kv}_ip.weight" for i, name in enumerate(unet.attn_processors)
               if name.endswith("attn2.processor") for kv in "kv"}
    want_proj = {"proj.weight", "proj.bias", "norm.weight", "norm.bias"}
    for group, want in (("image_proj", want_proj), ("ip_adapter", want_ip)):
        have = set(state[group])
        if want - have:
            raise ModelUnavailable(f"{role}: {file} lacks {len(want - have)} {group} tensor(s) "
                                   f"(e.g. {sorted(want - have)[0]}); they would be random")
        if have - want:
            raise ModelUnavailable(f"{role}: {file} holds {len(have - want)} {group} tensor(s) this UNet does not take "
                                   f"(e.g. {sorted(have - want)[0]}) — an IP-Adapter for another model?")
    check_state_tensors(state, file, role)
    return state


def generation_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """Sides (multiples of 8) with the source's aspect ratio and the longer one ``resolution``."""
    scale = resolution / max(height, width)
    return max(8, round(height * scale / 8) * 8), max(8, round(width * scale / 8) * 8)


def encode_long_prompt(pipe: Any, text: str) -> tuple["Tensor", int]:
    """Prompt -> text embeddings ``[1, 77 * chunks, D]`` with nothing dropped; and ``chunks``."""
    import torch

    tok = pipe.tokenizer
    body = tok.model_max_length - 2
    ids = tok(text, add_special_tokens=False)["input_ids"]
    chunks = [ids[i:i + body] for i in range(0, len(ids), body)] or [[]]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    device = pipe.text_encoder.device
    embeds = []
    with torch.no_grad():
        for chunk in chunks:
            row = [tok.bos_token_id, *chunk, tok.eos_token_id] + [pad] * (body - len(chunk))
            embeds.append(pipe.text_encoder(torch.tensor([row], device=device))[0])
    return torch.cat(embeds, dim=1), len(chunks)


class Generator:
    """Text (+ image prompt) -> image.

    Args:
        ip_adapter: load IP-Adapter and use the image prompt (Multi-SC); ``False`` for VLM-CSC.
        ip_scale: IP-Adapter scale; steps, guidance: diffusion settings; resolution: longer side.
    """

    component = "generator"

    def __init__(self, device: str | None = None, ip_adapter: bool = True, ip_scale: float = 0.6,
                 steps: int = 30, guidance: float = 7.5, resolution: int = 512, codec: str | None = None) -> None:
        self.device, self.ip_adapter, self.ip_scale = device, ip_adapter, ip_scale
        self.steps, self.guidance, self.resolution, self.codec = steps, guidance, resolution, codec

    def _pipe(self) -> Any:
        if not self.ip_adapter:
            return load_once("generator", self.device, _load_sd, self.codec)
        from ..errors import ModelUnavailable
        from .source import component
        from .validate import check_layout

        ip_path = str(require("ip_adapter", self.codec))
        ip_role = f"ip_adapter ({component('ip_adapter').role})"
        check_layout("ip_adapter", ip_path, ip_role)

        def build(path: str, device: str) -> Any:
            from pathlib import Path

            from .loading import BUILDING

            # the image encoder is loaded here, checked, and handed to the pipeline: diffusers'
            # own load of it would leave a missing tensor random without a word
            from ..errors import SemcodecError

            token = BUILDING.set(ip_role)
            try:
                encoder = _checked("transformers", "CLIPVisionModelWithProjection", ip_path, "models/image_encoder",
                                   dtype_for(device), ip_role)
            except SemcodecError:
                raise
            except Exception as exc:  # noqa: BLE001 - the adapter's image encoder, not the SD folder, is at fault
                raise ModelUnavailable(f"{ip_role}: cannot load {ip_path}/models/image_encoder "
                                       f"({load_failure(exc)})") from None
            finally:
                BUILDING.reset(token)
            pipe = _load_sd(path, device, image_encoder=encoder)
            # h94/IP-Adapter ships both formats; a copy may hold only one of them.
            weight = next(n for n in ("ip-adapter_sd15.safetensors", "ip-adapter_sd15.bin")
                          if (Path(ip_path) / "models" / n).is_file())
            state = ip_adapter_state(ip_path, weight, pipe.unet, ip_role)
            try:
                pipe.load_ip_adapter(state, subfolder="models", weight_name=weight)
            except Exception as exc:  # noqa: BLE001 - the adapter's fault, not the SD folder's
                raise ModelUnavailable(f"{ip_role}: cannot load {ip_path} ({load_failure(exc)})") from None
            return pipe.to(device)

        # the adapter folder is part of the key: another adapter is another pipeline
        return load_once("generator", self.device, build, self.codec, variant=f"+ip_adapter:{ip_path}")

    def generate(self, prompt: str, size: tuple[int, int], image_prompt: "Tensor | None" = None,
                 seed: int = 0) -> tuple["Tensor", dict]:
        """Generate ``[3, H, W]`` for ``size = (H, W)``; returns the image and what was done."""
        import torch
        from torch.nn import functional as F

        pipe = self._pipe()
        embeds, chunks = encode_long_prompt(pipe, prompt)
        negative, _ = encode_long_prompt(pipe, "")
        negative = negative.repeat(1, chunks, 1)
        gh, gw = generation_size(size[0], size[1], self.resolution)
        kwargs: dict[str, Any] = dict(prompt_embeds=embeds, negative_prompt_embeds=negative, height=gh, width=gw,
                                      num_inference_steps=self.steps, guidance_scale=self.guidance,
                                      generator=torch.Generator("cpu").manual_seed(seed), output_type="pt")
        if self.ip_adapter:
            if image_prompt is None:
                raise ValueError("IP-Adapter generation needs an image prompt")
            pipe.set_ip_adapter_scale(self.ip_scale)
            kwargs["ip_adapter_image"] = to_pil([image_prompt])[0]
        with torch.no_grad():
            out = pipe(**kwargs).images[:1].float().cpu()
        image = F.interpolate(out, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)[0]
        return image.clamp(0, 1), {"prompt_chunks": chunks, "generated_size": [gh, gw], "steps": self.steps}
