"""5G NR LDPC codes (3GPP TS 38.212) built by Sionna, decoded by the project's compiled kernel.

Why both: the codes every JSCC paper's baseline uses ("BPG + 5G LDPC", codewords of 6144 coded
bits) are the standard's: base graph 1 or 2 chosen from ``k`` and the rate, lifted by ``Z``,
filler bits, the first ``2Z`` systematic bits punctured, rate matching by truncating the
circular buffer. :class:`sionna.phy.fec.ldpc.LDPC5GEncoder` implements exactly that, so the code
(its parity-check matrix, its rate matching, its encoder) comes from Sionna. Its decoder is
~100x slower than needed on a CPU, so decoding is ours: :mod:`semcodec.phy._lanes_kernel`,
layered over the base graph's rows, offset min-sum, proven to give Sionna's FER
(``tests/test_nr_ldpc.py``, ``benchmarks/ber_curves.py --reference``).

Receiver view of one codeword (length ``n_pruned`` of the decoder's graph): ``[2Z punctured
(LLR 0) | k - 2Z received systematic | filler (known 0: LLR +clip) | received parity |
punctured parity (LLR 0)]``; rows and columns of the graph beyond the last received parity bit
are degree-1 parity checks that carry no information and are pruned (as Sionna's decoder does
for its layered schedule). LLR convention: positive = bit 0 (Sionna's logits are the negative).

Shapes: ``encode(info [B, k]) -> [B, n]``; ``decode(llr [B, n]) -> (info [B, k], ok [B], used [B])``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidInput
from ._lanes_kernel import LANES

#: Codeword length of the papers' baseline (WITT, SwinJSCC: 6144 coded bits).
NR_N = 6144
#: Message clipping (Sionna's ``llr_max`` default); also the filler bits' LLR.
LLR_MAX = 20.0
#: Offset of the check-node rule (Sionna's offset min-sum).
OFFSET = 0.5


def _sionna_encoder(k: int, n: int):
    """Sionna's 5G encoder for ``(k, n)`` (quietly: its import prints nothing we need)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sionna.phy.fec.ldpc import LDPC5GEncoder

        return LDPC5GEncoder(k, n)


#: Arrays a code is made of, as Sionna builds them (see :func:`_build_tables`).
_TABLES = ("z", "k_ldpc", "n_ldpc", "bg", "row_ptr", "cols", "n_pruned", "a", "b_inv", "c1", "c2")


def _build_tables(k: int, n: int) -> dict[str, np.ndarray]:
    """Everything the decoder and the encoder need of Sionna's ``LDPC5GEncoder(k, n)``.

    The decoder's graph: the parity-check matrix without the trailing degree-1 extension checks
    whose parity bit is never sent (pruned as Sionna's layered decoder prunes them). The
    encoder's: Sionna's own gather tables of its "RU" encoder (A, B^-1, C1, C2)."""
    enc = _sionna_encoder(k, n)
    pcm = enc.pcm.tocsc()
    n_ldpc, k_ldpc, z = enc.n_ldpc, enc.k_ldpc, enc.z
    degree = np.diff(pcm.indptr)
    last = n_ldpc  # the trailing run of degree-1 columns (extension parity bits, one check each)
    for idx in range(n_ldpc - 1, 0, -1):
        if degree[idx] != 1:
            break
        last = idx
    n_pruned = int(max(last, k_ldpc + n - (k - 2 * z)))
    h = enc.pcm.tocsr()[: n_pruned - k_ldpc, :n_pruned]
    h.sort_indices()
    tables = {"z": z, "k_ldpc": k_ldpc, "n_ldpc": n_ldpc, "bg": int(str(enc._bg)[-1]),
              "row_ptr": h.indptr, "cols": h.indices, "n_pruned": n_pruned}
    for key, name in zip(("a", "b_inv", "c1", "c2"), ("_pcm_a_ind", "_pcm_b_inv_ind", "_pcm_c1_ind", "_pcm_c2_ind")):
        tables[key] = getattr(enc, name).cpu().numpy()
    return {key: np.array(value, dtype=np.int32, order="C") for key, value in tables.items()}


def _cache_file(k: int, n: int) -> Path:
    """``$SEMCODEC_CACHE/nr-ldpc/sionna-<version>/k<k>_n<n>.npz`` (a new Sionna builds anew)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tag = version("sionna-no-rt")
    except PackageNotFoundError:  # pragma: no cover - a sionna installed another way
        tag = "unknown"
    root = os.environ.get("SEMCODEC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "semcodec")
    return Path(root) / "nr-ldpc" / f"sionna-{tag}" / f"k{k}_n{n}.npz"


def _load_tables(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            tables = {key: np.array(f[key], dtype=np.int32, order="C") for key in _TABLES}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None
    return tables


def _store_tables(path: Path, tables: dict[str, np.ndarray]) -> None:
    """Write atomically (a reader never sees half a file); a cache that cannot be written (read
    only, disk full) only costs the next run Sionna's import."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as fh:
            np.savez(fh, **tables)
        os.replace(fh.name, path)
    except OSError:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(fh.name)


@dataclass
class NRCode:
    """One 5G NR LDPC code, rate-matched to ``n`` coded bits for ``k`` information bits.

    Built by Sionna (``LDPC5GEncoder(k, n)``) once and kept in the cache folder, so that a later
    run neither imports Sionna (4-20 s) nor rebuilds the code; a cached code that does not encode
    words its own parity checks accept is rebuilt.

    Attributes:
        k, n: information and transmitted coded bits; ``z``: lifting size; ``bg``: base graph.
        row_ptr, cols: the pruned parity-check matrix (CSR, rows in layered order).
        n_pruned: variable nodes of the decoder's graph.
    """

    k: int
    n: int
    tables: dict = field(repr=False)

    @property
    def name(self) -> str:
        return f"nr-ldpc({self.n},{self.k})"

    @property
    def z(self) -> int:
        return int(self.tables["z"])

    @property
    def bg(self) -> str:
        return f"bg{int(self.tables['bg'])}"

    @property
    def k_ldpc(self) -> int:
        return int(self.tables["k_ldpc"])

    @cached_property
    def encoder(self):
        """Sionna's encoder of this code (built on demand: the reference, never the fast path)."""
        return _sionna_encoder(self.k, self.n)

    @property
    def row_ptr(self) -> np.ndarray:
        return self.tables["row_ptr"]

    @property
    def cols(self) -> np.ndarray:
        return self.tables["cols"]

    @property
    def n_pruned(self) -> int:
        return int(self.tables["n_pruned"])

    @property
    def edges(self) -> int:
        return int(self.cols.shape[0])

    def encode(self, info: torch.Tensor) -> torch.Tensor:
        """Information bits ``[B, k]`` (0/1) -> rate-matched codewords ``[B, n]`` (uint8): the
        systematic bits after the ``2Z`` punctured ones, then the first parity bits (TS 38.212
        rate matching, redundancy version 0), exactly as Sionna's encoder gives them (compiled:
        :mod:`._nr_encode_kernel`)."""
        if info.shape[-1] != self.k:
            raise ValueError(f"expected {self.k} information bits per codeword, got {info.shape[-1]}")
        u = info.reshape(-1, self.k).detach().cpu().numpy()
        return torch.from_numpy(self._encode_np(u)).reshape(*info.shape[:-1], self.n)

    def _encode_np(self, u: np.ndarray) -> np.ndarray:
        from ._nr_encode_kernel import encode_ru

        t = self.tables
        z, k, k_ldpc = self.z, self.k, self.k_ldpc
        parity = self.n - (k - 2 * z)
        filled = np.zeros((u.shape[0], k_ldpc), dtype=np.uint8)
        filled[:, :k] = u
        coded = np.empty((u.shape[0], k_ldpc + parity), dtype=np.uint8)
        encode_ru(filled, t["a"], t["b_inv"], t["c1"], t["c2"], parity, coded)
        return np.concatenate([coded[:, 2 * z:k], coded[:, k_ldpc:]], axis=1)

    def consistent(self) -> bool:
        """Whether the tables hang together: indices in range, and 32 random words the encoder
        makes satisfy every parity check of the decoder's graph (a damaged cache file fails)."""
        t = self.tables
        try:
            z, k_ldpc, n_pruned = self.z, self.k_ldpc, self.n_pruned
            core = 4 * z
            ok = (t["row_ptr"].ndim == 1 and t["row_ptr"][0] == 0 and (np.diff(t["row_ptr"]) >= 0).all()
                  and t["row_ptr"][-1] == t["cols"].size == self.edges and len(t["row_ptr"]) - 1 == n_pruned - k_ldpc
                  and t["cols"].size and 0 <= t["cols"].min() and t["cols"].max() < n_pruned
                  and k_ldpc >= self.k > 2 * z > 0 and n_pruned >= k_ldpc + self.n - (self.k - 2 * z)
                  and t["a"].shape[0] == core == t["b_inv"].shape[0]
                  and t["c1"].shape[0] == t["c2"].shape[0] >= n_pruned - k_ldpc - core
                  and int(t["bg"]) in (1, 2)
                  and all(t[key].ndim == 2 and t[key].min(initial=0) >= 0 for key in ("a", "b_inv", "c1", "c2"))
                  and t["a"].max(initial=0) <= k_ldpc and t["c1"].max(initial=0) <= k_ldpc
                  and t["b_inv"].max(initial=0) <= core and t["c2"].max(initial=0) <= core)
            if not ok:
                return False
            from ._nr_encode_kernel import encode_ru

            words = 32  # a wrong table entry escapes one random word with probability 1/2, all 32 with 2^-32
            filled = np.zeros((words, k_ldpc), dtype=np.uint8)
            filled[:, :self.k] = np.random.default_rng(0).integers(0, 2, (words, self.k), dtype=np.uint8)
            word = np.empty((words, n_pruned), dtype=np.uint8)
            encode_ru(filled, t["a"], t["b_inv"], t["c1"], t["c2"], n_pruned - k_ldpc, word)
            return bool(self.syndrome_ok(torch.from_numpy(word)).all())
        except (ValueError, IndexError, KeyError, TypeError):
            return False

    def expand(self, llr: np.ndarray) -> np.ndarray:
        """Received LLRs ``[B, n]`` -> the decoder graph's ``[B, n_pruned]`` (punctured: 0, filler: +clip)."""
        z, k, k_ldpc = self.z, self.k, self.k_ldpc
        out = np.zeros((llr.shape[0], self.n_pruned), dtype=np.float32)
        sys = k - 2 * z
        out[:, 2 * z:k] = llr[:, :sys]
        out[:, k:k_ldpc] = LLR_MAX
        parity = min(self.n - sys, self.n_pruned - k_ldpc)
        out[:, k_ldpc:k_ldpc + parity] = llr[:, sys:sys + parity]
        return out

    def decode(self, llr: torch.Tensor, iterations: int = 20, alpha: float = 1.0, beta: float = OFFSET,
               early_stop: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layered offset min-sum over a batch of codewords (compiled; SIMD over codewords).

        Args:
            llr: channel LLRs ``[B, n]`` (positive = 0).
            iterations: maximum iterations; ``alpha``, ``beta``: the check rule
                ``alpha * max(min - beta, 0)`` (default offset min-sum, beta 0.5);
            early_stop: stop a group of codewords once all their parity checks hold.
        Returns:
            ``(info_bits [B, k] uint8, ok [B] bool, iterations_used [B] int32)``.
        """
        from ._lanes_kernel import layered_minsum_lanes

        x = np.asarray(llr.detach().cpu().numpy(), dtype=np.float32).reshape(-1, self.n)
        b = x.shape[0]
        if b == 0:
            return (torch.zeros(0, self.k, dtype=torch.uint8), torch.zeros(0, dtype=torch.bool),
                    torch.zeros(0, dtype=torch.int32))
        lanes = LANES
        groups = -(-b // lanes)
        full = np.full((groups * lanes, self.n_pruned), LLR_MAX, dtype=np.float32)  # spare lanes: the zero word
        full[:b] = self.expand(x)
        full = np.ascontiguousarray(full.reshape(groups, lanes, self.n_pruned).transpose(0, 2, 1))
        hard = np.empty(full.shape, dtype=np.uint8)
        ok = np.zeros((groups, lanes), dtype=np.bool_)
        used = np.zeros((groups, lanes), dtype=np.int32)
        layered_minsum_lanes(full, self.row_ptr, self.cols, int(iterations), np.float32(alpha), np.float32(beta),
                             np.float32(LLR_MAX), bool(early_stop), hard, ok, used)
        info = hard.transpose(0, 2, 1).reshape(groups * lanes, self.n_pruned)[:b, : self.k]
        return (torch.from_numpy(np.ascontiguousarray(info)), torch.from_numpy(ok.reshape(-1)[:b].copy()),
                torch.from_numpy(used.reshape(-1)[:b].copy()))

    def syndrome_ok(self, codewords: torch.Tensor) -> torch.Tensor:
        """``[B, n_pruned]`` hard bits of the decoder's graph -> ``[B]`` every check satisfied."""
        import scipy.sparse as sp

        h = sp.csr_matrix((np.ones(self.edges, dtype=np.int64), self.cols, self.row_ptr),
                          shape=(len(self.row_ptr) - 1, self.n_pruned))
        return torch.from_numpy(((h @ codewords.numpy().astype(np.int64).T) % 2 == 0).all(0))

    def reference_decoder(self, iterations: int = 20, cn_update: str = "offset-minsum"):
        """Sionna's own decoder of this code, layered as ours, for the equal-FER checks. It takes
        logits ``log p(1)/p(0)``: pass ``-llr``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sionna.phy.fec.ldpc import LDPC5GDecoder

            return LDPC5GDecoder(self.encoder, cn_update=cn_update, cn_schedule="layered", num_iter=iterations,
                                 hard_out=True, return_infobits=True, llr_max=LLR_MAX)


@lru_cache(maxsize=256)
def nr_code(k: int, n: int) -> NRCode:
    """The 5G NR LDPC code for ``k`` information bits rate-matched to ``n`` coded bits (cached)."""
    k, n = int(k), int(n)
    if not 12 <= k <= 8448:
        raise InvalidInput(f"5G NR LDPC needs 12 <= k <= 8448 information bits (got {k})")
    if not 0.2 <= k / n <= 0.95:
        raise InvalidInput(f"5G NR LDPC needs a code rate in [1/5, 0.95] (got {k}/{n})")
    path = _cache_file(k, n)
    tables = _load_tables(path) if path.is_file() else None
    code = NRCode(k, n, tables) if tables is not None else None
    if code is None or not code.consistent():
        code = NRCode(k, n, _build_tables(k, n))
        _store_tables(path, code.tables)
    return code
