"""Shoppers for the shop API: browse a skewed catalog, list pages, place and check orders.

Run on its own (web UI on :8089)::

    locust -f loadtests/shop.py --host http://127.0.0.1:8080

Each task sends exactly one request, so "users × per-user rate" is the request rate.
Which task runs is drawn per iteration from the weights below, so weights (and pacing)
can change between two ``/swarm`` calls without restarting Locust.

Options (flag / environment variable / web UI field; all optional):

==========================  ==========================  =======  ===============================
flag                        environment                 default  meaning
==========================  ==========================  =======  ===============================
``--weight-browse``         ``SHOP_WEIGHT_BROWSE``      70       ``GET /products/{id}``
``--weight-list``           ``SHOP_WEIGHT_LIST``        10       ``GET /products?limit=&offset=``
``--weight-order``          ``SHOP_WEIGHT_ORDER``       10       ``POST /orders`` (expects 202)
``--weight-check``          ``SHOP_WEIGHT_CHECK``       10       ``GET /orders/{id}`` (own order)
``--seed-products``         ``LAB_SEED_PRODUCTS``       10000    catalog ids are 1..this
``--zipf-exponent``         ``SHOP_ZIPF_EXPONENT``      1.1      popularity skew (0 = uniform)
``--think-time``            ``SHOP_THINK_TIME``         0        closed loop: seconds between tasks
``--target-rps-per-user``   ``SHOP_TARGET_RPS_PER_USER`` 0       > 0: open loop at users × this
``--target-users``          ``SHOP_TARGET_USERS``       0        open loop: the pool asked for
``--load-processes``        ``SHOP_LOAD_PROCESSES``     0        open loop: processes it spans
``--arrival-spacing``       ``SHOP_ARRIVAL_SPACING``    constant open loop: constant or poisson gaps
``--rate-ramp-seconds``     ``SHOP_RATE_RAMP_SECONDS``  0        open loop: ramp to a new rate
``--late-after``            ``SHOP_LATE_AFTER``         0.01     open loop: late after (s)
``--drop-after``            ``SHOP_DROP_AFTER``         1.0      open loop: dropped after (s)
==========================  ==========================  =======  ===============================

Popularity is Zipf-like: product ``k`` is requested with weight ``1 / k**s``, so a small
head of the catalog takes most reads and the Redis cache in front of Postgres matters.

With ``--target-rps-per-user R`` the load is an open loop (loadtests/arrivals.py): each
Locust process schedules arrivals at ``R ×`` its users per second (counted at most up to
its share of ``--target-users`` over ``--load-processes``, so users Locust is still stopping
add no rate), due whatever the response time; a free user takes the next due arrival and
sends it, and the latency is measured from the arrival's *intended* time, so a stalled
server shows in the client's percentiles (no coordinated omission). Arrivals no user was
free to send on time are counted as late, and those overdue by ``--drop-after`` as dropped
(``locust_arrivals_total``).
A rate change is a step, or a linear ramp over ``--rate-ramp-seconds``.
Without it the users form a closed loop: each sends its next request when the previous
one answered (after ``--think-time``).

Request names are templates (``/products/[id]``, ``/orders/[id]``) so Locust's stats and
the exported Prometheus series stay low-cardinality. Client-side metrics are exported by
``locust_exporter`` (imported below) on ``LAB_LOCUST_METRICS_PORT``.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import gevent
import gevent.lock
import locust_exporter  # noqa: F401  (registers the Prometheus exporter's event hooks)
from arrivals import IDLE_POLL_S, SCHEDULE, Slot, process_rate
from locust import FastHttpUser, events, task
from locust.argument_parser import LocustArgumentParser

NEXT_IN_LINE = gevent.lock.Semaphore()  # the user that takes the next arrival
ACTIONS = ("browse", "list", "order", "check")  # task names, as in the --weight-* options
METHODS = {"browse": "browse", "list": "list_page", "order": "order", "check": "check_order"}
DEFAULTS: dict[str, Any] = {
    "weight_browse": 70,
    "weight_list": 10,
    "weight_order": 10,
    "weight_check": 10,
    "seed_products": 10_000,
    "zipf_exponent": 1.1,
    "think_time": 0.0,
    "target_rps_per_user": 0.0,
    "target_users": 0,
    "load_processes": 0,
    "arrival_spacing": "constant",
    "rate_ramp_seconds": 0.0,
    "late_after": 0.01,
    "drop_after": 1.0,
}
PAGE_SIZES = (10, 20, 50)
OPTIONS: tuple[tuple[str, type | tuple[str, ...], str, str], ...] = (
    ("--seed-products", int, "LAB_SEED_PRODUCTS", "catalog size: product ids are 1..N"),
    ("--zipf-exponent", float, "SHOP_ZIPF_EXPONENT",
     "popularity skew: product k has weight 1/k**s (0 = uniform)"),
    ("--think-time", float, "SHOP_THINK_TIME", "closed loop: seconds a user waits between tasks"),
    ("--target-rps-per-user", float, "SHOP_TARGET_RPS_PER_USER",
     "> 0: open loop, arrivals at this rate × users (see loadtests/arrivals.py)"),
    ("--target-users", int, "SHOP_TARGET_USERS",
     "open loop: the pool asked for; while users stop, those left carry only its rate"),
    ("--load-processes", int, "SHOP_LOAD_PROCESSES",
     "open loop: the Locust worker processes the pool is dealt out over (0: unknown)"),
    ("--arrival-spacing", ("constant", "poisson"), "SHOP_ARRIVAL_SPACING",
     "open loop: constant gaps between arrivals, or exponential (Poisson arrivals)"),
    ("--rate-ramp-seconds", float, "SHOP_RATE_RAMP_SECONDS",
     "open loop: a new rate is reached linearly over this many seconds (0 = a step)"),
    ("--late-after", float, "SHOP_LATE_AFTER",
     "open loop: an arrival no user could send within this many seconds is late"),
    ("--drop-after", float, "SHOP_DROP_AFTER",
     "open loop: an arrival no user could send within this many seconds is dropped"),
)  # fmt: skip
"""The options besides the task weights: flag, type (or choices), variable, help."""


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("shop", "prodlab shop users (see loadtests/shop.py)")
    for action in ACTIONS:
        group.add_argument(
            f"--weight-{action}",
            type=int,
            env_var=f"SHOP_WEIGHT_{action.upper()}",
            default=DEFAULTS[f"weight_{action}"],
            help=f"relative weight of the {action} task",
        )
    for flag, kind, env_var, help_text in OPTIONS:
        dest = flag.removeprefix("--").replace("-", "_")
        group.add_argument(
            flag,
            **({"choices": kind} if isinstance(kind, tuple) else {"type": kind}),
            env_var=env_var,
            default=DEFAULTS[dest],
            help=help_text,
        )


@lru_cache(maxsize=4)
def popularity(products: int, exponent: float) -> tuple[float, ...]:
    """Cumulative Zipf weights of ids 1..products."""
    return tuple(itertools.accumulate(1.0 / k**exponent for k in range(1, products + 1)))


def popular_product(products: int, exponent: float) -> int:
    cumulative = popularity(max(1, products), exponent)
    return bisect.bisect_left(cumulative, random.random() * cumulative[-1]) + 1


class ShopUser(FastHttpUser):
    """One shopper. Every task sends one request."""

    def on_start(self) -> None:
        self.customer = f"shopper-{random.getrandbits(32):08x}"
        self.orders: deque[str] = deque(maxlen=20)
        self.context_extra: dict[str, Any] = {}

    def option(self, name: str) -> Any:
        options = self.environment.parsed_options
        return getattr(options, name, DEFAULTS[name]) if options else DEFAULTS[name]

    def wait_time(self) -> float:
        if self.open_loop_rate() > 0:
            return 0.0  # the arrival schedule paces the user (``next_arrival``)
        return max(0.0, float(self.option("think_time") or 0.0))

    def open_loop_rate(self) -> float:
        return max(0.0, float(self.option("target_rps_per_user") or 0.0))

    def next_arrival(self) -> Slot | None:
        """Open loop: wait for this process's next due arrival (None: back to closed loop)."""
        while (per_user := self.open_loop_rate()) > 0:
            runner = self.environment.runner
            users = runner.user_count if runner is not None else 1
            SCHEDULE.spacing = self.option("arrival_spacing")
            SCHEDULE.late_after = float(self.option("late_after"))
            SCHEDULE.drop_after = float(self.option("drop_after"))
            now = time.time()
            pool, processes = int(self.option("target_users")), int(self.option("load_processes"))
            rate = process_rate(per_user, users, pool, processes)
            SCHEDULE.set_rate(rate, now, ramp_s=float(self.option("rate_ramp_seconds")))
            # One user at a time claims the next arrival and sleeps until it is due; the
            # others wait their turn. Were every free user to claim one ahead, a pool of
            # 600 at 50 req/s would hold 12 s of arrivals at the old rate, and a new
            # rate would arrive 12 s late.
            with NEXT_IN_LINE:
                slot = SCHEDULE.take(time.time())
                if slot is not None:
                    gevent.sleep(max(0.0, slot.intended - time.time()))
            if slot is None:
                gevent.sleep(IDLE_POLL_S)
                continue
            return slot
        # closed loop now: the schedule stops, so a later open loop starts fresh instead of
        # counting every arrival due while nobody took them as dropped
        SCHEDULE.set_rate(0.0, time.time())
        return None

    @task
    def shop(self) -> None:
        slot = self.next_arrival()
        self.context_extra = {} if slot is None else {"intended": slot.intended}
        weights = [max(0, int(self.option(f"weight_{a}"))) for a in ACTIONS]
        if sum(weights) == 0:
            weights = [int(DEFAULTS[f"weight_{a}"]) for a in ACTIONS]
        chosen = random.choices(ACTIONS, weights)[0]
        action: Callable[[], None] = getattr(self, METHODS[chosen])
        action()

    def context(self) -> dict[str, Any]:
        """Passed with every request to the ``request`` event: the intended send time of
        an open-loop arrival, from which locust_exporter measures its latency."""
        return self.context_extra

    def browse(self) -> None:
        product = popular_product(int(self.option("seed_products")), self.option("zipf_exponent"))
        self.client.get(f"/products/{product}", name="/products/[id]")

    def list_page(self) -> None:
        limit = random.choice(PAGE_SIZES)
        offset = random.randint(0, max(0, int(self.option("seed_products")) - limit))
        self.client.get(f"/products?limit={limit}&offset={offset}", name="/products")

    def order(self) -> None:
        body = {
            "product_id": popular_product(
                int(self.option("seed_products")), self.option("zipf_exponent")
            ),
            "quantity": random.randint(1, 3),
            "customer": self.customer,
        }
        with self.client.post("/orders", json=body, name="/orders", catch_response=True) as resp:
            if resp.status_code != 202:
                resp.failure(f"expected 202, got {resp.status_code}")
                return
            try:
                self.orders.append(str(resp.json()["order_id"]))
            except (ValueError, KeyError, TypeError):
                resp.failure("202 without an order_id")

    def check_order(self) -> None:
        if not self.orders:  # nothing ordered yet: browse instead, still one request
            self.browse()
            return
        order_id = random.choice(self.orders)
        self.client.get(f"/orders/{order_id}", name="/orders/[id]")
