"""The one exception hierarchy of topo_graphdb.

Library code raises these (with ``raise ... from err`` and a hint for the fix);
only :mod:`topo_graphdb.cli` turns them into one-line messages and exit codes.
The exit codes are documented in the README ("Exit codes").
"""

from __future__ import annotations

__all__ = [
    "TopoGraphError",
    "InputError",
    "SchemaError",
    "EmptyGraphError",
    "Neo4jUnavailable",
    "AuthError",
    "WriteNotAllowed",
    "BackendUnavailable",
    "ServerError",
    "BudgetExceeded",
    "LockHeld",
    "DriftAlert",
    "RuntimeLimitReached",
    "interruption",
]


class TopoGraphError(Exception):
    """Base class of every error topo_graphdb raises on purpose.

    Parameters
    ----------
    message:
        What went wrong, one line.
    hint:
        Optional: how to fix it, appended to the message as ``(hint: ...)``.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:  # one line, always
        text = self.message if not self.hint else f"{self.message} (hint: {self.hint})"
        return " ".join(text.split())


class InputError(TopoGraphError):
    """Bad user input: a missing file or column, a value out of range."""

    exit_code = 3


class SchemaError(InputError):
    """The database does not hold what the selection names (unknown label, type, property)."""

    exit_code = 3


class EmptyGraphError(InputError):
    """The input or the selection has no edges (or no nodes) to work on."""

    exit_code = 3


class Neo4jUnavailable(TopoGraphError):
    """The Neo4j server cannot be reached (or the database does not exist)."""

    exit_code = 4


class AuthError(TopoGraphError):
    """The server refused the credentials."""

    exit_code = 5


class WriteNotAllowed(TopoGraphError):
    """The database is read-only or the user may not write."""

    exit_code = 6


class BackendUnavailable(TopoGraphError):
    """The requested compute backend (e.g. ``gpu``) cannot be used here."""

    exit_code = 7


class ServerError(TopoGraphError):
    """The local Neo4j server could not be assembled, started or stopped."""

    exit_code = 8


class BudgetExceeded(TopoGraphError):
    """The work does not fit the memory budget."""

    exit_code = 9


class LockHeld(TopoGraphError):
    """Another sync holds the lock for this database and selection."""

    exit_code = 10


class DriftAlert(TopoGraphError):
    """The drift monitor's threshold was crossed."""

    exit_code = 11


class RuntimeLimitReached(TopoGraphError):
    """``--max-runtime`` ended the run before it finished."""

    exit_code = 12


def interruption(err: BaseException) -> KeyboardInterrupt | None:
    """The interrupt (Ctrl-C, or SIGTERM during a sync) that ``err`` is or was raised while handling, else None.

    A library's clean-up can itself fail on the way out of an interrupt (the
    neo4j driver's packing buffer: ``BufferError: Existing exports of data``);
    what happened is still the interrupt, found on the ``__cause__`` /
    ``__context__`` chain.
    """
    seen: set[int] = set()
    node: BaseException | None = err
    while node is not None and id(node) not in seen:
        if isinstance(node, KeyboardInterrupt):
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None
