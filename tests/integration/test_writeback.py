"""Write-back against a real Neo4j: identity, idempotency, replacement of runs, odd names,
dry runs, the CLI, and failures (server killed mid-write, read-only database)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import numpy as np
import pytest

from topo_graphdb._cypher import quote_identifier as qi
from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.errors import EmptyGraphError, InputError, WriteNotAllowed
from topo_graphdb.server import free_port
from topo_graphdb.writeback import (
    cleanup_predicted_links,
    write_node_properties,
    write_predicted_links,
)


def make_nodes(driver, conn, label: str, n: int, *, constraint: bool = True) -> dict[int, str]:
    """``n`` nodes ``(:label {uid})``; returns uid -> element id."""
    with driver.session(database=conn.database) as s:
        if constraint:
            s.run(f"CREATE CONSTRAINT IF NOT EXISTS FOR (n:{qi(label)}) REQUIRE n.uid IS UNIQUE").consume()
        s.run(f"UNWIND range(0, $n - 1) AS i CREATE (:{qi(label)} {{uid: i}})", n=n).consume()
        return {r["uid"]: r["eid"] for r in s.run(f"MATCH (n:{qi(label)}) RETURN n.uid AS uid, elementId(n) AS eid")}


def node_props(driver, conn, label: str) -> dict[int, dict[str, Any]]:
    with driver.session(database=conn.database) as s:
        return {r["uid"]: dict(r["p"]) for r in s.run(f"MATCH (n:{qi(label)}) RETURN n.uid AS uid, properties(n) AS p")}


def links(driver, conn, label: str, rel_type: str = "PREDICTED_LINK") -> list[tuple]:
    with driver.session(database=conn.database) as s:
        return sorted(
            (r["a"], r["b"], r["score"], r["rank"], r["model"], r["run"])
            for r in s.run(
                f"MATCH (a:{qi(label)})-[p:{qi(rel_type)}]->(b) "
                "RETURN a.uid AS a, b.uid AS b, p.score AS score, p.rank AS rank, p.model AS model, p.run_id AS run"
            )
        )


@pytest.fixture
def graph(neo4j_driver, neo4j_conn, unique_label):
    eids = make_nodes(neo4j_driver, neo4j_conn, unique_label, 10)
    return unique_label, eids


# --------------------------------------------------------------------------- node properties
def test_node_properties_by_key_missing_values_remove(neo4j_conn, neo4j_driver, graph):
    label, _ = graph
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"MATCH (n:{qi(label)}) SET n.topo_score = -1.0, n.keep = 'me'").consume()
    ids = np.arange(10)
    score = np.arange(10) / 4
    score[[1, 6]] = np.nan
    names = np.array([f"n{i}" if i % 3 else None for i in range(10)], dtype=object)
    emb = np.stack([np.arange(10.0), -np.arange(10.0)], axis=1)
    rep = write_node_properties(
        neo4j_conn, ids, {"score": score, "name": names, "emb": emb, "flag": ids % 2 == 0},
        labels=[label], key_property="uid", run_id="run-a", batch_size=3,
    )
    assert (rep.rows, rep.matched, rep.missing, rep.batches) == (10, 10, 0, 4)
    assert rep.removed == 2 + 4
    props = node_props(neo4j_driver, neo4j_conn, label)
    for i in range(10):
        p = props[i]
        assert p["keep"] == "me"  # properties the write does not name are left alone
        if np.isnan(score[i]):
            assert "topo_score" not in p  # removed, not 0 and not the old -1
        else:
            assert p["topo_score"] == score[i]
        assert p.get("topo_name") == names[i]
        assert p["topo_emb"] == [float(i), -float(i)]
        assert p["topo_flag"] is (i % 2 == 0)
        assert p["topo_run_id"] == "run-a"
        assert p["topo_updated_at"] is not None
    first_time = props[0]["topo_updated_at"]
    # a later run with other values wins; running it twice changes nothing more
    score2 = np.full(10, 7.0)
    for _ in range(2):
        write_node_properties(neo4j_conn, ids, {"score": score2}, labels=[label], key_property="uid", run_id="run-b")
    props = node_props(neo4j_driver, neo4j_conn, label)
    assert all(props[i]["topo_score"] == 7.0 and props[i]["topo_run_id"] == "run-b" for i in range(10))
    assert props[0]["topo_updated_at"] > first_time
    assert all(props[i].get("topo_name") == names[i] for i in range(10))  # not named: untouched


def test_element_id_identity_is_guarded_by_the_label(neo4j_conn, neo4j_driver, graph):
    label, eids = graph
    other = f"{label}_other"
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        stranger = s.run(f"CREATE (n:{qi(other)} {{uid: 99}}) RETURN elementId(n) AS e").single()["e"]
        gone = eids[9]
        s.run("MATCH (n) WHERE elementId(n) = $e DETACH DELETE n", e=gone).consume()
    ids = np.array([eids[i] for i in range(9)] + [gone, stranger], dtype=object)
    try:
        rep = write_node_properties(neo4j_conn, ids, {"v": np.arange(11.0)}, labels=[label], run_id="g")
        assert (rep.matched, rep.missing) == (9, 2)
        assert set(rep.missing_sample) == {gone, stranger}
        assert "2 nodes no longer match" in rep.summary()
        props = node_props(neo4j_driver, neo4j_conn, label)
        assert sorted(props) == list(range(9)) and all(props[i]["topo_v"] == i for i in range(9))
        assert "topo_v" not in node_props(neo4j_driver, neo4j_conn, other)[99]  # other label: not written
        # links from a source that no longer matches, and to a target that no longer matches
        lrep = write_predicted_links(neo4j_conn, ids, [9, 0, 0], [0, 1, 10], [0.5, 0.6, 0.7], model="m", labels=[label])
        assert (lrep.rows, lrep.matched, lrep.missing, lrep.missing_sample) == (2, 1, 1, [gone])
        assert (lrep.relationships, lrep.missing_targets) == (1, 1)
        assert [(a, b) for a, b, *_ in links(neo4j_driver, neo4j_conn, label)] == [(0, 1)]
    finally:
        with neo4j_driver.session(database=neo4j_conn.database) as s:
            s.run(f"MATCH (n:{qi(other)}) DETACH DELETE n").consume()


def test_snapshot_supplies_the_identity(neo4j_conn, neo4j_driver, graph):
    from topo_graphdb.snapshot import GraphSnapshot

    label, _ = graph
    snap = GraphSnapshot(np.arange(10), np.array([[0], [1]]), meta={"identity": {"labels": [label], "key_property": "uid"}})
    rep = write_node_properties(neo4j_conn, snap, {"deg": np.arange(10) * 2})
    assert rep.matched == 10 and rep.identity["id_kind"] == "key"
    assert node_props(neo4j_driver, neo4j_conn, label)[4]["topo_deg"] == 8


def test_odd_names_are_quoted_not_executed(neo4j_conn, neo4j_driver):
    label = f"Odd `Label` ü {uuid.uuid4().hex[:6]}"
    try:
        eids = make_nodes(neo4j_driver, neo4j_conn, label, 3, constraint=False)
        col = "score `x` ü) SET n.pwned = 1 //"
        rep = write_node_properties(neo4j_conn, np.array([eids[i] for i in range(3)], dtype=object),
                                    {col: np.array([1.0, 2.0, 3.0])}, labels=[label], prefix="tö ")
        assert rep.matched == 3 and rep.properties[0] == "tö " + col
        props = node_props(neo4j_driver, neo4j_conn, label)
        assert [props[i]["tö " + col] for i in range(3)] == [1.0, 2.0, 3.0]
        assert all("pwned" not in p for p in props.values())
        links_rep = write_predicted_links(neo4j_conn, np.array([eids[i] for i in range(3)], dtype=object),
                                          [0, 0], [1, 2], [0.5, 0.7], model="m`odel", labels=[label], rel_type="PRED `ü`")
        assert links_rep.relationships == 2
        assert [(a, b, s) for a, b, s, *_ in links(neo4j_driver, neo4j_conn, label, "PRED `ü`")] == [(0, 1, 0.5), (0, 2, 0.7)]
    finally:
        with neo4j_driver.session(database=neo4j_conn.database) as s:
            s.run(f"MATCH (n:{qi(label)}) DETACH DELETE n").consume()


def test_dry_run_writes_nothing(neo4j_conn, neo4j_driver, graph):
    label, eids = graph
    ids = np.array([eids[i] for i in range(10)] + ["4:00000000-0000-0000-0000-000000000000:999999"], dtype=object)
    rep = write_node_properties(neo4j_conn, ids, {"v": np.arange(11.0)}, labels=[label], dry_run=True)
    assert rep.dry_run and (rep.rows, rep.matched, rep.missing) == (11, 10, 1)
    assert rep.sample == {"id": eids[0], "topo_v": 0.0}
    assert rep.properties == ["topo_v", "topo_run_id", "topo_updated_at"]
    lrep = write_predicted_links(neo4j_conn, ids[:10], [0, 0, 1], [1, 2, 0], [0.9, 0.8, 0.7], model="m", labels=[label], dry_run=True)
    assert lrep.dry_run and lrep.relationships == 3 and lrep.rows == 2
    assert lrep.sample["targets"] == [eids[1], eids[2]]
    assert all(set(p) == {"uid"} for p in node_props(neo4j_driver, neo4j_conn, label).values())
    assert links(neo4j_driver, neo4j_conn, label) == []


def test_rate_limit_paces_every_batch_and_writes_everything(neo4j_conn, neo4j_driver, graph, monkeypatch):
    """The write asks its pacer before each batch (the pacing itself is unit-tested with a fake
    clock; here the clock moves only when the pacer sleeps, so the pauses are exact)."""
    from topo_graphdb import batches

    label, _ = graph
    now = [0.0]
    slept: list[float] = []
    pacers = []
    real = batches.RatePacer

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    def pacer(rate):
        pacers.append(real(rate, clock=lambda: now[0], sleep=sleep))
        return pacers[-1]

    monkeypatch.setattr(batches, "RatePacer", pacer)
    rep = write_node_properties(neo4j_conn, np.arange(10), {"v": np.arange(10.0)}, labels=[label], key_property="uid",
                                batch_size=2, rate_limit=10)
    assert rep.batches == 5 and rep.matched == 10
    [used] = pacers
    assert used.rate == 10 and used.rows == 10
    assert slept == pytest.approx([0.2] * 4)  # 2 rows at 10 rows/s before each batch after the first
    assert {u: p["topo_v"] for u, p in node_props(neo4j_driver, neo4j_conn, label).items()} == {i: float(i) for i in range(10)}


# --------------------------------------------------------------------------- predicted links
def test_predicted_links_merge_rank_and_lists(neo4j_conn, neo4j_driver, graph):
    label, _ = graph
    ids = np.arange(10)
    src = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 3])
    dst = np.array([5, 6, 7, 5, 2, 1, 9, 8, 7, 4])
    sc = np.array([0.2, 0.9, 0.5, 0.4, 0.3, 0.99, 0.1, 0.6, np.nan, 0.8])
    kw = dict(labels=[label], key_property="uid", model="tc-gnn", top_k=3, min_score=0.15)
    one = write_predicted_links(neo4j_conn, ids, src, dst, sc, run_id="L0", **{**kw, "top_k": 1}, dry_run=True)
    assert one.relationships == 4  # one link for each of the sources 0, 1, 2, 3
    rep = write_predicted_links(neo4j_conn, ids, src, dst, sc, run_id="L1", **kw)
    # 0: 6 (.9), 7 (.5), 5 (.4: the better of .2 and .4); 1: 1->1 is a self-link, so 2 (.3);
    # 2: 8 (.6) (.1 is below min_score, NaN is dropped); 3: 4 (.8)
    want = [(0, 5, 0.4, 3), (0, 6, 0.9, 1), (0, 7, 0.5, 2), (1, 2, 0.3, 1), (2, 8, 0.6, 1), (3, 4, 0.8, 1)]
    got = links(neo4j_driver, neo4j_conn, label)
    assert [(a, b, s, r) for a, b, s, r, _, _ in got] == want
    assert {(m, run) for *_, m, run in got} == {("tc-gnn", "L1")}
    assert (rep.rows, rep.matched, rep.relationships, rep.deleted) == (4, 4, 6, 0)
    props = node_props(neo4j_driver, neo4j_conn, label)
    assert props[0]["topo_predicted"] == [6, 7, 5] and props[0]["topo_predicted_scores"] == [0.9, 0.5, 0.4]
    assert props[2]["topo_predicted"] == [8]
    assert "topo_predicted" not in props[5]
    # the same write again: no duplicate, same state
    again = write_predicted_links(neo4j_conn, ids, src, dst, sc, run_id="L1", **kw)
    assert again.relationships == 6 and again.deleted == 0
    assert links(neo4j_driver, neo4j_conn, label) == got


def test_link_properties_follow_their_links(neo4j_conn, neo4j_driver, graph):
    label, _ = graph
    ids = np.arange(10)
    # sorted by score per source, one repeated pair (its better row wins), one NaN property
    src, dst = np.array([0, 0, 1, 0]), np.array([1, 2, 3, 1])
    sc = np.array([0.2, 0.9, 0.5, 0.4])
    prob, tc = np.array([0.11, 0.22, 0.33, 0.44]), np.array([1.0, np.nan, 3.0, 4.0])
    kw = dict(labels=[label], key_property="uid", model="m", run_id="P1")
    rep = write_predicted_links(neo4j_conn, ids, src, dst, sc, link_properties={"probability": prob, "tc": tc}, **kw)
    assert "probability" in rep.properties and "tc" in rep.properties
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        got = s.run(f"MATCH (a:{qi(label)})-[p:PREDICTED_LINK]->(b) RETURN a.uid AS a, b.uid AS b, p.probability AS p, p.tc AS tc "
                    "ORDER BY a, b").data()
    assert [(r["a"], r["b"], r["p"], r["tc"]) for r in got] == [(0, 1, 0.44, 4.0), (0, 2, 0.22, None), (1, 3, 0.33, 3.0)]
    with pytest.raises(InputError, match="one value per link"):
        write_predicted_links(neo4j_conn, ids, src, dst, sc, link_properties={"probability": prob[:2]}, **kw)
    with pytest.raises(InputError, match="written by the tool"):
        write_predicted_links(neo4j_conn, ids, src, dst, sc, link_properties={"rank": prob}, **kw)


def test_later_run_replaces_earlier_links_per_source_and_cleanup(neo4j_conn, neo4j_driver, graph):
    label, _ = graph
    ids = np.arange(10)
    kw = dict(labels=[label], key_property="uid", model="m", batch_size=2)
    write_predicted_links(neo4j_conn, ids, [0, 0, 1, 2], [1, 2, 3, 4], [0.9, 0.8, 0.7, 0.6], run_id="old", **kw)

    def link_id(a, b):
        with neo4j_driver.session(database=neo4j_conn.database) as s:
            return s.run(f"MATCH (:{qi(label)} {{uid: $a}})-[p:PREDICTED_LINK]->({{uid: $b}}) RETURN elementId(p) AS e",
                         a=a, b=b).single()["e"]

    before = link_id(0, 2)
    # the new run covers sources 0 and 1 only: 0 gets (0, 2) again and (0, 3); 1 predicts nothing above min_score
    rep = write_predicted_links(neo4j_conn, ids, [0, 0, 1], [2, 3, 5], [0.5, 0.4, 0.01], run_id="new", min_score=0.1, **kw)
    assert rep.deleted == 2  # (0,1) and (1,3); the old run's link (0,2) is taken over by the new run
    assert link_id(0, 2) == before
    got = links(neo4j_driver, neo4j_conn, label)
    assert [(a, b, s, run) for a, b, s, _, _, run in got] == [(0, 2, 0.5, "new"), (0, 3, 0.4, "new"), (2, 4, 0.6, "old")]
    props = node_props(neo4j_driver, neo4j_conn, label)
    assert props[0]["topo_predicted"] == [2, 3]
    assert "topo_predicted" not in props[1]  # its links were all replaced by none
    assert props[2]["topo_predicted"] == [4]
    # cleanup removes what the new run did not cover (source 2) and its lists
    dry = cleanup_predicted_links(neo4j_conn, keep_run_id="new", dry_run=True)
    assert dry.deleted >= 1
    assert len(links(neo4j_driver, neo4j_conn, label)) == 3
    rep = cleanup_predicted_links(neo4j_conn, keep_run_id="new")
    assert rep.deleted >= 1 and rep.matched >= 1
    assert [(a, b, run) for a, b, _, _, _, run in links(neo4j_driver, neo4j_conn, label)] == [(0, 2, "new"), (0, 3, "new")]
    props = node_props(neo4j_driver, neo4j_conn, label)
    assert "topo_predicted" not in props[2] and props[0]["topo_predicted"] == [2, 3]


def test_keep_previous_links(neo4j_conn, neo4j_driver, graph):
    label, _ = graph
    kw = dict(labels=[label], key_property="uid", model="m")
    write_predicted_links(neo4j_conn, np.arange(10), [0], [1], [0.9], run_id="a", **kw)
    write_predicted_links(neo4j_conn, np.arange(10), [0], [2], [0.8], run_id="b", replace_previous=False, **kw)
    assert [(a, b, run) for a, b, _, _, _, run in links(neo4j_driver, neo4j_conn, label)] == [(0, 1, "a"), (0, 2, "b")]


def test_bad_input_is_refused_before_writing(neo4j_conn, graph):
    label, _ = graph
    with pytest.raises(InputError, match="src_idx"):
        write_predicted_links(neo4j_conn, np.arange(3), [0, 5], [1, 2], [0.1, 0.2], model="m", labels=[label])
    with pytest.raises(InputError, match="reserved"):
        write_node_properties(neo4j_conn, np.arange(3), {"predicted": np.zeros(3)}, labels=[label])


# --------------------------------------------------------------------------- CLI
def test_cli_write_nodes_and_links(cli, neo4j_conn, neo4j_driver, graph, tmp_path):
    label, _ = graph
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("node,score,kind\n0,0.5,a\n1,,b\n2,1.5,\n77,2.0,z\n")
    lk = tmp_path / "links.csv"
    lk.write_text("src,dst,score\n0,1,0.9\n0,2,0.8\n1,0,0.4\n")
    args = ["write", "--from", nodes, "--links", lk, "--model", "cli-model", "--label", label, "--key-property", "uid",
            "--run-id", "cli-1"]
    res = cli(*args, "--dry-run")
    assert res.exit_code == 0, res.stderr
    assert "would write topo_score, topo_kind" in res.stdout and "1 nodes no longer match (e.g. 77)" in res.stdout
    assert "sample:" in res.stdout
    assert all(set(p) == {"uid"} for p in node_props(neo4j_driver, neo4j_conn, label).values())
    res = cli(*args, "--json")
    assert res.exit_code == 0, res.stderr
    node_rep, link_rep = json.loads(res.stdout)
    assert (node_rep["matched"], node_rep["missing"], node_rep["missing_sample"]) == (3, 1, [77])
    assert link_rep["relationships"] == 3 and link_rep["run_id"] == "cli-1"
    props = node_props(neo4j_driver, neo4j_conn, label)
    assert props[0]["topo_score"] == 0.5 and props[0]["topo_kind"] == "a"
    assert "topo_score" not in props[1] and props[1]["topo_kind"] == "b"
    assert props[2]["topo_score"] == 1.5 and "topo_kind" not in props[2]
    assert [(a, b, m) for a, b, _, _, m, _ in links(neo4j_driver, neo4j_conn, label)] == [
        (0, 1, "cli-model"), (0, 2, "cli-model"), (1, 0, "cli-model")]
    res = cli("write", "--links", lk, "--label", label)
    assert res.exit_code == 3 and "--model" in res.stderr
    res = cli("write", "--from", nodes, "--label", label, "--batch-size", "0")
    assert res.exit_code == 3 and "batch_size" in res.stderr


# --------------------------------------------------------------------------- failures (own server)
def _state(driver, conn, label: str) -> dict[str, Any]:
    """Everything the write leaves, apart from run ids and timestamps."""
    props = node_props(driver, conn, label)
    for p in props.values():
        assert p.pop("topo_run_id", None) is not None
        p.pop("topo_updated_at")
    with driver.session(database=conn.database) as s:
        rel_keys = {tuple(sorted(r["k"])) for r in s.run(f"MATCH (:{qi(label)})-[p:PREDICTED_LINK]->() RETURN DISTINCT keys(p) AS k")}
        dup = s.run(
            f"MATCH (a:{qi(label)})-[p:PREDICTED_LINK]->(b) WITH a, b, count(p) AS c WHERE c > 1 RETURN count(*) AS d"
        ).single()["d"]
    return {
        "nodes": props,
        "links": [(a, b, s, r, m) for a, b, s, r, m, _ in links(driver, conn, label)],
        "rel_keys": rel_keys,
        "duplicates": dup,
    }


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for(cond, timeout: float, what: str, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the writer ended before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_server_killed_mid_write_then_rerun_and_restart_between_batches(tmp_path, monkeypatch):
    """SIGKILL the server in the middle of a large write-back, restart it, write again: the
    final state equals an uninterrupted run's. Then a write that outlives a server restart
    on its own. Then the same server with a read-only database refuses writes (exit 6)."""
    import neo4j

    from topo_graphdb import server

    data_dir = tmp_path / "neo4j"
    port = free_port()
    start = dict(data_dir=data_dir, port=port, heap="1g", pagecache="256m", auth=False, timeout=600)
    server.start(**start)
    conn = ConnectionSettings(uri=f"bolt://127.0.0.1:{port}")
    driver = neo4j.GraphDatabase.driver(conn.uri, auth=None)

    def kill_and_restart(before_restart=None) -> Any:
        """SIGKILL the server; restart it once its port is free again (connections of the killed
        server linger for a while); returns a fresh driver."""
        nonlocal driver
        os.kill(server.status(data_dir=data_dir)["pid"], signal.SIGKILL)
        driver.close()  # our connections to the dead server, so that the port is released
        _wait_for(lambda: not server.status(data_dir=data_dir)["running"], 60, "the server to die")
        if before_restart:
            before_restart()
        _wait_for(lambda: _port_free(port), 300, "the port to be free")
        server.start(**start)
        driver = neo4j.GraphDatabase.driver(conn.uri, auth=None)
        return driver

    try:
        n, k = 3000, 10
        for label in ("Ref", "Crash", "Restart"):
            make_nodes(driver, conn, label, n)
        rng = np.random.default_rng(7)
        score = rng.random(n)
        score[::11] = np.nan
        nodes_csv = tmp_path / "nodes.csv"
        rows = ["node,score,parity"] + [f"{i},{'' if v != v else repr(v)},{i % 2}" for i, v in enumerate(score.tolist())]
        nodes_csv.write_text("\n".join(rows) + "\n")
        src = np.repeat(np.arange(n), k)
        dst = (src + rng.integers(1, n, src.size)) % n
        links_csv = tmp_path / "links.csv"
        links_csv.write_text("src,dst,score\n" + "\n".join(f"{a},{b},{s!r}" for a, b, s in zip(src.tolist(), dst.tolist(), rng.random(src.size).tolist())) + "\n")
        env = {k_: v for k_, v in os.environ.items() if not k_.startswith("NEO4J_")}
        env["NEO4J_URI"] = conn.uri

        def writer(label: str, *extra: str) -> subprocess.Popen:
            cmd = [sys.executable, "-m", "topo_graphdb", "write", "--from", str(nodes_csv), "--links", str(links_csv),
                   "--model", "m", "--label", label, "--key-property", "uid", "--batch-size", "500", "--json", *extra]
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def link_count(label: str) -> int:
            try:
                with driver.session(database="neo4j") as s:
                    return s.run(f"MATCH (:{label})-[r:PREDICTED_LINK]->() RETURN count(r) AS c").single()["c"]
            except neo4j.exceptions.DriverError:
                return -1

        ref = writer("Ref")
        out, err = ref.communicate(timeout=900)
        assert ref.returncode == 0, err
        distinct_pairs = len(set(zip(src.tolist(), dst.tolist())))
        assert json.loads(out)[1]["relationships"] == distinct_pairs
        expected = _state(driver, conn, "Ref")
        assert len(expected["links"]) == distinct_pairs and expected["duplicates"] == 0
        assert any("topo_score" not in p for p in expected["nodes"].values())  # NaN -> no property

        # 1. kill the server (and the writer with it) after some batches committed; the writer is
        #    stopped first, so that it cannot finish before the kill
        crash = writer("Crash", "--reconnect-timeout", "0")
        _wait_for(lambda: link_count("Crash") >= 3 * 500, 600, "some link batches", crash)
        crash.send_signal(signal.SIGSTOP)

        def crash_writer() -> None:
            crash.kill()
            crash.communicate(timeout=60)  # reaps it and closes its pipes

        kill_and_restart(crash_writer)
        partial = link_count("Crash")
        assert 0 < partial < len(expected["links"])  # the kill came in the middle
        again = writer("Crash")  # the same command (a fresh run id)
        out, err = again.communicate(timeout=900)
        assert again.returncode == 0, err
        assert _state(driver, conn, "Crash") == expected

        # 2. a restart between batches: the writer waits, reconnects and finishes by itself. It is
        #    stopped while the server is killed (so that it is still writing then) and resumed
        #    while the server is down.
        survivor = writer("Restart", "--reconnect-timeout", "600")
        _wait_for(lambda: link_count("Restart") >= 3 * 500, 600, "some link batches", survivor)
        survivor.send_signal(signal.SIGSTOP)
        assert link_count("Restart") < len(expected["links"])

        def resume_survivor() -> None:
            survivor.send_signal(signal.SIGCONT)
            assert survivor.poll() is None, "the writer ended while it was stopped"

        kill_and_restart(resume_survivor)
        out, err = survivor.communicate(timeout=900)
        assert survivor.returncode == 0, err  # it waited (driver retries, then new sessions) and finished
        assert _state(driver, conn, "Restart") == expected
        driver.close()

        # 3. a read-only database refuses writes with WriteNotAllowed (exit 6); export still works
        server.stop(data_dir=data_dir)
        real_render = server.render_conf
        monkeypatch.setattr(server, "render_conf", lambda *a, **kw: real_render(*a, **kw) + "server.databases.read_only=neo4j\n")
        server.start(**start)
        with pytest.raises(WriteNotAllowed):
            write_node_properties(conn, np.arange(3), {"x": np.ones(3)}, labels=["Ref"], key_property="uid")
        with pytest.raises(WriteNotAllowed):
            write_predicted_links(conn, np.arange(3), [0], [1], [0.5], model="m", labels=["Ref"], key_property="uid")
        res = subprocess.run([sys.executable, "-m", "topo_graphdb", "write", "--from", str(nodes_csv), "--label", "Ref",
                              "--key-property", "uid"], env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 6, res.stderr
        from topo_graphdb.connector import GraphSpec, export_graph

        with pytest.raises(EmptyGraphError, match="no relationships"):  # between Ref nodes only predicted links
            export_graph(conn, GraphSpec(labels="Ref", key_property="uid"))
    finally:
        driver.close()
        server.stop(data_dir=data_dir)


# --------------------------------------------------------------------------- write --from: names and matches
def test_cli_write_unknown_label_or_key_property_is_exit_3(cli, graph, tmp_path):
    label, _ = graph
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("node,score\n0,0.5\n1,0.25\n2,1.0\n3,2.0\n")
    cases = [
        (["--label", f"{label}_absent", "--key-property", "uid"], "unknown label(s)"),
        (["--label", label, "--key-property", "no_such_key"], "unknown property key(s)"),
    ]
    for args, text in cases:
        for dry in ([], ["--dry-run"]):
            res = cli("write", "--from", nodes, *args, *dry)
            assert res.exit_code == 3, res.stderr
            errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
            assert len(errors) == 1 and text in errors[0], res.stderr


def test_cli_write_that_matches_no_node_is_exit_3(cli, neo4j_driver, neo4j_conn, graph, tmp_path):
    label, _ = graph
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("node,score\n100,0.5\n101,0.25\n")
    for dry in (["--dry-run"], []):
        res = cli("write", "--from", nodes, "--label", label, "--key-property", "uid", *dry)
        assert res.exit_code == 3, res.stderr
        errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]  # after the progress lines
        assert len(errors) == 1 and "none of the 2 ids" in errors[0] and "e.g. 100, 101" in errors[0], res.stderr
    links = tmp_path / "links.csv"
    links.write_text("src,dst,score\n100,0,0.5\n")
    res = cli("write", "--links", links, "--model", "m", "--label", label, "--key-property", "uid")
    assert res.exit_code == 3 and "none of the 1 source ids" in res.stderr, res.stderr
    assert all(set(p) == {"uid"} for p in node_props(neo4j_driver, neo4j_conn, label).values())
    # a key column mixing integers and text never reaches the server
    nodes.write_text("node,score\n0,0.5\nzero,0.25\n")
    res = cli("write", "--from", nodes, "--label", label, "--key-property", "uid")
    assert res.exit_code == 3 and "mix integers and text" in res.stderr, res.stderr
