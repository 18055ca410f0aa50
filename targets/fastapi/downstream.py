"""Service-to-service mode (ORDERS_URL set): this process is a user service that calls an
order service through one pooled aiohttp.ClientSession per worker process.

main.py imports this module only when ORDERS_URL is set, so without it no client exists,
aiohttp is not even imported, and no route or request pays for the mode.

Run as a script (`python downstream.py`) it is the preflight the target's run command does
before uvicorn starts whenever ORDERS_URL, DOWNSTREAM_TIMEOUT_MS, DOWNSTREAM_CONNECTIONS,
BREAKER_FAILURES or BREAKER_OPEN_MS is set: a bad value is a one-line error and exit code 2,
instead of a traceback from every worker.
"""

import asyncio
import math
import os
import re
import sys
from dataclasses import dataclass

import aiohttp
from pydantic import TypeAdapter, ValidationError

from breaker import CircuitBreaker

DEFAULT_TIMEOUT_MS = 1000
DEFAULT_CONNECTIONS = 64
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_OPEN_MS = 2000

# No userinfo, path (beyond one trailing slash), query or fragment: the contract allows exactly
# http://HOST:PORT, HOST a name or an IP address (IPv6 in brackets).
ORDERS_URL_SHAPE = re.compile(r"(?i:http)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})/?")
DIGITS = re.compile(r"[0-9]+")


class SettingError(Exception):
    """A setting of the mode is unusable (exit code 2)."""


class DownstreamError(Exception):
    """The order service did not give a usable answer; the message says why."""


@dataclass(frozen=True)
class Settings:
    origin: str  # http://HOST:PORT, without the trailing slash
    timeout_ms: int
    connections: int
    breaker_failures: int  # 0: no breaker
    breaker_open_ms: int


def _integer(name: str, default: int, least: int) -> int:
    # Set but empty counts as set: "" is not an integer.
    raw = os.environ.get(name)
    if raw is None:
        return default
    if DIGITS.fullmatch(raw) is None or int(raw) < least:
        kind = "positive" if least == 1 else "non-negative"
        raise SettingError(f"{name} must be a {kind} integer, got '{raw}'")
    return int(raw)


def settings() -> Settings | None:
    """The mode's settings from the environment, or None when ORDERS_URL is unset or empty.

    The numbers are checked even without ORDERS_URL, so that a typo is caught the first time
    it is made rather than when the mode is switched on."""
    timeout_ms = _integer("DOWNSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 1)
    connections = _integer("DOWNSTREAM_CONNECTIONS", DEFAULT_CONNECTIONS, 1)
    breaker_failures = _integer("BREAKER_FAILURES", DEFAULT_BREAKER_FAILURES, 0)
    breaker_open_ms = _integer("BREAKER_OPEN_MS", DEFAULT_BREAKER_OPEN_MS, 1)
    url = os.environ.get("ORDERS_URL", "")
    if url == "":
        return None
    shape = ORDERS_URL_SHAPE.fullmatch(url)
    if shape is None:
        raise SettingError(f"ORDERS_URL must be http://HOST:PORT (no path), got '{url}'")
    if not 1 <= int(shape.group(2)) <= 65535:
        raise SettingError(f"ORDERS_URL port must be in 1..=65535, got '{url}'")
    return Settings(
        origin=url.rstrip("/"),
        timeout_ms=timeout_ms,
        connections=connections,
        breaker_failures=breaker_failures,
        breaker_open_ms=breaker_open_ms,
    )


class _BrokenConnection(aiohttp.ClientConnectionError):
    """A connection that broke during a call; aiohttp does not send a request again for it."""


async def _never_replay(request: aiohttp.ClientRequest, handler) -> aiohttp.ClientResponse:
    # aiohttp sends a GET a second time when its connection breaks, even a connection it had
    # just opened; the contract allows that only for a reused connection closed before any
    # answer byte. aiohttp has no switch for it, so the errors it replays on are raised as
    # one it does not replay on.
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _BrokenConnection(f"{type(exc).__name__}: {str(exc) or 'no detail'}") from exc


def _circuit_open() -> DownstreamError:
    # Raised instead of calling: the summary falls back, the order post answers
    # 503 "orders unavailable: circuit open", as for any failed call.
    return DownstreamError("circuit open")


class OrdersClient:
    """The order service as seen by one worker process: one pooled keep-alive aiohttp session,
    opened in that worker's event loop, whose every call is bounded by one deadline, and one
    circuit breaker shared by both kinds of call (none with BREAKER_FAILURES=0).

    `order_type` is the caller's order model; answers are decoded into it strictly, so a
    string where the model has a number is a failed call, not a silently converted value."""

    def __init__(self, settings: Settings, order_type: type) -> None:
        self._settings = settings
        self._timeout_s = settings.timeout_ms / 1000
        self._orders = TypeAdapter(list[order_type])
        self._order = TypeAdapter(order_type)
        self._session: aiohttp.ClientSession | None = None
        if settings.breaker_failures > 0:
            # The guarded calls shadow the methods on this instance only, so that without a
            # breaker a call runs exactly as before, with no per-call check at all.
            self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_open_ms)
            self.user_orders = self.breaker.guard(self.user_orders, DownstreamError, _circuit_open)
            self.create_order = self.breaker.guard(self.create_order, DownstreamError, _circuit_open)

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            # At most DOWNSTREAM_CONNECTIONS connections, busy or idle; a call beyond that
            # waits for one (inside its deadline). Released connections stay open for reuse.
            connector=aiohttp.TCPConnector(limit=self._settings.connections),
            middlewares=(_never_replay,),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def deadline(self) -> float:
        """The event-loop time by which a call made for a request arriving now must be done."""
        return asyncio.get_running_loop().time() + self._timeout_s

    async def user_orders(self, user_id: int, deadline: float) -> list:
        """GET {ORDERS_URL}/api/users/{id}/orders: 200 with a list of orders, or DownstreamError."""
        status, body = await self._call(deadline, "GET", f"/api/users/{user_id}/orders")
        if status != 200:
            raise DownstreamError(f"GET answered {status}")
        return self._decode(self._orders, body, "a list of orders")

    async def create_order(self, body: str, deadline: float):
        """POST {ORDERS_URL}/api/orders with `body` (a JSON order request): 201 with the created
        order, or DownstreamError. Sent exactly once: aiohttp never replays a POST."""
        status, answer = await self._call(
            deadline, "POST", "/api/orders", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        if status != 201:
            raise DownstreamError(f"POST answered {status}")
        return self._decode(self._order, answer, "an order")

    async def _call(self, deadline: float, method: str, path: str, **kwargs) -> tuple[int, bytes]:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            # aiohttp reads a total of 0 as "no limit".
            raise DownstreamError(f"no complete answer within {self._settings.timeout_ms} ms")
        # aiohttp's total covers the pool wait, connecting, sending and reading the whole body;
        # ceil_threshold=inf keeps it exact (by default it rounds totals of 5 s or more up to a
        # whole second).
        timeout = aiohttp.ClientTimeout(total=remaining, ceil_threshold=math.inf)
        try:
            async with self._session.request(
                method, self._settings.origin + path, timeout=timeout, **kwargs
            ) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise DownstreamError(f"no complete answer within {self._settings.timeout_ms} ms") from None
        except _BrokenConnection as exc:
            raise DownstreamError(str(exc)) from None
        except Exception as exc:
            # aiohttp.ClientError for a refused, reset or broken connection or a malformed
            # answer, and whatever else a misbehaving peer causes: a failed call either way,
            # which the contract answers with the fallback or the 503, never a 500.
            raise DownstreamError(f"{type(exc).__name__}: {str(exc) or 'no detail'}") from None

    @staticmethod
    def _decode(adapter: TypeAdapter, content: bytes, expected: str):
        try:
            return adapter.validate_json(content, strict=True)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            location = ".".join(str(part) for part in first.get("loc", ())) or "body"
            raise DownstreamError(f"answer is not {expected}: {location}: {first.get('msg')}") from None


def preflight() -> int:
    """The exit code for the run command: 0 to go on and start uvicorn."""
    try:
        settings()
    except SettingError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(preflight())
