"""UO-ISC's user-intent relevance loss: a frozen VLM looks at the original and at the
reconstruction under the user's question; loss = mean (1 - cosine) of its hidden states at a few
layers, over all tokens. Gradients flow through the frozen VLM to the reconstruction.

The VLM is the ``relevance_vlm`` component (default: the LLaVA the captioner uses; the paper used
nanoLLaVA, which transformers loads only by running the repo's own code — not done here). The
reconstruction reaches the VLM through a differentiable copy of its image processor (resize to
its input size, normalise with its mean and std).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .loading import load_once, to_pil

if TYPE_CHECKING:
    from torch import Tensor


def _image_size(image_processor) -> tuple[int, int]:
    for attr in ("crop_size", "size"):
        size = getattr(image_processor, attr, None) or {}
        if "height" in size and "width" in size:
            return int(size["height"]), int(size["width"])
        if "shortest_edge" in size:
            return int(size["shortest_edge"]), int(size["shortest_edge"])
    raise ValueError("the VLM's image processor has no input size")


class RelevanceLoss:
    """``loss(reconstruction, original, questions)`` with ``[B, 3, H, W]`` images in [0, 1].

    Args:
        layers: the VLM's hidden-state layers compared (those past its depth are dropped; the last
            layer is always used).
    """

    component = "relevance_vlm"

    def __init__(self, device: str | None = None, layers: tuple[int, ...] = (6, 12, 18)) -> None:
        self.device, self.layers = device, layers

    def parts(self):
        from .captioner import _load_llava

        processor, model = load_once(self.component, self.device, _load_llava, "uo-isc training")
        for p in model.parameters():
            p.requires_grad_(False)
        return processor, model

    def _pixels(self, images: "Tensor", processor, model) -> "Tensor":
        import torch
        from torch.nn import functional as F

        ip = processor.image_processor
        x = F.interpolate(images.float(), size=_image_size(ip), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(ip.image_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(ip.image_std, device=x.device).view(1, 3, 1, 1)
        return ((x.clamp(0, 1) - mean) / std).to(model.device, model.dtype)

    def _hidden(self, images: "Tensor", questions: list[str], processor, model) -> list["Tensor"]:
        conversation = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
                        for q in questions]
        texts = [processor.apply_chat_template(c, add_generation_prompt=True) for c in conversation]
        inputs = processor(images=to_pil([im.detach().cpu() for im in images]), text=texts, return_tensors="pt",
                           padding=True)
        inputs = {k: v.to(model.device) for k, v in inputs.items() if k != "pixel_values"}
        out = model(**inputs, pixel_values=self._pixels(images, processor, model), output_hidden_states=True)
        hs = out.hidden_states
        chosen = sorted({i for i in self.layers if i < len(hs) - 1} | {len(hs) - 1})
        return [hs[i].float() for i in chosen]

    def __call__(self, reconstruction: "Tensor", original: "Tensor", questions: list[str]) -> "Tensor":
        import torch
        from torch.nn import functional as F

        processor, model = self.parts()
        with torch.no_grad():
            target = self._hidden(original, questions, processor, model)
        got = self._hidden(reconstruction, questions, processor, model)
        losses = [(1 - F.cosine_similarity(g, t, dim=-1)).mean() for g, t in zip(got, target)]
        return torch.stack(losses).mean()
