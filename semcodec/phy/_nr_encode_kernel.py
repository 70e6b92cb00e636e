"""The compiled 5G NR LDPC encoder: Sionna's "RU" encoding, as XORs over gather tables (numba).

Why: :class:`sionna.phy.fec.ldpc.LDPC5GEncoder` encodes by gathering float tensors and summing
them modulo 2, ~1 ms a codeword on this CPU, which made a 5G bench sweep slower than one with the
regular codes. The algorithm here is Sionna's, on the same tables (so the codewords are the
same, bit for bit, as ``tests/test_nr_ldpc.py`` checks for every MCS and shortened size):

* ``p_a = B^-1 (A s)`` — the 4 core parity blocks (``A``: the first 4 base-graph rows over the
  systematic columns; ``B^-1``: the inverse of their double-diagonal core);
* ``p_b = C1 s + C2 p_a`` — the extension parity bits, one a check (only as many as are sent).

Each table is ``[rows, width]`` of column indices into the vector it reads, padded with that
vector's length (a position that reads 0). Kept apart so that importing
:mod:`semcodec.phy.nr_ldpc` compiles nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _gather_xor(table, vec, row):  # pragma: no cover - compiled
    acc = np.uint8(0)
    size = vec.shape[0]
    for j in range(table.shape[1]):
        idx = table[row, j]
        if idx < size:
            acc ^= vec[idx]
    return acc


@njit(parallel=True, cache=True)
def encode_ru(info, a_ind, b_inv_ind, c1_ind, c2_ind, parity_out, out):  # pragma: no cover - compiled
    """Encode ``info [B, k_ldpc]`` (uint8 0/1, filler bits 0) into ``out [B, k_ldpc + parity_out]``:
    the systematic bits followed by the first ``parity_out`` parity bits."""
    batch, k_ldpc = info.shape
    core = b_inv_ind.shape[0]
    for b in prange(batch):
        s = info[b]
        tmp = np.empty(core, dtype=np.uint8)
        p_a = np.empty(core, dtype=np.uint8)
        for r in range(core):
            tmp[r] = _gather_xor(a_ind, s, r)
        for r in range(core):
            p_a[r] = _gather_xor(b_inv_ind, tmp, r)
        for i in range(k_ldpc):
            out[b, i] = s[i]
        for r in range(min(core, parity_out)):
            out[b, k_ldpc + r] = p_a[r]
        for r in range(parity_out - core):
            out[b, k_ldpc + core + r] = _gather_xor(c1_ind, s, r) ^ _gather_xor(c2_ind, p_a, r)
