"""The CLI's error boundary: usage errors and errors after in-place progress are one line of their own."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from topo_graphdb.cli import _progress, main
from topo_graphdb.cli._group import _Group
from topo_graphdb.errors import InputError


@pytest.mark.parametrize(
    "args, text",
    [
        (["tc"], "Missing option '--edges'"),
        (["tc", "--edges", "x.csv", "--hops", "two"], "'two' is not a valid integer"),
        (["nosuch"], "No such command 'nosuch'"),
        (["tc", "--backend", "tpu", "--edges", "x.csv"], "'tpu' is not one of"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args, text):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr
    assert "--help" in lines[0]


def test_error_after_in_place_progress_starts_its_own_line(monkeypatch):
    group = _Group()

    @group.command()
    def work() -> None:
        show = _progress.progress_printer()
        show("nodes", 0, 787)
        raise InputError("the selection is bad")

    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    result = CliRunner().invoke(group, ["work"])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == "error: the selection is bad"
    assert "\rnodes: 0/787" in result.stderr


def test_progress_without_terminal_prints_only_finished_phases():
    group = _Group()

    @group.command()
    def work() -> None:
        show = _progress.progress_printer()
        for done in (0, 400, 787):
            show("nodes", done, 787)
        raise InputError("late failure")

    result = CliRunner().invoke(group, ["work"])
    assert result.stderr.splitlines() == ["nodes: 787/787", "error: late failure"]
    assert "\r" not in result.stderr
