"""Byte sizes: one parser and one formatter, and every memory setting reads a size the same way."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from topo_graphdb import server
from topo_graphdb.cli import main
from topo_graphdb.config import load_config, parse_memory
from topo_graphdb.errors import InputError
from topo_graphdb.kernels.estimate import estimate_tc
from topo_graphdb.units import format_size, parse_size

GIB = 2**30
MIB = 2**20


@pytest.mark.parametrize(
    ("text", "expected"),
    [("4GB", 4 * GIB), ("4GiB", 4 * GIB), ("4g", 4 * GIB), ("4 gb", 4 * GIB), ("512M", 512 * MIB), ("512mib", 512 * MIB),
     ("1.5g", 1536 * MIB), (".5k", 512), ("65536", 65536), ("100b", 100), (65536, 65536), (1e9, 10**9), ("1T", 1024 * GIB)],
)  # fmt: skip
def test_binary_units_and_plain_bytes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "4 G B", "-1g", "1e9", "1.g", "g", "4x", "9" * 400 + "GB", 10**400, float("inf"), True, None])
def test_bad_sizes_are_one_line_errors_naming_the_setting_and_value(text):
    with pytest.raises(InputError) as info:
        parse_size(text, name="heap")
    message = str(info.value)
    assert message.startswith("heap must be a size like 512M or 8G") and repr(text)[:20] in message
    assert "\n" not in message


def test_minimum():
    assert parse_size("1M", minimum=MIB) == MIB
    with pytest.raises(InputError, match=r"budget must be at least 1\.0 MiB; got '1000k'"):
        parse_size("1000k", name="budget", minimum=MIB)
    with pytest.raises(InputError, match="at least 1 B"):
        parse_size("0m")


def test_formatter_for_people_and_for_the_jvm_reads_back():
    assert format_size(1536 * MIB) == "1.5 GiB"
    assert format_size(100) == "100 B"
    assert format_size(3 * 1024 * GIB) == "3.0 TiB"
    for size in (MIB, 512 * MIB, 1536 * MIB, 2 * GIB, 4096 * GIB):
        assert parse_size(format_size(size, jvm=True)) == size
    assert parse_size(format_size(4 * GIB)) == 4 * GIB
    assert format_size(1536 * MIB + 5, jvm=True) == "1536m"  # whole mebibytes, rounded down


def test_every_memory_setting_reads_4gb_as_4_gib(tmp_path):
    # The sync configuration (file and environment), the TC kernels and the local server.
    assert parse_memory("4GB") == 4 * GIB
    assert parse_memory("") is None
    cfg = load_config(None, environ={"TOPO_SYNC_SCORE_MEMORY_BUDGET": "4GB"})
    assert parse_memory(cfg.score.memory_budget) == 4 * GIB
    train = np.array([[0, 1, 2], [1, 2, 0]])
    assert estimate_tc(train, hops=2, backend="cpu", memory_budget="4GB").memory_budget == 4 * GIB
    assert server.parse_size is parse_size  # neo4j start --heap / --pagecache
    edges = tmp_path / "e.csv"
    edges.write_text("src,dst\n1,2\n2,3\n3,1\n")
    result = CliRunner().invoke(main, ["tc", "--edges", str(edges), "--hops", "2", "--estimate", "--memory-budget", "4GB"])
    assert result.exit_code == 0, result.output
    assert "budget 4.0 GiB" in result.stdout


def test_configured_memory_budget_is_at_least_1_mib():
    assert parse_memory("1MB") == MIB
    with pytest.raises(InputError, match="memory_budget must be at least 1.0 MiB"):
        parse_memory("1000KB")
