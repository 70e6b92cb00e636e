"""The SNR-adaptive learned codec vs the paper's deep JSCC vs BPG+LDPC on kodak24, k/n = 1/12.

    python benchmarks/learned_vs_classical.py [--data ../shared/datasets/kodak24] [--limit N] [--resume]

For AWGN and Rayleigh block fading, at -3..19 dB: adjscc (one model, matched and designed for
10 dB), deep-jscc (the per-SNR checkpoint nearest the channel SNR), bpg-ldpc (matched and
designed for 10 dB). Prints PSNR and MS-SSIM tables, writes JSON and a PSNR plot in which the
published SwinJSCC figures are drawn as reference markers (labelled as published, not ours),
and reports adjscc's encode + channel + decode time per Kodak image (median) on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, print_table, write_json  # noqa: E402
from _sweep import sweep, table_rows  # noqa: E402

SNRS = [-3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 19.0]
#: SwinJSCC-base (SNR + rate adaptive, one model), official weights re-measured on Kodak, k/n 1/12,
#: AWGN (semcomm/SwinJSCC issue 14). Published figures, not measured here.
SWINJSCC = {1.0: 30.35, 4.0: 31.98, 7.0: 33.34, 10.0: 34.41, 13.0: 35.19}


def run_times(data: str | None, limit: int | None) -> list[float]:
    """adjscc encode + AWGN + decode per image (model loaded before timing)."""
    from semcodec.channel import AWGNChannel
    from semcodec.codecs.adjscc import AdaptiveJsccCodec
    from semcodec.data import resolve
    from semcodec.imageio import load_image

    codec = AdaptiveJsccCodec(design_snr_db=10.0)
    images = [load_image(i.path) for i in resolve("kodak24", data)[1][:limit or None]]
    codec.run(images[0], snr_db=10.0, channel=AWGNChannel(), metrics=["psnr"])
    times = []
    for img in images:
        t0 = time.perf_counter()
        codec.run(img, snr_db=10.0, channel=AWGNChannel(), metrics=[])
        times.append(time.perf_counter() - t0)
    return times


def plot(recs: list[dict], channel: str, path: Path, n_images: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from semcodec.report import aggregate

    (table,) = aggregate(recs, "psnr")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, r in enumerate(table.rows):
        xs = [s for s in table.snrs if s in r.cells and r.cells[s].mean is not None]
        ax.plot(xs, [r.cells[s].mean for s in xs], marker="osD^v<>"[i % 7], label=f"{r.label} (measured)")
    if channel == "awgn":
        ax.plot(list(SWINJSCC), list(SWINJSCC.values()), "k*", markersize=10, linestyle="none",
                label="SwinJSCC, published figures (not measured here)")
    ax.set_xticks(table.snrs)
    ax.set_xlabel("channel SNR, Es/N0 (dB)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"kodak24 ({n_images} images), {channel.upper()}, k/n = 1/12")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def main() -> None:
    from semcodec.codecs.adjscc import checkpoint_from

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--resume", action="store_true",
                    help="keep the records already in the results files (the bench skips them; wall time then "
                         "counts only the new work)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images (a quick look)")
    args = ap.parse_args()
    card = checkpoint_from(None).card
    print(f"adjscc checkpoint: {card.get('steps_done')} steps, {card.get('train_seconds')} s on "
          f"{card.get('hardware')}")
    payload: dict = {"adjscc_card_steps": card.get("steps_done"), "swinjscc_published": SWINJSCC}
    wall = 0.0
    for channel in ("awgn", "rayleigh"):
        matched = {"bandwidth": 1 / 12}
        at10 = {"bandwidth": 1 / 12, "design_snr_db": 10.0}
        codecs = {"adjscc": matched, "deep-jscc": matched, "bpg-ldpc": matched}
        recs, t1 = sweep("kodak24", args.data, codecs, SNRS, RESULTS / f"learned_vs_classical_{channel}.jsonl",
                         channel=channel, limit=args.limit, fresh=not args.resume)
        designed, t2 = sweep("kodak24", args.data, {"adjscc": at10, "bpg-ldpc": at10}, SNRS,
                             RESULTS / f"learned_vs_classical_{channel}_designed10.jsonl", channel=channel,
                             limit=args.limit, fresh=not args.resume)
        wall += t1 + t2
        recs += designed
        n_images = len({r["image"] for r in recs})
        for metric in ("psnr", "ms_ssim"):
            headers, rows = table_rows(recs, metric)
            print(f"\n{channel.upper()}, mean {metric} over {n_images} images (nF = images decode_failed):")
            print_table(headers, rows)
            payload[f"{channel}_{metric}"] = [headers, rows]
        fig = plot(recs, channel, RESULTS / f"learned_vs_classical_{channel}.png", n_images)
        print(f"figure: {fig}")
    times = run_times(args.data, args.limit)
    median = statistics.median(times)
    print(f"\nadjscc encode + channel + decode per Kodak image (768x512): median {1000 * median:.0f} ms "
          f"(max {1000 * max(times):.0f} ms) on this CPU")
    payload.update({"adjscc_run_ms_median": 1000 * median, "wall_s": wall})
    print(f"wrote {write_json('learned_vs_classical', payload)}")


if __name__ == "__main__":
    main()
