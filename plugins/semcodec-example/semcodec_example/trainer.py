"""``semcodec train tiny-ae``: an example plugin trainer, the template for plugin authors.

A two-layer convolutional autoencoder learns to send 8x8 patches' worth of pixels through the
project's AWGN channel at one SNR (k/n = 1/8 here: 3 x 64 pixel values in, 12 complex symbols
out). What a trainer gets from semcodec: typed options (``options``, shown by ``--help``), the
checks before the run (``--out``, ``--resume``/``--force``, ``--device``, and that one step's
memory, ``bytes_per_pixel`` x batch x crop², fits the machine), one progress display
(report through ``run.progress``), and the framework's data helpers and checkpoint writer
(weights, card and training state written atomically; ``--resume`` continues exactly).
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from semcodec.train import Trainer, TrainOption, TrainRun
from semcodec.train.checkpoint import changed_settings, load_state, save_checkpoint, state_path
from semcodec.train.data import list_images, load_uint8, random_crops


def _network():
    import torch

    class TinyAE(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = torch.nn.Conv2d(3, 24, 8, stride=8)  # 12 complex symbols per 8x8 patch
            self.dec = torch.nn.ConvTranspose2d(24, 3, 8, stride=8)

        def forward(self, x, snr_db: float):
            from semcodec.channel import AWGNChannel

            z = self.enc(x).flatten(1)
            s = torch.view_as_complex(z.reshape(z.shape[0], -1, 2).contiguous())
            s = s / s.abs().pow(2).mean(dim=1, keepdim=True).sqrt()  # unit mean symbol energy
            y, _ = AWGNChannel()(s, snr_db)  # the project's channel: the bench's very noise
            z_hat = torch.view_as_real(y).reshape(x.shape[0], 24, x.shape[2] // 8, x.shape[3] // 8)
            return torch.sigmoid(self.dec(z_hat))

    return TinyAE()


class TinyAutoencoderTrainer(Trainer):
    """Train a tiny example autoencoder through AWGN (a plugin trainer's template)."""

    name = "tiny-ae"
    log_every = 5
    options = {
        "data": TrainOption(list[Path], help="Folder of training images (repeatable)."),
        "steps": TrainOption(int, 50, "Optimiser steps.", min=1),
        "snr": TrainOption(float, 10.0, "Training SNR, Es/N0 in dB.", min=-20.0, max=40.0),
        "batch": TrainOption(int, 4, min=1),
        "crop": TrainOption(int, 32, "Crop side (a multiple of 8).", min=8),
        "seed": TrainOption(int, 0, min=0, max=2**63 - 1),
    }

    def run(self, values: dict, run: TrainRun) -> str:
        import torch

        from semcodec.errors import InvalidInput

        if values["crop"] % 8:
            raise InvalidInput("--crop must be a multiple of 8")
        rng = random.Random(values["seed"])
        torch.manual_seed(values["seed"])
        images = [im for im in load_uint8(list_images([str(d) for d in values["data"]]), run.device)
                  if min(im.shape[-2:]) >= values["crop"]]
        if not images:
            raise InvalidInput(f"no training image is at least {values['crop']} px on each side")
        net = _network().to(run.device)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        config = {k: values[k] for k in ("snr", "batch", "crop", "seed")}
        step = 0
        if run.resume:
            state = load_state(run.out, run.device, "a tiny-ae training state")
            changed = changed_settings(state["config"], config, resumable=())
            if changed:
                raise InvalidInput(f"--resume: the run was made with other {', '.join(changed)}")
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            step = int(state["step"])
            rng.setstate(state["rng"])
        loss = float("nan")
        while step < values["steps"]:
            x = random_crops(images, values["batch"], values["crop"], rng)
            mse = torch.nn.functional.mse_loss(net(x, values["snr"]), x)
            opt.zero_grad()
            mse.backward()
            opt.step()
            step += 1
            loss = mse.item()
            run.progress(step, f"step {step}/{values['steps']}  train {10 * math.log10(1 / max(loss, 1e-12)):.2f} dB",
                         step == values["steps"])
        card = {"model": "tiny-ae (semcodec-example)", "steps_done": step, "config": config,
                "train_psnr_db": round(10 * math.log10(1 / max(loss, 1e-12)), 3), "command": run.command}
        save_checkpoint(run.out, net, card, state={"model": net.state_dict(), "optimizer": opt.state_dict(),
                                                   "step": step, "rng": rng.getstate(), "config": config})
        return f"wrote {run.out} and {state_path(run.out).name} ({card['train_psnr_db']:.2f} dB on the training crops)"
