"""Graph snapshots: counts, id mapping, range checks, the Parquet round trip, folders read from paths and URLs (any fsspec protocol) and the origin they record."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.snapshot import GraphSnapshot, simple_undirected


class TestSnapshot:
    def test_simple_undirected_counts(self):
        ei = np.array([[0, 1, 2, 2, 3], [1, 0, 2, 3, 2]])
        edges, stats = simple_undirected(ei, 4)
        assert edges.tolist() == [[0, 2], [1, 3]]
        assert stats == {"input": 5, "self_loops": 1, "duplicates": 2, "edges": 2}

    def test_from_edges_maps_ids_in_sorted_order(self):
        s = GraphSnapshot.from_edges(np.array([30, 10]), np.array([10, 20]), nodes=np.array([99]))
        assert s.node_ids.tolist() == [10, 20, 30, 99]
        assert s.edge_index.tolist() == [[2, 0], [0, 1]]
        assert s.index_of(np.array([99, 10])).tolist() == [3, 0]
        with pytest.raises(InputError, match="unknown node ids"):
            s.index_of(np.array([7]))

    def test_rejects_out_of_range_edges(self):
        with pytest.raises(InputError):
            GraphSnapshot(np.array([1, 2]), np.array([[0], [2]]))

    def test_parquet_round_trip(self, tmp_path):
        s = GraphSnapshot(
            np.array(["4:a:0", "4:a:1", "4:a:2"], dtype=object),
            np.array([[0, 1], [1, 2]]),
            edge_time=np.array([5.0, 6.0]),
            x=np.arange(6, dtype=float).reshape(3, 2),
            y=np.array([0, 1, 1]),
            meta={"source": "test"},
        )
        back = GraphSnapshot.from_parquet(s.to_parquet(tmp_path / "snap"))
        assert back.node_ids.tolist() == s.node_ids.tolist()
        assert np.array_equal(back.edge_index, s.edge_index)
        assert np.array_equal(back.edge_time, s.edge_time)
        assert np.array_equal(back.x, s.x) and np.array_equal(back.y, s.y)
        assert back.meta == {"source": "test"}


def snapshot() -> GraphSnapshot:
    return GraphSnapshot.from_edges(np.array([10, 20, 30]), np.array([20, 30, 10]), edge_time=np.array([1, 2, 3]),
                                    meta={"selection": "test"})


def assert_same(got: GraphSnapshot, want: GraphSnapshot) -> None:
    np.testing.assert_array_equal(got.node_ids, want.node_ids)
    np.testing.assert_array_equal(got.edge_index, want.edge_index)
    np.testing.assert_array_equal(got.edge_time, want.edge_time)
    assert got.meta == want.meta


def test_a_folder_is_read_from_its_path_or_its_url_and_records_its_url(tmp_path, monkeypatch):
    snap = snapshot()
    snap.to_parquet(tmp_path / "snap")
    monkeypatch.chdir(tmp_path)
    for location in (tmp_path / "snap", str(tmp_path / "snap") + "/", f"file://{tmp_path / 'snap'}", "snap"):
        back = GraphSnapshot.from_parquet(location)
        assert_same(back, snap)
        assert back.origin == f"file://{tmp_path / 'snap'}"
    assert snap.origin is None and back.with_().origin is None and back.with_(origin="x").origin == "x"


def test_a_folder_on_another_filesystem_is_read_by_url(tmp_path):
    snapshot().to_parquet(tmp_path / "snap")
    fs = fsspec.filesystem("memory")
    fs.put(str(tmp_path / "snap"), "/topo-graphdb-test/snap", recursive=True)
    try:
        back = GraphSnapshot.from_parquet("memory://topo-graphdb-test/snap")
        assert_same(back, snapshot())
        assert back.origin == "memory:///topo-graphdb-test/snap"
    finally:
        fs.rm("/topo-graphdb-test", recursive=True)


@pytest.mark.parametrize("location", ["missing-folder", "nope://bucket/snap"])
def test_a_location_without_a_snapshot_is_named(tmp_path, location):
    with pytest.raises(InputError, match="snapshot") as err:
        GraphSnapshot.from_parquet(tmp_path / location if "://" not in location else location)
    assert location in str(err.value)
