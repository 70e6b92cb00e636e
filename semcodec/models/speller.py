"""Spelling correction with a BART seq2seq model (tokenizer + ``generate``; transformers 5
removed the text2text pipeline)."""

from __future__ import annotations

from .loading import hf_pair, load_once

_load = hf_pair("AutoTokenizer", "AutoModelForSeq2SeqLM")


class SpellingCorrector:
    """Corrects a batch of texts in one ``generate`` call."""

    component = "speller"

    def __init__(self, device: str | None = None, codec: str | None = None) -> None:
        self.device, self.codec = device, codec

    def correct(self, texts: list[str]) -> list[str]:
        import torch

        tok, model = load_once(self.component, self.device, _load, self.codec)
        limit = getattr(model.config, "max_position_embeddings", 1024)
        batch = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=limit)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        longest = int(batch["input_ids"].shape[1])
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=min(limit, int(longest * 1.5) + 8), do_sample=False)
        return [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]
