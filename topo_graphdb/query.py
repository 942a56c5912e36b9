"""Running a user's Cypher query (read-only unless asked) and rendering the result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .connection import ConnectionSettings
from .db import Database, connect
from .errors import InputError

__all__ = ["run_query", "parse_params", "render_result", "read_query_file"]


def _plain(value: Any) -> Any:
    """Driver values as plain Python: nodes and relationships become dicts."""
    from neo4j import graph  # noqa: PLC0415

    if isinstance(value, graph.Node):
        return {"elementId": value.element_id, "labels": sorted(value.labels), **{k: _plain(v) for k, v in value.items()}}
    if isinstance(value, graph.Relationship):
        return {"elementId": value.element_id, "type": value.type, **{k: _plain(v) for k, v in value.items()}}
    if isinstance(value, graph.Path):
        return [_plain(n) for n in value.nodes]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "iso_format"):  # neo4j temporal types
        return value.iso_format()
    return value


def run_query(
    conn: ConnectionSettings | Database, text: str, params: dict[str, Any] | None = None, *, write: bool = False
) -> tuple[list[str], list[list[Any]]]:
    """Run ``text`` with ``params``; returns (column names, rows).

    Without ``write`` the query runs in a read transaction, so the server
    refuses any write (:class:`~topo_graphdb.errors.WriteNotAllowed`). With
    ``write`` it runs as an auto-commit query (``CALL {} IN TRANSACTIONS`` works).
    """
    if not text.strip():
        raise InputError("the query is empty")
    try:
        with connect(conn) as db:
            if write:
                result = db.run(text, params)
                keys = list(result.keys)
                rows = [[_plain(v) for v in rec.values()] for rec in result.records]
            else:

                def work(tx):
                    res = tx.run(text, params or {})
                    return list(res.keys()), [[_plain(v) for v in rec.values()] for rec in res]

                keys, rows = db.read(work)
    except Exception as err:
        from neo4j.exceptions import ClientError  # noqa: PLC0415

        if isinstance(err, ClientError):
            msg = (err.message or str(err)).strip().splitlines()[0]
            raise InputError(f"the query failed: {msg}") from err
        raise
    return keys, rows


def parse_params(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``name=value`` pairs; a value that parses as JSON is taken as such (numbers, lists), else a string."""
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param must look like name=value; got {item!r}")
        try:
            params[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[name.strip()] = raw
    return params


def read_query_file(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"query file not found: {p}")
    return p.read_text("utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def render_result(keys: list[str], rows: list[list[Any]], fmt: str = "table") -> str:
    """Render rows as an aligned ``table``, ``csv`` or ``json`` (a list of objects)."""
    if fmt == "json":
        return json.dumps([dict(zip(keys, r)) for r in rows], indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows([[_cell(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(k)] + [len(c[i]) for c in cells]) for i, k in enumerate(keys)]
    line = " | ".join(k.ljust(w) for k, w in zip(keys, widths))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
