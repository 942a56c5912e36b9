"""GNN link predictors (PyTorch Geometric): GCN, GraphSAGE and Neural Common Neighbour.

Architecture (the setup of Wang et al., ICLR 2024, "A Topological Perspective
on Demystifying GNN-Based Link Prediction Performance"):

* encoder: ``layers`` GCN or GraphSAGE layers over the *training* edges only,
  input the node features ``x`` (by default each row divided by the sum of its
  absolute values: non-negative rows sum to 1 as in the paper's code, signed
  rows such as FastRP embeddings keep their signs) or a learnable embedding
  per node when there are none;
* predictor: an MLP on the Hadamard product ``h_i * h_j`` giving a logit;
* ``model="ncn"``, Neural Common Neighbour (Wang, Yang, Zhang, "Neural Common
  Neighbor with Completion for Link Prediction", ICLR 2024; code
  GraphPKU/NeuralCommonNeighbor): GCN encoder and

      logit(i, j) = MLP( beta * f( sum_{u in CN(i, j)} h_u ) + g( h_i * h_j ) )

  with ``CN(i, j) = N(i) ∩ N(j)`` the common neighbours in the message-passing
  graph, ``f`` a 3-layer MLP, ``g`` a 2-layer MLP, ``beta`` a learned scalar
  (initially 1) and the outer MLP of ``predictor_layers`` layers. The paper
  writes ``MLP(h_i * h_j || sum_u h_u)``; the authors' code (followed here)
  puts an MLP on each part and adds them, which is the first layer of that
  MLP with a non-linear branch for each part. The MLPs act on the *sum* of the
  common neighbours' embeddings, once per pair;
* ``model="ncnc"``, NCN with completion (same paper): the sum also runs over
  *probable* common neighbours, ``u in N(i) \\ N(j)`` weighted by the
  probability ``p(j, u)`` that ``(j, u)`` is a link, and ``u in N(j) \\ N(i)``
  by ``p(i, u)``; ``p`` comes from a first NCN pass of the same network
  (without gradient), ``p = pt p0 / (pt p0 + 1 - p0)`` with
  ``p0 = sigmoid(5 (logit - 3))`` and ``pt = 0.5`` (the code's defaults).
  Unlike the code, every such neighbour is used (no sampling of at most 8 or
  128 per pair).

Target-link masking (``mask_targets``, NCN's "target link removal"): each
training step removes its positive edges from the graph; message passing
*and* the common neighbours of every pair of the step use what remains, so a
target link is never evidence for itself (two target links ``(i, u)`` and
``(u, j)`` do not make ``u`` a common neighbour of the target ``(i, j)``).

Training: binary cross-entropy on the training edges against as many
negatives, sampled afresh each epoch uniformly from pairs that are not
training edges; Adam; gradient clipping; early stopping on validation Hits@K
(OGB convention, K = ``select_k``); the best epoch's weights are kept.
Deterministic on CPU for a fixed ``seed`` (global RNG states are restored
after :meth:`LinkPredictor.fit`).

Batching (``batching``): ``"full"`` runs the encoder over the whole graph at
every step, ``"sampled"`` (GCN, GraphSAGE) over the subgraph PyG's
``LinkLoader`` samples around the step's pairs (:mod:`._minibatch`);
``"auto"`` samples when a full-batch step would not fit ``memory_budget``.

Optional TC-guided re-weighting of message passing (``tc_alpha > 0``, GCN and
NCN only), from the paper's code: every ``tc_interval`` epochs after
``tc_warm_up``, each training edge ``r -> c`` (self-loops included) is scored
with the predictor on ``h_r * mean_{u in N(c)} h_u``, the scores are
soft-maxed over ``c``'s incoming edges, and the weight becomes
``w_rc + alpha * softmax_rc * sum_r' w_r'c`` with ``w`` the symmetric-normalised
GCN weights (not cumulative).

The encoder lives in :mod:`._encoders`, the pair decoders (NCN, NCNC) in
:mod:`._pair_decoders`, and the sparse products with a cached transpose and
the GCN normalisation (PyG's ``gcn_norm``) in :mod:`._sparse`; this module
holds the estimator: set-up, training loop, scoring and persistence.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._memory import reuse_freed_memory
from ..errors import InputError
from ..snapshot import adjacency_matrix
from ._encoders import feature_arrays, feature_tensor, features_from_arrays
from ._minibatch import SampledSteps, check_batching, epoch_steps, full_batch_bytes, optimise, resolve_batching
from ._pair_decoders import CN_MODELS, Net, common_neighbour_sums, common_neighbour_weights, torch_index
from ._sparse import SparseOperator, gcn_weights
from .metrics import hits_at_k, mean_reciprocal_rank
from .names import GNN_MODELS
from .splits import EdgeSplit, edge_keys

__all__ = ["MODELS", "LinkPredictor", "common_neighbour_sums", "resolve_device"]

MODELS = GNN_MODELS  # the learned ones among PREDICTORS
#: pairs scored at a time outside training steps (validation, :meth:`LinkPredictor.score`): bounds the
#: memory of NCN's common-neighbour products (ogbl-ddi: about 390 common neighbours a pair)
PAIR_PIECE = 65536
_FORMAT = 2  # 2: NCN as published (format 1 held the per-neighbour simplification)


def _pieces(pairs: np.ndarray, size: int | None = None) -> list[np.ndarray]:
    """``pairs`` (2, m) cut into consecutive pieces of ``size`` (default :data:`PAIR_PIECE`) columns."""
    size = PAIR_PIECE if size is None else size
    return [pairs[:, s : s + size] for s in range(0, pairs.shape[1], size)]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            from ..errors import BackendUnavailable  # noqa: PLC0415

            raise BackendUnavailable(f"device {device!r} asked for but CUDA is not available", hint="use device='cpu' or 'auto'")
        return torch.device(device)
    raise InputError(f"device must be 'auto', 'cpu' or 'cuda[:N]'; got {device!r}")


def _check_int(name: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise InputError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, lo: float, hi: float = float("inf"), *, open_lo: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}") from None
    if not ((v > lo if open_lo else v >= lo) and v <= hi):
        raise InputError(f"{name} must be in {'(' if open_lo else '['}{lo}, {hi}]; got {value!r}")
    return v


class LinkPredictor:
    """A GNN link predictor with estimator habits.

    Parameters
    ----------
    model : {"gcn", "sage", "ncn", "ncnc"}
    hidden : int
        Width of every layer (embedding size).
    layers : int
        Message-passing layers.
    predictor_layers : int
        Linear layers of the predictor MLP.
    dropout, lr, weight_decay : float
    epochs : int
        Maximum number of epochs (passes over the training edges).
    patience : int
        Stop after this many epochs without a better validation Hits@K
        (without validation edges: train all ``epochs``, keep the last).
    batch_size : int
        Training positives per step (the encoder runs once per step).
    select_k : int
        K of the validation Hits@K used for early stopping (ties: validation MRR).
    grad_clip : float
        Maximum gradient norm (0 disables clipping).
    feature_norm : {"row", "none"}
        ``"row"``: divide each feature row by the sum of its absolute values
        (L1). Non-negative features (bag-of-words) then sum to 1 per row, as
        in the paper's code; signed features (e.g. GDS FastRP embeddings) keep
        their signs and never grow (a signed row sum could be near zero or
        negative); all-zero rows stay zero. ``"none"``: features as given.
    tc_alpha, tc_interval, tc_warm_up :
        TC-guided re-weighting (module doc); off when ``tc_alpha == 0``.
    mask_targets : bool
        Remove each training step's positive edges from message passing (as
        NCN's "target link removal"), so the encoder cannot see the links it
        is asked to predict.
    batching : {"auto", "full", "sampled"}
        Whole-graph or sampled-subgraph steps (module doc); ``fanout``:
        in-neighbours sampled per node and layer; ``memory_budget``: bytes a
        full-batch step may use under ``"auto"`` (None: half the free memory).
    seed : int
    device : {"auto", "cpu", "cuda", "cuda:N"}
    progress : bool
        tqdm bar on stderr.

    Attributes
    ----------
    model_ : torch.nn.Module
        Encoder and predictor, with the best epoch's weights.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``valid_hits``, ``valid_mrr``, ``seconds``.
    best_epoch_ : int
    best_valid_ : dict
    embedding_ : ndarray (n, hidden)
    adj_ : scipy.sparse.csr_matrix (n, n)
        The graph used for message passing and common neighbours.
    edge_weight_ : ndarray
        Message-passing weights in use (changed by TC re-weighting).
    batching_ : str
        ``"full"`` or ``"sampled"``: how the fit trained.
    run_id_ : str
    fit_seconds_ : float

    Examples
    --------
    >>> from topo_graphdb.model.splits import random_split
    >>> ei = np.array([[0, 0, 1, 1, 2, 3, 4, 5, 5, 6], [1, 2, 2, 3, 3, 4, 5, 6, 7, 7]])
    >>> split = random_split(ei, 8, seed=0)
    >>> lp = LinkPredictor("gcn", hidden=8, epochs=3, progress=False).fit(split)
    >>> lp.score(split.test_pos).shape
    (2,)
    """

    def __init__(
        self,
        model: str = "gcn",
        *,
        hidden: int = 256,
        layers: int = 1,
        predictor_layers: int = 2,
        dropout: float = 0.4,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        epochs: int = 200,
        patience: int = 40,
        batch_size: int = 1152,
        select_k: int = 100,
        grad_clip: float = 1.0,
        feature_norm: str = "row",
        tc_alpha: float = 0.0,
        tc_interval: int = 1,
        tc_warm_up: int = 1,
        mask_targets: bool = True,
        batching: str = "auto",
        fanout: int = 15,
        memory_budget: int | None = None,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ):
        self.model = model
        self.hidden = hidden
        self.layers = layers
        self.predictor_layers = predictor_layers
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.select_k = select_k
        self.grad_clip = grad_clip
        self.feature_norm = feature_norm
        self.tc_alpha = tc_alpha
        self.tc_interval = tc_interval
        self.tc_warm_up = tc_warm_up
        self.mask_targets = mask_targets
        self.batching = batching
        self.fanout = fanout
        self.memory_budget = memory_budget
        self.seed = seed
        self.device = device
        self.progress = progress

    _PARAMS = (
        "model", "hidden", "layers", "predictor_layers", "dropout", "lr", "weight_decay", "epochs", "patience",
        "batch_size", "select_k", "grad_clip", "feature_norm", "tc_alpha", "tc_interval", "tc_warm_up", "mask_targets",
        "batching", "fanout", "memory_budget", "seed", "device", "progress",
    )  # fmt: skip

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._PARAMS}

    def _validate(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        _check_int("hidden", self.hidden, 1)
        _check_int("layers", self.layers, 1)
        _check_int("predictor_layers", self.predictor_layers, 1)
        _check_float("dropout", self.dropout, 0.0, 0.95)
        _check_float("lr", self.lr, 0.0, 10.0, open_lo=True)
        _check_float("weight_decay", self.weight_decay, 0.0)
        _check_int("epochs", self.epochs, 1)
        _check_int("patience", self.patience, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("select_k", self.select_k, 1)
        _check_float("grad_clip", self.grad_clip, 0.0)
        _check_int("seed", self.seed, 0)
        if self.feature_norm not in ("row", "none"):
            raise InputError(f"feature_norm must be 'row' or 'none'; got {self.feature_norm!r}")
        _check_float("tc_alpha", self.tc_alpha, 0.0)
        _check_int("tc_interval", self.tc_interval, 1)
        _check_int("tc_warm_up", self.tc_warm_up, 0)
        if self.tc_alpha > 0 and self.model == "sage":
            raise InputError("tc_alpha > 0 (TC-guided re-weighting) needs model 'gcn' or 'ncn'; SAGE layers take no edge weights")
        _check_int("fanout", self.fanout, 1)
        if self.memory_budget is not None:
            _check_int("memory_budget", self.memory_budget, 1)
        check_batching(self.batching, self.model, self.tc_alpha)

    # ------------------------------------------------------------ set-up
    def _setup(self, split: EdgeSplit | None, *, num_nodes: int, train_pos: np.ndarray, x: Any) -> None:
        """Device, features and the message-passing graph of ``train_pos``: ``_ei`` holds
        the edges, then the same reversed (then, for GCN, the self-loops), so that edge
        ``k`` of ``train_pos`` sits at ``k`` and ``k + m`` (:meth:`_batch_graph`)."""
        self._device = resolve_device(self.device)
        self.num_nodes_ = int(num_nodes)
        self._train_pos = np.asarray(train_pos, dtype=np.int64)
        self._x = feature_tensor(x, self.feature_norm, self._device)
        n = self.num_nodes_
        both = torch.from_numpy(np.concatenate([self._train_pos, self._train_pos[::-1]], axis=1)).to(self._device)
        if self.model == "sage":
            self._ei, self._w0 = both, torch.ones(both.shape[1], device=self._device)
        else:
            self._ei, self._w0 = gcn_weights(both, n, add_self_loops=True)
        self._set_weights(self._w0)
        e = self._train_pos
        self.adj_ = adjacency_matrix(e, n, np.float64)
        self._adj_t = None
        self._train_keys = np.sort(edge_keys(e, n))

    def full_batch_bytes(self) -> int:
        """Rough peak memory of one full-batch training step (after set-up; :func:`._minibatch.full_batch_bytes`)."""
        return full_batch_bytes(self.num_nodes_, int(self._ei.shape[1]), self.hidden, self.layers, embedding=self._x is None)

    def _build(self) -> Net:
        in_dim = None if self._x is None else int(self._x.shape[1])
        return Net(self.model, in_dim, self.num_nodes_, self.hidden, self.layers, self.predictor_layers, float(self.dropout)).to(self._device)

    # ------------------------------------------------------------ pieces
    def _message_passing(self, ei: torch.Tensor, w: torch.Tensor) -> SparseOperator:
        """``adj_t`` (target x source) with weights ``w`` on the edges ``ei`` (source, target);
        symmetric unless TC re-weighting changed the weights of one direction only."""
        n = self.num_nodes_
        return SparseOperator.from_coo(ei.flip(0), w.float(), (n, n), symmetric=self.model == "sage" or self.tc_alpha == 0)

    def _set_weights(self, w: torch.Tensor) -> None:
        """Message-passing weights ``w`` (one per edge of ``_ei``)."""
        self._w = w
        self._adj_mp = self._message_passing(self._ei, w)

    def _batch_graph(self, idx: np.ndarray) -> tuple[SparseOperator, Any]:
        """The graph without the training edges ``idx`` (both directions), for one
        training step: the message-passing ``adj_t`` and the 0/1 scipy adjacency
        of the common neighbours. GCN weights are renormalised on the remaining
        graph unless TC re-weighting is active."""
        n = self.num_nodes_
        m = self._train_pos.shape[1]
        keep = torch.ones(self._ei.shape[1], dtype=torch.bool, device=self._device)
        drop = torch.from_numpy(np.asarray(idx, dtype=np.int64)).to(self._device)
        keep[drop] = False
        keep[drop + m] = False
        ei = self._ei[:, keep]
        if self.model == "sage" or self.tc_alpha > 0:
            w = self._w[keep]
        else:
            ei, w = gcn_weights(ei, n, add_self_loops=False)  # the self-loops are in ei
        adj = None
        if self.model in CN_MODELS:
            adj = self.adj_ - adjacency_matrix(self._train_pos[:, idx], n, np.float64)
            adj.eliminate_zeros()
        return self._message_passing(ei, w), adj

    def _encode(self, net: Net, adj: SparseOperator | None = None) -> torch.Tensor:
        return net.encoder(self._x, self._adj_mp if adj is None else adj)

    def _cn_weights(self, net: Net, h: torch.Tensor | None, pairs: np.ndarray, adj: Any) -> Any:
        return common_neighbour_weights(net, h, pairs, adj, completion=self.model == "ncnc")

    def _pair_logits(self, net: Net, h: torch.Tensor, pairs: np.ndarray, adj: Any = None, weights: Any = None) -> torch.Tensor:
        """Logits of ``pairs`` (2, m); common neighbours in ``adj`` (default: the whole
        message-passing graph), or the precomputed ``weights`` (:func:`common_neighbour_weights`)."""
        src, dst = torch_index(pairs[0], self._device), torch_index(pairs[1], self._device)
        cn = None
        if self.model in CN_MODELS:
            adj = self.adj_ if adj is None else adj
            w = self._cn_weights(net, h, pairs, adj) if weights is None else weights
            cn = common_neighbour_sums(h, adj, pairs, w)
        return net.pair_logits(h[src], h[dst], cn)

    @torch.no_grad()
    def _reweight(self, net: Net) -> None:
        from torch_geometric.utils import scatter, softmax  # noqa: PLC0415

        net.eval()
        h = self._encode(net)
        n = self.num_nodes_
        row, col = self._ei
        not_loop = row != col
        agg = scatter(h[row[not_loop]], col[not_loop], dim=0, dim_size=n, reduce="mean")
        s = net.pair_logits(h[row], agg[col])
        soft = softmax(torch.sigmoid(s), col, num_nodes=n)
        w0 = self._w0
        total = scatter(w0, col, dim=0, dim_size=n, reduce="sum")[col]
        self._set_weights(w0 + float(self.tc_alpha) * soft * total)

    @torch.no_grad()
    def _validate_scores(self, net: Net, split: EdgeSplit, cache: dict) -> tuple[float, float]:
        net.eval()
        h = self._encode(net)
        pos = self._logits_in_pieces(net, h, split.valid_pos, cache.get("vp"))
        neg = self._logits_in_pieces(net, h, split.valid_neg, cache.get("vn"))
        return hits_at_k(pos, neg, k=int(self.select_k)), mean_reciprocal_rank(pos, neg)

    def _logits_in_pieces(self, net: Net, h: torch.Tensor, pairs: np.ndarray, weights: list | None = None, size: int | None = None) -> np.ndarray:
        """Logits (float64) of ``pairs`` scored piece by piece (:func:`_pieces`); ``weights``: the
        pieces' precomputed common-neighbour weights (:meth:`_cn_weights` of the same pieces)."""
        out = [self._pair_logits(net, h, piece, weights=None if weights is None else weights[k]).double().cpu().numpy()
               for k, piece in enumerate(_pieces(pairs, size))]  # fmt: skip
        return np.concatenate(out) if out else np.zeros(0)

    # --------------------------------------------------------------- fit
    def fit(self, split: EdgeSplit) -> LinkPredictor:
        """Train on ``split.train_pos``; early stopping on ``split.valid_*``. Returns ``self``."""
        from tqdm.auto import tqdm  # noqa: PLC0415

        self._validate()
        if not isinstance(split, EdgeSplit):
            raise InputError(f"split must be an EdgeSplit; got {type(split).__name__}")
        if split.train_pos.shape[1] == 0:
            from ..errors import EmptyGraphError  # noqa: PLC0415

            raise EmptyGraphError("the split has no training edges")
        t0 = time.perf_counter()
        self._setup(split, num_nodes=split.num_nodes, train_pos=split.train_pos, x=split.x)
        self._x_raw = split.x
        devices = [self._device] if self._device.type == "cuda" else []
        prev_det = torch.are_deterministic_algorithms_enabled()
        prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        with torch.random.fork_rng(devices=devices, device_type=self._device.type if devices else "cuda"):
            torch.manual_seed(int(self.seed))
            torch.use_deterministic_algorithms(True, warn_only=True)
            try:
                with reuse_freed_memory():
                    self._train(split, tqdm)
            finally:
                torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        self.fit_seconds_ = time.perf_counter() - t0
        self.run_id_ = uuid.uuid4().hex
        return self

    def _train(self, split: EdgeSplit, tqdm) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([int(self.seed), 0x747261696E]))
        net = self._build()
        opt = torch.optim.Adam(net.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        cache: dict[str, Any] = {}
        if self.model == "ncn":  # fixed common neighbours of the validation pairs (NCNC's depend on the weights)
            cache = {key: [self._cn_weights(net, None, piece, self.adj_) for piece in _pieces(p)] for key, p in (("vp", split.valid_pos), ("vn", split.valid_neg))}
        has_valid = split.valid_pos.shape[1] > 0 and split.valid_neg.shape[1] > 0
        best = (-1.0, -1.0)
        best_state = None
        best_w = self._w
        since = 0
        self.history_ = []
        self.batching_ = resolve_batching(self)
        epoch_step = self._train_epoch if self.batching_ == "full" else SampledSteps(self).epoch
        bar = tqdm(range(1, int(self.epochs) + 1), desc=f"train {self.model}", file=sys.stderr, disable=not self.progress, leave=False)
        for epoch in bar:
            te = time.perf_counter()
            if self.tc_alpha > 0 and epoch > self.tc_warm_up and (epoch - self.tc_warm_up - 1) % self.tc_interval == 0:
                self._reweight(net)
            loss = epoch_step(net, opt, rng)
            hits, mrr = self._validate_scores(net, split, cache)
            rec = {"epoch": epoch, "loss": loss, "valid_hits": hits, "valid_mrr": mrr, "seconds": time.perf_counter() - te}
            self.history_.append(rec)
            if has_valid:
                score = (hits if np.isfinite(hits) else -1.0, mrr if np.isfinite(mrr) else -1.0)
            else:  # nothing to stop on: keep the last epoch
                score = (float(epoch), 0.0)
            if score > best:
                best, since = score, 0
                best_state = copy.deepcopy(net.state_dict())
                best_w = self._w.clone()
                self.best_epoch_ = epoch
            else:
                since += 1
            bar.set_postfix(loss=f"{rec['loss']:.4f}", val=f"{hits:.4f}", best=f"{best[0]:.4f}")
            if since >= self.patience:
                break
        bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
            self._set_weights(best_w)
        self.best_valid_ = {f"hits@{self.select_k}": best[0], "mrr": best[1]}
        self.model_ = net.eval()
        self.edge_weight_ = self._w.detach().cpu().numpy()
        with torch.no_grad():
            self._h = self._encode(net)
        self.embedding_ = self._h.cpu().numpy()

    def _train_epoch(self, net: Net, opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
        """One pass over the training edges in batches, each against as many fresh
        uniform negatives; returns the mean loss."""
        net.train()
        pos_all = self._train_pos
        neg_all, steps = epoch_steps(self, rng)
        total = 0.0
        for idx in steps:
            adj_t, adj = self._batch_graph(idx) if self.mask_targets else (None, None)
            h = self._encode(net, adj_t)
            lp = self._pair_logits(net, h, pos_all[:, idx], adj)
            ln = self._pair_logits(net, h, neg_all[:, idx[idx < neg_all.shape[1]]], adj)
            total += optimise(self, net, opt, lp, ln) * idx.size
        return total / max(pos_all.shape[1], 1)

    # ----------------------------------------------------------- predict
    def _check(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("the predictor is not fitted; call fit(split) first (or load a saved one)")

    def embed(self) -> np.ndarray:
        """Node embeddings ``(n, hidden)`` (float32) of the fitted encoder."""
        self._check()
        return self.embedding_

    @torch.no_grad()
    def score(self, pairs: np.ndarray, *, batch_size: int = PAIR_PIECE) -> np.ndarray:
        """Logit of each pair ``(2, m)`` (float64; higher = more likely).

        Logits rather than probabilities: they keep the order where the
        sigmoid would round to 1.
        """
        self._check()
        p = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
        if p.size and (p.min() < 0 or p.max() >= self.num_nodes_):
            raise InputError(f"pairs refer to nodes outside 0..{self.num_nodes_ - 1}")
        return self._logits_in_pieces(self.model_, self._h, p, size=batch_size)

    def block_bytes_per_source(self) -> int:
        """Rough memory of one row of :meth:`score_block` (for batching)."""
        factor = 10 if self.model in CN_MODELS else 3  # NCN: the sums and two MLPs over (b, n, d)
        return int(self.num_nodes_ * self.hidden * 4 * factor)

    @torch.no_grad()
    def score_block(self, sources: np.ndarray) -> np.ndarray:
        """Logits of every node for each source: ``(len(sources), n)`` float32."""
        self._check()
        src = np.asarray(sources, dtype=np.int64).reshape(-1)
        if self.model == "ncnc":  # probable common neighbours differ per pair: score the pairs
            n = self.num_nodes_
            pairs = np.stack([np.repeat(src, n), np.tile(np.arange(n, dtype=np.int64), src.size)])
            return self.score(pairs).astype(np.float32).reshape(src.size, n)
        s = torch.as_tensor(src, device=self._device)
        h = self._h
        net = self.model_
        hi = h[s].unsqueeze(1)  # (b, 1, d)
        cn = None
        if self.model == "ncn":
            b, n, d = s.numel(), h.shape[0], h.shape[1]
            rows = torch.from_numpy(self.adj_[src].toarray().astype(np.float32)).to(self._device)  # (b, n)
            a = self._adj_torch()
            stacked = (rows.t().unsqueeze(-1) * h.unsqueeze(1)).reshape(n, b * d)  # (n, b*d): row u = A[s_b, u] h_u
            cn = torch.sparse.mm(a, stacked).reshape(n, b, d).transpose(0, 1)  # (b, n, d): sum over CN(s_b, j)
        return net.pair_logits(hi, h.unsqueeze(0), cn).float().cpu().numpy()

    def _adj_torch(self) -> torch.Tensor:
        if getattr(self, "_adj_t", None) is None:
            c = self.adj_.tocoo()
            idx = torch.from_numpy(np.stack([c.row, c.col]).astype(np.int64))
            self._adj_t = torch.sparse_coo_tensor(idx, torch.ones(c.nnz), (self.num_nodes_, self.num_nodes_), check_invariants=False).coalesce().to(self._device)
        return self._adj_t

    def use_edges(self, edge_index: np.ndarray) -> LinkPredictor:
        """Message passing (and common neighbours) over ``edge_index`` from now on.

        The learned weights stay; embeddings are recomputed. Used to score
        with every known edge after early stopping held some out. TC-guided
        weights are reset to the plain GCN normalisation. Returns ``self``.
        """
        from ..snapshot import simple_undirected  # noqa: PLC0415

        self._check()
        edges, _ = simple_undirected(np.asarray(edge_index), self.num_nodes_)
        self._setup(None, num_nodes=self.num_nodes_, train_pos=edges, x=self._x_raw)
        self.edge_weight_ = self._w.detach().cpu().numpy()
        with torch.no_grad():
            self._h = self._encode(self.model_)
        self.embedding_ = self._h.cpu().numpy()
        return self

    # ------------------------------------------------------------ persist
    def save(self, directory: str | Path) -> Path:
        """Write ``model.pt`` (state dict), ``settings.json`` (settings, run id,
        history) and ``graph.npz`` (training edges, weights, features)."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        torch.save(self.model_.state_dict(), d / "model.pt")
        settings = {
            "format": _FORMAT,
            "class": "LinkPredictor",
            "params": self.get_params(),
            "run_id": self.run_id_,
            "num_nodes": self.num_nodes_,
            "feature_dim": None if self._x_raw is None else int(self._x_raw.shape[1]),
            "best_epoch": self.best_epoch_,
            "best_valid": self.best_valid_,
            "batching": getattr(self, "batching_", "full"),
            "fit_seconds": self.fit_seconds_,
            "history": self.history_,
        }
        (d / "settings.json").write_text(json.dumps(settings, indent=2))
        arrays = {"train_pos": self._train_pos, "edge_weight": self.edge_weight_, **feature_arrays(self._x_raw)}
        np.savez_compressed(d / "graph.npz", **arrays)
        return d

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "auto") -> LinkPredictor:
        """Rebuild a predictor written by :meth:`save` (ready for ``score``/``embed``)."""
        d = Path(directory)
        for name in ("model.pt", "settings.json", "graph.npz"):
            if not (d / name).is_file():
                raise InputError(f"{d} is not a saved link predictor ({name} missing)")
        settings = json.loads((d / "settings.json").read_text())
        params = dict(settings["params"])
        if params.get("model") in CN_MODELS and settings.get("format", 1) < _FORMAT:
            raise InputError(f"{d} holds an NCN of an older form (format {settings.get('format', 1)}); this version reads format {_FORMAT}", hint="train it again")
        params["device"] = device
        model = params.pop("model")
        self = cls(model, **params)
        self._validate()
        with np.load(d / "graph.npz") as z:
            train_pos = z["train_pos"]
            weight = z["edge_weight"]
            x = features_from_arrays(z)
        self._setup(None, num_nodes=settings["num_nodes"], train_pos=train_pos, x=x)
        self._x_raw = x
        self._set_weights(torch.from_numpy(weight).to(self._device))
        net = self._build()
        net.load_state_dict(torch.load(d / "model.pt", map_location=self._device, weights_only=True))
        self.model_ = net.eval()
        self.edge_weight_ = weight
        self.run_id_ = settings["run_id"]
        self.best_epoch_ = settings["best_epoch"]
        self.best_valid_ = settings["best_valid"]
        self.batching_ = settings.get("batching", "full")
        self.history_ = settings["history"]
        self.fit_seconds_ = settings["fit_seconds"]
        with torch.no_grad():
            self._h = self._encode(net)
        self.embedding_ = self._h.cpu().numpy()
        return self
