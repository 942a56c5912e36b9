"""The ``--scheduler`` option of the commands that compute TC (the session it opens:
:func:`topo_graphdb.kernels.distributed.compute_scheduled`)."""

from __future__ import annotations

import click

from ._group import fail

__all__ = ["scheduler_option", "refuse_gpu_with_scheduler"]

scheduler_option = click.option(
    "--scheduler", default=None, envvar="TOPO_DASK_SCHEDULER",
    help="Compute TC (exact, pair and ATC) on a Dask cluster: local, local:N (N worker processes sharing the CPUs) "
    "or a scheduler address tcp://host:port (env TOPO_DASK_SCHEDULER; needs the dask extra). Default: this process.",
)


def refuse_gpu_with_scheduler(scheduler: str | None, backend: str) -> None:
    """Exit 2 when both a scheduler and the GPU backend are asked for (the workers run the CPU kernels)."""
    if scheduler and backend == "gpu":
        fail("--scheduler (or $TOPO_DASK_SCHEDULER) runs the CPU kernels on its workers; it does not combine with "
             "--backend gpu", 2)
