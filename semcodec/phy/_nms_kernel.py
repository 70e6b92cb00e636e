"""The compiled inner loop of the layered normalized min-sum decoder (numba).

Kept apart so that importing :mod:`semcodec.phy.ldpc` does not compile anything; the first
decode compiles (or loads the on-disk cache of) this kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath=False)
def layered_nms(llr, cols, iterations, alpha, early_stop, hard, ok, used):  # pragma: no cover - compiled
    """Decode every row of ``llr`` [B, n]; writes ``hard`` [B, n], ``ok`` [B], ``used`` [B]."""
    B, n = llr.shape
    n_layers, rows, dc = cols.shape
    for b in prange(B):
        L = llr[b].copy()
        R = np.zeros((n_layers, rows, dc), dtype=np.float32)
        q = np.empty(dc, dtype=np.float32)
        used[b] = iterations
        for it in range(iterations):
            for layer in range(n_layers):
                for r in range(rows):
                    m1 = np.inf
                    m2 = np.inf
                    a1 = 0
                    parity = 0
                    for j in range(dc):
                        v = L[cols[layer, r, j]] - R[layer, r, j]
                        q[j] = v
                        a = abs(v)
                        if a < m1:
                            m2 = m1
                            m1 = a
                            a1 = j
                        elif a < m2:
                            m2 = a
                        if v < 0:
                            parity ^= 1
                    for j in range(dc):
                        mag = m2 if j == a1 else m1
                        neg = parity ^ (1 if q[j] < 0 else 0)
                        rn = alpha * mag if neg == 0 else -alpha * mag
                        R[layer, r, j] = rn
                        L[cols[layer, r, j]] = q[j] + rn
            if early_stop or it == iterations - 1:
                satisfied = True
                for layer in range(n_layers):
                    for r in range(rows):
                        p = 0
                        for j in range(dc):
                            if L[cols[layer, r, j]] < 0:
                                p ^= 1
                        if p:
                            satisfied = False
                            break
                    if not satisfied:
                        break
                if satisfied:
                    ok[b] = True
                    used[b] = it + 1
                    break
        for i in range(n):
            hard[b, i] = 1 if L[i] < 0 else 0
