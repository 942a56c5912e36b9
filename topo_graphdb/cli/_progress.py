"""Progress on stderr for every command: one printer, and the guarantee that an error starts its own line.

On a terminal a phase's count is updated in place (``\\r``); otherwise only
finished phases are printed, one line each, so logs and pipes never hold
carriage returns. :func:`end_line` closes a line left open by an in-place
update; the CLI's error boundary calls it before printing an error.
"""

from __future__ import annotations

import sys
import time

import click

from ..progress import Progress

__all__ = ["progress_printer", "end_line"]

_state = {"open": False}


def end_line() -> None:
    """Finish an in-place progress line, if one is open."""
    if _state["open"]:
        click.echo("", err=True)
        _state["open"] = False


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def progress_printer(*, every: float = 0.2) -> Progress:
    """``show(phase, done, total)``: in place on a terminal (at most every ``every`` s), else a line per finished phase."""
    tty = _stderr_is_terminal()
    last = {"t": 0.0}

    def show(phase: str, done: int, total: int) -> None:
        finished = done >= total
        if not tty:
            if finished:
                click.echo(f"{phase}: {done:,}/{total:,}", err=True)
            return
        now = time.perf_counter()
        if not finished and now - last["t"] < every:
            return
        last["t"] = now
        click.echo(f"\r{phase}: {done:,}/{max(total, done):,}   ", err=True, nl=finished)
        _state["open"] = not finished

    return show
