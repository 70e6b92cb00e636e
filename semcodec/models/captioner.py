"""Captioners: LLaVA (the Multi-SC letter's, with Qwen1.5-0.5B) and BLIP (VLM-CSC's).

A batch of images is captioned in *one* ``generate`` call (left-padded prompts), which is
what makes Multi-SC's four sub-images cost about one caption on a GPU.
"""

from __future__ import annotations

from typing import Any

from .loading import hf_pair, load_once, to_pil

#: The Multi-SC letter's fixed query for every sub-image.
PROMPT = "Relay a brief, clear account of the picture shown."


def _load_llava(path: str, device: str) -> tuple[Any, Any]:
    processor, model = hf_pair("AutoProcessor", "LlavaForConditionalGeneration")(path, device)
    processor.tokenizer.padding_side = "left"  # batched generation continues every prompt at its end
    if not (getattr(processor, "chat_template", None) or getattr(processor.tokenizer, "chat_template", None)):
        from ..errors import ModelUnavailable

        raise ModelUnavailable(f"LLaVA captioner: {path} has no chat template (chat_template.json or "
                               "chat_template.jinja); the prompt format cannot be built")
    return processor, model


class LlavaCaptioner:
    """LLaVA captions (and answers questions about) images.

    Args:
        device: torch device (default: CUDA if present, else CPU).
        max_new_tokens: caption length limit.
    """

    component = "captioner"

    def __init__(self, device: str | None = None, max_new_tokens: int = 64, codec: str | None = None) -> None:
        self.device, self.max_new_tokens, self.codec = device, max_new_tokens, codec

    def _parts(self):
        return load_once(self.component, self.device, _load_llava, self.codec)

    def ask(self, images: list, prompt: str) -> list[str]:
        """One answer per image to the same ``prompt``, from a single batched ``generate``."""
        import torch

        processor, model = self._parts()
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = processor.apply_chat_template(conversation, add_generation_prompt=True)
        pil = to_pil(images)
        inputs = processor(images=pil, text=[text] * len(pil), return_tensors="pt", padding=True)
        inputs = {k: (v.to(model.device, model.dtype) if v.is_floating_point() else v.to(model.device))
                  for k, v in inputs.items()}
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = out[:, inputs["input_ids"].shape[1]:]
        return [t.strip() for t in processor.batch_decode(new, skip_special_tokens=True)]

    def caption(self, images: list) -> list[str]:
        """Captions of ``images`` ([3, H, W] tensors or PIL) with the letter's fixed prompt."""
        return self.ask(images, PROMPT)


class BlipCaptioner:
    """BLIP image captioning (unconditional), batched."""

    component = "blip"

    def __init__(self, device: str | None = None, max_new_tokens: int = 40, codec: str | None = None) -> None:
        self.device, self.max_new_tokens, self.codec = device, max_new_tokens, codec

    def caption(self, images: list) -> list[str]:
        import torch

        processor, model = load_once(self.component, self.device,
                                      hf_pair("BlipProcessor", "BlipForConditionalGeneration"), self.codec)
        inputs = processor(images=to_pil(images), return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(model.device, model.dtype)
        with torch.no_grad():
            out = model.generate(pixel_values=pixel_values, max_new_tokens=self.max_new_tokens, do_sample=False)
        return [t.strip() for t in processor.batch_decode(out, skip_special_tokens=True)]


class VQA:
    """Answers a question about an image with a LLaVA (component ``vqa``; by default the same
    model as the captioner), greedily, loaded once."""

    def __init__(self, device: str | None = None, max_new_tokens: int = 20, codec: str | None = None) -> None:
        self._llava = LlavaCaptioner(device, max_new_tokens, codec)
        self._llava.component = "vqa"

    def answer(self, image, question: str) -> str:
        return self._llava.ask([image], question)[0]
