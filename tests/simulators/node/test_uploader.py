"""Uploader against a real platform (uvicorn on 127.0.0.1 in a thread): batching, verdicts, backoff, outages."""

from __future__ import annotations

import random

import pytest

from profiles.record_examples import example_record
from simulators.node.config import load_config
from simulators.node.outbox import Item, Outbox, content_key
from simulators.node.uploader import Backoff, Uploader

from nodekit import ThreadPlatform, free_port, wait_until, with_registered_operator, write_config

NODE = "650103002"
RT = "retail_market_in_info_base"


def records(profile, n: int, seed: int = 0, node: str = NODE) -> list[dict]:
    out, keys = [], set()
    rng = random.Random(seed)
    while len(out) < n:
        r = with_registered_operator(example_record(profile.records, RT, rng, node=node), rng, node)
        k = (r["batch_id"], r.get("tran_id"), r["retailer_id"])
        if k not in keys:
            keys.add(k)
            out.append(r)
    return out


def enqueue(outbox: Outbox, recs: list[dict], rtype: str = RT) -> None:
    outbox.add([Item(rtype, r, r.get("in_date", "20240518"), "test", content_key(rtype, r)) for r in recs])


@pytest.fixture
def platform(tmp_path):
    p = ThreadPlatform(tmp_path, {NODE: ("昊嘉农贸市场", "farmers_market"), "650103001": ("批发", "meat_wholesale")})
    yield p
    p.stop()


def make(tmp_path, profile, url, key, **upload):
    cfg = load_config(
        write_config(tmp_path / "node.toml", NODE, "昊嘉农贸市场", "farmers_market", url, key, upload=upload)
    )
    ob = Outbox(cfg.outbox_path)
    return cfg, ob, Uploader(cfg, ob, profile)


def drain(up: Uploader, limit: int = 100) -> list[str]:
    out = []
    for _ in range(limit):
        r = up.step()
        if r == "idle":
            break
        out.append(r)
    return out


def test_backoff_doubles_from_first_to_cap():
    b = Backoff(1, 300)
    assert [b.next() for _ in range(11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    b.reset()
    assert b.next() == 1
    with pytest.raises(ValueError):
        Backoff(0, 1)


def test_batches_within_max_count_and_all_acknowledged(tmp_path, profile, platform):
    cfg, ob, up = make(tmp_path, profile, platform.url, platform.keys[NODE], max_count=10, batch_wait_s=0)
    enqueue(ob, records(profile, 25))
    assert drain(up) == ["sent", "sent", "sent"]  # 10 + 10 + 5
    assert ob.counts()["acknowledged"] == 25
    assert up.status["envelopes"] == 3
    with platform.svc.store.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM records WHERE node_id = ?", (NODE,)) == 25
    up.client.close()


def test_part_filled_batch_waits_for_batch_wait(tmp_path, profile, platform):
    cfg, ob, up = make(tmp_path, profile, platform.url, platform.keys[NODE], max_count=10, batch_wait_s=0.3)
    enqueue(ob, records(profile, 3))
    assert up.step() == "idle"  # 3 < 10 and younger than 0.3 s
    wait_until(lambda: up.step() == "sent", 3, what="the deadline to release the batch")
    assert ob.counts()["acknowledged"] == 3
    up.client.close()


def test_resend_after_lost_answer_is_duplicate_not_stored_twice(tmp_path, profile, platform):
    cfg, ob, up = make(tmp_path, profile, platform.url, platform.keys[NODE], batch_wait_s=0)
    recs = records(profile, 5)
    enqueue(ob, recs)
    assert up.step() == "sent"
    # the same records again, as if the answer had been lost: new envelope, platform answers duplicate
    ob2 = Outbox(tmp_path / "second.db")
    enqueue(ob2, recs)
    up2 = Uploader(cfg, ob2, profile)
    assert up2.step() == "sent"
    assert {r["verdict"] for r in ob2.rows("acknowledged")} == {"duplicate"}
    with platform.svc.store.read() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM records WHERE node_id = ?", (NODE,)) == 5
    up.client.close(), up2.client.close()


def test_rejected_record_kept_with_reason_and_not_resent(tmp_path, profile, platform):
    cfg, ob, up = make(tmp_path, profile, platform.url, platform.keys[NODE], batch_wait_s=0)
    good = records(profile, 2)
    foreign = records(profile, 1, seed=9, node="650103001")[0]  # another node's record: 2008
    enqueue(ob, [good[0], foreign, good[1]])
    assert up.step() == "sent"
    rej = ob.rows("rejected")
    assert len(rej) == 1 and rej[0]["reason"] == "2008" and rej[0]["record"] == foreign and rej[0]["message"]
    assert ob.counts()["acknowledged"] == 2
    assert up.step() == "idle"  # never resent
    assert ob.rows("rejected")[0]["attempts"] == 1
    up.client.close()


def test_platform_unreachable_rows_back_to_pending_with_growing_backoff(tmp_path, profile):
    cfg, ob, up = make(
        tmp_path,
        profile,
        f"http://127.0.0.1:{free_port()}",
        "k" * 20,
        batch_wait_s=0,
        backoff_first_s=0.05,
        backoff_max_s=0.2,
    )
    enqueue(ob, records(profile, 4))
    delays = []
    for _ in range(4):
        assert up.step() == "failed"
        delays.append(up.status["retry_in_s"])
        assert ob.counts()["pending"] == 4 and ob.counts()["sent"] == 0
    assert delays == [0.05, 0.1, 0.2, 0.2]
    assert up.status["last_error"] == "ConnectError"
    up.client.close()


def test_wrong_key_is_refused_whole_and_retried_not_dropped(tmp_path, profile, platform):
    cfg, ob, up = make(tmp_path, profile, platform.url, "not-the-key", batch_wait_s=0)
    enqueue(ob, records(profile, 2))
    assert up.step() == "failed"
    assert "1105" in up.status["last_error"]
    assert ob.counts()["pending"] == 2
    up.client.close()


def test_outage_then_resume_no_loss(tmp_path, profile):
    """断点续传: records queued while the platform is down all arrive once after it comes up."""
    port = free_port()
    cfg, ob, up = make(tmp_path, profile, f"http://127.0.0.1:{port}", "x", batch_wait_s=0, max_count=7)
    assert up.step() == "idle"
    p = None
    try:
        enqueue(ob, records(profile, 20))
        assert up.step() == "failed"
        p = ThreadPlatform(tmp_path, {NODE: ("昊嘉农贸市场", "farmers_market")}, port=port)
        cfg.key = p.keys[NODE]
        assert drain(up) == ["sent"] * 3
        with p.svc.store.read() as tx:
            assert tx.scalar("SELECT COUNT(*) FROM records WHERE node_id = ?", (NODE,)) == 20
    finally:
        up.client.close()
        if p:
            p.stop()
