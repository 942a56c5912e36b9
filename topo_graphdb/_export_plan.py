"""The Cypher of an export: query texts and parameters of both passes, the schema check, count estimates.

Labels, types and property names go through :func:`~topo_graphdb._cypher.quote_identifier`;
every value travels as a ``$parameter``. The texts come from the package's ``.cypher`` files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._cypher import quote_identifier, render
from .errors import SchemaError
from .graphspec import GraphSpec

__all__ = ["Plan", "build_plan", "label_expr", "check_schema", "estimates"]


@dataclass
class Plan:
    """Texts and parameters of the node pass and the relationship pass, and the value columns each returns."""

    nodes: str
    rels: str
    params: dict[str, Any]
    node_columns: list[str] = field(default_factory=list)
    rel_columns: list[str] = field(default_factory=list)
    #: the arguments (but ``group_size`` and ``mode``) of ``export_rels_procedure.cypher`` when its procedure
    #: can read the relationship pass (no node or relationship predicates, times or weights), else None
    procedure: dict[str, list[str]] | None = None


def label_expr(labels: Sequence[str]) -> str:
    return ":" + "|".join(quote_identifier(x, what="label") for x in labels) if labels else ""


def _excluded_labels(spec: GraphSpec, present: set[str] | None) -> list[str]:
    """The labels a label-free selection leaves out (those the database has; all when unknown)."""
    return [] if spec.labels else [x for x in spec.exclude_labels if present is None or x in present]


def _node_filter(spec: GraphSpec, var: str, params: dict[str, Any], present: set[str] | None) -> list[str]:
    conds = [f"NOT {var}:{quote_identifier(x, what='label')}" for x in _excluded_labels(spec, present)]
    for i, p in enumerate(spec.node_where):
        name = f"np{i}"
        params[name] = p.param_value()
        conds.append(p.cypher(var, name))
    return conds


def build_plan(spec: GraphSpec, present_labels: set[str] | None = None, present_types: set[str] | None = None) -> Plan:
    """Query texts and parameters of an export. Excluded labels/types are tested only when
    the database has them (``present_*``; None: always), which avoids "unknown label" notices."""
    params: dict[str, Any] = {"missing": math.nan}
    q = lambda name, what: quote_identifier(name, what=what)  # noqa: E731
    key = q(spec.key_property, "key property") if spec.key_property else None
    labels = label_expr(spec.labels)

    node_conds = _node_filter(spec, "n", params, present_labels)
    values = []
    if spec.label_property:
        values.append(f"n.{q(spec.label_property, 'label property')}")
    values += [f"n.{q(f, 'feature property')}" for f in spec.feature_properties]
    nodes = render(
        "export_nodes",
        labels=labels,
        node_filter=" AND ".join(node_conds) if node_conds else "true",
        node_keys=f", collect(n.{key}) AS keys" if key else "",
        node_values=f", collect([{', '.join(values)}]) AS vals" if values else "",
        node_columns=(", keys" if key else "") + (", vals" if values else ""),
    )

    source_conds = _node_filter(spec, "a", params, present_labels)
    rel_conds = _node_filter(spec, "b", {}, present_labels)
    excluded_types = [t for t in spec.exclude_rel_types if present_types is None or t in present_types]
    if not spec.rel_types and excluded_types:
        params["excluded_types"] = excluded_types
        rel_conds.append("NOT type(r) IN $excluded_types")
    for i, p in enumerate(spec.rel_where):
        name = f"rp{i}"
        params[name] = p.param_value()
        rel_conds.append(p.cypher("r", name))
    rel_values = []
    if spec.time_property:
        tp = q(spec.time_property, "time property")
        rel_values.append(("times", f"r.{tp}"))
        if spec.since is not None:
            params["since"] = spec.since
            rel_conds.append(f"r.{tp} >= $since")
    if spec.weight_property:
        rel_values.append(("weights", f"r.{q(spec.weight_property, 'weight property')}"))
    types = ":" + "|".join(q(t, "relationship type") for t in spec.rel_types) if spec.rel_types else ""
    rels = render(
        "export_rels",
        labels=labels,
        rel_types=types,
        source_filter=" AND ".join(source_conds) if source_conds else "true",
        rel_filter=" AND ".join(rel_conds) if rel_conds else "true",
        rel_collects="".join(f", collect(coalesce({expr}, $missing)) AS {name}" for name, expr in rel_values),
        rel_carry="".join(f", {name}" for name, _ in rel_values),
        rel_group="".join(f", collect({name}) AS {name}" for name, _ in rel_values),
        rel_columns="".join(f", {name}" for name, _ in rel_values),
    )
    # the procedure selects the nodes by label (or by the excluded labels) as both passes do, and keeps the
    # relationships between them; it has no node or relationship predicates, times or weights
    procedure = None
    if not (spec.node_where or spec.rel_where or rel_values):
        procedure = {"labels": list(spec.labels), "excluded_labels": _excluded_labels(spec, present_labels), "types": list(spec.rel_types),
                     "excluded": [] if spec.rel_types else excluded_types, "key": spec.key_property or ""}  # fmt: skip
    node_columns = [c for c in ("y",) if spec.label_property] + [f"f{i}" for i in range(len(spec.feature_properties))]
    return Plan(nodes, rels, params, node_columns, [n for n, _ in rel_values], procedure)



def check_schema(tx: Any, spec: GraphSpec) -> tuple[set[str], set[str]]:
    """Raise :class:`SchemaError` for unknown names; return the labels and types in use."""
    rec = tx.run(render("export_schema")).single()
    labels, types, keys = set(rec["labels"]), set(rec["types"]), set(rec["keys"])

    def listing(names: set[str]) -> str:
        shown = sorted(names)
        return ", ".join(shown[:30]) + (" ..." if len(shown) > 30 else "") if shown else "(none)"

    unknown = [x for x in spec.labels if x not in labels]
    if unknown:
        raise SchemaError(f"unknown label(s) {', '.join(map(repr, unknown))}; the database has: {listing(labels)}")
    unknown = [x for x in spec.rel_types if x not in types]
    if unknown:
        raise SchemaError(
            f"unknown relationship type(s) {', '.join(map(repr, unknown))}; the database has: {listing(types)}"
        )
    named = [
        p
        for p in (spec.time_property, spec.weight_property, spec.label_property, spec.key_property, *spec.feature_properties)
        if p is not None
    ]
    unknown = [p for p in named if p not in keys]
    if unknown:
        raise SchemaError(f"unknown property key(s) {', '.join(map(repr, unknown))}; the database has: {listing(keys)}")
    return labels, types



def estimates(tx: Any, spec: GraphSpec) -> tuple[int, int]:
    """Upper bounds of the node and relationship counts (counts store; O(1) each)."""
    node_total = 0
    for label in spec.labels or [None]:
        text = render("export_count_nodes", labels=label_expr([label]) if label else "")
        node_total += tx.run(text).single()["n"]
    rel_total = 0
    for rtype in spec.rel_types or [None]:
        text = render("export_count_rels", rel_types=(":" + quote_identifier(rtype, what="relationship type")) if rtype else "")
        rel_total += tx.run(text).single()["n"]
    return int(node_total), int(rel_total)

