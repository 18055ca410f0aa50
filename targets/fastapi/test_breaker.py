"""Tests of breaker.py, on a hand-moved clock (no sleeping, no assumption about speed).
Standard library only: `cd targets/fastapi && python3 -m unittest test_breaker`."""

import asyncio
import unittest

from breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Failed(Exception):
    pass


class Refused(Exception):
    pass


def breaker(clock: Clock, failures: int = 3, open_ms: int = 1500) -> CircuitBreaker:
    return CircuitBreaker(failures, open_ms, clock)


def fail(b: CircuitBreaker) -> None:
    ticket = b.admit()
    assert ticket is not None
    b.failed(ticket)


def succeed(b: CircuitBreaker) -> None:
    ticket = b.admit()
    assert ticket is not None
    b.succeeded(ticket)


class StateMachine(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.b = breaker(self.clock)

    def test_opens_after_n_consecutive_failures_not_before(self) -> None:
        fail(self.b)
        fail(self.b)
        self.assertEqual(self.b.state, "closed")
        fail(self.b)
        self.assertEqual(self.b.state, "open")
        self.assertIsNone(self.b.admit())

    def test_a_success_resets_the_count(self) -> None:
        for _ in range(10):
            fail(self.b)
            fail(self.b)
            succeed(self.b)
        self.assertEqual(self.b.state, "closed")

    def test_open_period_counts_from_the_opening_failure(self) -> None:
        fail(self.b)
        fail(self.b)
        self.clock.now += 10
        fail(self.b)
        self.clock.now += 1.499
        self.assertIsNone(self.b.admit())
        self.clock.now += 0.001
        self.assertEqual(self.b.state, "half-open")
        self.assertIsNotNone(self.b.admit())

    def test_half_open_lets_exactly_one_probe_through(self) -> None:
        for _ in range(3):
            fail(self.b)
        self.clock.now += 2
        probe = self.b.admit()
        self.assertIsNotNone(probe)
        for _ in range(5):
            self.assertIsNone(self.b.admit())
        self.b.succeeded(probe)
        self.assertEqual(self.b.state, "closed")
        self.assertIsNotNone(self.b.admit())

    def test_a_failed_probe_opens_again_from_its_failure(self) -> None:
        for _ in range(3):
            fail(self.b)
        self.clock.now += 5
        probe = self.b.admit()
        self.clock.now += 0.3
        self.b.failed(probe)
        self.assertEqual(self.b.state, "open")
        self.clock.now += 1.499
        self.assertIsNone(self.b.admit())
        self.clock.now += 0.001
        self.assertIsNotNone(self.b.admit())

    def test_closing_starts_a_fresh_count(self) -> None:
        for _ in range(3):
            fail(self.b)
        self.clock.now += 2
        self.b.succeeded(self.b.admit())
        fail(self.b)
        fail(self.b)
        self.assertEqual(self.b.state, "closed")
        fail(self.b)
        self.assertEqual(self.b.state, "open")

    def test_late_outcomes_of_calls_made_before_opening_are_ignored(self) -> None:
        early = [self.b.admit() for _ in range(2)]
        for _ in range(3):
            fail(self.b)
        self.clock.now += 1
        self.b.failed(early[0])
        self.clock.now += 0.5
        self.assertEqual(self.b.state, "half-open", "a late failure stretched the open period")
        self.b.succeeded(early[1])
        probe = self.b.admit()
        self.assertIsNotNone(probe, "a late success took the probe's place")
        self.assertIsNone(self.b.admit())

    def test_an_abandoned_probe_gives_its_place_to_the_next_call(self) -> None:
        for _ in range(3):
            fail(self.b)
        self.clock.now += 2
        self.b.abandoned(self.b.admit())
        self.assertIsNotNone(self.b.admit())
        self.assertIsNone(self.b.admit())

    def test_threshold_one(self) -> None:
        b = breaker(self.clock, failures=1)
        fail(b)
        self.assertEqual(b.state, "open")

    def test_needs_a_positive_threshold_and_period(self) -> None:
        with self.assertRaises(ValueError):
            CircuitBreaker(0, 1000)
        with self.assertRaises(ValueError):
            CircuitBreaker(1, 0)


class Guard(unittest.TestCase):
    """The coroutine wrapper, concurrently, as a worker's event loop runs it."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.b = breaker(self.clock)
        self.calls = 0
        self.outcome: Exception | None = Failed()
        self.release = asyncio.Event()
        self.stall = False

        async def call(value: int) -> int:
            self.calls += 1
            if self.stall:
                await self.release.wait()
            if self.outcome is not None:
                raise self.outcome
            return value

        self.guarded = self.b.guard(call, Failed, Refused)

    async def attempt(self, value: int = 1) -> str:
        try:
            await self.guarded(value)
        except Failed:
            return "failed"
        except Refused:
            return "refused"
        return "ok"

    def test_open_refuses_without_calling(self) -> None:
        async def scenario() -> None:
            self.assertEqual([await self.attempt() for _ in range(3)], ["failed"] * 3)
            self.assertEqual([await self.attempt() for _ in range(10)], ["refused"] * 10)
            self.assertEqual(self.calls, 3)

        asyncio.run(scenario())

    def test_concurrent_calls_while_the_probe_is_in_flight_are_refused(self) -> None:
        async def scenario() -> None:
            for _ in range(3):
                await self.attempt()
            self.clock.now += 2
            self.stall = True
            self.outcome = None
            probe = asyncio.create_task(self.attempt())
            await asyncio.sleep(0)
            others = await asyncio.gather(*(self.attempt() for _ in range(5)))
            self.assertEqual(others, ["refused"] * 5)
            self.assertEqual(self.calls, 4)
            self.release.set()
            self.assertEqual(await probe, "ok")
            self.assertEqual(self.b.state, "closed")
            self.assertEqual(await self.attempt(), "ok")
            self.assertEqual(self.calls, 5)

        asyncio.run(scenario())

    def test_a_cancelled_probe_does_not_leave_the_breaker_stuck(self) -> None:
        async def scenario() -> None:
            for _ in range(3):
                await self.attempt()
            self.clock.now += 2
            self.stall = True
            probe = asyncio.create_task(self.attempt())
            await asyncio.sleep(0)
            probe.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await probe
            self.stall = False
            self.outcome = None
            self.assertEqual(await self.attempt(), "ok")

        asyncio.run(scenario())

    def test_returns_the_calls_value(self) -> None:
        self.outcome = None
        self.assertEqual(asyncio.run(self.guarded(7)), 7)


if __name__ == "__main__":
    unittest.main()
