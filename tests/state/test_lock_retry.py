"""One retry loop for every lock wait of both backends (issue 11): try, sleep, give up at the deadline."""

from __future__ import annotations

from lorainfra.state.lockfile import retry_until


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_no_timeout_tries_exactly_once() -> None:
    t = FakeTime()
    tries: list[int] = []
    assert not retry_until(lambda: bool(tries.append(1)), 0.0, clock=t.clock, sleep=t.sleep)
    assert tries == [1] and t.slept == []


def test_gives_up_at_the_deadline_without_sleeping_past_it() -> None:
    t = FakeTime()
    tries: list[float] = []
    assert not retry_until(lambda: bool(tries.append(t.now)), 1.0, interval=0.375, clock=t.clock, sleep=t.sleep)
    assert t.slept == [0.375, 0.375, 0.25]  # 0.25: the rest of the timeout, not a whole interval
    assert len(tries) == 4 and t.now == 101.0


def test_returns_as_soon_as_an_attempt_succeeds() -> None:
    t = FakeTime()
    answers = iter([False, False, True, False])
    assert retry_until(lambda: next(answers), 60.0, interval=0.05, clock=t.clock, sleep=t.sleep)
    assert t.slept == [0.05, 0.05]


def test_both_backends_wait_for_their_lock_with_it() -> None:
    import inspect

    from lorainfra.state import local, postgres

    for module in (local, postgres):
        source = inspect.getsource(module)
        assert "retry_until(" in source, module.__name__
        assert "time.sleep(" not in source, f"{module.__name__} has a retry loop of its own"
