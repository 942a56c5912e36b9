"""Query texts and parameters of an export (no server)."""

from __future__ import annotations

from topo_graphdb._export_plan import build_plan
from topo_graphdb.graphspec import GraphSpec


def test_plan_label_free_selection_leaves_tool_output_out():
    plan = build_plan(GraphSpec())
    assert "MATCH (n)" in plan.nodes
    assert "NOT n:`TopoRun` AND NOT n:`TopoLock`" in plan.nodes
    assert "NOT type(r) IN $excluded_types" in plan.rels
    assert plan.params["excluded_types"] == ["PREDICTED_LINK"]
    assert "collect(elementId(a)) AS sources" in plan.rels


def test_plan_selection_is_quoted_and_parameterised():
    evil = "A`) DETACH DELETE n //"
    spec = GraphSpec(
        labels=[evil, "Paper"],
        rel_types=["CITES", "my type"],
        node_where=[(evil, "=", "x) DELETE n")],
        rel_where=[("w", ">", 1)],
        time_property="t",
        since=5,
        weight_property="w",
        feature_properties=["f"],
        label_property="y",
        key_property="id",
    )
    plan = build_plan(spec)
    assert "(n:`A``) DETACH DELETE n //`|`Paper`)" in plan.nodes
    assert "[r:`CITES`|`my type`]" in plan.rels
    # values never appear in the text
    assert "x) DELETE n" not in plan.nodes + plan.rels
    assert plan.params["np0"] == "x) DELETE n" and plan.params["rp0"] == 1 and plan.params["since"] == 5
    assert "r.`t` >= $since" in plan.rels
    assert "collect(elementId(n)) AS ids, count(n) AS count, collect(n.`id`) AS keys, collect([n.`y`, n.`f`]) AS vals" in plan.nodes
    assert "RETURN ids, count, keys, vals" in plan.nodes
    assert "collect(elementId(b)) AS targets, collect(coalesce(r.`t`, $missing)) AS times" in plan.rels
    assert "collect(elementId(a)) AS sources" in plan.rels
    assert plan.rel_columns == ["times", "weights"]
    # both end nodes are filtered like the node pass, labels selected: no exclusion of tool output
    assert "WHERE a.`A``) DETACH DELETE n //` = $np0" in plan.rels and "b.`A``) DETACH DELETE n //` = $np0" in plan.rels
    assert "excluded_types" not in plan.params
    assert "{{" not in plan.nodes + plan.rels


def test_plan_offers_the_procedure_only_without_predicates_or_relationship_values():
    plan = build_plan(GraphSpec(labels=["A", "B"], rel_types=["R", "S"], key_property="id", feature_properties=["f"]))
    assert plan.procedure == {"labels": ["A", "B"], "excluded_labels": [], "types": ["R", "S"], "excluded": [], "key": "id"}
    # all labels and types: the ledger's nodes and the tool's own links stay out, as in the Cypher passes
    assert build_plan(GraphSpec()).procedure == {"labels": [], "excluded_labels": ["TopoRun", "TopoLock"], "types": [], "excluded": ["PREDICTED_LINK"], "key": ""}
    assert build_plan(GraphSpec(), present_labels={"TopoRun"}).procedure["excluded_labels"] == ["TopoRun"]
    for kw in ({"node_where": ["year > 2000"]}, {"time_property": "t"}, {"weight_property": "w"}, {"rel_where": [("w", ">", 1)]}):
        assert build_plan(GraphSpec(labels="A", **kw)).procedure is None, kw
