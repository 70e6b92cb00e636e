"""LDPC decoding throughput: pyldpc's ``decode`` vs the project's decoder, same H, same frames.

    python benchmarks/ldpc_throughput.py [--pyldpc-frames 40] [--frames 2000]

Both decode the same BPSK frames of the project's rate-1/2 code (n = 1728) at Es/N0 0–3 dB with
the same number of iterations (20). pyldpc's ``snr`` is 1/σ² per real dimension, i.e.
Es/N0 + 3.01 dB for BPSK; its frames are the first ``--pyldpc-frames`` of ours. Reported:
information bits per second, FER, and the speed ratio (medians of ``--repeats`` timings).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_json  # noqa: E402

from semcodec.channel import AWGNChannel, noise_variance  # noqa: E402
from semcodec.phy.mcs import parse_mcs  # noqa: E402


def main() -> None:
    import pyldpc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--pyldpc-frames", type=int, default=40)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    mcs = parse_mcs("bpsk-1/2")
    code, mod = mcs.code, mcs.mod
    H = code.H.astype(np.int64)
    gen = torch.Generator().manual_seed(0)
    code.decode(torch.zeros(2, code.n))  # compile the kernel outside the timings
    rows, results = [], []
    for snr in (0.0, 1.0, 2.0, 3.0):
        info = torch.randint(0, 2, (args.frames, code.k), generator=gen, dtype=torch.uint8)
        x = mod.modulate(code.encode(info).reshape(-1))
        y, _ = AWGNChannel()(x, snr, gen)
        llr = mod.demap(y, noise_variance(snr)).reshape(args.frames, code.n)
        ours = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            dec, _, _ = code.decode(llr, iterations=args.iterations)
            ours.append(time.perf_counter() - t0)
        ours_fer = (dec != info).any(1).float().mean().item()
        ours_bps = code.k * args.frames / statistics.median(ours)

        p = args.pyldpc_frames
        # pyldpc maps bit 0 to +1; our Gray BPSK maps bit 0 to -1: flip the sign for it.
        y_real = -y.real.reshape(args.frames, code.n)[:p].numpy().T.astype(np.float64)  # (n, B)
        snr_pyldpc = snr + 10 * np.log10(2)
        theirs = []
        for _ in range(max(1, args.repeats - 1)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                xhat = pyldpc.decode(H, y_real, snr_pyldpc, maxiter=args.iterations)
                theirs.append(time.perf_counter() - t0)
        their_info = torch.from_numpy(np.asarray(xhat)[: code.k].T.astype(np.uint8))
        their_fer = (their_info != info[:p]).any(1).float().mean().item()
        their_bps = code.k * p / statistics.median(theirs)
        ratio = ours_bps / their_bps
        rows.append([snr, round(their_bps / 1e3, 1), their_fer, round(ours_bps / 1e6, 2), ours_fer, round(ratio)])
        results.append({"es_n0_db": snr, "pyldpc_snr": snr_pyldpc, "pyldpc_info_bps": their_bps,
                        "pyldpc_fer": their_fer, "pyldpc_frames": p, "ours_info_bps": ours_bps,
                        "ours_fer": ours_fer, "ours_frames": args.frames, "speedup": ratio})
    print_table(["Es/N0 dB", "pyldpc kbit/s", "pyldpc FER", "ours Mbit/s", "ours FER", "speed-up x"], rows)
    median_ratio = statistics.median(r["speedup"] for r in results)
    print(f"median speed-up: {median_ratio:.0f}x (iterations {args.iterations}, torch threads {torch.get_num_threads()})")
    print(f"wrote {write_json('ldpc_throughput', {'iterations': args.iterations, 'results': results, 'median_speedup': median_ratio})}")


if __name__ == "__main__":
    main()
