"""One Locust process's share of a plan: prebuilt envelopes on a compressed clock, and what came back.

Pure Python (no locust, no gevent): the Locust users drive it, the tests call it directly.

* :func:`part_of` gives a node's partition (CRC-32 of the node code mod ``parts``): every upload of a
  node goes through one process, so the nodes' order is kept and no two processes send the same batch.
* :class:`Workload` loads the plan's batches of one partition and prebuilds each envelope once
  (``p.envelope.build``); :meth:`Envelope.stamp` re-signs it for *now* (new ``RequestTime`` and
  ``VerifyCode``; the payload digest is computed once), so the generator pays an HMAC per send,
  not an XML build.
* Time: plan time of day ``at`` (s) maps to test time ``at / 86400 * duration`` (s from the start);
  :meth:`Workload.next_due` hands out batches in that order, never before they are due.
* :class:`Tally` keeps the per-record verdicts by identity: a record with one planned send must be
  ``accepted``; a record sent more than once (the model's duplicate uploads) must be ``accepted``
  once and ``duplicate`` otherwise; ``rejected`` is always wrong.  :meth:`Tally.summary` is what a
  worker reports to the master.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from profiles.envelope import format_request_time, payload_digest

DAY_S = 86400.0
_VERDICT = re.compile(rb"<Verdict>([a-z]+)</Verdict>")
_RESULT_CODE = re.compile(rb"<ResultCode>([0-9]+)</ResultCode>")


def part_of(node: str, parts: int) -> int:
    """The partition (0..parts-1) that sends ``node``'s uploads."""
    return zlib.crc32(node.encode("ascii")) % max(1, parts)


@dataclass(slots=True)
class Envelope:
    """A prebuilt, signed envelope that can be re-signed for another RequestTime."""

    index: int
    at: float
    node: str
    rtype: str
    date: str
    ids: list[str]
    codes: list[list[str]]
    head: bytes  # everything before the RequestTime value
    mid: bytes  # from after RequestTime up to the VerifyCode value
    tail: bytes  # the rest
    sign_args: tuple  # (index, count, data_date, digest) for verify_code
    attempts: int = 0
    uncertain: bool = False  # an earlier attempt may have been stored (its answer was lost)

    @property
    def count(self) -> int:
        return len(self.ids)

    def stamp(self, spec, key: str, now: dt.datetime) -> bytes:
        """The envelope signed for ``now`` (a naive Beijing datetime): a fresh RequestTime and VerifyCode."""
        rtime = format_request_time(now)
        idx, count, ddate, digest = self.sign_args
        vc = spec.verify_code(key, self.node, rtime, idx, count, ddate, digest)
        return b"".join((self.head, rtime.encode(), self.mid, vc.encode(), self.tail))


def _split(body: bytes, rtime: str, vc: str) -> tuple[bytes, bytes, bytes]:
    r_tag = b"<RequestTime>" + rtime.encode() + b"</RequestTime>"
    v_tag = b"<VerifyCode>" + vc.encode() + b"</VerifyCode>"
    i, j = body.index(r_tag), body.index(v_tag)
    if j < i:
        raise ValueError("VerifyCode before RequestTime")  # the profile's header order; never seen
    ri = i + len(b"<RequestTime>")
    vi = j + len(b"<VerifyCode>")
    return body[:ri], body[ri + len(rtime) : vi], body[vi + len(vc) :]


def build_envelope(spec, rec: dict, key: str) -> Envelope:
    """Prebuild the plan batch ``rec`` (a ``batches.jsonl`` object) for ``key``."""
    rtype, records = rec["rtype"], rec["records"]
    t0 = dt.datetime(2000, 1, 1)
    body = spec.build(rec["node"], rtype, records, key, request_time=t0, data_date=rec["date"] or None)
    rtime = format_request_time(t0)
    rt = spec.records.types[rtype]
    ddate = rec["date"] or rtime[:8]
    digest = payload_digest((rtype, spec.city_form.write(rtype, r)) for r in records)  # as build() sends them
    vc = spec.verify_code(key, rec["node"], rtime, rt.index, str(len(records)), ddate, digest)
    head, mid, tail = _split(body, rtime, vc)
    return Envelope(
        rec["i"],
        float(rec["at"]),
        rec["node"],
        rtype,
        rec["date"],
        list(rec["ids"]),
        rec["codes"],
        head,
        mid,
        tail,
        (rt.index, str(len(records)), ddate, digest),
    )


def parse_verdicts(body: bytes) -> tuple[str | None, list[str]]:
    """``(ResultCode, [verdict per record])`` of an XML DataExchangeResp, read fast (no validation)."""
    m = _RESULT_CODE.search(body)
    return (m.group(1).decode() if m else None), [v.decode() for v in _VERDICT.findall(body)]


@dataclass
class Tally:
    """Verdicts by record identity, and per-(node, date, type) acknowledgement counts."""

    planned: dict[tuple, int] = field(default_factory=dict)  # identity -> planned sends
    accepted: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))
    cells: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    wrong: list[dict] = field(default_factory=list)  # first few wrong verdicts
    wrong_count: int = 0
    strict: bool = True  # False in benchmark mode: cycled twins of a duplicated record may both be accepted

    def plan(self, env: Envelope) -> None:
        for rid in env.ids:
            ident = (env.node, env.rtype, rid)
            self.planned[ident] = self.planned.get(ident, 0) + 1

    def check(self, env: Envelope, verdicts: list[str], uncertain: bool = False) -> list[str]:
        """Record one answered envelope; returns what was wrong with its verdicts (empty = right).

        ``uncertain``: an earlier attempt of this envelope got no answer, so ``duplicate`` means
        that attempt stored the record; it counts as its acknowledgement."""
        problems = []
        if len(verdicts) != env.count:
            problems.append(f"{len(verdicts)} verdicts for {env.count} records")
        cell = self.cells[f"{env.node}|{env.date}|{env.rtype}"]
        for seq, (rid, v) in enumerate(zip(env.ids, verdicts), 1):
            ident = (env.node, env.rtype, rid)
            if v == "accepted":
                cell[0] += 1
                self.accepted[ident] += 1
                if self.accepted[ident] > 1 and self.strict:
                    problems.append(f"record {seq}: accepted twice")
            elif v == "duplicate":
                cell[1] += 1
                if uncertain and self.accepted[ident] == 0:
                    self.accepted[ident] += 1
                    cell[0] += 1
                    cell[1] -= 1
                elif self.planned.get(ident, 0) < 2:
                    problems.append(f"record {seq}: duplicate, but sent once")
            else:
                cell[2] += 1
                problems.append(f"record {seq}: {v}")
        if problems:
            self.wrong_count += 1
            if len(self.wrong) < 20:
                self.wrong.append({"node": env.node, "rtype": env.rtype, "batch": env.index, "problems": problems[:5]})
        return problems

    def missing(self) -> int:
        """Planned identities of the answered envelopes never acknowledged as accepted."""
        return sum(1 for ident in self.planned if self.accepted.get(ident, 0) == 0)


class Workload:
    """The batches of partition ``part`` of ``parts``, as envelopes signed with the nodes' keys.

    :param plan_dir: a plan directory (``loadtests.plan``).
    :param keys: node code -> key; a node without a key is skipped and counted in ``no_key``.
    :param duration: test seconds the plan's day is compressed into (> 0).
    :param cycle: benchmark mode: every envelope is due at once and goes back to the end of the
        queue after it is handed out (its identities' acknowledgements are forgotten, so the
        verdict checks stay the same work per send).
    """

    def __init__(
        self,
        spec,
        plan_dir: str | Path,
        keys: dict[str, str],
        duration: float,
        part: int = 0,
        parts: int = 1,
        cycle: bool = False,
    ):
        if duration <= 0:
            raise ValueError("duration must be > 0")
        self.spec = spec
        self.keys = keys
        self.duration = float(duration)
        self.part, self.parts = part, parts
        self.queue: deque[Envelope] = deque()
        self.retry: deque[Envelope] = deque()
        self.tally = Tally(strict=not cycle)
        self.no_key: set[str] = set()
        self.in_flight = 0
        self.cycle = cycle
        self._last_rt: dict[str, dt.datetime] = {}
        with open(Path(plan_dir) / "batches.jsonl", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if part_of(rec["node"], parts) != part:
                    continue
                key = keys.get(rec["node"])
                if key is None:
                    self.no_key.add(rec["node"])
                    continue
                env = build_envelope(spec, rec, key)
                self.tally.plan(env)
                self.queue.append(env)
        self.total = len(self.queue)

    def stamp(self, env: Envelope, now: dt.datetime) -> bytes:
        """``env`` signed for ``now`` (naive Beijing time), with RequestTimes strictly increasing per
        node (a node never signs two envelopes in the same millisecond: the platform would take the
        second one with the same content for a replay)."""
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        last = self._last_rt.get(env.node)
        if last is not None and now <= last:
            now = last + dt.timedelta(milliseconds=1)
        self._last_rt[env.node] = now
        return env.stamp(self.spec, self.keys[env.node], now)

    def due_at(self, env: Envelope) -> float:
        """Test seconds from the start at which ``env`` is due."""
        return env.at / DAY_S * self.duration

    def next_due(self, elapsed: float) -> tuple[Envelope | None, float]:
        """``(envelope, 0)`` if one is due at ``elapsed`` s, else ``(None, seconds until the next)``;
        ``(None, inf)`` when nothing is left.  Retries go first."""
        if self.retry:
            return self.retry.popleft(), 0.0
        if not self.queue:
            return None, float("inf")
        wait = self.due_at(self.queue[0]) - elapsed
        if wait > 0 and not self.cycle:
            return None, wait
        env = self.queue.popleft()
        if self.cycle:
            for rid in env.ids:
                self.tally.accepted.pop((env.node, env.rtype, rid), None)
            self.queue.append(env)
        return env, 0.0

    @property
    def drained(self) -> bool:
        return not self.queue and not self.retry and self.in_flight == 0

    def unsent(self) -> int:
        return len(self.queue) + len(self.retry)
