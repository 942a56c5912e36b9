"""Where the CPU kernels run: this process, or the Dask cluster a caller chose for a block of work.

One context variable holds the cluster's runner (set by
:func:`topo_graphdb.kernels.distributed.compute_on`); the public kernel
functions (exact TC, pair TC, ATC) hand their work to it when it is set and
the GPU was not asked for. Code that computes TC deep inside a stage
(evaluation, the trust check) thus runs on the cluster without a parameter
threaded through every call.

Other block-wise work uses the same runner when it has the hook
``map_blocks(func, shared, blocks, *, progress, what)``: ``func(shared, block)``
for each block on the workers, ``shared`` sent once per worker, the results in
block order; ``slots()`` is the number of worker threads. Prediction's
candidate scoring (:func:`topo_graphdb.model.predict.predict_links` and
:func:`~topo_graphdb.model.predict.capped_candidates`) is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["current_runner", "running_on"]

_RUNNER: ContextVar[Any] = ContextVar("topo_graphdb_kernel_runner", default=None)


def current_runner() -> Any:
    """The runner set by the innermost :func:`running_on` (None: this process)."""
    return _RUNNER.get()


@contextmanager
def running_on(runner: Any) -> Iterator[Any]:
    """Within the block, the kernels hand their work to ``runner`` (methods ``tc``, ``pair_tc``, ``atc``;
    optionally ``map_blocks`` and ``slots``, see the module docstring)."""
    token = _RUNNER.set(runner)
    try:
        yield runner
    finally:
        _RUNNER.reset(token)
