"""Exact TC and pair TC on the workers of a Dask cluster, with the numbers of one process.

The graph goes to every worker once (``client.scatter(..., broadcast=True)``).
The source nodes are cut into contiguous blocks of similar estimated work
(:func:`~topo_graphdb.kernels.tc.source_costs`, the bound the kernels balance
their threads with), a few blocks per worker thread; each block is one task
that runs the single-machine CPU kernel on it
(:func:`~topo_graphdb.kernels.tc.topological_concentration` with ``nodes=``,
:func:`~topo_graphdb.kernels.pairs.pair_topological_concentration` on the pairs
whose source is in the block), and the results are gathered back in node (pair)
order. A node's (pair's) value is computed by one thread from integer walk
counts, whatever block it is in, so the result equals one process's. A worker
lost mid-run costs only its tasks: Dask runs them again on another worker.

Where the work runs is one setting, ``scheduler``: ``"local"`` or ``"local:N"``
starts a :class:`distributed.LocalCluster` of N single-threaded worker processes
(default: one per CPU) for the duration of the run; any other value is the
address of a running scheduler (``tcp://host:port``), whose workers need
topo_graphdb installed. Dask is the optional ``dask`` extra
(``pip install 'topo-graphdb[dask]'``), imported here only, on first use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, InputError
from ..snapshot import GraphSnapshot
from ._beta import default_beta
from ._exact import cost_slices, progress_bar, validate_settings
from .pairs import PairTCResult, pair_source_costs, pair_topological_concentration
from .tc import TCResult, source_costs, topological_concentration

__all__ = [
    "CONNECT_TIMEOUT",
    "parse_scheduler",
    "dask_client",
    "distributed_tc",
    "distributed_pair_tc",
]

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler address (and to see its first worker)
TASKS_PER_WORKER_THREAD = 4  # blocks per worker thread: balance, and little to redo when a worker is lost


# ----------------------------------------------------------------------------- the cluster
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
def dask_client(scheduler: str, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``scheduler`` (see the module docstring), closed on exit.

    A local cluster's workers are single-threaded processes (Numba included:
    ``NUMBA_NUM_THREADS=1``). An address must answer, and show at least one
    worker, within ``timeout`` seconds.

    Raises
    ------
    InputError
        ``scheduler`` is empty, ``local:N`` with N < 1, or not an address.
    BackendUnavailable
        Dask is not installed, or the scheduler cannot be reached or has no worker.
    """
    kind, workers = parse_scheduler(scheduler)
    distributed = _import_distributed()
    if kind == "local":
        with distributed.LocalCluster(
            n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
            dashboard_address=":0", env={"NUMBA_NUM_THREADS": "1"},  # ":0": any free port
        ) as cluster, distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except ValueError as err:
        raise InputError(f"{scheduler!r} is not a Dask scheduler address: {err}",
                         hint="use local, local:N or tcp://host:port") from err
    except OSError as err:  # refused, unknown host, timed out (TimeoutError is an OSError)
        raise BackendUnavailable(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: {' '.join(str(err).split())}",
            hint="check the address, start a scheduler and workers (dask scheduler; dask worker ADDRESS), or use local",
        ) from err
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as err:
            raise BackendUnavailable(
                f"the Dask scheduler at {scheduler} has no worker after {timeout:g} s",
                hint="start workers with: dask worker ADDRESS",
            ) from err
        yield client
    finally:
        client.close()


def _import_distributed():
    try:
        import distributed  # noqa: PLC0415  (lazy on purpose: the optional dask extra)
    except ImportError as err:
        raise BackendUnavailable(
            f"a Dask scheduler was asked for, but Dask is not installed ({err})",
            hint="pip install 'topo-graphdb[dask]', or run without --scheduler",
        ) from err
    return distributed


# ----------------------------------------------------------------------------- node TC
def distributed_tc(
    train: object,
    eval: object | None = None,
    *,
    client: Any,
    hops: int = 1,
    beta: float | None = None,
    num_nodes: int | None = None,
    memory_budget: int | str | None = None,
    progress: bool = False,
) -> TCResult:
    """Exact TC of every node (:func:`~topo_graphdb.kernels.tc.topological_concentration`), on ``client``'s workers.

    Same arguments and result as the single-process function (CPU kernels on
    the workers), and the same values. ``memory_budget`` applies to each task
    (default: half the free memory of the worker's machine). In the result's
    ``timings``, ``prepare`` is the client's work estimate, ``scatter`` the
    graph's transfer, ``compute`` the wait for the tasks, ``reach`` and
    ``kernel`` the tasks' seconds and ``cpu`` their worker processes' CPU
    seconds, summed over the tasks; ``batches`` sums the tasks' batches.

    The blocks are contiguous runs of the source nodes whose TC is defined,
    :data:`TASKS_PER_WORKER_THREAD` per worker thread, of similar estimated work.
    """
    t_start = time.perf_counter()
    train, num_nodes = _edges_and_size(train, num_nodes)
    cost = source_costs(train, eval, hops=hops, num_nodes=num_nodes)  # validates hops and the edge arrays
    hops, beta = _checked(hops, beta, memory_budget)
    n = cost.size
    if beta is None:
        beta = default_beta(train, num_nodes)
    blocks = _blocks(np.flatnonzero(~np.isnan(cost)), cost, client)
    settings = {"hops": hops, "beta": beta, "num_nodes": n, "memory_budget": memory_budget}
    t_prepared = time.perf_counter()
    [graph] = client.scatter([(np.asarray(train), None if eval is None else np.asarray(eval))], broadcast=True)
    t_scattered = time.perf_counter()
    futures = [client.submit(_tc_block, graph, block, settings) for block in blocks]
    parts = _gather(client, futures, [float(cost[b].sum()) for b in blocks], progress, f"exact TC (hops={hops})")
    t_done = time.perf_counter()
    tc = np.full(n, np.nan)
    denominator = np.full(n, np.nan)
    mean_parts = np.full((hops, hops, n), np.nan)
    for block, part in zip(blocks, parts):
        tc[block], denominator[block], mean_parts[:, :, block] = part["tc"], part["denominator"], part["parts"]
    first = parts[0]
    timings = {
        "prepare": t_prepared - t_start, "scatter": t_scattered - t_prepared, "compute": t_done - t_scattered,
        **_summed_timings(parts, ("reach", "kernel", "cpu")), "total": time.perf_counter() - t_start,
    }
    return TCResult(
        tc=tc, beta=beta, hops=hops, variant=first["variant"], backend="cpu", timings=timings,
        denominator=denominator, parts=mean_parts, num_nodes=n, train_edges=first["train_edges"],
        eval_edges=first["eval_edges"], batches=sum(part["batches"] for part in parts),
    )


def _tc_block(graph: tuple, block: np.ndarray, settings: dict) -> dict:
    """One task: the exact TC of the nodes of ``block`` (the single-process kernel, CPU)."""
    train, eval = graph
    c0 = time.process_time()
    r = topological_concentration(train, eval, backend="cpu", nodes=block, **settings)
    return {
        "tc": r.tc[block], "denominator": r.denominator[block], "parts": r.parts[:, :, block],
        "variant": r.variant, "train_edges": r.train_edges, "eval_edges": r.eval_edges, "batches": r.batches,
        "timings": {**r.timings, "cpu": time.process_time() - c0},
    }


# ----------------------------------------------------------------------------- pair TC
def distributed_pair_tc(
    train: object,
    pairs: object,
    *,
    client: Any,
    hops: int = 2,
    beta: float | None = None,
    num_nodes: int | None = None,
    memory_budget: int | str | None = None,
    progress: bool = False,
) -> PairTCResult:
    """Pair TC (:func:`~topo_graphdb.kernels.pairs.pair_topological_concentration`) on ``client``'s workers.

    Same arguments, result and values as the single-process function; the
    pairs are grouped by source, the sources cut into blocks as in
    :func:`distributed_tc` (estimated by
    :func:`~topo_graphdb.kernels.pairs.pair_source_costs`), and each task
    computes the pairs of one block. ``timings`` as in :func:`distributed_tc`.
    """
    t_start = time.perf_counter()
    train, num_nodes = _edges_and_size(train, num_nodes)
    cost = pair_source_costs(train, pairs, hops=hops, num_nodes=num_nodes)  # validates hops, edges and pairs
    hops, beta = _checked(hops, beta, memory_budget)
    n = cost.size
    if beta is None:
        beta = default_beta(train, num_nodes)
    blocks = _blocks(np.flatnonzero(~np.isnan(cost)), cost, client)
    pairs = np.asarray(pairs)
    order = np.argsort(pairs[0], kind="stable")  # pairs grouped by source, in their given order within one
    pieces = np.split(order, np.searchsorted(pairs[0][order], [int(b[0]) for b in blocks[1:]]))
    settings = {"hops": hops, "beta": beta, "num_nodes": n, "memory_budget": memory_budget}
    t_prepared = time.perf_counter()
    [graph] = client.scatter([np.asarray(train)], broadcast=True)
    t_scattered = time.perf_counter()
    futures = [client.submit(_pair_block, graph, pairs[:, piece], settings) for piece in pieces]
    parts = _gather(client, futures, [float(cost[b].sum()) for b in blocks], progress, f"pair TC (hops={hops})")
    t_done = time.perf_counter()
    out = np.full((hops, pairs.shape[1]), np.nan)
    for piece, part in zip(pieces, parts):
        out[:, piece] = part["tc_by_hops"]
    timings = {
        "prepare": t_prepared - t_start, "scatter": t_scattered - t_prepared, "compute": t_done - t_scattered,
        **_summed_timings(parts, ("reach", "kernel", "cpu")), "batches": sum(int(p["timings"].get("batches", 1)) for p in parts),
        "total": time.perf_counter() - t_start,
    }
    return PairTCResult(
        tc=out[-1].copy(), tc_by_hops=out, beta=beta, hops=hops, backend="cpu", timings=timings, num_nodes=n,
        distinct_pairs=sum(part["distinct_pairs"] for part in parts),
    )


def _pair_block(train: np.ndarray, pairs: np.ndarray, settings: dict) -> dict:
    """One task: the pair TC of ``pairs`` (all sources of one block; the single-process kernel)."""
    c0 = time.process_time()
    r = pair_topological_concentration(train, pairs, backend="cpu", **settings)
    return {"tc_by_hops": r.tc_by_hops, "distinct_pairs": r.distinct_pairs,
            "timings": {**r.timings, "cpu": time.process_time() - c0}}


# ----------------------------------------------------------------------------- shared steps
def _edges_and_size(train: object, num_nodes: int | None) -> tuple[object, int | None]:
    """A snapshot's edge index and size (its size unless ``num_nodes`` is given); other inputs unchanged."""
    if isinstance(train, GraphSnapshot):
        return train.edge_index, train.num_nodes if num_nodes is None else num_nodes
    return train, num_nodes


def _checked(hops: int, beta: float | None, memory_budget: object) -> tuple[int, float | None]:
    """Validated ``hops`` and ``beta`` (and ``memory_budget``, passed on as given: each worker sizes its own default)."""
    hops, beta, _budget, _backend = validate_settings(hops, beta, 1 if memory_budget is None else memory_budget, "cpu")
    return hops, beta


def _blocks(sources: np.ndarray, cost: np.ndarray, client: Any) -> list[np.ndarray]:
    """Contiguous runs of ``sources`` of similar total ``cost``, a few per worker thread (at least one run)."""
    threads = max(sum(client.nthreads().values()), 1)
    return cost_slices(sources, cost, TASKS_PER_WORKER_THREAD * threads)


def _gather(client: Any, futures: list, costs: list[float], progress: bool, what: str) -> list[dict]:
    """The tasks' results in submission order, with a progress bar over their estimated work."""
    bar = progress_bar(progress, sum(costs), what)
    if bar is not None:
        distributed = _import_distributed()
        weight = {future.key: c for future, c in zip(futures, costs)}
        try:
            for future in distributed.as_completed(futures):
                bar.update(weight[future.key])
        finally:
            bar.close()
    return client.gather(futures)


def _summed_timings(parts: list[dict], keys: tuple[str, ...]) -> dict:
    return {key: float(sum(part["timings"].get(key, 0.0) for part in parts)) for key in keys}
