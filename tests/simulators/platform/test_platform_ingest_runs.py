"""Ingest stores an envelope's records in multi-row statements (issue 16 item 4): the answers must be those of
storing them one by one, on SQLite and on PostgreSQL (``ROUCAI_PG_URL``): duplicates and conflicts within one
envelope and against stored records, in order, and stop-trade codes stopped by a record of the same envelope."""

import os

import pytest
from platformkit import MEAT, NODES, M, R, W, Platform, code, meat_chain, rec, upload_all
from test_platform_stoptrade import _fail, signed

from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform

PG_URL = os.environ.get("ROUCAI_PG_URL")
SUMM = "retail_market_tran_info_summ"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def either(request, tmp_path):
    """A running platform on a fresh SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        db = str(tmp_path / "platform.db")
    else:
        if not PG_URL:
            pytest.skip("set ROUCAI_PG_URL to run the PostgreSQL tests")
        from test_platform_storage import _pg_store

        _pg_store().close()
        db = PG_URL
    cfg = PlatformConfig(db=db, secret_file=str(tmp_path / "s"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        p = Platform(tp)
        p.register(*NODES)
        yield p
        p.client.close()


def _summ(seq: int) -> dict:
    return rec(SUMM, R, retail_market_id=R, sale_tran_id=code(R + "0001", seq))


def test_duplicates_and_conflicts_in_one_envelope_are_answered_in_order(either):
    b, c = _summ(2), _summ(3)
    assert [v.verdict for v in either.upload(R, SUMM, [b, c])[1].results] == ["accepted", "accepted"]
    a, d = _summ(1), _summ(4)
    a2, c2 = dict(a, retailer_name="另一个名字"), dict(c, retailer_name="另一个名字")  # same identity, other content
    envelope = [a, dict(a), a2, dict(b), c2, d, dict(d)]
    _, resp = either.upload(R, SUMM, envelope)
    got = [(v.seq, v.verdict, "内容不同" in (v.message or "")) for v in resp.results]
    assert got == [
        (1, "accepted", False),
        (2, "duplicate", False),
        (3, "duplicate", True),
        (4, "duplicate", False),
        (5, "duplicate", True),
        (6, "accepted", False),
        (7, "duplicate", False),
    ]
    assert either.count() == 4
    with either.svc.store.read() as tx:  # the stored versions are the first ones sent
        assert all("另一个名字" not in body for (body,) in tx.all("SELECT body FROM records"))
    with either.svc.store.read() as tx:
        accepted, duplicate = tx.one("SELECT SUM(accepted), SUM(duplicate) FROM requests")
    assert (accepted, duplicate) == (4, 5)


def test_a_code_stopped_by_a_record_of_the_same_envelope_stops_the_next(either):
    """A trade line under the stopped batch stops its own code; the next line of the same envelope, under that
    code, stops its code too; the supermarket that received that last code is instructed."""
    chain = _fail(meat_chain())
    upload_all(either, chain)
    root = chain["codes"]["meat_out"]
    t1, t2 = code(W + "0001", 60), code(W + "0001", 61)
    line = dict(market_id=W, wholesaler_id=W + "0001", goods_code=MEAT.code)
    lines = [
        rec("market_tran_info_detail", W, seed=1, tran_id=t1, batch_id=root, **line),
        rec("market_tran_info_detail", W, seed=2, tran_id=t2, batch_id=t1, **line),
    ]
    _, resp = either.upload(W, "market_tran_info_detail", lines)
    assert [v.verdict for v in resp.results] == ["accepted", "accepted"]
    with either.svc.store.read() as tx:
        stopped = dict(tx.all("SELECT code, root_code FROM stop_codes WHERE code IN (?, ?)", (t1, t2)))
    assert stopped == {t1: root, t2: root}
    entry = rec("super_market_in_info_base", M, supermarket_id=M, tran_id=t2, batch_id=t2)
    assert either.upload(M, "super_market_in_info_base", [entry])[1].results[0].verdict == "accepted"
    got = signed(either, M, "GET", "/api/v1/stoptrade").json()["instructions"]
    assert [(i["batch_code"], i["root_code"]) for i in got] == [(t2, root)]
