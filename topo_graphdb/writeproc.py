"""The write-back's batches for the server-side ``topo.write`` procedures.

The local server loads them from a plugin jar (:mod:`topo_graphdb.server._procedures`). Each
procedure call does in its transaction what one batch of ``write_node_properties.cypher`` or
``write_predicted_links.cypher`` does, for nodes found by element id or by a key property under
one or more labels; the values travel as
columns (one list per property), not as one map per node or link, which is cheaper to send and
to read on both sides. :mod:`topo_graphdb.writeback` uses these batches when
:func:`has_write_procedures` says the server has the procedures and :func:`procedures_serve` the
node identity; otherwise it sends the Cypher statements. Both leave the same graph.
:func:`server_has` is the one check that a server has procedures of the jar; the export asks it
for :data:`EXPORT_PROCEDURES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .db import Database
from .identity import NodeIdentity
from .linkrank import link_values

__all__ = [
    "EXPORT_PROCEDURES",
    "PROCEDURES",
    "has_write_procedures",
    "link_procedure_batches",
    "node_procedure_batches",
    "procedures_can_store",
    "procedures_serve",
    "server_has",
    "signature_arguments",
]

#: the procedures and the arguments this client sends them, in order
PROCEDURES = {
    "topo.write.nodeProperties": ("ids", "names", "columns", "stamp", "labels", "key", "sampleSize"),
    "topo.write.predictedLinks": (
        "sources", "counts", "targets", "scores", "more", "relType", "replace", "common",
        "labels", "key", "nodeNames", "stamp", "sampleSize",
    ),
}  # fmt: skip
#: the export's procedure (``topo_graphdb._export_stream``) and its arguments, from the same plugin jar
EXPORT_PROCEDURES = {"topo.export.relationships": ("labels", "excludedLabels", "types", "excluded", "groupSize", "mode", "key")}


def signature_arguments(signature: str) -> tuple[str, ...]:
    """Argument names of a procedure signature as ``SHOW PROCEDURES`` gives it (defaults left out).

    >>> signature_arguments("topo.write.x(ids :: LIST<ANY>, key :: STRING, mode = auto :: STRING) :: (missing :: INTEGER)")
    ('ids', 'key', 'mode')
    """
    inside = signature[signature.find("(") + 1 : signature.find(")")]
    return tuple(part.split("::")[0].split("=")[0].strip() for part in inside.split(",") if "::" in part)


def server_has(db: Database, procedures: dict[str, tuple[str, ...]]) -> bool:
    """True when the server offers every one of ``procedures`` (name -> argument names) with exactly
    those arguments (a server still running an older plugin jar gets the Cypher statements)."""
    from neo4j import exceptions as ne  # noqa: PLC0415

    from ._cypher import load_query  # noqa: PLC0415
    from .errors import TopoGraphError  # noqa: PLC0415

    try:
        records = db.run(load_query("write_procedures"), {"names": list(procedures)}, read=True).records
    except (TopoGraphError, ne.Neo4jError, ne.DriverError):
        return False  # e.g. a user not allowed to list procedures: the Cypher statements still work
    found = {r["name"]: signature_arguments(r["signature"]) for r in records}
    return found == procedures


def has_write_procedures(db: Database) -> bool:
    """True when the server offers both ``topo.write`` procedures, with the arguments this client sends."""
    return server_has(db, PROCEDURES)


def procedures_can_store(columns: Sequence[Any]) -> bool:
    """False when a column holds values the procedure does not store as Cypher would (empty or ragged lists)."""
    for col in columns:
        arr = np.asarray(col) if not isinstance(col, np.ndarray) else col
        if arr.dtype.kind == "O" or (arr.ndim == 2 and arr.shape[1] == 0):
            return False
    return True


def procedures_serve(identity: NodeIdentity) -> bool:
    """The procedures find nodes by element id, or by a key property under at least one label."""
    return identity.key_property is None or bool(identity.labels)


def node_procedure_batches(
    ids: list[Any], props: list[str], values: list[list[Any]], stamp: dict[str, Any], identity: NodeIdentity,
    spans: Sequence[tuple[int, int]], sample_size: int,
) -> Iterator[tuple[dict[str, Any], int]]:
    """``(params, nodes)`` per span of ``topo.write.nodeProperties``: ids and one list per property."""
    for start, stop in spans:
        params = {
            "ids": ids[start:stop], "names": props, "columns": [v[start:stop] for v in values], "stamp": stamp,
            "labels": list(identity.labels), "key": identity.key_property, "sample_size": sample_size,
        }  # fmt: skip
        yield params, stop - start


def link_procedure_batches(
    ids: list[Any], sources: np.ndarray, counts: list[int], d: np.ndarray, scores: np.ndarray,
    extra: dict[str, np.ndarray], pos: np.ndarray, bounds: Sequence[tuple[int, int]], fixed: dict[str, Any],
) -> Iterator[tuple[dict[str, Any], int]]:
    """``(params, links)`` per batch of ``topo.write.predictedLinks``.

    ``sources`` (every source, with or without links), ``d``/``scores`` (the kept links, grouped
    by source in that order, best first) and ``pos`` (their places in the ``extra`` columns) come
    from :func:`~topo_graphdb.linkrank.rank_links`; ``counts`` are the links of each source;
    ``bounds`` are spans of ``sources``; ``fixed`` holds the parameters every batch shares.
    """
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).tolist()
    for b, e in bounds:
        lo, hi = offsets[b], offsets[e]
        params = {
            "sources": [ids[a] for a in sources[b:e].tolist()],
            "counts": counts[b:e],
            "targets": [ids[j] for j in d[lo:hi].tolist()],
            "scores": scores[lo:hi].tolist(),
            "more": link_values(extra, pos[lo:hi]),
            **fixed,
        }
        yield params, hi - lo
