"""``evaluate`` and ``predict``: link prediction from edge files (torch is imported inside)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import InputError
from ..model.names import BATCHING, GNN_MODELS, HEURISTIC_MODELS, PREDICTORS
from ._group import json_option, main
from ._scheduler import scheduler_option

_MODELS = click.Choice(PREDICTORS)
_MODEL_HELP = f"GNN ({', '.join(GNN_MODELS)}) or heuristic ({', '.join(HEURISTIC_MODELS)})."
_NEG_HELP = (
    "Given {part} negatives CSV instead of drawn ones: src,dst (shared by all positives, as ogbl-collab), "
    "or src,dst,pos_src,pos_dst (each positive against its own, as ogbl-citation2)."
)
_PROGRESS = click.option("--progress/--no-progress", default=None, help="Progress bars on stderr (default: when stderr is a terminal).")


def _batching_options(command):
    """``--batching`` and ``--fanout`` of the learned models' training."""
    command = click.option("--fanout", type=click.IntRange(min=1), default=15, show_default=True,
                           help="Neighbours sampled per node and layer with sampled batching.")(command)
    return click.option("--batching", type=click.Choice(BATCHING), default="auto", show_default=True,
                        help="Training steps over the whole graph or sampled subgraphs (gcn, sage); auto: sampled when "
                             "a full-batch step does not fit half the free memory.")(command)


def _hops(text: str) -> tuple[int, ...]:
    try:
        hops = tuple(sorted({int(h) for h in text.split(",") if h.strip()}))
    except ValueError:
        raise InputError(f"--hops must be a comma-separated list of integers in 1..4; got {text!r}") from None
    if not hops or hops[0] < 1 or hops[-1] > 4:
        raise InputError(f"--hops must be a comma-separated list of integers in 1..4; got {text!r}")
    return hops


@main.command()
@click.option("--train-edges", required=True, type=click.Path(dir_okay=False), help="Training edges CSV (src,dst).")
@click.option("--valid-edges", required=True, type=click.Path(dir_okay=False), help="Validation edges CSV (src,dst).")
@click.option("--test-edges", required=True, type=click.Path(dir_okay=False), help="Test edges CSV (src,dst).")
@click.option("--features", type=click.Path(dir_okay=False), default=None, help="Node features .npz (scipy sparse or array; row i = node id i). Each row is divided by the sum of its absolute values (L1; signed features keep their signs).")
@click.option("--model", type=_MODELS, default="gcn", show_default=True, help=_MODEL_HELP)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum training epochs (default: the model's).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of negatives and training.")
@click.option("--hops", default="1,2,3", show_default=True, help="TC hops K to correlate with (comma-separated, 1..4).")
@click.option("--output-dir", required=True, type=click.Path(file_okay=False), help="Where report.json, node_metrics.csv and plots go.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write the PNG plots.")
@click.option("--valid-negatives", type=click.Path(dir_okay=False), default=None, help=_NEG_HELP.format(part="validation"))
@click.option("--test-negatives", type=click.Path(dir_okay=False), default=None, help=_NEG_HELP.format(part="test"))
@_batching_options
@scheduler_option
@_PROGRESS
@json_option
def evaluate(train_edges, valid_edges, test_edges, features, model, epochs, seed, hops, output_dir, plots, valid_negatives, test_negatives,
             batching, fanout, scheduler, progress, as_json):
    """Train a link predictor and evaluate it per edge and per node, with TC correlations.

    With --scheduler, the per-node TC, ATC and pair TC of the report run on the Dask workers (same values).
    """
    from ..kernels.distributed import compute_scheduled  # noqa: PLC0415
    from ..model.evaluate import evaluate_files  # noqa: PLC0415

    show = sys.stderr.isatty() if progress is None else progress
    with compute_scheduled(scheduler):
        report = evaluate_files(
            train_edges, valid_edges, test_edges, output_dir=output_dir, features=features, model=model,
            epochs=epochs, seed=seed, hops=_hops(hops), progress=show, plots=plots,
            valid_negatives=valid_negatives, test_negatives=test_negatives,
            predictor_settings={"batching": batching, "fanout": fanout},
        )  # fmt: skip
    test = report["edge_metrics"]["test"]
    for warning in report.get("trust_warnings") or []:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps({"output_dir": output_dir, "edge_metrics": report["edge_metrics"], "node_metrics": report["node_metrics"]}))
        return
    corr = report["correlations"]
    click.echo(f"{model}: test " + ", ".join(f"{k} {v}" for k, v in test.items() if k.startswith("hits@") or k in ("mrr", "auc")))
    for key in ("tc_train_k1", "tc_test_k1", "degree"):
        if key in corr:
            click.echo(f"  precision@10 vs {key}: spearman {corr[key]['spearman']}")
    click.echo(f"report written to {output_dir}/report.json")


@main.command()
@click.option("--edges", required=True, type=click.Path(dir_okay=False), help="All known edges CSV (src,dst).")
@click.option("--features", type=click.Path(dir_okay=False), default=None, help="Node features .npz (row i = node id i). Each row is divided by the sum of its absolute values (L1; signed features keep their signs).")
@click.option("--model", type=_MODELS, default="gcn", show_default=True, help=_MODEL_HELP)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum training epochs (default: the model's).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the hold-out split and training.")
@click.option("--nodes", "nodes_file", type=click.Path(dir_okay=False), default=None, help="Only these source nodes (CSV with a 'node' column or one id per line).")
@click.option("--top-k", required=True, type=click.IntRange(min=1), help="New links per source node.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Output CSV: src,dst,score,rank (original ids).")
@_batching_options
@_PROGRESS
@json_option
def predict(edges, features, model, epochs, seed, nodes_file, top_k, output, batching, fanout, progress, as_json):
    """Train on all edges (10% held out for early stopping) and write the top-k new links per node."""
    from ..model.predict import predict_from_file  # noqa: PLC0415

    show = sys.stderr.isatty() if progress is None else progress
    summary = predict_from_file(
        edges, output=output, top_k=top_k, features=features, model=model, seed=seed,
        nodes_path=nodes_file, epochs=epochs, progress=show, predictor_settings={"batching": batching, "fanout": fanout},
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"{summary['links']} links for {summary['sources']} nodes written to {summary['output']}")
