"""A consumer's receipt traced at the platform (issue 14 item 7): the tiny day (a slice of Urumqi) simulated with
``--retail-upload lines`` and uploaded live to the reference platform (a subprocess on 127.0.0.1); then every traced
pork receipt line of the ledger is asked of ``GET /api/v1/trace/<code>`` and of the consumer page ``/trace?code=``,
and each must end at the farm the ledger knows: its name, the intake's 动物检疫合格证明 and ear-tag range.

With the default ``--retail-upload summary`` the receipts' codes are never uploaded: the same checks fail on the
first receipt (``unknown``), which is how this test was seen failing."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import httpx

from simulators.market.ledger import Ledger
from simulators.platform import periods
from simulators.platform.regstats import RegulatorStats
from simulators.platform.storage import open_store
from uploadkit import (
    DATE,
    P,
    city_file,  # noqa: F401 (fixture)
    platform,  # noqa: F401 (fixture)
    simulate_cli,
)

RETAIL_TYPES = ("farmers_market", "shop")


def _uploaded_lines(platform, tmp_path) -> tuple[Path, Ledger]:
    """The tiny day simulated with ``--retail-upload lines`` and uploaded to ``platform``: (ledger file, ledger)."""
    proc, _db, _keys, keys_path = platform
    truth = tmp_path / "truth.jsonl"
    r = simulate_cli("--retail-upload", "lines", "--to", proc.url, "--keys", str(keys_path), "--ledger", str(truth))
    assert r.returncode == 0, r.stderr[-2000:]
    return truth, Ledger.load(truth)


def test_every_pork_receipt_traces_to_its_farm_ear_tags_and_certificate(platform, tmp_path):
    proc, db = platform[0], platform[1]
    _truth, led = _uploaded_lines(platform, tmp_path)
    pork = [s for s in led.sales(traced=True) if s["category"] == "猪肉" and led.node_type(s["node"]) in RETAIL_TYPES]
    assert len(pork) > 20
    with httpx.Client(base_url=proc.url, timeout=30.0, trust_env=False) as c:
        for s in pork:
            chain = led.chain(s["id"])
            intake = next(e for e in chain if e.get("kind") == "intake")
            farm = chain[-1]
            assert farm["kind"] == "origin" and len(intake["ear_tags"]) == 2
            want = (farm["name"], intake["id"], *intake["ear_tags"])
            ans = c.get(f"/api/v1/trace/{s['id']}")
            assert ans.status_code == 200, (s["id"], ans.text[:300])
            doc = ans.json()
            assert doc["status"] == "found" and doc["complete"] is True, (s["id"], doc.get("status"))
            first, origin = doc["chain"][0], doc["chain"][-1]
            assert first["code"] == s["id"] and first["node"]["node_id"] == s["node"]
            assert first["records"][0]["fields"]["weight"] == f"{s['kg']:.3f}"
            assert origin["kind"] == "origin"
            sources = {(x["place"], x["certificate"], x["ear_tag_start"], x["ear_tag_end"]) for x in origin["sources"]}
            assert want in sources, (s["id"], want, sources)
            page = c.get("/trace", params={"code": s["id"]})
            assert page.status_code == 200
            text = html.unescape(page.text)
            assert all(v in text for v in want), (s["id"], want)
    # the regulator's retail volumes are the receipts' kg, to the gram, per node type (the truth: traced sales)
    sold: dict[str, int] = {}
    for s in led.sales(traced=True):
        if led.node_type(s["node"]) in RETAIL_TYPES:
            kind = led.nodes[s["node"]]["city_type"]
            sold[kind] = sold.get(kind, 0) + round(s["kg"] * 1000)
    table = RegulatorStats(open_store(f"sqlite:///{db}"), P).table(periods.parse(DATE[:7]), "node_type")
    stored = {g["key"]: g["weight_kg"] for g in table["groups"] if g["key"] in sold}
    assert stored == {k: f"{g // 1000}.{g % 1000:03d}" for k, g in sold.items()}


def _truth_receipts(ledger, url: str):
    r = subprocess.run(
        [sys.executable, "-m", "roucai.cli", "truth", "receipts", "--ledger", str(ledger), "--platform", url, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def test_truth_receipts_judges_every_meat_receipt_and_sees_a_wrong_source(platform, tmp_path):
    proc = platform[0]
    truth, led = _uploaded_lines(platform, tmp_path)
    meat = [
        s
        for s in led.sales(traced=True)
        if led.node_type(s["node"]) in RETAIL_TYPES and any(e.get("kind") == "intake" for e in led.chain(s["id"]))
    ]
    code, doc, err = _truth_receipts(truth, proc.url)
    assert code == 0, err
    assert (doc["judged"], doc["ok"], doc["not_uploaded"]) == (len(meat), len(meat), 0)
    # the same platform judged against a ledger whose first pig intake has other ear tags: its receipts fail
    intake = next(e for e in led.entries.values() if e.get("kind") == "intake" and e.get("ear_tags"))
    first, last = intake["ear_tags"]
    tampered = tmp_path / "tampered.jsonl"
    text = truth.read_text("utf-8")
    tampered.write_text(text.replace(f'["{first}","{last}"]', f'["{first}","{int(last) + 1}"]'), "utf-8")
    under = [s for s in meat if any(e["id"] == intake["id"] for e in led.chain(s["id"]))]
    code, doc, err = _truth_receipts(tampered, proc.url)
    assert code == 1 and under, err
    assert (doc["other_source"], doc["ok"]) == (len(under), len(meat) - len(under))
    # a run that uploaded no receipt under its code: nothing to judge (exit 2, bilingual)
    summary = tmp_path / "summary.jsonl"
    assert simulate_cli("--ledger", str(summary)).returncode == 0
    code, doc, err = _truth_receipts(summary, proc.url)
    assert code == 2 and "--retail-upload lines" in err and "Traceback" not in err
