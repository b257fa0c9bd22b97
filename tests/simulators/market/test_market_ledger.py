import pytest

from simulators.market.ledger import Ledger


def test_export_and_load_give_the_same_answers(tiny_day, tmp_path):
    _, led, _, text = tiny_day
    f = tmp_path / "ledger.jsonl"
    f.write_text(text, encoding="utf-8")
    back = Ledger.load(f)
    assert back.header["preset"] == "tiny" and back.header["seed"] == 1
    assert back.kpis() == led.kpis()
    assert back.totals() == led.totals()
    assert back.summary() == led.summary()
    assert back.hourly_by_node_type() == led.hourly_by_node_type()
    code = next(led.sales(traced=True))["id"]
    assert back.chain(code) == led.chain(code)
    assert back.conservation() == []


def test_unknown_codes_and_broken_files(tmp_path):
    led = Ledger()
    assert led.chain("65010300200030000001") is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"k": "run"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        Ledger.load(bad)
    headless = tmp_path / "headless.jsonl"
    headless.write_text('{"k": "event", "name": "day", "t": 0}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        Ledger.load(headless)
    notobj = tmp_path / "list.jsonl"
    notobj.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(ValueError):
        Ledger.load(notobj)


def test_a_truncated_export_is_refused(tiny_day, tmp_path):
    """An interrupted run's ledger (no end line, or lines missing before it) is never read as complete."""
    text = tiny_day[3]
    lines = text.splitlines(keepends=True)
    assert lines[-1].startswith('{"k":"end"')
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    with pytest.raises(ValueError, match="truncated"):
        Ledger.load(cut)
    holed = tmp_path / "holed.jsonl"
    holed.write_text("".join(lines[:5] + lines[6:]), encoding="utf-8")
    with pytest.raises(ValueError, match="end line counts"):
        Ledger.load(holed)
    after = tmp_path / "after.jsonl"
    after.write_text(text + lines[1], encoding="utf-8")
    with pytest.raises(ValueError, match="after the end"):
        Ledger.load(after)


def test_chain_walk_stops_on_a_cycle():
    led = Ledger()
    led.add(
        {"k": "lot", "id": "a", "kind": "line", "parent": "b", "node": "n", "holder": "h", "goods_code": "g", "kg": 1.0}
    )
    led.add(
        {"k": "lot", "id": "b", "kind": "line", "parent": "a", "node": "n", "holder": "h", "goods_code": "g", "kg": 1.0}
    )
    assert [e["id"] for e in led.chain("a")] == ["a", "b"]
    assert led.chain_ends("a") == "line"


def test_kpis_follow_the_profile_definitions():
    led = Ledger(deadline_grace_s=3600)
    led.add({"k": "node", "code": "N1", "type": "farmers_market"})
    for i, traced in enumerate([True, True, True, False]):
        led.add(
            {
                "k": "sale",
                "id": f"S{i}",
                "parent": "L",
                "node": "N1",
                "holder": "H1",
                "goods_code": "g",
                "kg": 1.0,
                "traced": traced,
                "t": 100.0,
                "day": 0,
            }
        )
    led.add({"k": "record", "t": 100.0, "type": "scale_sale", "node": "N1", "data": {}, "upload": [200.0]})
    led.add({"k": "record", "t": 86000.0, "type": "scale_sale", "node": "N1", "data": {}, "upload": [86400 + 3500.0]})
    led.add({"k": "record", "t": 100.0, "type": "scale_sale", "node": "N1", "data": {}, "upload": [86400 + 3700.0]})
    led.add({"k": "record", "t": 100.0, "type": "scale_sale", "node": "N1", "data": {}, "upload": []})
    k = led.kpis()
    assert k["scale_usage"]["overall"] == 0.75
    assert k["upload_rate"]["overall"] == 0.5 and k["upload_rate"]["records"] == 4
