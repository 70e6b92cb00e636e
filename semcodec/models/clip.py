"""CLIP image/text embeddings (unit-normalised), for the ``clip_cos`` metric and UO-ISC."""

from __future__ import annotations

from typing import Any

from .loading import load_once, to_pil
from .source import dtype_for


def _load(path: str, device: str) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    processor = CLIPProcessor.from_pretrained(path, local_files_only=True)
    model = CLIPModel.from_pretrained(path, dtype=dtype_for(device), local_files_only=True)
    return processor, model.to(device).eval()


def _vector(out):
    # transformers 5 returns an output object; the projected embedding is ``pooler_output``.
    return out if hasattr(out, "norm") else out.pooler_output


class ClipEmbedder:
    component = "clip"

    def __init__(self, device: str | None = None) -> None:
        self.device = device

    def image_embeds(self, images: list):
        """``[N, D]`` unit vectors of ``images`` (on the CPU, float32)."""
        import torch

        processor, model = load_once(self.component, self.device, _load)
        pixels = processor(images=to_pil(images), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            v = _vector(model.get_image_features(pixel_values=pixels.to(model.device, model.dtype))).float().cpu()
        return v / v.norm(dim=-1, keepdim=True)

    def text_embeds(self, texts: list[str]):
        import torch

        processor, model = load_once(self.component, self.device, _load)
        tokens = processor(text=texts, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            v = _vector(model.get_text_features(**{k: t.to(model.device) for k, t in tokens.items()})).float().cpu()
        return v / v.norm(dim=-1, keepdim=True)

    def cosine(self, a, b) -> float:
        """Cosine similarity of two images' CLIP embeddings."""
        e = self.image_embeds([a, b])
        return float((e[0] * e[1]).sum())
