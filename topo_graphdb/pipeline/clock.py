"""The clock of a sync run: phases with timings, the runtime limit, and the signals that end a run.

A run passes :meth:`Clock.checkpoint` between units of work: there the runtime
limit (``run.max_runtime``) and the lock's heartbeat are checked, so a run stops
cleanly. :class:`Alarm` stops phases that have no checkpoint shortly after the
limit, and :class:`SigtermAsInterrupt` ends a run on SIGTERM the way Ctrl-C does.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import RuntimeLimitReached
from ..progress import Progress
from .report import SyncReport

__all__ = ["Alarm", "Clock", "Phase", "PhaseCallback", "SigtermAsInterrupt"]

PhaseCallback = Callable[[str, str, float | None], None]  # (phase, "start" | "done", seconds)


class Clock:
    """Phases with timings; the runtime limit, the lock and the ledger's progress at each checkpoint."""

    def __init__(
        self,
        report: SyncReport,
        *,
        max_runtime: float,
        on_phase: PhaseCallback | None,
        on_progress: Progress | None,
    ):
        self.report = report
        self.t0 = time.monotonic()
        self.deadline = self.t0 + max_runtime if max_runtime > 0 else None
        self.max_runtime = max_runtime
        self.on_phase = on_phase
        self.on_progress = on_progress
        self.lock: Any = None
        self.ledger: Any = None
        self.current = ""
        self.expired = False

    def checkpoint(self) -> None:
        """Raise :class:`~topo_graphdb.errors.RuntimeLimitReached` past the limit; check the lock's heartbeat."""
        if self.expired or (self.deadline is not None and time.monotonic() >= self.deadline):
            self.expired = True
            raise RuntimeLimitReached(
                f"--max-runtime {self.max_runtime:g} s reached during phase {self.current or 'start'}; the run stopped cleanly",
                hint="the next run starts over (writes are idempotent); raise --max-runtime or schedule a longer window",
            )
        if self.lock is not None:
            self.lock.check()

    def progress(self, phase: str, done: int, total: int) -> None:
        """A checkpoint that also reports progress (the ``progress`` callback of the stages)."""
        self.checkpoint()
        if self.on_progress:
            self.on_progress(phase, done, total)

    def phase(self, name: str) -> Phase:
        return Phase(self, name)


class Phase:
    """One phase of a run (``with clock.phase("score"):``): ledger progress, callbacks, summed timings."""

    def __init__(self, clock: Clock, name: str):
        self.clock = clock
        self.name = name

    def __enter__(self) -> Phase:
        c = self.clock
        c.current = self.name
        c.checkpoint()
        if c.ledger is not None:
            c.ledger.update(c.report.run_id, {"phase": self.name})
        if c.on_phase:
            c.on_phase(self.name, "start", None)
        self.t = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        dt = time.perf_counter() - self.t
        c = self.clock
        c.report.timings[self.name] = c.report.timings.get(self.name, 0.0) + dt
        if exc_type is None and c.on_phase:
            c.on_phase(self.name, "done", dt)


class Alarm:
    """A hard stop shortly after the runtime limit, for phases without checkpoints (main thread only)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.armed = False

    def __enter__(self) -> Alarm:
        if self.clock.deadline is None or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
            return self
        grace = min(60.0, max(5.0, 0.05 * self.clock.max_runtime))

        def ring(signum: int, frame: Any) -> None:
            self.clock.expired = True
            self.clock.checkpoint()

        self.previous = signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.clock.deadline - time.monotonic() + grace))
        self.armed = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


class SigtermAsInterrupt:
    """SIGTERM (Kubernetes, systemd, Airflow) ends the run like Ctrl-C: ledger marked, lock released."""

    def __enter__(self) -> SigtermAsInterrupt:
        self.armed = threading.current_thread() is threading.main_thread()
        if self.armed:

            def stop(signum: int, frame: Any) -> None:
                raise KeyboardInterrupt("terminated (SIGTERM)")

            self.previous = signal.signal(signal.SIGTERM, stop)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.signal(signal.SIGTERM, self.previous)
