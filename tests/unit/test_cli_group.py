"""The CLI's error boundary: usage errors and errors after in-place progress are one line of their own."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from topo_graphdb.cli import _progress, main
from topo_graphdb.cli._group import _Group
from topo_graphdb.errors import InputError, interruption


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


def _fails_on_the_way_out_of_an_interrupt(error: Exception) -> None:
    """As the neo4j driver's clean-up can: an interrupt arrives, handling it raises ``error``."""
    try:
        raise KeyboardInterrupt("terminated (SIGTERM)")
    except KeyboardInterrupt:
        raise error  # noqa: B904  (implicitly chained, as a library's finally block does)


@pytest.mark.parametrize("error", [BufferError("Existing exports of data: object cannot be re-sized"), InputError("late")])
def test_an_error_raised_while_handling_an_interrupt_is_still_an_interrupt(error):
    group = _Group()

    @group.command()
    def work() -> None:
        _fails_on_the_way_out_of_an_interrupt(error)

    result = CliRunner().invoke(group, ["work"])
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["error: interrupted"]


def test_an_unexpected_error_without_an_interrupt_is_exit_1():
    group = _Group()

    @group.command()
    def work() -> None:
        raise BufferError("Existing exports of data")

    result = CliRunner().invoke(group, ["work"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: unexpected BufferError: Existing exports of data (run with -v for the traceback)"]


def test_the_interrupt_is_found_on_the_chain_and_cycles_end():
    try:
        _fails_on_the_way_out_of_an_interrupt(BufferError("x"))
    except BufferError as err:
        assert str(interruption(err)) == "terminated (SIGTERM)"
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert interruption(a) is None and interruption(ValueError("alone")) is None
    stop = KeyboardInterrupt()
    assert interruption(stop) is stop
