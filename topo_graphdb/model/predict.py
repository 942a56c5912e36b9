"""Top-k new links per node with a fitted predictor.

Two ways, same output:

* ``exhaustive``: score every node for each source (dense ``batch x n``
  blocks sized to a memory budget) and keep the best ``top_k``;
* ``candidates`` (large graphs): score only candidate targets: the source's
  2-hop neighbourhood plus its nearest nodes by embedding inner product
  (exact search in batches; heuristics have no embedding and use 2-hop only).
  :func:`candidate_recall` measures how many exhaustive top-k links the
  candidates keep.

The source itself and its existing neighbours are never proposed. Ties are
broken by the lower node index.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..edgefile import read_edge_csv, read_node_list
from ..errors import InputError
from ..kernels._cpu.select import RowTopK
from ..kernels._csr import sorted_unique
from ..kernels._runner import current_runner
from .factory import make_predictor
from .names import HEURISTIC_MODELS, PREDICTORS
from .splits import index_edge_tables, random_split

__all__ = [
    "predict_links", "CappedCandidates", "capped_candidates", "capped_batch_size", "busy_batches", "candidate_recall", "predict_from_file",
    "EXHAUSTIVE_MAX_NODES",
]

#: ``method="auto"`` scores exhaustively up to this many nodes
EXHAUSTIVE_MAX_NODES = 50_000
_DEFAULT_BUDGET = 256 * 2**20
RUNS_PER_SLOT = 4  # runs of batches per worker thread on a cluster: balance, and little to redo when a worker is lost


def _adjacency(predictor):
    adj = getattr(predictor, "adj_", None)
    if adj is None:
        raise InputError("the predictor is not fitted; call fit(split) first")
    return adj


def _top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and scores of the ``k`` best entries per row (-inf never kept)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    vals = np.take_along_axis(scores, part, axis=1)
    # exact order with index tie-break: boundary ties may need the full row
    kth = vals.min(axis=1, keepdims=True)
    out_idx = np.empty((scores.shape[0], k), np.int64)
    out_val = np.empty((scores.shape[0], k), scores.dtype)
    for r in range(scores.shape[0]):
        row = scores[r]
        if np.count_nonzero(row >= kth[r, 0]) > k:  # ties at the boundary: lowest indices win
            above = np.flatnonzero(row > kth[r, 0])
            tied = np.flatnonzero(row == kth[r, 0])[: k - above.size]
            cand = np.concatenate([above, tied])
        else:
            cand = part[r]
        order = cand[np.lexsort((cand, -row[cand]))]
        out_idx[r] = order
        out_val[r] = row[order]
    return out_idx, out_val


def predict_links(
    predictor,
    *,
    nodes=None,
    top_k: int = 10,
    exclude=None,
    method: str = "auto",
    neighbours: int = 100,
    memory_budget: int | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Best ``top_k`` new links of each source node.

    Parameters
    ----------
    predictor : fitted predictor (``score``, ``score_block``, ``adj_``; ``embed`` optional)
    nodes : int array, optional
        Source nodes (dense indices); default every node.
    top_k : int
    exclude : scipy sparse (n, n), optional
        Existing links not to propose (default: the predictor's graph).
    method : {"auto", "exhaustive", "candidates"}
        ``auto``: exhaustive up to :data:`EXHAUSTIVE_MAX_NODES` nodes.
    neighbours : int
        Nearest embedding neighbours added to the candidates.
    memory_budget : bytes per batch (default 256 MiB)

    Returns
    -------
    dict with ``src``, ``dst`` (int64), ``score`` (float64), ``rank`` (1 = best
    for that source), sorted by source then rank; a source gets fewer than
    ``top_k`` rows when it has fewer candidates.

    Inside :func:`topo_graphdb.kernels.distributed.compute_on` (a CPU
    predictor), the same batches of sources are scored on the Dask workers,
    the predictor and ``exclude`` sent once per worker; the links are identical.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"top_k must be an integer >= 1; got {top_k!r}")
    if method not in ("auto", "exhaustive", "candidates"):
        raise InputError(f"method must be auto, exhaustive or candidates; got {method!r}")
    adj = _adjacency(predictor)
    n = adj.shape[0]
    known = (adj if exclude is None else exclude).tocsr()
    src_all = np.arange(n, dtype=np.int64) if nodes is None else np.unique(np.asarray(nodes, dtype=np.int64))
    if src_all.size and (src_all.min() < 0 or src_all.max() >= n):
        raise InputError(f"nodes must be indices in 0..{n - 1}")
    if method == "auto":
        method = "exhaustive" if n <= EXHAUSTIVE_MAX_NODES else "candidates"
    budget = _DEFAULT_BUDGET if memory_budget is None else int(memory_budget)
    if budget <= 0:
        raise InputError(f"memory_budget must be > 0 bytes; got {memory_budget!r}")
    if method == "exhaustive":
        per_row = int(predictor.block_bytes_per_source()) + 24 * n
        bs = int(max(1, min(4096, budget // per_row)))
        shared = {"predictor": predictor, "known": known, "top_k": int(top_k)}
        what = "predict"
    else:
        bs = int(max(1, min(4096, budget // (24 * n))))
        emb = predictor.embed() if hasattr(predictor, "embed") else None
        shared = {"predictor": predictor, "known": known, "top_k": int(top_k), "neighbours": int(neighbours),
                  "by_norm": None if emb is None else _by_norm(emb)}
        what = "predict (candidates)"
    batches = [src_all[start : start + bs] for start in range(0, src_all.size, bs)]
    rows = [row for row in _each_batch(_links_of_batches, shared, batches, predictor, progress=progress, what=what) if row is not None]
    if rows:
        src = np.concatenate([x[0] for x in rows])
        dst = np.concatenate([x[1] for x in rows])
        score = np.concatenate([x[2] for x in rows])
    else:
        src = dst = np.zeros(0, np.int64)
        score = np.zeros(0)
    order = np.lexsort((-score, src)) if src.size else np.zeros(0, np.int64)
    src, dst, score = src[order], dst[order], score[order]
    first = np.searchsorted(src, src, side="left")
    rank = np.arange(src.size) - first + 1
    return {"src": src, "dst": dst, "score": score, "rank": rank.astype(np.int64)}


def _links_of_batch(shared: dict, emb_t: Any, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The best links ``(src, dst, score)`` of the sources ``batch``: every node scored
    (``shared`` without ``by_norm``) or the candidates only (None when there is none)."""
    predictor, known, top_k = shared["predictor"], shared["known"], shared["top_k"]
    if "by_norm" not in shared:
        s = np.asarray(predictor.score_block(batch), dtype=np.float64)
        s[known[batch].toarray() > 0] = -np.inf
        s[np.arange(batch.size), batch] = -np.inf
        s[np.isnan(s)] = -np.inf
        idx, val = _top_rows(s, top_k)
        ok = np.isfinite(val)
        return np.repeat(batch, ok.sum(axis=1)), idx[ok], val[ok].astype(np.float64)
    import scipy.sparse as sp  # noqa: PLC0415

    adj, by_norm, neighbours = _adjacency(predictor), shared["by_norm"], shared["neighbours"]
    n = adj.shape[0]
    cand = (adj[batch] @ adj).tocsr()
    cand.data[:] = 1.0
    if emb_t is not None and neighbours > 0:
        r, c, _ = _nearest(by_norm, emb_t, batch, known[batch], min(neighbours, n - 1)).kept()
        cand = cand + sp.csr_matrix((np.ones(r.size), (r, c)), shape=(batch.size, n))
    cand = cand.tocsr()
    cand.data[:] = 1.0
    cand = cand - cand.multiply(known[batch] > 0)
    cand.eliminate_zeros()
    coo = cand.tocoo()
    keep = batch[coo.row] != coo.col
    r, c = coo.row[keep], coo.col[keep]
    if r.size == 0:
        return None
    sc = np.asarray(predictor.score(np.stack([batch[r], c])), dtype=np.float64)
    return _best_per_row(batch, r, c, sc, top_k)


def _links_of_batches(shared: dict, batches: list[np.ndarray]) -> list:
    """One task on a worker: :func:`_links_of_batch` of each batch, in order."""
    emb_t = _embeddings(shared)
    return [_links_of_batch(shared, emb_t, batch) for batch in batches]


def _embeddings(shared: dict) -> Any:
    """The embeddings in norm order (``shared["by_norm"]``, see :func:`_by_norm`) as a torch tensor, or None."""
    by_norm = shared.get("by_norm")
    if by_norm is None:
        return None
    import torch  # noqa: PLC0415  (the inner products of the embeddings)

    emb = by_norm["emb"]
    if not emb.flags.writeable:  # received read-only from the scheduler; torch wants to own it
        emb = emb.copy()
    return torch.from_numpy(emb)


def _each_batch(func: Any, shared: dict, batches: list[np.ndarray], predictor: Any, *, progress: bool = False, what: str) -> list:
    """One result per batch, in batch order: ``func(shared, run)`` over runs of ``batches``.

    Inside :func:`topo_graphdb.kernels.distributed.compute_on` (a CPU
    predictor), the runs go to the cluster's workers, :data:`RUNS_PER_SLOT`
    per worker thread, ``shared`` sent once per worker (and not again while it
    stays the same); otherwise each batch is one run here. ``func`` is a
    module-level function (importable on the workers) returning a list with
    one result per batch of its run.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    runner = _cluster(predictor)
    if runner is not None:
        parts = runner.map_blocks(func, shared, _runs(batches, runner.slots()), progress=progress, what=what)
    else:
        parts = [func(shared, [batch]) for batch in tqdm(batches, desc=what, disable=not progress, leave=False)]
    return [row for part in parts for row in part]


def _runs(batches: list[np.ndarray], slots: int) -> list[list[np.ndarray]]:
    """Consecutive runs of ``batches``, :data:`RUNS_PER_SLOT` per worker thread (the batches themselves
    unchanged, so every score comes from the same arithmetic on the same shapes as in one process)."""
    cuts = np.linspace(0, len(batches), min(len(batches), RUNS_PER_SLOT * max(slots, 1)) + 1).astype(np.int64)
    return [batches[a:b] for a, b in zip(cuts[:-1], cuts[1:])]


def _cluster(predictor: Any) -> Any:
    """The active cluster's runner when ``predictor``'s batches go there (a CPU predictor inside
    :func:`topo_graphdb.kernels.distributed.compute_on`), else None."""
    runner = current_runner()
    return runner if runner is not None and hasattr(runner, "map_blocks") and _on_cpu(predictor) else None


def _on_cpu(predictor: Any) -> bool:
    """Whether ``predictor`` scores on the CPU (a GPU predictor keeps its scoring in this process)."""
    device = getattr(predictor, "device", "cpu")
    if device == "cpu":
        return True
    from .predictor import resolve_device  # noqa: PLC0415  (torch)

    return resolve_device(device).type == "cpu"


def candidate_recall(predictor, *, nodes=None, top_k: int = 10, neighbours: int = 100, exclude=None) -> dict[str, float]:
    """Share of the exhaustive top-k links that candidate generation also returns.

    ``recall = |P_cand ∩ P_exh| / |P_exh|`` over the given source nodes, with
    the times of both methods.
    """
    t = time.perf_counter()
    exh = predict_links(predictor, nodes=nodes, top_k=top_k, exclude=exclude, method="exhaustive")
    t_exh = time.perf_counter() - t
    t = time.perf_counter()
    cand = predict_links(predictor, nodes=nodes, top_k=top_k, exclude=exclude, method="candidates", neighbours=neighbours)
    t_cand = time.perf_counter() - t
    n = _adjacency(predictor).shape[0]
    a = np.unique(exh["src"] * n + exh["dst"])
    b = np.unique(cand["src"] * n + cand["dst"])
    recall = float(np.isin(a, b).mean()) if a.size else float("nan")
    return {"recall": recall, "exhaustive_links": int(a.size), "exhaustive_seconds": t_exh, "candidate_seconds": t_cand, "top_k": int(top_k), "neighbours": int(neighbours)}


def predict_from_file(
    edges_path: str | Path,
    *,
    output: str | Path,
    top_k: int,
    features: str | Path | None = None,
    model: str = "gcn",
    seed: int = 0,
    nodes_path: str | Path | None = None,
    epochs: int | None = None,
    progress: bool = False,
    predictor_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on every edge of a CSV (10% held out for early stopping, then
    scoring with all edges) and write the top-k new links per node.

    Writes ``output`` as CSV ``src,dst,score,rank`` with the original node
    ids; returns a summary (counts, timings, settings).
    """
    import pandas as pd  # noqa: PLC0415  (pandas takes ~0.3 s to import; only this command needs it)

    if model not in PREDICTORS:
        raise InputError(f"--model must be one of {', '.join(PREDICTORS)}; got {model!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"--top-k must be an integer >= 1; got {top_k!r}")
    t0 = time.perf_counter()
    [edges], n, node_ids, x = index_edge_tables([read_edge_csv(edges_path)], features)
    sources = None
    if nodes_path is not None:
        wanted = read_node_list(nodes_path)
        pos = np.searchsorted(node_ids, wanted)
        ok = (pos < n) & (node_ids[np.minimum(pos, n - 1)] == wanted)
        if not ok.all():
            raise InputError(f"{nodes_path}: unknown node ids {wanted[~ok][:5].tolist()}")
        sources = pos
    heuristic = model in HEURISTIC_MODELS
    split = random_split(edges, n, valid_fraction=0.0 if heuristic else 0.1, test_fraction=0.0, seed=seed, x=x, node_ids=node_ids)
    settings: dict[str, Any] = {} if heuristic else {**(predictor_settings or {}), "seed": seed, "progress": progress, "epochs": epochs}
    predictor = make_predictor(model, **settings)
    t = time.perf_counter()
    predictor.fit(split)
    fit_s = time.perf_counter() - t
    all_edges = np.concatenate([split.train_pos, split.valid_pos], axis=1)
    if not heuristic:
        predictor.use_edges(all_edges)
    t = time.perf_counter()
    pred = predict_links(predictor, nodes=sources, top_k=int(top_k), progress=progress)
    pred_s = time.perf_counter() - t
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"src": node_ids[pred["src"]], "dst": node_ids[pred["dst"]], "score": pred["score"], "rank": pred["rank"]}).to_csv(
        out, index=False, float_format="%.6g"
    )
    return {
        "output": str(out),
        "links": int(pred["src"].size),
        "sources": int(n if sources is None else np.unique(sources).size),
        "nodes": n,
        "edges": int(all_edges.shape[1]),
        "model": model,
        "seed": int(seed),
        "top_k": int(top_k),
        "seconds": {"fit": fit_s, "predict": pred_s, "total": time.perf_counter() - t0},
    }


class CappedCandidates:
    """Top-k links of sources scored against at most ``two_hop + neighbours`` candidates each.

    Candidates: the ``two_hop`` non-neighbours sharing the most neighbours
    with the source (ties: lower index), plus its ``neighbours`` nearest nodes
    by embedding inner product (learned models; :func:`_nearest`); existing
    neighbours and the source itself are never candidates. On power-law graphs
    the uncapped 2-hop neighbourhood of hubs holds most of the graph, and
    scoring it dominates a sync; the cap bounds the cost to
    ``O(|sources| (two_hop + neighbours))`` model evaluations.

    Built once per predictor and graph (embeddings in norm order, the
    adjacency as float32); each call scores its ``sources`` in batches of
    :func:`capped_batch_size` rows. Inside
    :func:`topo_graphdb.kernels.distributed.compute_on` (a CPU predictor), the
    same batches run on the Dask workers, the predictor, its embeddings and
    ``known`` sent once per worker (and not again for the next call); the
    links are identical. A call returns ``(src, dst, score)`` grouped by
    source in the order of ``sources``, best first.
    """

    def __init__(self, predictor: Any, known: Any, *, top_k: int, two_hop: int = 100, neighbours: int = 100, batch: int = 256):
        emb = predictor.embed() if hasattr(predictor, "embed") else None
        adjacency = known.astype(np.float32).tocsr()
        adjacency.eliminate_zeros()
        adjacency.data[:] = 1.0  # an edge wherever ``known`` is non-zero
        self.predictor = predictor
        self.shared = {
            "predictor": predictor, "adjacency": adjacency,
            "by_norm": None if emb is None else _by_norm(emb),
            "top_k": int(top_k), "two_hop": int(two_hop), "neighbours": int(neighbours),
        }
        self.batch_size = capped_batch_size(known.shape[0], batch)

    def __call__(self, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        size = self.batch_size
        batches = [sources[start : start + size] for start in range(0, sources.size, size)]
        rows = [row for row in _each_batch(_capped_of_batches, self.shared, batches, self.predictor, what="capped candidates") if row is not None]
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return tuple(np.concatenate([row[i] for row in rows]) for i in range(3))  # type: ignore[return-value]


def capped_candidates(
    predictor: Any, known: Any, sources: np.ndarray, *, top_k: int, two_hop: int = 100, neighbours: int = 100, batch: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links of :class:`CappedCandidates` for ``sources``, in one call."""
    return CappedCandidates(predictor, known, top_k=top_k, two_hop=two_hop, neighbours=neighbours, batch=batch)(sources)


def capped_batch_size(n: int, batch: int = 256) -> int:
    """Sources per batch of :func:`capped_candidates` on ``n`` nodes: at most ``batch``, and the dense
    ``batch x n`` float32 similarity block under 256 MiB."""
    return max(1, min(batch, (64 * 2**20) // max(n, 1)))


def busy_batches(predictor: Any) -> int:
    """Batches of sources one call should hold to keep every scorer busy: :data:`RUNS_PER_SLOT` per
    worker thread of the active cluster (:func:`topo_graphdb.kernels.distributed.compute_on`, a CPU
    predictor), else 1."""
    runner = _cluster(predictor)
    return 1 if runner is None else RUNS_PER_SLOT * max(int(runner.slots()), 1)


def _capped_of_batches(shared: dict, batches: list[np.ndarray]) -> list:
    """One task: the capped-candidate links ``(src, dst, score)`` of each batch of sources, in order
    (None for a batch without any candidate)."""
    emb_t = _embeddings(shared)
    return [_capped_of_batch(shared, emb_t, rows) for rows in batches]


def _capped_of_batch(shared: dict, emb_t: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The capped-candidate links of the sources ``rows`` (see :func:`capped_candidates`)."""
    a, top_k, two_hop, neighbours = shared["adjacency"], shared["top_k"], shared["two_hop"], shared["neighbours"]
    n = a.shape[0]
    most = RowTopK(rows.size, min(two_hop, n))  # most common neighbours first, then lower index
    most.push_common(a.indptr, a.indices, rows)
    cands = [most.kept()]
    if emb_t is not None and neighbours > 0:
        cands.append(_nearest(shared["by_norm"], emb_t, rows, a[rows], min(neighbours, n - 1)).kept())
    r = np.concatenate([x[0] for x in cands])
    c = np.concatenate([x[1] for x in cands])
    if r.size == 0:
        return None
    pairs = sorted_unique(r * np.int64(n) + c)
    r, c = pairs // n, pairs % n
    score = np.asarray(shared["predictor"].score(np.stack([rows[r], c])), dtype=np.float64)
    return _best_per_row(rows, r, c, score, top_k)


#: nodes in the first block of :func:`_nearest`; each later block is twice as wide
_FIRST_BLOCK = 1024
#: relative slack on the Cauchy-Schwarz bound of :func:`_nearest` (float32 rounding of the inner products)
_BOUND_SLACK = 1e-4


def _by_norm(emb: np.ndarray) -> dict[str, np.ndarray]:
    """The embeddings in order of decreasing norm (ties: lower node), as :func:`_nearest` reads them:
    ``emb`` (float32 rows in that order), ``node`` (the node of each row), ``position`` (the row of each
    node) and ``norm`` (float64, in that order)."""
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    norm = np.linalg.norm(emb, axis=1).astype(np.float64)
    node = np.argsort(-norm, kind="stable")
    position = np.empty_like(node)
    position[node] = np.arange(node.size)
    return {"emb": np.ascontiguousarray(emb[node]), "node": node, "position": position, "norm": norm[node]}


def _nearest(by_norm: dict[str, Any], emb_t: Any, rows: np.ndarray, excluded: Any, k: int) -> RowTopK:
    """The ``k`` largest inner products ``<e_r, e_j>`` of each source ``r`` of ``rows`` (row ``i`` of the
    returned :class:`RowTopK` for ``rows[i]``, columns the nodes ``j``) over the nodes not ``excluded``
    (a sparse ``(rows, n)`` matrix; the source itself is excluded too), ties: lower node.

    Exact without scoring every node: nodes are visited by decreasing norm ``|e_j|`` in blocks of
    :data:`_FIRST_BLOCK`, then twice as wide each time. By Cauchy-Schwarz ``<e_r, e_j> <= |e_r| |e_j|``,
    so once a source's ``k``-th best value exceeds ``|e_r|`` times the largest norm left (with the
    relative slack :data:`_BOUND_SLACK`), no later node can enter and the source stops. On learned
    embeddings most sources stop within the first blocks.
    """
    import torch  # noqa: PLC0415

    node, position, norm = by_norm["node"], by_norm["position"], by_norm["norm"]
    n = node.size
    ex = excluded.tocoo()
    ex_row = np.concatenate([ex.row.astype(np.int64), np.arange(rows.size)])
    ex_pos = position[np.concatenate([ex.col.astype(np.int64), rows])]
    srt = np.argsort(ex_pos, kind="stable")
    ex_row, ex_pos = ex_row[srt], ex_pos[srt]
    queries = emb_t[torch.from_numpy(position[rows])]
    bound_of = norm[position[rows]] * (1.0 + _BOUND_SLACK)
    top = RowTopK(rows.size, k)
    slot = np.full(rows.size, -1, dtype=np.int64)
    active = np.arange(rows.size)
    start, width = 0, _FIRST_BLOCK
    while start < n and active.size:
        stop = min(n, start + width)
        block = (queries[torch.from_numpy(active)] @ emb_t[start:stop].T).numpy()
        lo, hi = np.searchsorted(ex_pos, [start, stop])
        slot[active] = np.arange(active.size)
        at = slot[ex_row[lo:hi]]
        hit = at >= 0
        block[at[hit], ex_pos[lo:hi][hit] - start] = -np.inf
        slot[active] = -1
        top.push(block, active, node[start:stop])
        start, width = stop, 2 * width
        if start < n:
            active = active[~(top.threshold()[active] > bound_of[active] * norm[start])]
    return top


def _best_per_row(
    sources: np.ndarray, r: np.ndarray, c: np.ndarray, score: np.ndarray, top_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` best pairs ``(sources[r], c)`` of each row by score (ties: lower column),
    grouped by row, best first."""
    best = RowTopK(sources.size, top_k)
    best.push_pairs(r, c, score)
    row, col, value = best.kept()
    return sources[row], col, value
