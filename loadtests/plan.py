"""The workload of a load test: a city's market day(s) as batches of records, prepared before Locust starts.

A plan is a directory (never imports locust; built in the CLI process):

``meta.json``
    ``{"version", "key", "preset", "seed", "scale", "days", "start", "envelopes", "sends", "unique",
    "nodes", "curve": {"envelopes": [24], "records": [24], "sales": [24]}, "codes": {kind: n}}``;
    ``curve`` counts per local clock hour summed over the day copies (the model's expected rate
    shape, in the plan's own units).
``batches.jsonl``
    one upload per line, in send order: ``{"i", "at", "day", "node", "rtype", "date", "records",
    "ids", "codes"}``; ``date`` is the envelope's DataDate (the records' business date, or for
    types without one the model's upload date).  ``at`` is the upload's time of day in seconds, ``0 <= at <= 86400``
    (late uploads that the model sends after the day ends are clamped to 86400: they go out in
    the drain period); ``ids`` are the records' identities (the reference platform's ``rkey``,
    ``platform.toml``); ``codes`` the trace codes the batch issues as ``[kind, code]``.
``truth.json``
    ``{"cells": {"NODE|DATE|RTYPE": [records, weight_g]}, "unique", "sends", "collisions"}``: what a
    platform must hold after the run (one row per identity; ``collisions`` = distinct model records
    that share an identity, which the platform stores once and the truth counts once).
``city.json``
    the city fixture (``roucai serve admin import-city`` input).

Scale: ``F`` = ``ceil(F)`` consecutive market days of one model run, folded onto one time of day
(trace codes stay unique across days); a fractional ``F`` keeps each batch with probability
``F / ceil(F)`` (``random.Random(f"{seed}:scale")``).  ``0 < F <= 31`` (the model's day limit).
Batches come from the market model's own :class:`~simulators.market.output.EnvelopeBatcher`
grouping (per node, record type, business date and 10-minute upload window, at most
``max_count`` records).  Same inputs, same bytes; plans are cached under ``cache_dir`` by a key
over the inputs, ``rates.toml`` and :data:`VERSION`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import random
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from profiles.errors import RoucaiError

VERSION = 2
DAY_S = 86400.0
MAX_SCALE = 31.0
#: record type -> kind of the trace codes it issues (who scans them: consumers scan retail codes)
CODE_KINDS = {
    "retail_market_tran_info_summ": "retail",
    "market_tran_info_base": "wholesale",
    "market_tran_info_detail": "wholesale",
    "meat_out_info_base": "slaughter",
    "meat_out_info_detail": "slaughter",
}
RETAIL_SALE_TYPES = ("scale_sale",)


class PlanError(RoucaiError):
    """A plan cannot be built or read (bilingual; the CLI exits 2)."""


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "roucai-harness" / "load"


def plan_key(preset: str, seed: int, scale: float, profile=None) -> str:
    """The cache key of a plan: its inputs, the market rates and the profile (a dialect's plan is its own)."""
    from profiles import load_profile
    from simulators.market.rates import RATES_FILE

    h = hashlib.sha256()
    fingerprint = (profile or load_profile()).fingerprint
    for part in (str(VERSION), preset, str(seed), repr(float(scale)), RATES_FILE.read_bytes().hex(), fingerprint):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def prepare(
    preset: str, seed: int, scale: float, cache_dir: str | Path | None = None, *, profile=None, progress=None
) -> Path:
    """The plan directory for these inputs, built (about 26 s per lanzhou day) unless cached.

    ``progress(zh, en, fraction)`` is told each step of a build and, during the market model, the
    fraction of the simulated days done.

    :raises PlanError: scale out of range, unknown preset, or a market configuration error.
    """
    if not (isinstance(scale, (int, float)) and 0 < scale <= MAX_SCALE and math.isfinite(scale)):
        raise PlanError(f"--scale 须在 0 到 {MAX_SCALE:g} 之间（不含0）", f"--scale must be in (0, {MAX_SCALE:g}]")
    from profiles import load_profile

    p = profile or load_profile()
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    key = plan_key(preset, seed, scale, p)
    out = root / f"{preset}-s{seed}-x{scale:g}-{key}"
    if (out / "meta.json").is_file():
        return out
    # a private build folder per process: concurrent runs (several `roucai load` at once) must not share one
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=root))
    try:
        _build(tmp, p, preset, seed, float(scale), key, progress)
        try:
            tmp.rename(out)  # atomic; fails if another process finished the same plan first
        except OSError:
            if not (out / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _build(out: Path, p, preset: str, seed: int, scale: float, key: str, progress) -> None:
    from simulators.city import PresetError, dump_bytes, generate_city
    from simulators.market import MarketConfigError, run_market
    from simulators.market.output import EnvelopeBatcher
    from simulators.market.rates import Rates
    from simulators.platform.recordmap import RecordMap

    days = max(1, math.ceil(scale - 1e-9))
    try:
        city = generate_city(preset, seed, p)
    except PresetError as exc:
        raise PlanError(exc.zh, exc.en) from None
    start = dt.date.fromisoformat(str(city.reference_date))
    (out / "city.json").write_bytes(dump_bytes(city))
    rates = Rates.load()
    batcher = EnvelopeBatcher(p, start, rates.upload["node_batch_s"])
    sales = [0] * 24
    stream = _LineSink(batcher, sales)
    say = progress or (lambda zh, en, fraction=None: None)
    say(f"市场模型：{preset} × {days} 天", f"market model: {preset} x {days} day(s)", 0.0)

    def tick(t, model):
        c = model.counters
        say(
            f"市场模型：{model.ts(t)[:16]}，记录 {c['records']}",
            f"market model: {model.ts(t)[:16]}, records {c['records']}",
            t / (days * DAY_S),
        )

    try:
        run_market(preset, seed, start, days, profile=p, stream=stream, progress=tick)
    except MarketConfigError as exc:
        raise PlanError(exc.zh, exc.en) from None
    rmap = RecordMap(p)
    keep = scale / days
    rng = random.Random(f"{seed}:scale")
    batches = []
    # EnvelopeBatcher's grouping (node, window, type, date); chunked at the profile's max_count as it writes
    groups = batcher._groups  # noqa: SLF001 - the model's batching, no public iterator (reported)
    maxc = p.envelope.max_count
    for gkey in sorted(groups):
        node, _w, rtype, bdate = gkey
        items = groups[gkey]
        for i in range(0, len(items), maxc):
            chunk = items[i : i + maxc]
            if keep < 1.0 and rng.random() >= keep:
                continue
            t_up = max(u for u, _ in chunk)
            date = bdate  # a type without a business date: DataDate = the upload's date, as the batcher signs it
            if not date:
                date = (start + dt.timedelta(days=int(t_up // DAY_S))).strftime("%Y%m%d")
            day = (dt.date(int(date[:4]), int(date[4:6]), int(date[6:])) - start).days
            at = min(max(t_up - day * DAY_S, 0.0), DAY_S)
            batches.append((round(at, 3), node, rtype, date, day, [r for _, r in chunk]))
    batches.sort(key=lambda b: (b[0], b[1], b[2], b[3], b[4]))
    say(f"写出负载计划：{len(batches)} 个报文", f"writing the load plan: {len(batches)} envelopes", None)
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    seen: dict[tuple, str] = {}
    collisions = sends = 0
    curve_env, curve_rec = [0] * 24, [0] * 24
    code_counts: dict[str, int] = defaultdict(int)
    with open(out / "batches.jsonl", "w", encoding="utf-8") as fh:
        for i, (at, node, rtype, date, day, recs) in enumerate(batches):
            ids, codes = [], []
            for r in recs:
                f = rmap.facts(rtype, r, node)
                ident = (node, rtype, f.rkey)
                body = json.dumps(r, ensure_ascii=False, sort_keys=True)
                if ident not in seen:
                    seen[ident] = body
                    cell = cells[f"{node}|{date}|{rtype}"]
                    cell[0] += 1
                    cell[1] += f.weight_g or 0
                elif seen[ident] != body:
                    collisions += 1
                ids.append(f.rkey)
                kind = CODE_KINDS.get(rtype)
                if kind and f.own_code:
                    codes.append([kind, f.own_code])
                    code_counts[kind] += 1
            sends += len(recs)
            h = min(int(at // 3600), 23)
            curve_env[h] += 1
            curve_rec[h] += len(recs)
            fh.write(
                json.dumps(
                    {
                        "i": i,
                        "at": at,
                        "day": day,
                        "node": node,
                        "rtype": rtype,
                        "date": date,
                        "records": recs,
                        "ids": ids,
                        "codes": codes,
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                + "\n"
            )
    truth = {"cells": dict(sorted(cells.items())), "unique": len(seen), "sends": sends, "collisions": collisions}
    (out / "truth.json").write_text(json.dumps(truth, separators=(",", ":")), "utf-8")
    meta = {
        "version": VERSION,
        "key": key,
        "preset": preset,
        "seed": seed,
        "scale": scale,
        "days": days,
        "start": start.isoformat(),
        "envelopes": len(batches),
        "sends": sends,
        "unique": len(seen),
        "nodes": len({b[1] for b in batches}),
        "curve": {"envelopes": curve_env, "records": curve_rec, "sales": [round(x * keep) for x in sales]},
        "codes": dict(sorted(code_counts.items())),
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")


class _LineSink(io.TextIOBase):
    """A text stream for the model's JSON lines: catalogue records go to the batcher, scale sales are counted."""

    def __init__(self, batcher, sales: list[int]):
        self.batcher = batcher
        self.sales = sales
        self._buf = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            if line:
                obj = json.loads(line)
                if obj.get("k") == "record":
                    if obj["type"] in RETAIL_SALE_TYPES:
                        self.sales[int(obj["t"] % DAY_S // 3600)] += 1
                    else:
                        self.batcher.add(obj)
        return len(s)


def read_meta(plan_dir: str | Path) -> dict:
    path = Path(plan_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise PlanError(f"不是负载计划目录：{plan_dir}", f"not a load plan directory: {plan_dir}") from None
    if meta.get("version") != VERSION:
        raise PlanError(f"负载计划版本不符：{plan_dir}", f"load plan version mismatch: {plan_dir}")
    return meta


def read_truth(plan_dir: str | Path) -> dict:
    return json.loads((Path(plan_dir) / "truth.json").read_text("utf-8"))
