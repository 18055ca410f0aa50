"""The circuit breaker of service-to-service mode (../CONTRACT.md, "Circuit breaker"): a small
state machine, one per uvicorn worker process, around that process's calls to the order service.

Why no library: pybreaker 1.4.1 holds a threading lock across the whole call and supports async
code only through tornado; it, purgatory 3.0.1 and circuitbreaker 2.1.3 let every call through
while half-open (the contract wants exactly one probe in flight); aiobreaker 1.2.0 (an asyncio
port of pybreaker) has had no release since 2021.

No lock: a worker runs every coroutine on one event-loop thread, and none of the methods below
awaits, so no other coroutine runs in the middle of one. Only the call itself is awaited, with
the breaker's state left as it should be seen meanwhile (half-open with its probe taken, so
others fail fast).

Calls still in flight when the breaker changes state (opened by other calls' failures, say)
belong to an older generation: their outcome is ignored, so a late failure cannot stretch the
open period and a late success cannot close a breaker that no probe has tested.
"""

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class CircuitBreaker:
    """Opens after `failures` consecutive failed calls, for `open_ms` from the failure that
    opened it; then lets exactly one call through as a probe, whose outcome closes it or opens
    it again. `clock` is in seconds and must never go back (tests give their own)."""

    def __init__(self, failures: int, open_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or open_ms < 1:
            raise ValueError("a breaker needs failures >= 1 and open_ms >= 1")
        self._threshold = failures
        self._open_s = open_ms / 1000
        self._clock = clock
        self._generation = 0
        self._failures = 0
        # None while closed; otherwise when the open period ends (half-open from then on).
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._open_until is None:
            return "closed"
        if self._probing or self._clock() >= self._open_until:
            return "half-open"
        return "open"

    def admit(self) -> int | None:
        """A ticket for one call, to hand back with its outcome; None: do not call."""
        if self._open_until is None:
            return self._generation
        if self._probing or self._clock() < self._open_until:
            return None
        self._probing = True
        return self._generation

    def succeeded(self, ticket: int) -> None:
        if ticket != self._generation:
            return
        self._failures = 0
        if self._open_until is not None:
            self._open_until = None
            self._probing = False
            self._generation += 1

    def failed(self, ticket: int) -> None:
        if ticket != self._generation:
            return
        if self._open_until is None:
            self._failures += 1
            if self._failures < self._threshold:
                return
        self._open()

    def abandoned(self, ticket: int) -> None:
        """A call ended with no outcome (cancelled): a probe's place goes to the next call."""
        if ticket == self._generation and self._probing:
            self._probing = False

    def _open(self) -> None:
        self._open_until = self._clock() + self._open_s
        self._probing = False
        self._failures = 0
        self._generation += 1

    def guard(
        self,
        call: Callable[..., Awaitable[T]],
        failure: type[Exception],
        refusal: Callable[[], Exception],
    ) -> Callable[..., Awaitable[T]]:
        """`call` behind this breaker: raising `failure` is a failed call, returning is a
        successful one; while the breaker refuses, `refusal()` is raised without calling."""

        async def guarded(*args, **kwargs) -> T:
            ticket = self.admit()
            if ticket is None:
                raise refusal()
            try:
                result = await call(*args, **kwargs)
            except failure:
                self.failed(ticket)
                raise
            except BaseException:
                self.abandoned(ticket)
                raise
            self.succeeded(ticket)
            return result

        return guarded
