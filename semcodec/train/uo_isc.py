"""Two-phase training of UO-ISC (``semcodec train uo-isc``).

Phase 1 (until ``phase2_at`` of the steps): reconstruction (L1 on pixels + a perceptual term) +
the VQ loss + the user-intent relevance loss (a frozen VLM compares original and reconstruction
under the question, :mod:`semcodec.models.relevance`). Phase 2 adds the adversarial loss: a
PatchGAN critic with spectral norm trained with WGAN-GP. Adam (betas 0.5, 0.999), generator lr
1e-4 and critic lr 1e-5 by default, linear warm-up then cosine decay, gradient clipping at 1.

The perceptual term compares the frozen CLIPSeg vision tower's hidden states of the
reconstruction with the original's (the paper used VGG features; CLIPSeg is already loaded and
is what the transmitter sees). The training channel is noiseless, as in the paper; the channel
enters at evaluation (``semcodec bench``).

Every ``save_every`` steps the checkpoint (``.safetensors``: the trainable network, its
architecture and extracted layers in the metadata), its JSON card and a ``.state.pt`` (critic,
optimisers, step, random states) are written atomically, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import InvalidInput
from .checkpoint import (DeferredInterrupt, changed_settings, check_resume, load_state, restore_rng, save_checkpoint,
                         state_path)
from .data import check_memory
from .settings import StepSettings
from .trainer import Trainer, TrainOption, TrainRun

if TYPE_CHECKING:
    from ..queries import Sample


@dataclass(kw_only=True)
class UoIscTrainConfig(StepSettings):
    """Everything that determines a run (written into the card)."""

    data: str
    phase2_at: float = 0.5
    batch: int = 4
    lr: float = 1e-4
    lr_d: float = 1e-5
    layers: list[int] = field(default_factory=lambda: [3, 6, 9, 12])
    reduce_dim: int = 64
    group: int = 32
    codebook: int = 64
    levels: int = 4
    width: int = 64
    align: bool = True
    pixel_weight: float = 1.0
    perceptual_weight: float = 1.0
    relevance_weight: float = 0.1
    adv_weight: float = 0.01
    gp_weight: float = 10.0


#: What --resume may change: when and where the run goes on, not what it computes.
RESUMABLE_CHANGES = frozenset({"steps", "warmup", "save_every", "device"})


def _load(sample: "Sample", size: int):
    import numpy as np
    import torch
    from PIL import Image

    from ..imageio import open_rgb

    img = open_rgb(sample.image).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)


def gradient_penalty(critic, real, fake):
    """WGAN-GP: ``(||grad critic(mix)|| - 1)^2`` on random interpolates of real and fake."""
    import torch

    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def generator_loss(net, towers, relevance, x, hidden, text, questions: list[str], layers: tuple[int, ...],
                   config: UoIscTrainConfig):
    """Phase 1's loss on a batch: ``(reconstruction, L1 + perceptual + VQ + relevance)``."""
    import torch

    recon, _, vq_loss = net(hidden, text)
    loss = config.pixel_weight * (recon - x).abs().mean() + vq_loss
    if config.perceptual_weight:
        feats = towers.hidden_states(recon, layers)
        loss = loss + config.perceptual_weight * torch.stack(
            [(f - h).square().mean() for f, h in zip(feats, hidden)]).mean()
    if relevance is not None:
        loss = loss + config.relevance_weight * relevance(recon, x, questions)
    return recon, loss


def critic_step(critic, optimizer, real, fake, config: UoIscTrainConfig) -> float:
    """One WGAN-GP critic update; returns its loss."""
    loss = critic(fake).mean() - critic(real).mean() + config.gp_weight * gradient_penalty(critic, real, fake)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def _lr_factor(step: int, config: UoIscTrainConfig) -> float:
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def save(out: Path, net, layers: list[int], card: dict, state: dict | None = None) -> None:
    """Checkpoint (architecture and extracted layers in its metadata), card and training state."""
    meta = {"architecture": json.dumps(net.architecture()), "extract_layers": json.dumps(layers)}
    save_checkpoint(out, net, card, meta, state)


def check_overwrite(out: Path, resume: bool, force: bool) -> None:
    """The trainers' rule, except that ``--resume`` finds its missing state in :func:`train_uo_isc`."""
    if not resume:
        check_resume(out, False, force)
    elif force:
        raise InvalidInput("--resume continues a run and --force replaces it: give one of them")


def train_uo_isc(config: UoIscTrainConfig, samples: list["Sample"], out: Path, resume: bool = False,
                 progress: Callable[[int, str, float, float | None], None] | None = None,
                 command: str | None = None, force: bool = False) -> dict:
    """Train (or resume) and write ``out`` with its card; returns the card.

    ``progress(step, phase, generator_loss, critic_loss)`` after every step."""
    import torch
    from safetensors.torch import load_file

    from ..models.clipseg import ClipSegTowers
    from ..models.relevance import RelevanceLoss
    from ..networks.uo_isc import PatchDiscriminator, UoIscNet

    if not samples:
        raise InvalidInput("no training sample")
    check_overwrite(out, resume, force)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    towers = ClipSegTowers(config.device, "uo-isc training")
    depth = towers.num_layers
    if not config.layers or any(not 1 <= i <= depth for i in config.layers):
        raise InvalidInput(f"--layers must be between 1 and {depth} (the CLIPSeg vision tower's depth)")
    size = towers.image_size
    # the frozen towers run without gradients; the decoder and critic train at the tower's size
    check_memory(config.batch, size * size, 800 + 24 * config.width, config.device, "uo-isc", None)  # CLIPSeg's fixed size
    try:
        net = UoIscNet(towers.hidden_size, towers.text_dim, len(config.layers), config.reduce_dim, config.group,
                       config.codebook, config.levels, config.width, config.align)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    device = torch.device(config.device)
    net.to(device).train()
    critic = PatchDiscriminator(min(64, config.width)).to(device).train()
    opt_g = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
    relevance = RelevanceLoss(config.device) if config.relevance_weight > 0 else None
    layers = tuple(config.layers)
    start, seconds = 0, 0.0
    if resume:
        if not state_path(out).is_file():
            raise InvalidInput(f"--resume: {state_path(out)} does not exist (remove --resume to start over)")
        state = load_state(out, device, "this trainer's state")
        changed = changed_settings(state["config"], asdict(config), RESUMABLE_CHANGES)
        if changed:
            raise InvalidInput(f"--resume: the run was made with other {', '.join(changed)}")
        try:
            net.load_state_dict(load_file(str(out), device=str(device)))
            critic.load_state_dict(state["critic"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            start, seconds = int(state["step"]), float(state["seconds"])
        except Exception as exc:  # noqa: BLE001 - a damaged state or checkpoint: one line
            raise InvalidInput(f"--resume: {out} and its state do not fit this model ({type(exc).__name__})") from None
        restore_rng(out, rng, state.get("python_rng"), state.get("torch_rng"))
    t0 = time.time() - seconds
    history: list[dict] = list(state.get("history", [])) if resume else []
    g_value, d_value = float("nan"), None
    with DeferredInterrupt() as stop:
        for step in range(start, config.steps):
            for opt, base in ((opt_g, config.lr), (opt_d, config.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = base * _lr_factor(step, config)
            batch = [samples[rng.randrange(len(samples))] for _ in range(config.batch)]
            x = torch.stack([_load(s, size) for s in batch]).to(device)
            questions = [s.question for s in batch]
            with torch.no_grad():
                hidden = towers.hidden_states(x, layers)
                text = towers.text_features(questions).to(device)
            phase = "2" if step >= config.phase2_at * config.steps else "1"
            recon, loss = generator_loss(net, towers, relevance, x, hidden, text, questions, layers, config)
            if phase == "2":
                d_value = critic_step(critic, opt_d, x, recon.detach(), config)
                loss = loss - config.adv_weight * critic(recon).mean()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt_g.step()
            g_value = float(loss.item())
            done = step + 1
            if progress:
                progress(done, phase, g_value, d_value)
            if done % config.save_every == 0 or done == config.steps or stop.requested:
                history.append({"step": done, "phase": phase, "loss": round(g_value, 5),
                                "critic_loss": None if d_value is None else round(d_value, 5)})
                card = _card(config, net, samples, done, time.time() - t0, history, int(hidden[0].shape[1]), command)
                state = {"critic": critic.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                         "step": done, "seconds": time.time() - t0, "python_rng": rng.getstate(),
                         "torch_rng": torch.get_rng_state(), "config": asdict(config), "history": history}
                save(out, net, list(layers), card, state)
            if stop.requested and done < config.steps:
                stop.raise_now(out, f"step {done}")
    return json.loads(out.with_suffix(".json").read_text())


def _card(config: UoIscTrainConfig, net, samples, steps: int, seconds: float, history: list[dict], tokens: int,
          command: str | None) -> dict:
    import platform

    import torch

    from ..models.source import model_id
    from ..provenance import component_provenance

    return {
        "model": "uo-isc (Huang & Wong 2025): CLIPSeg features, FiLM query alignment, segment-wise VQ, conv decoder",
        "architecture": net.architecture(),
        "extract_layers": list(config.layers),
        "payload_bits_per_image": tokens * len(config.layers) * (config.reduce_dim // config.group)
        * net.vq.bits_per_index,
        "tokens_per_layer": tokens,
        "clipseg": {"id": model_id("clipseg"), **component_provenance("clipseg")},
        "relevance_vlm": model_id("relevance_vlm") if config.relevance_weight > 0 else None,
        "data": config.data,
        "samples": len(samples),
        "steps_done": steps,
        "train_seconds": round(seconds, 1),
        "hardware": {"device": config.device, "machine": platform.machine(), "cpus": os.cpu_count(),
                     "torch": torch.__version__},
        "history": history,
        "config": asdict(config),
        "command": command or " ".join(shlex.quote(a) for a in sys.argv),
    }


class UoIscTrainer(Trainer):
    """Train UO-ISC in two phases (reconstruction + VQ + relevance, then adversarial)."""

    name = "uo-isc"
    log_every = 10
    options = {
        "images": TrainOption(Path, help="Folder of the training images (COCO train2014 for VQAv2)."),
        "queries": TrainOption(Optional[Path], None, 'Questions as JSON lines {"image": ID, "question": TEXT} (ids: files of --images).'),
        "vqa_questions": TrainOption(Optional[Path], None, "A VQAv2 questions JSON (instead of --queries)."),
        "coco_instances": TrainOption(Optional[Path], None, "COCO instance annotations: train on the paper's 'unseen objects' split (no animal images)."),
        "limit": TrainOption(Optional[int], None, "Use only the first N questions.", min=1),
        "steps": TrainOption(int, 20000, min=1),
        "phase2_at": TrainOption(float, 0.5, "Fraction of the steps after which the adversarial phase starts.", min=0.0, max=1.0),
        "batch": TrainOption(int, 4, min=1),
        "lr": TrainOption(float, 1e-4, min=1e-12, max=10.0),
        "layers": TrainOption(str, "3,6,9,12", "CLIPSeg vision layers sent (1-based, comma-separated)."),
        "reduce_dim": TrainOption(int, 64, "Per-token width after projection (a multiple of 32): sets the payload.", min=1, max=4096),
        "width": TrainOption(int, 64, "Decoder channels.", min=4, max=1024),
        "align": TrainOption(bool, True, "FiLM query alignment (off: the paper's ablation).", flags=("--align/--no-align",)),
        "relevance_weight": TrainOption(float, 0.1, "Weight of the user-intent relevance loss (0: no VLM needed).", min=0.0),
        "save_every": TrainOption(int, 500, min=1),
        "seed": TrainOption(int, 0, min=0, max=2**63 - 1),
        "model": TrainOption(Optional[list[str]], None, "Component weights COMPONENT=ID or local folder (repeatable)."),
    }

    def check(self, run: TrainRun) -> None:
        check_overwrite(run.out, run.resume, run.force)

    def run(self, values: dict, run: TrainRun) -> str:
        from ..models.source import apply_overrides
        from ..queries import read_vqav2, samples_from_queries, unseen_objects_split

        v = values
        apply_overrides(v["model"])
        if (v["queries"] is None) == (v["vqa_questions"] is None):
            raise InvalidInput("give the questions with exactly one of --queries FILE or --vqa-questions FILE")
        try:
            layer_list = [int(x) for x in v["layers"].split(",") if x.strip()]
        except ValueError:
            raise InvalidInput(f"--layers wants comma-separated layer numbers, got {v['layers']!r}") from None
        if not layer_list or len(set(layer_list)) != len(layer_list):
            raise InvalidInput(f"--layers wants distinct layer numbers, e.g. 3,6,9,12; got {v['layers']!r}")
        if v["coco_instances"] is not None and v["vqa_questions"] is None:
            raise InvalidInput("--coco-instances splits COCO images by their ids: it needs --vqa-questions")
        if v["queries"] is not None:
            samples = samples_from_queries(v["queries"], v["images"])
            samples = samples[: v["limit"]] if v["limit"] else samples
            data = f"queries {v['queries']} on {v['images']}"
        else:
            samples = read_vqav2(v["vqa_questions"], v["images"], v["limit"])
            data = f"VQAv2 {v['vqa_questions']} on {v['images']}"
        if v["coco_instances"] is not None:
            samples, held_out = unseen_objects_split(samples, v["coco_instances"])
            data += f"; unseen-objects split: {len(samples)} training questions without animals, {len(held_out)} held out"
        steps = v["steps"]
        config = UoIscTrainConfig(data=data, steps=steps, phase2_at=v["phase2_at"], batch=v["batch"], lr=v["lr"],
                                  layers=layer_list, reduce_dim=v["reduce_dim"], width=v["width"], align=v["align"],
                                  relevance_weight=v["relevance_weight"], save_every=v["save_every"], seed=v["seed"],
                                  device=run.device, warmup=min(500, max(1, steps // 20)))

        def progress(step: int, phase: str, loss: float, critic: float | None) -> None:
            tail = "" if critic is None else f"  critic {critic:.4f}"
            run.progress(step, f"step {step}/{steps}  phase {phase}  loss {loss:.4f}{tail}", False)

        train_uo_isc(config, samples, run.out, resume=run.resume, progress=progress, command=run.command,
                     force=run.force)
        return f"wrote {run.out}"
