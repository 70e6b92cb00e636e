"""deep-jscc vs bpg-ldpc on kodak24 at k/n = 1/12: mismatch (designed for 10 dB) and matched.

    python benchmarks/jscc_vs_bpg.py [--data ../shared/datasets/kodak24] [--resume]

1. Both designed for 10 dB, channel at 4, 6 and 10 dB (the cliff vs graceful degradation).
2. Matched (design SNR = channel SNR) at -3..19 dB: PSNR and MS-SSIM tables and a plot.
Also reports the deep-jscc encode time per Kodak image on this CPU (median of all images).
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

MATCHED = [-3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 19.0]


def encode_times(data: str | None) -> list[float]:
    import torch

    from semcodec.codecs.deep_jscc import DeepJsccCodec
    from semcodec.data import resolve
    from semcodec.imageio import load_image

    codec = DeepJsccCodec(design_snr_db=10.0)
    op = codec.operating_point()
    images = [load_image(i.path) for i in resolve("kodak24", data)[1]]
    codec.encode(images[0], op)  # load the model outside the timing
    times = []
    with torch.no_grad():
        for img in images:
            t0 = time.perf_counter()
            codec.encode(img, op)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    from semcodec.report import aggregate, plot

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--resume", action="store_true",
                    help="keep the records already in the results files (the bench skips them; wall time then "
                         "counts only the new work)")
    args = ap.parse_args()
    design = {"bandwidth": 1 / 12, "design_snr_db": 10.0}
    mism, wall1 = sweep("kodak24", args.data, {"deep-jscc": design, "bpg-ldpc": design}, [4.0, 6.0, 10.0],
                        RESULTS / "jscc_vs_bpg_mismatch.jsonl", fresh=not args.resume)
    print("Designed for 10 dB (mean PSNR, dB; nF = images decode_failed):")
    print_table(*table_rows(mism, "psnr"))
    matched = {"bandwidth": 1 / 12}
    recs, wall2 = sweep("kodak24", args.data, {"deep-jscc": matched, "bpg-ldpc": matched}, MATCHED,
                        RESULTS / "jscc_vs_bpg_matched.jsonl", fresh=not args.resume)
    print("\nMatched (design SNR = channel SNR), mean PSNR:")
    psnr_table = table_rows(recs, "psnr")
    print_table(*psnr_table)
    print("\nMatched, mean MS-SSIM:")
    ssim_table = table_rows(recs, "ms_ssim")
    print_table(*ssim_table)
    fig = plot(aggregate(recs, "psnr"), RESULTS / "jscc_vs_bpg_psnr.png")
    times = encode_times(args.data)
    print(f"\ndeep-jscc encode per Kodak image: median {1000 * statistics.median(times):.1f} ms "
          f"(max {1000 * max(times):.1f} ms) on this CPU")
    print(f"figure: {fig}")
    payload = {"mismatch_psnr": [*table_rows(mism, "psnr")], "matched_psnr": [*psnr_table],
               "matched_ms_ssim": [*ssim_table], "jscc_encode_ms_median": 1000 * statistics.median(times),
               "wall_s": wall1 + wall2}
    print(f"wrote {write_json('jscc_vs_bpg', payload)}")


if __name__ == "__main__":
    main()
