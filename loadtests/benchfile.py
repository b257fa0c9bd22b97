"""Locust file of the generator benchmark: our node uploader beside a plain FastHttpUser, same endpoint.

Run by ``tests/bench/test_bench_load.py`` against :mod:`loadtests.trivial` with ``--roucai-mode
bench`` (the uploader cycles through the plan with no pacing, doing all its per-envelope work:
re-signing, per-record verdict checks, sampled profile validation, its own request event).  The plain
user posts one prebuilt envelope and looks at the status code only.  Equal weights, one process;
the ratio of their requests per second is the cost of realism.
"""

from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.hooks import HOOKS  # noqa: F401  (options and per-process set-up)
from loadtests.users import STATE, NodeUploader

NodeUploader.weight = 1
PLAIN = "plain POST /api/v1/exchange"
_BODY: list[bytes] = []


@events.init.add_listener
def _body(environment, **_kw):
    import datetime as dt

    wl = STATE.workload
    if wl is not None and wl.queue:
        _BODY.append(wl.stamp(wl.queue[0], dt.datetime(2025, 1, 6, 12)))


class PlainUploader(FastHttpUser):
    weight = 1

    @task
    def post(self):
        self.client.post(
            "/api/v1/exchange", data=_BODY[0], name=PLAIN, headers={"Content-Type": "application/xml; charset=utf-8"}
        )


__all__ = ["NodeUploader", "PlainUploader"]
