"""Upward feed: a city platform sends its daily aggregates to a central platform.

City side (:class:`FeedPusher`, a daemon thread when ``--upstream`` is set):
every ``interval`` seconds it reads ``daily_stats`` rows changed since its
cursor (minus ``OVERLAP_MS``, so rows of transactions that committed late are
not missed; resending is harmless because the central side stores absolute
values), POSTs them as JSON to ``{upstream}/api/v1/feed`` signed with
:mod:`.nodeauth` (X-Node-Id = this city's 6-digit id, the key the central
platform issued), and advances the cursor only on a 200.  Bounded: one batch
of at most ``BATCH`` rows per round, a 10 s HTTP timeout, backoff to at most
``interval`` × 8 after failures.

Central side (:func:`receive`): validates every row (a city may only send
nodes inside its own region) and upserts ``feed_stats``.  JSON body::

    {"city_id": "650100", "rows": [{"node_id", "node_type", "data_date", "rtype",
                                    "goods_code", "records", "weight_kg"}]}
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import httpx

from profiles.envelope import EnvelopeSpec
from profiles.errors import RoucaiError
from profiles.profile import Profile

from . import logs, nodeauth
from .clock import now_ms
from .recordmap import kg_to_g
from .stats import kg
from .storage import Store

OVERLAP_MS = 60_000
BATCH = 5000
CURSOR = "upstream"
_DATE = re.compile(r"^(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")
_TYPE = re.compile(r"^[a-z][a-z_]{1,39}$")


_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")


def without_credentials(text: str | None) -> str | None:
    """``text`` (a URL, or an error message quoting one) with any ``user:password@`` of a URL removed."""
    return None if text is None else _USERINFO.sub("", text)


class FeedError(RoucaiError):
    """The upward feed cannot be used (configuration, exit 2)."""


def rows_since(store: Store, cursor_ms: int, limit: int = BATCH) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = tx.all(
            "SELECT s.node_id, COALESCE(n.node_type, 'unregistered'), s.data_date, s.rtype, s.goods_code,"
            " s.records, s.weight_g, s.updated_ms FROM daily_stats s LEFT JOIN nodes n"
            " ON n.node_id = s.node_id WHERE s.updated_ms > ? ORDER BY s.updated_ms LIMIT ?",
            (cursor_ms - OVERLAP_MS, limit),
        )
    return [
        {
            "node_id": r[0],
            "node_type": r[1],
            "data_date": r[2],
            "rtype": r[3],
            "goods_code": r[4],
            "records": r[5],
            "weight_kg": kg(r[6]),
            "updated_ms": r[7],
        }
        for r in rows
    ]


class FeedPusher:
    def __init__(self, store: Store, spec: EnvelopeSpec, upstream: str, city_id: str, key: str, interval_s: float):
        self.store = store
        self.spec = spec
        self.url = upstream.rstrip("/") + "/api/v1/feed"
        self.city_id = city_id
        self.key = key
        self.interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pushed = 0
        self.failures = 0

    def _cursor(self) -> int:
        with self.store.read() as tx:
            return int(tx.scalar("SELECT cursor_ms FROM feed_cursor WHERE name = ?", (CURSOR,), 0))

    def _save(self, cursor: int, error: str | None) -> None:
        with self.store.write() as tx:
            tx.execute(
                "INSERT INTO feed_cursor (name, cursor_ms, pushed_ms, last_error) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET cursor_ms = excluded.cursor_ms,"
                " pushed_ms = excluded.pushed_ms, last_error = excluded.last_error",
                (CURSOR, cursor, now_ms(), error),
            )

    def rows(self, cursor_ms: int) -> list[dict[str, Any]]:
        """The next batch to push: the daily rows changed after ``cursor_ms`` (:func:`rows_since`); a public
        seam: a caller may replace it on the instance."""
        return rows_since(self.store, cursor_ms)

    def push_once(self, client: httpx.Client) -> int:
        """Send one batch; returns rows sent (raises on failure, cursor untouched)."""
        cursor = self._cursor()
        rows = self.rows(cursor)
        if not rows:
            return 0
        body = json.dumps(
            {"city_id": self.city_id, "rows": [{k: v for k, v in r.items() if k != "updated_ms"} for r in rows]},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = nodeauth.sign(self.spec, self.key, self.city_id, "POST", "/api/v1/feed", body)
        headers["Content-Type"] = "application/json"
        r = client.post(self.url, content=body, headers=headers)
        if r.status_code != 200:
            raise FeedError(f"中央平台返回 {r.status_code}", f"central platform answered {r.status_code}")
        new_cursor = max(row["updated_ms"] for row in rows)
        if new_cursor > cursor:
            self._save(new_cursor, None)
        self.pushed += len(rows)
        return len(rows)

    def _run(self) -> None:
        delay = self.interval
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.wait(delay):
                try:
                    n = self.push_once(client)
                    delay = self.interval
                    if n:
                        logs.event("feed_pushed", rows=n)
                except Exception as exc:
                    self.failures += 1
                    delay = min(delay * 2, self.interval * 8)
                    logs.event("feed_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}"[:200])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="feed-pusher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)


def receive(store: Store, profile: Profile, city_id: str, payload: object) -> int:
    """Validate and store a city's rows at the central platform; returns rows stored."""
    if not isinstance(payload, dict) or payload.get("city_id") != city_id or not isinstance(payload.get("rows"), list):
        raise FeedError(
            '报文应为 {"city_id": 本城市编号, "rows": [...]}', 'body must be {"city_id": <your id>, "rows": [...]}'
        )
    rows = payload["rows"]
    if len(rows) > BATCH:
        raise FeedError(f"每次最多 {BATCH} 行", f"at most {BATCH} rows per request")
    codes, regions = profile.codes, profile.regions
    spec = profile.records.fields.get("goods_code")
    placeholders = spec.placeholders if spec is not None else ()  # Ningbo's '0': commodity not identified
    out = []
    for i, r in enumerate(rows):
        where = f"rows[{i}]"
        if not isinstance(r, dict):
            raise FeedError(f"{where} 应为对象", f"{where} must be an object")
        node, date, rtype = r.get("node_id"), r.get("data_date"), r.get("rtype")
        goods, ntype, n, w = r.get("goods_code"), r.get("node_type"), r.get("records"), r.get("weight_kg")
        if not (isinstance(node, str) and codes.is_valid(node, "node")):
            raise FeedError(f"{where}.node_id 不是有效的节点编码", f"{where}.node_id is not a valid node code")
        if city_id not in {x.code for x in regions.path(node[:6])}:
            raise FeedError(f"{where}.node_id 不属于城市 {city_id}", f"{where}.node_id is not in city {city_id}")
        if not (isinstance(date, str) and _DATE.match(date)):
            raise FeedError(f"{where}.data_date 应为 yyyyMMdd", f"{where}.data_date must be yyyyMMdd")
        if rtype not in profile.records.types:
            raise FeedError(f"{where}.rtype 未知", f"{where}.rtype is unknown")
        # a code outside the profile's table is a warning at the city (CODE-COMM-03, Ningbo's 21113011), not a
        # reason to refuse the city's statistics
        if not (
            goods == "" or goods in placeholders or (isinstance(goods, str) and codes.check(goods, "commodity").ok)
        ):
            raise FeedError(f"{where}.goods_code 无效", f"{where}.goods_code is invalid")
        if not (isinstance(ntype, str) and _TYPE.match(ntype)):
            raise FeedError(f"{where}.node_type 无效", f"{where}.node_type is invalid")
        if not (isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 10**12):
            raise FeedError(f"{where}.records 应为非负整数", f"{where}.records must be a non-negative integer")
        grams = kg_to_g(w) if isinstance(w, str) else None
        if grams is None:
            raise FeedError(
                f"{where}.weight_kg 应为最多3位小数的数字文本", f"{where}.weight_kg must be decimal text, ≤ 3 decimals"
            )
        out.append((city_id, node, date, rtype, goods, ntype, n, grams))
    t = now_ms()
    with store.write() as tx:
        tx.executemany(
            "INSERT INTO feed_stats (city_id, node_id, data_date, rtype, goods_code, node_type, records,"
            " weight_g, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (city_id, node_id, data_date, rtype, goods_code) DO UPDATE SET"
            " node_type = excluded.node_type, records = excluded.records, weight_g = excluded.weight_g,"
            " received_ms = excluded.received_ms",
            [row + (t,) for row in out],
        )
    return len(out)


def summary(store: Store, date: str | None = None) -> dict[str, Any]:
    """Central view: per city and node type, records and kg (of one day, or all days)."""
    sql = (
        "SELECT city_id, node_type, COUNT(DISTINCT node_id), SUM(records), SUM(weight_g), MAX(received_ms)"
        " FROM feed_stats"
    )
    params: tuple[str, ...] = ()
    if date:
        sql += " WHERE data_date = ?"
        params = (date,)
    with store.read() as tx:
        rows = tx.all(sql + " GROUP BY city_id, node_type ORDER BY city_id, node_type", params)
    cities: dict[str, dict[str, Any]] = {}
    for city, ntype, nodes, n, g, last in rows:
        c = cities.setdefault(city, {"records": 0, "weight_g": 0, "by_node_type": {}, "last_received_ms": 0})
        c["records"] += int(n)
        c["weight_g"] += int(g)
        c["last_received_ms"] = max(c["last_received_ms"], int(last))
        c["by_node_type"][ntype] = {"nodes": int(nodes), "records": int(n), "weight_kg": kg(g)}
    for c in cities.values():
        c["weight_kg"] = kg(c.pop("weight_g"))
    return {"date": date, "cities": cities}
