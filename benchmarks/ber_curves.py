"""BER/FER vs Es/N0 of every MCS on AWGN or Rayleigh block fading; writes the MCS table the codec
chooses from.

    python benchmarks/ber_curves.py [--code nr|regular] [--channel awgn|rayleigh] [--fades 32] [--frames 300] [--write-table]
    python benchmarks/ber_curves.py --reference [--frames 48]   # ours vs Sionna's decoder, same frames

Es/N0 is the project's SNR (unit-energy symbols, complex noise N0 = 10^(-SNR/10)). Codes: ``nr``
(default) the 5G NR LDPC codes of 6144 coded bits built by Sionna, decoded by the project's
layered offset min-sum (beta 0.5), 20 iterations; ``regular`` the earlier n = 1728 Gallager codes,
layered normalized min-sum (alpha 0.75). On ``rayleigh`` each codeword
sees what the digital link's interleaver gives it on a frame of ``--fades`` coherence blocks
(1, 2, 4, 8, 16 or 32): its symbols split evenly over that many independent fades
``h ~ CN(0, 1)``, known to the receiver (the average SNR is the channel's). With ``--write-table`` the FERs of the channel measured go to
the family's table (``semcodec/phy/mcs_table_nr.json`` or ``mcs_table.json``; the other channels'
are kept), which the automatic MCS choice reads.

``--reference`` decodes the same frames with Sionna's ``LDPC5GDecoder`` (layered, offset
min-sum, 20 iterations, no early stop for either) at three points of each MCS's AWGN waterfall
(where our table's FER is nearest 0.5, and 0.25 dB either side) and prints both FERs with Wilson
95 % intervals (``benchmarks/results/ldpc_vs_sionna.json``). Sionna's decoder takes ~1 s a
6144-bit frame here, so the default is 24 frames a point (~20 min for the 13 MCS).
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
from semcodec.phy.mcs import RAYLEIGH_TABLES, TABLE_FILES, mcs_list, mcs_table, table_key  # noqa: E402

PHY = Path(__file__).resolve().parents[1] / "semcodec" / "phy"


def codeword_fades(frames: int, symbols: int, n_fades: int, gen: torch.Generator) -> torch.Tensor:
    """``[frames, symbols]`` fading coefficients: each codeword's symbols split evenly (in order)
    over ``n_fades`` independent ``CN(0, 1)`` fades."""
    fades = complex_noise((frames, n_fades), 1.0, gen)
    which = torch.arange(symbols) * n_fades // symbols
    return fades[:, which]


def frames_llr(mcs, snr_db: float, frames: int, gen: torch.Generator, channel: str = "awgn",
               n_fades: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(info [frames, k], channel LLRs [frames, n])`` of random codewords sent at ``snr_db``."""
    code, mod = mcs.code, mcs.mod
    info = torch.randint(0, 2, (frames, code.k), generator=gen, dtype=torch.uint8)
    x = mod.modulate(code.encode(info).reshape(-1))
    h = None
    if channel == "rayleigh":
        h = codeword_fades(frames, mcs.symbols_per_codeword, n_fades, gen).reshape(-1)
        x = h * x
    y, _ = AWGNChannel()(x, snr_db, gen)
    return info, mod.demap(y, noise_variance(snr_db), h).reshape(frames, code.n)


def measure(mcs, snr_db: float, frames: int, gen: torch.Generator, channel: str = "awgn",
            n_fades: int = 32) -> tuple[float, float]:
    info, llr = frames_llr(mcs, snr_db, frames, gen, channel, n_fades)
    dec, _, _ = mcs.code.decode(llr, iterations=20)
    errors = dec != info
    return errors.float().mean().item(), errors.any(1).float().mean().item()


def wilson(failures: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95 % interval of a frame error rate ``failures / n``."""
    if n == 0:
        return 0.0, 1.0
    p = failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def reference(frames: int, iterations: int = 20, only: set | None = None, name: str = "ldpc_vs_sionna") -> None:
    """Our decoder vs Sionna's on the same frames at three waterfall points of every NR MCS."""
    import time

    torch.set_num_threads(1)  # Sionna's decoder is ~40x slower with its threads oversubscribed
    table = mcs_table("nr")["fer"]
    gen = torch.Generator().manual_seed(2027)
    rows, out = [], []
    for mcs in mcs_list("nr"):
        if only is not None and mcs.name not in only:
            continue
        points = sorted((float(s), f) for s, f in table[mcs.name].items())
        mid = min(points, key=lambda p: abs(p[1] - 0.5))[0]  # the waterfall's middle in our table
        chosen = [mid - 0.25, mid, mid + 0.25]  # its steep part: FER from ~0.9 to ~0.05
        ref = mcs.code.reference_decoder(iterations)
        for snr in chosen:
            info, llr = frames_llr(mcs, snr, frames, gen)
            t = time.perf_counter()
            ours, _, _ = mcs.code.decode(llr, iterations=iterations, early_stop=False)
            t_ours = time.perf_counter() - t
            t = time.perf_counter()
            with torch.no_grad():
                theirs = ref(-llr).round().to(torch.uint8)
            t_ref = time.perf_counter() - t
            f_ours, f_ref = int((ours != info).any(1).sum()), int((theirs != info).any(1).sum())
            lo_o, hi_o = wilson(f_ours, frames)
            lo_r, hi_r = wilson(f_ref, frames)
            agree = lo_o <= f_ref / frames <= hi_o or lo_r <= f_ours / frames <= hi_r
            rows.append([mcs.name, snr, f"{f_ours / frames:.3f} [{lo_o:.3f}, {hi_o:.3f}]",
                         f"{f_ref / frames:.3f} [{lo_r:.3f}, {hi_r:.3f}]", "yes" if agree else "NO",
                         round(t_ref / t_ours)])
            out.append({"mcs": mcs.name, "snr_db": snr, "frames": frames, "fer_ours": f_ours / frames,
                        "fer_sionna": f_ref / frames, "ci_ours": [lo_o, hi_o], "ci_sionna": [lo_r, hi_r],
                        "agree": agree, "seconds_ours": t_ours, "seconds_sionna": t_ref})
            print_table(["mcs", "Es/N0 dB", "FER ours [95 %]", "FER Sionna [95 %]", "within", "x faster"], rows[-1:])
    print_table(["mcs", "Es/N0 dB", "FER ours [95 %]", "FER Sionna [95 %]", "within", "x faster"], rows)
    print(f"wrote {write_json(name, {'frames_per_point': frames, 'iterations': iterations, 'decoders': 'ours: layered offset min-sum (beta 0.5, clip 20); Sionna LDPC5GDecoder(cn_update=offset-minsum, cn_schedule=layered, llr_max=20); no early stop', 'points': out})}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", choices=tuple(TABLE_FILES), default="nr", help="code family (default: 5G NR)")
    ap.add_argument("--reference", action="store_true", help="ours vs Sionna's decoder at 3 waterfall points")
    ap.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    ap.add_argument("--fades", type=int, choices=sorted(RAYLEIGH_TABLES), default=32,
                    help="rayleigh: independent fades per codeword (the frame's coherence blocks)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--snr-min", type=float, default=-6.0)
    ap.add_argument("--snr-max", type=float, default=None, help="default 24 dB (AWGN), 34 dB (Rayleigh)")
    ap.add_argument("--step", type=float, default=0.5)
    ap.add_argument("--write-table", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated MCS names: measure these and merge them into the table")
    args = ap.parse_args()
    if args.reference:
        only = set(args.only.split(",")) if args.only else None
        return reference(args.frames, only=only,
                         name="ldpc_vs_sionna" + ("_" + args.only.replace("/", "_").replace(",", "+") if only else ""))
    if args.snr_max is None:
        args.snr_max = 24.0 if args.channel == "awgn" else 34.0
    gen = torch.Generator().manual_seed(2026)
    snrs = [args.snr_min + i * args.step for i in range(int(round((args.snr_max - args.snr_min) / args.step)) + 1)]
    fer: dict[str, dict[str, float]] = {}
    ber: dict[str, dict[str, float]] = {}
    rows = []
    only = set(args.only.split(",")) if args.only else None
    for mcs in mcs_list(args.code):
        if only is not None and mcs.name not in only:
            continue
        fer[mcs.name], ber[mcs.name] = {}, {}
        zeros, lost = 0, True
        for snr in snrs:
            if zeros >= 3:  # three clean points in a row: the waterfall is behind us
                fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = 0.0, 0.0
                continue
            if lost:  # below the waterfall: a tenth of the frames first; all lost -> recorded lost
                b, f = measure(mcs, snr, max(10, args.frames // 10), gen, args.channel, args.fades)
                if f == 1.0:
                    fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = f, b
                    continue
                lost = False
            b, f = measure(mcs, snr, args.frames, gen, args.channel, args.fades)
            fer[mcs.name][f"{snr:g}"], ber[mcs.name][f"{snr:g}"] = f, b
            zeros = zeros + 1 if f == 0 else 0
        waterfall = next((s for s in snrs if fer[mcs.name][f"{s:g}"] < 1e-2), None)
        rows.append([mcs.name, round(mcs.nominal_efficiency, 3), mcs.code.k, waterfall])
    print_table(["mcs", "bits/use", "k", "first SNR with FER<1e-2"], rows)
    key = table_key(args.channel, args.fades)
    nr = args.code == "nr"
    payload = {"channel": args.channel, "frames_per_point": args.frames, "snr_db": snrs, "fer": fer, "ber": ber,
               "decoder": ("layered offset min-sum, 20 iterations, beta 0.5" if nr else
                           "layered normalized min-sum, 20 iterations, alpha 0.75"),
               "code": ("5G NR LDPC (3GPP TS 38.212, Sionna's LDPC5GEncoder), n = 6144" if nr else
                        "regular (3, d_c) Gallager LDPC from pyldpc, n = 1728, seed 42")}
    if args.channel == "rayleigh":
        payload["fades_per_codeword"] = args.fades
    name = "ber_curves" if args.channel == "awgn" else f"ber_curves_{key.removeprefix('fer_')}"
    name = name + ("_nr" if nr else "") + ("_" + args.only.replace("/", "_").replace(",", "+") if only else "")
    print(f"wrote {write_json(name, payload)}")
    if args.write_table:
        TABLE = PHY / TABLE_FILES[args.code]
        table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
        flags = f" --code {args.code}" + ("" if args.channel == "awgn" else f" --channel {args.channel} --fades {args.fades}")
        command = f"python benchmarks/ber_curves.py{flags} --frames {args.frames} --write-table"
        if only is not None and key in table.get("commands", {}):  # merged: keep what made the rest
            command = f"{table['commands'][key]}; then {command} --only {args.only}"
        table.setdefault("commands", {})[key] = command
        table.setdefault("frames", {})[key] = args.frames
        if args.channel == "rayleigh":
            table.setdefault("fades_per_codeword", {})[key] = args.fades
        table[key] = {**table.get(key, {}), **fer} if only is not None else fer
        TABLE.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {TABLE} ({key})")


if __name__ == "__main__":
    main()
