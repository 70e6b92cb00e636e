"""Training of the deep JSCC autoencoder on random crops, through the project's channel.

The noise in training comes from :mod:`semcodec.channel` — the very function the bench uses —
so a checkpoint "trained at 10 dB" means the same 10 dB as everywhere else in the project.
Data are held in memory as uint8 tensors on the training device and cropped there, so a GPU is
not starved by a Python data loader. One *epoch* = one random crop of every training image.
"""

from __future__ import annotations

import json
import math
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import DatasetError, InvalidInput
from .checkpoint import (DeferredInterrupt, changed_settings, check_resume, load_state, real_paths, restore_rng,
                         save_checkpoint, state_path)
from .settings import RunSettings
from .trainer import Trainer, TrainOption, TrainRun
from .data import BYTES_PER_PIXEL, check_held_out, check_memory, list_images, load_uint8, random_crops


@dataclass(kw_only=True)
class TrainConfig(RunSettings):
    """Everything that determines a training run (written into the checkpoint's card)."""

    data: list[str]
    val: list[str] = field(default_factory=list)
    snr_db: float = 10.0
    bandwidth: float = 1 / 12
    channel: str = "awgn"
    epochs: int = 100
    crop: int = 128
    lr_final: float = 1e-4
    decay_at: float = 0.8
    val_every: int = 0


#: Settings a resumed run may change (how long, on what, how often it reports); every other one
#: would make the continued run a different experiment.
RESUMABLE_CHANGES = frozenset({"epochs", "device", "val_every"})

#: A run saves its state at least this often (seconds), mid-epoch too, so ``kill -9`` or a power
#: cut loses at most this much of it; Ctrl-C and SIGTERM save at once.
SAVE_SECONDS = 60.0


def forward_through_channel(model, x, channel, snr_db: float, generator=None):
    """Encoder -> project channel -> MMSE equaliser -> decoder, through the bench's own
    :class:`~semcodec.links.analog.AnalogLink` path; returns the reconstruction."""
    from ..links.analog import AnalogLink

    return AnalogLink(model, model.c / 96).forward(x, snr_db, channel, generator)


def evaluate_psnr(model, images: list, channel, snr_db: float, seed: int = 1234) -> float:
    """Mean PSNR (dB) over whole ``images`` (uint8 tensors) through the channel at ``snr_db``."""
    import torch

    gen = torch.Generator(device=images[0].device).manual_seed(seed)
    psnrs = []
    model.eval()
    with torch.no_grad():
        for img in images:
            x = img.float().div(255.0).unsqueeze(0)
            x_hat = forward_through_channel(model, x, channel, snr_db, gen)
            mse = torch.mean((x_hat.clamp(0, 1) - x) ** 2).item()
            psnrs.append(10 * math.log10(1.0 / max(mse, 1e-12)))
    model.train()
    return sum(psnrs) / len(psnrs)


def train_deep_jscc(
    config: TrainConfig,
    out: Path,
    resume: bool = False,
    progress: Callable[[int, int, float, float | None], None] | None = None,
    command: str | None = None,
    force: bool = False,
) -> dict:
    """Train (or resume) and write the checkpoint ``out`` with its JSON card; returns the card.

    ``progress(epoch, epochs, loss, val_psnr)`` is called after every epoch.
    """
    import torch
    from safetensors.torch import load_file

    from ..networks.deep_jscc import DeepJSCC, channels_for_ratio
    from ..channel import load_channel

    try:
        c = channels_for_ratio(config.bandwidth)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if config.crop % 4:
        raise InvalidInput("--crop must be a multiple of 4")
    check_resume(out, resume, force)
    check_memory(config.batch, config.crop**2, BYTES_PER_PIXEL["deep-jscc"], config.device, "deep-jscc")
    device = torch.device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick its kernels
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    train_files = list_images(config.data)
    if config.val:
        val_files = list_images(config.val)
    else:  # hold out every 20th image: a fixed, honest validation split
        val_files = train_files[::20]
        train_files = [f for i, f in enumerate(train_files) if i % 20]
        if not train_files:
            raise DatasetError("one training image: every 20th is held out for validation, so give at least two "
                               "(or a --val folder)")
    check_held_out(train_files, [])  # never kodak24; --val is the user's own monitoring split
    train_imgs = [im for im in load_uint8(train_files, device) if min(im.shape[-2:]) >= config.crop]
    val_imgs = load_uint8(val_files, device)
    if not train_imgs:
        raise DatasetError(f"no training image is at least {config.crop} px on each side")

    channel = load_channel(config.channel)()
    model = DeepJSCC(c).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start_epoch, start_step, partial_total = 0, 0, 0.0
    if resume and state_path(out).exists():
        card_path = out.with_suffix(".json")
        try:
            old = json.loads(card_path.read_text()).get("config") if card_path.is_file() else None
        except (OSError, ValueError, AttributeError, RecursionError):
            old = None
        if not isinstance(old, dict):
            raise InvalidInput(f"--resume: {out.with_suffix('.json').name} (the card) is missing or damaged: "
                               "the run's configuration is unknown")
        changed = changed_settings(old, asdict(config), RESUMABLE_CHANGES)
        if changed:
            raise InvalidInput(f"--resume: the run was made with other {', '.join(changed)} "
                               f"({', '.join(f'{k}={old.get(k)!r}' for k in changed)})")
        state = load_state(out, device, "a deep-jscc training state", ("optimizer", "epoch"))
        changed = changed_settings(state.get("config", asdict(config)), asdict(config), RESUMABLE_CHANGES)
        if changed:  # another run's state (and checkpoint) put in place of this one's
            raise InvalidInput(f"--resume: {state_path(out).name} is the state of a run with other "
                               f"{', '.join(changed)} than its card and this command")
        try:
            model.load_state_dict(load_file(str(out), device=str(device)))
            optimizer.load_state_dict(state["optimizer"])
            start_epoch = int(state["epoch"])
            start_step, partial_total = int(state.get("step_in_epoch", 0)), float(state.get("partial_loss", 0.0))
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line
            raise InvalidInput(f"--resume: cannot continue from {out} ({type(exc).__name__}); "
                               "it is not a checkpoint of this configuration") from None
        if start_epoch > config.epochs or (start_epoch == config.epochs and start_step):
            raise InvalidInput(f"--resume: the run has done {start_epoch} epochs already; --epochs must be at least that")
        if "rng" in state:  # saved mid-run: continue the very random sequence
            restore_rng(out, rng, state["rng"], state.get("torch_rng"))
        else:  # a state of an older release, saved at an epoch's end
            rng.seed(config.seed + start_epoch)
            torch.manual_seed(config.seed + start_epoch)

    steps_per_epoch = max(1, len(train_imgs) // config.batch)
    val_every = config.val_every or max(1, config.epochs // 20)
    t0 = time.time()
    val_psnr: float | None = None
    loss_value = float("nan")
    last_save = time.monotonic()

    def checkpoint(epoch: int, step_in_epoch: int, total: float, psnr: float | None) -> None:
        """Weights, card and a state that continues exactly here (mid-epoch too)."""
        card = _card(config, c, epoch, psnr, loss_value, len(train_imgs), len(val_imgs), time.time() - t0, command)
        save_checkpoint(out, model, card, state={
            "optimizer": optimizer.state_dict(), "epoch": epoch, "step_in_epoch": step_in_epoch,
            "partial_loss": total, "rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "config": asdict(config)})

    with DeferredInterrupt() as stop:
        for epoch in range(start_epoch, config.epochs):
            lr = config.lr if epoch < config.decay_at * config.epochs else config.lr_final
            for group in optimizer.param_groups:
                group["lr"] = lr
            first = start_step if epoch == start_epoch else 0
            total = partial_total if epoch == start_epoch else 0.0
            for step in range(first, steps_per_epoch):
                x = random_crops(train_imgs, config.batch, config.crop, rng)
                x_hat = forward_through_channel(model, x, channel, config.snr_db)
                loss = torch.nn.functional.mse_loss(x_hat, x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total += loss.item()
                if step + 1 < steps_per_epoch and (stop.requested or time.monotonic() - last_save > SAVE_SECONDS):
                    checkpoint(epoch, step + 1, total, val_psnr)  # mid-epoch: a long epoch is not lost
                    last_save = time.monotonic()
                    if stop.requested:
                        stop.raise_now(out, f"step {step + 1} of {steps_per_epoch} in epoch {epoch + 1}")
            loss_value = total / steps_per_epoch
            last = epoch + 1 == config.epochs
            if (epoch + 1) % val_every == 0 or last:
                val_psnr = evaluate_psnr(model, val_imgs, channel, config.snr_db)
            if progress:
                progress(epoch + 1, config.epochs, loss_value, val_psnr)
            if (epoch + 1) % val_every == 0 or last or stop.requested or time.monotonic() - last_save > SAVE_SECONDS:
                checkpoint(epoch + 1, 0, 0.0, val_psnr)
                last_save = time.monotonic()
            if stop.requested and not last:
                stop.raise_now(out, f"the end of epoch {epoch + 1}")
    return json.loads(out.with_suffix(".json").read_text())


def _card(config: TrainConfig, c: int, epochs_done: int, val_psnr: float | None, loss: float,
          n_train: int, n_val: int, seconds: float, command: str | None) -> dict:
    import torch

    return {
        "model": "deep-jscc (Bourtsoulatze et al. 2019), PReLU, per-image power normalisation",
        "latent_channels": c,
        "bandwidth_ratio": c / 96,
        "train_snr_db": config.snr_db,
        "channel": config.channel,
        "epochs_done": epochs_done,
        "train_images": n_train,
        "val_images": n_val,
        "val_psnr_db": None if val_psnr is None else round(val_psnr, 3),  # None: saved before the first validation
        "final_train_mse": loss,
        "train_seconds": round(seconds, 1),
        "device": config.device,
        "torch": torch.__version__,
        "config": asdict(config),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
    }


class DeepJsccTrainer(Trainer):
    """Train the deep JSCC autoencoder through the project's own channel."""

    name = "deep-jscc"
    bytes_per_pixel = BYTES_PER_PIXEL["deep-jscc"]
    options = {
        "data": TrainOption(list[Path], help="Folder of training images (repeatable)."),
        "val": TrainOption(Optional[list[Path]], None, "Validation folder; default: every 20th training image held out."),
        "snr": TrainOption(float, 10.0, "Training SNR, Es/N0 in dB."),
        "bandwidth": TrainOption(str, "1/12", "Bandwidth ratio k/n = c/96."),
        "channel": TrainOption(str, "awgn"),
        "epochs": TrainOption(int, 100, "One epoch = one random crop of every image.", min=1),
        "batch": TrainOption(int, 16, min=1),
        "crop": TrainOption(int, 128, min=8),
        "lr": TrainOption(float, 1e-3, min=1e-12, max=10.0),
        "seed": TrainOption(int, 0, min=0, max=2**63 - 1),
    }

    def total(self, values: dict) -> int:
        return int(values["epochs"])

    def run(self, values: dict, run: TrainRun) -> str:
        from ..channel import check_snr
        from ..signal import parse_ratio

        config = TrainConfig(
            data=real_paths([str(d) for d in values["data"]]), val=real_paths([str(v) for v in values["val"] or []]),
            snr_db=check_snr(values["snr"]), bandwidth=parse_ratio(values["bandwidth"]), channel=values["channel"],
            epochs=values["epochs"], batch=values["batch"], crop=values["crop"], lr=values["lr"],
            lr_final=values["lr"] / 10, seed=values["seed"], device=run.device,
        )

        def progress(epoch: int, total: int, loss: float, val_psnr: float | None) -> None:
            run.progress(epoch, f"epoch {epoch}/{total}  loss {loss:.5f}"
                         + (f"  val {val_psnr:.2f} dB" if val_psnr is not None else ""), False)

        card = train_deep_jscc(config, run.out, resume=run.resume, progress=progress, command=run.command,
                               force=run.force)
        return f"wrote {run.out} (validation PSNR {card['val_psnr_db']:.2f} dB at {config.snr_db:g} dB)"
