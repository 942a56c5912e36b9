"""Benchmark the product's calibrated link probabilities and a node's expected precision.

For each graph, model and seed: hold out 10% of the unique undirected edges
(the newest by first appearance for graphs with a ``t`` column, at random
otherwise) and run :func:`topo_graphdb.model.holdout.trust_protocol`, the
path ``sync`` and ``evaluate`` take (:func:`~topo_graphdb.model.holdout.calibrate`
with the pair's TC and both ends' TC^Train among the features): fit the
predictor on the other 90%, predict each node's top-10 new links, fit a
link calibrator on the links of each random half of the source nodes, score
each half's links with the other half's calibrator and report on all of them:

* link ROC-AUC, ECE (10 bins), Brier score, AUC among each node's top-10
  (mean over nodes with a hit and a miss);
* per node with a held-out edge: Spearman of its Precision@10 with its
  expected precision, training degree, TC^Train (K = 1..3), ATC (K = 2) and
  TC^Test (K = 1..3), all on the same nodes (where every one is defined), and
  the lift (mean Precision@10 in the top quintile over the bottom one) with
  its 90% bootstrap interval over the nodes (``lift5``, ``lift95``; in the
  table of means, the mean of the per-seed bounds);
  expected precision and degree also on every node with a held-out
  edge (``EP|all``, ``dg|all``: TC undefined allowed);
* distribution shift: mean TC^Train and mean TC^Test (K = 1) of those same nodes.

TC^Test reads the held-out edges: it is a reference a deployment cannot
compute, never a feature.

Examples::

    python benchmarks/trust.py --graphs cora,ca-grqc --models ra --seeds 3 --json trust.json
    python benchmarks/trust.py --graphs cora --models gcn --seeds 1 --plots PLOT_DIR
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

BUNDLED = ROOT / "topo_graphdb" / "datasets"
HOPS = (1, 2, 3)
#: per-node scores compared with measured Precision@k, in table order
NODE_SCORES = ("expected_precision", "degree", *(f"tc_train_k{h}" for h in HOPS), "atc_k2", *(f"tc_test_k{h}" for h in HOPS))
SHORT = {"expected_precision": "EP", "degree": "deg", "atc_k2": "ATC2"} | {f"tc_train_k{h}": f"TCtr{h}" for h in HOPS} | {f"tc_test_k{h}": f"TCte{h}" for h in HOPS}


def load_graph(graph: str, data_dir: Path | None, seed: int, heldout: float):
    """``(train, heldout, n, x, kind, activity)`` of ``<graph>/edges.csv``: bundled copy first, else ``data_dir``.

    ``activity``: on a graph with times, the node and pair activity of the events before the first
    held-out edge (repeated pairs counted each time), as ``sync`` computes it; else None.
    """
    import scipy.sparse as sp

    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.model.splits import random_split, temporal_split
    from topo_graphdb.model.trust import activity_before_holdout

    roots = [BUNDLED] + ([data_dir] if data_dir else [])
    base = next((r / graph for r in roots if (r / graph / "edges.csv").is_file()), None)
    if base is None:
        raise SystemExit(f"graph {graph!r} not found in the bundled datasets or under {data_dir}")
    temporal = "t" in (base / "edges.csv").read_text().split("\n", 1)[0].split(",")
    table = read_edge_csv(base / "edges.csv", time_col="t" if temporal else None)
    x = sp.load_npz(base / "features.npz").tocsr() if (base / "features.npz").is_file() else None
    if x is not None:  # Planetoid ids are row numbers
        n = int(max(x.shape[0], max(table.src.max(), table.dst.max()) + 1))
        edges = np.stack([table.src, table.dst])
    else:
        ids = np.unique(np.r_[table.src, table.dst])
        n = ids.size
        edges = np.stack([np.searchsorted(ids, table.src), np.searchsorted(ids, table.dst)])
    if temporal:
        split = temporal_split(edges, table.time, n, valid_fraction=0.0, test_fraction=heldout, seed=seed)
        activity = activity_before_holdout(edges, table.time, n, split)
    else:
        split = random_split(edges, n, valid_fraction=0.0, test_fraction=heldout, seed=seed)
        activity = None
    return split.train_pos, split.test_pos, n, x, "temporal" if temporal else "random", activity


def node_scores(train: np.ndarray, held: np.ndarray, n: int, beta: float, seed: int) -> dict[str, np.ndarray]:
    """TC^Train (K = 1..3), ATC (K = 2) of the training graph and TC^Test (K = 1..3), one beta."""
    from topo_graphdb.kernels import approximate_tc, topological_concentration

    out = {}
    for h in HOPS:
        out[f"tc_train_k{h}"] = np.asarray(topological_concentration(train, None, hops=h, beta=beta, num_nodes=n).tc, dtype=float)
    out["atc_k2"] = np.asarray(approximate_tc(train, hops=2, beta=beta, num_nodes=n, seed=seed).tc, dtype=float)
    for h in HOPS:
        out[f"tc_test_k{h}"] = np.asarray(topological_concentration(train, held, hops=h, beta=beta, num_nodes=n).tc, dtype=float)
    return out


def run_one(graph: str, model: str, seed: int, args) -> tuple[dict, object]:
    from topo_graphdb.kernels import default_beta
    from topo_graphdb.model.evaluate import edge_predictor_factory
    from topo_graphdb.model.holdout import trust_protocol
    from topo_graphdb.model.trust import spearman_same_nodes

    train, held, n, x, kind, activity = load_graph(graph, args.data_dir, seed, args.heldout)
    beta = default_beta(train, n)
    t = time.perf_counter()
    props = node_scores(train, held, n, beta, seed)
    tc_s = time.perf_counter() - t
    settings = {} if model in ("cn", "aa", "ra") else {"epochs": args.epochs, "hidden": args.hidden, "progress": args.progress}
    factory = edge_predictor_factory(model, x=x, seed=seed, **settings)
    res = trust_protocol(factory, train, held, n, k=args.k, hops=max(HOPS), beta=beta, seed=seed, node_properties=props,
                         activity=None if args.no_activity else activity)
    m = res.metrics
    target = np.where(res.nodes["sampled"] == 1, res.nodes["measured_precision"], np.nan)
    ep = res.nodes["expected_precision"]
    deg = np.bincount(train.reshape(-1), minlength=n).astype(float)
    # the nodes of the Spearman table: a held-out edge, every score defined
    same = np.isfinite(target) & np.isfinite(ep)
    for v in props.values():
        same &= np.isfinite(v)
    shift = {f"k{h}": {"mean_tc_train": float(props[f"tc_train_k{h}"][same].mean()) if same.any() else None,
                       "mean_tc_test": float(props[f"tc_test_k{h}"][same].mean()) if same.any() else None} for h in HOPS}  # fmt: skip
    wide = spearman_same_nodes({"expected_precision": ep, "degree": deg}, target)
    row = {
        "graph": graph, "model": model, "seed": seed, "split": kind, "nodes": n,
        "train_edges": int(train.shape[1]), "heldout_edges": int(held.shape[1]), "beta": beta,
        "metrics": m, "shift_same_nodes": shift, "spearman_all_heldout_nodes": wide, "tc_seconds": tc_s,
    }  # fmt: skip
    return row, res


def _f(v, fmt=".3f") -> str:
    return "  n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)


def _headline(r: dict) -> dict[str, float | None]:
    """The numbers of one row that the tables show."""
    m, nd = r["metrics"], r["metrics"]["nodes"]
    out = {
        "link_auc": m["link_auc"], "ece": m["ece"], "brier": m["brier"], "auc_top_k": m["auc_within_top_k"]["mean"],
        "nodes": nd["evaluated"], "lift_ep": nd["lift"].get("expected_precision"),
        "lift_ep_low": nd["lift_interval_expected_precision"][0], "lift_ep_high": nd["lift_interval_expected_precision"][1],
        "lift_degree": nd["lift"].get("degree"),
        "ep_all": r["spearman_all_heldout_nodes"]["spearman"]["expected_precision"],
        "degree_all": r["spearman_all_heldout_nodes"]["spearman"]["degree"],
        "mean_tc_train_k1": r["shift_same_nodes"]["k1"]["mean_tc_train"], "mean_tc_test_k1": r["shift_same_nodes"]["k1"]["mean_tc_test"],
    }  # fmt: skip
    for name in NODE_SCORES:
        out[f"rho_{name}"] = nd["spearman"].get(name)
    return out


_COLS = [("link_auc", "AUC", ".3f"), ("ece", "ECE", ".4f"), ("auc_top_k", "AUC@k", ".3f"), ("nodes", "nodes", ".0f")]
_COLS += [(f"rho_{name}", SHORT[name], ".3f") for name in NODE_SCORES]
_COLS += [("lift_ep", "liftEP", ".2f"), ("lift_ep_low", "lift5", ".2f"), ("lift_ep_high", "lift95", ".2f"), ("lift_degree", "liftDg", ".2f"), ("ep_all", "EP|all", ".3f"), ("degree_all", "dg|all", ".3f"),
          ("mean_tc_train_k1", "mTCtr1", ".3f"), ("mean_tc_test_k1", "mTCte1", ".3f")]  # fmt: skip


def print_table(lines: list[tuple[str, dict]], title: str) -> None:
    print(f"\n{title}")
    print(f"{'':24} " + " ".join(f"{c[1]:>6}" for c in _COLS))
    for label, h in lines:
        print(f"{label:24} " + " ".join(f"{_f(h[c[0]], c[2]):>6}" for c in _COLS))


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds of the headline numbers, per graph and model (in run order)."""
    keys = list(dict.fromkeys((r["graph"], r["model"]) for r in rows))
    out = []
    for key in keys:
        group = [_headline(r) for r in rows if (r["graph"], r["model"]) == key]
        s = {}
        for name in group[0]:
            v = np.array([np.nan if g[name] is None else g[name] for g in group], dtype=float)
            ok = np.isfinite(v).any()
            s[name] = {"mean": float(np.nanmean(v)) if ok else None, "std": float(np.nanstd(v)) if ok else None}
        calibrators = [r["metrics"]["calibrator"]["model"] for r in rows if (r["graph"], r["model"]) == key]
        out.append({"graph": key[0], "model": key[1], "seeds": len(group), "calibrators": calibrators, "summary": s,
                    "targets": targets(key[0], key[1], {k: v["mean"] for k, v in s.items()})})  # fmt: skip
    return out


def targets(graph: str, model: str, mean: dict) -> dict[str, bool | None]:
    """The goals of the trust check, on the means over seeds (None where a number is missing)."""

    def ok(cond):
        try:
            return bool(cond())
        except TypeError:  # a None mean
            return None

    ep = mean["rho_expected_precision"]
    out = {
        "ep_beats_degree_and_tc_train": ok(lambda: all(ep > mean[f"rho_{n}"] for n in ("degree", *(f"tc_train_k{h}" for h in HOPS)) if mean[f"rho_{n}"] is not None)),
        "lift_at_least_3": ok(lambda: mean["lift_ep"] >= 3),
        "ece_at_most_0.02": ok(lambda: mean["ece"] <= 0.02),
        # "link AUC among each node's top-10 >= 0.8", read two ways: per node (the mean of each list's own AUC)
        # and pooled (one AUC over the links of all the lists)
        "auc_top_k_at_least_0.8": ok(lambda: mean["auc_top_k"] >= 0.8),
        "pooled_link_auc_top_k_at_least_0.8": ok(lambda: mean["link_auc"] >= 0.8),
    }
    if model != "ra" and graph in ("cora", "citeseer"):
        out["ep_at_least_twice_degree"] = ok(lambda: ep >= 2 * mean["rho_degree"])
    return out


def write_json(path: Path, rows: list[dict], data_dir: Path | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"argv": portable_words(sys.argv[1:], data_dir), "rows": rows, "summary": summarise(rows)}, indent=2, allow_nan=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help() + " Bundled datasets are used first.")
    ap.add_argument("--graphs", default="cora,ca-grqc", help="Comma-separated graphs (bundled: cora, citeseer, ca-grqc, collegemsg).")
    ap.add_argument("--models", default="ra,gcn", help="Comma-separated models (cn, aa, ra, gcn, sage, ncn).")
    ap.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2], help="Number of seeds N >= 1 (seeds 0..N-1) or a comma-separated list ('0,' is seed 0 alone).")
    ap.add_argument("--k", type=int, default=10, help="Links per node (Precision@k).")
    ap.add_argument("--heldout", type=float, default=0.1, help="Share of the edges held out.")
    ap.add_argument("--epochs", type=int, default=None, help="Maximum epochs of learned models (default: the model's).")
    ap.add_argument("--hidden", type=int, default=None, help="Width of learned models (default: the model's).")
    ap.add_argument("--threads", type=int, default=None, help="Threads for torch and the BLAS/OpenMP pools (default: theirs).")
    ap.add_argument("--no-activity", action="store_true", help="Leave node activity (from relationship times) out of the link features.")
    ap.add_argument("--progress", action="store_true", help="Progress bars on stderr.")
    ap.add_argument("--plots", type=Path, default=None, help="Write reliability and lift PNGs into this folder.")
    ap.add_argument("--json", type=Path, default=None, help="Write all results as JSON here (rewritten after every run).")
    args = ap.parse_args(argv)
    seeds = args.seeds
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    from topo_graphdb.model.report import json_ready
    from topo_graphdb.model.trust import plot_lift, plot_reliability

    rows: list[dict] = []
    for graph in [g for g in args.graphs.split(",") if g]:
        for model in [m for m in args.models.split(",") if m]:
            for seed in seeds:
                t = time.perf_counter()
                row, res = run_one(graph, model, seed, args)
                row["seconds"] = time.perf_counter() - t
                rows.append(json_ready(row))
                h = _headline(rows[-1])
                print(f"  {graph} {model} seed {seed}: AUC {_f(h['link_auc'])} ECE {_f(h['ece'], '.4f')} AUC@k {_f(h['auc_top_k'])} "
                      f"rho EP {_f(h['rho_expected_precision'])} deg {_f(h['rho_degree'])} lift {_f(h['lift_ep'], '.2f')} "
                      f"[{row['metrics']['calibrator']['model']}] {row['seconds']:.1f}s", file=sys.stderr, flush=True)  # fmt: skip
                if args.plots:
                    plot_reliability(res.links["prob"], res.links["label"], args.plots / f"reliability-{graph}-{model}-{seed}.png", title=f"{graph} {model} seed {seed}")
                    q = row["metrics"]["nodes"]["quintile_means"]
                    plot_lift({k: q[k] for k in ("expected_precision", "degree", "tc_train_k1", "tc_test_k1") if k in q}, args.plots / f"lift-{graph}-{model}-{seed}.png", ylabel=f"mean Precision@{args.k}")
                if args.json:
                    write_json(args.json, rows, args.data_dir)
    print_table([(f"{r['graph']} {r['model']} s{r['seed']} {r['split'][:4]}", _headline(r)) for r in rows],
                "Per run. Spearman of per-node Precision@10, same nodes; EP|all, dg|all: every node with a held-out edge")  # fmt: skip
    summary = summarise(rows)
    print_table([(f"{s['graph']} {s['model']} ({s['seeds']} seeds)", {k: v["mean"] for k, v in s["summary"].items()}) for s in summary], "Mean over seeds")
    print("\nTargets (means over seeds)")
    for s in summary:
        print(f"  {s['graph']:10} {s['model']:5} " + "  ".join(f"{k} {'yes' if v else ('n/a' if v is None else 'NO')}" for k, v in s["targets"].items()) + f"  calibrators {','.join(s['calibrators'])}")
    if args.json:
        write_json(args.json, rows, args.data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
