"""The batches of the topo.write procedures carry what the Cypher statements' rows carry."""

from __future__ import annotations

import numpy as np

from topo_graphdb.identity import NodeIdentity
from topo_graphdb.linkrank import link_maps, link_spans, rank_links, source_rows
from topo_graphdb.writeproc import (
    PROCEDURES,
    has_write_procedures,
    link_procedure_batches,
    node_procedure_batches,
    procedures_can_store,
    procedures_serve,
    signature_arguments,
)


def test_link_batches_hold_the_rows_of_the_cypher_statement():
    rng = np.random.default_rng(3)
    n, m = 30, 200
    ids = [f"4:x:{i}" for i in range(n)]
    src, dst, score = rng.integers(0, n - 1, m), rng.integers(0, n, m), rng.random(m)
    src[-1], dst[-1], score[-1] = n - 1, 0, 0.05  # node n - 1: one link, below min_score
    prob = rng.random(m)
    prob[::3] = np.nan
    extra = {"probability": prob}
    sources, s, d, scr, pos, _ = rank_links(n, src, dst, score, 4, 0.1)
    rows = source_rows(ids, sources, s, d, scr, link_maps(extra, pos))
    counts = [len(r[1]) for r in rows]
    assert 0 in counts  # a source whose links all fell below min_score
    bounds = link_spans(counts, 9)
    got = []
    for (b, e), (params, links) in zip(bounds, link_procedure_batches(ids, sources, counts, d, scr, extra, pos, bounds, {"x": 1})):
        assert params["x"] == 1 and links == sum(counts[b:e]) == len(params["targets"])
        at = 0
        for source, count in zip(params["sources"], params["counts"]):
            sl = slice(at, at + count)
            got.append([source, params["targets"][sl], params["scores"][sl],
                        [{"probability": p} for p in params["more"]["probability"][sl]]])
            at += count
    assert got == rows


def test_node_batches_are_columns_of_the_rows():
    ident = NodeIdentity(labels=("Paper",), key_property="id")
    values = [[1.0, None, 3.0], ["a", "b", "c"]]
    batches = list(node_procedure_batches([7, 8, 9], ["p", "q"], values, {"run": "r"}, ident, [(0, 2), (2, 3)], 5))
    assert [b[1] for b in batches] == [2, 1]
    assert batches[0][0]["columns"] == [[1.0, None], ["a", "b"]] and batches[1][0]["ids"] == [9]
    assert batches[0][0]["key"] == "id" and batches[0][0]["labels"] == ["Paper"]


def test_what_the_procedures_serve_and_store():
    assert procedures_serve(NodeIdentity()) and procedures_serve(NodeIdentity(labels=("A",), key_property="k"))
    assert not procedures_serve(NodeIdentity(key_property="k"))  # a key without a label: the Cypher statement
    assert procedures_can_store([np.zeros(3), np.zeros((3, 2)), np.array(["a", "b", "c"])])
    assert not procedures_can_store([np.zeros((3, 0))])
    assert not procedures_can_store([np.array([[1.0], [], [2.0, 3.0]], dtype=object)])


def test_a_server_without_the_procedures_or_with_other_signatures_gets_cypher(fake_db):
    assert not has_write_procedures(fake_db())
    sig = {name: f"{name}({', '.join(f'{a} :: ANY' for a in args)}) :: (x :: INTEGER)" for name, args in PROCEDURES.items()}
    assert has_write_procedures(fake_db(lambda q, p: [{"name": k, "signature": v} for k, v in sig.items()]))
    old = dict(sig, **{"topo.write.nodeProperties": "topo.write.nodeProperties(ids :: LIST<ANY>) :: (x :: INTEGER)"})
    assert not has_write_procedures(fake_db(lambda q, p: [{"name": k, "signature": v} for k, v in old.items()]))
    assert signature_arguments("f() :: (x :: INTEGER)") == ()
