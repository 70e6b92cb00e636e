"""CLIP image/text embeddings (unit-normalised), for the ``clip_cos`` metric and UO-ISC."""

from __future__ import annotations

from .loading import hf_pair, load_once, to_pil

_load = hf_pair("CLIPProcessor", "CLIPModel")


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
