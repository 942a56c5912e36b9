"""The batch runner of the write-back: concurrency, failure, pacing (a fake database, no server)."""

from __future__ import annotations

import threading

import pytest

from topo_graphdb import batches as B
from topo_graphdb.errors import InputError


class _Echo:
    """Answers each batch with its number; counts how many run at once.

    With ``together``, the batches numbered below ``together.parties`` wait at that barrier
    inside their transaction: they get through only if that many run at the same time (a
    broken barrier, after its timeout, fails the batch)."""

    def __init__(self, fail_on=None, together=None):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.fail_on = fail_on
        self.together = together

    def __call__(self, query, params):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if self.together is not None and params["i"] < self.together.parties:
                self.together.wait()
        finally:
            with self.lock:
                self.running -= 1
        if params["i"] == self.fail_on:
            raise ValueError(f"batch {params['i']} failed")
        return [{"i": params["i"]}]


@pytest.mark.parametrize("workers", [1, 3])
def test_runner_runs_every_batch_once_with_at_most_workers_at_a_time(fake_db, workers):
    # the first `workers` batches meet at a barrier: the runner must run that many at once
    echo = _Echo(together=threading.Barrier(workers, timeout=60))
    db = fake_db(echo)
    runner = B.BatchRunner(db, reconnect_timeout=1, rate_limit=None, workers=workers)
    done = []
    runner.write_all("Q", (({"i": i}, 10 + i) for i in range(10)), lambda out, rows: done.append((out["i"], rows)))
    assert sorted(done) == [(i, 10 + i) for i in range(10)]
    assert echo.most == workers  # never more than `workers` in flight
    assert db.retry_times == [1] * 10  # each batch may outlive a restart of reconnect_timeout seconds
    assert {mode for mode, _, _ in db.calls} == {"write"}


def test_runner_reports_batches_in_the_order_of_the_jobs(fake_db):
    # each even batch ends only after the odd one started beside it has run, so batches end out of order
    ran = [threading.Event() for _ in range(20)]

    def out_of_order(query, params):
        i = params["i"]
        if i % 2 == 0 and not ran[i + 1].wait(timeout=60):
            raise TimeoutError(f"batch {i + 1} never ran beside batch {i}")
        ran[i].set()
        return [{"i": i}]

    runner = B.BatchRunner(fake_db(out_of_order), reconnect_timeout=1, rate_limit=None, workers=2)
    done = []
    runner.write_all("Q", (({"i": i}, 1) for i in range(20)), lambda out, rows: done.append(out["i"]))
    assert done == list(range(20))


def test_a_runner_with_fewer_workers_cannot_meet_the_barrier(fake_db):
    """The barrier proves concurrency: two batches cannot meet with one worker."""
    runner = B.BatchRunner(fake_db(_Echo(together=threading.Barrier(2, timeout=0.5))), reconnect_timeout=1, rate_limit=None, workers=1)
    with pytest.raises(threading.BrokenBarrierError):
        runner.write_all("Q", (({"i": i}, 1) for i in range(3)), lambda out, rows: None)


def test_runner_raises_the_first_failure_and_starts_no_new_batch(fake_db):
    runner = B.BatchRunner(fake_db(_Echo(fail_on=2)), reconnect_timeout=1, rate_limit=None, workers=2)
    started = []

    def jobs():
        for i in range(50):
            started.append(i)
            yield {"i": i}, 1

    with pytest.raises(ValueError, match="batch 2 failed"):
        runner.write_all("Q", jobs(), lambda out, rows: None)
    assert len(started) < 10


def test_runner_reads_in_a_read_transaction(fake_db):
    db = fake_db(_Echo())
    assert B.BatchRunner(db, reconnect_timeout=1, rate_limit=None).read("Q", {"i": 7}) == {"i": 7}
    assert db.calls == [("read", "Q", {"i": 7})] and db.retry_times == []


class _FakeTime:
    """A clock that only moves when slept on (or told to); records the sleeps."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_spaces_batches_by_the_rows_already_sent():
    t = _FakeTime()
    pacer = B.RatePacer(10, clock=t.clock, sleep=t.sleep)
    waits = [pacer.wait(rows) for rows in (2, 2, 5, 1, 2)]
    # batch k starts (rows before it) / 10 s after batch 0: at 0, 0.2, 0.4, 0.9, 1.0; nothing after the last
    assert waits == pytest.approx([0.0, 0.2, 0.2, 0.5, 0.1])
    assert t.sleeps == pytest.approx([0.2, 0.2, 0.5, 0.1])
    assert t.now == pytest.approx(101.0) and pacer.rows == 12 and pacer.waited == pytest.approx(1.0)


def test_pacer_does_not_wait_for_time_already_spent_and_never_without_a_rate():
    t = _FakeTime()
    pacer = B.RatePacer(10, clock=t.clock, sleep=t.sleep)
    pacer.wait(2)
    t.now += 1.0  # the first batch took a second: the next four are already due
    assert [pacer.wait(2) for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, 0.0]
    assert pacer.wait(2) == pytest.approx(0.2) and t.sleeps == [pytest.approx(0.2)]
    unlimited = B.RatePacer(None, clock=t.clock, sleep=t.sleep)
    assert [unlimited.wait(10**6) for _ in range(3)] == [0.0, 0.0, 0.0] and len(t.sleeps) == 1


@pytest.mark.parametrize("workers", [1, 3])
def test_runner_paces_every_batch_before_it_starts(fake_db, monkeypatch, workers):
    t = _FakeTime()
    pacers = []
    real = B.RatePacer

    def pacer(rate):
        pacers.append(real(rate, clock=t.clock, sleep=t.sleep))
        return pacers[-1]

    monkeypatch.setattr(B, "RatePacer", pacer)
    runner = B.BatchRunner(fake_db(_Echo()), reconnect_timeout=1, rate_limit=4, workers=workers)
    started_at = []

    def jobs():
        for i in range(5):
            yield {"i": i}, 2
            started_at.append(t.now)  # resumed only after the batch was handed over

    runner.write_all("Q", jobs(), lambda out, rows: None)
    [p] = pacers
    assert p.rate == 4 and p.rows == 10
    assert t.sleeps == pytest.approx([0.5] * 4)  # 2 rows at 4 rows/s before each batch after the first
    assert started_at == pytest.approx([100.0, 100.5, 101.0, 101.5, 102.0])


def test_batch_settings_are_checked():
    with pytest.raises(InputError, match="batch_size must be an integer in 1..100000"):
        B.check_batch(0, None, 1)
    with pytest.raises(InputError, match="rate_limit"):
        B.check_batch(1, -1, 1)
    with pytest.raises(InputError, match="reconnect_timeout"):
        B.check_batch(1, None, -1)
    with pytest.raises(InputError, match="workers must be an integer in 1..16"):
        B.check_workers(17)
    assert list(B.spans(5, 2)) == [(0, 2), (2, 4), (4, 5)]


@pytest.mark.parametrize("mode", ["write", "read"])
def test_runner_hands_the_driver_list_parameters_with_a_short_repr(fake_db, mode):
    # the driver formats the parameters of every query for its debug log, log level or not
    db = fake_db(lambda query, params: [{"n": len(params["rows"])}])
    rows = [[f"id{i}", [1.5, 2.5], [{"p": 0.5}]] for i in range(5000)]
    runner = B.BatchRunner(db, reconnect_timeout=1, rate_limit=None)
    assert getattr(runner, mode)("Q", {"rows": rows, "run_id": "r1"}) == {"n": 5000}
    [(_, _, sent)] = db.calls
    assert sent["rows"] == rows and isinstance(sent["rows"], list) and sent["run_id"] == "r1"
    assert len(repr(sent)) < 100 and "5,000" in repr(sent)
