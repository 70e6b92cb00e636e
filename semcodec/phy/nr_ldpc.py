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

import warnings
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

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


@dataclass
class NRCode:
    """One 5G NR LDPC code, rate-matched to ``n`` coded bits for ``k`` information bits.

    Attributes:
        k, n: information and transmitted coded bits; ``z``: lifting size; ``bg``: base graph.
        row_ptr, cols: the pruned parity-check matrix (CSR, rows in layered order).
        n_pruned: variable nodes of the decoder's graph.
    """

    k: int
    n: int
    encoder: object = field(repr=False)

    @property
    def name(self) -> str:
        return f"nr-ldpc({self.n},{self.k})"

    @property
    def z(self) -> int:
        return int(self.encoder.z)

    @property
    def bg(self) -> str:
        return str(self.encoder._bg)

    @cached_property
    def _graph(self) -> tuple[np.ndarray, np.ndarray, int]:
        enc = self.encoder
        pcm = enc.pcm.tocsc()
        n_ldpc, k_ldpc, z = enc.n_ldpc, enc.k_ldpc, enc.z
        degree = np.diff(pcm.indptr)
        # the trailing run of degree-1 columns (extension parity bits, one check each)
        last = n_ldpc
        for idx in range(n_ldpc - 1, 0, -1):
            if degree[idx] != 1:
                break
            last = idx
        received_parity = self.n - (self.k - 2 * z)
        n_pruned = int(max(last, k_ldpc + received_parity))
        m_pruned = n_pruned - k_ldpc
        h = enc.pcm.tocsr()[:m_pruned, :n_pruned]
        h.sort_indices()
        return h.indptr.astype(np.int32), h.indices.astype(np.int32), n_pruned

    @property
    def row_ptr(self) -> np.ndarray:
        return self._graph[0]

    @property
    def cols(self) -> np.ndarray:
        return self._graph[1]

    @property
    def n_pruned(self) -> int:
        return self._graph[2]

    @property
    def edges(self) -> int:
        return int(self.cols.shape[0])

    def encode(self, info: torch.Tensor) -> torch.Tensor:
        """Information bits ``[B, k]`` (0/1) -> rate-matched codewords ``[B, n]`` (uint8)."""
        if info.shape[-1] != self.k:
            raise ValueError(f"expected {self.k} information bits per codeword, got {info.shape[-1]}")
        with torch.no_grad():
            c = self.encoder(info.reshape(-1, self.k).to(torch.float32))
        return c.round().to(torch.uint8).reshape(*info.shape[:-1], self.n)

    def expand(self, llr: np.ndarray) -> np.ndarray:
        """Received LLRs ``[B, n]`` -> the decoder graph's ``[B, n_pruned]`` (punctured: 0, filler: +clip)."""
        enc = self.encoder
        z, k, k_ldpc = enc.z, self.k, enc.k_ldpc
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
    return NRCode(k, n, _sionna_encoder(k, n))
