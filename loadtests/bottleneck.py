"""Which side held a load run back: the load generator's CPU, the platform's CPU, its storage, or the machine.

A :class:`Sampler` thread reads, once per ``interval`` seconds while Locust runs, the CPU seconds of every
load-generator process (Locust master, workers and their children), of the platform process when it runs on
this machine, the machine's busy and total CPU time, and the platform's group-commit counters from its
``/healthz`` (``writes.tx_s`` and ``writes.tx_cpu_s``: wall and CPU seconds inside write transactions; the
difference is time spent waiting for COMMIT's fsync and locks).  :func:`judge` turns consecutive samples into
utilisations per interval and names the resource that was saturated in the largest share of intervals:

==================  =====================================================================================
``generator``       a Locust process used ≥ ``SATURATED`` of one core: the load, not the platform, was
                    the limit; the run says nothing about the platform's capacity (use more ``--workers``)
``machine``         the machine's CPUs were ≥ ``MACHINE_BUSY`` busy while processes outside the run used
                    ≥ ``OTHER_SHARE`` of them: other work on this machine took the CPU
``platform-cpu``    the platform process used ≥ ``SATURATED`` of one core (a Python server is bound to
                    about one core by its interpreter lock)
``storage``         the platform's write transactions waited (wall − CPU) ≥ ``SATURATED`` of the interval:
                    commits (fsync) or lock waits bound the ingest
``none``            nothing saturated in ≥ ``MIN_SHARE`` of the intervals: if the run lagged, the platform
                    answered slowly without using CPU or storage (latency), or the run was too short to tell
==================  =====================================================================================

Several saturated resources are named in the order above (a saturated generator or a busy machine makes
the other figures meaningless).  The figures are ratios of measured CPU seconds; the thresholds are this
tool's own (evidence ``profile``).  A platform on another machine has no CPU figure; one whose ``/healthz``
has no ``writes`` has no storage figure: the verdict says which figures were missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import psutil

SATURATED = 0.90  # share of one core (or of the interval, for storage) that counts as saturated
MACHINE_BUSY = 0.95  # share of all the machine's cores
OTHER_SHARE = 0.25  # share of the machine's cores used by processes outside the run
MIN_SHARE = 0.10  # share of the intervals a resource must be saturated in to be named
ORDER = ("generator", "machine", "platform-cpu", "storage")

NAMES = {
    "generator": ("负载生成端 CPU", "the load generator's CPU"),
    "machine": ("本机其他进程占用 CPU", "other processes on this machine took the CPU"),
    "platform-cpu": ("平台 CPU", "the platform's CPU"),
    "storage": ("平台存储（提交/fsync）", "the platform's storage (commits, fsync)"),
    "none": ("无饱和资源", "nothing saturated"),
}


@dataclass
class Sample:
    """One reading.  CPU figures are cumulative seconds; ``gen`` maps pid → seconds of that process tree."""

    t: float
    gen: dict[int, float]
    plat: float | None
    busy: float
    total: float
    tx: tuple[float, float] | None  # (tx_s, tx_cpu_s) from /healthz, or None


def local_pid(url: str) -> int | None:
    """The pid of the process listening on ``url``'s port when ``url`` names this machine (127.0.0.1,
    localhost, ::1) and it is visible to us; None otherwise (a platform elsewhere has no CPU figure)."""
    u = urlsplit(url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
    except (psutil.AccessDenied, OSError):
        return None
    return None


def _tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds of ``proc`` and its living children (0 once it is gone)."""
    total = 0.0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                c = p.cpu_times()
                total += c.user + c.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return total


def _machine() -> tuple[float, float]:
    c = psutil.cpu_times()
    idle = c.idle + getattr(c, "iowait", 0.0)
    total = sum(c)
    return total - idle, total


@dataclass
class Sampler:
    """Samples until :meth:`stop`; every call it makes is bounded (HTTP by ``timeout``)."""

    generator_pids: Callable[[], list[int]]
    platform_pid: int | None = None
    health_url: str | None = None
    interval: float = 1.0
    timeout: float = 0.5
    verify: object = True
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="roucai-bottleneck", daemon=True)
        self._procs: dict[int, psutil.Process] = {}
        self._client = httpx.Client(timeout=self.timeout, verify=self.verify) if self.health_url else None

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop sampling (idempotent) and return the samples, the last one taken at the stop."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval + self.timeout + 5)
        if self._client is not None:
            self._client.close()
            self._client = None
        return self.samples

    def _proc(self, pid: int) -> psutil.Process | None:
        if pid not in self._procs:
            try:
                self._procs[pid] = psutil.Process(pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return None
        return self._procs[pid]

    def _tx(self) -> tuple[float, float] | None:
        client = self._client
        if client is None or self.health_url is None:
            return None
        try:
            w = client.get(self.health_url).json().get("writes")
            return (float(w["tx_s"]), float(w["tx_cpu_s"])) if isinstance(w, dict) else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def read(self) -> Sample:
        gen = {}
        for pid in self.generator_pids():
            p = self._proc(pid)
            if p is not None:
                gen[pid] = _tree_cpu(p)
        plat = None
        if self.platform_pid is not None:
            p = self._proc(self.platform_pid)
            plat = _tree_cpu(p) if p is not None else None
        busy, total = _machine()
        return Sample(time.monotonic(), gen, plat, busy, total, self._tx())

    def _loop(self) -> None:
        while True:
            self.samples.append(self.read())
            if self._stop.wait(self.interval):
                self.samples.append(self.read())
                return


def utilisations(samples: list[Sample], cores: int) -> list[dict]:
    """One dict per interval between consecutive samples: ``generator`` (the busiest generator process, share
    of one core), ``platform`` (share of one core, or None), ``machine`` (share of all cores), ``other`` (share
    of all cores used outside the run), ``storage`` (share of the interval waiting in write transactions, or
    None)."""
    out = []
    for a, b in zip(samples, samples[1:]):
        dt = b.t - a.t
        if dt <= 0:
            continue
        gen = [max(0.0, b.gen[k] - a.gen[k]) for k in b.gen if k in a.gen]
        plat = None if a.plat is None or b.plat is None else max(0.0, b.plat - a.plat) / dt
        dtotal = b.total - a.total
        machine = min(1.0, max(0.0, (b.busy - a.busy) / dtotal)) if dtotal > 0 else 0.0
        ours = (sum(gen) + ((plat or 0.0) * dt)) / (dt * max(1, cores))
        storage = None
        if a.tx is not None and b.tx is not None:
            storage = max(0.0, (b.tx[0] - a.tx[0]) - (b.tx[1] - a.tx[1])) / dt
        out.append(
            {
                "generator": max(gen, default=0.0) / dt,
                "platform": plat,
                "machine": machine,
                "other": max(0.0, machine - ours),
                "storage": storage,
            }
        )
    return out


def _saturated(u: dict) -> set[str]:
    hit = set()
    if u["generator"] >= SATURATED:
        hit.add("generator")
    if u["machine"] >= MACHINE_BUSY and u["other"] >= OTHER_SHARE:
        hit.add("machine")
    if u["platform"] is not None and u["platform"] >= SATURATED:
        hit.add("platform-cpu")
    if u["storage"] is not None and u["storage"] >= SATURATED:
        hit.add("storage")
    return hit


def judge(samples: list[Sample], cores: int | None = None) -> dict:
    """The bottleneck verdict of a run: ``verdict`` (one of :data:`ORDER` or ``none``), ``zh``/``en``,
    ``saturated_share`` per resource, mean and peak utilisations, ``intervals`` and ``missing`` figures."""
    cores = cores or psutil.cpu_count() or 1
    us = utilisations(samples, cores)
    share = {k: 0.0 for k in ORDER}
    for u in us:
        for k in _saturated(u):
            share[k] += 1
    n = len(us)
    share = {k: round(v / n, 3) if n else 0.0 for k, v in share.items()}
    named = [k for k in ORDER if share[k] >= MIN_SHARE]
    verdict = named[0] if named else "none"

    def stat(key: str) -> dict | None:
        vals = [u[key] for u in us if u[key] is not None]
        return {"mean": round(sum(vals) / len(vals), 3), "peak": round(max(vals), 3)} if vals else None

    figures = {k: stat(k) for k in ("generator", "platform", "storage", "machine", "other")}
    missing = [k for k in ("platform", "storage") if figures[k] is None] if n else []
    zh, en = NAMES[verdict]
    if verdict != "none":
        zh += f"（{share[verdict]:.0%} 的采样区间饱和）"
        en += f" (saturated in {share[verdict]:.0%} of the sampled intervals)"
    elif n:
        zh += "：若有滞后，是平台应答慢而未耗 CPU 或存储（时延）"
        en += ": if the run lagged, the platform answered slowly without using CPU or storage (latency)"
    else:
        zh, en = "采样不足，无法判断瓶颈", "too few samples to name a bottleneck"
    if missing:
        zh += "；缺少数据：" + "、".join(
            {"platform": "平台 CPU（平台不在本机）", "storage": "存储（/healthz 无 writes）"}[m] for m in missing
        )
        en += "; figures missing: " + ", ".join(
            {"platform": "platform CPU (not on this machine)", "storage": "storage (/healthz has no writes)"}[m]
            for m in missing
        )
    return {
        "verdict": verdict,
        "zh": zh,
        "en": en,
        "saturated_share": share,
        "figures": figures,
        "intervals": n,
        "cores": cores,
        "missing": missing,
        "thresholds": {
            "saturated": SATURATED,
            "machine_busy": MACHINE_BUSY,
            "other_share": OTHER_SHARE,
            "min_share": MIN_SHARE,
        },
    }
