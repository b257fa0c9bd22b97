"""A simulated day uploaded through the reference node's own logic: one node outbox per simulated node.

``roucai simulate --to URL --keys FILE --via-node`` (see :mod:`roucai.commands.simulate`).  Instead of
POSTing envelopes straight to the platform (:mod:`.upload`), every record a simulated node uploads
enters that node's reference-node outbox (:class:`simulators.node.outbox.Outbox`, a real SQLite file
``DIR/<node code>.db``, WAL, ``synchronous=FULL``) at its simulated upload time, and the reference
node's uploader (:class:`simulators.node.uploader.Uploader`: claim a group, sign, POST, settle per
record verdicts, bounded exponential backoff TRAN-UPL-06) sends it.  No HTTP server per node: the
node classes run in this process, driven by a bounded pool of ``threads`` worker threads sharing
one HTTP client; every wait is bounded by ``limit_s``.

Entering the outbox (what the node does with a record from its own business system):

* the record is put in catalogue field order and checked with the profile (``p.records.validate``);
  a record with an error finding is stored ``invalid`` with its finding and never sent;
* ``source_key`` = ``sim:<n>``, ``n`` the record's number in the model's run, so the model's
  duplicate uploads (fault ``duplicate_upload``) are deduplicated by the outbox (counted, not
  sent twice), and a rerun of the same command on the same ``DIR`` resumes: what the outbox
  already holds is not entered again, what is still pending is sent;
* ``data_date`` = the record's business date, or the simulated upload date for types without one.

Timing: ``factor`` = wall seconds per simulated second (as :class:`.upload.Uploader`).  Paced
(``factor`` set): an upload due ``t`` simulated seconds after the first enters its outbox
``(t - t_first) * factor`` wall seconds after the start, and the node waits ``5 s × factor``
(at most 5 s) for a group to fill (``[upload] batch_wait_s``).  As fast as possible (``factor``
``None``): time advances in steps of ``tick_s`` simulated seconds (the model's node upload cycle);
each step's records enter, then every node's outbox is drained (or given up) before the next step,
so cross-node order is kept at that granularity; the nodes do not wait for groups to fill.

Giving up (the real node never does): a node whose envelopes the platform refuses whole
(``ResultCode`` other than 0000 and 1199, e.g. 1105 wrong VerifyCode) ``max_refusals`` times in a
row stops; its rows stay ``pending`` and are reported with the refusal.  Transport errors and
1199 are retried with the node's backoff until ``limit_s`` runs out (then ``timed_out``).

Node logs (JSON lines, :mod:`simulators.node.logs`) go to ``DIR/node.log``.  ``DIR/run.json`` holds the
identity of the run; :func:`prepare_dir` refuses a directory holding another run's outboxes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .errors import MarketConfigError
from .upload import RequestClock

RUN_FILE = "run.json"
LOG_FILE = "node.log"
FDS_PER_OUTBOX = 3  # the SQLite file, its -wal and its -shm
NODE_BATCH_WAIT_S = 5.0  # the reference node's default [upload] batch_wait_s (wall seconds)


# -- the model's side ---------------------------------------------------------------------------------
class UploadLog:
    """A ``record_hooks`` entry of the model: keeps every upload of a catalogue record.

    :attr:`entries`: ``(t_up, n, node, rtype, record)`` per upload (a record uploaded twice appears
    twice with the same ``n``); :attr:`generated`: catalogue records the model uploads at least once.
    ``scale_sale`` (the scale's own upload, not a catalogue record) is left out, as in the direct mode.
    """

    def __init__(self, profile):
        self.types = profile.records.types
        self.entries: list[tuple[float, int, str, str, dict]] = []
        self.generated = 0

    def add(self, obj: dict) -> None:
        if obj["type"] not in self.types or not obj["upload"]:
            return
        n = self.generated
        self.generated += 1
        for up in obj["upload"]:
            self.entries.append((float(up), n, obj["node"], obj["type"], obj["data"]))


# -- the work directory -----------------------------------------------------------------------------------
def prepare_dir(path: str | Path, run_id: dict) -> Path:
    """Create ``path`` (or reuse it for the same run); raises MarketConfigError (exit 2) if it is a
    file, not writable, or holds outboxes of another run (``run_id`` differs, or no ``run.json``)."""
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise MarketConfigError(f"--node-dir 须为目录：{d}", f"--node-dir must be a directory: {d}")
    try:
        d.mkdir(parents=True, exist_ok=True)
        marker = d / RUN_FILE
        if marker.exists():
            try:
                old = json.loads(marker.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                old = None
            if old != run_id:
                raise MarketConfigError(
                    f"--node-dir {d} 存有另一次运行的节点出站队列（{RUN_FILE} 不同）；请换一个空目录",
                    f"--node-dir {d} holds the node outboxes of another run ({RUN_FILE} differs); use an empty directory",
                )
        elif any(d.glob("*.db")):
            raise MarketConfigError(
                f"--node-dir {d} 存有来历不明的出站队列（没有 {RUN_FILE}）；请换一个空目录",
                f"--node-dir {d} holds outboxes of unknown origin (no {RUN_FILE}); use an empty directory",
            )
        marker.write_text(json.dumps(run_id, ensure_ascii=False, sort_keys=True), "utf-8")
    except OSError as exc:
        raise MarketConfigError(
            f"--node-dir {d} 不可用：{exc.strerror}", f"--node-dir {d} is not usable: {exc.strerror}"
        ) from None
    return d


def ensure_fd_limit(n_nodes: int) -> None:
    """Raise the soft open-files limit to what ``n_nodes`` outboxes need; MarketConfigError if the hard limit is lower."""
    import resource

    need = FDS_PER_OUTBOX * n_nodes + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise MarketConfigError(
            f"{n_nodes} 个节点出站队列需要约 {need} 个文件描述符，系统上限为 {hard}（ulimit -n）",
            f"{n_nodes} node outboxes need about {need} open files; the hard limit is {hard} (ulimit -n)",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


# -- results ---------------------------------------------------------------------------------------------
@dataclass
class ViaNodeResult:
    nodes: int = 0
    generated: int = 0  # catalogue records the model uploads (each counted once)
    offered: int = 0  # uploads offered to the outboxes (the model's duplicate uploads included)
    deduplicated: int = 0  # offers whose record the outbox already held
    entered: int = 0  # rows in the outboxes (any state)
    acknowledged: int = 0
    accepted: int = 0  # acknowledged with verdict accepted
    duplicate: int = 0  # acknowledged with verdict duplicate (the platform had it)
    rejected: int = 0
    invalid: int = 0
    pending: int = 0  # left pending or sent (never settled)
    envelopes: int = 0  # envelopes answered per record (this run)
    settled: int = 0  # records those envelopes settled (this run)
    failures: int = 0  # failed attempts (transport, 5xx, refusal)
    reasons: Counter = field(default_factory=Counter)  # "reason message" -> rejected rows
    findings: Counter = field(default_factory=Counter)  # "rule field" -> invalid rows
    refused: list = field(default_factory=list)  # [{"node", "code", "error", "records"}] nodes given up
    answered: bool = False
    timed_out: bool = False
    wall_s: float = 0.0
    work_dir: str = ""

    @property
    def ok(self) -> bool:
        return self.entered == self.generated == self.acknowledged and not self.timed_out

    def to_dict(self) -> dict:
        return {
            "nodes": self.nodes,
            "generated": self.generated,
            "offered": self.offered,
            "deduplicated": self.deduplicated,
            "entered": self.entered,
            "acknowledged": self.acknowledged,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "invalid": self.invalid,
            "pending": self.pending,
            "not_entered": self.generated - self.entered,
            "envelopes": self.envelopes,
            "settled": self.settled,
            "failures": self.failures,
            "top_reasons": [{"reason": r, "records": n} for r, n in self.reasons.most_common(5)],
            "top_findings": [{"finding": r, "records": n} for r, n in self.findings.most_common(5)],
            "refused": self.refused,
            "answered": self.answered,
            "timed_out": self.timed_out,
            "wall_s": round(self.wall_s, 3),
            "work_dir": self.work_dir,
            "records_per_s": round(self.settled / self.wall_s, 1) if self.wall_s > 0 else None,
        }


# -- the nodes ---------------------------------------------------------------------------------------------
class _Slot:
    """One simulated node: its reference-node config, outbox and uploader, and its scheduling state."""

    __slots__ = ("code", "cfg", "outbox", "uploader", "ready", "busy", "gen", "next_try", "refusals", "gave_up")

    def __init__(self, code: str, cfg):
        self.code, self.cfg = code, cfg
        self.outbox = self.uploader = None
        self.ready = self.busy = False
        self.gen = 0
        self.next_try = 0.0
        self.refusals = 0
        self.gave_up: tuple[str, str] | None = None  # (ResultCode, the uploader's error text)


class ViaNode:
    """Runs the uploads of a simulated run through reference-node outboxes and uploaders (module docstring).

    :param nodes: ``(code, name, city node type)`` of every simulated node.
    :param url: the ingest URL (``upload.ingest_url``).  :param keys: node code -> key.
    :param work_dir: a directory from :func:`prepare_dir`.
    :param progress: called as ``progress(result_so_far)`` at most every second or so.
    Raises MarketConfigError from the constructor if a node's configuration is refused by the node.
    """

    def __init__(
        self,
        profile,
        url: str,
        keys: dict[str, str],
        nodes,
        work_dir: str | Path,
        start: dt.date,
        *,
        factor: float | None = None,
        tick_s: float = 600.0,
        limit_s: float = 3600.0,
        threads: int = 4,
        max_refusals: int = 3,
        backoff_first_s: float | None = None,
        progress=None,
    ):
        from simulators.node.config import ConfigError, parse_config

        self.p = profile
        self.dir = Path(work_dir).resolve()  # the node config resolves paths against it: keep them absolute
        self.start = dt.datetime.combine(start, dt.time())
        self.factor = factor
        self.tick_s = float(tick_s)
        self.limit_s = float(limit_s)
        self.threads = max(1, int(threads))
        self.max_refusals = max(1, int(max_refusals))
        self.progress = progress
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        wait = 0.0 if factor is None else min(NODE_BATCH_WAIT_S, NODE_BATCH_WAIT_S * factor)
        upload = {"batch_wait_s": wait}
        if backoff_first_s is not None:
            upload["backoff_first_s"] = float(backoff_first_s)
        self.slots: dict[str, _Slot] = {}
        for code, name, ntype in nodes:
            data = {
                "node": {"code": code, "name": name, "type": ntype, "report_operators": False},
                "platform": {"url": base, "path": path, "key": keys[code]},
                "outbox": {"path": str(self.dir / f"{code}.db")},
                "upload": upload,
                "stoptrade": {"enabled": False},
            }
            try:
                cfg = parse_config(data, self.dir, profile, source=f"simulate --via-node ({code})")
            except ConfigError as exc:
                raise MarketConfigError(
                    f"节点 {code} 的配置被参考节点拒绝：{exc.zh}",
                    f"the reference node refuses node {code}'s configuration: {exc.en}",
                ) from None
            self.slots[code] = _Slot(code, cfg)
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._answered = False
        self._clock = time.monotonic
        self._last_report = self._clock()
        ensure_fd_limit(len(self.slots))

    # -- public ----------------------------------------------------------------------------------------
    def run(self, log: UploadLog) -> ViaNodeResult:
        """Enter and upload every entry of ``log``; returns the node-side truth.  Never raises for what
        the platform answers; bounded by ``limit_s``."""
        from simulators.node.uploader import Uploader
        from simulators.node.outbox import Outbox
        from simulators.platform.logs import JsonLineFormatter

        res = ViaNodeResult(nodes=len(self.slots), generated=log.generated, work_dir=str(self.dir))
        entries = sorted(log.entries, key=lambda e: (e[0], e[1]))
        res.offered = len(entries)
        lg = logging.getLogger("roucai.node")
        saved = (lg.handlers[:], lg.level, lg.propagate)
        handler = logging.FileHandler(self.dir / LOG_FILE, encoding="utf-8")
        handler.setFormatter(JsonLineFormatter())
        lg.handlers[:] = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False
        clocks = RequestClock(self.p.envelope.utc_offset)
        client = httpx.Client(trust_env=False, limits=httpx.Limits(max_connections=self.threads * 2))
        workers: list[threading.Thread] = []
        t0 = self._clock()
        try:

            def open_node(s: _Slot) -> None:  # each open is a few fsyncs: done by the pool, in parallel
                s.outbox = Outbox(s.cfg.outbox_path)
                s.uploader = Uploader(s.cfg, s.outbox, self.p, clock=lambda c=s.code: clocks(c), client=client)
                s.ready = s.outbox.counts()["pending"] > 0  # a resumed run: rows left by the last one

            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(open_node, self.slots.values()))
            workers = [
                threading.Thread(target=self._work, name=f"vianode-{i}", daemon=True) for i in range(self.threads)
            ]
            for w in workers:
                w.start()
            deadline = t0 + self.limit_s
            self._feed(entries, res, self._clock(), deadline)  # paced from now: opening took its time
            if not self._drain(deadline, res, res.offered):
                res.timed_out = True
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            for w in workers:
                w.join(max(s.cfg.timeout_s for s in self.slots.values()) + 2 if self.slots else 2)
            res.wall_s = self._clock() - t0
            try:
                self._tally(res)
                res.answered = self._answered or res.failures == 0  # nothing to send needs no answer
            finally:
                for s in self.slots.values():
                    if s.outbox is not None:
                        s.outbox.close()
                client.close()
                handler.close()
                lg.handlers[:], lg.level, lg.propagate = saved[0], saved[1], saved[2]
        return res

    # -- entering ----------------------------------------------------------------------------------------
    def _feed(self, entries, res: ViaNodeResult, t0: float, deadline: float) -> None:
        if not entries:
            return
        t_first = entries[0][0]
        i, n = 0, len(entries)
        while i < n:
            self._report(res, i)
            now = self._clock()
            if now >= deadline:
                res.timed_out = True
                return
            if self.factor is None:
                tick_end = (math.floor(entries[i][0] / self.tick_s) + 1) * self.tick_s
                j = i
                while j < n and entries[j][0] < tick_end:
                    j += 1
            else:
                wait = t0 + (entries[i][0] - t_first) * self.factor - now
                if wait > 0:
                    time.sleep(min(wait, deadline - now, 0.5))
                    continue
                due = now - t0
                j = i
                while j < n and (entries[j][0] - t_first) * self.factor <= due:
                    j += 1
            self._enter(entries[i:j], res)
            i = j
            if self.factor is None:
                self._drain(deadline, res, i)

    def _enter(self, chunk, res: ViaNodeResult) -> None:
        from simulators.node.outbox import Item
        from simulators.node.sales import in_catalogue_order

        catalog = self.p.records
        per_node: dict[str, list] = defaultdict(list)
        for t_up, num, node, rtype, data in chunk:
            rt = catalog.types[rtype]
            rec = in_catalogue_order(rt, data)
            errs = tuple(f for f in catalog.validate(rtype, rec) if f.severity == "error")
            ddate = rt.business_date(rec) or (self.start + dt.timedelta(seconds=t_up)).strftime("%Y%m%d")
            per_node[node].append(Item(rtype, rec, ddate, "simulate", f"sim:{num}", None, errs))
        for node, items in per_node.items():
            s = self.slots[node]
            states = s.outbox.add(items)
            res.deduplicated += sum(1 for st, _ in states if st == "duplicate")
            with self._cond:
                s.gen += 1
                if not s.gave_up:
                    s.ready = True
                self._cond.notify_all()

    # -- uploading ---------------------------------------------------------------------------------------
    def _drained(self) -> bool:
        return self._busy == 0 and not any(s.ready for s in self.slots.values())

    def _drain(self, deadline: float, res: ViaNodeResult, fed: int) -> bool:
        """Wait (bounded by ``deadline``) until no node has anything left to send; False if time ran out."""
        while True:
            with self._cond:
                if self._drained():
                    return True
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            self._report(res, fed)

    def _pick(self, now: float) -> tuple[_Slot | None, float]:
        best, wake = None, now + 0.5
        for s in self.slots.values():
            if not s.ready or s.busy:
                continue
            if s.next_try <= now and (best is None or s.next_try < best.next_try):
                best = s
            elif s.next_try > now:
                wake = min(wake, s.next_try)
        return best, wake

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = self._clock()
                    slot, wake = self._pick(now)
                    if slot is not None:
                        break
                    self._cond.wait(max(0.002, wake - now))
                slot.busy = True
                self._busy += 1
                gen = slot.gen
            try:
                result = slot.uploader.step()
                pending = slot.outbox.counts()["pending"] if result == "idle" else None
            except Exception as exc:  # a storage error: the node's loop backs off the same way
                slot.uploader.status.update(
                    last_error=f"{type(exc).__name__}", retry_in_s=slot.uploader.backoff.next(), refused=None
                )
                result, pending = "failed", None
            self._settle(slot, result, pending, gen)

    def _settle(self, s: _Slot, result: str, pending: int | None, gen: int) -> None:
        st = s.uploader.status
        now = self._clock()
        with self._cond:
            s.busy = False
            self._busy -= 1
            if result == "sent":
                self._answered = True
                s.refusals = 0
                s.next_try = now
            elif result == "idle":
                if pending == 0 and s.gen == gen:
                    s.ready = False
                else:  # a group still filling (paced) or rows entered meanwhile
                    s.next_try = now + max(0.005, min(s.cfg.interval_s, s.cfg.batch_wait_s / 2))
            else:
                code = st.get("refused")
                if code is not None:
                    self._answered = True
                    if code != "1199":
                        s.refusals += 1
                if s.refusals >= self.max_refusals:
                    s.gave_up = (code, st.get("last_error") or code)
                    s.ready = False
                else:
                    s.next_try = now + float(st.get("retry_in_s") or 0.0)
            self._cond.notify_all()

    # -- counting -----------------------------------------------------------------------------------------
    def _report(self, res: ViaNodeResult, fed: int) -> None:
        """Call ``progress({"offered", "total", "envelopes", "acknowledged", "rejected"})`` at most once a second."""
        if self.progress is None or self._clock() - self._last_report < 1.0:
            return
        self._last_report = self._clock()
        sts = [s.uploader.status for s in self.slots.values()]
        self.progress(
            {
                "offered": fed,
                "total": res.offered,
                "envelopes": sum(x["envelopes"] for x in sts),
                "acknowledged": sum(x["acknowledged"] for x in sts),
                "rejected": sum(x["rejected"] for x in sts),
            }
        )

    def _tally(self, res: ViaNodeResult) -> None:
        for s in self.slots.values():
            if s.outbox is None:
                continue
            c = s.outbox.counts()
            res.entered += sum(c.values())
            res.acknowledged += c["acknowledged"]
            res.rejected += c["rejected"]
            res.invalid += c["invalid"]
            left = c["pending"] + c["sent"]
            res.pending += left
            if s.uploader is not None:
                res.envelopes += s.uploader.status["envelopes"]
                res.settled += s.uploader.status["acknowledged"] + s.uploader.status["rejected"]
                res.failures += s.uploader.status["failures"]
            if c["acknowledged"]:
                v = Counter(r["verdict"] for r in s.outbox.rows("acknowledged", limit=c["acknowledged"]))
                res.accepted += v["accepted"]
                res.duplicate += v["duplicate"]
            if c["rejected"]:
                for r in s.outbox.rows("rejected", limit=c["rejected"]):
                    res.reasons[f"{r['reason']} {r['message'] or ''}".strip()] += 1
            if c["invalid"]:
                for r in s.outbox.rows("invalid", limit=c["invalid"]):
                    res.findings[f"{r['reason']} {r['field'] or ''}".strip()] += 1
            if s.gave_up and left:
                res.refused.append({"node": s.code, "code": s.gave_up[0], "error": s.gave_up[1], "records": left})
