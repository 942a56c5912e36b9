"""Where heavy work runs: the one parser of a Dask scheduler setting (``--scheduler``,
``TOPO_DASK_SCHEDULER``, the sync setting ``compute.scheduler``) and the threads of a ``local:N``
worker. Light: imports no Dask; the
block that sends TC work there is :func:`topo_graphdb.kernels.distributed.compute_scheduled`."""

from __future__ import annotations

import os

from .errors import InputError

THREAD_SETTINGS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # of a local worker


def parse_scheduler(scheduler: str) -> tuple[str, int | None]:
    """``("local", N)`` for ``local`` / ``local:N`` (N None: one worker per CPU), else ``("address", scheduler)``.

    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
    (('local', 2), ('address', 'tcp://10.0.0.5:8786'))
    """
    text = scheduler.strip() if isinstance(scheduler, str) else ""
    if not text:
        raise InputError(f"the Dask scheduler must be 'local', 'local:N' or an address like tcp://host:8786; got {scheduler!r}")
    if text == "local":
        return "local", None
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise InputError(f"the Dask scheduler local:N needs a number of workers N >= 1; got {scheduler!r}")
        return "local", int(count)
    return "address", text


def local_worker_threads(workers: int, threads: int | None = None) -> int:
    """Kernel threads of each worker of a ``local:workers`` cluster (each runs one task at a time):
    ``threads`` when given, else the CPUs shared out (``CPUs // workers``, at least 1).

    >>> local_worker_threads(3, 1)
    1
    """
    return int(threads) if threads else max(1, (os.cpu_count() or 1) // int(workers))
