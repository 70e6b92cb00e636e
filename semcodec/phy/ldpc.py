"""Regular LDPC codes (pyldpc's Gallager construction), a fast encoder, and a batched
layered normalized min-sum decoder with per-codeword early stopping.

Construction: ``pyldpc.make_ldpc(n, 3, d_c, systematic=True, seed=...)``; the same seed on both
sides gives the same code. Its Gallager ``H`` stacks ``d_v`` blocks in each of which every
column appears exactly once, so each block is one *layer* of the layered schedule and a
layer's updates never collide. The systematic generator puts the ``k`` information bits first
(``x[:k]``); rank loss makes ``k`` slightly above ``n (1 - d_v/d_c)``.

Decoder: all codewords of a transmission are decoded together in one call of a numba-compiled
kernel, parallel over codewords; each codeword stops as soon as its syndrome is zero.
LLR convention: positive = bit 0 more likely.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch

from ..errors import InvalidInput

#: Code length shared by all rates: divisible by 6, 9, 12 (d_c) and by 1, 2, 4, 6 (bits/symbol).
DEFAULT_N = 1728
SEED = 42
RATES = {"1/2": 6, "2/3": 9, "3/4": 12}  # rate -> d_c with d_v = 3


@dataclass
class LDPCCode:
    """A regular LDPC code ready to encode and decode.

    Attributes:
        n: codeword length; k: information bits per codeword.
        generator: float32 ``[n, k]`` (systematic: first k rows are the identity).
        layers: list of int64 ``[rows, d_c]`` column indices, one per layer of H.
    """

    name: str
    n: int
    k: int
    generator: torch.Tensor
    layers: list[torch.Tensor]
    H: np.ndarray

    def encode(self, info: torch.Tensor) -> torch.Tensor:
        """Information bits ``[B, k]`` (0/1) -> codewords ``[B, n]`` (uint8): ``G u mod 2``."""
        if info.shape[-1] != self.k:
            raise ValueError(f"expected {self.k} information bits per codeword, got {info.shape[-1]}")
        return torch.remainder(info.float() @ self.generator.T, 2).to(torch.uint8)

    def syndrome_ok(self, hard: torch.Tensor) -> torch.Tensor:
        """``[B, n]`` hard bits -> ``[B]`` bool: every parity check satisfied."""
        ok = torch.ones(hard.shape[0], dtype=torch.bool)
        for idx in self.layers:
            ok &= (hard[:, idx].sum(-1) % 2 == 0).all(-1)
        return ok

    def decode(self, llr: torch.Tensor, iterations: int = 20, alpha: float = 0.75,
               early_stop: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layered normalized min-sum over a batch of codewords (compiled, parallel over codewords).

        Args:
            llr: channel LLRs ``[B, n]`` (positive = 0).
            iterations: maximum iterations; alpha: normalisation of the check messages;
            early_stop: stop a codeword as soon as all its parity checks hold.
        Returns:
            ``(info_bits [B, k] uint8, ok [B] bool, iterations_used [B] int32)``; ``ok`` is the
            parity check, which tells the receiver which codewords failed.
        """
        from ._nms_kernel import layered_nms

        x = np.ascontiguousarray(llr.detach().cpu().numpy(), dtype=np.float32)
        hard = np.empty(x.shape, dtype=np.uint8)
        ok = np.zeros(x.shape[0], dtype=np.bool_)
        used = np.zeros(x.shape[0], dtype=np.int32)
        layered_nms(x, self.columns, int(iterations), np.float32(alpha), bool(early_stop), hard, ok, used)
        return torch.from_numpy(hard[:, : self.k]), torch.from_numpy(ok), torch.from_numpy(used)

    @cached_property
    def columns(self) -> np.ndarray:
        """int32 ``[layers, rows, d_c]``: the columns of each check, layer by layer."""
        return np.ascontiguousarray(torch.stack(self.layers).numpy().astype(np.int32))


@lru_cache(maxsize=None)
def ldpc_code(rate: str = "1/2", n: int = DEFAULT_N, seed: int = SEED) -> LDPCCode:
    """The project's regular (3, d_c) code of ``rate`` (built once per process, ~0.2–0.8 s)."""
    import pyldpc

    if rate not in RATES:
        raise InvalidInput(f"unknown LDPC rate {rate!r} (known: {', '.join(RATES)})")
    d_c = RATES[rate]
    H, G = pyldpc.make_ldpc(n, 3, d_c, systematic=True, sparse=True, seed=seed)
    H = H.toarray() if hasattr(H, "toarray") else np.asarray(H)
    H = H.astype(np.uint8)
    rows = H.shape[0] // 3
    layers = []
    for layer in range(3):
        block = H[layer * rows : (layer + 1) * rows]
        layers.append(torch.from_numpy(np.nonzero(block)[1].reshape(rows, d_c).astype(np.int64)))
    gen = torch.from_numpy(np.asarray(G, dtype=np.float32))
    return LDPCCode(f"ldpc-{rate}", n, gen.shape[1], gen, layers, H)
