"""Edge and node list files: ids, the time column, one-line errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from topo_graphdb.edgefile import read_edge_csv, read_node_list
from topo_graphdb.errors import EmptyGraphError, InputError


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


class TestEdgeFile:
    def test_reads_ids_and_ignores_other_columns(self, tmp_path):
        p = write(tmp_path, "e.csv", "src,dst,weight\n1,2,0.5\n2,3,1.0\n")
        t = read_edge_csv(p)
        assert t.src.tolist() == [1, 2] and t.dst.tolist() == [2, 3]
        assert t.src.dtype == np.int64

    def test_time_column(self, tmp_path):
        p = write(tmp_path, "e.csv", "src,dst,t\n1,2,10\n2,3,20\n")
        assert read_edge_csv(p, time_col="t").time.tolist() == [10, 20]

    @pytest.mark.parametrize(
        "text, exc, words",
        [
            ("a,b\n1,2\n", InputError, "missing column"),
            ("src,dst\n1,x\n", InputError, "integer ids"),
            ("src,dst\n1,2.5\n", InputError, "integer ids"),
            ("src,dst\n", EmptyGraphError, "no edges"),
            ("", EmptyGraphError, "empty"),
        ],
    )
    def test_bad_input_is_one_line(self, tmp_path, text, exc, words):
        p = write(tmp_path, "e.csv", text)
        with pytest.raises(exc) as info:
            read_edge_csv(p)
        assert words in str(info.value) and "\n" not in str(info.value)

    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="not found"):
            read_edge_csv(tmp_path / "nope.csv")

    def test_node_list_with_and_without_header(self, tmp_path):
        assert read_node_list(write(tmp_path, "a.csv", "node\n3\n1\n")).tolist() == [3, 1]
        assert read_node_list(write(tmp_path, "b.txt", "5\n6\n")).tolist() == [5, 6]
