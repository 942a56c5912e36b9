"""Given ("official") validation and test negatives, read from edge files.

A benchmark such as OGB fixes the negative pairs every model is ranked
against; evaluating with negatives drawn by :func:`~topo_graphdb.model.splits.sample_negatives`
would not be comparable. A negatives file is a CSV read like an edge file
(:mod:`topo_graphdb.edgefile`: header, integer ids, one-line errors naming the
line):

* columns ``src,dst``: one shared set of negatives; every positive of the part
  is ranked against all of them (ogbl-collab, ogbl-ddi, ogbl-ppa);
* columns ``src,dst,pos_src,pos_dst``: each negative ``(src, dst)`` belongs to
  the positive edge ``(pos_src, pos_dst)`` of the same part and each positive
  is ranked against its own negatives only (ogbl-citation2: the positive's
  source with 1000 corrupted targets). Every positive needs at least one.

The pairs are used exactly as given: not deduplicated, not canonicalised, not
checked against the graph's edges; only a self-pair ``(u, u)`` is refused (it
is no link candidate). Their ids must be nodes of the graph (the ids of the
edge files, or feature rows).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..edgefile import parse_integer_ids, read_csv_frame
from ..errors import EmptyGraphError, InputError
from .splits import EdgeSplit, edge_keys

__all__ = ["NegativesFile", "Negatives", "read_negatives", "index_negatives", "with_negatives"]

_PAIR = ("src", "dst")
_OWNER = ("pos_src", "pos_dst")


@dataclass(frozen=True)
class NegativesFile:
    """A negatives file as read: original ids, file order; ``pos_src``/``pos_dst`` None when shared."""

    path: str
    src: np.ndarray
    dst: np.ndarray
    pos_src: np.ndarray | None = None
    pos_dst: np.ndarray | None = None
    lines: np.ndarray | None = None  # file line of each row

    def ids(self) -> np.ndarray:
        """Every node id the file names."""
        parts = [self.src, self.dst] + ([self.pos_src, self.pos_dst] if self.pos_src is not None else [])
        return np.unique(np.concatenate(parts))


@dataclass(frozen=True)
class Negatives:
    """Fixed negatives of one part, as node indices.

    Attributes
    ----------
    pairs : ndarray (2, N), int64
    owner : ndarray (N,), int64, or None
        Column of the part's positives (``split.valid_pos`` or ``split.test_pos``)
        that each negative is ranked against; None: shared by all positives.
    source : str
        Where they came from (for reports).
    """

    pairs: np.ndarray
    owner: np.ndarray | None = None
    source: str = ""

    def describe(self) -> dict[str, Any]:
        return {"count": int(self.pairs.shape[1]), "per_positive": self.owner is not None, "source": self.source}


def read_negatives(path: str | Path) -> NegativesFile:
    """Read a negatives file (module doc); one-line :class:`InputError` on any problem."""
    p = Path(path)
    df = read_csv_frame(p, what="negatives file", empty=EmptyGraphError(f"{p} is empty (expected a header with 'src','dst')"))
    cols = list(df.columns)
    missing = [c for c in _PAIR if c not in cols]
    if missing:
        raise InputError(f"{p}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(repr, cols))}")
    owned = [c for c in _OWNER if c in cols]
    if len(owned) == 1:
        raise InputError(f"{p}: per-positive negatives need both 'pos_src' and 'pos_dst'; found only {owned[0]!r}")
    if len(df) == 0:
        raise EmptyGraphError(f"{p} has a header but no negative pairs")
    src, dst = (parse_integer_ids(df[c], where=str(p), column=c) for c in _PAIR)
    loops = np.flatnonzero(src == dst)
    if loops.size:
        raise InputError(f"{p} line {int(df.index[loops[0]]) + 2}: the self-pair ({int(src[loops[0]])}, {int(src[loops[0]])}) is no link candidate")
    pos_src = pos_dst = None
    if owned:
        pos_src, pos_dst = (parse_integer_ids(df[c], where=str(p), column=c) for c in _OWNER)
    return NegativesFile(str(p), src, dst, pos_src, pos_dst, df.index.to_numpy(dtype=np.int64) + 2)


def _indices(ids: np.ndarray, node_ids: np.ndarray, f: NegativesFile, column: str) -> np.ndarray:
    order = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[order]
    at = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    found = sorted_ids[at] == ids
    if not found.all():
        k = int(np.flatnonzero(~found)[0])
        raise InputError(f"{f.path} line {int(f.lines[k])}: column {column!r} names node {int(ids[k])}, which is not in the graph")
    return order[at].astype(np.int64)


def index_negatives(f: NegativesFile, split: EdgeSplit, part: str) -> Negatives:
    """The pairs of ``f`` as node indices of ``split``, owners resolved among ``split.<part>_pos``."""
    if part not in ("valid", "test"):
        raise InputError(f"part must be 'valid' or 'test'; got {part!r}")
    node_ids = np.arange(split.num_nodes, dtype=np.int64) if split.node_ids is None else np.asarray(split.node_ids, dtype=np.int64)
    pairs = np.stack([_indices(f.src, node_ids, f, "src"), _indices(f.dst, node_ids, f, "dst")])
    if f.pos_src is None:
        return Negatives(pairs, None, f.path)
    positives = getattr(split, f"{part}_pos")
    wanted = edge_keys(np.stack([_indices(f.pos_src, node_ids, f, "pos_src"), _indices(f.pos_dst, node_ids, f, "pos_dst")]), split.num_nodes)
    keys = edge_keys(positives, split.num_nodes)
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], wanted), max(keys.size - 1, 0))
    found = keys[order][at] == wanted if keys.size else np.zeros(wanted.shape, bool)
    if not found.all():
        k = int(np.flatnonzero(~found)[0])
        raise InputError(
            f"{f.path} line {int(f.lines[k])}: ({int(f.pos_src[k])}, {int(f.pos_dst[k])}) is not a {part} edge"
            " (or was dropped because it is a training edge); pos_src,pos_dst must name one"
        )
    owner = order[at].astype(np.int64)
    lonely = np.flatnonzero(np.bincount(owner, minlength=positives.shape[1]) == 0)
    if lonely.size:
        a, b = positives[:, lonely[0]]
        ids = (int(node_ids[a]), int(node_ids[b]))
        raise InputError(f"{f.path}: the {part} edge {ids} has no negatives ({lonely.size} {part} edges have none); each positive needs at least one")
    return Negatives(pairs, owner, f.path)


def with_negatives(split: EdgeSplit, *, valid: Negatives | None = None, test: Negatives | None = None) -> EdgeSplit:
    """``split`` whose ``valid_neg``/``test_neg`` are the given pairs (per-positive ones pooled).

    Early stopping of a learned predictor then ranks validation positives
    against the given validation negatives; ``meta["negatives"]`` says so.
    """
    if valid is None and test is None:
        return split
    info = dict(split.meta.get("negatives", {}))
    changes: dict[str, Any] = {}
    for part, neg in (("valid", valid), ("test", test)):
        if neg is not None:
            changes[f"{part}_neg"] = neg.pairs
            info[part] = {"given": True, **neg.describe()}
    if valid is not None and test is not None:
        info["method"] = "given"
    return dataclasses.replace(split, **changes, meta={**split.meta, "negatives": info})
