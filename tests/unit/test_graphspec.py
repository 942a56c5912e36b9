"""Graph selection (GraphSpec): normalisation, rejection, options, description (no server)."""

from __future__ import annotations

import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.graphspec import GraphSpec, spec_from_options
from topo_graphdb.predicates import Predicate


def test_spec_normalises_and_is_hashable():
    s = GraphSpec(labels="Paper", rel_types=["CITES"], node_where=[("k", "IN", [1, 2])], rel_where="w > 0.5")
    assert s.labels == ("Paper",)
    assert s.rel_types == ("CITES",)
    assert s.node_where == (Predicate("k", "IN", (1, 2)),)
    assert s.rel_where == (Predicate("w", ">", 0.5),)
    assert hash(s) == hash(GraphSpec(labels=("Paper",), rel_types="CITES", node_where=[("k", "IN", (1, 2))], rel_where=["w > 0.5"]))
    single = GraphSpec(node_where=("year", ">=", 2000))
    assert single.node_where == (Predicate("year", ">=", 2000),)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"orientation": "both"},
        {"labels": ["A", "A"]},
        {"labels": [""]},
        {"since": 3},  # needs a time property
        {"time_property": "t", "since": "yesterday"},
        {"time_property": "t", "since": float("nan")},
        {"projection": "   "},
        {"projection": "MATCH (a)-->(b) RETURN elementId(a) AS source, elementId(b) AS target", "labels": ["A"]},
        {"projection": "RETURN 1", "weight_property": "w"},
        {"key_property": "bad\x00name"},
    ],
)
def test_spec_rejects(kwargs):
    with pytest.raises(InputError):
        GraphSpec(**kwargs)


def test_spec_from_options(tmp_path):
    proj = tmp_path / "p.cypher"
    proj.write_text("MATCH (a)-[r]->(b) RETURN elementId(a) AS source, elementId(b) AS target")
    s = spec_from_options(labels=["A", "B"], where=["x > 1"], time_property="t", since="1700000000", orientation="natural")
    assert s.labels == ("A", "B") and s.since == 1700000000 and s.node_where[0].value == 1
    p = spec_from_options(projection_file=proj, key_property="id")
    assert p.projection.startswith("MATCH") and p.key_property == "id"
    with pytest.raises(InputError, match="projection file"):
        spec_from_options(projection_file=tmp_path / "missing.cypher")
    with pytest.raises(InputError, match="since"):
        spec_from_options(time_property="t", since="[1")


def test_describe_is_json_friendly():
    import json

    s = GraphSpec(labels="A", node_where=["x IN [1, 2]"])
    d = json.loads(json.dumps(s.describe()))
    assert d["labels"] == ["A"] and d["node_where"] == ["x IN [1, 2]"]
    assert s.identity == {"labels": ["A"], "key_property": None}
