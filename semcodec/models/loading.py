"""Load each pretrained component once per process (per id and device)."""

from __future__ import annotations

import warnings
from contextvars import ContextVar
from typing import Any, Callable

from ..errors import ModelUnavailable
from .source import best_device, require
from .validate import check_loading_info

_LOADED: dict[tuple[str, str, str], Any] = {}
#: The component being built, so an error deep in a builder names it (``captioner (LLaVA …)``).
BUILDING: ContextVar[str] = ContextVar("semcodec_building", default="")


def load_once(key: str, device: str | None, build: Callable[[str, str], Any], codec: str | None = None,
              variant: str = "") -> Any:
    """``build(path, device)`` the first time ``key`` is needed on ``device``; reuse it after.

    Raises :class:`~semcodec.errors.ModelUnavailable` (fast, no hub access) when the weights are
    not on this machine.
    """
    from ..errors import SemcodecError
    from .source import component
    from .validate import check_layout

    path = str(require(key, codec))
    dev = best_device(device)
    cache_key = (key + variant, path, dev)
    if cache_key not in _LOADED:
        role = f"{key} ({component(key).role})"
        if key != "segmenter":  # every component but torchvision's FCN is a transformers/diffusers model
            from ..extras import require as require_extra

            require_extra(("transformers", "diffusers") if key in ("generator", "ip_adapter") else ("transformers",),
                          role)
        check_layout(key, path, role)
        quiet_libraries()
        token = BUILDING.set(role)
        try:
            with warnings.catch_warnings():  # torch's advice on a pickle's protocol is not the user's to read
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                _LOADED[cache_key] = build(path, dev)
        except SemcodecError:
            raise
        except Exception as exc:  # a folder from elsewhere: say which one and why, in one line
            raise ModelUnavailable(f"{role}: cannot load {path} ({load_failure(exc)})") from None
        finally:
            BUILDING.reset(token)
    return _LOADED[cache_key]


def loaded() -> list[tuple[str, str, Any]]:
    """``(name, path, built object)`` of every component built in this process (``name``: the key
    and its variant, e.g. ``generator+ip_adapter:…``), for checks of what was actually loaded."""
    return [(str(cache_key[0]), str(cache_key[1]), obj) for cache_key, obj in list(_LOADED.items())]


def load_failure(exc: BaseException) -> str:
    """Why a model folder did not load, in a few words: the exception's type and first line (a
    pickle that torch's safe loader refuses is said as such, not with torch's advice)."""
    if type(exc).__name__ == "UnpicklingError":
        return "UnpicklingError: a pickled checkpoint that does not load as plain weights; use a safetensors copy"
    lines = [" ".join(line.split()) for line in str(exc).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if first.endswith(":") and len(lines) > 1:  # "Validation error for field 'vocab_size':" says nothing alone
        first = f"{first} {lines[1]}"
    return f"{type(exc).__name__}: {first[:200]}"


def quiet_libraries() -> None:
    """No per-load progress bars or advice from transformers/diffusers: the CLI has its own (each
    only if installed: a torchvision component needs neither)."""
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.set_verbosity_error()
        diffusers_logging.disable_progress_bar()
    except ImportError:
        pass


def hf_pair(processor_class: str, model_class: str, role: str = "",
            allow_unexpected: tuple[str, ...] = ()) -> Callable[[str, str], tuple[Any, Any]]:
    """A builder loading ``(processor, model)`` of two transformers classes from a local folder
    (``role``: the component's name in its errors; ``allow_unexpected``: see
    :func:`~semcodec.models.validate.check_loading_info`)."""

    def build(path: str, device: str) -> tuple[Any, Any]:
        import transformers

        from .source import dtype_for

        processor = getattr(transformers, processor_class).from_pretrained(path, local_files_only=True)
        model, info = getattr(transformers, model_class).from_pretrained(
            path, dtype=dtype_for(device), local_files_only=True, output_loading_info=True,
            ignore_mismatched_sizes=True)  # a wrong-shaped tensor named by the check, not "see the above report"
        check_loading_info(info, path, role or BUILDING.get() or model_class, allow_unexpected=allow_unexpected)
        tokenizer = getattr(processor, "tokenizer", processor)
        if getattr(tokenizer, "pad_token", "") is None and getattr(tokenizer, "eos_token", None) is not None:
            tokenizer.pad_token = tokenizer.eos_token  # batched inputs need one; many repos ship none
        return processor, model.to(device).eval()

    return build


def to_pil(images) -> list:
    """``[3, H, W]`` tensors (or PIL images) -> PIL images."""
    from ..imageio import tensor_to_pil

    return [im if hasattr(im, "convert") else tensor_to_pil(im) for im in images]
