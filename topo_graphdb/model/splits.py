"""Train/validation/test edge splits without leakage.

An :class:`EdgeSplit` holds undirected positive edges of three disjoint sets
plus fixed validation and test negatives. Three ways to build one:

* :func:`random_split`: a seeded random 70/10/20 split of the unique
  undirected edges (fractions configurable);
* :func:`temporal_split`: the newest 20% of the unique edges (dated by first
  appearance) to test, the 10% before them to validation (exact shares, ties
  in a seeded order), or explicit times ``t1``, ``t2``;
* :func:`explicit_split` / :func:`split_from_files`: given train, valid and test
  edge lists (edge files keep their original ids).

Negatives
---------
Validation and test negatives are drawn by :func:`sample_negatives`: as many
as the positives of that split, uniformly from unordered node pairs
``{u, v}``, ``u != v``, that are not an edge of the *whole* graph
(train ∪ valid ∪ test), without duplicates and disjoint between validation and
test, fixed by the seed. They are therefore never true edges. Training
negatives are not stored: the predictor samples them afresh each epoch from
pairs that are not training edges (it cannot know the held-out ones).

Every edge array has shape ``(2, E)``, dtype int64, one column per undirected
pair written ``(min, max)``, no self-loops, no duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..edgefile import read_edge_csv
from ..errors import EmptyGraphError, InputError
from ..snapshot import adjacency_matrix, simple_undirected

__all__ = [
    "EdgeSplit",
    "random_split",
    "temporal_split",
    "explicit_split",
    "split_from_files",
    "split_snapshot",
    "sample_negatives",
    "load_features",
    "edge_keys",
]

#: complement sizes up to this are enumerated when sampling negatives
_ENUMERATE_LIMIT = 4_000_000


def edge_keys(edges: np.ndarray, num_nodes: int) -> np.ndarray:
    """Scalar key ``min * n + max`` of each undirected pair (int64, same order)."""
    e = np.asarray(edges, dtype=np.int64).reshape(2, -1)
    lo = np.minimum(e[0], e[1])
    hi = np.maximum(e[0], e[1])
    return lo * np.int64(num_nodes) + hi


def _from_keys(keys: np.ndarray, num_nodes: int) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.int64)
    if keys.size == 0:
        return np.zeros((2, 0), np.int64)
    return np.stack([keys // num_nodes, keys % num_nodes]).astype(np.int64)


def _isin_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, sorted_keys.size - 1)
    return sorted_keys[pos] == keys


def sample_negatives(
    forbidden: np.ndarray,
    num_nodes: int,
    count: int,
    *,
    rng: np.random.Generator,
    unique: bool = True,
) -> np.ndarray:
    """Uniformly drawn node pairs that are not in ``forbidden``.

    Parameters
    ----------
    forbidden : ndarray of int64 keys, sorted
        Keys (:func:`edge_keys`) of the pairs that must not be drawn.
    num_nodes : int
    count : int
        How many pairs to draw. With ``unique=True`` at most the size of the
        complement; fewer are returned when the complement is smaller.
    rng : numpy Generator
        The only source of randomness (the result is fixed by its state).
    unique : bool
        Draw without replacement (validation and test negatives) or with it
        (training negatives, cheaper).

    Returns
    -------
    ndarray, shape (2, m), int64, columns ``(min, max)``, ``m <= count``.

    Notes
    -----
    Each unordered pair ``{u, v}``, ``u != v``, outside ``forbidden`` has the
    same probability. Small complements (at most a few million pairs) are
    enumerated and sampled without replacement; otherwise ordered pairs are
    drawn uniformly, canonicalised (which keeps the distribution uniform over
    unordered pairs) and rejected when forbidden or already drawn.

    Kept instead of PyG's ``negative_sampling``: asked for ``count`` undirected
    pairs it returns at most ``count / 2`` distinct ones and draws from torch's
    global generator; held-out negatives here need exactly ``count`` distinct
    pairs fixed by a seed (``test_splits.py`` shows the difference).

    >>> rng = np.random.default_rng(0)
    >>> forb = np.sort(edge_keys(np.array([[0, 1], [1, 2]]), 3))
    >>> sample_negatives(forb, 3, 5, rng=rng).tolist()  # only {0, 2} is left
    [[0], [2]]
    """
    n = int(num_nodes)
    count = int(count)
    if count <= 0 or n < 2:
        return np.zeros((2, 0), np.int64)
    free = n * (n - 1) // 2 - int(forbidden.size)
    if unique and free <= _ENUMERATE_LIMIT:
        return _enumerated_negatives(forbidden, n, count, rng)
    return _rejection_negatives(forbidden, n, count, rng, unique)


def _enumerated_negatives(forbidden: np.ndarray, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Every pair outside ``forbidden`` listed, then ``count`` of them drawn without replacement."""
    iu = np.triu_indices(n, 1)
    keys = iu[0].astype(np.int64) * n + iu[1]
    keys = keys[~_isin_sorted(keys, forbidden)]
    take = min(count, keys.size)
    return _from_keys(rng.choice(keys, size=take, replace=False), n)


def _rejection_negatives(forbidden: np.ndarray, n: int, count: int, rng: np.random.Generator, unique: bool) -> np.ndarray:
    """Ordered pairs drawn uniformly and canonicalised; forbidden ones (and, with ``unique``,
    repeats) rejected; at most 200 rounds of redraws."""
    chosen: list[np.ndarray] = []
    have = 0
    seen = np.zeros(0, np.int64)
    for _round in range(200):
        need = count - have
        if need <= 0:
            break
        draw = int(need * 1.25) + 32
        u = rng.integers(0, n, size=draw, dtype=np.int64)
        v = rng.integers(0, n, size=draw, dtype=np.int64)
        ok = u != v
        keys = np.minimum(u[ok], v[ok]) * n + np.maximum(u[ok], v[ok])
        keys = keys[~_isin_sorted(keys, forbidden)]
        if unique:
            _, first = np.unique(keys, return_index=True)
            keys = keys[np.sort(first)]
            keys = keys[~_isin_sorted(keys, seen)]
        keys = keys[:need]
        chosen.append(keys)
        have += keys.size
        if unique:
            seen = np.sort(np.concatenate([seen, keys]))
    out = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    return _from_keys(out, n)


# ---------------------------------------------------------------- the split
def _canonical(edges: Any, num_nodes: int, name: str) -> np.ndarray:
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim != 2 or e.shape[0] != 2:
        raise InputError(f"{name} must have shape (2, E); got {e.shape}")
    if e.size and (e.min() < 0 or e.max() >= num_nodes):
        raise InputError(f"{name} refers to nodes outside 0..{num_nodes - 1}")
    return e


@dataclass(frozen=True, eq=False)
class EdgeSplit:
    """Positive and negative edges of a link-prediction experiment.

    Attributes
    ----------
    num_nodes : int
        Nodes are ``0..num_nodes-1`` (nodes without any edge may exist).
    train_pos, valid_pos, test_pos : ndarray, shape (2, E_*), int64
        Disjoint sets of undirected edges, one column ``(min, max)`` per pair.
        Message passing and training positives use ``train_pos`` only.
    valid_neg, test_neg : ndarray, shape (2, N_*), int64
        Fixed negatives: never an edge of train ∪ valid ∪ test (see module doc).
    x : ndarray (n, f) or scipy sparse matrix, optional
        Node features; ``None`` means the model learns an embedding per node.
    node_ids : ndarray, shape (n,), optional
        External id of each node (``None``: the id is the index).
    train_time : ndarray, shape (E_train,), optional
        First-appearance time of each training edge (temporal graphs).
    meta : dict
        How the split and its negatives were made (kind, seed, counts).
    """

    num_nodes: int
    train_pos: np.ndarray
    valid_pos: np.ndarray
    test_pos: np.ndarray
    valid_neg: np.ndarray
    test_neg: np.ndarray
    x: Any = None
    node_ids: np.ndarray | None = None
    train_time: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = int(self.num_nodes)
        object.__setattr__(self, "num_nodes", n)
        for name in ("train_pos", "valid_pos", "test_pos", "valid_neg", "test_neg"):
            object.__setattr__(self, name, _canonical(getattr(self, name), n, name))
        if self.x is not None and self.x.shape[0] != n:
            raise InputError(f"x has {self.x.shape[0]} rows for {n} nodes")
        if self.node_ids is not None and len(self.node_ids) != n:
            raise InputError(f"node_ids has {len(self.node_ids)} entries for {n} nodes")
        if self.train_time is not None and len(self.train_time) != self.train_pos.shape[1]:
            raise InputError("train_time must have one entry per training edge")

    # -------------------------------------------------------------- queries
    def all_positive_keys(self) -> np.ndarray:
        """Sorted keys of every true edge (train ∪ valid ∪ test)."""
        return np.unique(np.concatenate([edge_keys(e, self.num_nodes) for e in (self.train_pos, self.valid_pos, self.test_pos)]))

    def adjacency(self, which: str | tuple[str, ...] = "train"):
        """Symmetric 0/1 ``scipy.sparse.csr_matrix`` (n, n) of the named positive sets."""
        names = (which,) if isinstance(which, str) else tuple(which)
        parts = [getattr(self, f"{w}_pos") for w in names]
        e = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.int64)
        return adjacency_matrix(e, self.num_nodes, np.float64)

    def message_passing_edges(self) -> np.ndarray:
        """Both directions of the training edges, shape (2, 2 E_train)."""
        e = self.train_pos
        return np.concatenate([e, e[::-1]], axis=1)

    def describe(self) -> dict[str, Any]:
        """Counts and negatives description (JSON-ready)."""
        return {
            "num_nodes": self.num_nodes,
            "train_edges": int(self.train_pos.shape[1]),
            "valid_edges": int(self.valid_pos.shape[1]),
            "test_edges": int(self.test_pos.shape[1]),
            "valid_negatives": int(self.valid_neg.shape[1]),
            "test_negatives": int(self.test_neg.shape[1]),
            "features": None if self.x is None else list(map(int, self.x.shape)),
            **self.meta,
        }


def _negatives_for(
    n: int, train: np.ndarray, valid: np.ndarray, test: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    all_keys = np.unique(np.concatenate([edge_keys(e, n) for e in (train, valid, test)]))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6E6567]))
    both = sample_negatives(all_keys, n, valid.shape[1] + test.shape[1], rng=rng, unique=True)
    k = min(valid.shape[1], both.shape[1])
    valid_neg, test_neg = both[:, :k], both[:, k:]
    info = {
        "negatives": {
            "method": "uniform over unordered non-edge pairs of the whole graph (train+valid+test), "
            "no self-pairs, no duplicates, validation and test disjoint",
            "valid": int(valid_neg.shape[1]),
            "test": int(test_neg.shape[1]),
            "ratio_to_positives": 1.0,
            "seed": int(seed),
            "training": "sampled afresh each epoch, uniform over pairs that are not training edges",
        }
    }
    return valid_neg, test_neg, info


def _check_fraction(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise InputError(f"{name} must be in [0, 1); got {value!r}")
    return v


def random_split(
    edge_index: np.ndarray,
    num_nodes: int,
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    x: Any = None,
    node_ids: np.ndarray | None = None,
) -> EdgeSplit:
    """Seeded random split of the unique undirected edges (default 70/10/20).

    ``edge_index`` may be directed, hold duplicates and self-loops; these are
    canonicalised first (:func:`topo_graphdb.snapshot.simple_undirected`).
    Sizes: ``n_valid = round(valid_fraction * E)``, ``n_test = round(test_fraction * E)``.

    >>> s = random_split(np.array([[0, 0, 1, 2, 3], [1, 2, 2, 3, 4]]), 5, seed=1)
    >>> s.train_pos.shape[1] + s.valid_pos.shape[1] + s.test_pos.shape[1]
    5
    """
    vf = _check_fraction("valid_fraction", valid_fraction)
    tf = _check_fraction("test_fraction", test_fraction)
    if vf + tf >= 1.0:
        raise InputError(f"valid_fraction + test_fraction must be < 1; got {vf + tf}")
    edges, stats = simple_undirected(np.asarray(edge_index), int(num_nodes))
    m = edges.shape[1]
    if m == 0:
        raise EmptyGraphError("the graph has no edges to split")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x737074]))
    perm = rng.permutation(m)
    n_valid, n_test = int(round(vf * m)), int(round(tf * m))
    test = edges[:, np.sort(perm[:n_test])]
    valid = edges[:, np.sort(perm[n_test : n_test + n_valid])]
    train = edges[:, np.sort(perm[n_test + n_valid :])]
    valid_neg, test_neg, neg_info = _negatives_for(int(num_nodes), train, valid, test, seed)
    meta = {"kind": "random", "seed": int(seed), "fractions": [1 - vf - tf, vf, tf], "input": stats, **neg_info}
    return EdgeSplit(int(num_nodes), train, valid, test, valid_neg, test_neg, x=x, node_ids=node_ids, meta=meta)


def temporal_split(
    edge_index: np.ndarray,
    edge_time: np.ndarray,
    num_nodes: int,
    *,
    t1: float | None = None,
    t2: float | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    x: Any = None,
    node_ids: np.ndarray | None = None,
) -> EdgeSplit:
    """Split by time: the newest pairs are the test part, the ones before them validate.

    Each undirected pair is dated by its *first* appearance (repeated events
    between the same pair count once), so a pair belongs to exactly one part.

    * With ``t1`` and ``t2``: train ``t < t1``, validation ``t1 <= t < t2``,
      test ``t >= t2``.
    * Without them (the default): exact shares of the ``U`` unique pairs,
      ``n_test = round(test_fraction * U)`` newest pairs to the test part and
      the ``n_valid = round(valid_fraction * U)`` before them to validation.
      Pairs are ordered by time, equal times in a seeded random order, so the
      shares are exact even when many pairs share a timestamp (a year, a
      day); no training pair is newer than a validation or test pair.

    >>> s = temporal_split(np.array([[0, 1, 2, 3, 0], [1, 2, 3, 4, 2]]), np.array([1, 2, 3, 4, 5]), 5, t1=3, t2=5)
    >>> s.train_pos.tolist(), s.valid_pos.tolist(), s.test_pos.tolist()
    ([[0, 1], [1, 2]], [[2, 3], [3, 4]], [[0], [2]])
    >>> s = temporal_split(np.array([[0, 1, 2, 3, 0], [1, 2, 3, 4, 2]]), np.array([1, 2, 3, 4, 5]), 5, valid_fraction=0.2, test_fraction=0.2)
    >>> s.train_pos.shape[1], s.valid_pos.tolist(), s.test_pos.tolist()
    (3, [[3], [4]], [[0], [2]])
    """
    n = int(num_nodes)
    ei = np.asarray(edge_index, dtype=np.int64)
    t = np.asarray(edge_time, dtype=np.float64)
    if ei.ndim != 2 or ei.shape[0] != 2 or t.shape != (ei.shape[1],):
        raise InputError(f"edge_time must have one entry per edge; got {t.shape} for {ei.shape}")
    keep = ei[0] != ei[1]
    ei, t = ei[:, keep], t[keep]
    if ei.shape[1] == 0:
        raise EmptyGraphError("the graph has no edges to split")
    keys = edge_keys(ei, n)
    order = np.lexsort((t, keys))
    keys, t = keys[order], t[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    ukeys, utime = keys[first], t[first]
    if (t1 is None) != (t2 is None):
        raise InputError("give both t1 and t2, or neither (then valid_fraction and test_fraction set the shares)")
    if t1 is None:
        part = _newest_shares(utime, valid_fraction, test_fraction, seed)
        tr, va, te = part == 0, part == 1, part == 2
        t1 = float(utime[va | te].min()) if (va | te).any() else float("inf")
        t2 = float(utime[te].min()) if te.any() else float("inf")
    else:
        if not t1 <= t2:
            raise InputError(f"t1 must not exceed t2; got t1={t1}, t2={t2}")
        tr, va, te = utime < t1, (utime >= t1) & (utime < t2), utime >= t2
    if not tr.any():
        raise EmptyGraphError(f"no edge is older than t1={t1}", hint="choose a later t1")
    train, valid, test = (_from_keys(ukeys[mask], n) for mask in (tr, va, te))
    valid_neg, test_neg, neg_info = _negatives_for(n, train, valid, test, seed)
    meta = {
        "kind": "temporal",
        "seed": int(seed),
        "t1": float(t1),
        "t2": float(t2),
        "dated_by": "first appearance of each undirected pair",
        **neg_info,
    }
    return EdgeSplit(n, train, valid, test, valid_neg, test_neg, x=x, node_ids=node_ids, train_time=utime[tr], meta=meta)


def _newest_shares(time: np.ndarray, valid_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Part of each dated item: 0 train, 1 validation (the ``valid_fraction`` before the test part), 2 test (the newest ``test_fraction``); ties in a seeded order."""
    vf = _check_fraction("valid_fraction", valid_fraction)
    tf = _check_fraction("test_fraction", test_fraction)
    if vf + tf >= 1.0:
        raise InputError(f"valid_fraction + test_fraction must be < 1; got {vf + tf}")
    m = time.size
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x726563]))
    order = np.lexsort((rng.random(m), time))
    n_test, n_valid = int(round(tf * m)), int(round(vf * m))
    part = np.zeros(m, np.int8)
    part[order[m - n_test - n_valid : m - n_test]] = 1
    part[order[m - n_test :]] = 2
    return part


def explicit_split(
    train: np.ndarray,
    valid: np.ndarray,
    test: np.ndarray,
    num_nodes: int,
    *,
    seed: int = 0,
    x: Any = None,
    node_ids: np.ndarray | None = None,
) -> EdgeSplit:
    """Split from given edge lists (dense indices), made disjoint.

    Each list is canonicalised; pairs of ``valid`` already in ``train`` and
    pairs of ``test`` already in ``train`` or ``valid`` are dropped (counted in
    ``meta["dropped"]``) so that no held-out edge is seen in training.
    """
    n = int(num_nodes)
    tr, _ = simple_undirected(np.asarray(train).reshape(2, -1), n)
    va, _ = simple_undirected(np.asarray(valid).reshape(2, -1), n)
    te, _ = simple_undirected(np.asarray(test).reshape(2, -1), n)
    if tr.shape[1] == 0:
        raise EmptyGraphError("the training edges are empty")
    ktr = edge_keys(tr, n)
    kva = edge_keys(va, n)
    va_drop = _isin_sorted(kva, ktr)
    va = va[:, ~va_drop]
    kte = edge_keys(te, n)
    te_drop = _isin_sorted(kte, np.sort(np.concatenate([ktr, kva[~va_drop]])))
    te = te[:, ~te_drop]
    valid_neg, test_neg, neg_info = _negatives_for(n, tr, va, te, seed)
    meta = {
        "kind": "explicit",
        "seed": int(seed),
        "dropped": {"valid_in_train": int(va_drop.sum()), "test_in_train_or_valid": int(te_drop.sum())},
        **neg_info,
    }
    return EdgeSplit(n, tr, va, te, valid_neg, test_neg, x=x, node_ids=node_ids, meta=meta)


def split_snapshot(snapshot, *, method: str = "auto", seed: int = 0, **kwargs: Any) -> EdgeSplit:
    """Split a :class:`~topo_graphdb.snapshot.GraphSnapshot`: temporal when it
    has ``edge_time`` (``method="auto"``), else random; ``x`` and ``node_ids``
    travel with it."""
    if method not in ("auto", "random", "temporal"):
        raise InputError(f"method must be one of auto, random, temporal; got {method!r}")
    snapshot.require_edges()
    if method == "temporal" or (method == "auto" and snapshot.edge_time is not None):
        if snapshot.edge_time is None:
            raise InputError("method='temporal' needs a snapshot with edge_time")
        return temporal_split(
            snapshot.edge_index, snapshot.edge_time, snapshot.num_nodes, seed=seed, x=snapshot.x, node_ids=snapshot.node_ids, **kwargs
        )
    return random_split(snapshot.edge_index, snapshot.num_nodes, seed=seed, x=snapshot.x, node_ids=snapshot.node_ids, **kwargs)


# ------------------------------------------------------------------- files
def load_features(path: str | Path):
    """Node features from ``.npz``: a scipy sparse matrix (``save_npz``) or
    arrays (key ``x``, else the first array). Row ``i`` is the node with id ``i``.

    Returns a scipy CSR matrix or a 2-D float ndarray.
    """
    import scipy.sparse as sp  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise InputError(f"features file not found: {p}")
    try:
        return sp.load_npz(p).tocsr()
    except (ValueError, KeyError, OSError):
        pass
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            if not names:
                raise InputError(f"{p} holds no arrays")
            arr = z["x"] if "x" in names else z[names[0]]
    except InputError:
        raise
    except Exception as err:  # not a zip / corrupt
        raise InputError(f"{p} is not a readable .npz features file: {err}") from err
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{p}: features must be a 2-D numeric array; got shape {arr.shape}, dtype {arr.dtype}")
    return arr.astype(np.float32)


def _pad_rows(x, n: int):
    import scipy.sparse as sp  # noqa: PLC0415

    if x.shape[0] == n:
        return x
    if sp.issparse(x):
        return sp.vstack([x, sp.csr_matrix((n - x.shape[0], x.shape[1]), dtype=x.dtype)]).tocsr()
    return np.vstack([x, np.zeros((n - x.shape[0], x.shape[1]), x.dtype)])


def split_from_files(
    train_path: str | Path,
    valid_path: str | Path,
    test_path: str | Path,
    *,
    features: str | Path | None = None,
    seed: int = 0,
    extra_ids: np.ndarray | None = None,
) -> EdgeSplit:
    """Read three edge CSVs (``src,dst``) and optional features into an :class:`EdgeSplit`.

    With features, ids are row numbers: ``n = max(rows of x, max id + 1)``
    and nodes without features get zero rows. Without features, the node set
    is every id in the three files, in sorted order (``node_ids`` keeps them).
    ``extra_ids`` (e.g. the nodes of given negatives) join the node set.
    """
    # the validation file may be empty (nothing to stop early on); the test file may not (nothing to evaluate)
    tables = [read_edge_csv(p, allow_empty=(i == 1)) for i, p in enumerate((train_path, valid_path, test_path))]
    edges, n, node_ids, x = index_edge_tables(tables, features, extra_ids)
    split = explicit_split(*edges, n, seed=seed, x=x, node_ids=node_ids)
    split.meta["files"] = {"train": str(train_path), "valid": str(valid_path), "test": str(test_path), "features": None if features is None else str(features)}
    return split


def index_edge_tables(
    tables: list, features: str | Path | None, extra_ids: np.ndarray | None = None
) -> tuple[list[np.ndarray], int, np.ndarray, np.ndarray | None]:
    """Dense edge arrays of edge tables (ids from files) and the node set they share.

    With ``features``, ids are row numbers: ``n = max(rows of x, max id + 1)``
    and nodes without features get zero rows. Without, the node set is every
    id in the tables and ``extra_ids``, sorted. Returns ``(edges per table, n, node_ids, x)``.
    """
    extra = [np.asarray(extra_ids, dtype=np.int64).reshape(-1)] if extra_ids is not None else []
    ids = np.concatenate([np.concatenate([t.src, t.dst]) for t in tables] + extra)
    if ids.min() < 0:
        raise InputError(f"node ids must be non-negative; found {int(ids.min())}")
    if features is not None:
        x = load_features(features)
        n = int(max(x.shape[0], ids.max() + 1))
        return [np.stack([t.src, t.dst]) for t in tables], n, np.arange(n, dtype=np.int64), _pad_rows(x, n)
    node_ids = np.unique(ids)
    edges = [np.stack([np.searchsorted(node_ids, t.src), np.searchsorted(node_ids, t.dst)]) for t in tables]
    return edges, int(node_ids.size), node_ids, None
