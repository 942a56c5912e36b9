"""The numpy neighbour sampler: the same subgraphs as a plain-Python reference of
torch-sparse's directional sampling, uniform choices, repeatable draws, and PyG's
LinkLoader running on it; unsupported settings give one-line errors."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats
from torch_geometric.data import Data, HeteroData
from torch_geometric.loader import LinkLoader

from topo_graphdb.errors import InputError
from topo_graphdb.model._sampler import (
    UniformNeighborSampler,
    _sort_by_segment_then_key,
    _unique_first,
)

FANOUTS = [[-1], [3], [5, 2], [2, 2, 2], [0, 4]]


def _graph(seed: int, n: int = 60, m: int = 400) -> Data:
    """A random directed multigraph (self-loops and repeated edges included), features on nodes and edges."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n // 2, m) * 2  # odd nodes have no in-edges
    edge_index = torch.from_numpy(np.stack([src, dst]))
    return Data(
        edge_index=edge_index,
        num_nodes=n,
        x=torch.arange(n, dtype=torch.float32).view(-1, 1),
        edge_attr=torch.arange(m, dtype=torch.float32).view(-1, 1),
    )


def _original_edge(sampler: UniformNeighborSampler, edge: torch.Tensor) -> torch.Tensor:
    return sampler.perm[edge] if sampler.perm is not None else edge


def _reference(
    colptr: list[int], row: list[int], seeds: list[int], fanouts: list[int], choose
) -> tuple[list[int], list[int], list[int], list[int]]:
    """torch-sparse's directional sampling, written plainly: ``choose(hop, i, start, end)`` gives the CSC
    positions picked for the frontier node at local position ``i`` (whose entries are ``start:end``)."""
    node = list(seeds)
    local: dict[int, int] = {}
    for i, v in enumerate(seeds):
        local.setdefault(v, i)
    rows, cols, edges = [], [], []
    begin, end = 0, len(node)
    for hop in range(len(fanouts)):
        for i in range(begin, end):
            w = node[i]
            for e in choose(hop, i, colptr[w], colptr[w + 1]):
                v = row[e]
                if v not in local:
                    local[v] = len(node)
                    node.append(v)
                rows.append(local[v])
                cols.append(i)
                edges.append(e)
        begin, end = end, len(node)
    return node, rows, cols, edges


def _chosen(out) -> dict[tuple[int, int], list[int]]:
    """(hop, local target) -> CSC positions sampled for it, in output order."""
    picked: dict[tuple[int, int], list[int]] = {}
    hop_of_edge = np.repeat(np.arange(len(out.num_sampled_edges)), out.num_sampled_edges)
    for hop, col, e in zip(hop_of_edge.tolist(), out.col.tolist(), out.edge.tolist()):
        picked.setdefault((hop, col), []).append(e)
    return picked


@pytest.mark.parametrize("graph_seed", [0, 1, 2])
@pytest.mark.parametrize("fanouts", FANOUTS, ids=str)
def test_same_subgraph_as_the_reference_given_the_same_choices(graph_seed, fanouts):
    data = _graph(graph_seed)
    rng = np.random.default_rng(100 + graph_seed)
    seeds = rng.choice(data.num_nodes, size=7, replace=False).tolist()  # unique, not sorted
    sampler = UniformNeighborSampler(data, num_neighbors=fanouts, seed=graph_seed)
    out = sampler._sample(torch.tensor(seeds))

    for t in (out.node, out.row, out.col, out.edge):
        assert t.dtype == torch.int64
    assert out.batch is None
    node, row, col, edge = (t.tolist() for t in (out.node, out.row, out.col, out.edge))
    assert node[: len(seeds)] == seeds
    assert len(set(node)) == len(node)
    assert len(out.num_sampled_nodes) == len(fanouts) + 1 and len(out.num_sampled_edges) == len(fanouts)
    assert out.num_sampled_nodes[0] == len(seeds)
    assert sum(out.num_sampled_nodes) == len(node) and sum(out.num_sampled_edges) == len(edge) == len(row) == len(col)

    # every sampled edge is a real edge global(row) -> global(col), and `edge` points at it
    eid = _original_edge(sampler, out.edge)
    assert torch.equal(data.edge_index[:, eid], out.node[torch.stack([out.row, out.col])])

    # each frontier node got min(k, in-degree) distinct entries of its own CSC segment
    colptr, csc_row = sampler.colptr.tolist(), sampler.row.tolist()
    picked = _chosen(out)
    hop_start = np.cumsum([0, *out.num_sampled_nodes])
    for hop, k in enumerate(fanouts):
        for i in range(hop_start[hop], hop_start[hop + 1]):
            start, end = colptr[node[i]], colptr[node[i] + 1]
            got = picked.pop((hop, i), [])
            assert len(got) == len(set(got)) == (end - start if k < 0 else min(k, end - start))
            assert all(start <= e < end for e in got)
    assert not picked  # no edges for nodes outside the frontier of their hop

    # the same choices (in CSC order) give the same node order and edges
    ref = _reference(colptr, csc_row, seeds, fanouts, lambda hop, i, start, end: sorted(_chosen(out).get((hop, i), [])))
    assert ref == (node, row, col, edge)


@pytest.mark.parametrize("graph_seed", [0, 3])
def test_all_neighbours_is_a_breadth_first_search(graph_seed):
    data = _graph(graph_seed, n=80, m=160)
    src, dst = data.edge_index.tolist()
    seeds = [4, 10, 3, 22]
    hops = 3
    sampler = UniformNeighborSampler(data, num_neighbors=[-1] * hops, seed=5)
    out = sampler._sample(torch.tensor(seeds))

    # naive BFS over in-edges: per hop the frontier, the newly reached nodes and the edge ids used
    seen, frontier = set(seeds), list(seeds)
    expected_nodes, expected_edges = [seeds], []
    for _ in range(hops):
        used = [j for j in range(len(src)) if dst[j] in set(frontier)]
        new = {src[j] for j in used} - seen
        seen |= new
        expected_edges.append(sorted(used))
        expected_nodes.append(new)
        frontier = list(new)

    node = out.node.tolist()
    assert node[: len(seeds)] == seeds
    bounds = np.cumsum([0, *out.num_sampled_nodes])
    for hop in range(1, hops + 1):
        assert set(node[bounds[hop] : bounds[hop + 1]]) == expected_nodes[hop]
        assert out.num_sampled_nodes[hop] == len(expected_nodes[hop])
    eid = _original_edge(sampler, out.edge).tolist()
    ebounds = np.cumsum([0, *out.num_sampled_edges])
    for hop in range(hops):
        assert sorted(eid[ebounds[hop] : ebounds[hop + 1]]) == expected_edges[hop]


def test_repeated_seed_stays_twice_and_both_copies_are_sampled():
    sampler = UniformNeighborSampler(_graph(4), num_neighbors=[2, 2], seed=1)
    seeds = [6, 8, 6, 1]
    out = sampler._sample(torch.tensor(seeds))
    assert out.node[:4].tolist() == seeds
    colptr, csc_row = sampler.colptr.tolist(), sampler.row.tolist()
    ref = _reference(colptr, csc_row, seeds, [2, 2], lambda hop, i, start, end: sorted(_chosen(out).get((hop, i), [])))
    assert ref == tuple(t.tolist() for t in (out.node, out.row, out.col, out.edge))
    deg6 = colptr[7] - colptr[6]
    assert out.col.tolist().count(0) == out.col.tolist().count(2) == min(2, deg6)


def test_star_neighbours_are_chosen_uniformly():
    spokes, k, draws = 100, 10, 2000
    edge_index = torch.stack([torch.arange(1, spokes + 1), torch.zeros(spokes, dtype=torch.long)])
    sampler = UniformNeighborSampler(Data(edge_index=edge_index, num_nodes=spokes + 1), num_neighbors=[k], seed=0)
    counts = Counter()
    for _ in range(draws):
        out = sampler._sample(torch.tensor([0]))
        picked = out.node[1:].tolist()
        assert len(picked) == len(set(picked)) == k
        counts.update(picked)
    observed = np.array([counts[v] for v in range(1, spokes + 1)])
    p = k / spokes
    mean, sd = draws * p, np.sqrt(draws * p * (1 - p))
    assert np.all(np.abs(observed - mean) <= 5 * sd), (observed.min(), observed.max())
    assert stats.chisquare(observed).pvalue > 1e-6


def test_same_seed_same_samples_and_global_generators_untouched():
    data = _graph(5, n=200, m=3000)
    seeds = torch.tensor([0, 2, 4, 6, 8, 10])
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = UniformNeighborSampler(data, num_neighbors=[3, 2], seed=7)
    b = UniformNeighborSampler(data, num_neighbors=[3, 2], seed=7)
    c = UniformNeighborSampler(data, num_neighbors=[3, 2], seed=8)
    outs = [[s._sample(seeds) for _ in range(3)] for s in (a, b, c)]
    for x, y in zip(outs[0], outs[1]):
        for name in ("node", "row", "col", "edge"):
            assert torch.equal(getattr(x, name), getattr(y, name))
        assert x.num_sampled_nodes == y.num_sampled_nodes and x.num_sampled_edges == y.num_sampled_edges
    assert any(not torch.equal(x.edge, z.edge) for x, z in zip(outs[0], outs[2]))
    assert not torch.equal(outs[0][0].edge, outs[0][1].edge)  # successive calls draw afresh
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)


def test_constructing_gives_no_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        UniformNeighborSampler(_graph(0), num_neighbors=[2])
    assert [str(w.message) for w in caught] == []


def _check_link_batches(data, loader, pairs, labels, batch_size):
    seen = 0
    for i, batch in enumerate(loader):
        lo, hi = i * batch_size, min((i + 1) * batch_size, pairs.size(1))
        assert torch.equal(batch.input_id, torch.arange(lo, hi))
        assert torch.equal(batch.n_id[batch.edge_label_index], pairs[:, lo:hi])
        assert torch.equal(batch.edge_label, labels[lo:hi])
        assert torch.equal(batch.n_id[batch.edge_index], data.edge_index[:, batch.e_id])
        assert torch.equal(batch.edge_attr, data.edge_attr[batch.e_id])
        assert torch.equal(batch.x, data.x[batch.n_id])
        assert batch.num_nodes == batch.n_id.numel()
        assert sum(batch.num_sampled_nodes) == batch.n_id.numel() and sum(batch.num_sampled_edges) == batch.e_id.numel()
        seen += hi - lo
    assert seen == pairs.size(1)


def test_link_loader_batches_map_back_to_the_graph():
    data = _graph(6, n=300, m=2500)
    rng = np.random.default_rng(6)
    pos = data.edge_index[:, torch.from_numpy(rng.choice(data.edge_index.size(1), 70, replace=False))]
    neg = torch.from_numpy(rng.integers(0, data.num_nodes, (2, 30)))
    pairs = torch.cat([pos, neg], dim=1)
    labels = torch.cat([torch.ones(70), torch.zeros(30)])
    sampler = UniformNeighborSampler(data, num_neighbors=[5, 3], seed=0)
    loader = LinkLoader(data, link_sampler=sampler, edge_label_index=pairs, edge_label=labels, batch_size=16, shuffle=False)
    _check_link_batches(data, loader, pairs, labels, 16)


def test_link_loader_with_binary_negative_sampling():
    data = _graph(7, n=300, m=2500)
    pairs = data.edge_index[:, :40]
    sampler = UniformNeighborSampler(data, num_neighbors=[4], seed=0)
    loader = LinkLoader(data, link_sampler=sampler, edge_label_index=pairs, batch_size=16, shuffle=False, neg_sampling="binary")
    total = 0
    for i, batch in enumerate(loader):
        n_pos = min(16, 40 - 16 * i)
        assert torch.equal(batch.n_id[batch.edge_label_index[:, :n_pos]], pairs[:, 16 * i : 16 * i + n_pos])
        assert batch.edge_label.tolist() == [1.0] * n_pos + [0.0] * n_pos
        assert torch.equal(batch.n_id[batch.edge_index], data.edge_index[:, batch.e_id])
        total += n_pos
    assert total == 40


def test_link_loader_workers_draw_fresh_repeatable_streams_each_epoch():
    data = _graph(8, n=300, m=4000)
    pairs = data.edge_index[:, :32]
    loader = LinkLoader(
        data,
        link_sampler=UniformNeighborSampler(data, num_neighbors=[3], seed=0),
        edge_label_index=pairs,
        batch_size=8,
        shuffle=False,
        num_workers=2,
    )

    def epoch(torch_seed):
        torch.manual_seed(torch_seed)
        return [batch.e_id for batch in loader]

    # the parent's generator never advances in the workers: without a per-worker stream every epoch would repeat
    first, again, other = epoch(0), epoch(0), epoch(1)
    assert len(first) == 4
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert any(not torch.equal(x, y) for x, y in zip(first, other))


def _hetero():
    h = HeteroData()
    h["a"].num_nodes = 3
    h["a", "to", "a"].edge_index = torch.tensor([[0, 1], [1, 2]])
    return h


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (lambda: _graph(0), {"replace": True}),
        (lambda: _graph(0), {"disjoint": True}),
        (lambda: _graph(0), {"subgraph_type": "induced"}),
        (lambda: _graph(0), {"subgraph_type": "bidirectional"}),
        (lambda: _graph(0), {"directed": False}),
        (lambda: _graph(0), {"sample_direction": "backward"}),
        (lambda: _graph(0), {"weight_attr": "edge_attr"}),
        (lambda: Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2, time=torch.arange(2)), {"time_attr": "time"}),
        (_hetero, {}),
        (lambda: _graph(0), {"num_neighbors": {("a", "to", "a"): [2]}}),
    ],
    ids=["replace", "disjoint", "induced", "bidirectional", "undirected", "backward", "weights", "time", "hetero", "dict-fanout"],
)
def test_unsupported_settings_raise_input_error(make, kwargs):
    kwargs = {"num_neighbors": [2], **kwargs}
    with pytest.raises(InputError) as err:
        UniformNeighborSampler(make(), **kwargs)
    assert "\n" not in str(err.value) and str(err.value)


def test_seed_ids_out_of_range_raise_input_error():
    sampler = UniformNeighborSampler(_graph(0), num_neighbors=[2])
    with pytest.raises(InputError):
        sampler._sample(torch.tensor([0, 60]))


def test_helpers_agree_with_numpy():
    rng = np.random.default_rng(9)
    segment = np.sort(rng.integers(0, 50, 500))
    key = rng.permutation(500)
    assert np.array_equal(_sort_by_segment_then_key(segment, key), np.lexsort((key, segment)))
    huge = segment + 2**61  # past the composite key's range: falls back to lexsort
    assert np.array_equal(_sort_by_segment_then_key(huge, key), np.lexsort((key, huge)))
    values = rng.integers(0, 40, 300)
    for got, want in zip(_unique_first(values), np.unique(values, return_index=True, return_inverse=True)):
        assert np.array_equal(got, want.reshape(-1))
    assert all(a.size == 0 for a in _unique_first(np.empty(0, dtype=np.int64)))
