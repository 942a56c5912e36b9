"""Graph kernels: exact Topological Concentration (TC) of nodes and of pairs, its approximation (ATC), heuristics.

Heavy dependencies (Numba, CuPy) are imported on first use, so importing this
package is cheap.
"""

from ._beta import default_beta
from .atc import approximate_tc
from .estimate import TCEstimate, estimate_tc
from .metrics import clustering_coefficient, degree, pair_heuristics
from .pairs import PairTCResult, pair_topological_concentration
from .tc import MAX_HOPS, TCResult, topological_concentration

__all__ = [
    "topological_concentration",
    "TCResult",
    "MAX_HOPS",
    "pair_topological_concentration",
    "PairTCResult",
    "default_beta",
    "approximate_tc",
    "estimate_tc",
    "TCEstimate",
    "degree",
    "clustering_coefficient",
    "pair_heuristics",
]
