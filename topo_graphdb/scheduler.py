"""Where heavy work runs: the one parser of a Dask scheduler setting (``--scheduler``,
``TOPO_DASK_SCHEDULER``, the sync setting ``compute.scheduler``) and the block that sends TC work
there. Light: Dask is imported only when a scheduler is given."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import InputError


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


@contextmanager
def compute_scheduled(scheduler: str | None) -> Iterator[Any]:
    """Within the block, TC computed anywhere runs on ``scheduler``'s workers (None or empty: in this process).

    Yields the Dask client, or None. Dask's INFO lines show with ``-v`` only.
    """
    if not scheduler:
        yield None
        return
    from .kernels.distributed import compute_on, dask_client  # noqa: PLC0415  (imports numba and dask)

    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    with dask_client(scheduler) as client, compute_on(client):
        yield client
