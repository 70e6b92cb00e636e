"""BER/FER vs Es/N0 of every MCS on AWGN; writes the MCS table the codec chooses from.

    python benchmarks/ber_curves.py [--frames 300] [--write-table]

Es/N0 is the project's SNR (unit-energy symbols, complex noise N0 = 10^(-SNR/10)); LDPC is the
project's layered normalized min-sum, 20 iterations, alpha 0.75. With ``--write-table`` the
FERs go to ``semcodec/phy/mcs_table.json``, which the automatic MCS choice reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_json  # noqa: E402

from semcodec.channel import AWGNChannel, noise_variance  # noqa: E402
from semcodec.phy.mcs import ALL_MCS  # noqa: E402

TABLE = Path(__file__).resolve().parents[1] / "semcodec" / "phy" / "mcs_table.json"


def measure(mcs, snr_db: float, frames: int, gen: torch.Generator) -> tuple[float, float]:
    code, mod = mcs.code, mcs.mod
    info = torch.randint(0, 2, (frames, code.k), generator=gen, dtype=torch.uint8)
    x = mod.modulate(code.encode(info).reshape(-1))
    y, _ = AWGNChannel()(x, snr_db, gen)
    llr = mod.demap(y, noise_variance(snr_db)).reshape(frames, code.n)
    dec, _, _ = code.decode(llr, iterations=20)
    errors = dec != info
    return errors.float().mean().item(), errors.any(1).float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--snr-min", type=float, default=-6.0)
    ap.add_argument("--snr-max", type=float, default=24.0)
    ap.add_argument("--step", type=float, default=0.5)
    ap.add_argument("--write-table", action="store_true")
    args = ap.parse_args()
    gen = torch.Generator().manual_seed(2026)
    snrs = [args.snr_min + i * args.step for i in range(int(round((args.snr_max - args.snr_min) / args.step)) + 1)]
    fer: dict[str, dict[str, float]] = {}
    ber: dict[str, dict[str, float]] = {}
    rows = []
    for mcs in ALL_MCS:
        fer[mcs.name], ber[mcs.name] = {}, {}
        zeros = 0
        for snr in snrs:
            if zeros >= 3:  # three clean points in a row: the waterfall is behind us
                fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = 0.0, 0.0
                continue
            b, f = measure(mcs, snr, args.frames, gen)
            fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = f, b
            zeros = zeros + 1 if f == 0 else 0
        waterfall = next((s for s in snrs if fer[mcs.name][f"{s:g}"] < 1e-2), None)
        rows.append([mcs.name, round(mcs.nominal_efficiency, 3), mcs.code.k, waterfall])
    print_table(["mcs", "bits/use", "k", "first SNR with FER<1e-2"], rows)
    payload = {"frames_per_point": args.frames, "snr_db": snrs, "fer": fer, "ber": ber,
               "decoder": "layered normalized min-sum, 20 iterations, alpha 0.75",
               "code": "regular (3, d_c) Gallager LDPC from pyldpc, n = 1728, seed 42"}
    print(f"wrote {write_json('ber_curves', payload)}")
    if args.write_table:
        TABLE.write_text(json.dumps({"command": "python benchmarks/ber_curves.py --write-table",
                                     "frames_per_point": args.frames, "fer": fer}, indent=1) + "\n")
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
