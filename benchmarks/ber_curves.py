"""BER/FER vs Es/N0 of every MCS on AWGN or Rayleigh block fading; writes the MCS table the codec
chooses from.

    python benchmarks/ber_curves.py [--channel awgn|rayleigh] [--fades 32] [--frames 300] [--write-table]

Es/N0 is the project's SNR (unit-energy symbols, complex noise N0 = 10^(-SNR/10)); LDPC is the
project's layered normalized min-sum, 20 iterations, alpha 0.75. On ``rayleigh`` each codeword
sees what the digital link's interleaver gives it on a frame of ``--fades`` coherence blocks
(1, 2, 4, 8, 16 or 32): its symbols split evenly over that many independent fades
``h ~ CN(0, 1)``, known to the receiver (the average SNR is the channel's). With ``--write-table`` the FERs of the channel measured go to
``semcodec/phy/mcs_table.json`` (the other channel's are kept), which the automatic MCS choice reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_json  # noqa: E402

from semcodec.channel import AWGNChannel, complex_noise, noise_variance  # noqa: E402
from semcodec.phy.mcs import ALL_MCS, RAYLEIGH_TABLES, table_key  # noqa: E402

TABLE = Path(__file__).resolve().parents[1] / "semcodec" / "phy" / "mcs_table.json"


def codeword_fades(frames: int, symbols: int, n_fades: int, gen: torch.Generator) -> torch.Tensor:
    """``[frames, symbols]`` fading coefficients: each codeword's symbols split evenly (in order)
    over ``n_fades`` independent ``CN(0, 1)`` fades."""
    fades = complex_noise((frames, n_fades), 1.0, gen)
    which = torch.arange(symbols) * n_fades // symbols
    return fades[:, which]


def measure(mcs, snr_db: float, frames: int, gen: torch.Generator, channel: str = "awgn",
            n_fades: int = 32) -> tuple[float, float]:
    code, mod = mcs.code, mcs.mod
    info = torch.randint(0, 2, (frames, code.k), generator=gen, dtype=torch.uint8)
    x = mod.modulate(code.encode(info).reshape(-1))
    h = None
    if channel == "rayleigh":
        h = codeword_fades(frames, mcs.symbols_per_codeword, n_fades, gen).reshape(-1)
        x = h * x
    y, _ = AWGNChannel()(x, snr_db, gen)
    llr = mod.demap(y, noise_variance(snr_db), h).reshape(frames, code.n)
    dec, _, _ = code.decode(llr, iterations=20)
    errors = dec != info
    return errors.float().mean().item(), errors.any(1).float().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    ap.add_argument("--fades", type=int, choices=sorted(RAYLEIGH_TABLES), default=32,
                    help="rayleigh: independent fades per codeword (the frame's coherence blocks)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--snr-min", type=float, default=-6.0)
    ap.add_argument("--snr-max", type=float, default=None, help="default 24 dB (AWGN), 34 dB (Rayleigh)")
    ap.add_argument("--step", type=float, default=0.5)
    ap.add_argument("--write-table", action="store_true")
    args = ap.parse_args()
    if args.snr_max is None:
        args.snr_max = 24.0 if args.channel == "awgn" else 34.0
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
            b, f = measure(mcs, snr, args.frames, gen, args.channel, args.fades)
            fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = f, b
            zeros = zeros + 1 if f == 0 else 0
        waterfall = next((s for s in snrs if fer[mcs.name][f"{s:g}"] < 1e-2), None)
        rows.append([mcs.name, round(mcs.nominal_efficiency, 3), mcs.code.k, waterfall])
    print_table(["mcs", "bits/use", "k", "first SNR with FER<1e-2"], rows)
    key = table_key(args.channel, args.fades)
    payload = {"channel": args.channel, "frames_per_point": args.frames, "snr_db": snrs, "fer": fer, "ber": ber,
               "decoder": "layered normalized min-sum, 20 iterations, alpha 0.75",
               "code": "regular (3, d_c) Gallager LDPC from pyldpc, n = 1728, seed 42"}
    if args.channel == "rayleigh":
        payload["fades_per_codeword"] = args.fades
    name = "ber_curves" if args.channel == "awgn" else f"ber_curves_{key.removeprefix('fer_')}"
    print(f"wrote {write_json(name, payload)}")
    if args.write_table:
        table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
        flags = "" if args.channel == "awgn" else f" --channel {args.channel} --fades {args.fades}"
        table.setdefault("commands", {})[key] = f"python benchmarks/ber_curves.py{flags} --frames {args.frames} --write-table"
        table.setdefault("frames", {})[key] = args.frames
        if args.channel == "rayleigh":
            table.setdefault("fades_per_codeword", {})[key] = args.fades
        table[key] = fer
        TABLE.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {TABLE} ({key})")


if __name__ == "__main__":
    main()
