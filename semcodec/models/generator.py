"""Image generation: Stable Diffusion 1.5, optionally with IP-Adapter (text + image prompt).

Prompts longer than CLIP's 77 tokens are not truncated: they are encoded in 75-token chunks
(each wrapped in BOS/EOS) whose embeddings are concatenated along the sequence axis — the
UNet's cross-attention takes any length. The image is generated at the source's aspect ratio
(sides multiples of 8, longer side ``resolution``) and resized to the source size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .loading import load_once, to_pil
from .source import dtype_for, require

if TYPE_CHECKING:
    from torch import Tensor


def _load_sd(path: str, device: str) -> Any:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(path, dtype=dtype_for(device), safety_checker=None,
                                                   requires_safety_checker=False, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


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
        from .source import component
        from .validate import check_layout

        ip_path = str(require("ip_adapter", self.codec))
        check_layout("ip_adapter", ip_path, component("ip_adapter").role)

        def build(path: str, device: str) -> Any:
            from pathlib import Path

            pipe = _load_sd(path, device)
            # h94/IP-Adapter ships both formats; a copy may hold only one of them.
            weight = next(n for n in ("ip-adapter_sd15.safetensors", "ip-adapter_sd15.bin")
                          if (Path(ip_path) / "models" / n).is_file())
            pipe.load_ip_adapter(ip_path, subfolder="models", weight_name=weight, local_files_only=True)
            return pipe.to(device)

        return load_once("generator", self.device, build, self.codec, variant="+ip_adapter")

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
