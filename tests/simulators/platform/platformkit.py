"""Fixtures for the platform tests: a real uvicorn server on 127.0.0.1, nodes with keys, and
hand-built record chains (meat: slaughter -> wholesale -> retail; vegetables: origin -> wholesale -> retail)."""

from __future__ import annotations

import datetime as dt
import random

import httpx
import pytest

from profiles import load_profile
from profiles.record_examples import example_record
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform
from simulators.platform.reader_auth import RegulatorReads
from simulators.platform.regulators import Regulators

P = load_profile()
CST = dt.timezone(dt.timedelta(hours=8))
S, W, V, R, M, C = "650104001", "650103001", "650104002", "650103002", "650109001", "650103003"
NODES = {
    S: ("创汇生猪定点屠宰厂", "slaughter_pig"),
    W: ("迪摩冷冻肉品批发市场", "meat_wholesale"),
    V: ("超艺蔬菜批发市场", "vegetable_wholesale"),
    R: ("昊嘉农贸市场", "farmers_market"),
    M: ("荣永超市", "supermarket"),
    C: ("行政服务中心食堂", "canteen"),
}


def today() -> str:
    return dt.datetime.now(CST).strftime("%Y%m%d")


def register_named_operators(registry, rtype: str, records: list[dict]) -> None:
    """Register the operator codes ``records`` name (catalogue ``operator_code`` fields) whose node is registered."""
    fields = [f.name for f in P.records.types[rtype].fields if f.type == "operator_code"]
    known = {n.node_id for n in registry.nodes()}
    for r in records:
        for f in fields:
            code = r.get(f)
            if code and code[:9] in known and P.codes.is_valid(code, "operator"):
                registry.register_operator(code, f"经营者{code[-4:]}")


class Platform:
    """A running platform plus the keys of the registered nodes."""

    def __init__(self, tp: ThreadedPlatform):
        self.tp = tp
        self.url = tp.url
        self.svc = tp.services
        self.keys: dict[str, str] = {}
        #: the city regulator (650100) the monitoring and statistics reads need (regulator_gate.py): the client
        #: signs them as it; ``auth=None`` on a request sends it unsigned
        self.regulator = ("650100", Regulators(tp.services.store, tp.services.secret, P).register("650100", "市商务局"))
        self.client = httpx.Client(base_url=tp.url, timeout=10.0, auth=RegulatorReads(P.envelope, *self.regulator))

    def register(self, *nodes: str) -> None:
        for n in nodes:
            name, ntype = NODES[n]
            self.svc.registry.register_node(n, name, ntype)
            self.keys[n] = self.svc.registry.issue_key(n)

    def envelope(self, node: str, rtype: str, records: list[dict], fmt: str = "xml", **kw) -> bytes:
        return P.envelope.build(node, rtype, records, self.keys[node], fmt=fmt, **kw)

    def register_operators(self, rtype: str, records: list[dict]) -> None:
        """Register every operator the records name under a registered node (what a city import does)."""
        register_named_operators(self.svc.registry, rtype, records)

    def upload(self, node: str, rtype: str, records: list[dict], fmt: str = "xml", operators: bool = True, **kw):
        """Upload; ``operators`` (default) first registers the operators the records name (tests of the
        operator check pass ``operators=False``)."""
        if operators:
            self.register_operators(rtype, records)
        body = self.envelope(node, rtype, records, fmt, **kw)
        r = self.client.post(
            "/api/v1/exchange",
            content=body,
            headers={"Content-Type": "application/json" if fmt == "json" else "application/xml"},
        )
        resp, findings = P.envelope.parse_response(r.content)
        assert not findings, findings
        return r, resp

    def count(self, sql: str = "SELECT COUNT(*) FROM records", params=()) -> int:
        with self.svc.store.read() as tx:
            return tx.scalar(sql, params, 0)


def feed_summary(central, date: str, regulator: str = "650000", **kw) -> httpx.Response:
    """``GET /api/v1/feed/summary?date=`` of a central platform (``ThreadedPlatform``), signed as ``regulator`` (a
    province's, registered there anew: the summary answers a regulator only, docs/regulator.md)."""
    key = Regulators(central.services.store, central.services.secret, P).register(regulator, f"商务厅{regulator}")
    return httpx.get(
        central.url + "/api/v1/feed/summary",
        params={"date": date},
        auth=RegulatorReads(P.envelope, regulator, key, paths=("/api/v1/feed/summary",)),
        timeout=10,
        **kw,
    )


@pytest.fixture
def platform(tmp_path):
    cfg = PlatformConfig(db=str(tmp_path / "platform.db"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        p = Platform(tp)
        p.register(*NODES)
        yield p
        p.client.close()


def rec(rtype: str, node: str, day: str | None = None, seed: int = 0, **fields) -> dict:
    """A valid record of ``rtype`` reported by ``node`` with ``fields`` overriding the example values."""
    d = dt.datetime.strptime(day or today(), "%Y%m%d").date()
    r = example_record(P.records, rtype, random.Random(seed), day=d, node=node)
    r.update({k: v for k, v in fields.items() if v is not None})
    for k in [k for k, v in fields.items() if v is None]:
        r.pop(k, None)
    assert P.records.is_valid(rtype, r), (rtype, P.records.validate(rtype, r))  # warnings allowed (local batch ids)
    return r


def code(operator: str, seq: int) -> str:
    return P.codes.trace_code(operator, seq)


#: the source identifiers of the chains (源头衔接): the intake's ear-tag range, the vegetable base and its certificate
EAR_TAGS = ("165012100000101", "165012100000140")
BASE_ID, VEG_CERT = "3707830001", "VO370783202501060001"
MEAT = P.commodities.of_kind("meat")[0]
VEG = P.commodities.of_kind("vegetable")[0]


def meat_chain(day: str | None = None, n: int = 1) -> dict:
    """Records of a meat chain: intake -> quarantine -> meat out -> wholesale entry/test/trade -> retail entry/sale.

    Returns {"uploads": [(node, rtype, [records])...], "sale": code, "codes": {...}}."""
    day = day or today()
    g = dict(goods_code=MEAT.code, goods_name=MEAT.name_zh)
    t1, t2, t3 = code(S + "0000", n), code(W + "0001", n), code(R + "0001", n)
    qid, qap, im = f"AQ{n:08d}", f"QA{n:08d}", f"IM{n:08d}"
    up = [
        (
            S,
            "animal_in_info",
            [
                rec(
                    "animal_in_info",
                    S,
                    day,
                    butcher_fac_id=S,
                    quarantine_id=qid,
                    area_origin_id="650121",
                    area_origin_name="乌鲁木齐县",
                    farm_name="南山养殖场",
                    seller_id=S + "0001",
                    ear_tag_start=EAR_TAGS[0],
                    ear_tag_end=EAR_TAGS[1],
                )
            ],
        ),
        (
            S,
            "quarantine_info",
            [
                rec(
                    "quarantine_info",
                    S,
                    day,
                    butcher_fac_id=S,
                    quarantine_id=qid,
                    quarantine_animal_products_id=qap,
                    inspection_meat_id=im,
                    seller_id=S + "0001",
                )
            ],
        ),
        (
            S,
            "meat_out_info_base",
            [rec("meat_out_info_base", S, day, butcher_fac_id=S, tran_id=t1, buyer_id=W + "0001")],
        ),
        (
            S,
            "meat_out_info_detail",
            [
                rec(
                    "meat_out_info_detail",
                    S,
                    day,
                    tran_id=t1,
                    quarantine_animal_products_id=qap,
                    inspection_meat_id=im,
                    meat_code=MEAT.code,
                    meat_name=MEAT.name_zh,
                    weight="100.000",
                )
            ],
        ),
        (
            W,
            "market_in_info_base",
            [
                rec(
                    "market_in_info_base",
                    W,
                    day,
                    market_id=W,
                    wholesaler_id=W + "0001",
                    tran_id=t1,
                    batch_id=t1,
                    quarantine_animal_products_id=qap,
                )
            ],
        ),
        (
            W,
            "market_in_info_detail",
            [
                rec(
                    "market_in_info_detail",
                    W,
                    day,
                    tran_id=t1,
                    batch_id=t1,
                    **g,
                    quarantine_animal_products_id=qap,
                    weight="100.000",
                    ws_supplier_id=S,
                    area_origin_id=None,
                    area_origin_name=None,
                    base_name=None,
                    base_id=None,
                )
            ],
        ),
        (
            W,
            "qmarket_detection_info",
            [
                rec(
                    "qmarket_detection_info",
                    W,
                    day,
                    market_id=W,
                    batch_id=t1,
                    wholesaler_id=W + "0001",
                    tran_id=t1,
                    detection_result="1",
                    quarantine_animal_products_id=qap,
                    **g,
                )
            ],
        ),
        (
            W,
            "market_tran_info_detail",
            [
                rec(
                    "market_tran_info_detail",
                    W,
                    day,
                    market_id=W,
                    wholesaler_id=W + "0001",
                    retailer_id=R + "0001",
                    tran_id=t2,
                    batch_id=t1,
                    weight="40.000",
                    **g,
                )
            ],
        ),
        (
            R,
            "retail_market_in_info_base",
            [
                rec(
                    "retail_market_in_info_base",
                    R,
                    day,
                    retail_market_id=R,
                    retailer_id=R + "0001",
                    tran_id=t2,
                    batch_id=t2,
                    quarantine_animal_products_id=qap,
                )
            ],
        ),
        (
            R,
            "retail_market_in_info_detail",
            [
                rec(
                    "retail_market_in_info_detail",
                    R,
                    day,
                    tran_id=t2,
                    batch_id=t2,
                    quarantine_animal_products_id=qap,
                    weight="40.000",
                    **g,
                )
            ],
        ),
        (
            R,
            "retail_market_tran_info_summ",
            [
                rec(
                    "retail_market_tran_info_summ",
                    R,
                    day,
                    retail_market_id=R,
                    retailer_id=R + "0001",
                    batch_id=t2,
                    sale_tran_id=t3,
                    tran_id=t2,
                    quarantine_animal_products_id=qap,
                    weight="2.500",
                    **g,
                )
            ],
        ),
    ]
    return {"uploads": up, "sale": t3, "codes": {"meat_out": t1, "wholesale": t2, "sale": t3}}


def veg_chain(day: str | None = None, n: int = 1) -> dict:
    """Vegetables from an origin base: wholesale entry (local batch) -> wholesale trade -> retail sale."""
    day = day or today()
    g = dict(goods_code=VEG.code, goods_name=VEG.name_zh)
    batch, t4, t5 = f"VB{n:06d}", code(V + "0002", n), code(R + "0002", n)
    up = [
        (
            V,
            "market_in_info_detail",
            [
                rec(
                    "market_in_info_detail",
                    V,
                    day,
                    tran_id=None,
                    batch_id=batch,
                    **g,
                    weight="500.000",
                    area_origin_id="370783",
                    area_origin_name="寿光市",
                    base_name="寿光蔬菜基地",
                    base_id=BASE_ID,
                    prov_id=VEG_CERT,
                    quarantine_animal_products_id=None,
                    inspection_meat_id=None,
                    sale_tran_id=None,
                )
            ],
        ),
        (
            V,
            "market_tran_info_detail",
            [
                rec(
                    "market_tran_info_detail",
                    V,
                    day,
                    market_id=V,
                    wholesaler_id=V + "0002",
                    retailer_id=R + "0002",
                    tran_id=t4,
                    batch_id=batch,
                    weight="30.000",
                    **g,
                )
            ],
        ),
        (
            R,
            "retail_market_tran_info_summ",
            [
                rec(
                    "retail_market_tran_info_summ",
                    R,
                    day,
                    retail_market_id=R,
                    retailer_id=R + "0002",
                    batch_id=t4,
                    sale_tran_id=t5,
                    tran_id=None,
                    quarantine_animal_products_id=None,
                    weight="1.200",
                    **g,
                )
            ],
        ),
    ]
    return {"uploads": up, "sale": t5, "batch": batch, "codes": {"wholesale": t4, "sale": t5}}


def upload_all(platform: Platform, chain: dict) -> None:
    for node, rtype, recs in chain["uploads"]:
        r, resp = platform.upload(node, rtype, recs)
        assert r.status_code == 200, r.text
        assert [x.verdict for x in resp.results] == ["accepted"] * len(recs), (rtype, resp.results)
