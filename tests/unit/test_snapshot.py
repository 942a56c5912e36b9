"""Snapshot folders read from paths and URLs (any fsspec protocol), and the origin they record."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest

from topo_graphdb.errors import InputError
from topo_graphdb.snapshot import GraphSnapshot


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
