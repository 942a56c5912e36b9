"""Benchmark the link predictors: edge-level quality over seeds, and the TC report.

For each graph and model, over several seeds: split (random 70/10/20, or by
time for graphs with a ``t`` column), fit, and the test Hits@20/50/100, MRR,
ROC-AUC and AP against as many uniform non-edge negatives as positives (and
the validation Hits@100, for choosing settings such as ``--batch-size``). The
table gives mean ± std over seeds and the training seconds.

For each graph, one full evaluation (``--report-model``, first seed) adds the
per-node report: Spearman/Pearson of per-node Precision@10 with TC^Train and
TC^Test (K = 1..3), ATC, degree and clustering; the mean TC of training vs
test neighbours; and the indicator computable from the current graph (TC
train variants etc.) against degree alone. ``--candidate-recall`` measures
how many exhaustive top-10 links the candidate generation keeps.

Examples::

    python benchmarks/predictor.py --graphs cora --models ncn,gcn,sage,cn,aa,ra --seeds 5 --json out.json
    python benchmarks/predictor.py --graphs citeseer,ca-grqc,collegemsg --models ncn,gcn,ra --seeds 1
    python benchmarks/predictor.py --graphs cora --models gcn+tc --tc-alpha 2 --seeds 3
    python benchmarks/predictor.py --graphs cora,citeseer --models gcn,ncn,ncnc --fractions 85,5,10 --seeds 3 --no-gds --report-model none
    python benchmarks/predictor.py --graphs ogbl-ddi --models gcn --seeds 3 --no-gds --report-model none  # official split and negatives: Hits@20
    python benchmarks/predictor.py --graphs soc-slashdot0902 --models gcn --batching full,sampled --fanout 10 --seeds 1 --no-gds --report-model none

``--fractions 85,5,10``: the random train/validation/test split of the
Planetoid graphs in SEAL (Zhang & Chen, 2018) and HeaRT (Li et al., 2023),
with Hits@100 the headline metric (as many negatives as positives); the NCN
authors' code splits them 70/10/20 (this script's default).

Next to ours, per graph (first seed's split, ``--gds``, on by default): what a
Neo4j user would run instead, GDS's link-prediction pipeline (FastRP embeddings,
with the node features when the graph has them; Hadamard link features;
logistic regression, random forest and MLP candidates with GDS's
auto-tuning) trained on the same training edges, its probabilities of our
test pairs scored by the same metric functions, with its training seconds
(see ``benchmarks/_gds_lp.py``). The server is ``--gds-uri``/``NEO4J_URI``
(``NEO4J_PASSWORD``) or a temporary local one started for the run and
stopped at the end; when GDS cannot be reached the row is skipped with
its reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import data_dir_help, default_data_dir, parse_seeds, portable_words

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

BUNDLED = ROOT / "topo_graphdb" / "datasets"


def load_split(graph: str, data_dir: Path | None, seed: int, fractions: tuple[float, float, float] | None = None):
    """Read ``<graph>/edges.csv`` (+ ``features.npz``) and split it (randomly by
    ``fractions`` (train, valid, test) when given, else by time or 70/10/20)."""
    import scipy.sparse as sp

    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.model.splits import random_split, temporal_split

    base = None
    for root in ([data_dir] if data_dir else []) + [BUNDLED]:
        if (root / graph / "edges.csv").is_file():
            base = root / graph
            break
    if base is None:
        raise SystemExit(f"graph {graph!r} not found under {data_dir} or {BUNDLED}")
    header = (base / "edges.csv").read_text().split("\n", 1)[0].split(",")
    temporal = "t" in header
    table = read_edge_csv(base / "edges.csv", time_col="t" if temporal else None)
    x = sp.load_npz(base / "features.npz") if (base / "features.npz").is_file() else None
    if x is not None:  # Planetoid ids are row numbers
        n = int(max(x.shape[0], max(table.src.max(), table.dst.max()) + 1))
        edges, node_ids = np.stack([table.src, table.dst]), np.arange(n)
    else:
        node_ids = np.unique(np.r_[table.src, table.dst])
        n = node_ids.size
        edges = np.stack([np.searchsorted(node_ids, table.src), np.searchsorted(node_ids, table.dst)])
    if "split" in header and fractions is None:  # the dataset's own split (0 train, 1 valid, 2 test), e.g. OGB's
        return official_split(base, edges, n, seed=seed, x=x, node_ids=node_ids), "official"
    if temporal and fractions is None:
        return temporal_split(edges, table.time, n, seed=seed, x=x, node_ids=node_ids), "temporal"
    if fractions is None:
        return random_split(edges, n, seed=seed, x=x, node_ids=node_ids), "random"
    _, valid, test = fractions
    split = random_split(edges, n, seed=seed, x=x, node_ids=node_ids, valid_fraction=valid, test_fraction=test)
    return split, "random" + "/".join(f"{round(100 * f)}" for f in fractions)


def official_split(base: Path, edges: np.ndarray, n: int, *, seed: int, x, node_ids: np.ndarray):
    """The split named by the ``split`` column of ``<base>/edges.csv``, with the official negatives of
    ``valid_neg.csv``/``test_neg.csv`` (ids as in ``edges.csv``) when they are there (OGB's protocol)."""
    import pandas as pd

    from topo_graphdb.model.negatives import index_negatives, read_negatives, with_negatives
    from topo_graphdb.model.splits import explicit_split

    part = pd.read_csv(base / "edges.csv", usecols=["split"])["split"].to_numpy()
    split = explicit_split(edges[:, part == 0], edges[:, part == 1], edges[:, part == 2], n, seed=seed, x=x, node_ids=node_ids)
    given = {p: base / f"{p}_neg.csv" for p in ("valid", "test") if (base / f"{p}_neg.csv").is_file()}
    return with_negatives(split, **{p: index_negatives(read_negatives(f), split, p) for p, f in given.items()})


def gds_rows(graph: str, split, seed: int, *, gds=None, kind: str = "random", max_trials: int = 12, features: bool = True, skipped: dict | None = None) -> list[dict]:
    """One row for Neo4j GDS's link-prediction pipeline on ``split`` (empty when GDS is unavailable).

    ``gds`` is a connected-on-demand :class:`_gds_lp.GdsServer`; the row has the
    :func:`run_edges` layout (one seed) plus ``gds``: the winning model, GDS's
    own AUCPR, and the load/train/predict seconds. Why a row is missing goes to
    stderr and into ``skipped[graph]``.
    """
    if gds is None or split is None:
        return []
    from _gds_lp import run_pipeline

    reason = None
    if not gds.connect():
        reason = gds.error
    else:
        try:
            out = run_pipeline(gds, split, seed=seed, max_trials=max_trials, features=features)
        except Exception as err:  # noqa: BLE001  (the benchmark goes on without this row)
            reason = " ".join(str(err).split())[:300] or type(err).__name__
    if reason is not None:
        print(f"GDS row skipped: {reason}", file=sys.stderr, flush=True)
        if skipped is not None:
            skipped[graph] = reason
        return []
    m = out["test"]
    run = {"seed": seed, "fit_seconds": out["train_seconds"], "epochs": float("nan"), "best_epoch": 0, **m}
    keys = ["hits@20", "hits@50", "hits@100", "mrr", "auc", "ap", "fit_seconds", "epochs"]
    summary = {k: {"mean": float(run[k]), "std": 0.0} for k in keys}
    print(f"  {graph} gds-lp:{out['winner']} seed {seed}: hits@100 {m['hits@100']:.4f} mrr {m['mrr']:.4f} train {out['train_seconds']:.1f}s predict {out['predict_seconds']:.1f}s", file=sys.stderr, flush=True)
    details = {k: v for k, v in out.items() if k != "test"}
    return [{"graph": graph, "model": f"gds-lp:{out['winner']}", "split": kind, "seeds": [seed], "summary": summary, "runs": [run], "settings": out["settings"], "gds": {**details, "version": gds.version}}]


def run_edges(graph: str, model: str, seeds: list[int], args, batching: str = "auto") -> dict:
    from topo_graphdb.model.evaluate import evaluate_edges, make_predictor

    runs = []
    base = model.removesuffix("+tc")
    label = model if batching == "auto" or base in ("cn", "aa", "ra") else f"{model}[{batching}]"
    for seed in seeds:
        split, kind = load_split(graph, args.data_dir, seed, args.fractions)
        settings = {} if base in ("cn", "aa", "ra") else {"seed": seed, "progress": args.progress, "epochs": args.epochs, "batch_size": args.batch_size,
                                                          "layers": args.layers, "hidden": args.hidden, "batching": batching, "fanout": args.fanout}
        if model.endswith("+tc"):  # TC-guided re-weighting, the paper's Cora GCN settings
            settings.update(tc_alpha=args.tc_alpha, tc_interval=1, tc_warm_up=1)
        p = make_predictor(base, **settings)
        t = time.perf_counter()
        p.fit(split)
        fit_s = time.perf_counter() - t
        metrics = evaluate_edges(p, split)
        m, valid_hits = metrics["test"], metrics["valid"].get("hits@100", float("nan"))
        runs.append({"seed": seed, "fit_seconds": fit_s, "epochs": len(getattr(p, "history_", [])), "best_epoch": getattr(p, "best_epoch_", 0), "valid_hits@100": valid_hits, **m})
        print(f"  {graph} {label} seed {seed}: valid hits@100 {valid_hits:.4f} test hits@100 {m['hits@100']:.4f} mrr {m['mrr']:.4f} fit {fit_s:.1f}s", file=sys.stderr, flush=True)
    keys = ["valid_hits@100", "hits@20", "hits@50", "hits@100", "mrr", "auc", "ap", "fit_seconds", "epochs"]
    summary = {k: {"mean": float(np.mean([r[k] for r in runs])), "std": float(np.std([r[k] for r in runs]))} for k in keys}
    return {"graph": graph, "model": label, "split": kind, "seeds": seeds, "summary": summary, "runs": runs, "settings": p.get_params(),
            "batching": getattr(p, "batching_", None)}


def run_report(graph: str, model: str, seed: int, args) -> dict:
    from topo_graphdb.model.evaluate import run_evaluation

    split, kind = load_split(graph, args.data_dir, seed, args.fractions)
    t = time.perf_counter()
    settings = {"epochs": args.epochs} if model not in ("cn", "aa", "ra") else {}
    report, table, _ = run_evaluation(split, model=model, seed=seed, hops=args.hops, progress=args.progress, trust=False, **({"predictor_settings": settings} if settings else {}))
    out = {
        "graph": graph,
        "model": model,
        "split": kind,
        "seed": seed,
        "seconds": time.perf_counter() - t,
        "edge_metrics_test": report["edge_metrics"]["test"],
        "node_metrics": report["node_metrics"],
        "correlations_precision@10": report["correlations"],
        "shift": report["shift"],
        "indicator": {k: v for k, v in report.get("indicator", {}).items() if k != "model"},
        "timings": report["timings"],
    }
    if args.candidate_recall and model not in ("cn", "aa", "ra"):
        from topo_graphdb.model.evaluate import make_predictor
        from topo_graphdb.model.predict import candidate_recall

        p = make_predictor(model, seed=seed, progress=False, epochs=args.epochs).fit(split)
        out["candidate_recall"] = candidate_recall(p, top_k=10, neighbours=100)
    return out


def _num(v) -> str:
    return "   nan" if v is None or not np.isfinite(v) else f"{v:+.3f}"


def _fmt(s: dict) -> str:
    return f"{s['mean']:.4f}±{s['std']:.4f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help() + " Bundled datasets are used when a graph is not there.")
    ap.add_argument("--graphs", default="cora", help="Comma-separated graph names.")
    ap.add_argument("--models", default="ncn,gcn,sage,cn,aa,ra", help="Comma-separated models (gcn, sage, ncn, ncnc, cn, aa, ra; 'gcn+tc'/'ncn+tc': with TC-guided re-weighting).")
    ap.add_argument("--fractions", default=None, help="Random split train,valid,test in percent, e.g. 85,5,10 (default: by time for temporal graphs, else 70,10,20).")
    ap.add_argument("--tc-alpha", type=float, default=2.0, help="alpha of TC-guided re-weighting for the '+tc' models.")
    ap.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2, 3, 4], help="Number of seeds N >= 1 (seeds 0..N-1) or a comma-separated list ('0,' is seed 0 alone).")
    ap.add_argument("--epochs", type=int, default=None, help="Maximum epochs (default: the model's).")
    ap.add_argument("--batch-size", type=int, default=None, help="Training positives per step (default: the model's).")
    ap.add_argument("--layers", type=int, default=None, help="Message-passing layers of the learned models (default: the model's).")
    ap.add_argument("--hidden", type=int, default=None, help="Width of the learned models (default: the model's).")
    ap.add_argument("--batching", default="auto", help="Comma-separated batching of the learned models' training (auto, full, sampled); each is a row.")
    ap.add_argument("--fanout", type=int, default=None, help="Neighbours sampled per node and layer with sampled batching (default: the model's).")
    ap.add_argument("--hops", default="1,2,3", help="TC hops for the report.")
    ap.add_argument("--report-model", default="gcn", help="Model of the per-node TC report ('none' to skip).")
    ap.add_argument("--candidate-recall", action="store_true", help="Measure candidate-generation recall vs exhaustive top-10.")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's).")
    ap.add_argument("--progress", action="store_true", help="Progress bars on stderr.")
    ap.add_argument("--json", type=Path, default=None, help="Write all results as JSON here.")
    ap.add_argument("--gds", action=argparse.BooleanOptionalAction, default=True, help="Add the Neo4j GDS link-prediction row (first seed's split).")
    ap.add_argument("--gds-uri", default=None, help="Bolt URI of a Neo4j with GDS (default: NEO4J_URI, else a temporary local server).")
    ap.add_argument("--gds-password", default=None, help="Its password (default: NEO4J_PASSWORD).")
    ap.add_argument("--gds-port", type=int, default=None, help="Port of the temporary local server (default: a free one).")
    ap.add_argument("--gds-data-dir", type=Path, default=None, help="Data dir of the local server (default: a temporary one, removed afterwards).")
    ap.add_argument("--gds-trials", type=int, default=12, help="GDS auto-tuning maxTrials.")
    ap.add_argument("--gds-features", action=argparse.BooleanOptionalAction, default=True, help="Feed the node features to GDS's FastRP (when the graph has them).")
    args = ap.parse_args(argv)
    args.hops = tuple(int(h) for h in args.hops.split(","))
    if args.fractions is not None:
        parts = [float(f) for f in args.fractions.split(",")]
        if len(parts) != 3 or abs(sum(parts) - 100) > 1e-6 or min(parts) < 0:
            ap.error(f"--fractions must be three percentages summing to 100; got {args.fractions!r}")
        args.fractions = tuple(f / 100 for f in parts)
    seeds = args.seeds
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results: dict = {"edges": [], "reports": [], "gds": [], "gds_skipped": {}, "argv": portable_words(sys.argv[1:], args.data_dir), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    graphs = [g for g in args.graphs.split(",") if g]
    gds = None
    if args.gds:
        from _gds_lp import GdsServer

        gds = GdsServer(uri=args.gds_uri, password=args.gds_password, port=args.gds_port, data_dir=args.gds_data_dir)
    try:
        for graph in graphs:
            for model in [m for m in args.models.split(",") if m]:
                for batching in [b for b in args.batching.split(",") if b] if model not in ("cn", "aa", "ra") else ["auto"]:
                    results["edges"].append(run_edges(graph, model, seeds, args, batching))
            if gds is not None and gds.error is None:
                split, kind = load_split(graph, args.data_dir, seeds[0], args.fractions)
                results["gds"].extend(gds_rows(graph, split, seeds[0], gds=gds, kind=kind, max_trials=args.gds_trials, features=args.gds_features, skipped=results["gds_skipped"]))
            if args.report_model != "none":
                results["reports"].append(run_report(graph, args.report_model, seeds[0], args))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2, default=float))
    finally:
        if gds is not None:
            gds.close()

    rows = results["edges"] + results["gds"]
    width = max([6] + [len(r["model"]) for r in rows])
    print(f"\n{'graph':10} {'model':{width}} {'split':14} {'seeds':>5} {'valid hits@100':>15} {'hits@20':>15} {'hits@50':>15} {'hits@100':>15} {'mrr':>15} {'auc':>15} {'ap':>15} {'fit s':>8} {'epochs':>6}")
    for r in sorted(rows, key=lambda r: graphs.index(r["graph"])):
        s = r["summary"]
        print(f"{r['graph']:10} {r['model']:{width}} {r['split']:14} {len(r['seeds']):5d} {_fmt(s['valid_hits@100']) if 'valid_hits@100' in s else '-':>15} {_fmt(s['hits@20']):>15} {_fmt(s['hits@50']):>15} {_fmt(s['hits@100']):>15} {_fmt(s['mrr']):>15} {_fmt(s['auc']):>15} {_fmt(s['ap']):>15} {s['fit_seconds']['mean']:8.1f} {s['epochs']['mean']:6.0f}")
    for g in results["gds"]:
        ours = [r for r in results["edges"] if r["graph"] == g["graph"]]
        d = g["gds"]
        print(f"\nGDS on {g['graph']} (GDS {d['version']}, seed {g['seeds'][0]}): winner {g['model']} {d['best_parameters']}; GDS's own AUCPR validation {d['gds_metrics'].get('AUCPR', {}).get('validation', {}).get('avg', float('nan')):.4f} test {d['gds_metrics'].get('AUCPR', {}).get('test', float('nan')):.4f}")
        print(f"  seconds: load {d['load_seconds']:.1f}, train {d['train_seconds']:.1f}, predict {d['predict_seconds']:.1f} ({d['pairs_scored']:,} pairs in {d['batches']} calls)")
        if ours:
            best = max(ours, key=lambda r: r["summary"]["hits@100"]["mean"])
            b, s = best["summary"], g["summary"]
            print(f"  ours best ({best['model']}): hits@100 {b['hits@100']['mean']:.4f} mrr {b['mrr']['mean']:.4f} auc {b['auc']['mean']:.4f} fit {b['fit_seconds']['mean']:.1f}s"
                  f"  vs GDS: hits@100 {s['hits@100']['mean']:.4f} mrr {s['mrr']['mean']:.4f} auc {s['auc']['mean']:.4f} train {s['fit_seconds']['mean']:.1f}s")  # fmt: skip
    for graph, reason in results["gds_skipped"].items():
        print(f"\nGDS row skipped ({graph}): {reason}")
    for rep in results["reports"]:
        print(f"\nper-node Precision@10 on {rep['graph']} ({rep['model']}, {rep['split']} split, seed {rep['seed']}): Spearman / Pearson")
        for key, c in rep["correlations_precision@10"].items():
            print(f"  {key:16} {_num(c.get('spearman'))} / {_num(c.get('pearson'))}  (n={c['n']})")
        for k, sh in rep["shift"].items():
            print(f"  shift {k}: mean TC^Train {_num(sh['mean_tc_train'])} vs TC^Test {_num(sh['mean_tc_test'])} over {sh['nodes']} nodes; test lower for {_num(sh['share_test_lower'])}")
        ind = rep["indicator"]
        if "test_spearman" in ind:
            print(f"  indicator (computable: {', '.join(ind['features'])}): test Spearman {_num(ind['test_spearman'])} vs degree only {_num(ind['degree_only_test_spearman'])}; best single {ind.get('best_single_feature')}")
        if "candidate_recall" in rep:
            print(f"  candidate recall (top-10): {rep['candidate_recall']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
