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
from typing import Callable

from .errors import DatasetError, InvalidInput


@dataclass
class TrainConfig:
    """Everything that determines a training run (written into the checkpoint's card)."""

    data: list[str]
    val: list[str] = field(default_factory=list)
    snr_db: float = 10.0
    bandwidth: float = 1 / 12
    channel: str = "awgn"
    epochs: int = 100
    batch: int = 16
    crop: int = 128
    lr: float = 1e-3
    lr_final: float = 1e-4
    decay_at: float = 0.8
    seed: int = 0
    val_every: int = 0
    device: str = "cpu"


#: Settings a resumed run may change (how long, on what, how often it reports); every other one
#: would make the continued run a different experiment.
RESUMABLE_CHANGES = frozenset({"epochs", "device", "val_every"})


def list_images(folders: list[str]) -> list[Path]:
    """All image files directly inside ``folders`` (sorted, so runs are reproducible)."""
    from .data import folder

    return [image.path for f in folders for image in folder(f, "training data")]


def _load_uint8(files: list[Path], device) -> list:
    import numpy as np
    import torch

    from .imageio import open_rgb

    return [
        torch.from_numpy(np.asarray(open_rgb(f), dtype=np.uint8).copy()).permute(2, 0, 1).to(device)
        for f in files
    ]


def random_crops(images: list, n: int, crop: int, rng: random.Random, rotate: bool = False):
    """``n`` random ``crop``x``crop`` patches with random horizontal flips (and, with ``rotate``,
    a random multiple of 90° rotation), ``[n, 3, crop, crop]`` in [0, 1]."""
    import torch

    out = []
    for _ in range(n):
        img = images[rng.randrange(len(images))]
        h, w = img.shape[-2:]
        top, left = rng.randrange(h - crop + 1), rng.randrange(w - crop + 1)
        patch = img[:, top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch = patch.flip(-1)
        out.append(torch.rot90(patch, rng.randrange(4), dims=(-2, -1)) if rotate else patch)
    return torch.stack(out).float().div_(255.0)


def forward_through_channel(model, x, channel, snr_db: float, generator=None):
    """Encoder -> project channel -> MMSE equaliser -> decoder, through the bench's own
    :class:`~semcodec.links.analog.AnalogLink` path; returns the reconstruction."""
    from .links.analog import AnalogLink

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


def save_checkpoint(path: Path, model, card: dict, optimizer=None, epoch: int = 0) -> None:
    """Write ``path`` (safetensors weights), ``path.json`` (card) and, for resuming, a state file."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    if optimizer is not None:
        torch.save({"optimizer": optimizer.state_dict(), "epoch": epoch}, path.with_suffix(".state.pt"))


def check_resume(out: Path, resume: bool, force: bool = False) -> None:
    """A trained model is work: never replace it silently. Without ``--resume`` an existing
    checkpoint (or its card or training state) is refused unless ``--force``; ``--resume``
    without a training state would silently start over: refuse that too."""
    state_path = out.with_suffix(".state.pt")
    if resume and force:
        raise InvalidInput("--resume continues a run and --force replaces it: give one of them")
    if not resume and not force:
        existing = [p for p in (out, out.with_suffix(".json"), state_path) if p.exists()]
        if existing:
            raise InvalidInput(f"--out: {existing[0]} exists (a trained model's files); add --resume to continue "
                               "that run or --force to replace it")
    if resume and out.exists() and not state_path.exists():
        raise InvalidInput(f"--resume: {out} exists but its training state {state_path.name} does not; "
                           "remove --resume and add --force to start over (it overwrites the file)")
    if resume and not state_path.exists():
        raise InvalidInput(f"--resume: nothing to resume (no training state {state_path}); remove --resume to start")


#: Measured peak training memory per pixel of a batch (forward + backward, float32, CPU), with a
#: margin: deep JSCC ~430 B, adjscc at width 64 ~1,035 B (grows with the width).
BYTES_PER_PIXEL = {"deep-jscc": 600, "adjscc": 1400}


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


def check_memory(batch: int, pixels: int, bytes_per_pixel: float, device: str, what: str,
                 size_option: str | None = "--crop") -> None:
    """Memory follows ``--batch`` x crop, not the data: estimate one step before the first one
    and refuse in one line past what the machine has (the kernel would kill the run silently).
    ``size_option``: the trainer's option that sets the pixels (``None``: a fixed input size)."""
    need = batch * pixels * bytes_per_pixel
    free = available_memory(device)
    if free is not None and need > 0.8 * free:
        raise InvalidInput(f"--batch {batch}: one training step of {what} needs about {need / 2**30:.1f} GiB "
                           f"({batch} x {pixels:,} pixels), more than the {free / 2**30:.1f} GiB free on {device}; "
                           f"lower --batch{f' or {size_option}' if size_option else ''}")


def check_held_out(train: list[Path], held_out: list[Path]) -> bool:
    """Refuse training on a test image: any file of the kodak24 test set (by its pinned SHA-256,
    wherever it lies and whatever it is called) or of the evaluation folder. Returns whether the
    evaluation set is exactly kodak24 (so a card may call its curve the kodak24 curve)."""
    from .data import KODAK24_SHA256, sha256

    kodak = set(KODAK24_SHA256.values())
    held = {sha256(p): p for p in held_out}
    for path in train:
        digest = sha256(path)
        if digest in kodak:
            raise InvalidInput(f"training data {path} is a kodak24 image: kodak24 is the test set, never trained on")
        if digest in held:
            raise InvalidInput(f"training data {path} is also in the evaluation data ({held[digest]})")
    return bool(held) and set(held) == kodak


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

    from .networks.deep_jscc import DeepJSCC, channels_for_ratio
    from .registry import load_channel

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
    check_held_out(train_files, [])  # never kodak24; --val is the user's own monitoring split
    train_imgs = [im for im in _load_uint8(train_files, device) if min(im.shape[-2:]) >= config.crop]
    val_imgs = _load_uint8(val_files, device)
    if not train_imgs:
        raise DatasetError(f"no training image is at least {config.crop} px on each side")

    channel = load_channel(config.channel)()
    model = DeepJSCC(c).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start_epoch = 0
    state_path = out.with_suffix(".state.pt")
    if resume and state_path.exists():
        try:
            old = json.loads(out.with_suffix(".json").read_text()).get("config")
        except (OSError, ValueError, AttributeError):
            old = None
        if not isinstance(old, dict):
            raise InvalidInput(f"--resume: {out.with_suffix('.json').name} (the card) is missing or damaged: "
                               "the run's configuration is unknown")
        changed = sorted(k for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES and old.get(k) != v)
        if changed:
            raise InvalidInput(f"--resume: the run was made with other {', '.join(changed)} "
                               f"({', '.join(f'{k}={old.get(k)!r}' for k in changed)})")
        try:
            model.load_state_dict(load_file(str(out), device=str(device)))
            state = torch.load(state_path, map_location=device, weights_only=True)
            optimizer.load_state_dict(state["optimizer"])
            start_epoch = int(state["epoch"])
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line
            raise InvalidInput(f"--resume: cannot continue from {out} ({type(exc).__name__}); "
                               "it is not a checkpoint of this configuration") from None
        if start_epoch > config.epochs:
            raise InvalidInput(f"--resume: the run has done {start_epoch} epochs already; --epochs must be at least that")
        rng.seed(config.seed + start_epoch)
        torch.manual_seed(config.seed + start_epoch)

    steps_per_epoch = max(1, len(train_imgs) // config.batch)
    val_every = config.val_every or max(1, config.epochs // 20)
    t0 = time.time()
    val_psnr: float | None = None
    loss_value = float("nan")
    for epoch in range(start_epoch, config.epochs):
        lr = config.lr if epoch < config.decay_at * config.epochs else config.lr_final
        for group in optimizer.param_groups:
            group["lr"] = lr
        total = 0.0
        for _ in range(steps_per_epoch):
            x = random_crops(train_imgs, config.batch, config.crop, rng)
            x_hat = forward_through_channel(model, x, channel, config.snr_db)
            loss = torch.nn.functional.mse_loss(x_hat, x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item()
        loss_value = total / steps_per_epoch
        last = epoch + 1 == config.epochs
        if (epoch + 1) % val_every == 0 or last:
            val_psnr = evaluate_psnr(model, val_imgs, channel, config.snr_db)
            card = _card(config, c, epoch + 1, val_psnr, loss_value, len(train_imgs),
                         len(val_imgs), time.time() - t0, command)
            save_checkpoint(out, model, card, optimizer, epoch + 1)
        if progress:
            progress(epoch + 1, config.epochs, loss_value, val_psnr)
    return json.loads(out.with_suffix(".json").read_text())


def _card(config: TrainConfig, c: int, epochs_done: int, val_psnr: float, loss: float,
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
        "val_psnr_db": round(val_psnr, 3),
        "final_train_mse": loss,
        "train_seconds": round(seconds, 1),
        "device": config.device,
        "torch": torch.__version__,
        "config": asdict(config),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
    }
