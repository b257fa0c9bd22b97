"""Security against a recorded request: signed requests cannot be replayed, not even after a restart (PLAT-SEC-10).

A wholesale market fails a test of one of the day's vegetable batches, so a holder has an instruction.  The holder
fetches its instructions (signed GET) and acknowledges one (signed POST); both exact requests (same three
signature headers, same body) are sent again: refused.  The platform is restarted (built-in: graceful restart on
the same database; yours: the capability statement's ``restart_command``) and both are sent once more, still
within the profile's clock window: refused again, while a freshly signed fetch still works.  Without a way to
restart, the replays before a restart are still checked (a replay accepted fails the test); if they are refused the
test is not applicable, with that reason.
"""

from __future__ import annotations

import time

import httpx
import pytest

from conformance.notjudgeable import NotJudgeable
from conformance.platform.conftest import cite_day_upload
from conformance.platform.test_stoptrade import _fail_test, _holders
from conformance.platform_under_test import PlatformError
from conformance.queries import signed, stop_pending

PLATFORM = ("city_platform",)


def _send(http, method: str, url: str, headers: dict) -> int:
    try:
        return http.request(method, url, content=b"", headers=headers).status_code
    except httpx.TransportError:
        return 0


def _replays(http, base: str, sent: list[tuple[str, str, dict]], when: str) -> list[str]:
    """Each recorded request sent again: what was not refused (a 4xx)."""
    out = []
    for method, path, headers in sent:
        status = _send(http, method, base + path, headers)
        if not 400 <= status < 500:
            out.append(f"{when}: the replayed {method} {path} answered HTTP {status} (must be refused, 409)")
    return out


@pytest.mark.requirement("PLAT-SEC-10")
@pytest.mark.applies(kinds=PLATFORM, needs=("stop_trade_broadcast",))
def test_signed_requests_cannot_be_replayed_across_a_restart(
    day_upload, records, uploader, http, platform, profile, evidence
):
    """A holder's signed fetch and acknowledgement, each accepted once, are refused when replayed, before and
    after the platform restarts (within the clock window); a fresh signed fetch works after the restart."""
    cite_day_upload(evidence, day_upload)
    day = day_upload.day
    batch, ws, codes, holders = _holders(day)[2]
    _fail_test(day, records, uploader, batch, ws, "R")
    node = sorted(holders)[0]
    key = platform.keys[node]
    fetch = ("GET", "/api/v1/stoptrade", signed(profile, key, node, "GET", "/api/v1/stoptrade"))
    r = http.get(platform.url + fetch[1], headers=fetch[2])
    mine = [i for i in r.json().get("instructions", []) if i.get("batch_code") in codes] if r.status_code == 200 else []
    assert mine, f"{node} got no instruction for batch {batch} to acknowledge (HTTP {r.status_code}): {r.text[:300]}"
    ack_path = f"/api/v1/stoptrade/{mine[0]['id']}/ack"
    ack = ("POST", ack_path, signed(profile, key, node, "POST", ack_path))
    s = _send(http, ack[0], platform.url + ack[1], ack[2])
    assert s == 200, f"{node}'s first acknowledgement of {mine[0]['id']} answered HTTP {s}"
    sent = [fetch, ack]
    t0 = time.monotonic()
    problems = _replays(http, platform.url, sent, "before the restart")
    if not platform.can_restart:
        assert not problems, "signed requests must not be accepted twice: " + "; ".join(problems)
        raise NotJudgeable(
            "不适用：能力声明未给出 restart_command，未测重启后的重放（重启前的重放均被拒绝）",
            "not applicable: the capability statement declares no restart_command (replays after a restart "
            "not tested; the replays before it were refused)",
        )
    else:
        try:
            platform.restart(kill=False)
        except PlatformError as exc:
            pytest.fail(f"the platform did not restart: {exc}", pytrace=False)
        waited = time.monotonic() - t0
        evidence.note(
            f"重启用时 {waited:.1f} 秒（时钟窗口 {profile.envelope.window}）",
            f"the restart took {waited:.1f} s (clock window {profile.envelope.window})",
        )
        problems += _replays(http, platform.url, sent, "after the restart")
        status, doc = stop_pending(http, platform.url, profile, node, key)
        if status != 200:
            problems.append(f"after the restart a freshly signed fetch answered HTTP {status}: {doc!r:.200}")
    evidence.attach_json("replayed.json", [{"method": m, "path": p, "headers": h} for m, p, h in sent])
    assert not problems, "signed requests must not be accepted twice: " + "; ".join(problems)


#: a replay this long after the original: longer than a minute, so a memory of received envelopes that is emptied
#: by a once-a-minute housekeeping (or kept for a minute only) lets it in
LATE_S = 65.0
#: how close to the clock window's edge the replay may come: nearer, a refusal for the clock could be the reason
WINDOW_MARGIN_S = 30.0


def _replay_reason(profile) -> str:
    """The profile's refusal reason for a replayed envelope (the reason whose rules name TRAN-ENV-10)."""
    return next((c for c, v in profile.envelope.reasons.items() if "TRAN-ENV-10" in v.get("rules", [])), "1110")


@pytest.mark.requirement("TRAN-ENV-10")
@pytest.mark.applies(kinds=PLATFORM)
@pytest.mark.conformance_timeout(LATE_S + 120)
def test_an_envelope_replayed_minutes_later_is_still_refused(records, uploader, accepted_envelopes, profile, evidence):
    """Runs last.  An envelope the platform accepted whole earlier in the run (the youngest one at least 65 s
    old and still inside the clock window; without one, one sent now and waited for) is sent again, byte for
    byte, after a fresh upload from another node (other traffic, which also gives a platform's housekeeping its
    turn): it must be refused with the replay reason, since the platform remembers envelopes for twice the clock
    window.  A replay past the clock window minus 30 s could be refused for the clock alone: then not testable."""
    window = profile.envelope.window.total_seconds()
    limit = window - WINDOW_MARGIN_S
    if limit <= LATE_S:
        raise NotJudgeable(
            f"无法测试：时钟窗口（{window:.0f} 秒）容不下迟到 {LATE_S:.0f} 秒的重放",
            f"not testable: the clock window ({window:.0f} s) leaves no room for a replay {LATE_S:.0f} s late",
        )
    rtype = "retail_market_in_info_base"
    node = records.node_for(rtype)
    picked = accepted_envelopes.pick(LATE_S, limit)
    if picked is None:
        d = records.fresh_day()
        a = uploader.upload(node, rtype, [records.make(rtype, d)], header={"DataDate": d.strftime("%Y%m%d")})
        assert a.verdicts == ["accepted"], f"set-up: the envelope to replay later was not accepted: {a}"
        picked = accepted_envelopes.pick(LATE_S, limit)
        assert picked is not None, "set-up: the accepted envelope was not recorded"
    wait = LATE_S - (time.monotonic() - picked.at)
    if wait > 0:
        time.sleep(min(wait, LATE_S))  # bounded: at most LATE_S
    other = records.node_for("animal_in_info")
    d = records.fresh_day()
    a = uploader.upload(
        other, "animal_in_info", [records.make("animal_in_info", d)], header={"DataDate": d.strftime("%Y%m%d")}
    )
    assert a.verdicts == ["accepted"], f"set-up: the upload between the original and its replay failed: {a}"
    age = time.monotonic() - picked.at
    if age > limit:
        raise NotJudgeable(
            f"无法测试：重放距原报文 {age:.0f} 秒，超过时钟窗口（{window:.0f} 秒）减 {WINDOW_MARGIN_S:.0f} 秒，无法区分",
            f"not testable: the replay would come {age:.0f} s after the original, past the clock window "
            f"({window:.0f} s) minus {WINDOW_MARGIN_S:.0f} s",
        )
    again = uploader.post(picked.body)
    want = _replay_reason(profile)
    evidence.attach_json(
        "late-replay.json",
        {"seconds_after_the_original": round(age, 1), "status": again.status, "code": again.code},
    )
    evidence.note(
        f"原报文被接收 {age:.0f} 秒后原样重放（时钟窗口 {window:.0f} 秒）：应答 {again.code}",
        f"replayed unchanged {age:.0f} s after it was accepted (clock window {window:.0f} s): answered {again.code}",
    )
    assert again.code == want and not again.verdicts, (
        f"an envelope accepted {age:.0f} s earlier (inside the {window:.0f} s clock window) and sent again unchanged "
        f"must be refused as a replay ({want}): the platform must remember received envelopes for twice the clock "
        f"window; got {again}"
    )
