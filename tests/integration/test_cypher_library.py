"""Every file of the user-facing Cypher library (cypher/*.cypher), run against the real server after
a sync (a full run, new relationships, an incremental run with a drift entry), with its results
checked against values computed here: the naive TC oracle on edges read back with plain Cypher,
and plain queries over the written properties.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_sync import REL, SPLIT_YEAR, graph, load_reptile, rows, write_config

from topo_graphdb._cypher import quote_identifier
from topo_graphdb.kernels.oracle import naive_tc

LIBRARY = Path(__file__).resolve().parents[2] / "cypher"
CHECKED = {
    "schema", "graph_summary", "lowest_tc", "predicted_links", "tc_distribution_by_label", "high_degree_low_tc",
    "top_predicted_links", "runs", "drift_history", "remove_all", "trusted_links", "unreliable_nodes",
}  # fmt: skip


def run_file(driver: Any, conn: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    text = (LIBRARY / f"{name}.cypher").read_text()
    with driver.session(database=conn.database) as s:
        return [r.data() for r in s.run(text, **params)]


def parameters(name: str) -> set[str]:
    body = "\n".join(line for line in (LIBRARY / f"{name}.cypher").read_text().splitlines() if not line.lstrip().startswith("//"))
    return set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", body))


def test_every_library_file_is_checked_and_documented():
    names = {p.stem for p in LIBRARY.glob("*.cypher")}
    assert names == CHECKED  # a new file needs a check below
    for name in names:
        text = (LIBRARY / f"{name}.cypher").read_text()
        header = [line for line in text.splitlines() if line.startswith("//")]
        assert header and len(header[0]) > 20, f"{name}: the first line must say what the query is for"
        for param in parameters(name):
            assert f"${param}" in "\n".join(header), f"{name}: parameter ${param} is not documented in the header"
        assert "'Paper'" not in text.split("\n", len(header))[-1], f"{name}: labels must be parameters"


@pytest.fixture(scope="module")
def synced(neo4j_conn, neo4j_driver, tmp_path_factory):
    """A label with a full and an incremental sync (module-scoped: the syncs are the slow part)."""
    label = f"T_{uuid.uuid4().hex[:12]}"
    tmp = tmp_path_factory.mktemp("library")
    load_reptile(neo4j_conn, label, tmp, until=SPLIT_YEAR)
    cfg = write_config(tmp, label)
    env = {"NEO4J_URI": neo4j_conn.uri, "NEO4J_USER": neo4j_conn.user, "NEO4J_DATABASE": neo4j_conn.database}
    if neo4j_conn.password is not None:
        env["NEO4J_PASSWORD"] = neo4j_conn.password
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "TOPO_SYNC_"))}, **env}

    def sync(*args: str) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "topo_graphdb", "sync", "--config", str(cfg), "--json", "-q", *args],
                              env=full_env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    first = sync()
    load_reptile(neo4j_conn, label, tmp, after=SPLIT_YEAR)
    second = sync("--since", "last")
    ids, edges, times = graph(neo4j_driver, neo4j_conn, label)
    yield {"label": label, "first": first, "second": second, "ids": ids, "edges": edges, "times": times}
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        s.run(f"MATCH (n:{quote_identifier(label)}) DETACH DELETE n").consume()


def tc_by_id(synced: dict[str, Any]) -> dict[int, float]:
    ids, edges = synced["ids"], synced["edges"]
    tc = naive_tc(edges, hops=2, beta=synced["first"]["beta"], num_nodes=ids.size)
    return {int(i): float(v) for i, v in zip(ids, tc)}


def test_schema(neo4j_conn, neo4j_driver, synced):
    statements = [s.strip() for s in re.sub(r"//[^\n]*", "", (LIBRARY / "schema.cypher").read_text()).split(";") if s.strip()]
    assert len(statements) >= 5
    with neo4j_driver.session(database=neo4j_conn.database) as s:
        for st in statements:
            s.run(st).consume()
            s.run(st).consume()  # idempotent
    constraints = {r["name"] for r in rows(neo4j_driver, neo4j_conn, "SHOW CONSTRAINTS YIELD name RETURN name")}
    indexes = {r["name"]: r for r in rows(neo4j_driver, neo4j_conn, "SHOW INDEXES YIELD name, labelsOrTypes, properties RETURN *")}
    assert {"topo_run_id", "topo_lock_scope"} <= constraints
    assert indexes["topo_PREDICTED_LINK_run_id"]["labelsOrTypes"] == ["PREDICTED_LINK"]
    assert indexes["topo_run_scope"]["properties"] == ["scope", "started_at"]
    # sync itself indexed the TC property of the label it analysed
    label = synced["label"]
    assert any(r["labelsOrTypes"] == [label] and r["properties"] == ["topo_tc"] for r in indexes.values())


def test_graph_summary(neo4j_conn, neo4j_driver, synced):
    [row] = run_file(neo4j_driver, neo4j_conn, "graph_summary", label=synced["label"], rel_type=REL)
    assert row["nodes"] == synced["ids"].size == 787


def test_lowest_tc(neo4j_conn, neo4j_driver, synced):
    expected = {k: v for k, v in tc_by_id(synced).items() if not np.isnan(v)}
    got = run_file(neo4j_driver, neo4j_conn, "lowest_tc", label=synced["label"], key_property="id", limit=15)
    assert len(got) == 15
    assert [r["tc"] for r in got] == sorted(r["tc"] for r in got)
    assert got[-1]["tc"] <= sorted(expected.values())[15] + 1e-12  # nothing lower was left out
    for r in got:
        assert r["tc"] == pytest.approx(expected[r["node"]], rel=1e-12)
        assert r["hops"] == 2 and r["degree"] >= 2
    # without a key property the node is its elementId
    [one] = run_file(neo4j_driver, neo4j_conn, "lowest_tc", label=synced["label"], key_property=None, limit=1)
    assert isinstance(one["node"], str) and ":" in one["node"]


def test_predicted_links(neo4j_conn, neo4j_driver, synced):
    ids, edges = synced["ids"], synced["edges"]
    deg = np.bincount(edges.reshape(-1), minlength=ids.size)
    node = int(ids[int(np.argmax(deg))])
    got = run_file(neo4j_driver, neo4j_conn, "predicted_links", node=node, key_property="id", label=synced["label"])
    assert 1 <= len(got) <= 5
    assert [r["rank"] for r in got] == list(range(1, len(got) + 1))
    assert all(got[i]["score"] >= got[i + 1]["score"] for i in range(len(got) - 1))
    neighbours = {int(ids[b]) for a, b in edges.T if ids[a] == node} | {int(ids[a]) for a, b in edges.T if ids[b] == node}
    assert not {r["predicted"] for r in got} & (neighbours | {node})
    q = quote_identifier(synced["label"])
    [stored] = rows(neo4j_driver, neo4j_conn, f"MATCH (n:{q} {{id: $id}}) RETURN n.topo_predicted AS p", id=node)
    assert [r["predicted"] for r in got] == stored["p"]
    assert run_file(neo4j_driver, neo4j_conn, "predicted_links", node=-1, key_property="id", label=synced["label"]) == []


def test_tc_distribution_by_label(neo4j_conn, neo4j_driver, synced):
    values = np.array([v for v in tc_by_id(synced).values() if not np.isnan(v)])
    got = {r["label"]: r for r in run_file(neo4j_driver, neo4j_conn, "tc_distribution_by_label", low=0.2)}
    r = got[synced["label"]]
    assert r["nodes"] == synced["ids"].size and r["scored"] == values.size
    assert r["mean_tc"] == pytest.approx(values.mean(), rel=1e-9)
    assert r["median_tc"] == pytest.approx(np.median(values), rel=1e-9)
    assert r["min_tc"] == pytest.approx(values.min()) and r["max_tc"] == pytest.approx(values.max())
    assert r["share_below_low"] == pytest.approx((values < 0.2).mean())


def test_high_degree_low_tc(neo4j_conn, neo4j_driver, synced):
    ids, edges = synced["ids"], synced["edges"]
    deg = dict(zip(ids.tolist(), np.bincount(edges.reshape(-1), minlength=ids.size).tolist()))
    tc = tc_by_id(synced)
    expected = {i for i in deg if deg[i] >= 5 and not np.isnan(tc[i]) and tc[i] <= 0.3}
    assert expected  # the check below would be empty otherwise
    got = run_file(neo4j_driver, neo4j_conn, "high_degree_low_tc", label=synced["label"], key_property="id",
                   min_degree=5, max_tc=0.3, limit=1000)
    assert {r["node"] for r in got} == expected
    assert all(r["degree"] == deg[r["node"]] for r in got)
    assert [r["degree"] for r in got] == sorted((r["degree"] for r in got), reverse=True)


def test_top_predicted_links(neo4j_conn, neo4j_driver, synced):
    got = run_file(neo4j_driver, neo4j_conn, "top_predicted_links", label=synced["label"], key_property="id",
                   min_expected_precision=0.0, limit=20)
    assert len(got) == 20
    assert all(got[i]["probability"] >= got[i + 1]["probability"] for i in range(len(got) - 1))
    q = quote_identifier(synced["label"])
    [best] = rows(neo4j_driver, neo4j_conn, f"MATCH (:{q})-[l:PREDICTED_LINK]->() RETURN max(l.probability) AS p")
    assert got[0]["probability"] == best["p"]
    floor = sorted(r["source_expected_precision"] for r in got)[len(got) // 2]
    high = run_file(neo4j_driver, neo4j_conn, "top_predicted_links", label=synced["label"], key_property="id",
                    min_expected_precision=floor, limit=1000)
    assert high and all(r["source_expected_precision"] >= floor for r in high)
    strict = run_file(neo4j_driver, neo4j_conn, "top_predicted_links", label=synced["label"], key_property="id",
                      min_expected_precision=1.01, limit=20)
    assert strict == []  # an expected precision is never above 1


def test_trusted_links(neo4j_conn, neo4j_driver, synced):
    q = quote_identifier(synced["label"])
    everything = rows(neo4j_driver, neo4j_conn, f"MATCH (a:{q})-[l:PREDICTED_LINK]->(b) RETURN a.id AS a, b.id AS b, l.probability AS p")
    threshold = float(np.median([r["p"] for r in everything]))
    got = run_file(neo4j_driver, neo4j_conn, "trusted_links", label=synced["label"], key_property="id",
                   min_probability=threshold, limit=100_000)
    assert {(r["source"], r["target"]) for r in got} == {(r["a"], r["b"]) for r in everything if r["p"] >= threshold}
    assert [r["probability"] for r in got] == sorted((r["probability"] for r in got), reverse=True)
    assert all(r["pair_tc"] is not None and r["source_expected_precision"] is not None for r in got)
    assert run_file(neo4j_driver, neo4j_conn, "trusted_links", label=synced["label"], key_property="id",
                    min_probability=1.01, limit=10) == []


def test_unreliable_nodes(neo4j_conn, neo4j_driver, synced):
    q = quote_identifier(synced["label"])
    values = {r["id"]: r["ep"] for r in rows(neo4j_driver, neo4j_conn,
              f"MATCH (n:{q}) WHERE n.topo_expected_precision IS NOT NULL RETURN n.id AS id, n.topo_expected_precision AS ep")}
    got = run_file(neo4j_driver, neo4j_conn, "unreliable_nodes", label=synced["label"], key_property="id", limit=15)
    assert len(got) == 15
    assert [r["expected_precision"] for r in got] == sorted(r["expected_precision"] for r in got)
    assert got[-1]["expected_precision"] <= sorted(values.values())[15]  # nothing lower was left out
    assert all(values[r["node"]] == r["expected_precision"] and r["degree"] >= 1 for r in got)


def test_runs_and_drift_history(neo4j_conn, neo4j_driver, synced):
    got = run_file(neo4j_driver, neo4j_conn, "runs", status=None, limit=1000)
    by_id = {r["run_id"]: r for r in got}
    first, second = synced["first"], synced["second"]
    assert by_id[first["run_id"]]["mode"] == "full" and by_id[second["run_id"]]["mode"] == "incremental"
    assert by_id[second["run_id"]]["rescored"] == second["rescored"] < 787
    assert all(r["status"] == "succeeded" for r in run_file(neo4j_driver, neo4j_conn, "runs", status="succeeded", limit=50))
    drift = {r["run_id"]: r for r in run_file(neo4j_driver, neo4j_conn, "drift_history", limit=1000)}
    entry = drift[second["run_id"]]
    new_edges = int((synced["times"] > SPLIT_YEAR).sum())
    assert entry["new_edges"] == new_edges and entry["since_run"] == first["run_id"]
    assert entry["ratio"] == pytest.approx(entry["mean_tc_new"] / entry["mean_tc_train"])
    assert first["run_id"] not in drift  # the first run had nothing to compare with


def test_remove_all_for_one_label(neo4j_conn, neo4j_driver, synced, unique_label):
    # another label's output must survive a label-scoped removal
    rows(neo4j_driver, neo4j_conn, f"CREATE (:{quote_identifier(unique_label)} {{topo_tc: 0.5, keep: 1}})")
    label = quote_identifier(synced["label"])
    [res] = run_file(neo4j_driver, neo4j_conn, "remove_all", label=synced["label"])
    assert res["nodes_cleared"] == 787 and res["links_deleted"] > 0 and res["ledger_nodes_deleted"] == 0
    left = rows(neo4j_driver, neo4j_conn, f"MATCH (n:{label}) UNWIND keys(n) AS k WITH k WHERE k STARTS WITH 'topo_' RETURN count(*) AS c")
    assert left[0]["c"] == 0
    assert rows(neo4j_driver, neo4j_conn, f"MATCH (:{label})-[l:PREDICTED_LINK]-() RETURN count(l) AS c")[0]["c"] == 0
    assert rows(neo4j_driver, neo4j_conn, f"MATCH (n:{label}) RETURN count(n.id) AS c")[0]["c"] == 787  # user data stays
    other = rows(neo4j_driver, neo4j_conn, f"MATCH (n:{quote_identifier(unique_label)}) RETURN n.topo_tc AS t, n.keep AS k")
    assert other == [{"t": 0.5, "k": 1}]
