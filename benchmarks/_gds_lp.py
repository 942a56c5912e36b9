"""Neo4j GDS link-prediction pipeline on a given :class:`EdgeSplit`, for the predictor benchmark.

What a Neo4j user would run instead of our predictors, scored on our test pairs:

1. the nodes (property ``idx`` = dense index, optionally the features as ``x``) and the
   *training* edges go into the database under a label and a relationship type unique to the
   run, and are projected UNDIRECTED (``gds.graph.project``);
2. a pipeline (``gds.beta.pipeline.linkPrediction.*``): FastRP embeddings (``mutateProperty``,
   fixed ``randomSeed``), Hadamard link features, candidates logistic regression, random forest
   and MLP, auto-tuning over their ranges; GDS splits the given relationships itself into
   feature-input / train / test sets and selects the candidate by cross-validated AUCPR;
3. ``gds.beta.pipeline.linkPrediction.predict.stream`` in exhaustive mode (``sampleRate`` 1,
   ``threshold`` 0, ``topN`` = every non-adjacent pair) scores all pairs that are not training
   edges; the server keeps only the rows of our test positives and negatives, and a pair that is
   missing is an error;
4. the scores go through the same metric functions as ours
   (:func:`topo_graphdb.model.metrics.edge_metrics`).

Everything created (graph projection, pipeline, model, nodes) is removed at the end, also on
failure. Validation edges are not loaded: like our predictors' message passing and training,
GDS sees the training edges only (GDS holds out part of them for its own model selection,
where ours use the validation edges for early stopping).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

#: exhaustive prediction scores every non-adjacent pair; refuse graphs beyond this
MAX_PAIRS = 50_000_000

#: FastRP and candidate settings (documented in the row's ``settings``)
FASTRP = {"embeddingDimension": 256, "iterationWeights": [0.0, 1.0, 1.0, 1.0], "normalizationStrength": 0.0}
SPLIT = {"testFraction": 0.1, "trainFraction": 0.3, "validationFolds": 3, "negativeSamplingRatio": 1.0}
MAX_TRIALS = 12
CANDIDATES = {
    "LogisticRegression": ("gds.beta.pipeline.linkPrediction.addLogisticRegression", {"penalty": {"range": [1e-4, 1.0]}, "maxEpochs": 500}),
    "RandomForest": ("gds.beta.pipeline.linkPrediction.addRandomForest", {"numberOfDecisionTrees": {"range": [20, 100]}, "maxDepth": {"range": [5, 30]}}),
    "MultilayerPerceptron": ("gds.alpha.pipeline.linkPrediction.addMLP", {"hiddenLayerSizes": [64, 16], "penalty": {"range": [1e-4, 0.1]}, "maxEpochs": 500}),
}
SHORT = {"LogisticRegression": "lr", "RandomForest": "rf", "MultilayerPerceptron": "mlp"}
BATCH = 20_000


class GdsServer:
    """A GDS-capable Neo4j: the one given by URI (``--gds-uri``/``NEO4J_URI``) or a local one.

    Without a URI, :meth:`connect` starts the project's local server (free port and a temporary
    data dir unless given) the first time it is called; :meth:`close` stops it again (and
    removes the temporary data dir) when it was started here.
    """

    def __init__(self, *, uri: str | None = None, password: str | None = None, port: int | None = None, data_dir: Path | None = None, heap: str = "4g"):
        self.uri, self.password, self.port, self.data_dir, self.heap = uri, password, port, data_dir, heap
        self.driver: Any = None
        self.settings: Any = None
        self.version: str | None = None
        self.error: str | None = None
        self._started_dir: Path | None = None
        self._temp_dir: Path | None = None

    def connect(self) -> bool:
        """Open the driver and check ``gds.version()``; False (with :attr:`error`) when that fails."""
        if self.driver is not None or self.error is not None:
            return self.driver is not None
        try:
            self._connect()
            records, _, _ = self.driver.execute_query("RETURN gds.version() AS v", database_=self.settings.database)
            self.version = records[0]["v"]
        except Exception as err:  # noqa: BLE001  (any failure skips the row, with its reason)
            self.error = " ".join(str(err).split())[:300] or type(err).__name__
            self.close()
            return False
        return True

    def _connect(self) -> None:
        from topo_graphdb.connection import open_driver, settings_from

        if self.uri or os.environ.get("NEO4J_URI"):
            self.settings = settings_from(uri=self.uri, password=self.password)
        else:
            from topo_graphdb import server

            if self.data_dir is None:
                self._temp_dir = Path(tempfile.mkdtemp(prefix="topo-gds-lp-"))
            data_dir = self.data_dir or self._temp_dir
            started = server.start(
                data_dir=data_dir,
                port=self.port or _free_port(),
                heap=self.heap,
                pagecache="256m",
                auth=True,
                timeout=600,
                progress=lambda msg: print(f"  gds: {msg}", file=sys.stderr, flush=True),
            )
            if not started.get("already_running"):
                self._started_dir = data_dir
            local = server.local_connection(data_dir)
            self.settings = settings_from(uri=local.uri, user=local.user, password=local.password)
        self.driver = open_driver(self.settings)

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        if self._started_dir is not None:
            from topo_graphdb import server

            server.stop(data_dir=self._started_dir)
            self._started_dir = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(msg: str) -> None:
    print(f"  gds: {msg}", file=sys.stderr, flush=True)


def run_pipeline(gds: GdsServer, split, *, seed: int, features: bool = True, max_trials: int = MAX_TRIALS) -> dict:
    """Train GDS's link-prediction pipeline on ``split.train_pos`` and score the test pairs.

    Returns
    -------
    dict
        ``test`` (our edge metrics of GDS's probabilities), ``winner`` (short model name),
        ``best_parameters``, ``gds_metrics`` (GDS's own AUCPR: train/validation/outer-train/
        test of its internal split), ``train_seconds`` (wall time of the train call),
        ``train_millis`` (GDS's), ``load_seconds`` (writing + projecting), ``predict_seconds``,
        ``pairs_scored`` and ``settings``.

    Raises
    ------
    RuntimeError
        A test pair is missing from the exhaustive stream, or the graph is too large for it.
    """
    from topo_graphdb._cypher import quote_identifier
    from topo_graphdb.model.metrics import edge_metrics

    n = int(split.num_nodes)
    train = np.asarray(split.train_pos, dtype=np.int64)
    candidates_pairs = n * (n - 1) // 2 - train.shape[1]
    if candidates_pairs > MAX_PAIRS:
        raise RuntimeError(f"exhaustive prediction over {candidates_pairs:,} pairs is beyond {MAX_PAIRS:,}")
    use_x = features and split.x is not None
    tag = f"TopoLpBench_{uuid.uuid4().hex[:12]}"
    label, rtype = quote_identifier(tag, what="label"), quote_identifier(f"{tag}_TRAIN", what="relationship type")
    names = {"graph": tag, "pipeline": f"{tag}_pipe", "model": f"{tag}_model"}
    db = gds.settings.database
    driver = gds.driver

    def run(query: str, **params: Any) -> list:
        records, _, _ = driver.execute_query(query, parameters_=params, database_=db)
        return records

    try:
        t0 = time.perf_counter()
        x = split.x.tocsr().astype(np.float64) if use_x else None
        element_ids: list[str] = []
        for s in range(0, n, 2_000 if use_x else BATCH):
            idx = list(range(s, min(n, s + (2_000 if use_x else BATCH))))
            rows = [{"i": i, "x": x[i].toarray().ravel().tolist()} for i in idx] if use_x else [{"i": i} for i in idx]
            recs = run(f"UNWIND $rows AS r CREATE (v:{label} {{idx: r.i}}) SET v.x = r.x RETURN elementId(v) AS e ORDER BY r.i", rows=rows)
            element_ids.extend(r["e"] for r in recs)
        for s in range(0, train.shape[1], BATCH):
            chunk = [[element_ids[a], element_ids[b]] for a, b in train[:, s : s + BATCH].T.tolist()]
            run(f"UNWIND $pairs AS p MATCH (a) WHERE elementId(a) = p[0] MATCH (b) WHERE elementId(b) = p[1] CREATE (a)-[:{rtype}]->(b)", pairs=chunk)
        props = ["idx", "x"] if use_x else ["idx"]
        run(
            "CALL gds.graph.project($g, $nodes, $rels) YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount",
            g=names["graph"],
            nodes={tag: {"properties": props}},
            rels={f"{tag}_TRAIN": {"orientation": "UNDIRECTED"}},
        )
        load_s = time.perf_counter() - t0
        _say(f"loaded {n} nodes, {train.shape[1]} training edges in {load_s:.1f}s")

        pipe = names["pipeline"]
        run("CALL gds.beta.pipeline.linkPrediction.create($p) YIELD name RETURN name", p=pipe)
        fastrp = {**FASTRP, "mutateProperty": "emb", "randomSeed": seed}
        if use_x:
            fastrp.update(featureProperties=["x"], propertyRatio=0.5)
        run("CALL gds.beta.pipeline.linkPrediction.addNodeProperty($p, 'fastRP', $c) YIELD name RETURN name", p=pipe, c=fastrp)
        run("CALL gds.beta.pipeline.linkPrediction.addFeature($p, 'hadamard', {nodeProperties: ['emb']}) YIELD name RETURN name", p=pipe)
        run("CALL gds.beta.pipeline.linkPrediction.configureSplit($p, $c) YIELD name RETURN name", p=pipe, c=SPLIT)
        available = {r["name"] for r in run("CALL gds.list() YIELD name WHERE name STARTS WITH 'gds.' RETURN name")}
        used = []
        for name, (proc, config) in CANDIDATES.items():
            if proc in available:
                run(f"CALL {proc}($p, $c) YIELD name RETURN name", p=pipe, c=config)
                used.append(name)
        run("CALL gds.alpha.pipeline.linkPrediction.configureAutoTuning($p, {maxTrials: $m}) YIELD name RETURN name", p=pipe, m=int(max_trials))

        _say(f"training ({', '.join(used)}; {max_trials} trials) ...")
        t0 = time.perf_counter()
        rec = run(
            "CALL gds.beta.pipeline.linkPrediction.train($g, $c) YIELD modelInfo, trainMillis RETURN modelInfo, trainMillis",
            g=names["graph"],
            c={"pipeline": pipe, "modelName": names["model"], "targetRelationshipType": f"{tag}_TRAIN", "metrics": ["AUCPR"], "randomSeed": seed},
        )[0]
        train_s = time.perf_counter() - t0
        train_ms = int(rec["trainMillis"])
        info = dict(rec["modelInfo"])
        best = dict(info.get("bestParameters", {}))
        winner = best.get("methodName", "?")
        gds_metrics = {k: dict(v) for k, v in dict(info.get("metrics", {})).items()}
        _say(f"trained in {train_s:.1f}s: {winner}, AUCPR {gds_metrics.get('AUCPR')}")

        # internal (legacy) node ids: what predict.stream yields
        id_of = np.full(n, -1, dtype=np.int64)
        for r in run(f"MATCH (v:{label}) RETURN id(v) AS id, v.idx AS i"):
            id_of[r["i"]] = r["id"]
        test = np.concatenate([split.test_pos, split.test_neg], axis=1).astype(np.int64)
        keys = [f"{min(a, b)},{max(a, b)}" for a, b in zip(id_of[test[0]].tolist(), id_of[test[1]].tolist())]
        wanted = dict.fromkeys(keys, True)
        _say(f"exhaustive prediction over {candidates_pairs:,} pairs ...")
        t0 = time.perf_counter()
        rec = run(
            "CALL gds.beta.pipeline.linkPrediction.predict.stream($g, {modelName: $m, topN: $top, threshold: 0.0, sampleRate: 1.0})"
            " YIELD node1, node2, probability"
            " WITH CASE WHEN node1 < node2 THEN toString(node1) + ',' + toString(node2) ELSE toString(node2) + ',' + toString(node1) END AS key, probability"
            " RETURN count(*) AS streamed, collect(CASE WHEN $wanted[key] IS NOT NULL THEN [key, probability] END) AS hits",
            g=names["graph"],
            m=names["model"],
            top=int(candidates_pairs),
            wanted=wanted,
        )[0]
        predict_s = time.perf_counter() - t0
        got = {k: float(p) for k, p in rec["hits"]}
        missing = [k for k in keys if k not in got]
        if missing:
            raise RuntimeError(f"{len(missing)} of {len(keys)} test pairs missing from GDS's exhaustive prediction (streamed {rec['streamed']:,} pairs)")
        scores = np.array([got[k] for k in keys])
        npos = split.test_pos.shape[1]
        metrics = edge_metrics(scores[:npos], scores[npos:])
        _say(f"predicted {rec['streamed']:,} pairs in {predict_s:.1f}s")
        return {
            "test": metrics,
            "winner": SHORT.get(winner, winner),
            "best_parameters": best,
            "gds_metrics": gds_metrics,
            "train_seconds": train_s,
            "train_millis": train_ms,
            "load_seconds": load_s,
            "predict_seconds": predict_s,
            "pairs_scored": int(rec["streamed"]),
            "pairs_expected": int(candidates_pairs),
            "settings": {"fastRP": fastrp, "split": SPLIT, "candidates": {k: CANDIDATES[k][1] for k in used}, "maxTrials": max_trials, "features": use_x},
        }
    finally:
        _cleanup(gds, run, names, label)


def _cleanup(gds: GdsServer, run, names: dict, label: str) -> None:
    for query, param in (
        ("CALL gds.graph.drop($x, false) YIELD graphName RETURN graphName", names["graph"]),
        ("CALL gds.model.drop($x, false) YIELD modelName RETURN modelName", names["model"]),
        ("CALL gds.pipeline.drop($x, false) YIELD pipelineName RETURN pipelineName", names["pipeline"]),
    ):
        try:
            run(query, x=param)
        except Exception as err:  # noqa: BLE001  (clean up the rest regardless)
            _say(f"cleanup: {' '.join(str(err).split())[:200]}")
    try:  # CALL {} IN TRANSACTIONS needs an auto-commit transaction
        with gds.driver.session(database=gds.settings.database) as session:
            session.run(f"MATCH (v:{label}) CALL (v) {{ DETACH DELETE v }} IN TRANSACTIONS OF 10000 ROWS").consume()
    except Exception as err:  # noqa: BLE001
        _say(f"cleanup: {' '.join(str(err).split())[:200]}")
