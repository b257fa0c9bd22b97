"""The node as the target: how it uploads (TRAN-UPL-01..07).

The harness plays the platform (the reference platform behind a wire tap) and the devices; the
scenario (conformance/transmission/nodeharness/, one module per phase) includes a platform outage (stopped and
restarted), a backlog larger than the Count limit and a period of HTTP 503 answers.  Timings in the
node configuration the harness writes are scaled down (batch_wait 0.2 s, backoff 0.25 s .. 1 s) so a run
takes seconds; the requirements' own limits (10 min deadline, 1 s .. 300 s backoff) are the profile's
and a node must honour the values it is configured with.
"""

from __future__ import annotations

from collections import Counter

import pytest

from conformance.notjudgeable import NotJudgeable

from .nodeharness import UPLOAD_CFG, UPLOAD_PATH
from .nodeviews import BASE_DETAIL, first_sent, first_settled, load
from .retries import off_schedule, retries

#: scheduling allowance for a retry (see conformance/transmission/retries.py ``tolerance``)
RETRY_SLACK_S = 0.3

pytestmark = pytest.mark.applies(kinds=("node",))


def _profile_value(profile, rid, key, default):
    try:
        return profile.requirements.get(rid).profile_values.get(key, default)
    except Exception:
        return default


def _events(session):
    """(canonical record or trace code, business event time, node) the node had to upload."""
    out = []
    for n in session.nodes.values():
        out += [(rec, t, n.code) for (t, _, rec, v) in n.handheld if v == "accepted"]
        out += [(s.trace_code, t, n.code) for b in n.scales for (t, s, _) in b.sales]
    return out


def _settled_by_code(session):
    """Trace code issued by a sale -> first settled time (the record carrying it as its own code)."""
    from .nodeviews import OWN

    out = {}
    for up in session.uploads():
        if not up.answered or up.rtype not in OWN:
            continue
        for rec, v in zip(up.records, up.verdicts):
            if v in ("accepted", "duplicate"):
                out.setdefault(load(rec).get(OWN[up.rtype]), up.ex.t_end)
    return out


@pytest.mark.requirement("TRAN-UPL-01")
def test_every_record_accepted_within_the_deadline(node_session, profile, evidence):
    """Every business record (handheld registration or scale sale) is accepted by the platform within the
    profile's deadline of its business event (outage time included: the platform was down for seconds)."""
    deadline = float(_profile_value(profile, "TRAN-UPL-01", "deadline_s", 600))
    settled = {**first_settled(node_session), **_settled_by_code(node_session)}
    late, never, worst = [], [], 0.0
    for key, t, node in _events(node_session):
        at = settled.get(key)
        if at is None:
            never.append({"node": node, "record": key[:300]})
            continue
        worst = max(worst, at - t)
        if at - t > deadline:
            late.append({"node": node, "record": key[:300], "latency_s": round(at - t, 3)})
    window = max(e for _, e in node_session.phases.values()) - min(s for s, _ in node_session.phases.values())
    evidence.attach_json(
        "latency.json",
        {"deadline_s": deadline, "worst_latency_s": round(worst, 3), "late": late[:100], "never": never[:100]},
    )
    evidence.note(
        f"最长上传延迟 {worst:.2f} 秒（时限 {deadline:g} 秒）", f"worst latency {worst:.2f} s (deadline {deadline:g} s)"
    )
    assert not late, f"{len(late)} records accepted later than {deadline:g} s after the business event"
    if never:
        raise TimeoutError(
            f"{len(never)} of {len(_events(node_session))} records were not accepted by the platform "
            f"within the harness's observation window of {window:.0f} s (the deadline is "
            f"{deadline:g} s); first: {never[0]['record'][:120]}. A node must flush a partial "
            "batch after batch_wait_s"
        )


@pytest.mark.requirement("TRAN-UPL-02")
def test_envelopes_batch_one_type_and_date_within_count(node_session, profile, evidence):
    """Each envelope holds records of one type and one business date, at most the profile's maximum Count; the
    outage backlog (more records than one envelope may hold) went out in several envelopes."""
    limit = node_session.spec.max_count
    cat = profile.records
    bad = []
    sizes = Counter()
    for up in node_session.uploads():
        if up.rtype is None:
            continue
        rt = cat.types[up.rtype]
        dates = {rt.business_date(load(r)) for r in up.records} - {None, ""}
        sizes[up.count] += 1
        if up.count > limit or len(dates) > 1:
            bad.append({"node": up.node, "index": up.header.get("Index"), "count": up.count, "dates": sorted(dates)})
    evidence.attach_json(
        "envelopes.json",
        {
            "limit": limit,
            "configured_max_count": UPLOAD_CFG["max_count"],
            "sizes": dict(sorted(sizes.items())),
            "bad": bad[:50],
        },
    )
    if not node_session.uploads():
        raise TimeoutError("the node uploaded no envelope")
    assert not bad, (
        f"{len(bad)} envelopes break batching: first holds {bad[0]['count']} records "
        f"(limit {limit}) of dates {bad[0]['dates']}. Fix: group by type and business date, "
        f"at most {limit} (and the configured max_count) per envelope"
    )
    if node_session.backlog:
        sent = first_sent(node_session)
        carried = [r for r in node_session.backlog if r in sent]
        assert len(carried) == len(node_session.backlog), (
            f"{len(node_session.backlog) - len(carried)} records of the outage backlog were never sent"
        )


@pytest.mark.requirement("TRAN-UPL-03")
def test_resume_after_platform_outage(node_session, evidence):
    """Everything that happened while the platform was stopped (scale sales, a handheld backlog) reaches the
    restarted platform exactly once: the node kept it in its outbox and resumed (断点续传); nothing is lost."""
    s = node_session
    if "outage" not in s.phases:
        raise TimeoutError("the outage phase did not run")
    codes = {sale.trace_code for b in s._scales() for (_, sale, ph) in b.sales if ph == "outage"}
    stored = s.stored()
    owns = Counter(o for (_, _, o, _) in stored if o)
    bodies = Counter(b for (_, _, _, b) in stored)
    lost_sales = sorted(c for c in codes if owns[c] == 0)
    lost_backlog = [r for r in s.backlog if bodies[r] == 0]
    t_up = s.phases["outage"][0]
    after = [u for u in s.uploads() if u.ex.t > t_up and u.answered]
    evidence.attach_json(
        "outage.json",
        {
            "outage_sales": len(codes),
            "backlog": len(s.backlog),
            "lost_sales": lost_sales[:50],
            "lost_backlog": lost_backlog[:20],
            "answered_envelopes_after_restart": len(after),
        },
    )
    assert codes or s.backlog, "the scenario produced no record during the outage (harness problem)"
    assert not lost_sales and not lost_backlog, (
        f"after the platform came back, {len(lost_sales)} of {len(codes)} sales and {len(lost_backlog)} of "
        f"{len(s.backlog)} registrations made during the outage never reached it. Fix: keep every record in a "
        "durable outbox until the platform answered it accepted or duplicate, and resume from the first "
        "unacknowledged one"
    )


@pytest.mark.requirement("TRAN-UPL-04")
def test_no_record_uploaded_again_after_it_was_answered(node_session, evidence):
    """The platform stores every record of the node once, and the node never uploads a record again after the
    platform answered it accepted or duplicate (an answer lost to a broken connection excepted)."""
    s = node_session
    settled_at: dict[str, float] = {}
    resent = []
    for up in s.uploads():
        for rec in up.records:
            if rec in settled_at and up.ex.t > settled_at[rec]:
                resent.append(
                    {"node": up.node, "record": rec[:300], "answered_at": settled_at[rec], "again_at": up.ex.t}
                )
        if up.answered:
            for rec, v in zip(up.records, up.verdicts):
                if v in ("accepted", "duplicate"):
                    settled_at.setdefault(rec, up.ex.t_end)
    stored = Counter((n, b) for (n, _, _, b) in s.stored() if n in s.nodes)
    twice = [b for (_, b), k in stored.items() if k > 1]
    evidence.attach_json("duplicates.json", {"resent_after_answer": resent[:100], "stored_twice": twice[:50]})
    if not s.uploads():
        raise TimeoutError("the node uploaded no envelope")
    assert not twice, f"{len(twice)} records are stored twice at the platform"
    assert not resent, (
        f"{len(resent)} records were uploaded again after the platform had answered them "
        "(first: {}). Fix: remove a record from the outbox on its accepted/duplicate verdict".format(
            resent[0]["record"][:120]
        )
    )


@pytest.mark.requirement("TRAN-UPL-05")
def test_base_before_detail_and_business_order(node_session, evidence):
    """A transaction's base record is sent before or with its details, and each scale's sales are uploaded in the
    order they happened (trace sequence order)."""
    s = node_session
    if not s.uploads():
        raise TimeoutError("the node uploaded no envelope")
    sent = first_sent(s)
    by_type: dict[str, list] = {}
    for up in s.uploads():
        if up.rtype:
            by_type.setdefault(up.rtype, []).extend(up.records)
    bad = []
    for base_t, (det_t, keys) in BASE_DETAIL.items():
        base_at = {}
        for rec in by_type.get(base_t, []):
            d = load(rec)
            base_at.setdefault(tuple(d.get(k) for k in keys), sent[rec])
        for rec in by_type.get(det_t, []):
            d = load(rec)
            b = base_at.get(tuple(d.get(k) for k in keys))
            if b is not None and sent[rec] < b:
                bad.append({"detail": det_t, "key": [d.get(k) for k in keys], "detail_sent": sent[rec], "base_sent": b})
    from .nodeviews import OWN

    code_sent = {}
    for up in s.uploads():
        if up.rtype in OWN:
            for rec in up.records:
                code_sent.setdefault(load(rec).get(OWN[up.rtype]), up.ex.t)
    disorder = []
    for b in s._scales():
        times = [
            (sale.trace_code, code_sent.get(sale.trace_code))
            for (_, sale, _) in sorted(b.sales, key=lambda x: x[1].index)
        ]
        times = [(c, t) for c, t in times if t is not None]
        for (c1, t1), (c2, t2) in zip(times, times[1:]):
            if t2 < t1:
                disorder.append({"scale": b.id, "earlier_sale": c1, "later_sale": c2, "sent": [t1, t2]})
    evidence.attach_json("order.json", {"detail_before_base": bad[:50], "sales_out_of_order": disorder[:50]})
    assert not bad, (
        f"{len(bad)} detail records were sent before their base record (first: {bad[0]['detail']} "
        f"{bad[0]['key']}). Fix: upload in the order the records were produced"
    )
    assert not disorder, f"{len(disorder)} sales of one scale were uploaded out of their business order"


@pytest.mark.requirement("TRAN-UPL-06")
def test_bounded_retry_with_exponential_backoff(node_session, evidence):
    """Every retry of a failed upload the platform saw in the whole run (the harness's 503 period, and any 5xx)
    waits the declared backoff: the first retry of an envelope about ``backoff_first_s`` after the failure's
    answer, each further one twice the last, never above ``backoff_max_s`` (conformance/transmission/retries.py:
    from 0.8 × the declared delay to the declared delay plus the larger of 0.3 s and a quarter of it).  The
    records are kept: all of them arrive once service resumes.  A record answered rejected (if the run produced
    one) is never sent again."""
    s = node_session
    if "backoff" not in s.phases:
        raise TimeoutError("the backoff phase did not run")
    first, cap = UPLOAD_CFG["backoff_first_s"], UPLOAD_CFG["backoff_max_s"]
    judged, unjudged = retries(s.uploads(), first, cap, s.platform_down)
    wrong = off_schedule(judged, RETRY_SLACK_S)
    evidence.attach_json(
        "retries.json",
        {
            "backoff_first_s": first,
            "backoff_max_s": cap,
            "slack_s": RETRY_SLACK_S,
            "retries": [
                {"node": r.node, "retry": r.n, "delay_s": round(r.delay_s, 3), "expected_s": r.expected_s}
                for r in judged
            ],
            "not_judged": unjudged,
            "off_schedule": wrong,
        },
    )
    assert judged, "no node retried during the 503 period: the node did not try to upload, or gave up at once"
    firsts = [r for r in judged if r.n == 1]
    evidence.note(
        f"共判定重试 {len(judged)} 次（其中首次重试 {len(firsts)} 次），首次重试延迟 "
        f"{[round(r.delay_s, 2) for r in firsts]} 秒（声明 {first} 秒），不符 {len(wrong)} 次",
        f"{len(judged)} retries judged ({len(firsts)} first retries), first-retry delays "
        f"{[round(r.delay_s, 2) for r in firsts]} s (declared {first} s), {len(wrong)} off the schedule",
    )
    assert firsts, "no first retry of an envelope was seen after a failure the platform answered"
    assert not wrong, (
        f"{len(wrong)} of {len(judged)} retries off the declared backoff (first {first} s, doubling, cap {cap} s); "
        f"first: node {wrong[0]['node']} retry {wrong[0]['retry']} after {wrong[0]['delay_s']} s, declared "
        f"{wrong[0]['expected_s']} s. Fix: wait first × 2^(n-1) seconds, at most the cap, before the n-th retry"
    )
    s.require("backoff")
    rejected = {rec for up in s.uploads() if up.answered for rec, v in zip(up.records, up.verdicts) if v == "rejected"}
    again = [rec for rec in rejected if sum(rec in up.records for up in s.uploads()) > 1]
    evidence.note(f"本次运行被拒记录 {len(rejected)} 条", f"{len(rejected)} records answered rejected in this run")
    assert not again, f"{len(again)} records answered rejected were sent again"


@pytest.mark.requirement("TRAN-UPL-07")
def test_uploads_by_http_post_and_answers_read(node_session, evidence):
    """The node uploads by HTTP POST of the profile's envelope to the configured platform URL and acts on the
    per-record answer it reads (the records it was answered for are settled, not sent again)."""
    s = node_session
    ex = [e for e in s.recorder.snapshot() if e.path == UPLOAD_PATH]
    ups = s.uploads()
    if not ups:
        raise TimeoutError("the node made no upload to the platform")
    wrong_method = [e.method for e in ex if e.method != "POST"]
    answered = [u for u in ups if u.answered]
    settled = first_settled(s)
    ignored = [rec for u in ups for rec in u.records if rec in settled and u.ex.t > settled[rec] + 0.001]
    evidence.attach_json(
        "http.json",
        {
            "uploads": len(ups),
            "answered": len(answered),
            "non_post": wrong_method[:10],
            "sent_again_after_answer": len(ignored),
        },
    )
    assert not wrong_method, f"uploads with HTTP {set(wrong_method)}; the profile uploads by POST"
    assert answered, "no upload got a per-record answer"
    assert not ignored, f"{len(ignored)} records were sent again after an answer: the node does not read the answers"


def _cst_stamp(text: str | None):
    """A ``YYYYMMDDHHMMSS`` Beijing-time stamp as epoch seconds; ``None`` if it is not one."""
    import datetime as _dt

    try:
        t = _dt.datetime.strptime(text or "", "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return t.replace(tzinfo=_dt.timezone(_dt.timedelta(hours=8))).timestamp()


@pytest.mark.requirement("TRAN-UPL-08")
def test_changed_operator_uploaded_again(node_session, profile, evidence):
    """After an operator's base information changed at the node (the harness changed its telephone in the node's
    configuration and started the node again on the same outbox), the node uploads that operator's
    manager_base_info again, with the new details and an info_update_date, and the platform answers it.  The
    profile's bound (within_days) is judged from the record's info_update_date and its arrival time against the
    time of the change; nobody waits two days."""
    s = node_session
    days = float(_profile_value(profile, "TRAN-UPL-08", "within_days", 2))
    bound = days * 86400
    changed = [n for n in s.nodes.values() if n.operator_change]
    if not changed:
        s.require("operators")
        raise NotJudgeable(
            "被测节点除自身 0000 记录外没有经营者", "no node under test has an operator besides its own 0000 record"
        )
    problems, seen = [], []
    for n in changed:
        ch = n.operator_change
        t0 = ch["changed_at"]
        hits = [
            (up, load(rec), v)
            for up in s.uploads(n.code)
            if up.rtype == "manager_base_info" and up.ex.t >= t0
            for rec, v in zip(up.records, up.verdicts or [""] * len(up.records))
            if load(rec).get("id") == ch["operator"]
        ]
        new = [(up, d, v) for up, d, v in hits if d.get("tel") == ch["tel"]]
        answered = [(up, d, v) for up, d, v in new if v in ("accepted", "duplicate")]
        first = answered[0] if answered else None
        row = {
            "node": n.code,
            "operator": ch["operator"],
            "old_tel": ch["old_tel"],
            "new_tel": ch["tel"],
            "changed_at": t0,
            "uploads_after_change": len(hits),
        }
        if first is None:
            row["problem"] = (
                "never uploaded again after the change"
                if not new
                else f"uploaded again but not answered accepted/duplicate ({[v for _, _, v in new]})"
            )
            problems.append(row)
            seen.append(row)
            continue
        up, d, v = first
        stamp = _cst_stamp(d.get("info_update_date"))
        row.update(
            arrived_s=round(up.ex.t - t0, 3),
            verdict=v,
            info_update_date=d.get("info_update_date"),
            record_date=d.get("record_date"),
        )
        if up.ex.t - t0 > bound:
            row["problem"] = f"arrived {up.ex.t - t0:.0f} s after the change (bound {days:g} days)"
        elif stamp is None:
            row["problem"] = "the re-uploaded record has no info_update_date (YYYYMMDDHHMMSS)"
        elif not t0 - 1.0 <= stamp <= t0 + bound:
            row["problem"] = (
                f"info_update_date {d.get('info_update_date')} is not within {days:g} days after the change"
            )
        if "problem" in row:
            problems.append(row)
        seen.append(row)
    evidence.attach_json("operator_change.json", seen)
    evidence.note(
        f"{len(changed)} 个节点的经营者信息变更；{len(changed) - len(problems)} 个按时重新上传",
        f"operator changed at {len(changed)} nodes; {len(changed) - len(problems)} re-uploaded in time",
    )
    assert not problems, (
        f"{len(problems)} changed operators not re-uploaded as required: node {problems[0]['node']} "
        f"operator {problems[0]['operator']}: {problems[0]['problem']}. Fix: upload the "
        "operator's manager_base_info again (with info_update_date) after any change, "
        f"within {days:g} days"
    )
