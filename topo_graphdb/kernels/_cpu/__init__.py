"""Numba kernels behind the CPU backend (compiled on first use, cached on disk).

All kernels take a sorted symmetric CSR (``indptr``, ``indices``) and spread
their work over ``nthreads`` threads by dealing items round-robin from a list
sorted by decreasing estimated cost, which keeps the threads balanced on
power-law graphs without dynamic scheduling.

One module per job: :mod:`.threads` (thread count and dealing),
:mod:`.common` (common neighbours, 1 hop), :mod:`.reach` (reach sets and
memory batches), :mod:`.walks` (walk-count sums over reach sets, K >= 2),
:mod:`.select` (running top-k of many rows, for the candidates of prediction).
"""

from __future__ import annotations

from .common import common_neighbour_scores, three_walk_counts
from .reach import greedy_batches, reach_counts, reach_sets
from .threads import chunk_bounds, deal_order, num_threads, threads_for
from .walks import hop_pair_sums, pair_hop_sums, walk_buffers, walk_bytes_per_thread

__all__ = [
    "common_neighbour_scores",
    "three_walk_counts",
    "reach_sets",
    "reach_counts",
    "hop_pair_sums",
    "pair_hop_sums",
    "walk_buffers",
    "walk_bytes_per_thread",
    "greedy_batches",
    "num_threads",
    "threads_for",
    "deal_order",
    "chunk_bounds",
]
