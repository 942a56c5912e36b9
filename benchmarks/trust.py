"""Benchmark calibrated link probabilities and a node's expected precision.

For each graph, model and seed: hold out 10% of the unique undirected edges
(the newest by first appearance for graphs with a ``t`` column, at random
otherwise), then run :func:`topo_graphdb.model.trust.trust_protocol`: fit the
predictor on the other 90%, predict each node's top-10 new links, fit the
link calibrator on the links of a random half of the source nodes and report
on the other half:

* link ROC-AUC, ECE (10 bins), Brier score (and the constant base rate's),
  AUC among each node's top-10 (mean over nodes with a hit and a miss);
* per node with a held-out edge: Spearman of its Precision@10 with its
  expected precision, training degree, TC^Train and TC^Test (K = 1..3), all
  on the same nodes (where every one is defined), and the lift (mean
  Precision@10 in the top quintile over the bottom one).

Pair TC features (``topo_graphdb.kernels.pair_topological_concentration``)
are used when the package provides them (``--no-pair-tc`` to leave them out).

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
from _common import data_dir_help, default_data_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUNDLED = ROOT / "topo_graphdb" / "datasets"
HOPS = (1, 2, 3)


def load_graph(graph: str, data_dir: Path | None, seed: int, heldout: float):
    """``(train, heldout, n, x, kind)`` of ``<graph>/edges.csv``: bundled copy first, else ``data_dir``."""
    import scipy.sparse as sp

    from topo_graphdb.edgefile import read_edge_csv
    from topo_graphdb.model.splits import random_split, temporal_split

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
    q = 1.0 - heldout
    if temporal:
        split = temporal_split(edges, table.time, n, valid_quantile=q, test_quantile=q, seed=seed)
    else:
        split = random_split(edges, n, valid_fraction=0.0, test_fraction=heldout, seed=seed)
    return split.train_pos, split.test_pos, n, x, "temporal" if temporal else "random"


def tc_properties(train: np.ndarray, held: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """TC^Train and TC^Test for K = 1..3 (one beta, the training graph's)."""
    from topo_graphdb.kernels import default_beta, topological_concentration

    beta = default_beta(train, n)
    out = {}
    for k in HOPS:
        out[f"tc_train_k{k}"] = np.asarray(topological_concentration(train, None, hops=k, beta=beta, num_nodes=n).tc, dtype=float)
    for k in HOPS:
        out[f"tc_test_k{k}"] = np.asarray(topological_concentration(train, held, hops=k, beta=beta, num_nodes=n).tc, dtype=float)
    return out


def pair_tc_function(enabled: bool):
    """``pair_tc_fn`` for the protocol when the kernels provide pair TC, else None."""
    if not enabled:
        return None
    try:
        from topo_graphdb.kernels import pair_topological_concentration
    except ImportError:
        return None

    def fn(train, pairs, n):
        return np.asarray(pair_topological_concentration(train, pairs, hops=max(HOPS), num_nodes=n).tc_by_hops, dtype=float)

    return fn


def run_one(graph: str, model: str, seed: int, args) -> tuple[dict, object]:
    from topo_graphdb.model.trust import edge_predictor_factory, spearman_same_nodes, trust_protocol

    train, held, n, x, kind = load_graph(graph, args.data_dir, seed, args.heldout)
    t = time.perf_counter()
    props = tc_properties(train, held, n)
    tc_s = time.perf_counter() - t
    settings = {} if model in ("cn", "aa", "ra") else {"epochs": args.epochs, "progress": args.progress}
    factory = edge_predictor_factory(model, x=x, seed=seed, **settings)
    pair_tc = pair_tc_function(args.pair_tc)
    res = trust_protocol(factory, train, held, n, k=args.k, seed=seed, node_properties=props, pair_tc_fn=pair_tc)
    m = res.metrics
    # expected precision against degree alone, on every report node with a held-out edge (TC undefined allowed)
    report_nodes = res.node_half == 1
    target = np.where(report_nodes, res.measured_precision, np.nan)
    deg = np.bincount(train.reshape(-1), minlength=n).astype(float)
    wide = spearman_same_nodes({"expected_precision": res.expected_precision, "degree": deg}, target)
    row = {
        "graph": graph, "model": model, "seed": seed, "split": kind, "nodes": n,
        "train_edges": int(train.shape[1]), "heldout_edges": int(held.shape[1]),
        "pair_tc": pair_tc is not None, "calibrator": res.calibrator, "metrics": m,
        "spearman_all_heldout_nodes": wide, "tc_seconds": tc_s,
    }  # fmt: skip
    return row, res


def _f(v, fmt=".3f") -> str:
    return "  n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)


def print_table(rows: list[dict]) -> None:
    cols = ["expected_precision", "degree"] + [f"tc_train_k{k}" for k in HOPS] + [f"tc_test_k{k}" for k in HOPS]
    short = {"expected_precision": "EP", "degree": "deg"} | {f"tc_train_k{k}": f"TCtr{k}" for k in HOPS} | {f"tc_test_k{k}": f"TCte{k}" for k in HOPS}
    head = f"{'graph':10} {'model':5} {'seed':>4} {'AUC':>6} {'AP':>6} {'Brier':>6} {'ECE':>6} {'AUC@10':>6} {'nodes':>6} " + " ".join(f"{short[c]:>6}" for c in cols)
    head += f" {'liftEP':>7} {'liftDg':>7} {'EP|all':>6} {'dg|all':>6}  calibrator"
    print("\nSpearman of per-node Precision@10 (report half, same nodes); EP|all, dg|all: every report node with a held-out edge")
    print(head)
    for r in rows:
        m, nd = r["metrics"], r["metrics"]["nodes"]
        sp = nd["spearman"]
        line = f"{r['graph']:10} {r['model']:5} {r['seed']:4d} {_f(m['link_auc']):>6} {_f(m['link_ap']):>6} {_f(m['brier'], '.4f'):>6} {_f(m['ece'], '.4f'):>6} {_f(m['auc_within_top_k']['mean']):>6} {nd['evaluated']:6d} "
        line += " ".join(f"{_f(sp.get(c)):>6}" for c in cols)
        w = r["spearman_all_heldout_nodes"]["spearman"]
        line += f" {_f(nd['lift'].get('expected_precision'), '.2f'):>7} {_f(nd['lift'].get('degree'), '.2f'):>7} {_f(w['expected_precision']):>6} {_f(w['degree']):>6}  {r['calibrator']['model']}"
        print(line)


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds of the headline numbers, per graph and model."""
    out = []
    for key in sorted({(r["graph"], r["model"]) for r in rows}, key=lambda k: [(r["graph"], r["model"]) for r in rows].index(k)):
        group = [r for r in rows if (r["graph"], r["model"]) == key]

        def stat(get, group=group):
            v = np.array([np.nan if get(r) is None else get(r) for r in group], dtype=float)
            return {"mean": float(np.nanmean(v)) if np.isfinite(v).any() else None, "std": float(np.nanstd(v)) if np.isfinite(v).any() else None}

        s = {
            "link_auc": stat(lambda r: r["metrics"]["link_auc"]),
            "ece": stat(lambda r: r["metrics"]["ece"]),
            "brier": stat(lambda r: r["metrics"]["brier"]),
            "auc_within_top_k": stat(lambda r: r["metrics"]["auc_within_top_k"]["mean"]),
            "lift_expected_precision": stat(lambda r: r["metrics"]["nodes"]["lift"]["expected_precision"]),
            "lift_degree": stat(lambda r: r["metrics"]["nodes"]["lift"]["degree"]),
        }
        for name in group[0]["metrics"]["nodes"]["spearman"]:
            s[f"spearman_{name}"] = stat(lambda r, name=name: r["metrics"]["nodes"]["spearman"][name])
        out.append({"graph": key[0], "model": key[1], "seeds": [r["seed"] for r in group], "summary": s})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help() + " Bundled datasets are used first.")
    ap.add_argument("--graphs", default="cora,ca-grqc", help="Comma-separated graphs (bundled: cora, citeseer, ca-grqc, collegemsg).")
    ap.add_argument("--models", default="ra,gcn", help="Comma-separated models (cn, aa, ra, gcn, sage, ncn).")
    ap.add_argument("--seeds", default="3", help="Number of seeds (0..N-1) or a comma-separated list.")
    ap.add_argument("--k", type=int, default=10, help="Links per node (Precision@k).")
    ap.add_argument("--heldout", type=float, default=0.1, help="Share of the edges held out.")
    ap.add_argument("--epochs", type=int, default=None, help="Maximum epochs of learned models (default: the model's).")
    ap.add_argument("--pair-tc", action=argparse.BooleanOptionalAction, default=True, help="Use pair TC features when the kernels provide them.")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's).")
    ap.add_argument("--progress", action="store_true", help="Progress bars on stderr.")
    ap.add_argument("--plots", type=Path, default=None, help="Write reliability and lift PNGs into this folder.")
    ap.add_argument("--json", type=Path, default=None, help="Write all results as JSON here.")
    args = ap.parse_args(argv)
    seeds = list(range(int(args.seeds))) if args.seeds.isdigit() else [int(s) for s in args.seeds.split(",")]
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from topo_graphdb.model.trust import plot_lift, plot_reliability

    rows: list[dict] = []
    for graph in [g for g in args.graphs.split(",") if g]:
        for model in [m for m in args.models.split(",") if m]:
            for seed in seeds:
                t = time.perf_counter()
                row, res = run_one(graph, model, seed, args)
                row["seconds"] = time.perf_counter() - t
                rows.append(row)
                m = row["metrics"]
                print(f"  {graph} {model} seed {seed}: AUC {_f(m['link_auc'])} ECE {_f(m['ece'], '.4f')} rho(EP) {_f(m['nodes']['spearman']['expected_precision'])} {row['seconds']:.1f}s", file=sys.stderr, flush=True)
                if args.plots:
                    rep = res.links["half"] == 1
                    plot_reliability(res.links["prob"][rep], res.links["label"][rep], args.plots / f"reliability-{graph}-{model}-{seed}.png", title=f"{graph} {model} seed {seed}")
                    q = m["nodes"]["quintile_means"]
                    plot_lift({k: q[k] for k in ("expected_precision", "degree", "tc_train_k1", "tc_test_k1") if k in q}, args.plots / f"lift-{graph}-{model}-{seed}.png", ylabel=f"mean Precision@{args.k}")
                if args.json:
                    args.json.write_text(json.dumps({"argv": sys.argv[1:], "rows": rows, "summary": summarise(rows)}, indent=2))
    print_table(rows)
    print("\nmean ± std over seeds")
    for s in summarise(rows):
        v = s["summary"]
        show = ["link_auc", "ece", "auc_within_top_k", "lift_expected_precision", "spearman_expected_precision", "spearman_degree", "spearman_tc_train_k1", "spearman_tc_test_k1"]
        print(f"  {s['graph']:10} {s['model']:5} " + "  ".join(f"{k} {_f(v[k]['mean'])}±{_f(v[k]['std'])}" for k in show if k in v))
    if args.json:
        args.json.write_text(json.dumps({"argv": sys.argv[1:], "rows": rows, "summary": summarise(rows)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
