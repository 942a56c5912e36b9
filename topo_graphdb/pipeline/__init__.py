"""``sync``: export -> TC / ATC -> train and predict -> write back -> record the run.

One function, :func:`run_sync`, composes the stages (:mod:`connector`,
:mod:`kernels`, :mod:`model`, :mod:`writeback`) under the run ledger and the
scope lock of :mod:`ledger`. It reports per-phase progress and timings and
returns a :class:`SyncReport`.

What a run writes on every node of the selection (property prefix ``topo_``
by default; a missing value removes the property):

* ``tc`` (exact TC, train variant, ``hops`` K), with ``tc_hops`` and ``tc_beta``;
* ``atc`` (approximate TC) with ``atc_hops``, when configured;
* ``expected_precision`` when prediction and ``predict.trust`` are on: the
  expected Precision@k of the node's predicted links, the sum of their
  probabilities over k;
* ``degree`` (in the analysed graph), ``run_id`` and ``updated_at``;
* ``predicted`` / ``predicted_scores`` node lists and
  ``(a)-[:PREDICTED_LINK {score, rank, model, run_id, created_at, probability, tc}]->(b)``:
  the top-k new links per node (the model's score, a logit), scored against
  every node on small graphs and against capped candidates (2-hop nodes with
  the most common neighbours, nearest embeddings) on larger ones;
  ``probability`` is calibrated on held-out links and ``tc`` is the pair's TC
  (:mod:`topo_graphdb.model.holdout`, with ``predict.trust``).

Trust
-----
With ``predict.trust`` (the default) a share ``trust_holdout`` of the edges
(the most recent ones when the selection has a timestamp) is held out while
the predictor trains; its top-k links among the known edges are labelled by
the held-out ones, a calibrator is fitted on each half of the source nodes
and checked on the other half's links (AUC, Brier score, ECE, Spearman of expected
precision with the measured Precision@k beside degree and TC^Train, lift),
and the final links (predicted with every edge) get the mean of the two
calibrators' probabilities. The
check's figures and report are stored on the run's ``TopoRun`` node
(``figure_reliability_png``, ``figure_lift_png``, ``trust_report``).

Incremental runs
----------------
With ``run.since = "last"`` (or a timestamp) and a relationship timestamp
property, a run re-scores only the nodes whose K-hop neighbourhood changed:
node ``i`` is affected when some new edge has *both* ends within K hops of
``i`` (in the current graph). TC(i) depends only on the edges among the
nodes within K hops of i, so every other node's TC is unchanged, and the
affected nodes are scored on the subgraph induced by the K-hop ball around
them, with ``beta`` pinned to the value of the last full run: the result
equals a full re-score with that beta. A run falls back to a full run when
there is no earlier successful full run with the same settings, when the
graph lost relationships since the last run (a watermark cannot see
deletions, so the ledger's edge count is compared with the number of edges
at or before the watermark), when an interrupted full run may have left
partial results, or every ``full_every`` runs. ATC is recomputed on the whole
graph (it is cheap) and written for the re-scored nodes; the link predictor is
retrained on the current graph and writes new predicted links and
expected precision for the re-scored nodes only (the others keep those of the
run that last re-scored them; ``full_every`` refreshes everything). A run
with nothing new re-scores, trains and writes nothing.

Drift monitor
-------------
For the nodes that gained relationships since the previous successful run,
the run compares their mean TC with the new relationships as evaluation edges
(TC^New, on the graph as of that run) with their mean TC^Train on that graph
(both with that run's beta, over the nodes where both are defined). The
ratio ``drift_ratio = mean TC^New / mean TC^Train`` below ``drift_threshold``
warns or (``drift_action = "fail"``) ends the run with
:class:`~topo_graphdb.errors.DriftAlert` (exit code 11) after everything was
written and recorded.

Modules
-------
:mod:`.plan` (full or incremental, pure), :mod:`.clock` (phases, runtime
limit, signals), :mod:`.report` (:class:`SyncReport`, its ledger record, the
drift check), :mod:`.phases` (what each phase asks of the stages) and
:mod:`.run` (:func:`run_sync`: lock, ledger entry and the phases in order);
:mod:`.warmup` runs the compute phases once on a small graph so that Numba's
cache holds the kernels before a first sync (``make install`` does it).
"""

from .plan import RunPlan, plan_run, split_by_time
from .report import SyncReport, check_drift
from .run import run_sync

__all__ = [
    "SyncReport",
    "run_sync",
    "check_drift",
    "plan_run",
    "RunPlan",
    "split_by_time",
]
