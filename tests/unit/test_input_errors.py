"""Bad input files and values: exact integer ids, one-line errors with exit 3, never silent corruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from topo_graphdb.cli import main
from topo_graphdb.config import load_config
from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.connector import Predicate, parse_predicate
from topo_graphdb.edgefile import (
    INT64_MAX,
    INT64_MIN,
    read_edge_csv,
    read_node_list,
    read_node_values,
    read_scored_links,
)
from topo_graphdb.errors import EmptyGraphError, InputError

# nothing listens on port 9 (discard): a command that got past its input checks fails with exit 4
UNREACHABLE = ConnectionSettings(uri="bolt://127.0.0.1:9")


def invoke(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, code: int, *texts: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in texts:
        assert text in lines[0], result.stderr


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# --------------------------------------------------------------------------- integer ids
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("18446744073709551617", "outside the 64-bit id range"),  # 2^64 + 1: wrapped to 1 before
        ("18446744073709551618", "outside the 64-bit id range"),
        ("9223372036854775808", "outside the 64-bit id range"),  # 2^63: wrapped negative before
        ("-9223372036854775809", "outside the 64-bit id range"),
        ("1e1", "must hold integer ids; got '1e1'"),  # read as 10 before
        ("3.0", "must hold integer ids; got '3.0'"),  # read as 3 before
        ("0x10", "must hold integer ids"),
        ("1_000", "must hold integer ids"),
        ("٣", "must hold integer ids"),  # a digit of another script
        ("", "is empty"),
    ],
)
def test_tc_refuses_ids_that_are_not_exact_int64(tmp_path, value, message):
    edges = write(tmp_path, "e.csv", f"src,dst\n1,2\n{value},1\n2,3\n")
    result = invoke("tc", "--edges", edges, "--output", tmp_path / "out.csv")
    assert_one_line_error(result, 3, f"{edges} line 3: column 'src'", message)
    assert not (tmp_path / "out.csv").exists()


def test_the_reported_repro_large_ids_no_longer_collapse(tmp_path):
    edges = write(tmp_path, "h.csv", "src,dst\n18446744073709551617,1\n18446744073709551618,1\n1,2\n")
    assert_one_line_error(invoke("tc", "--edges", edges, "--output", tmp_path / "o.csv"), 3, "line 2", "18446744073709551617")


def test_int64_bounds_and_spelling_are_exact(tmp_path):
    edges = write(tmp_path, "e.csv", f"src,dst\n{INT64_MIN}, {INT64_MAX}\n+7,0007\n-0,9007199254740993\n")
    table = read_edge_csv(edges)
    assert table.src.tolist() == [INT64_MIN, 7, 0]
    assert table.dst.tolist() == [INT64_MAX, 7, 2**53 + 1]  # not rounded through float


def test_line_numbers_count_blank_lines(tmp_path):
    edges = write(tmp_path, "e.csv", "src,dst\n1,2\n\n\n2,x\n")
    with pytest.raises(InputError, match=r"line 5: column 'dst' must hold integer ids; got 'x'"):
        read_edge_csv(edges)


def test_time_column_must_be_finite(tmp_path):
    edges = write(tmp_path, "e.csv", "src,dst,t\n1,2,5\n2,3,inf\n")
    with pytest.raises(InputError, match=r"line 3: column 't' must be a finite number"):
        read_edge_csv(edges, time_col="t")


def test_load_edges_checks_ids_before_connecting(tmp_path):
    from topo_graphdb.loader import load_edges

    edges = write(tmp_path, "h.csv", "src,dst\n18446744073709551617,1\n18446744073709551618,1\n1,2\n")
    with pytest.raises(InputError, match="outside the 64-bit id range"):
        load_edges(UNREACHABLE, edges, label="L", rel_type="R")


def test_load_edges_keeps_large_ids_exact_next_to_float_times(tmp_path, fake_db):
    from topo_graphdb import loader

    big = 2**53 + 1  # not a float64 value: stacking ids with float times turned it into 2**53
    edges = write(tmp_path, "e.csv", f"src,dst,t\n{big},{INT64_MAX},1.5\n{big},{INT64_MAX},1.5\n1,2,2.25\n")
    db = fake_db(lambda query, params: [{"n": 0}])  # answers the relationship count with 0
    report = loader.load_edges(db, edges, label="L", rel_type="R", time_col="t")
    node_rows, rel_rows = [params["rows"] for mode, _, params in db.calls if mode == "write"]
    assert sorted(r["id"] for r in node_rows) == [1, 2, big, INT64_MAX]
    assert rel_rows == [[1, 2, 2.25], [big, INT64_MAX, 1.5]]
    assert report.duplicates_skipped == 1


# --------------------------------------------------------------------------- node lists (tc --nodes)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (bytes(range(256)) * 4, "not a readable CSV text file"),
        (b"\xff\xfe\x00\x01garbage\n", "not a readable CSV text file"),
        (b"node\n1\n2.5\n", "line 3: column 'node' must hold integer ids"),
        (b"5\n99999999999999999999\n", "line 2: column 'node' holds '99999999999999999999'"),
    ],
)
def test_tc_nodes_file_errors_are_exit_3(tmp_path, content, message):
    edges = write(tmp_path, "e.csv", "src,dst\n1,2\n2,3\n")
    nodes = write(tmp_path, "nodes.csv", content)
    result = invoke("tc", "--edges", edges, "--nodes", nodes, "--output", tmp_path / "o.csv")
    assert_one_line_error(result, 3, message)


def test_headerless_node_list_keeps_its_first_id(tmp_path):
    assert read_node_list(write(tmp_path, "n.txt", "5\n\n7\n")).tolist() == [5, 7]
    assert read_node_list(write(tmp_path, "n.csv", "id\n-3\n")).tolist() == [-3]


# --------------------------------------------------------------------------- evaluate
def test_evaluate_with_a_header_only_test_file_is_exit_3(tmp_path):
    train = write(tmp_path, "train.csv", "src,dst\n0,1\n1,2\n2,0\n2,3\n")
    valid = write(tmp_path, "valid.csv", "src,dst\n0,3\n")
    test = write(tmp_path, "test.csv", "src,dst\n")
    result = invoke("evaluate", "--train-edges", train, "--valid-edges", valid, "--test-edges", test,
                    "--model", "cn", "--no-plots", "--output-dir", tmp_path / "out")  # fmt: skip
    assert_one_line_error(result, 3, f"{test} has a header but no edges")
    assert not (tmp_path / "out" / "report.json").exists()


# --------------------------------------------------------------------------- write --from / --links
def test_write_key_ids_mixing_integers_and_text_are_refused(tmp_path):
    nodes = write(tmp_path, "n.csv", "node,score\n1,0.5\n2,0.1\nabc,0.2\n")
    with pytest.raises(InputError, match=r"mix integers and text \(line 2 'node' has '1', line 4 'node' has 'abc'\)"):
        read_node_values(nodes, integer_keys=True)
    # the CLI refuses it before connecting (exit 3, not 4)
    result = invoke("write", "--from", nodes, "--label", "L", "--key-property", "uid", "--uri", UNREACHABLE.uri)
    assert_one_line_error(result, 3, "mix integers and text")


def test_write_links_key_ids_are_one_type_across_src_and_dst(tmp_path):
    links = write(tmp_path, "l.csv", "src,dst,score\n1,2,0.5\n2,x7,0.5\n")
    with pytest.raises(InputError, match="mix integers and text"):
        read_scored_links(links, integer_keys=True)
    src, dst, score = read_scored_links(links, integer_keys=False)  # element ids: always text
    assert src.tolist() == ["1", "2"] and dst.tolist() == ["2", "x7"] and score.tolist() == [0.5, 0.5]


@pytest.mark.parametrize("bad", ["1e1", "3.0", "18446744073709551617"])
def test_write_key_ids_are_exact_integers(tmp_path, bad):
    nodes = write(tmp_path, "n.csv", f"node,score\n1,0.5\n{bad},0.1\n")
    with pytest.raises(InputError, match="line 3"):
        read_node_values(nodes, integer_keys=True)


def test_write_reads_integer_keys_and_typed_values(tmp_path):
    nodes = write(tmp_path, "n.csv", f"node,score,count,kind\n{INT64_MAX},0.5,3,a\n-4,,9007199254740993,\n")
    ids, cols = read_node_values(nodes, integer_keys=True)
    assert ids.dtype == np.int64 and ids.tolist() == [INT64_MAX, -4]
    assert np.isnan(cols["score"][1]) and cols["count"].tolist() == [3, 2**53 + 1]
    assert cols["kind"].tolist() == ["a", None]
    text_ids, _ = read_node_values(write(tmp_path, "t.csv", "node,x\nu-1,1\nu-2,2\n"), integer_keys=True)
    assert text_ids.tolist() == ["u-1", "u-2"]


def test_write_header_only_file_is_an_error(tmp_path):
    with pytest.raises(EmptyGraphError, match="no rows to write"):
        read_node_values(write(tmp_path, "n.csv", "node,score\n"), integer_keys=True)
    with pytest.raises(EmptyGraphError, match="no links to write"):
        read_scored_links(write(tmp_path, "l.csv", "src,dst,score\n"))


# --------------------------------------------------------------------------- --where and sync config
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = " + "[" * 5000, "nested deeper than 32 levels"),
        ("x IN " + "[" * 3000 + "]" * 3000, "nested deeper than 32 levels"),
        ("x = 99999999999999999999", "outside the 64-bit range"),
        ("x IN [1, -9223372036854775809]", "outside the 64-bit range"),
        ('x = "\\ud800"', "not valid Unicode"),
    ],
)
def test_where_values_neo4j_cannot_take_are_input_errors(text, message):
    with pytest.raises(InputError, match=message) as info:
        parse_predicate(text)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_where_accepts_the_int64_range_and_moderate_nesting():
    assert parse_predicate(f"x IN [{INT64_MIN}, {INT64_MAX}]").value == (INT64_MIN, INT64_MAX)
    assert parse_predicate("x = " + "[" * 32 + "]" * 32).value is not None
    with pytest.raises(InputError, match="outside the 64-bit range"):
        Predicate("x", "=", 2**64)


def test_sync_config_deep_nesting_and_huge_numbers_are_input_errors(tmp_path):
    deep = write(tmp_path, "deep.toml", "[selection]\nlabels = " + "[" * 5000 + "\n")
    with pytest.raises(InputError, match="nested too deeply"):
        load_config(deep, environ={})
    with pytest.raises(InputError, match="TOPO_SYNC_SELECTION_WHERE"):
        load_config(None, environ={"TOPO_SYNC_SELECTION_WHERE": "[" * 5000})
    with pytest.raises(InputError, match="TOPO_SYNC_SCORE_MEMORY_BUDGET must be a size"):
        load_config(None, environ={"TOPO_SYNC_SCORE_MEMORY_BUDGET": "9" * 400 + "GB"})
    with pytest.raises(InputError, match="must be a number"):
        load_config(None, overrides={"predict.min_score": 10**400}, environ={})
