"""Per-stage time of one image through the semantic codecs: segment, caption, channel, correct, generate.

    python benchmarks/semantic_latency.py --tiny            # tiny random models (plumbing only)
    python benchmarks/semantic_latency.py                    # the real models (cached weights; a GPU)

Each stage is timed on its own (median of ``--repeats`` after one warm-up that also loads the
models), on the device the components choose (CUDA fp16 when present). With ``--tiny`` the
numbers say nothing about the real models' speed or quality: they check the stages run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_json  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, object]:
    import torch

    out = fn()  # warm-up (loads the model)
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    import torch

    from semcodec.channel import AWGNChannel, noise_variance
    from semcodec.codecs.multi_sc import fuse, split_grid
    from semcodec.links.text import decode_text, encode_text, to_alphabet
    from semcodec.imageio import load_image
    from semcodec.models.captioner import BlipCaptioner, LlavaCaptioner
    from semcodec.models.generator import Generator
    from semcodec.models.segmenter import Segmenter
    from semcodec.models.source import best_device
    from semcodec.models.speller import SpellingCorrector
    from semcodec.sample import sample_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="build and use the tiny random kit")
    ap.add_argument("--image", default=None, help="image file (default: the built-in sample)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.tiny:
        from semcodec.testing import build_tiny_models, use_tiny_models

        use_tiny_models(build_tiny_models(tempfile.mkdtemp(prefix="semcodec_tiny_")))
        args.steps, args.resolution = min(args.steps, 2), min(args.resolution, 64)
    image = load_image(args.image) if args.image else sample_image()
    h, w = image.shape[-2:]
    stages = {}
    stages["segment (FCN)"], seg = timed(lambda: Segmenter(size=64 if args.tiny else 520).segment(image), args.repeats)
    subs = split_grid(image, 2)
    stages["caption x4 (LLaVA, one batch)"], captions = timed(lambda: LlavaCaptioner().caption(subs), args.repeats)
    stages["caption (BLIP)"], _ = timed(lambda: BlipCaptioner().caption([image]), args.repeats)
    texts = [to_alphabet(c) for c in captions]

    def channel():
        out = []
        for t in texts:
            s, _ = encode_text(t)
            y, _ = AWGNChannel()(s, 6.0, torch.Generator().manual_seed(0))
            out.append(decode_text(y, noise_variance(6.0), None, len(t)))
        return out

    stages["text channel x4 (QPSK, 6 dB)"], received = timed(channel, args.repeats)
    stages["correct x4 (BART, one batch)"], corrected = timed(lambda: SpellingCorrector().correct(received), args.repeats)
    prompt = fuse({f"sub_{i}": c for i, c in enumerate(corrected)}, 2, seg.label if seg else None)
    slice_ = image[:, : h // 2, : w // 2]
    gen = Generator(ip_adapter=True, steps=args.steps, resolution=args.resolution)
    stages[f"generate (SD+IP-Adapter, {args.steps} steps)"], _ = timed(
        lambda: gen.generate(prompt, (h, w), image_prompt=slice_), args.repeats)
    rows = [[k, round(v * 1000, 1)] for k, v in stages.items()]
    print_table(["stage", "median ms"], rows)
    device = best_device()
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    print(f"device: {name}; models: {'tiny random (plumbing only)' if args.tiny else 'real'}")
    payload = {"tiny": args.tiny, "device": name, "image_size": [h, w], "steps": args.steps,
               "resolution": args.resolution, "median_ms": {k: v * 1000 for k, v in stages.items()}}
    print(f"wrote {write_json('semantic_latency' + ('_tiny' if args.tiny else ''), payload)}")


if __name__ == "__main__":
    main()
