"""Sales: records read back (PERC-SCALE-08), a trace code per line (PERC-SCALE-13, CODE-TRACE-01..04),
the receipt (PERC-SCALE-09, -12, CODE-CARR-01), its QR code (PERC-SCALE-11), the retail voucher linked to
the wholesale purchase (NODE-WHOL-06)."""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict
from pathlib import Path

import pytest

from conformance.actions import ActionMissing

from .test_scale_weighing import assert_refused

SALES = 30


def sell_lines(scale, batches: list[str], n: int, loads=None) -> list:
    out = []
    for i in range(n):
        load = None if loads is None or not scale.can("put-load") else loads[i % len(loads)]
        out.append(scale.sell(batches[i % len(batches)], load))
    return out


@pytest.mark.requirement("PERC-SCALE-08")
@pytest.mark.applies(kinds=("scale",))
def test_every_sale_line_reads_back_as_sold(scale, profile, evidence):
    """Records read from any index equal the sale: commodity, batch, weight, price, amount, time, trace code."""
    unit = scale.unit_g or 1000
    a = scale.new_batch(20 * unit, price_fen=2800, commodity="21111002")
    b = scale.new_batch(20 * unit, price_fen=3300, commodity="21111004", avoid=(a,))
    commodity = {x.batch_trace: x.commodity for x in scale.drv.status().batches if x.batch_trace in (a, b)}
    first = scale.drv.status().next_index
    sold = sell_lines(scale, [a, b], 6, loads=[602, 1232, 2486])  # each amount has a fraction of a fen to round
    got = scale.read_all(first)
    evidence.attach_json("records.json", {"sold": [asdict(r) for r in sold], "read": [asdict(r) for r in got]})
    by_index = {r.index: r for r in got}
    for s in sold:
        assert s.batch_trace in commodity, (
            f"sale {s.index} names batch {s.batch_trace!r}, not the batch sold "
            f"({a} or {b}): record the batch of every line"
        )
        assert s.commodity == commodity[s.batch_trace], (
            f"sale {s.index} names commodity {s.commodity!r}; its batch was loaded as {commodity[s.batch_trace]}"
        )
        r = by_index.get(s.index)
        assert r is not None, f"sale {s.index} (trace {s.trace_code}) cannot be read back"
        assert r == s, f"sale {s.index} reads back different from what was sold: {asdict(r)} != {asdict(s)}"
    mid = sold[3].index
    again = scale.read_all(mid)
    assert [r.index for r in again][:3] == [s.index for s in sold[3:]], (
        "reading from a middle index does not start there"
    )


@pytest.mark.requirement("PERC-SCALE-13", "CODE-TRACE-01", "CODE-TRACE-02", "CODE-TRACE-03")
@pytest.mark.applies(kinds=("scale",))
def test_each_line_gets_a_valid_trace_code_under_the_operator(scale, profile, evidence):
    """Every sale line's trace code obeys the coding rules and begins with the bound operator's code."""
    batch = scale.new_batch(20 * (scale.unit_g or 1000))
    sold = sell_lines(scale, [batch], 5)
    rows = []
    for s in sold:
        fs = profile.codes.findings(s.trace_code, "trace")
        rows.append({"index": s.index, "trace_code": s.trace_code, "findings": [f.en for f in fs]})
        assert not fs, f"trace code {s.trace_code!r} of sale {s.index} is invalid: {'; '.join(f.en for f in fs)}"
        assert s.trace_code.startswith(scale.operator), (
            f"trace code {s.trace_code} does not begin with the bound operator code {scale.operator}"
        )
    evidence.attach_json("trace_codes.json", rows)


@pytest.mark.requirement("PERC-SCALE-13")
@pytest.mark.applies(kinds=("scale",))
def test_each_line_names_its_batch_and_no_batch_no_code(scale, evidence):
    """Every sale line records the upstream trace code of the batch sold; goods without a batch get no trace
    code (the sale is refused)."""
    a = scale.new_batch(20 * (scale.unit_g or 1000))
    b = scale.new_batch(20 * (scale.unit_g or 1000), avoid=(a,))
    sold = sell_lines(scale, [a, b], 4)
    evidence.attach_json("lines.json", [{"index": s.index, "batch_trace": s.batch_trace} for s in sold])
    for s, want in zip(sold, [a, b, a, b]):
        assert s.batch_trace == want, f"sale {s.index} names batch {s.batch_trace!r} instead of {want}"
    unknown = scale.batch_code(990)
    assert_refused(lambda: scale.sell(unknown), "UNKNOWN_BATCH", "a sale of goods without a loaded batch")


@pytest.mark.requirement("PERC-SCALE-13", "CODE-TRACE-04")
@pytest.mark.applies(kinds=("scale",))
def test_trace_codes_are_unique_and_never_reused(scale, evidence):
    """30 sale lines: 30 different trace codes, their sequence strictly increasing."""
    a = scale.new_batch(100 * (scale.unit_g or 1000))
    sold = sell_lines(scale, [a], SALES)
    codes = [s.trace_code for s in sold]
    evidence.attach_json("trace_codes.json", codes)
    dups = sorted({c for c in codes if codes.count(c) > 1})
    assert not dups, f"{len(dups)} trace code(s) issued more than once, e.g. {dups[:3]}: never reuse a sequence"
    seqs = [int(c[-7:]) for c in codes]
    assert all(x < y for x, y in zip(seqs, seqs[1:])), "the trace sequence does not increase from sale to sale"


@pytest.mark.requirement("PERC-SCALE-09", "CODE-CARR-01")
@pytest.mark.applies(kinds=("scale",), needs=("printer",))
def test_receipt_prints_every_trace_code_and_no_paper_no_sale(scale, evidence):
    """Each completed sale prints a receipt with the line's 20-digit trace code in plain digits, one receipt per
    sale; when the paper has run out the sale is not completed (a failed print is never taken as printed).
    Actions read-receipt, paper-out, paper-in."""
    missing = [a for a in ("read-receipt", "paper-out", "paper-in") if not scale.can(a)]
    if missing:
        raise ActionMissing(missing, "读取小票与缺纸", "reading receipts and running out of paper")
    scale.act("paper-in")  # a new roll: every sale below prints
    batch = scale.new_batch(20 * (scale.unit_g or 1000))
    sold = sell_lines(scale, [batch], 3)
    receipts = scale.receipts(len(sold))
    printed = [ln.trace_code for rc in receipts for ln in rc.lines]
    evidence.attach_json("receipts.json", {"sold": [s.trace_code for s in sold], "receipt_lines": printed})
    assert len(receipts) == len(sold), (
        f"{len(sold)} sales printed {len(receipts)} receipts: every completed sale must print its receipt"
    )
    for s, rc in zip(sold, receipts):
        text = rc.text(qr_text=False)  # what is printed as text; the QR is an image on paper
        evidence.attach_text(f"receipt-{s.index}.txt", text)
        digits = re.findall(r"(?<!\d)\d{20}(?!\d)", text)
        assert s.trace_code in digits, (
            f"the receipt of sale {s.index} does not show its trace code {s.trace_code} as 20 plain digits"
        )
    scale.act("paper-out")  # the roll runs out
    try:
        before = scale.drv.status().next_index
        assert_refused(lambda: scale.sell(batch), "PAPER_OUT", "a sale with the paper out")
        assert scale.drv.status().next_index == before, "a sale without paper was stored as completed"
    finally:
        scale.act("paper-in")


def half_up_fen(weight_g: int, price_fen_per_kg: int) -> int:
    return (weight_g * price_fen_per_kg + 500) // 1000


@pytest.mark.requirement("PERC-SCALE-12")
@pytest.mark.applies(kinds=("scale",), needs=("printer",))
def test_receipt_contents(scale, evidence):
    """Market, stall, operator, time; per line name, weight (kg, 3 decimals), price (元/kg, 2 decimals),
    amount (= weight × price rounded half-up to the fen) and trace code; the total."""
    scale.receipts(1)  # the receipt must be readable: action read-receipt
    price = 2990
    batch = scale.new_batch(50 * (scale.unit_g or 1000), price_fen=price)
    halves = 0
    for i in range(8):
        s = scale.sell(batch, 1001 + 37 * i if scale.can("put-load") else None)
        assert s.amount_fen == half_up_fen(s.weight_g, price), (
            f"sale {s.index}: {s.weight_g} g x {price / 100:.2f} 元/kg is {half_up_fen(s.weight_g, price)} fen "
            f"rounded half-up; the scale says {s.amount_fen}"
        )
        rc = scale.receipts(1)[0]
        text = rc.text()
        evidence.attach_text(f"receipt-{s.index}.txt", text)
        flat = text.replace("\n", "")
        for what, want in (
            ("market name", "北园春农贸市场"),
            ("stall", scale.stall),
            ("operator", "张建国"),
            ("time", f"{s.time:%Y-%m-%d %H:%M:%S}"),
            ("commodity", s.commodity_name),
            ("weight (kg, 3 decimals)", f"{s.weight_g / 1000:.3f}"),
            ("unit price (元/kg)", f"{price / 100:.2f}"),
            ("amount (元)", f"{s.amount_fen / 100:.2f}"),
            ("trace code", s.trace_code),
            ("total", f"{rc.total_fen / 100:.2f}"),
        ):
            assert want in flat, f"the receipt of sale {s.index} lacks the {what} {want!r}"
        assert rc.total_fen == s.amount_fen, "the receipt total differs from the sum of its lines"
        halves += (s.weight_g * price) % 1000 >= 500
        if halves:
            break
    assert halves, "no sale fell on a half-fen amount, so the rounding was not shown (change the prices)"


@pytest.mark.requirement("PERC-SCALE-11", "CODE-CARR-01")
@pytest.mark.applies(kinds=("scale",), needs=("qr_code",))
def test_receipt_qr_carries_the_query_url_and_trace_code(scale, profile, evidence):
    """The receipt's QR code encodes the profile's query URL followed by the first line's trace code."""
    scale.receipts(1)  # the receipt must be readable: action read-receipt
    cfg = profile.data("device_protocol")["receipt"]
    batch = scale.new_batch(10 * (scale.unit_g or 1000))
    s = scale.sell(batch)
    rc = scale.receipts(1)[0]
    want = cfg["qr_template"].format(url=cfg["qr_url"], trace_code=s.trace_code, order_no=s.order_no)
    with tempfile.TemporaryDirectory() as tmp:
        png = rc.png(Path(tmp) / "receipt.png")
        evidence.attach_bytes("receipt.png", Path(png["path"]).read_bytes())
        png["path"] = "receipt.png"
    evidence.attach_json("qr.json", {"qr_content": rc.qr_content, "expected": want, "png": png})
    assert rc.qr_content == want, f"the QR code carries {rc.qr_content!r}; the profile wants {want!r}"
    assert rc.qr_content.endswith(s.trace_code), "the QR code's trace code differs from the printed digits"


@pytest.mark.requirement("NODE-WHOL-06")
@pytest.mark.applies(kinds=("scale",), needs=("printer",))
def test_retail_voucher_links_to_the_wholesale_purchase(scale, evidence):
    """A retail stall in a wholesale market: the voucher's lines name the wholesale batch they were sold from."""
    scale.receipts(1)  # the receipt must be readable: action read-receipt
    wholesale = scale.new_batch(10 * (scale.unit_g or 1000))
    s = scale.sell(wholesale)
    assert s.batch_trace == wholesale, f"the retail line names batch {s.batch_trace!r}, not the wholesale {wholesale}"
    rc = scale.receipts(1)[0]
    evidence.attach_text("receipt.txt", rc.text())
    assert [ln.trace_code for ln in rc.lines] == [s.trace_code], "the voucher's trace code is not the sale line's"
