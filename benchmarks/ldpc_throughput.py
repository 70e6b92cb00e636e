"""5G NR LDPC decoding throughput: ours vs Sionna's LDPC5GDecoder vs pyldpc, same code, same frames.

    python benchmarks/ldpc_throughput.py [--frames 512] [--sionna-frames 32] [--pyldpc-frames 8]

Codes: the papers' (6144, 4096) (base graph 1, QPSK 2/3 / BPSK 2/3) and the QPSK-1/3 code (6144, 2048)
(base graph 2), built by Sionna. Frames: BPSK over AWGN at an Es/N0 in the waterfall and one above
it. Every decoder runs 10 and 20 iterations with no early stop on the same LLRs (Sionna's and
pyldpc's take the first frames of ours):

- ours: layered offset min-sum (beta 0.5), SIMD over 16 codewords (numba), once on one thread
  ("per core") and once on every core;
- Sionna 2.2: ``LDPC5GDecoder(cn_update="offset-minsum", cn_schedule="layered")``, torch on one thread;
- pyldpc 0.7.9: its log-domain sum-product solver (flooding, numba, dense messages) on the same
  pruned parity-check matrix, punctured bits 0 and filler bits known.

Reported: information Mbit/s, FER of each on the frames it decoded, and the speed ratios
(medians of ``--repeats`` timings). Published context (not measured here): AFF3CT's horizontal
layered offset min-sum on 5G codes, 10 iterations, 16-bit SIMD, ~270 Mbit/s per core (4.9 Gbit/s
on an 18-core Xeon Gold 6154).
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

from semcodec.channel import noise_variance  # noqa: E402
from semcodec.phy.nr_ldpc import nr_code  # noqa: E402

POINTS = {(4096, 6144): (0.4, 1.5), (2048, 6144): (-4.5, -3.0)}  # BPSK Es/N0: waterfall, above it


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def pyldpc_decode(h, y, iterations: int):
    """pyldpc 0.7.9's log-domain BP on ``h`` (irregular: its ``decode`` wrapper only takes regular
    codes, a numpy comparison bug), for ``iterations`` with no early stop; ``y`` gives LLR = 4y."""
    from pyldpc import decoder, utils

    m, n = h.shape
    bits_hist, bits_values, nodes_hist, nodes_values = utils._bitsandnodes(h)
    lc = 4.0 * y
    lq = np.zeros((m, n, y.shape[1]))
    lr = np.zeros((m, n, y.shape[1]))
    for it in range(iterations):
        lq, lr, post = decoder._logbp_numba(bits_hist, bits_values, nodes_hist, nodes_values, lc, lq, lr, it)
    return np.array(post <= 0).astype(int)


def fer(decoded: torch.Tensor, info: torch.Tensor) -> float:
    return (decoded.to(torch.uint8) != info[: decoded.shape[0]]).any(1).float().mean().item()


def main() -> None:
    import numba
    import scipy.sparse as sp

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=512)
    ap.add_argument("--sionna-frames", type=int, default=32)
    ap.add_argument("--pyldpc-frames", type=int, default=2, help="pyldpc keeps dense m x n x frames arrays")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cores = numba.config.NUMBA_NUM_THREADS
    gen = torch.Generator().manual_seed(0)
    rows, results = [], []
    for (k, n), snrs in POINTS.items():
        code = nr_code(k, n)
        code.decode(torch.zeros(16, n), 2)  # compile outside the timings
        h = sp.csr_matrix((np.ones(code.edges, dtype=np.int64), code.cols, code.row_ptr),
                          shape=(len(code.row_ptr) - 1, code.n_pruned)).toarray()
        for snr in snrs:
            info = torch.randint(0, 2, (args.frames, k), generator=gen, dtype=torch.uint8)
            x = 1.0 - 2.0 * code.encode(info).float()
            n0 = noise_variance(snr)
            llr = 4.0 * (x + torch.randn(x.shape, generator=gen) * (n0 / 2) ** 0.5) / n0
            for iterations in (10, 20):
                numba.set_num_threads(1)
                t1, (dec1, _, _) = timed(lambda: code.decode(llr, iterations, early_stop=False), args.repeats)
                numba.set_num_threads(cores)
                tn, _ = timed(lambda: code.decode(llr, iterations, early_stop=False), args.repeats)
                ours_1, ours_n = k * args.frames / t1, k * args.frames / tn

                s = args.sionna_frames
                ref = code.reference_decoder(iterations)
                with torch.no_grad():
                    ts, theirs = timed(lambda: ref(-llr[:s]).round(), max(1, args.repeats - 2))
                sionna = k * s / ts

                p = args.pyldpc_frames
                y = (code.expand(llr[:p].numpy()) / 4.0).T.astype(np.float64)  # pyldpc: llr = 2y/var, var 0.5
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tp, xhat = timed(lambda: pyldpc_decode(h, y, iterations), 1)
                py_info = torch.from_numpy((np.asarray(xhat)[:k].T % 2).astype(np.uint8))
                pyl = k * p / tp

                row = {"code": f"({n}, {k}) {code.bg}", "es_n0_db": snr, "iterations": iterations,
                       "ours_mbps_per_core": ours_1 / 1e6, "ours_mbps_all_cores": ours_n / 1e6, "cores": cores,
                       "ours_fer": fer(dec1, info), "ours_fer_on_sionna_frames": fer(dec1[:s], info),
                       "sionna_mbps": sionna / 1e6, "sionna_fer": fer(theirs, info), "sionna_frames": s,
                       "pyldpc_mbps": pyl / 1e6, "pyldpc_fer": fer(py_info, info), "pyldpc_frames": p,
                       "ours_vs_sionna_per_core": ours_1 / sionna, "ours_vs_pyldpc_per_core": ours_1 / pyl}
                results.append(row)
                rows.append([row["code"], snr, iterations, round(ours_1 / 1e6, 2), round(ours_n / 1e6, 2),
                             f"{row['ours_fer_on_sionna_frames']:.3f}/{row['ours_fer']:.3f}",
                             round(sionna / 1e6, 4), f"{row['sionna_fer']:.3f}", round(pyl / 1e6, 4),
                             f"{row['pyldpc_fer']:.3f}", round(ours_1 / sionna), round(ours_1 / pyl)])
                print_table(["code", "Es/N0", "it", "ours Mb/s 1 core", f"ours {cores} cores", "ours FER (S frames/all)",
                             "Sionna Mb/s", "Sionna FER", "pyldpc Mb/s", "pyldpc FER", "x Sionna", "x pyldpc"],
                            rows[-1:])
    print()
    print_table(["code", "Es/N0", "it", "ours Mb/s 1 core", f"ours {cores} cores", "ours FER (S frames/all)",
                 "Sionna Mb/s", "Sionna FER", "pyldpc Mb/s", "pyldpc FER", "x Sionna", "x pyldpc"], rows)
    print("published: AFF3CT 5G layered offset min-sum, 10 it, 16-bit SIMD: ~270 Mbit/s per core (Xeon Gold 6154)")
    print(f"wrote {write_json('ldpc_throughput', {'results': results, 'aff3ct_published_mbps_per_core': 270})}")


if __name__ == "__main__":
    main()
