"""Size limits for untrusted input: images and signal files never allocate beyond them.

One number, the pixel limit, bounds every image the library decodes or rebuilds: an image file
is checked from its header *before* its pixels are decoded (a 400 KB PNG may declare 20000 x
20000 pixels), and a signal file's declared image size is checked before any receiver
allocates. Default 64 MP; ``--max-pixels`` or ``SEMCODEC_MAX_PIXELS`` changes it.
"""

from __future__ import annotations

import os

from .errors import InvalidInput
from .numbers import decimal

DEFAULT_MAX_PIXELS = 64_000_000
_state: dict[str, int] = {}


def max_pixels() -> int:
    """The pixel limit in force: ``set_max_pixels``, else ``SEMCODEC_MAX_PIXELS``, else 64 MP."""
    if "max" in _state:
        return _state["max"]
    env = os.environ.get("SEMCODEC_MAX_PIXELS")
    if env:
        try:
            value = int(decimal(env))
        except (ValueError, OverflowError):
            raise InvalidInput(f"SEMCODEC_MAX_PIXELS must be a number of pixels, got {env!r}") from None
        if value < 1:
            raise InvalidInput(f"SEMCODEC_MAX_PIXELS must be positive, got {env!r}")
        return value
    return DEFAULT_MAX_PIXELS


def set_max_pixels(value: int | None) -> None:
    """Set the pixel limit for this process (``None``: back to the environment / default)."""
    if value is None:
        _state.pop("max", None)
    elif value < 1:
        raise InvalidInput("--max-pixels must be at least 1")
    else:
        _state["max"] = int(value)


def check_pixels(height: int, width: int, what: str) -> None:
    """Refuse ``what`` (a file name, "signal file") when H x W exceeds the pixel limit, or a side
    exceeds 65,535 pixels (the codecs' headers carry each side in 16 bits)."""
    if max(height, width) > 65535:
        raise InvalidInput(f"{what}: {width}x{height} has a side over 65,535 pixels, which no codec's header "
                           "can carry (16 bits a side)")
    limit = max_pixels()
    if height * width > limit:
        raise InvalidInput(
            f"{what}: {width}x{height} is {height * width:,} pixels, over the limit of {limit:,} "
            f"({limit / 1e6:g} MP; raise it with --max-pixels or SEMCODEC_MAX_PIXELS)"
        )


def available_memory(device: str) -> int | None:
    """Bytes free for a training run on ``device`` (``None`` when it cannot be told)."""
    try:
        if str(device).startswith("cuda"):
            import torch

            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - no estimate is better than a wrong refusal
        return None


def check_free_memory(need: float, device: str, what: str, remedy: str) -> None:
    """Refuse, in one line, work that needs ``need`` bytes when that is more than a run may take
    on ``device`` (80 % of what is free: the rest is the system's and the process's own); the
    kernel would otherwise kill it without a word. Unknown free memory is no refusal."""
    free = available_memory(device)
    if free is not None and need > 0.8 * free:
        raise InvalidInput(f"{what} needs about {need / 2**30:.1f} GiB, more than the {0.8 * free / 2**30:.1f} GiB "
                           f"a run may take (80 % of the {free / 2**30:.1f} GiB free on {device}); {remedy}")


def check_run_memory(height: int, width: int, bytes_per_pixel: float, what: str, device: str = "cpu") -> None:
    """Refuse one image that a run (image, codec, metrics: ``bytes_per_pixel`` each pixel, measured)
    could not hold in the memory free now: the kernel would kill the whole bench without a word."""
    check_free_memory(height * width * bytes_per_pixel, device,
                      f"{what}: a {width}x{height} image (~{bytes_per_pixel:g} bytes a pixel)",
                      "free memory or use a smaller image")
