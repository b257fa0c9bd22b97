"""Run-wide invariants of the scale: judged over EVERY frame the harness exchanged with a scale in this run.

The other perception tests each look at the sales they made; these look at everything the run saw
(:mod:`conformance.perception.observations`): every sale record in every SELL answer, SALE_EVENT and
READ_RECORDS answer, every WEIGH answer, every request and its answer.  They run last (the perception
``conftest`` orders them) and judge per device: on the built-in target each test had its own fresh
reference scale; a device target is one scale for the whole run.

Each test is named after what it judges and marked with the requirement it judges.  When the run saw
nothing of what a test judges (e.g. ``-k`` selected no sales), the test is *not applicable*, never a pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

import pytest

from conformance.notjudgeable import NotJudgeable

from profiles.device import messages as m

from .observations import D2H, H2D, RUN

RECORD_MESSAGES = (m.SellResponse, m.SaleEvent, m.ReadRecordsResponse)


def _scale_devices() -> list[str]:
    """Devices of this run that answered as a scale (a WEIGH, SELL or record answer was seen)."""
    seen = {o.device for o in RUN.entries if isinstance(o.msg, (m.WeighResponse, *RECORD_MESSAGES, m.StatusResponse))}
    return [d for d in RUN.devices() if d in seen]


def _need(what_en: str, what_zh: str, found) -> None:
    if RUN.overflow:
        pytest.fail(
            f"the observation log overflowed ({RUN.overflow} frames not kept): the run is too long to "
            f"judge every frame / 观察记录溢出，无法判定全部帧"
        )
    if not found:
        raise NotJudgeable(f"本次运行未观察到{what_zh}", f"this run observed no {what_en}")


def _records(kinds=RECORD_MESSAGES):
    """(observation, record, source) for every sale record the scales sent, in order."""
    for o in RUN.entries:
        if o.direction == D2H and isinstance(o.msg, kinds):
            recs = o.msg.records if isinstance(o.msg, m.ReadRecordsResponse) else o.msg.record
            src = {m.SellResponse: "SELL", m.SaleEvent: "SALE_EVENT", m.ReadRecordsResponse: "READ_RECORDS"}[
                type(o.msg)
            ]
            for r in recs:
                yield o, r, src


def _new_sales():
    """(observation, record, source) of sales made in this run (SELL answers and pushed events)."""
    return _records((m.SellResponse, m.SaleEvent))


def _answered(device_entries):
    """(request observation, answer observation) pairs of one device: an answer (response, ACK or NAK)
    belongs to the latest request with its SEQ and command."""
    pending = {}
    for o in device_entries:
        if o.direction == H2D and o.msg is not None and o.msg.role == "request":
            key = (o.seq, type(o.msg).__name__.removesuffix("Request"))
            if key not in pending or pending[key].msg != o.msg:  # a retransmission keeps the first send
                pending[key] = o
        elif o.direction == D2H and o.msg is not None and o.msg.role in ("response", "control"):
            name = type(o.msg).__name__.removesuffix("Response")
            if isinstance(o.msg, (m.Ack, m.Nak)):
                cmd = RUN_PROTOCOL().by_code.get(o.msg.cmd)
                name = "".join(p.capitalize() for p in cmd.wire.split("_")) if cmd else ""
            req = pending.pop((o.seq, name), None)
            if req is not None:
                yield req, o


def RUN_PROTOCOL():
    from profiles.device import get_protocol

    return get_protocol()


def _attach(evidence, name: str, bad: list, judged: int) -> None:
    evidence.attach_json(
        name, {"judged": judged, "violations": bad[:200], "violations_total": len(bad), "devices": _scale_devices()}
    )


def _show(bad: list, n: int = 3) -> str:
    return "; ".join(str(b) for b in bad[:n]) + (f" (and {len(bad) - n} more)" if len(bad) > n else "")


# -- arithmetic of the record -------------------------------------------------------------------


def profile_amount(weight_g: int, unit_price_fen: int) -> int:
    """The profile's amount of a sale line: weight (g) x unit price (fen/kg), rounded half-up to the fen
    (PERC-SCALE-12 profile value ``amount_rounding``)."""
    return (weight_g * unit_price_fen + 500) // 1000


@pytest.mark.requirement("PERC-SCALE-24")
@pytest.mark.applies(kinds=("scale",))
def test_every_record_amount_is_weight_times_price_rounded_half_up(evidence):
    """Every sale record the run saw (SELL, SALE_EVENT, READ_RECORDS): amount = weight x unit price,
    rounded half-up to the fen."""
    rows = list(_records())
    _need("sale records", "销售记录", rows)
    bad = [
        {
            "device": o.device,
            "source": src,
            "index": r.index,
            "weight_g": r.weight_g,
            "unit_price_fen": r.unit_price_fen,
            "amount_fen": r.amount_fen,
            "expected_fen": profile_amount(r.weight_g, r.unit_price_fen),
            "test": o.nodeid,
        }
        for o, r, src in rows
        if r.amount_fen != profile_amount(r.weight_g, r.unit_price_fen)
    ]
    _attach(evidence, "amounts.json", bad, len(rows))
    assert not bad, (
        f"{len(bad)} of {len(rows)} sale records carry an amount that is not weight x price rounded "
        f"half-up to the fen: {_show(bad)}"
    )


@pytest.mark.requirement("PERC-SCALE-01")
@pytest.mark.applies(kinds=("scale",))
def test_every_weighing_net_is_gross_minus_tare(evidence):
    """Every WEIGH answer the run saw: net = gross - tare."""
    rows = [o for o in RUN.entries if o.direction == D2H and isinstance(o.msg, m.WeighResponse)]
    _need("WEIGH answers", "称重应答", rows)
    bad = [
        dict(asdict(o.msg), device=o.device, test=o.nodeid)
        for o in rows
        if not o.msg.overload and o.msg.net_g != o.msg.gross_g - o.msg.tare_g
    ]
    _attach(evidence, "net_gross_tare.json", bad, len(rows))
    assert not bad, f"{len(bad)} of {len(rows)} weighings report net != gross - tare: {_show(bad)}"


def _identified(device: str) -> dict:
    """The capability statement ``device`` reported in its last IDENTIFY answer of the run."""
    if _IDENTIFIED.get("n") != len(RUN.entries):
        _IDENTIFIED.clear()
        _IDENTIFIED["n"] = len(RUN.entries)
        for o in RUN.entries:
            if o.direction == D2H and isinstance(o.msg, m.IdentifyResponse):
                _IDENTIFIED[o.device] = o.msg.capability_map()
    return _IDENTIFIED.get(device, {})


_IDENTIFIED: dict = {}


def _division_at(caps: dict, weight_g: float, device: str = "") -> int | None:
    """The declared division at ``weight_g``: e1 up to the switch point, e2 above (the switch point from the
    statement, else from the scale's IDENTIFY answer, else Max)."""
    e1 = caps.get("e1_g")
    if not e1:
        return None
    max_g = int(caps.get("max_g", 0) or 0)
    switch = int(caps.get("switch_g") or _identified(device).get("switch_g") or max_g)
    return int(e1) if weight_g <= switch or not caps.get("e2_g") else int(caps["e2_g"])


@pytest.mark.requirement("PERC-SCALE-02")
@pytest.mark.applies(kinds=("scale",))
def test_every_weight_is_a_multiple_of_the_declared_division(capabilities, evidence):
    """Every WEIGH answer reports the declared division at its gross weight, and its gross is a multiple of
    it (its net is judged by net = gross - tare); every sale record's weight is a multiple of the declared
    division at that weight (above the range switch, of e1 too: gross less a tare taken in the first range)."""
    caps = capabilities.capabilities
    if not caps.get("e1_g"):
        raise NotJudgeable("能力声明未给出分度值 e1_g", "the capability statement declares no division (e1_g)")
    weighs = [o for o in RUN.entries if o.direction == D2H and isinstance(o.msg, m.WeighResponse)]
    rows = list(_records())
    _need("weighings or sale records", "称重或销售记录", weighs or rows)
    bad = []
    for o in weighs:
        w = o.msg
        if w.overload:
            continue
        want = _division_at(caps, w.gross_g, o.device)
        if w.division_g != want or w.gross_g % want:
            bad.append(
                {
                    "device": o.device,
                    "what": "WEIGH",
                    "gross_g": w.gross_g,
                    "net_g": w.net_g,
                    "division_g": w.division_g,
                    "declared_division_g": want,
                    "test": o.nodeid,
                }
            )
    e1 = int(caps["e1_g"])
    for o, r, src in rows:
        want = _division_at(caps, r.weight_g, o.device)
        # a net weight is gross (a multiple of e) minus a tare that may have been taken in the first range
        if r.weight_g % want and (want == e1 or r.weight_g % e1):
            bad.append(
                {
                    "device": o.device,
                    "what": src,
                    "index": r.index,
                    "weight_g": r.weight_g,
                    "declared_division_g": want,
                    "test": o.nodeid,
                }
            )
    _attach(evidence, "divisions.json", bad, len(weighs) + len(rows))
    assert not bad, f"{len(bad)} weights are not on the declared division: {_show(bad)}"


@pytest.mark.requirement("PERC-SCALE-01")
@pytest.mark.applies(kinds=("scale",))
def test_every_sale_weighs_the_load_on_the_platter(target, capabilities, evidence):
    """Every sale the run made weighs the load on the platter within 2 divisions (the tolerance
    test_weighs_net_after_tare allows): the load the harness last placed (action put-load), else the declared
    test load (``test_load_g``).  Sales after a tare, or after an unstable or overload placement, are not
    judged (their net is not the load)."""
    declared = capabilities.capabilities.get("test_load_g")
    rows, state = [], {}
    for o in RUN.entries:
        if o.direction == "mark" and o.fault.startswith("load:"):
            v = o.fault[5:]
            state[o.device] = None if v == "?" else float(v)
        elif o.direction == H2D and isinstance(o.msg, m.TareRequest):
            state[o.device] = None
        elif o.direction == D2H and isinstance(o.msg, m.SellResponse):
            load = state.get(o.device, None if target.is_builtin else (float(declared) if declared else None))
            if load is not None:
                rows += [(o, r, load) for r in o.msg.record]
    _need("sales at a known load", "已知负载下的销售", rows)
    bad = []
    for o, r, load in rows:
        e = _division_at(capabilities.capabilities, load, o.device) or 1
        if abs(r.weight_g - load) > 2 * e:
            bad.append(
                {
                    "device": o.device,
                    "index": r.index,
                    "weight_g": r.weight_g,
                    "load_g": load,
                    "tolerance_g": 2 * e,
                    "test": o.nodeid,
                }
            )
    _attach(evidence, "loads.json", bad, len(rows))
    assert not bad, f"{len(bad)} of {len(rows)} sales weigh more than 2 divisions off the load: {_show(bad)}"


# -- identity of the record ------------------------------------------------------------------------


@pytest.mark.requirement("CODE-TRACE-04", "PERC-SCALE-13")
@pytest.mark.applies(kinds=("scale",))
def test_trace_codes_unique_across_the_whole_run(evidence):
    """Per scale, over the whole run (also across power cuts): one trace code names one record index."""
    rows = list(_records())
    _need("sale records", "销售记录", rows)
    first: dict[tuple[str, str], tuple[int, str]] = {}
    bad = []
    for o, r, src in rows:
        key = (o.device, r.trace_code)
        seen = first.setdefault(key, (r.index, o.nodeid))
        if seen[0] != r.index:
            bad.append(
                {
                    "device": o.device,
                    "trace_code": r.trace_code,
                    "index": r.index,
                    "first_index": seen[0],
                    "first_test": seen[1],
                    "test": o.nodeid,
                }
            )
    _attach(evidence, "trace_codes.json", bad, len(rows))
    assert not bad, f"{len(bad)} trace codes were issued to more than one sale line: {_show(bad)}"


def _bindings_and_batches(entries):
    """Per device, in order: (time, what, request) of every BIND_STALL and LOAD_BATCH the scale ACKed."""
    out = defaultdict(list)
    by_dev = defaultdict(list)
    for o in entries:
        by_dev[o.device].append(o)
    for dev, obs in by_dev.items():
        for req, ans in _answered(obs):
            if isinstance(ans.msg, m.Ack) and isinstance(req.msg, (m.BindStallRequest, m.LoadBatchRequest)):
                out[dev].append((ans.t, req.msg))
    return out


def _latest(acked, t, cls, pred=lambda x: True):
    best = None
    for at, msg in acked:
        if at > t:
            break
        if isinstance(msg, cls) and pred(msg):
            best = msg
    return best


@pytest.mark.requirement("PERC-SCALE-13")
@pytest.mark.applies(kinds=("scale",))
def test_every_new_trace_code_is_valid_under_the_bound_operator(profile, evidence):
    """Every sale made in the run (SELL answer, SALE_EVENT): a valid trace code that begins with the operator
    code the scale was bound to (the last BIND_STALL it acknowledged before the sale)."""
    acked = _bindings_and_batches(RUN.entries)
    rows = list(_new_sales())
    _need("sales", "销售", rows)
    bad = []
    for o, r, src in rows:
        bind = _latest(acked[o.device], o.t, m.BindStallRequest)
        fs = [f.en for f in profile.codes.findings(r.trace_code, "trace")]
        if fs or (bind is not None and not r.trace_code.startswith(bind.operator_code)):
            bad.append(
                {
                    "device": o.device,
                    "source": src,
                    "index": r.index,
                    "trace_code": r.trace_code,
                    "bound_operator": bind.operator_code if bind else None,
                    "findings": fs,
                    "test": o.nodeid,
                }
            )
    _attach(evidence, "trace_code_validity.json", bad, len(rows))
    assert not bad, f"{len(bad)} of {len(rows)} sale lines carry an invalid or foreign trace code: {_show(bad)}"


@pytest.mark.requirement("PERC-SCALE-04")
@pytest.mark.applies(kinds=("scale",))
def test_every_sale_carries_the_bound_operator_and_stall(evidence):
    """Every sale made in the run carries the operator code and stall of the binding the scale acknowledged
    last before it."""
    acked = _bindings_and_batches(RUN.entries)
    rows = list(_new_sales())
    _need("sales", "销售", rows)
    bad, judged = [], 0
    for o, r, src in rows:
        bind = _latest(acked[o.device], o.t, m.BindStallRequest)
        if bind is None:
            continue
        judged += 1
        if (r.operator_code, r.stall) != (bind.operator_code, bind.stall):
            bad.append(
                {
                    "device": o.device,
                    "source": src,
                    "index": r.index,
                    "operator_code": r.operator_code,
                    "stall": r.stall,
                    "bound": [bind.operator_code, bind.stall],
                    "test": o.nodeid,
                }
            )
    _need("sales after a binding", "绑定后的销售", judged)
    _attach(evidence, "bindings.json", bad, judged)
    assert not bad, f"{len(bad)} of {judged} sale lines do not carry the bound operator and stall: {_show(bad)}"


@pytest.mark.requirement("PERC-SCALE-07")
@pytest.mark.applies(kinds=("scale",))
def test_every_sale_matches_its_batch_as_loaded(profile, evidence):
    """Every sale made in the run names a batch the scale acknowledged (LOAD_BATCH) and carries that batch's
    commodity and unit price as last loaded, and its commodity name: the one loaded, or, when the batch was
    loaded without a name, the profile's name of the commodity code (GB18030 text, not mojibake)."""
    acked = _bindings_and_batches(RUN.entries)
    rows = list(_new_sales())
    _need("sales", "销售", rows)
    bad = []
    for o, r, src in rows:
        b = _latest(acked[o.device], o.t, m.LoadBatchRequest, lambda x, code=r.batch_trace: x.batch_trace == code)
        row = {"device": o.device, "source": src, "index": r.index, "batch_trace": r.batch_trace, "test": o.nodeid}
        if b is None:
            bad.append(dict(row, problem="names a batch never loaded in this run"))
            continue
        known = profile.commodities[b.commodity].name_zh if b.commodity in profile.commodities else None
        name = b.commodity_name or known
        if (r.commodity, r.unit_price_fen) != (b.commodity, b.unit_price_fen) or (
            name is not None and r.commodity_name != name
        ):
            bad.append(
                dict(
                    row,
                    record=[r.commodity, r.commodity_name, r.unit_price_fen],
                    loaded=[b.commodity, b.commodity_name, b.unit_price_fen],
                )
            )
    _attach(evidence, "batches.json", bad, len(rows))
    assert not bad, f"{len(bad)} of {len(rows)} sale lines do not match their batch as loaded: {_show(bad)}"


@pytest.mark.requirement("PERC-SCALE-08")
@pytest.mark.applies(kinds=("scale",))
def test_every_observation_of_a_record_agrees(evidence):
    """A record index of a scale carries the same record wherever it was seen: in the SELL answer, its
    SALE_EVENT and every READ_RECORDS answer of the run."""
    rows = list(_records())
    _need("sale records", "销售记录", rows)
    first: dict[tuple[str, int], tuple] = {}
    bad = []
    for o, r, src in rows:
        seen = first.setdefault((o.device, r.index), (r, src, o.nodeid))
        if seen[0] != r:
            bad.append(
                {
                    "device": o.device,
                    "index": r.index,
                    "first": [seen[1], asdict(seen[0])],
                    "then": [src, asdict(r)],
                    "test": o.nodeid,
                }
            )
    _attach(evidence, "record_agreement.json", bad, len(rows))
    assert not bad, f"{len(bad)} observations of a record disagree with its first one: {_show(bad, 2)}"


# -- events ----------------------------------------------------------------------------------------

POWER_MARKS = ("power_off", "power_on")


def _power_marks(device: str) -> list[float]:
    return [o.t for o in RUN.entries if o.device == device and o.direction == "mark" and o.fault in POWER_MARKS]


@pytest.mark.requirement("PERC-SCALE-25")
@pytest.mark.applies(kinds=("scale",))
def test_every_sale_is_pushed_once_as_an_event(evidence):
    """Every sale answered to SELL arrives as a SALE_EVENT carrying the same record, and no event is pushed
    again after the host acknowledged it.  A sale is judged only if the host went on listening to the scale
    (an answer, or the end-of-test wait for owed events, at least the event ACK timeout after the sale) with
    no power cut in between: otherwise the event may still have been on its way."""
    proto = RUN_PROTOCOL()
    first_sold: dict[tuple[str, int], tuple] = {}
    for o, r, _ in _records((m.SellResponse,)):  # a repeated request's answer is the same sale
        first_sold.setdefault((o.device, r.index), (o, r))
    sells = list(first_sold.values())
    _need("SELL answers", "SELL 应答", sells)
    sale_code = proto.commands["SALE_EVENT"].code
    events: dict[tuple[str, int], list] = defaultdict(list)
    acked: dict[tuple[str, int], tuple[int, float]] = {}  #: (device, index) -> (SEQ, time) of the ACK
    pending_seq: dict[tuple[str, int], int] = {}
    answers: dict[str, list[float]] = defaultdict(list)
    excused: dict[str, int] = defaultdict(int)
    bad = []
    for o in RUN.entries:
        if (o.direction == D2H and o.msg is not None and o.msg.role in ("response", "control")) or (
            o.direction == "mark" and o.fault == "listened"
        ):
            answers[o.device].append(o.t)
        if o.direction == D2H and isinstance(o.msg, m.SaleEvent):
            for r in o.msg.record:
                ack = acked.get((o.device, r.index))
                # a resend that crossed the host's ACK on the wire (same SEQ, within the ACK timeout) is allowed
                if ack and (o.seq != ack[0] or o.t - ack[1] > proto.timing.event_ack_timeout_s):
                    bad.append(
                        {
                            "device": o.device,
                            "index": r.index,
                            "problem": "pushed again after it was ACKed",
                            "test": o.nodeid,
                        }
                    )
                events[(o.device, r.index)].append(r)
                pending_seq[(o.device, o.seq)] = r.index
        elif o.direction == H2D and isinstance(o.msg, m.Ack) and o.msg.cmd == sale_code:
            idx = pending_seq.pop((o.device, o.seq), None)
            if idx is not None:
                acked.setdefault((o.device, idx), (o.seq, o.t))
    for o, r in sells:
        got = events.get((o.device, r.index))
        if got:
            if any(e != r for e in got):
                bad.append(
                    {
                        "device": o.device,
                        "index": r.index,
                        "problem": "event differs from the SELL answer",
                        "sold": asdict(r),
                        "event": asdict(next(e for e in got if e != r)),
                        "test": o.nodeid,
                    }
                )
            continue
        cut = any(t >= o.t for t in _power_marks(o.device))
        went_on = any(t >= o.t + proto.timing.event_ack_timeout_s for t in answers[o.device])
        if cut or not went_on:
            excused["power cut after the sale" if cut else "host stopped talking to the scale"] += 1
            continue
        bad.append(
            {
                "device": o.device,
                "index": r.index,
                "trace_code": r.trace_code,
                "problem": "no SALE_EVENT arrived",
                "test": o.nodeid,
            }
        )
    _attach(evidence, "events.json", bad, len(sells))
    evidence.attach_json("events_not_judged.json", dict(excused))
    assert not bad, f"{len(bad)} sales were not pushed exactly once as an equal SALE_EVENT: {_show(bad)}"


# -- the line ------------------------------------------------------------------------------------

DEFAULT_MAX_LINE_ERROR_RATE = 0.01  #: PERC-SCALE-26 profile value (max_line_error_rate)


@pytest.mark.requirement("PERC-SCALE-26")
@pytest.mark.applies(kinds=("scale",))
def test_line_quality_over_the_whole_run(capabilities, profile, evidence):
    """Over the whole run: requests repeated by the host (after a damaged, NAKed or late answer), damaged
    frames from the scale and answers later than the protocol's response time, per request, at most the
    declared ``max_line_error_rate`` (profile default 1 %).  Requests around a power cut are not counted."""
    proto = RUN_PROTOCOL()
    req = profile.requirements.get("PERC-SCALE-26") if hasattr(profile.requirements, "get") else None
    default = (getattr(req, "profile_values", None) or {}).get("max_line_error_rate", DEFAULT_MAX_LINE_ERROR_RATE)
    limit = float(capabilities.capabilities.get("max_line_error_rate", default))
    counts = {"requests": 0, "retransmissions": 0, "damaged_from_device": 0, "naks_line": 0, "late_answers": 0}
    examples = []
    for dev in _scale_devices():
        obs = RUN.of(dev)
        marks = [o.t for o in obs if o.direction == "mark" and o.fault in POWER_MARKS]
        last_req = None
        for o in obs:
            if o.direction == H2D and o.msg is not None and o.msg.role == "request":
                key = (o.seq, o.cmd, repr(o.msg))
                near_cut = any(
                    abs(t - o.t) < 3 * proto.timing.response_timeout_s * (proto.timing.retries + 1) for t in marks
                )
                if key == last_req:
                    if not near_cut:
                        counts["retransmissions"] += 1
                        examples.append(
                            {"device": dev, "retransmitted": type(o.msg).__name__, "seq": o.seq, "test": o.nodeid}
                        )
                else:
                    counts["requests"] += 1
                last_req = key
            elif o.direction == D2H and o.fault:
                counts["damaged_from_device"] += 1
                examples.append({"device": dev, "damaged": o.fault, "test": o.nodeid})
            elif (
                o.direction == D2H
                and isinstance(o.msg, m.Nak)
                and proto.naks.get(o.msg.reason)
                and proto.naks[o.msg.reason].name in ("BAD_CRC", "TRUNCATED")
            ):
                counts["naks_line"] += 1  # the host's resend that follows counts as a retransmission
            elif (
                o.direction == D2H
                and o.msg is not None
                and o.msg.role in ("response", "control")
                and last_req is not None
                and o.seq == last_req[0]
            ):
                last_req = None  # answered: the same request sent again later is a new one
        for q, a in _answered(obs):
            if a.t - q.t > proto.timing.response_timeout_s and not any(q.t - 1 <= t <= a.t for t in marks):
                counts["late_answers"] += 1
                examples.append(
                    {"device": dev, "late": type(q.msg).__name__, "after_s": round(a.t - q.t, 3), "test": a.nodeid}
                )
    _need("requests", "请求", counts["requests"])
    errors = counts["retransmissions"] + counts["damaged_from_device"] + counts["late_answers"]
    rate = errors / counts["requests"]
    evidence.attach_json(
        "line_quality.json", dict(counts, errors=errors, rate=round(rate, 5), limit=limit, examples=examples[:100])
    )
    assert rate <= limit, (
        f"line errors over the whole run: {errors} in {counts['requests']} requests "
        f"({rate:.2%}) exceed the declared {limit:.2%} ({counts}): {_show(examples)}"
    )
