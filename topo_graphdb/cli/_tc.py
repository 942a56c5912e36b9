"""``topo-graphdb tc``: Topological Concentration of the nodes of an edge file."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import click
import numpy as np

from .. import __version__
from ..errors import InputError
from ..units import parse_size
from ._group import fail, main
from ._scheduler import refuse_gpu_with_scheduler, scheduler_option

__all__ = ["tc"]


@main.command("tc")
@click.option("--edges", "edges_path", required=True,
              help="Training edges: CSV with a header holding src,dst (integer ids), or a snapshot folder "
                   "(export --out; a path or URL such as s3://bucket/snap: Dask workers read it themselves).")
@click.option("--eval-edges", "eval_path", default=None, help="Evaluation edges (same format); without it: the train variant.")
@click.option("--nodes", "nodes_path", default=None, help="Extra node ids to include (CSV with a node column, or one id per line).")
@click.option("--hops", default=1, type=int, show_default=True, help="K: walk length, 1 to 4.")
@click.option("--beta", default=None, type=float, help="Decay > 0; default 1 / mean degree over the nodes of --edges and --nodes.")
@click.option("--approx", is_flag=True, help="Approximate TC (ATC) instead of exact TC.")
@click.option("--dim", default=None, type=int, help="ATC vector dimension (with --approx; default 128).")
@click.option("--seed", default=None, type=int, help="ATC random seed (with --approx; default 0).")
@click.option(
    "--backend", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "gpu"]), help="Where to compute."
)
@click.option("--memory-budget", default=None, help="Memory the computation may use, e.g. 512M or 8G (default: half the free memory).")
@scheduler_option
@click.option("--estimate", is_flag=True, help="Print the expected memory and work, and exit without computing.")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="With --estimate: memory per worker and expected time on N single-threaded Dask workers.")
@click.option("--output", "output_path", default=None, help="Output CSV (node,tc); settings go to OUT.csv.json.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a terminal).")
def tc(
    edges_path: str,
    eval_path: str | None,
    nodes_path: str | None,
    hops: int,
    beta: float | None,
    approx: bool,
    dim: int | None,
    seed: int | None,
    backend: str,
    memory_budget: str | None,
    scheduler: str | None,
    estimate: bool,
    workers: int | None,
    output_path: str | None,
    progress: bool | None,
) -> None:
    """Topological Concentration of every node of an edge file (exact, or --approx).

    Node set: every id in --edges, --eval-edges and --nodes. OUT.csv has one
    row per node sorted by id, with an empty tc where TC is undefined (no
    evaluation neighbour; degree <= 1 in the train variant, 0 otherwise).
    """
    if (dim is not None or seed is not None) and not approx:
        fail("--dim and --seed apply to --approx only", 2)
    if workers is not None and not estimate:
        fail("--workers applies to --estimate only", 2)
    if output_path is None and not estimate:
        fail("--output is required (unless --estimate)", 2)
    refuse_gpu_with_scheduler(scheduler, backend)
    inputs = _load_inputs(edges_path, eval_path, nodes_path)
    if estimate:
        click.echo(_estimate(inputs, hops=hops, backend=backend, memory_budget=memory_budget, workers=workers,
                             approx=approx, dim=_DEFAULT_DIM if dim is None else dim))
        return
    show = sys.stderr.isatty() if progress is None else progress
    result, settings = _run(
        inputs, hops=hops, beta=beta, approx=approx, dim=dim, seed=seed, backend=backend,
        memory_budget=memory_budget, scheduler=scheduler or None, progress=show,
    )
    _write_outputs(output_path, inputs, result, settings)


_DEFAULT_DIM = 128
_DEFAULT_SEED = 0


def _load_inputs(edges_path: str, eval_path: str | None, nodes_path: str | None) -> dict:
    """Read the files; dense indices follow the sorted node ids."""

    from ..edgefile import read_edge_csv, read_node_list  # noqa: PLC0415
    from ..snapshot import GraphSnapshot  # noqa: PLC0415

    t0 = time.perf_counter()
    if "://" in edges_path or Path(edges_path).is_dir():
        return _snapshot_inputs(edges_path, eval_path, nodes_path, t0)
    train = read_edge_csv(edges_path)
    ev = read_edge_csv(eval_path) if eval_path else None
    listed = read_node_list(nodes_path) if nodes_path else np.zeros(0, np.int64)
    extra = [ev.src, ev.dst, listed] if ev is not None else [listed]
    snap = GraphSnapshot.from_edges(train.src, train.dst, nodes=np.concatenate(extra) if extra else None)
    eval_index = None
    if ev is not None:
        eval_index = np.stack([np.searchsorted(snap.node_ids, ev.src), np.searchsorted(snap.node_ids, ev.dst)])
    return {
        "snapshot": snap,
        "eval": eval_index,
        # beta's node set: the training file's nodes plus --nodes (never the evaluation-only ones)
        "beta_nodes": int(np.unique(np.concatenate([train.src, train.dst, listed])).size),
        "files": {"edges": str(edges_path), "eval_edges": eval_path, "nodes": nodes_path},
        "rows": {"train": len(train), "eval": len(ev) if ev is not None else None},
        "read_seconds": time.perf_counter() - t0,
    }


def _snapshot_inputs(folder: str, eval_path: str | None, nodes_path: str | None, t0: float) -> dict:
    """A snapshot folder's graph (its own node set) and evaluation edges between its nodes."""
    from ..edgefile import read_edge_csv  # noqa: PLC0415
    from ..snapshot import GraphSnapshot  # noqa: PLC0415

    if nodes_path:
        raise InputError("--nodes applies to an edge CSV; a snapshot folder holds its own node set")
    snap = GraphSnapshot.from_parquet(folder)
    ev = read_edge_csv(eval_path) if eval_path else None
    return {
        "snapshot": snap,
        "eval": None if ev is None else np.stack([snap.index_of(ev.src), snap.index_of(ev.dst)]),
        "beta_nodes": snap.num_nodes,
        "files": {"edges": folder, "eval_edges": eval_path, "nodes": None},
        "rows": {"train": snap.num_edges, "eval": len(ev) if ev is not None else None},
        "read_seconds": time.perf_counter() - t0,
    }


def _estimate(inputs: dict, *, hops: int, backend: str, memory_budget: str | None, workers: int | None,
              approx: bool, dim: int) -> str:
    from ..kernels.estimate import estimate_cluster, estimate_tc  # noqa: PLC0415

    budget = parse_size(memory_budget, name="memory budget") if memory_budget is not None else None
    snap = inputs["snapshot"]
    lines = [estimate_tc(snap, inputs["eval"], hops=hops, backend=backend, memory_budget=budget).summary()]
    if workers is not None:
        lines.append(estimate_cluster(snap, inputs["eval"], hops=hops, workers=workers, approx=approx, dim=dim,
                                      memory_budget=budget).summary())
    return "\n".join(lines)


def _run(inputs: dict, *, hops: int, beta: float | None, approx: bool, dim: int | None, seed: int | None,
         backend: str, memory_budget: str | None, scheduler: str | None, progress: bool) -> tuple[object, dict]:
    from ..kernels import default_beta  # noqa: PLC0415
    from ..kernels.distributed import compute_scheduled  # noqa: PLC0415

    budget = parse_size(memory_budget, name="memory budget") if memory_budget is not None else None
    snap = inputs["snapshot"]
    if beta is None:
        beta = default_beta(snap.edge_index, num_nodes=inputs["beta_nodes"])
    settings: dict = {"hops": hops, "beta": beta, "approx": approx, "dim": None, "seed": None, "scheduler": scheduler}
    with compute_scheduled(scheduler):  # None: this process
        if approx:
            from ..kernels.atc import approximate_tc  # noqa: PLC0415

            settings["dim"] = _DEFAULT_DIM if dim is None else dim
            settings["seed"] = _DEFAULT_SEED if seed is None else seed
            result = approximate_tc(
                snap.edge_index, inputs["eval"], hops=hops, beta=beta, dim=settings["dim"], seed=settings["seed"],
                backend=backend, num_nodes=snap.num_nodes,
            )
        else:
            from ..kernels.tc import topological_concentration  # noqa: PLC0415

            result = topological_concentration(
                snap, inputs["eval"], hops=hops, beta=beta, backend=backend, memory_budget=budget, progress=progress
            )
    settings["memory_budget"] = budget
    return result, settings


def _write_outputs(output_path: str, inputs: dict, result: object, settings: dict) -> None:
    """``node,tc`` rows sorted by id (round-trip float64 text; empty where undefined) and the JSON sidecar."""

    t0 = time.perf_counter()
    snap = inputs["snapshot"]
    values = np.asarray(result.tc, dtype=np.float64)
    if values.shape != (snap.num_nodes,):
        raise InputError(f"the TC result has shape {values.shape}; expected ({snap.num_nodes},)")
    lines = ["node,tc"]
    lines.extend(
        f"{node},{'' if math.isnan(x) else repr(x)}" for node, x in zip(snap.node_ids.tolist(), values.tolist())
    )
    out = Path(output_path)
    try:
        out.write_text("\n".join(lines) + "\n")
    except OSError as err:
        raise InputError(f"cannot write {out}: {err.strerror}") from err
    beta = result.beta
    timings = {"read": inputs["read_seconds"], **{k: float(v) for k, v in dict(getattr(result, "timings", {}) or {}).items()}}
    timings["write"] = time.perf_counter() - t0
    sidecar = {
        "hops": settings["hops"],
        "beta": None if beta is None else float(beta),
        "variant": "train" if inputs["eval"] is None else "eval",
        "approx": settings["approx"],
        "dim": settings["dim"],
        "seed": settings["seed"],
        "backend": getattr(result, "backend", None),
        "memory_budget": settings["memory_budget"],
        "scheduler": settings["scheduler"],
        "version": __version__,
        "timings": timings,
        "nodes": snap.num_nodes,
        "defined": int(np.count_nonzero(~np.isnan(values))),
        "train_rows": inputs["rows"]["train"],
        "eval_rows": inputs["rows"]["eval"],
        "train_edges": getattr(result, "train_edges", None),
        "eval_edges": getattr(result, "eval_edges", None),
        "files": inputs["files"],
    }
    Path(f"{out}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
