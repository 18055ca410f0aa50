"""The lanebench endpoint contract on FastAPI.

Owns the routes, the pydantic request/response models, the per-process order store and
the exception handlers that turn FastAPI's default error shapes (422 validation
errors, {"detail": ...} bodies) into the contract's 400/404/405 `{"error": ...}` JSON.

The store is the in-memory OrderStore (the default), which answers at once, or with
STORE=postgres the DatabaseStore over postgres.py, whose methods are coroutines; a handler
awaits only a coroutine, so memory mode keeps its synchronous path.
"""

import itertools
import math
import os
import re
import socket
import time
from collections import deque
from contextlib import asynccontextmanager
from inspect import iscoroutine
from typing import Annotated

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

MAX_USER_ID = 1_000_000
ORDERS_PER_USER = 16
U64_MAX = 2**64 - 1

U64 = Annotated[int, Field(ge=0, le=U64_MAX)]


class OrderItem(BaseModel):
    """One order line; strict so that e.g. "1" (a string) is a 400, not coerced."""

    model_config = ConfigDict(strict=True)

    product_id: U64
    quantity: Annotated[int, Field(ge=1)]
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class OrderRequest(BaseModel):
    """Body of POST /api/orders."""

    model_config = ConfigDict(strict=True)

    user_id: U64
    items: Annotated[list[OrderItem], Field(min_length=1)]


class Order(BaseModel):
    """A stored order, as returned by POST /api/orders and GET /api/users/{id}/orders."""

    id: int
    user_id: int
    items: list[OrderItem]
    total: float
    status: str
    created_at: int


class User(BaseModel):
    """Body of GET /api/users/{id}."""

    id: int
    name: str
    email: str


class UserOrderRequest(BaseModel):
    """Body of POST /api/users/{id}/orders (service-to-service mode): the items of an
    OrderRequest, validated the same way; a user_id in it is ignored, whatever its type,
    because the path names the user."""

    model_config = ConfigDict(strict=True)

    items: Annotated[list[OrderItem], Field(min_length=1)]


class Summary(BaseModel):
    """Body of GET /api/users/{id}/summary (service-to-service mode); orders is None when
    the order service failed (degraded)."""

    id: int
    name: str
    email: str
    orders: list[Order] | None
    degraded: bool


class Health(BaseModel):
    """Body of GET /health."""

    status: str
    timestamp: int


def claim_worker_slot(workers: int) -> int:
    """Returns this process's worker index k in 1..=workers.

    uvicorn --workers starts identical processes and tells none of them its index, so
    each worker binds the first free Linux abstract-namespace socket named after the
    supervisor's pid and slot; the kernel frees the name when the process dies and no
    file is left behind.
    """
    if workers <= 1:
        return 1
    for slot in range(1, workers + 1):
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            claim.bind(f"\0lanebench-fastapi-{os.getppid()}-worker-{slot}")
        except OSError:
            claim.close()
            continue
        _held_slot_claims.append(claim)
        return slot
    raise RuntimeError(f"more than WORKERS={workers} workers started; no free worker slot")


# Keeps the claiming socket open (and so the slot taken) for the life of the process.
_held_slot_claims: list[socket.socket] = []


class OrderStore:
    """One store per worker process; ids interleave across workers (k, k+n, k+2n, ...)."""

    def __init__(self, worker_index: int, workers: int) -> None:
        self._ids = itertools.count(worker_index, workers)
        self._by_user: dict[int, deque[Order]] = {}

    def create(self, request: OrderRequest, total: float) -> Order:
        order = Order(
            id=next(self._ids),
            user_id=request.user_id,
            items=request.items,
            total=total,
            status="created",
            created_at=time.time_ns() // 1_000_000,
        )
        orders = self._by_user.get(request.user_id)
        if orders is None:
            # maxlen keeps only the newest orders, so memory stays bounded under load.
            orders = self._by_user[request.user_id] = deque(maxlen=ORDERS_PER_USER)
        orders.appendleft(order)
        return order

    def for_user(self, user_id: int) -> list[Order]:
        return list(self._by_user.get(user_id, ()))

    def user(self, user_id: int) -> User:
        """Every id in range is a user, computed from the id."""
        return User(id=user_id, name=f"User {user_id}", email=f"user{user_id}@example.com")


class DatabaseStore:
    """The memory store's methods as coroutines over postgres.PgStore, turning its rows
    into the same response models."""

    def __init__(self, database) -> None:
        self.database = database

    async def user(self, user_id: int) -> User | None:
        row = await self.database.user(user_id)
        if row is None:
            return None
        return User(id=row["id"], name=row["name"], email=row["email"])

    async def for_user(self, user_id: int) -> list[Order]:
        orders: list[Order] = []
        # Rows come ordered by order id, then position: one order's items are adjacent.
        for row in await self.database.order_rows(user_id):
            item = OrderItem(product_id=row["product_id"], quantity=row["quantity"], price=row["price"])
            if orders and orders[-1].id == row["id"]:
                orders[-1].items.append(item)
                continue
            orders.append(
                Order(
                    id=row["id"],
                    user_id=user_id,
                    items=[item],
                    total=row["total"],
                    status=row["status"],
                    created_at=row["created_at"],
                )
            )
        return orders

    async def create(self, request: OrderRequest, total: float) -> Order:
        items = [(item.product_id, item.quantity, item.price) for item in request.items]
        order_id, created_at = await self.database.insert(request.user_id, items, total)
        return Order(
            id=order_id,
            user_id=request.user_id,
            items=request.items,
            total=total,
            status="created",
            created_at=created_at,
        )


WORKERS = int(os.environ.get("WORKERS", "1"))

# The run command's preflight (postgres.py) has checked STORE and DATABASE_URL and that the
# database answers. asyncpg is imported only in database mode, so memory mode starts as fast
# as before.
if os.environ.get("STORE") == "postgres":
    import postgres

    database = postgres.PgStore(postgres.database_url(), postgres.pool_size(WORKERS))
    store = DatabaseStore(database)
else:
    database = None
    store = OrderStore(claim_worker_slot(WORKERS), WORKERS)

# ORDERS_URL makes this process a user service (downstream.py); the run command's preflight
# has checked the settings. aiohttp is imported only then, so other runs start as before.
if os.environ.get("ORDERS_URL"):
    import downstream

    orders_service = downstream.OrdersClient(downstream.settings(), Order)
else:
    orders_service = None


@asynccontextmanager
async def lifespan(app: FastAPI):
    # One database pool and one order-service client per worker process, each opened in
    # that worker's event loop.
    if database is not None:
        await database.open()
    if orders_service is not None:
        await orders_service.open()
    yield
    if orders_service is not None:
        await orders_service.close()
    if database is not None:
        await database.close()


# No interactive docs or OpenAPI schema: they are not part of the contract, and
# production deployments commonly switch them off. No trailing-slash redirects either:
# a path outside the contract gets the JSON 404, not a bodiless 307.
app = FastAPI(
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    redirect_slashes=False,
    lifespan=lifespan if database is not None or orders_service is not None else None,
)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


@app.exception_handler(StarletteHTTPException)
async def http_exception_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Starlette raises these for unknown paths (404) and wrong methods (405, with Allow).
    headers = exc.headers
    if exc.status_code == 405 and orders_service is not None:
        # Starlette's Allow names only the first route of the path; with ORDERS_URL,
        # /api/users/{id}/orders has a GET and a POST route.
        headers = {"Allow": allowed_methods(request)}
    return error(exc.status_code, str(exc.detail), headers)


def allowed_methods(request: Request) -> str:
    methods: list[str] = []
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods.extend(method for method in sorted(route.methods) if method not in methods)
    return ", ".join(methods)


@app.exception_handler(RequestValidationError)
async def validation_exception_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()))
    return error(400, f"{location}: {first.get('msg', 'invalid request')}")


if isinstance(store, DatabaseStore):

    @app.exception_handler(postgres.StoreError)
    async def store_exception_handler(request: Request, exc: "postgres.StoreError") -> JSONResponse:
        # 400 for an order the database cannot hold, 503 when the database failed.
        return error(exc.status, str(exc))


INTEGER_SEGMENT = re.compile(r"-?[0-9]+")


def parse_user_id(raw: str) -> int | JSONResponse:
    """The contract's user id rule: `-?[0-9]+` is an integer (400 otherwise), and
    only 1..=1000000 exists (404 otherwise). Python's int() would also take "+5" or
    "1_000", so the segment is matched first."""
    if INTEGER_SEGMENT.fullmatch(raw) is None:
        return error(400, f"user id must be an integer, got '{raw}'")
    user_id = int(raw)
    if not 1 <= user_id <= MAX_USER_ID:
        return error(404, f"user {raw} not found")
    return user_id


@app.get("/health")
async def health() -> Health:
    return Health(status="healthy", timestamp=time.time_ns() // 1_000_000)


@app.get("/api/users/{user_id}", response_model=User)
async def get_user(user_id: str):
    parsed = parse_user_id(user_id)
    if isinstance(parsed, JSONResponse):
        return parsed
    user = store.user(parsed)
    if iscoroutine(user):
        user = await user
    if user is None:
        return error(404, f"user {user_id} not found")
    return user


@app.get("/api/users/{user_id}/orders", response_model=list[Order])
async def get_user_orders(user_id: str):
    parsed = parse_user_id(user_id)
    if isinstance(parsed, JSONResponse):
        return parsed
    orders = store.for_user(parsed)
    if iscoroutine(orders):
        orders = await orders
    return orders


def order_total(items: list[OrderItem]) -> float | JSONResponse:
    total = sum(item.price * item.quantity for item in items)
    if not math.isfinite(total):
        return error(400, "order total (sum of price * quantity) is not a finite number")
    return total


@app.post("/api/orders", status_code=201, response_model=Order)
async def create_order(order: OrderRequest):
    total = order_total(order.items)
    if isinstance(total, JSONResponse):
        return total
    created = store.create(order, total)
    if iscoroutine(created):
        created = await created
    return created


if orders_service is not None:

    async def existing_user(raw_id: str) -> User | JSONResponse:
        """The user of GET /api/users/{id}, or its 400/404 answer."""
        parsed = parse_user_id(raw_id)
        if isinstance(parsed, JSONResponse):
            return parsed
        user = store.user(parsed)
        if iscoroutine(user):
            user = await user
        if user is None:
            return error(404, f"user {raw_id} not found")
        return user

    @app.get("/api/users/{user_id}/summary", response_model=Summary)
    async def get_user_summary(user_id: str, response: Response):
        deadline = orders_service.deadline()
        user = await existing_user(user_id)
        if isinstance(user, JSONResponse):
            return user
        try:
            orders = await orders_service.user_orders(user.id, deadline)
        except downstream.DownstreamError:
            response.headers["X-Degraded"] = "true"
            return Summary(id=user.id, name=user.name, email=user.email, orders=None, degraded=True)
        return Summary(id=user.id, name=user.name, email=user.email, orders=orders, degraded=False)

    @app.post("/api/users/{user_id}/orders", status_code=201, response_model=Order)
    async def create_user_order(user_id: str, request: Request):
        deadline = orders_service.deadline()
        # The body is read by hand, after the user: an unknown user is a 404 even when the
        # items are invalid, and a body parameter would be validated before the handler runs.
        user = await existing_user(user_id)
        if isinstance(user, JSONResponse):
            return user
        try:
            items = UserOrderRequest.model_validate_json(await request.body()).items
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
        total = order_total(items)
        if isinstance(total, JSONResponse):
            return total
        if database is not None:
            # POST /api/orders in database mode refuses what its columns cannot hold.
            postgres.check_fits(user.id, [(item.product_id, item.quantity) for item in items])
        body = OrderRequest(user_id=user.id, items=items).model_dump_json()
        try:
            return await orders_service.create_order(body, deadline)
        except downstream.DownstreamError as exc:
            return error(503, f"orders unavailable: {exc}")
