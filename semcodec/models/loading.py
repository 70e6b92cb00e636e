"""Load each pretrained component once per process (per id and device)."""

from __future__ import annotations

from typing import Any, Callable

from .source import best_device, require

_LOADED: dict[tuple[str, str, str], Any] = {}


def load_once(key: str, device: str | None, build: Callable[[str, str], Any], codec: str | None = None,
              variant: str = "") -> Any:
    """``build(path, device)`` the first time ``key`` is needed on ``device``; reuse it after.

    Raises :class:`~semcodec.errors.ModelUnavailable` (fast, no hub access) when the weights are
    not on this machine.
    """
    path = str(require(key, codec))
    dev = best_device(device)
    cache_key = (key + variant, path, dev)
    if cache_key not in _LOADED:
        quiet_libraries()
        _LOADED[cache_key] = build(path, dev)
    return _LOADED[cache_key]


def quiet_libraries() -> None:
    """No per-load progress bars or advice from transformers/diffusers: the CLI has its own."""
    import transformers
    from diffusers.utils import logging as diffusers_logging

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()


def hf_pair(processor_class: str, model_class: str) -> Callable[[str, str], tuple[Any, Any]]:
    """A builder loading ``(processor, model)`` of two transformers classes from a local folder."""

    def build(path: str, device: str) -> tuple[Any, Any]:
        import transformers

        from .source import dtype_for

        processor = getattr(transformers, processor_class).from_pretrained(path, local_files_only=True)
        model = getattr(transformers, model_class).from_pretrained(path, dtype=dtype_for(device),
                                                                  local_files_only=True)
        return processor, model.to(device).eval()

    return build


def to_pil(images) -> list:
    """``[3, H, W]`` tensors (or PIL images) -> PIL images."""
    from ..imageio import tensor_to_pil

    return [im if hasattr(im, "convert") else tensor_to_pil(im) for im in images]
