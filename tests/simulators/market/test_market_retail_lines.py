"""``retail_upload = lines`` (``roucai simulate --retail-upload lines``): one retail record per receipt line whose sale
code is the receipt's trace code (simulators/market/retail.py), while the default ``summary`` stays as it was."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from marketkit import DAY, run_tiny

from profiles import load_profile
from simulators.market.errors import MarketConfigError

SUMM = "retail_market_tran_info_summ"
P = load_profile()


@pytest.fixture(scope="module")
def lines_day():
    return run_tiny(retail_upload="lines", keep_ledger_text=True)


def _records(stream: str, rtype: str) -> list[dict]:
    return [o for o in map(json.loads, stream.splitlines()) if o.get("k") == "record" and o["type"] == rtype]


def test_every_traced_retail_sale_line_is_one_record_with_its_receipt_code(lines_day):
    m, led, stream, _ = lines_day
    roles = {n.code: n.role for n in m.topo.nodes}
    recs = _records(stream, SUMM)
    by_code = {r["data"]["sale_tran_id"]: r for r in recs}
    assert len(by_code) == len(recs)  # one record per code
    want = [s for s in led.sales(traced=True) if roles[s["node"]] in ("farmers_market", "shop")]
    assert want and {s["id"] for s in want} == set(by_code)  # every traced line, nothing else
    for s in want:
        r = by_code[s["id"]]
        d = r["data"]
        lot = led.entries[s["parent"]]
        assert r["node"] == s["node"] and r["t"] == s["t"]  # made at the sale
        assert (d["retailer_id"], d["batch_id"], d["tran_id"], d["goods_code"]) == (
            s["holder"],
            s["parent"],
            s["parent"],
            s["goods_code"],
        )
        assert d["weight"] == f"{s['kg']:.3f}" and d["price"] == f"{s['price']:.2f}"
        assert d["sale_date"] == m.node_ymd(s["node"], s["t"]) and d["in_date"] == m.ymd(lot["day"] * 86400)
        assert r["upload"] and min(r["upload"]) > r["t"]
        assert not P.records.validate(SUMM, d), (s["id"], P.records.validate(SUMM, d))
    # the meat lines carry their product certificate (TRAN-REC-05)
    meat = [by_code[s["id"]]["data"] for s in want if m.commodities[s["goods_code"]].kind == "meat"]
    assert meat and all(d.get("quarantine_animal_products_id") for d in meat)


def test_the_truth_does_not_change_only_what_is_uploaded(tiny_day, lines_day):
    _m0, led0, stream0, _ = tiny_day
    m1, led1, stream1, ledger_text = lines_day
    assert [s for s in led0.sales()] == [s for s in led1.sales()]  # the same sales, codes and kg
    assert led0.totals() == led1.totals()
    assert led1.conservation() == led0.conservation()
    kinds0 = {k for k in (o["type"] for o in map(json.loads, stream0.splitlines()) if o.get("k") == "record")}
    kinds1 = {k for k in (o["type"] for o in map(json.loads, stream1.splitlines()) if o.get("k") == "record")}
    assert kinds0 == kinds1
    assert json.loads(ledger_text.splitlines()[0])["retail_upload"] == "lines"
    # the default: daily summaries under the market's own operator code, and a header without the option
    _m0, _l0, _s0, text0 = run_tiny(keep_ledger_text=True)
    assert "retail_upload" not in json.loads(text0.splitlines()[0])
    summ0 = _records(stream0, SUMM)
    assert summ0 and all(r["data"]["sale_tran_id"][9:13] == "0000" for r in summ0)
    assert len(_records(stream1, SUMM)) > 5 * len(summ0)


def test_an_unknown_retail_upload_is_refused_bilingually(capsys):
    with pytest.raises(MarketConfigError) as exc:
        run_tiny(retail_upload="daily")
    assert "--retail-upload" in exc.value.zh and "summary or lines" in exc.value.en
    for lang, words in (
        ("zh", "--retail-upload 须为 summary 或 lines"),
        ("en", "--retail-upload must be summary or lines"),
    ):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "roucai.cli",
                "--lang",
                lang,
                "simulate",
                "--preset",
                "tiny",
                "--retail-upload",
                "daily",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr and words in r.stderr, r.stderr


def test_device_mode_uploads_the_same_receipt_lines(lines_day):
    from simulators.city import generate_city
    from simulators.market import devices
    from simulators.market.model import MarketModel

    stream = io.StringIO()
    m = MarketModel(
        generate_city("tiny", 1, P), P, seed=1, start=DAY, stream=stream, mode="devices", retail_upload="lines"
    )
    devices.attach(m)
    m.run()
    got = sorted(json.dumps(r["data"], sort_keys=True) for r in _records(stream.getvalue(), SUMM))
    want = sorted(json.dumps(r["data"], sort_keys=True) for r in _records(lines_day[2], SUMM))
    assert got and got == want  # the scales on their serial lines sold and coded the same lines


def test_the_same_seed_gives_the_same_bytes_with_lines(lines_day):
    _m, _led, stream, ledger_text = run_tiny(retail_upload="lines", keep_ledger_text=True)
    assert stream == lines_day[2] and ledger_text == lines_day[3]
