"""Ranking predicted links before they are written: per source node, best first.

Pure array functions: self-links and repeated pairs are dropped (a pair keeps
its best score), links below ``min_score`` go, each source keeps its
``top_k`` best; extra link columns follow the links they belong to.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._cypher import quote_identifier
from .errors import InputError

__all__ = ["link_columns", "link_maps", "link_spans", "link_values", "rank_links", "sorted_distinct", "source_rows"]


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based; faster than ``np.unique`` on large int arrays here)."""
    v = np.sort(values)
    return v[np.concatenate([[True], v[1:] != v[:-1]])] if v.size else v


def rank_links(
    n: int, src: np.ndarray, dst: np.ndarray, scores: np.ndarray, top_k: int | None, min_score: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Per source: drop self-links and repeated pairs (best score kept), filter, sort by score, cut top_k.

    Returns (sources, src, dst, scores, pos) with src sorted and score descending
    per source, ``sources`` being every distinct valid source of the input (its
    links are replaced even when none survive the filters), ``pos`` the input
    position of each kept link, plus counts.
    """
    stats = {"input": int(src.size)}
    ok = np.isfinite(scores)
    stats["non_finite_scores"] = int((~ok).sum())
    sources = sorted_distinct(src[ok])
    loops = src == dst
    stats["self_links"] = int((loops & ok).sum())
    ok &= ~loops
    if min_score is not None:
        below = ok & (scores < min_score)
        stats["below_min_score"] = int(below.sum())
        ok &= ~below
    pos = np.flatnonzero(ok)
    s, d, sc = src[ok], dst[ok], scores[ok]
    order = np.lexsort((d, -sc, s))
    s, d, sc, pos = s[order], d[order], sc[order], pos[order]
    # sorted by (s, -score, d): the first row of each (s, d) pair has its best score
    keys = s * np.int64(n) + d
    order2 = np.argsort(keys, kind="stable")
    ks = keys[order2]
    first = order2[np.concatenate([[True], ks[1:] != ks[:-1]])] if ks.size else order2
    keep = np.zeros(s.size, bool)
    keep[first] = True
    stats["repeated_pairs"] = int(s.size - keep.sum())
    s, d, sc, pos = s[keep], d[keep], sc[keep], pos[keep]
    if top_k is not None and s.size:
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        group_start = np.repeat(starts, np.diff(np.append(starts, s.size)))
        rank = np.arange(s.size) - group_start
        cut = rank < top_k
        stats["beyond_top_k"] = int((~cut).sum())
        s, d, sc, pos = s[cut], d[cut], sc[cut], pos[cut]
    return sources, s, d, sc, pos, stats


def link_columns(link_properties: dict[str, Any] | None, m: int) -> dict[str, np.ndarray]:
    """Validated extra link columns: property names checked, float arrays of length ``m``."""
    out: dict[str, np.ndarray] = {}
    for name, values in (link_properties or {}).items():
        quote_identifier(name, what="property name")
        if name in ("score", "rank", "model", "run_id", "created_at"):
            raise InputError(f"link property {name!r} is written by the tool itself; choose another name")
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (m,):
            raise InputError(f"link property {name!r} must have one value per link ({m}); got shape {arr.shape}")
        out[name] = arr
    return out


def link_values(extra: dict[str, np.ndarray], pos: np.ndarray) -> dict[str, list[float | None]]:
    """One list per extra property, of the links at ``pos`` (NaN -> None, i.e. no property)."""
    return {name: [None if math.isnan(v) else v for v in arr[pos].tolist()] for name, arr in extra.items()}


def link_maps(extra: dict[str, np.ndarray], pos: np.ndarray) -> list[dict[str, float | None]]:
    """One property map per kept link (NaN -> None, i.e. no property)."""
    if not extra:
        return [{}] * pos.size
    cols = link_values(extra, pos)
    return [dict(zip(cols, values)) for values in zip(*cols.values())]


def source_rows(
    ids: list[Any], sources: np.ndarray, s: np.ndarray, d: np.ndarray, scr: np.ndarray, more: list[dict[str, Any]]
) -> list[list[Any]]:
    """One row per source node: ``[source id, [target ids], [scores], [{more properties}]]``.

    ``s`` is sorted (the ranked links of :func:`~topo_graphdb.linkrank.rank_links`); a source
    without surviving links gets empty lists (its earlier links are still replaced).
    """
    starts = np.searchsorted(s, sources, side="left")
    stops = np.searchsorted(s, sources, side="right")
    d_ids = [ids[j] for j in d.tolist()]
    scr_list = scr.tolist()
    return [[ids[a], d_ids[b:e], scr_list[b:e], more[b:e]] for a, b, e in zip(sources.tolist(), starts.tolist(), stops.tolist())]


def link_spans(counts: list[int], batch_size: int) -> list[tuple[int, int]]:
    """Consecutive sources holding at most ``batch_size`` links (``counts`` per source; at least one per batch)."""
    bounds = []
    start, acc = 0, 0
    for i, count in enumerate(counts):
        k = max(1, count)
        if acc and acc + k > batch_size:
            bounds.append((start, i))
            start, acc = i, 0
        acc += k
    if start < len(counts):
        bounds.append((start, len(counts)))
    return bounds
