"""The one door to Neo4j: a :class:`Database` runs every query the package sends.

A :class:`Database` owns the driver of one set of :class:`~topo_graphdb.connection.ConnectionSettings`
and opens a session for each unit of work, in the access mode the work needs (the sessions
share one bookmark manager, so each unit of work sees what the earlier ones wrote, as they
would in one session):

* :meth:`Database.read` and :meth:`Database.write` run a function of a transaction
  as a *managed* transaction: the driver retries it on transient errors and on a lost
  connection (a new connection, the function again) for up to ``retry_time`` seconds.
* :meth:`Database.run` sends one auto-commit query (schema commands,
  ``CALL {...} IN TRANSACTIONS``), which nothing retries: opened with ``verify=False``,
  a :class:`Database` whose first query is a :meth:`~Database.run` answers at once, so a
  readiness probe fails fast instead of waiting out the retry window.

The database is the one the settings name (``"system"`` for user administration).

Driver errors leave every method translated by
:func:`~topo_graphdb.connection.translate_errors` into :mod:`topo_graphdb.errors`. Code that
reads or writes the database takes a :class:`Database` (or settings, through :func:`connect`),
so tests can hand it a small fake with the same three methods.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .connection import ConnectionSettings, open_driver, translate_errors
from .errors import Neo4jUnavailable

__all__ = ["Database", "connect", "quiet_params"]

T = TypeVar("T")


class _Rows(list):
    """A list parameter whose ``repr`` is its length: the driver formats every query's parameters
    for its debug log before it checks the log level, and the ``repr`` of a 10,000-row batch costs
    about 0.2 s of client CPU. The driver sends it as the list it is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<list of {len(self):,} values>"


def quiet_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """``params`` with every list value passed as :class:`_Rows` (same values, a short ``repr``)."""
    return {k: _Rows(v) if isinstance(v, list) and not isinstance(v, _Rows) else v for k, v in (params or {}).items()}


class Database:
    """Runs queries on one Neo4j database; owns the driver (a context manager closes it).

    Parameters
    ----------
    settings : where and who (the password is never shown).
    verify : check the connection and credentials when opening (see
        :func:`~topo_graphdb.connection.open_driver`).
    driver : an open :class:`neo4j.Driver` to use instead of opening one; it is
        closed with the :class:`Database`.
    config : driver settings that replace the defaults of
        :func:`~topo_graphdb.connection.open_driver` (e.g. shorter connection timeouts for
        a readiness probe).

    Attributes
    ----------
    retries : transactions run again since the :class:`Database` was opened (by the
        driver's managed-transaction retry, or after an unknown commit outcome).
    """

    def __init__(
        self, settings: ConnectionSettings, *, verify: bool = True, driver: Any = None, config: dict[str, Any] | None = None
    ):
        import neo4j  # noqa: PLC0415

        self.settings = settings
        self.driver = driver if driver is not None else open_driver(settings, verify=verify, config=config)
        self._bookmarks = neo4j.GraphDatabase.bookmark_manager()
        self.retries = 0
        self._lock = threading.Lock()

    @property
    def database(self) -> str:
        return self.settings.database

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ units of work
    def read(self, work: Callable[[Any], T], *, fetch_size: int | None = None) -> T:
        """``work(tx)`` in a managed read transaction; the server refuses writes in it.

        ``fetch_size`` : records per network page (the driver's default when None).
        """
        import neo4j  # noqa: PLC0415

        options: dict[str, Any] = {"default_access_mode": neo4j.READ_ACCESS}
        if fetch_size is not None:
            options["fetch_size"] = fetch_size
        with translate_errors(self.settings), self._session(**options) as session:
            return session.execute_read(self._counted(work))

    def write(self, work: Callable[[Any], T], *, retry_time: float | None = None) -> T:
        """``work(tx)`` in a managed write transaction.

        Without ``retry_time`` the driver retries for its own 30 s. With it, ``work``
        must be idempotent (running it twice leaves what running it once leaves): the
        driver retries for ``retry_time`` seconds, so a write outlives a server restart,
        and an unknown commit outcome (the connection broke during the commit) is
        retried in a new session within the same time. When the server is still away
        after that: :class:`Neo4jUnavailable`.
        """
        if retry_time is None:
            with translate_errors(self.settings), self._session() as session:
                return session.execute_write(self._counted(work))
        return self._write_within(work, float(retry_time))

    def run(self, query: str, params: dict[str, Any] | None = None, *, read: bool = False) -> Any:
        """One auto-commit query; returns its :class:`neo4j.EagerResult` (``records``, ``keys``, ``summary``).

        Auto-commit queries are not retried; ``CALL {...} IN TRANSACTIONS`` and
        schema commands need them. With ``read`` the session is a read session.
        """
        import neo4j  # noqa: PLC0415

        options = {"default_access_mode": neo4j.READ_ACCESS} if read else {}
        with translate_errors(self.settings), self._session(**options) as session:
            return session.run(query, quiet_params(params)).to_eager_result()

    # ------------------------------------------------------------------ internals
    def _session(self, **options: Any) -> Any:
        # one bookmark manager: each unit of work sees what the earlier ones wrote, as in one session
        return self.driver.session(database=self.settings.database, bookmark_manager=self._bookmarks, **options)

    def _counted(self, work: Callable[[Any], T]) -> Callable[[Any], T]:
        """``work`` that counts every call after its first as a retry."""
        calls = 0

        def counted(tx: Any) -> T:
            nonlocal calls
            calls += 1
            if calls > 1:
                self._count_retry()
            return work(tx)

        return counted

    def _count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def _write_within(self, work: Callable[[Any], T], retry_time: float) -> T:
        from neo4j.exceptions import IncompleteCommit, ServiceUnavailable, SessionExpired, TransientError  # noqa: PLC0415

        deadline = time.monotonic() + retry_time
        with translate_errors(self.settings):
            while True:  # only an unknown commit outcome comes round again; the driver retries the rest
                try:
                    with self._session(max_transaction_retry_time=max(0.0, deadline - time.monotonic())) as session:
                        return session.execute_write(self._counted(work))
                except IncompleteCommit as err:
                    if time.monotonic() >= deadline:
                        raise self._gone(retry_time, err) from err
                    self._count_retry()
                except (ServiceUnavailable, SessionExpired, TransientError) as err:
                    raise self._gone(retry_time, err) from err

    def _gone(self, retry_time: float, err: BaseException) -> Neo4jUnavailable:
        return Neo4jUnavailable(
            f"lost Neo4j at {self.settings.describe()} and it did not come back within "
            f"{retry_time:g} s ({type(err).__name__})",
            hint="re-run the same write when the server is back: writes are idempotent",
        )


@contextlib.contextmanager
def connect(conn: ConnectionSettings | Database, *, verify: bool = True) -> Iterator[Database]:
    """A :class:`Database` for ``conn``: opened here and closed at the end for settings,
    used as it is (and left open) when ``conn`` already is one (or a fake of one)."""
    if not isinstance(conn, ConnectionSettings):
        yield conn
        return
    with Database(conn, verify=verify) as db:
        yield db
