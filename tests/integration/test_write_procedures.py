"""The ``topo.write`` procedures against a real Neo4j: the local server has them, and a write
through them leaves exactly the graph (and the report) that the Cypher statements leave."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from topo_graphdb._cypher import quote_identifier as qi
from topo_graphdb.db import Database
from topo_graphdb.writeback import write_node_properties, write_predicted_links
from topo_graphdb.writeproc import has_write_procedures

N = 14
STAMPS = ("topo_updated_at", "created_at")  # the time of each write: equal in type only


def test_the_local_server_has_the_write_procedures(neo4j_conn):
    with Database(neo4j_conn) as db:
        assert has_write_procedures(db)


def _nodes(driver, conn, label: str, by_key: bool) -> tuple[list[Any], list[Any]]:
    """``N`` nodes ``(:label {uid})`` and a second node with uid 3 (``dup``), plus two ids that
    match none of them: a node of another label and a node that does not exist. Returns (the ids
    of uids 0..N-1, the two foreign ids); ids are uids (``by_key``) or element ids."""
    with driver.session(database=conn.database) as s:
        s.run(f"UNWIND range(0, $n - 1) AS i CREATE (:{qi(label)} {{uid: i}})", n=N).consume()
        s.run(f"CREATE (:{qi(label)} {{uid: 3, dup: true}})").consume()
        eids = {r["uid"]: r["e"] for r in s.run(f"MATCH (n:{qi(label)}) WHERE n.dup IS NULL RETURN n.uid AS uid, elementId(n) AS e")}
        other = s.run(f"CREATE (n:{qi(label + '_other')} {{uid: 1000}}) RETURN elementId(n) AS e").single()["e"]
        gone = s.run("CREATE (n:TopoGone) WITH n, elementId(n) AS e DELETE n RETURN e").single()["e"]
    if by_key:
        return list(range(N)), [1000, 2000]
    return [eids[i] for i in range(N)], [other, gone]


def _state(driver, conn, label: str, uid_of: dict[str, int]) -> tuple[dict, list]:
    """Node properties by uid and links as sorted tuples; element ids in lists turned into uids,
    the write times replaced by their type."""

    def plain(props: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in props.items():
            if key in STAMPS:
                value = type(value).__name__
            elif key == "topo_predicted":
                value = [uid_of.get(v, v) for v in value]
            out[key] = value
        return out

    with driver.session(database=conn.database) as s:
        nodes = {(r["uid"], r["dup"]): plain(dict(r["p"]))
                 for r in s.run(f"MATCH (n:{qi(label)}) RETURN n.uid AS uid, n.dup AS dup, properties(n) AS p")}
        rels = sorted(
            (r["a"], r["b"], sorted(plain(dict(r["p"])).items()))
            for r in s.run(f"MATCH (a:{qi(label)})-[p:PREDICTED_LINK]->(b) RETURN a.uid AS a, b.uid AS b, properties(p) AS p")
        )
    return nodes, rels


def _scenario(conn, ids: list[Any], foreign: list[Any], label: str, key: str | None, use: bool) -> tuple[list[dict[str, Any]], list[Any]]:
    """Two node writes and three link writes (replacing, keeping, with missing targets and a
    source left without links); the reports without their timings."""
    rng = np.random.default_rng(7)
    all_ids = ids + foreign
    n = len(all_ids)
    f = rng.random(n)
    f[[1, 5]] = np.nan
    columns = {
        "f": f,
        "i": rng.integers(-5, 5, n),
        "b": rng.random(n) < 0.5,
        "s": np.array([f"name {k}" for k in range(n)]),
        "v": rng.random((n, 3)).astype(np.float32),
    }
    common = {"labels": label, "key_property": key, "run_id": "run-a", "use_procedures": use}
    reports = [write_node_properties(conn, all_ids, columns, batch_size=5, **common)]
    again = np.full(n, np.nan)
    again[:4] = [0.5, 1.5, 2.5, 3.5]
    reports.append(write_node_properties(conn, all_ids, {"f": again, "i": np.arange(n)}, **common))

    m = 61
    src = np.append(rng.integers(0, n, m - 1), N - 1)  # N - 1 has one link, which the second write drops
    dst = np.append(rng.integers(0, n, m - 1), 0)
    score = rng.random(m)
    prob = rng.random(m)
    prob[::4] = np.nan
    link_common = {"model": "gcn", "labels": label, "key_property": key, "use_procedures": use}
    reports.append(write_predicted_links(conn, all_ids, src, dst, score, top_k=3, run_id="run-1", batch_size=7,
                                         link_properties={"probability": prob, "tc": score / 2}, **link_common))
    src2 = np.concatenate([src[:30], rng.integers(0, N - 1, 30), [N - 1]])
    dst2 = np.concatenate([dst[:30], rng.integers(0, n, 30), [1]])
    score2 = np.append(rng.random(60), 0.1)
    reports.append(write_predicted_links(conn, all_ids, src2, dst2, score2, top_k=4, min_score=0.2, run_id="run-2",
                                         link_properties={"probability": rng.random(61)}, **link_common))
    reports.append(write_predicted_links(conn, all_ids, src[:10], dst[:10], score[:10], run_id="run-3",
                                         replace_previous=False, node_lists=False, **link_common))
    out = []
    for rep in reports:
        d = rep.as_dict()
        for key in ("seconds", "rows_per_second", "batches", "via"):
            d.pop(key, None)
        out.append(d)
    return out, reports


@pytest.mark.parametrize("by_key", [False, True], ids=["element-id", "key-property"])
def test_procedures_write_what_the_cypher_statements_write(neo4j_conn, neo4j_driver, unique_label, by_key):
    label_c, label_p = f"{unique_label}_c", f"{unique_label}_p"
    key = "uid" if by_key else None
    ids_c, foreign_c = _nodes(neo4j_driver, neo4j_conn, label_c, by_key)
    ids_p, foreign_p = _nodes(neo4j_driver, neo4j_conn, label_p, by_key)
    got_c, reports_c = _scenario(neo4j_conn, ids_c, foreign_c, label_c, key, use=False)
    got_p, reports_p = _scenario(neo4j_conn, ids_p, foreign_p, label_p, key, use=True)
    assert {r.via for r in reports_p} == {"procedures"} and {r.via for r in reports_c} == {"cypher"}
    # the reports name the ids of their own graph: put both on one footing
    swap = dict(zip(foreign_p + ids_p, foreign_c + ids_c))
    for d in got_p:
        d["missing_sample"] = [swap.get(x, x) for x in d.get("missing_sample", [])]
        if d.get("sample"):
            d["sample"] = {k: ([swap.get(x, x) for x in v] if isinstance(v, list) else swap.get(v, v) if k in ("id", "source") else v)
                           for k, v in d["sample"].items()}
        d["identity"] = {**d["identity"], "labels": [label_c]}
    assert got_p == got_c
    assert any(d.get("deleted") for d in got_c) and any(d.get("missing_targets") for d in got_c)
    assert any(d.get("missing") for d in got_c)
    uid_c = {e: i for i, e in enumerate(ids_c)}
    uid_p = {e: i for i, e in enumerate(ids_p)}
    state_c = _state(neo4j_driver, neo4j_conn, label_c, uid_c)
    state_p = _state(neo4j_driver, neo4j_conn, label_p, uid_p)
    assert state_p == state_c
    nodes, rels = state_c
    assert len(rels) > 20 and any("topo_predicted" in p for p in nodes.values())
    assert "topo_predicted" not in nodes[(N - 1, None)] and not any(a == N - 1 for a, _, _ in rels)  # its one link went
    assert ("topo_f" in nodes[(3, True)]) == by_key  # a repeated key value names both nodes, as in Cypher
