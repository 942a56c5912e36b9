"""Which predicted links to believe: calibrated link probabilities and a node's expected precision.

A link predictor ranks candidate targets but its scores are not
probabilities: an RA score of 0.4 or a GCN logit of 3 says nothing about how
often such a link turns out to exist. This subpackage learns that mapping
from held-out edges and reports how far it can be trusted, one module per job:

* :mod:`.features`: :func:`link_features` (the model score normalised per
  source, its rank, structural facts of the pair), :func:`node_activity`
  (recency features from relationship times) and :func:`holdout_labels`;
* :mod:`.calibrator`: :class:`LinkCalibrator`, the probabilistic classifier
  chosen by source-grouped validation log-loss, and :class:`CrossFitCalibrator`,
  one on each half of the source nodes, each scoring the other half's links;
* :mod:`.metrics` (pure functions): :func:`expected_precision` (``sum`` of a
  node's top-k link probabilities ``/ k``, the expectation of its
  Precision@k), :func:`measured_precision`, :func:`brier_score`,
  :func:`expected_calibration_error`, :func:`within_source_auc`,
  :func:`quintile_means`, :func:`lift` (and its bootstrap :func:`lift_interval`),
  :func:`spearman_same_nodes` and
  :func:`report_metrics`, which puts them together on the reported links;
* :mod:`.figures`: :func:`plot_reliability`, :func:`plot_lift`.

The protocol that puts these together (fit a calibrator on the links of
each half of the source nodes, score each half with the other half's
calibrator, report on all of them) is
:func:`topo_graphdb.model.holdout.calibrate`.

References: Niculescu-Mizil & Caruana (2005), "Predicting good probabilities
with supervised learning"; Guo et al. (2017) for the ECE; Wang et al. (ICLR
2024) for Topological Concentration and the per-node protocol.
"""

from .calibrator import CrossFitCalibrator, LinkCalibrator
from .features import activity_before_holdout, holdout_labels, link_features, node_activity
from .figures import plot_lift, plot_reliability
from .metrics import (
    brier_score,
    expected_calibration_error,
    expected_precision,
    lift,
    lift_interval,
    measured_precision,
    quintile_means,
    report_metrics,
    spearman_same_nodes,
    trust_warnings,
    within_source_auc,
)

__all__ = [
    "link_features",
    "node_activity",
    "activity_before_holdout",
    "holdout_labels",
    "LinkCalibrator",
    "CrossFitCalibrator",
    "expected_precision",
    "measured_precision",
    "brier_score",
    "expected_calibration_error",
    "quintile_means",
    "lift",
    "lift_interval",
    "spearman_same_nodes",
    "within_source_auc",
    "plot_reliability",
    "plot_lift",
    "report_metrics",
    "trust_warnings",
]
