"""The database seam: sessions, access modes, retries and error translation (a fake driver, no server)."""

from __future__ import annotations

import pytest
from neo4j.exceptions import IncompleteCommit, ServiceUnavailable, SessionExpired

from topo_graphdb.connection import ConnectionSettings
from topo_graphdb.db import Database, connect
from topo_graphdb.errors import Neo4jUnavailable

SETTINGS = ConnectionSettings(uri="bolt://x", database="graph")


class _Driver:
    """A driver whose sessions play ``outcomes``: per ``execute_*`` call a list of what each run of the
    transaction function meets (an exception the driver retried, then the last: returned or raised)."""

    def __init__(self, outcomes=()):
        self.outcomes = list(outcomes)
        self.sessions: list[dict] = []
        self.closed = False

    def session(self, **kw):
        self.sessions.append(kw)
        driver = self

        class Session:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def _execute(self, work):
                runs = driver.outcomes.pop(0)
                for outcome in runs[:-1]:  # the driver retries these, running the work again
                    assert isinstance(outcome, (ServiceUnavailable, SessionExpired))
                    work("tx")
                out = work("tx")
                if isinstance(runs[-1], BaseException):
                    raise runs[-1]
                return runs[-1] if runs[-1] is not None else out

            execute_write = execute_read = _execute

            def run(self, query, params):
                class Result:
                    def to_eager_result(self):
                        return (query, params)

                return Result()

        return Session()

    def close(self):
        self.closed = True


def test_the_driver_s_reruns_of_a_transaction_count_as_retries():
    driver = _Driver([[ServiceUnavailable("down"), SessionExpired("gone"), None], [None]])
    db = Database(SETTINGS, driver=driver)
    assert db.write(lambda tx: "done", retry_time=60) == "done"
    assert db.retries == 2 and len(driver.sessions) == 1
    assert 59 < driver.sessions[0]["max_transaction_retry_time"] <= 60  # the driver retries for the whole window
    assert db.read(lambda tx: "read") == "read" and db.retries == 2


def test_an_unknown_commit_outcome_is_retried_in_a_new_session_until_the_window_passes():
    outcomes = [[IncompleteCommit("unknown")], [IncompleteCommit("unknown")], [IncompleteCommit("unknown")], [{"missing": 0}]]
    driver = _Driver(outcomes)
    db = Database(SETTINGS, driver=driver)
    assert db.write(lambda tx: None, retry_time=60) == {"missing": 0}
    assert db.retries == 3 and len(driver.sessions) == 4
    # the window has passed: a one-line Neo4jUnavailable
    db = Database(SETTINGS, driver=_Driver([[IncompleteCommit("unknown")]] * 3))
    with pytest.raises(Neo4jUnavailable, match=r"lost Neo4j at bolt://x \(database graph\) and it did not come back within 0 s"):
        db.write(lambda tx: None, retry_time=0)
    assert db.retries == 0


def test_a_server_that_does_not_come_back_within_the_window_is_one_line():
    db = Database(SETTINGS, driver=_Driver([[ServiceUnavailable("down")]]))
    with pytest.raises(Neo4jUnavailable, match=r"did not come back within 30 s \(ServiceUnavailable\)") as info:
        db.write(lambda tx: None, retry_time=30)
    assert "\n" not in str(info.value) and "re-run" in str(info.value)


def test_without_a_window_errors_translate_as_everywhere_and_nothing_is_rerun():
    db = Database(SETTINGS, driver=_Driver([[ServiceUnavailable("down")], [IncompleteCommit("unknown")]]))
    with pytest.raises(Neo4jUnavailable, match=r"cannot reach Neo4j at bolt://x \(database graph\)"):
        db.write(lambda tx: None)
    with pytest.raises(Neo4jUnavailable, match="cannot reach Neo4j"):  # IncompleteCommit is a ServiceUnavailable
        db.write(lambda tx: None)
    assert db.retries == 0 and len(db.driver.sessions) == 2


def test_sessions_name_the_database_the_access_mode_and_share_bookmarks():
    import neo4j

    driver = _Driver([[None], [None]])
    db = Database(SETTINGS, driver=driver)
    db.read(lambda tx: None, fetch_size=7)
    db.write(lambda tx: None)
    assert db.run("RETURN $x", {"x": 1}) == ("RETURN $x", {"x": 1})
    db.run("RETURN 1", read=True)
    read, write, run, run_read = driver.sessions
    assert all(s["database"] == "graph" for s in driver.sessions)
    assert len({id(s["bookmark_manager"]) for s in driver.sessions}) == 1  # each sees what the earlier wrote
    assert read["default_access_mode"] == neo4j.READ_ACCESS and read["fetch_size"] == 7
    assert "default_access_mode" not in write and "default_access_mode" not in run
    assert run_read["default_access_mode"] == neo4j.READ_ACCESS


def test_connect_opens_and_closes_for_settings_and_passes_an_open_database_through():
    driver = _Driver()
    db = Database(SETTINGS, driver=driver)
    with connect(db) as got:
        assert got is db
    assert not driver.closed  # the caller's database stays open
    with db:
        pass
    assert driver.closed
    with pytest.raises(Neo4jUnavailable, match="cannot reach Neo4j"), connect(ConnectionSettings(uri="bolt://127.0.0.1:9")):
        pass


def test_driver_settings_can_replace_the_defaults_for_one_database(monkeypatch):
    import neo4j

    opened = []
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", lambda uri, *, auth, **config: opened.append(config) or _Driver())
    Database(SETTINGS, verify=False)
    with Database(SETTINGS, verify=False, config={"connection_timeout": 2, "connection_acquisition_timeout": 2}) as db:
        pass
    default, probe = opened
    assert default["connection_timeout"] == 15 and "connection_acquisition_timeout" not in default
    assert probe["connection_timeout"] == probe["connection_acquisition_timeout"] == 2
    assert probe["max_transaction_retry_time"] == default["max_transaction_retry_time"] == 30  # the rest stays
    assert db.driver.closed
