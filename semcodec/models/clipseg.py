"""CLIPSeg's frozen towers, as UO-ISC uses them: vision hidden states and the query embedding.

The component (``clipseg``, default ``CIDAS/clipseg-rd64-refined``) is a
``CLIPSegForImageSegmentation`` repo; only its CLIP part is loaded (``CLIPSegModel``: the
segmentation decoder is not used). Images are prepared in torch — resized to the processor's size
(352 px) and normalised with its mean and std — so the same path is differentiable for the
training losses that look at a reconstruction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .loading import hf_pair, load_once

if TYPE_CHECKING:
    from torch import Tensor

#: the repo also holds the segmentation decoder, which is not loaded
_load = hf_pair("CLIPSegProcessor", "CLIPSegModel", allow_unexpected=("decoder.",))


class ClipSegTowers:
    component = "clipseg"

    def __init__(self, device: str | None = None, codec: str | None = None) -> None:
        self.device, self.codec = device, codec

    def parts(self):
        processor, model = load_once(self.component, self.device, _load, self.codec)
        for p in model.parameters():
            p.requires_grad_(False)
        return processor, model

    @property
    def image_size(self) -> int:
        processor, _ = self.parts()
        size = processor.image_processor.size
        return int(size.get("height") or size.get("shortest_edge"))

    @property
    def patch_size(self) -> int:
        return int(self.parts()[1].config.vision_config.patch_size)

    @property
    def hidden_size(self) -> int:
        return int(self.parts()[1].config.vision_config.hidden_size)

    @property
    def text_dim(self) -> int:
        return int(self.parts()[1].config.projection_dim)

    @property
    def num_layers(self) -> int:
        return int(self.parts()[1].config.vision_config.num_hidden_layers)

    def pixels(self, images: "Tensor") -> "Tensor":
        """``[B, 3, H, W]`` in [0, 1] -> the vision tower's normalised ``[B, 3, S, S]`` input."""
        import torch
        from torch.nn import functional as F

        processor, model = self.parts()
        s = self.image_size
        x = F.interpolate(images.float(), size=(s, s), mode="bicubic", align_corners=False, antialias=True)
        mean = torch.tensor(processor.image_processor.image_mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(processor.image_processor.image_std, device=x.device).view(1, 3, 1, 1)
        return ((x.clamp(0, 1) - mean) / std).to(model.device, model.dtype)

    def hidden_states(self, images: "Tensor", layers: tuple[int, ...]) -> list["Tensor"]:
        """The vision hidden states after each of ``layers`` (1-based), each ``[B, T, H]`` float32."""
        _, model = self.parts()
        out = model.vision_model(pixel_values=self.pixels(images), output_hidden_states=True)
        return [out.hidden_states[i].float() for i in layers]

    def text_features(self, questions: list[str]) -> "Tensor":
        """The queries' projected CLIP text embeddings ``[B, E]`` (float32, no gradient)."""
        import torch

        processor, model = self.parts()
        tokens = processor.tokenizer(questions, return_tensors="pt", padding=True, truncation=True, max_length=77)
        with torch.no_grad():
            out = model.get_text_features(**{k: v.to(model.device) for k, v in tokens.items()})
        vec = out if hasattr(out, "norm") else out.pooler_output
        return vec.float()
