"""bpg-ldpc over kodak24 at SNR -3, 0, 3, 6, 9, 12, 15, 19 dB (k/n = 1/12), with wall time.

    python benchmarks/kodak_sweep.py [--data ../shared/datasets/kodak24]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, print_table, write_json  # noqa: E402
from _sweep import sweep, table_rows  # noqa: E402

SNRS = [-3.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 19.0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    out = RESULTS / "kodak_sweep.jsonl"
    records, wall = sweep("kodak24", args.data, {"bpg-ldpc": {}}, SNRS, out)
    headers, rows = table_rows(records, "psnr")
    print_table(headers, rows)
    failed = {s: sum(r["status"] == "decode_failed" for r in records if r["snr_db"] == s) for s in SNRS}
    print(f"decode_failed per SNR: {failed}")
    print(f"wall time: {wall:.1f} s for {len(records)} transmissions")
    print(f"wrote {write_json('kodak_sweep', {'wall_s': wall, 'records': len(records), 'psnr_table': [headers, *rows], 'decode_failed': failed})}")


if __name__ == "__main__":
    main()
