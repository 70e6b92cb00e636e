"""The compiled inner loop of the 5G NR LDPC decoder: row-layered min-sum over lanes (numba).

Why lanes: a check node's update is a short serial chain (find the two smallest magnitudes, the
sign product, write back), too short to vectorise on its own. Decoding ``W`` codewords of the same
code side by side ("lanes", the last axis of every array) makes the innermost loop run over
``W`` independent values with no branch, which LLVM turns into SIMD instructions (16 float32 a
vector with AVX-512). Groups of ``W`` codewords run in parallel threads.

Schedule: checks are updated one after the other in the order given (the decoder orders them
by base-graph row, so this is the layered schedule: the ``Z`` checks of a base-graph row touch
distinct columns and updating them one by one equals updating them at once). Check rule:
``alpha * max(min - beta, 0)`` — offset min-sum with ``alpha = 1, beta = 0.5`` (Sionna's
"offset-minsum"), normalised min-sum with ``beta = 0``. Variable-to-check magnitudes are clipped
at ``clip`` (as Sionna clips its messages) while each bit's total ``L = channel + sum of check
messages`` is kept exact: clipping ``L`` itself would make ``L - R_old`` wrong once messages
saturate, and a converged codeword then falls apart (seen: syndrome 0 at iteration 2, ~500
unsatisfied checks at iteration 3).

Kept apart so that importing :mod:`semcodec.phy.nr_ldpc` compiles nothing; the first decode
compiles (or loads numba's on-disk cache of) this kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Codewords decoded side by side (16 float32 = one AVX-512 vector); every array's last axis.
LANES = 16


@njit(parallel=True, cache=True, fastmath=True)
def layered_minsum_lanes(llr, row_ptr, cols, iterations, alpha, beta, clip, early_stop,
                         hard, ok, used):  # pragma: no cover - compiled
    """Decode ``llr [G, N, W]`` (``G`` groups of ``W`` codewords, positive = bit 0).

    ``row_ptr [M + 1]``, ``cols [E]``: the parity-check matrix in CSR form, rows in schedule
    order. Writes ``hard [G, N, W]`` (uint8), ``ok [G, W]`` (every check satisfied) and
    ``used [G, W]`` (iterations until the syndrome was first zero; ``iterations`` if never).
    """
    G = llr.shape[0]
    if llr.shape[2] != LANES:
        raise ValueError("the lane axis must be LANES long")
    for g in prange(G):
        _decode_group(llr[g], row_ptr, cols, iterations, alpha, beta, clip, early_stop, hard[g], ok[g], used[g])


@njit(cache=True, fastmath=True)
def _decode_group(llr, row_ptr, cols, iterations, alpha, beta, clip, early_stop,
                  hard, ok, used):  # pragma: no cover - compiled
    """One group: ``llr [N, LANES]`` -> ``hard [N, LANES]``, ``ok [LANES]``, ``used [LANES]``."""
    N = llr.shape[0]
    W = LANES  # a compile-time constant: LLVM unrolls and vectorises the lane loops (~1.5x)
    M = row_ptr.shape[0] - 1
    E = cols.shape[0]
    max_deg = 0
    for r in range(M):
        max_deg = max(max_deg, row_ptr[r + 1] - row_ptr[r])
    big = np.float32(2.0) * clip  # above any clipped magnitude (no inf: fastmath assumes none)
    L = np.empty((N, W), dtype=np.float32)
    for i in range(N):
        for w in range(W):
            L[i, w] = min(max(llr[i, w], -clip), clip)
    R = np.zeros((E, W), dtype=np.float32)
    Q = np.empty((max_deg, W), dtype=np.float32)
    m1 = np.empty(W, dtype=np.float32)
    m2 = np.empty(W, dtype=np.float32)
    sg = np.empty(W, dtype=np.float32)
    bad = np.empty(W, dtype=np.uint8)
    par = np.empty(W, dtype=np.uint8)
    for w in range(W):
        used[w] = iterations
        ok[w] = False
    for it in range(iterations):
        for r in range(M):
            p0 = row_ptr[r]
            deg = row_ptr[r + 1] - p0
            for w in range(W):
                m1[w] = big
                m2[w] = big
                sg[w] = 1.0
            for j in range(deg):
                c = cols[p0 + j]
                for w in range(W):
                    v = L[c, w] - R[p0 + j, w]
                    Q[j, w] = v
                    a = min(abs(v), clip)
                    m2[w] = min(m2[w], max(m1[w], a))
                    m1[w] = min(m1[w], a)
                    sg[w] = -sg[w] if v < 0 else sg[w]
            for j in range(deg):
                c = cols[p0 + j]
                for w in range(W):
                    v = Q[j, w]
                    mag = m2[w] if min(abs(v), clip) == m1[w] else m1[w]
                    mag = max(alpha * mag - beta, 0.0)
                    rn = sg[w] * mag if v >= 0 else -sg[w] * mag
                    R[p0 + j, w] = rn
                    L[c, w] = v + rn
        if early_stop or it == iterations - 1:
            for w in range(W):
                bad[w] = 0
            for r in range(M):
                for w in range(W):
                    par[w] = 0
                for p in range(row_ptr[r], row_ptr[r + 1]):
                    c = cols[p]
                    for w in range(W):
                        par[w] ^= 1 if L[c, w] < 0 else 0
                for w in range(W):
                    bad[w] |= par[w]
            done = True
            for w in range(W):
                if bad[w] == 0 and not ok[w]:
                    ok[w] = True
                    used[w] = it + 1
                elif bad[w] != 0:
                    ok[w] = False
                    done = False
            if early_stop and done:
                break
    for i in range(N):
        for w in range(W):
            hard[i, w] = 1 if L[i, w] < 0 else 0
