"""The two callbacks a long step reports through; every module that takes one uses these types.

* :data:`Progress` ``(phase, done, total)``: ``done`` of ``total`` units of a named
  phase are finished (rows exported or written, sources scored, ...); a call
  with ``done >= total`` ends the phase. The CLI prints it
  (:func:`topo_graphdb.cli._progress.progress_printer`).
* :data:`Message` ``(text)``: one line for the user (a download started, a lock
  is held by another run, ...).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Message", "Progress"]

Progress = Callable[[str, int, int], None]
Message = Callable[[str], None]
