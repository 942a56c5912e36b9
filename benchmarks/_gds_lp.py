"""Neo4j GDS link-prediction pipeline on a given :class:`EdgeSplit`, for the predictor benchmark.

What a Neo4j user would run instead of our predictors, scored on our test pairs:

1. the nodes (property ``idx`` = dense index, optionally the features as ``x``) and the
   *training* edges go into the database under a label and a relationship type unique to the
   run, and are projected UNDIRECTED (``gds.graph.project``);
2. a pipeline (``gds.beta.pipeline.linkPrediction.*``): FastRP embeddings (``mutateProperty``,
   fixed ``randomSeed``), Hadamard link features, candidates logistic regression, random forest
   and MLP, auto-tuning over their ranges; GDS splits the given relationships itself into
   feature-input / train / test sets and selects the candidate by cross-validated AUCPR;
3. ``gds.beta.pipeline.linkPrediction.predict.stream`` (exhaustive: ``sampleRate`` 1,
   ``threshold`` 0) scores our test pairs. GDS has no "score these pairs" call, and an
   exhaustive call with ``topN`` = all ~3.7M Cora pairs runs for hours (its top-N queue is a
   sorted array: each insertion moves O(N) entries). So the test pairs are packed by
   :func:`pair_batches` into a few disjoint node sets ``(S, T)`` with ``|S| |T| <= 10 000``,
   written as extra labels, and each batch is one call with ``sourceNodeLabel`` S and
   ``targetNodeLabel`` T, ``topN`` = ``|S| |T|`` (every pair of the batch comes back). The
   FastRP step carries ``contextNodeLabels`` = all nodes, so the embeddings are those of the
   whole training graph whatever the filter; each run checks this for one node against a call
   with that node as source and every node as target. A test pair missing from the answers is
   an error;
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
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

#: node pairs per prediction call: GDS keeps its top-N in a sorted array (insertion O(N))
BATCH_PAIRS = 10_000

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
                port=self.port or server.free_port(),
                heap=self.heap,
                pagecache="256m",
                auth=True,
                timeout=600,
                progress=_say,
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


def pair_batches(pairs: np.ndarray, *, max_pairs: int = 10_000) -> list[tuple[list[int], list[int]]]:
    """Split pairs ``(2, m)`` into batches of disjoint node sets ``(S, T)`` that cover them.

    Every pair ``{a, b}`` ends up in some batch with one end in ``S`` and the other in ``T``,
    ``S ∩ T = ∅`` and ``|S| |T| <= max_pairs`` (unless one node alone needs more); GDS's
    exhaustive prediction between ``S`` and ``T`` then scores exactly the pairs of ``S × T``.

    >>> pair_batches(np.array([[0, 0, 1], [1, 2, 2]]), max_pairs=4)
    [([0], [1, 2]), ([1], [2])]
    """
    pending = sorted({(min(a, b), max(a, b)) for a, b in np.asarray(pairs).reshape(2, -1).T.tolist()})
    batches = []
    while pending:
        s_set: set[int] = set()
        t_set: set[int] = set()
        later = []
        for a, b in pending:
            placed = False
            for u, v in ((a, b), (b, a)):
                if u in t_set or v in s_set:
                    continue
                grow = (len(s_set) + (u not in s_set)) * (len(t_set) + (v not in t_set))
                if grow <= max_pairs or not (s_set or t_set):
                    s_set.add(u)
                    t_set.add(v)
                    placed = True
                    break
            if not placed:
                later.append((a, b))
        batches.append((sorted(s_set), sorted(t_set)))
        pending = later
    return batches


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
        A test pair is missing from GDS's answers, or the scores depend on the label filter.
    """
    from topo_graphdb._cypher import quote_identifier
    from topo_graphdb.model.metrics import edge_metrics

    n = int(split.num_nodes)
    train = np.asarray(split.train_pos, dtype=np.int64)
    test = np.concatenate([split.test_pos, split.test_neg], axis=1).astype(np.int64)
    batches = pair_batches(test, max_pairs=BATCH_PAIRS)
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
        for b, (src, dst) in enumerate(batches):
            for ends, part in ((src, "S"), (dst, "T")):
                lab = quote_identifier(f"{tag}_{part}{b}", what="label")
                run(f"UNWIND $e AS e MATCH (v) WHERE elementId(v) = e SET v:{lab}", e=[element_ids[i] for i in ends])
        props = ["idx", "x"] if use_x else ["idx"]
        labels = [tag] + [f"{tag}_{part}{b}" for b in range(len(batches)) for part in "ST"]
        run(
            "CALL gds.graph.project($g, $nodes, $rels) YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount",
            g=names["graph"],
            nodes={lab: {"properties": props} for lab in labels},
            rels={f"{tag}_TRAIN": {"orientation": "UNDIRECTED"}},
        )
        load_s = time.perf_counter() - t0
        _say(f"loaded {n} nodes, {train.shape[1]} training edges in {load_s:.1f}s")

        pipe = names["pipeline"]
        run("CALL gds.beta.pipeline.linkPrediction.create($p) YIELD name RETURN name", p=pipe)
        # contextNodeLabels: FastRP over every node also when prediction filters sources/targets
        fastrp = {**FASTRP, "mutateProperty": "emb", "randomSeed": seed, "contextNodeLabels": [tag]}
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
            c={"pipeline": pipe, "modelName": names["model"], "targetRelationshipType": f"{tag}_TRAIN", "sourceNodeLabel": tag, "targetNodeLabel": tag, "metrics": ["AUCPR"], "randomSeed": seed},
        )[0]
        train_s = time.perf_counter() - t0
        train_ms = int(rec["trainMillis"])
        info = dict(rec["modelInfo"])
        best = dict(info.get("bestParameters", {}))
        winner = best.get("methodName", "?")
        gds_metrics = {k: dict(v) for k, v in dict(info.get("metrics", {})).items()}
        _say(f"trained in {train_s:.1f}s: {winner}, AUCPR {gds_metrics.get('AUCPR')}")

        _say(f"scoring {test.shape[1]} test pairs in {len(batches)} batches ...")

        def predict(source: str, target: str, top: int) -> dict[tuple[int, int], float]:
            rows = run(
                "CALL gds.beta.pipeline.linkPrediction.predict.stream($g, {modelName: $m, topN: $top, threshold: 0.0, sampleRate: 1.0,"
                " sourceNodeLabel: $s, targetNodeLabel: $t}) YIELD node1, node2, probability"
                " RETURN gds.util.asNode(node1).idx AS a, gds.util.asNode(node2).idx AS b, probability",
                g=names["graph"], m=names["model"], top=top, s=source, t=target,
            )  # fmt: skip
            out = {}
            for r in rows:
                a, c = int(r["a"]), int(r["b"])
                out[(min(a, c), max(a, c))] = float(r["probability"])
            return out

        got: dict[tuple[int, int], float] = {}
        streamed = 0
        t0 = time.perf_counter()
        for b, (src, dst) in enumerate(batches):
            part = predict(f"{tag}_S{b}", f"{tag}_T{b}", len(src) * len(dst))
            streamed += len(part)
            got.update(part)
        predict_s = time.perf_counter() - t0
        keys = list(zip(np.minimum(test[0], test[1]).tolist(), np.maximum(test[0], test[1]).tolist()))
        missing = [k for k in keys if k not in got]
        if missing:
            raise RuntimeError(f"{len(missing)} of {len(keys)} test pairs missing from GDS's predictions, e.g. {missing[0]}")
        scores = np.array([got[k] for k in keys])
        # check: one source against all nodes (no label filter on the FastRP graph) gives the same scores
        u = batches[0][0][0]
        run("CALL gds.graph.nodeLabel.mutate($g, $l, {nodeFilter: $f}) YIELD nodeLabelsWritten RETURN nodeLabelsWritten", g=names["graph"], l=f"{tag}_C", f=f"n.idx = {int(u)}")
        ref = predict(f"{tag}_C", tag, n)
        shared = [k for k in got if u in k]
        gap = max((abs(ref[k] - got[k]) for k in shared), default=float("nan"))
        if not shared or len(shared) > sum(k in ref for k in shared) or gap > 1e-9:
            raise RuntimeError(f"GDS's scores of node {u}'s pairs depend on the label filter (max difference {gap}, {len(shared)} pairs)")
        npos = split.test_pos.shape[1]
        metrics = edge_metrics(scores[:npos], scores[npos:])
        _say(f"predicted {streamed:,} pairs in {predict_s:.1f}s")
        return {
            "test": metrics,
            "winner": SHORT.get(winner, winner),
            "best_parameters": best,
            "gds_metrics": gds_metrics,
            "train_seconds": train_s,
            "train_millis": train_ms,
            "load_seconds": load_s,
            "predict_seconds": predict_s,
            "pairs_scored": streamed,
            "batches": len(batches),
            "filter_check": {"node": int(u), "pairs": len(shared), "max_abs_difference": gap},
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
