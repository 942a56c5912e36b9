"""Running a stream of idempotent write batches through a :class:`~topo_graphdb.db.Database`.

:class:`BatchRunner` sends one query with one parameter map per batch, each batch in
its own write transaction (retried by the database seam while the server is away),
at most ``workers`` at once and at most ``rate_limit`` rows per second
(:class:`RatePacer`). The write-back (:mod:`topo_graphdb.writeback`) uses it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .db import quiet_params
from .errors import InputError

__all__ = ["MAX_BATCH", "MAX_WORKERS", "BatchRunner", "RatePacer", "check_batch", "check_workers", "spans"]

MAX_BATCH = 100_000
MAX_WORKERS = 16


def check_batch(batch_size: int, rate_limit: float | None, reconnect_timeout: float) -> None:
    """Raise :class:`InputError` unless the batch settings are in range."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise InputError(f"batch_size must be an integer in 1..{MAX_BATCH}; got {batch_size!r}")
    if rate_limit is not None and not (isinstance(rate_limit, (int, float)) and rate_limit > 0 and math.isfinite(rate_limit)):
        raise InputError(f"rate_limit must be a positive number of rows per second (or None); got {rate_limit!r}")
    if not (isinstance(reconnect_timeout, (int, float)) and reconnect_timeout >= 0):
        raise InputError(f"reconnect_timeout must be >= 0 seconds; got {reconnect_timeout!r}")


def check_workers(workers: int) -> None:
    """Raise :class:`InputError` unless ``workers`` is in 1..:data:`MAX_WORKERS`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"workers must be an integer in 1..{MAX_WORKERS}; got {workers!r}")


def spans(n: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive slices of at most ``size`` out of ``n``.

    >>> list(spans(5, 2))
    [(0, 2), (2, 4), (4, 5)]
    """
    for start in range(0, n, size):
        yield start, min(n, start + size)


class RatePacer:
    """Holds a stream of batches to at most ``rate`` rows per second.

    Call :meth:`wait` before each batch: batch ``k`` starts no earlier than
    ``(rows of batches 0..k-1) / rate`` seconds after batch 0 started. So the rows
    sent per second since the start never exceed ``rate`` when a batch starts, no
    pause follows the last batch, and after a slow batch the next ones start at
    once until the average is back at ``rate``. With ``rate=None`` it never waits.
    ``clock`` and ``sleep`` can be replaced (tests).
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self.rows = 0  # rows of the batches started so far
        self.waited = 0.0  # seconds slept so far

    def wait(self, rows: int) -> float:
        """Sleep until a batch of ``rows`` rows may start; returns the seconds slept."""
        now = self._clock()
        if self._start is None:
            self._start = now
        pause = self.rows / self.rate - (now - self._start) if self.rate else 0.0
        self.rows += rows
        if pause <= 0:
            return 0.0
        self._sleep(pause)
        self.waited += pause
        return pause


class BatchRunner:
    """Runs idempotent batches on ``db``; each survives a server restart of up to ``reconnect_timeout`` s.

    With ``workers > 1`` that many batches run at once, each in its own transaction
    (batches touch disjoint nodes, so they do not wait on each other's locks): the
    client packs the next batch while the server executes the last one.
    """

    def __init__(self, db: Any, *, reconnect_timeout: float, rate_limit: float | None, workers: int = 1):
        self.db = db
        self.reconnect_timeout = reconnect_timeout
        self.rate_limit = rate_limit
        self.workers = workers

    def write(self, query: str, params: dict[str, Any]) -> dict[str, Any]:
        """One batch in one write transaction; its one result row as a dict."""
        params = quiet_params(params)
        return self.db.write(lambda tx: tx.run(query, params).single(strict=True).data(), retry_time=self.reconnect_timeout)

    def read(self, query: str, params: dict[str, Any]) -> dict[str, Any]:
        """One batch in one read transaction (dry runs); its one result row as a dict."""
        params = quiet_params(params)
        return self.db.read(lambda tx: tx.run(query, params).single(strict=True).data())

    def write_all(
        self, query: str, jobs: Iterable[tuple[dict[str, Any], int]], on_done: Callable[[dict[str, Any], int], None]
    ) -> None:
        """Run ``jobs`` (``(params, rows)`` per batch); ``on_done(result, rows)`` for each, in this thread,
        in the order of ``jobs`` (so reports and their samples do not depend on which batch ends first).

        The rate limit holds back submission (:class:`RatePacer`). On an error
        no new batch starts; those already running finish (each is a whole
        transaction) and the error is raised.
        """
        pacer = RatePacer(self.rate_limit)
        if self.workers <= 1:
            for params, rows in jobs:
                pacer.wait(rows)
                on_done(self.write(query, params), rows)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="topo-write") as pool:
            running: dict[Future, int] = {}  # batches in flight -> their rows, in the order of jobs

            def settle(wait_oldest: bool) -> None:
                """Report the oldest batches that have ended; with ``wait_oldest``, wait for the oldest first."""
                while running:
                    oldest = next(iter(running))
                    if not (wait_oldest or oldest.done()):
                        return
                    on_done(oldest.result(), running.pop(oldest))
                    wait_oldest = False

            try:
                for params, rows in jobs:
                    settle(len(running) >= self.workers)
                    pacer.wait(rows)
                    running[pool.submit(self.write, query, params)] = rows
                while running:
                    settle(True)
            except BaseException:
                for f in running:
                    f.cancel()
                raise
