"""Training of the SNR-adaptive JSCC network (``semcodec train adjscc``).

Why its own loop: one model learns every SNR and both bandwidths, so each sample draws its own
SNR (uniform in ``[snr_min, snr_max]`` dB) and each step draws a bandwidth; the schedule is
AdamW with linear warm-up and cosine decay over ``steps`` (bf16 autocast on a GPU, or with
``--bf16`` on a CPU that has it; weights, loss and evaluation stay fp32); an exponential moving average (EMA)
of the weights is what gets evaluated and shipped (it gives most of a low-learning-rate finish
at any point of a long run, so a checkpoint taken mid-run is already good). Runs are meant to
be long and interrupted: every ``save_every`` steps the weights, the EMA, the optimiser, the
step and the RNG states are written atomically, and ``--resume`` continues bit for bit.

The noise is the project's convention (:mod:`semcodec.channel`): unit mean symbol energy per
image, complex noise of variance ``N0 = 10^(-SNR/10)``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

from ..errors import DatasetError, InvalidInput
from ..numbers import decimal
from .checkpoint import (DeferredInterrupt, changed_settings, check_resume, load_state, real_paths, restore_rng, save_checkpoint,
                         state_path)
from .settings import StepSettings
from .trainer import Trainer, TrainOption, TrainRun
from .data import BYTES_PER_PIXEL, augmented_crops, check_held_out, check_memory, list_images, load_uint8


@dataclass(kw_only=True)
class AdaptiveTrainConfig(StepSettings):
    """Everything that determines a training run (written into the checkpoint's card)."""

    data: list[str]
    eval_data: list[str] = field(default_factory=list)
    steps: int = 150_000
    crop: int = 128
    weight_decay: float = 1e-4
    warmup: int = 1000
    clip: float = 1.0
    ema: float = 0.999
    snr_min: float = -5.0
    snr_max: float = 20.0
    ratios: list[float] = field(default_factory=lambda: [1 / 12, 1 / 6])
    ratio_weights: list[float] = field(default_factory=lambda: [2.0, 1.0])
    c_max: int = 16
    width: int = 64
    blocks: int = 2
    eval_every: int = 2500
    eval_snrs: list[float] = field(default_factory=lambda: [0.0, 10.0, 19.0])
    threads: int = 0
    bf16: bool = False
    #: channels drawn per sample (registered names; ``rayleigh`` blocks of ``coherence`` symbols)
    channels: list[str] = field(default_factory=lambda: ["awgn"])
    channel_weights: list[float] = field(default_factory=list)
    coherence: int = 1024
    #: the decoder takes each symbol's post-equalisation error variance (fading-aware model)
    csi: bool = False
    #: start from these weights (fine-tuning; a non-csi checkpoint's decoder input is widened
    #: with zero weights for the reliability channels, so step 0 decodes as the original)
    init: str = ""


#: Fields added after runs were already under way: a state without them had these values.
LATER_FIELDS = {"channels": ["awgn"], "channel_weights": [], "coherence": 1024, "csi": False, "init": ""}

#: Settings a resumed run may change: how long it runs and where, not what it learns.
RESUMABLE_CHANGES = frozenset({"steps", "save_every", "eval_every", "eval_snrs", "eval_data", "device", "threads",
                               "bf16"})


def lr_at(step: int, config: AdaptiveTrainConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to 1 % of it."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    t = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def forward(model, x, snr_db, c: int, generator=None, channel: "str | object" = "awgn"):
    """Encoder -> ``channel`` at per-sample ``snr_db [B]`` -> equaliser -> decoder, through
    the bench's own :class:`~semcodec.links.analog.AnalogLink` path and channel blocks.
    ``channel``: a registered name or a channel block (e.g. a :class:`ChannelMixture`)."""
    from ..links.analog import AnalogLink

    block = _channel(channel) if isinstance(channel, str) else channel
    return AnalogLink(model, c / 96, c).forward(x, snr_db, block, generator)


@lru_cache(maxsize=None)
def _channel(name: str, coherence: int = 1024):
    from ..channel import load_channel

    cls = load_channel(name)
    return cls(coherence=coherence) if name == "rayleigh" else cls()


def training_channel(config: AdaptiveTrainConfig):
    """The channel block of a run: its one channel, or a per-sample mixture of its channels."""
    from ..channel import ChannelMixture

    names = list(config.channels)
    if not names:
        raise InvalidInput("--channel: name at least one channel to train on")
    if config.channel_weights and len(config.channel_weights) != len(names):
        raise InvalidInput("--channel-weights: give one weight per --channel")
    blocks = [_channel(n, config.coherence) for n in names]
    if len(blocks) == 1:
        return blocks[0]
    return ChannelMixture(blocks, config.channel_weights or None)


def init_from(model, path: str) -> None:
    """Load ``path``'s weights into ``model`` (a fine-tuning start). A decoder input wider than
    the file's (a ``csi`` model from an AWGN one) keeps the file's weights on the symbol channels
    and zeros on the reliability channels, so the start decodes exactly as the original."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as exc:
        raise InvalidInput(f"--init: {path} is not a safetensors checkpoint ({type(exc).__name__})") from None
    own = model.state_dict()
    if set(tensors) != set(own):
        raise InvalidInput(f"--init: {path} is not a checkpoint of this architecture (other tensors)")
    for key, value in tensors.items():
        target = own[key]
        if value.shape == target.shape:
            target.copy_(value)
        elif key == "d_in.0.weight" and value.shape[1] * 2 == target.shape[1] and value.shape[0] == target.shape[0]:
            target.zero_()
            target[:, : value.shape[1]].copy_(value)
        else:
            raise InvalidInput(f"--init: {path} does not fit this architecture ({key}: {tuple(value.shape)} "
                               f"vs {tuple(target.shape)})")
    if not all(torch.isfinite(t).all() for t in own.values() if t.is_floating_point()):
        raise InvalidInput(f"--init: {path} has non-finite weights")


def evaluate(model, images: list, snrs: list[float], c: int, seed: int = 1234,
             channel: "str | object" = "awgn") -> dict[str, float]:
    """Mean PSNR (dB) over whole ``images`` (uint8 ``[3, H, W]``) at each SNR, over ``channel``."""
    import torch

    out = {}
    model.eval()
    with torch.no_grad():
        for snr in snrs:
            gen = torch.Generator(device=images[0].device).manual_seed(seed)
            psnrs = []
            for img in images:
                x = img.float().div(255.0).unsqueeze(0)
                x_hat = forward(model, x, snr, c, gen, channel).clamp(0, 1)
                mse = torch.mean((x_hat - x) ** 2).item()
                psnrs.append(10 * math.log10(1.0 / max(mse, 1e-12)))
            out[f"{snr:g}"] = round(sum(psnrs) / len(psnrs), 3)
    model.train()
    return out


def save_adaptive(path: Path, model, card: dict, state: dict | None = None) -> None:
    """Write ``path`` (safetensors, the EMA weights), ``path.json`` (the card) and the state."""
    save_checkpoint(path, model, card, {"architecture": json.dumps(card["architecture"])}, state)


def step_bytes_per_pixel(width: int) -> float:
    """Measured peak of one step a pixel at ``width`` (it grows with the feature channels)."""
    return BYTES_PER_PIXEL["adjscc"] * max(1.0, width / 64)


def train_adaptive(
    config: AdaptiveTrainConfig,
    out: Path,
    resume: bool = False,
    progress: Callable[[int, float, dict | None], None] | None = None,
    command: str | None = None,
    progress_every: int = 100,
    force: bool = False,
) -> dict:
    """Train (or resume) and write ``out`` (EMA weights) with its JSON card; returns the card.

    ``progress(step, loss, kodak)`` is called every ``progress_every`` steps and after each
    evaluation (after the checkpoint of that step, so an interrupt there loses nothing).
    """
    import torch

    from ..data import folder
    from ..networks.adjscc import AdaptiveJSCC, latent_channels

    if config.steps < 1 or config.batch < 1:
        raise InvalidInput("--steps and --batch must be at least 1")
    if config.crop % 4 or config.crop < 16:
        raise InvalidInput("--crop must be a multiple of 4 and at least 16")
    check_resume(out, resume, force)
    check_memory(config.batch, config.crop**2, step_bytes_per_pixel(config.width), config.device, "adjscc")
    try:
        cs = [latent_channels(r, config.c_max) for r in config.ratios]
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)

    train_files = list_images(config.data)
    eval_files = [im.path for f in config.eval_data for im in folder(f, "evaluation data")]
    eval_is_kodak24 = check_held_out(train_files, eval_files)
    train_imgs = [im for im in load_uint8(train_files, device) if min(im.shape[-2:]) >= config.crop]
    if not train_imgs:
        raise DatasetError(f"no training image is at least {config.crop} px on each side")
    eval_imgs = load_uint8(eval_files, device) if eval_files else []

    model = AdaptiveJSCC(config.c_max, config.width, config.blocks, csi=config.csi).to(device)
    channel = training_channel(config)
    fading_eval = "rayleigh" in config.channels
    if config.init and not resume:
        init_from(model, config.init)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    step, history, seconds = 0, [], 0.0
    if resume and state_path(out).exists():
        state = load_state(out, device)
        changed = changed_settings(state.get("config"), asdict(config), RESUMABLE_CHANGES, LATER_FIELDS)
        if changed:
            raise InvalidInput(f"cannot resume {state_path(out)}: the configuration differs ({', '.join(changed)})")
        try:
            model.load_state_dict(state["model"])
            ema.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            step, history, seconds = int(state["step"]), list(state["history"]), float(state["seconds"])
        except Exception as exc:  # noqa: BLE001 - a damaged state: one line
            raise InvalidInput(f"--resume: {state_path(out)} does not fit this model ({type(exc).__name__})") from None
        if step > config.steps:
            raise InvalidInput(f"--resume: the run has done {step} steps already; --steps must be at least that")
        restore_rng(out, rng, state.get("rng"), state.get("torch_rng"))

    def checkpoint() -> dict:
        card = _card(config, model, step, history, seconds, len(train_imgs), command, eval_is_kodak24)
        save_adaptive(out, ema, card, {"config": asdict(config), "model": model.state_dict(), "ema": ema.state_dict(),
                                       "optimizer": optimizer.state_dict(), "step": step, "history": history,
                                       "seconds": seconds, "rng": rng.getstate(), "torch_rng": torch.get_rng_state()})
        return card

    # bf16 autocast: always on CUDA; on a CPU with AVX512-BF16 it trains ~1.6x faster (measured).
    use_amp = device.type == "cuda" or config.bf16
    t_last = time.time()
    running = None
    with DeferredInterrupt() as stop:
        while step < config.steps:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, config)
            c = rng.choices(cs, weights=config.ratio_weights)[0]
            x = augmented_crops(train_imgs, config.batch, config.crop, rng)
            snr = torch.empty(config.batch, device=device).uniform_(config.snr_min, config.snr_max)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                x_hat = forward(model, x, snr, c, channel=channel)
            loss = torch.nn.functional.mse_loss(x_hat.float(), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            with torch.no_grad():
                d = min(config.ema, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - d)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            now = time.time()
            seconds += now - t_last
            t_last = now
            kodak = None
            if eval_imgs and (step % config.eval_every == 0 or step == config.steps):
                kodak = evaluate(ema, eval_imgs, config.eval_snrs, cs[0])
                entry = {"step": step, "seconds": round(seconds, 1), "psnr_db": kodak}
                if fading_eval:
                    entry["psnr_db_rayleigh"] = evaluate(ema, eval_imgs, config.eval_snrs, cs[0],
                                                         channel=_channel("rayleigh", 1024))
                    kodak = {**kodak, **{f"rayleigh {k}": v for k, v in entry["psnr_db_rayleigh"].items()}}
                history.append(entry)
                t_last = time.time()
            if step % config.save_every == 0 or step == config.steps or kodak is not None or stop.requested:
                checkpoint()
            if stop.requested and step < config.steps:
                stop.raise_now(out, f"step {step}")
            if progress and (step % progress_every == 0 or kodak is not None):
                progress(step, running, kodak)
    return checkpoint()


def _card(config: AdaptiveTrainConfig, model, step: int, history: list, seconds: float,
          n_train: int, command: str | None, eval_is_kodak24: bool = True) -> dict:
    import torch

    return {
        "model": "adjscc: SNR- and rate-adaptive deep JSCC (ADJSCC attention, channel masking)"
                 + ("" if list(config.channels) == ["awgn"] else
                    f"; trained over {', '.join(config.channels)} (one drawn per sample"
                    + (", the decoder told each symbol's error variance)" if config.csi else ")")),
        "architecture": model.architecture(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "bandwidth_ratios": config.ratios,
        "snr_range_db": [config.snr_min, config.snr_max],
        "steps_done": step,
        "train_images": n_train,
        "train_seconds": round(seconds, 1),
        "hardware": _hardware(config.device),
        "torch": torch.__version__,
        "weights": "exponential moving average of the trained weights",
        # the curve is called kodak24's only when the evaluation set is exactly kodak24
        ("kodak24_eval" if eval_is_kodak24 else "eval"): history,
        "eval_data": list(config.eval_data),
        "config": asdict(config),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
    }


def _hardware(device: str) -> str:
    """What this sitting ran on: the device, threads and the CPU's or GPU's model name."""
    import platform

    import torch

    name = platform.processor() or platform.machine()
    if device.startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(torch.device(device))
    else:
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = f"{line.split(':', 1)[1].strip()} ({platform.machine()})"
                    break
        except OSError:
            pass
    return f"{device}, {torch.get_num_threads()} threads, {name}"


def parse_weights(text: str | None) -> list[float]:
    """``"2,1,1"`` -> ``[2.0, 1.0, 1.0]`` (finite, non-negative), one line on anything else."""
    if not text:
        return []
    try:
        values = [decimal(v) for v in text.split(",")]
    except ValueError:
        raise InvalidInput(f"--channel-weights: {text!r} is not comma-separated numbers") from None
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise InvalidInput("--channel-weights: weights must be finite, non-negative and not all zero")
    return values


class AdjsccTrainer(Trainer):
    """Train the SNR- and rate-adaptive JSCC model (one model for -5…20 dB, k/n 1/12 and 1/6)."""

    name = "adjscc"
    log_every = 100
    options = {
        "data": TrainOption(list[Path], help="Folder of training images (repeatable)."),
        "eval_data": TrainOption(Optional[list[Path]], None, "Folder evaluated periodically (e.g. kodak24); never trained on.",
                                 flags=("--eval",)),
        "steps": TrainOption(int, 150_000, "Total optimiser steps (the cosine schedule's length).", min=1),
        "batch": TrainOption(int, 16, min=1),
        "crop": TrainOption(int, 128, min=16),
        "lr": TrainOption(float, 1e-3, min=1e-12, max=10.0),
        "warmup": TrainOption(int, 1000, "Steps of linear learning-rate warm-up.", min=0),
        "width": TrainOption(int, 64, "Feature channels at 1/4 resolution.", min=8),
        "blocks": TrainOption(int, 2, "Residual blocks per side.", min=0),
        "snr_min": TrainOption(float, -5.0),
        "snr_max": TrainOption(float, 20.0),
        "eval_every": TrainOption(int, 2500, min=1),
        "seed": TrainOption(int, 0, min=0, max=2**63 - 1),
        "threads": TrainOption(int, 0, "torch CPU threads (0: torch's default).", min=0),
        "bf16": TrainOption(bool, False, "bf16 autocast on the CPU (needs AVX512-BF16; always on for CUDA)."),
        "channel": TrainOption(Optional[list[str]], None, "Channel to train on (repeatable: each sample draws one; default awgn)."),
        "channel_weights": TrainOption(Optional[str], None, "Relative weights of the --channel values, comma-separated."),
        "coherence": TrainOption(int, 1024, "Rayleigh block length in symbols.", min=1),
        "csi": TrainOption(bool, False, "The decoder takes each symbol's post-equalisation noise variance (fading-aware model)."),
        "init": TrainOption(Optional[Path], None, "Start from this checkpoint's weights (fine-tuning)."),
    }

    def step_memory(self, values: dict) -> tuple[int, int, float]:
        return values["batch"], values["crop"] ** 2, step_bytes_per_pixel(values["width"])

    def run(self, values: dict, run: TrainRun) -> str:
        from ..channel import check_snr, load_channel

        v = values
        config = AdaptiveTrainConfig(
            data=real_paths([str(d) for d in v["data"]]), eval_data=real_paths([str(e) for e in v["eval_data"] or []]),
            steps=v["steps"],
            batch=v["batch"], crop=v["crop"], lr=v["lr"], warmup=v["warmup"], width=v["width"], blocks=v["blocks"],
            snr_min=check_snr(v["snr_min"]), snr_max=check_snr(v["snr_max"]), eval_every=v["eval_every"],
            seed=v["seed"], device=run.device, threads=v["threads"], bf16=v["bf16"],
            channels=list(v["channel"] or ["awgn"]), channel_weights=parse_weights(v["channel_weights"]),
            coherence=v["coherence"], csi=v["csi"], init=real_paths(str(v["init"])) if v["init"] else "",
        )
        if v["init"] and not Path(v["init"]).is_file():
            raise InvalidInput(f"--init: {v['init']} is not a file")
        for name in config.channels:
            load_channel(name)
        if config.snr_min > config.snr_max:
            raise InvalidInput("--snr-min must not exceed --snr-max")

        def progress(step: int, loss: float, kodak: dict | None) -> None:
            line = f"step {step}/{config.steps}  train {10 * math.log10(1 / max(loss, 1e-12)):.2f} dB"
            if kodak:
                line += "  eval " + "  ".join(f"{k} dB: {val:.2f}" for k, val in kodak.items())
            run.progress(step, line, bool(kodak))

        train_adaptive(config, run.out, resume=run.resume, progress=progress, command=run.command, force=run.force)
        return f"wrote {run.out}"
