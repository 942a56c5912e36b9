"""The projection path of an export: a user's read-only Cypher query, one row per relationship.

The query returns columns ``source, target`` and optionally ``time``,
``weight``; the nodes are the endpoints, numbered in order of appearance. It
runs in the export's read transaction, so a query that writes is refused by
the server; :func:`read_projection` turns that refusal into our error.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._export_arrays import EdgeColumns
from ._export_stream import Collector
from .errors import InputError, WriteNotAllowed

__all__ = ["read_projection", "stream_projection"]

_CHUNK = 65_536  # rows per page fetched from the driver


def read_projection(tx: Any, col: Collector, projection: str) -> dict[str, Any]:
    """The projection query's rows into ``col``; what the server refuses becomes our error."""
    from neo4j.exceptions import ClientError  # noqa: PLC0415  (neo4j is imported only where a server is used)

    try:
        return dict(stream_projection(tx, col, projection))
    except ClientError as err:
        code = err.code or ""
        if "AccessMode" in code or "WriteOnReadOnly" in code:
            raise WriteNotAllowed(
                "the projection query tried to write; it runs in a read transaction",
                hint="the projection must only MATCH and RETURN source, target[, time, weight]",
            ) from err
        if "Statement" in code:
            msg = (err.message or str(err)).strip().splitlines()[0]
            raise InputError(f"the projection query failed: {msg}") from err
        raise


def stream_projection(tx: Any, col: Collector, text: str) -> dict[str, Any]:
    """Stream a user projection (one row per relationship) into ``col``; nodes are the endpoints, in order of appearance."""
    result = tx.run(text)
    keys = list(result.keys())
    if len(keys) < 2 or keys[0] != "source" or keys[1] != "target":
        raise InputError(f"the projection query must return columns source, target[, time, weight]; got {', '.join(keys) or 'none'}")
    extra = [k for k in keys[2:] if k not in ("time", "weight")]
    if extra:
        raise InputError(f"the projection query returns unexpected column(s) {', '.join(extra)}; allowed: source, target, time, weight")
    t_col = keys.index("time") if "time" in keys else -1
    w_col = keys.index("weight") if "weight" in keys else -1
    edges = EdgeColumns(t_col >= 0, w_col >= 0)
    read = null_ids = 0
    while True:
        page = result.fetch(_CHUNK)
        if not page:
            break
        cols = list(zip(*page))
        del page
        read += len(cols[0])
        null_ids += edges.add(
            _grow(col, cols[0]),
            _grow(col, cols[1]),
            cols[t_col] if t_col >= 0 else None,
            cols[w_col] if w_col >= 0 else None,
        )
        if col.progress:
            col.progress("relationships", read, read)
    return edges.finish(col, {"relationships_read": read, "dangling": 0, "null_endpoints": null_ids, "relationships_via": "projection"})


def _grow(col: Collector, values: Sequence[Any]) -> np.ndarray:
    """Dense indices of ``values`` (-1 for None), numbering ids not seen before in ``col``."""
    index, ids = col.index, col.ids
    out = np.fromiter(map(index.get, values, itertools.repeat(-1, len(values))), dtype=np.int64, count=len(values))
    for i in np.flatnonzero(out < 0).tolist():
        v = values[i]
        if v is None:
            continue
        j = index.get(v)
        if j is None:
            j = index[v] = len(ids)
            ids.append(v)
        out[i] = j
    return out
