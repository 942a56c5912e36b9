"""The ``--scheduler`` option of the commands that compute TC, and the Dask session it opens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ._group import fail

__all__ = ["scheduler_option", "compute_scheduled", "refuse_gpu_with_scheduler"]

scheduler_option = click.option(
    "--scheduler", default=None, envvar="TOPO_DASK_SCHEDULER",
    help="Compute TC (exact, pair and ATC) on a Dask cluster: local, local:N (N single-threaded worker processes) "
    "or a scheduler address tcp://host:port (env TOPO_DASK_SCHEDULER; needs the dask extra). Default: this process.",
)


def refuse_gpu_with_scheduler(scheduler: str | None, backend: str) -> None:
    """Exit 2 when both a scheduler and the GPU backend are asked for (the workers run the CPU kernels)."""
    if scheduler and backend == "gpu":
        fail("--scheduler (or $TOPO_DASK_SCHEDULER) runs the CPU kernels on its workers; it does not combine with "
             "--backend gpu", 2)


@contextmanager
def compute_scheduled(scheduler: str | None) -> Iterator[Any]:
    """Within the block, TC computed anywhere runs on ``scheduler``'s workers (None or empty: in this process).

    Yields the Dask client, or None. Dask's INFO lines show with ``-v`` only.
    """
    if not scheduler:
        yield None
        return
    from ..kernels.distributed import compute_on, dask_client  # noqa: PLC0415

    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    with dask_client(scheduler) as client, compute_on(client):
        yield client
