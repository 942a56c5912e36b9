"""A fake of the database seam (:class:`topo_graphdb.db.Database`) for tests without a server."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from topo_graphdb.connection import ConnectionSettings


class FakeDatabase:
    """What :class:`~topo_graphdb.db.Database` offers (``read``, ``write``, ``run``), without a server.

    Each unit of work gets a fake transaction whose ``run(query, params=None, **kw)`` records the
    call and answers with the rows (a list of dicts) that ``answer(query, params)`` returns
    (default: no rows), as a driver result. ``run`` does the same outside a transaction. Thread-safe (the batch runner writes from several threads).
    """

    def __init__(self, answer=None):
        self.settings = ConnectionSettings(uri="bolt://fake.invalid:7687")
        self.database = self.settings.database
        self.retries = 0
        self.calls: list[tuple[str, str, dict[str, Any]]] = []  # (mode, query, params)
        self.retry_times: list[float | None] = []
        self.answer = answer or (lambda query, params: [])
        self._lock = threading.Lock()

    def _tx(self, mode: str) -> Any:
        db = self

        class Tx:
            def run(self, query, params=None, **kw):
                params = {**(params or {}), **kw}
                with db._lock:
                    db.calls.append((mode, query, params))
                return FakeResult(db.answer(query, params))

        return Tx()

    def read(self, work, *, fetch_size=None):
        return work(self._tx("read"))

    def write(self, work, *, retry_time=None):
        with self._lock:
            self.retry_times.append(retry_time)
        return work(self._tx("write"))

    def run(self, query, params=None, *, read=False):
        return self._tx("run-read" if read else "run").run(query, params)

    def close(self):
        pass


class FakeResult:
    """Rows as a driver result: iterable records (dicts), ``single``, ``data``, ``consume``, ``keys``, ``records``."""

    def __init__(self, rows):
        self.records = [dict(r) for r in rows]
        self.keys = list(self.records[0]) if self.records else []

    def __iter__(self):
        return iter(self.records)

    def single(self, strict=False):
        if strict and len(self.records) != 1:
            raise ValueError(f"expected one record, got {len(self.records)}")
        return FakeRecord(self.records[0]) if self.records else None

    def consume(self):
        return None


class FakeRecord(dict):
    def data(self):
        return dict(self)


@pytest.fixture
def fake_db():
    """A factory: ``fake_db(answer=None)`` gives a fresh :class:`FakeDatabase`."""
    return FakeDatabase
