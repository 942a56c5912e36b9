"""Thread scheduling of the Numba kernels: thread count, one thread for small work, dealing order, runs of sources.

Work is spread over ``nthreads`` threads by dealing items round-robin from a
list sorted by decreasing estimated cost, which keeps the threads balanced on
power-law graphs without dynamic scheduling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numba import get_num_threads, set_num_threads

__all__ = ["num_threads", "threads_for", "deal_order", "chunk_bounds", "SMALL_WORK"]


def num_threads() -> int:
    """Threads Numba's parallel loops use."""
    return int(get_num_threads())


SMALL_WORK = 2e5  # below this many edge visits, one thread beats waking the others


@contextmanager
def threads_for(work: float) -> Iterator[int]:
    """Run the enclosed kernels on one thread when ``work`` is small (thread start-up dominates)."""
    before = get_num_threads()
    if work < SMALL_WORK and before > 1:
        set_num_threads(1)
        try:
            yield 1
        finally:
            set_num_threads(before)
    else:
        yield before


def deal_order(cost: np.ndarray) -> np.ndarray:
    """Item order by decreasing cost (stable), for round-robin dealing to threads."""
    return np.argsort(-np.asarray(cost, np.float64), kind="stable")



def chunk_bounds(cost: np.ndarray, pieces: int) -> np.ndarray:
    """Cut a sequence into about ``pieces`` contiguous runs of similar total ``cost``; run boundaries."""
    size = int(np.size(cost))
    if size == 0:
        return np.zeros(1, np.int64)
    cum = np.cumsum(np.asarray(cost, np.float64))
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, pieces) / pieces, side="right")
    return np.unique(np.concatenate(([0], np.minimum(cuts, size), [size]))).astype(np.int64)

