"""Node identity in written Cypher: patterns and the order in which an identity is resolved."""

from __future__ import annotations

import numpy as np

from topo_graphdb.graphspec import GraphSpec
from topo_graphdb.identity import NodeIdentity, resolve_identity


def test_node_identity_patterns():
    assert NodeIdentity(("Paper",), "id").match("n", "row[0]") == "(n:`Paper` {`id`: row[0]})"
    assert NodeIdentity(("A", "B"), "id").match("n", "x") == "(n:`A`|`B`) WHERE n.`id` = x"
    assert NodeIdentity(("Paper",)).match("n", "row[0]") == "(n) WHERE elementId(n) = row[0] AND n:`Paper`"
    assert NodeIdentity(()).match("n", "row[0]") == "(n) WHERE elementId(n) = row[0]"
    assert NodeIdentity(("P",), "id").id_of("x") == "x.`id`"
    assert NodeIdentity("P").labels == ("P",)


def test_identity_resolution_order():
    from topo_graphdb.snapshot import GraphSnapshot

    snap = GraphSnapshot(np.array([1, 2]), np.array([[0], [1]]), meta={"identity": {"labels": ["M"], "key_property": "k"}})
    assert resolve_identity(snap, None, None, None) == NodeIdentity(("M",), "k")
    assert resolve_identity(snap, GraphSpec(labels="S"), None, None) == NodeIdentity(("S",), None)
    assert resolve_identity(snap, GraphSpec(labels="S"), ["E"], "e") == NodeIdentity(("E",), "e")
