"""Write-back from files (the CLI's ``write``): node values and scored links read from CSV.

The files are read by :mod:`topo_graphdb.edgefile`; the writes are
:func:`~topo_graphdb.writeback.write_node_properties` and
:func:`~topo_graphdb.writeback.write_predicted_links`, with one run id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .connection import ConnectionSettings
from .connector import check_names
from .db import Database, connect
from .edgefile import read_node_values, read_scored_links
from .errors import InputError
from .graphspec import PREDICTED_LINK, GraphSpec
from .ledger import check_run_id
from .progress import Progress
from .writeback import WriteReport, write_node_properties, write_predicted_links

__all__ = ["write_from_csv"]


def write_from_csv(
    conn: ConnectionSettings | Database,
    *,
    nodes_csv: Any = None,
    id_column: str = "node",
    links_csv: Any = None,
    model: str | None = None,
    rel_type: str = PREDICTED_LINK,
    top_k: int | None = None,
    min_score: float | None = None,
    replace_previous: bool = True,
    labels: str | Sequence[str] | None = None,
    key_property: str | None = None,
    snapshot: Any = None,
    prefix: str = "topo_",
    run_id: str | None = None,
    batch_size: int = 10_000,
    rate_limit: float | None = None,
    reconnect_timeout: float = 300.0,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> list[WriteReport]:
    """Write node values (``nodes_csv``: ``id_column`` + one column per property) and/or predicted
    links (``links_csv``: ``src,dst,score`` node ids) with one run id; the CLI's ``write``.

    Ids are key values when ``key_property`` is given (integers when every id
    is one, text when none is; a mix is an error), else element ids; the files
    are read by :mod:`topo_graphdb.edgefile`. ``snapshot`` (an exported
    snapshot folder) supplies labels and key property not given explicitly.
    Labels and the key property must exist in the database
    (:class:`SchemaError`), and a file none of whose ids matches a node is an
    :class:`InputError` (a write that changed nothing).
    """
    if nodes_csv is None and links_csv is None:
        raise InputError("nothing to write: give a node CSV (--from) and/or a links CSV (--links)")
    if links_csv is not None and not model:
        raise InputError("writing links needs a model name (--model)")
    if snapshot is not None:
        meta_path = Path(snapshot) / "meta.json"
        try:
            ident = json.loads(meta_path.read_text()).get("identity", {})
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read the snapshot's identity from {meta_path}: {err}") from err
        labels = labels if labels else tuple(ident.get("labels") or ())
        key_property = key_property or ident.get("key_property")
    run_id = check_run_id(run_id)
    common = dict(
        labels=labels or (), key_property=key_property, prefix=prefix, run_id=run_id, batch_size=batch_size,
        rate_limit=rate_limit, dry_run=dry_run, reconnect_timeout=reconnect_timeout, progress=progress,
    )
    integer_keys = key_property is not None
    node_input = read_node_values(nodes_csv, id_column=id_column, integer_keys=integer_keys) if nodes_csv is not None else None
    link_input = read_scored_links(links_csv, integer_keys=integer_keys) if links_csv is not None else None
    with connect(conn) as db:  # one connection for the check and both writes
        if common["labels"] or key_property:
            check_names(db, GraphSpec(labels=common["labels"], key_property=key_property))
        reports = []
        if node_input is not None:
            ids, columns = node_input
            reports.append(write_node_properties(db, ids, columns, **common))
            _none_matched(reports[-1], nodes_csv, "ids")
        if link_input is not None:
            src, dst, scores = link_input
            node_ids, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
            m = src.size
            reports.append(
                write_predicted_links(
                    db, node_ids, inverse[:m], inverse[m:], scores, model=model, rel_type=rel_type, top_k=top_k,
                    min_score=min_score, replace_previous=replace_previous, **common,
                )
            )
            _none_matched(reports[-1], links_csv, "source ids")
    return reports


def _none_matched(report: WriteReport, path: Any, what: str) -> None:
    """A write from a file that found none of its nodes did nothing: an error, not a silent success."""
    if report.rows and report.matched == 0:
        ident = report.identity
        how = f"key {ident['key_property']!r}" if ident.get("key_property") else "element id"
        labels = ":".join(ident.get("labels") or []) or "any label"
        raise InputError(
            f"{'nothing would be written' if report.dry_run else 'nothing written'}: none of the {report.rows:,} "
            f"{what} in {path} matches a node ({labels}, by {how}; e.g. {', '.join(map(str, report.missing_sample))})",
            hint="check --label and --key-property (or the snapshot the ids came from)",
        )
