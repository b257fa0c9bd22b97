"""Handheld terminal (手持终端) for entry registration at slaughterhouses and wholesale markets.

It registers what arrives (standards.md §3.3): at a slaughterhouse the pig
intake (seller, 产地检疫证明 number, head count, vehicle plate, origin) as an
``animal_in_info`` record; at a wholesale market the 入场登记 of a batch
(wholesaler, certificates, vehicle plate, goods and weights) as
``market_in_info_base`` + ``market_in_info_detail`` records.  Records are built
and checked with the profile's catalogue (``p.records``), kept in an outbox
(store-and-forward: Urumqi's handhelds used wireless links, devices.md §3) and
uploaded as ``DataExchangeReq`` envelopes (``p.envelope``) by HTTP POST.

Upload outcome per envelope: records the server accepted or already had
(duplicate) leave the outbox; rejected ones move to :attr:`rejected` with the
server's reason (never resent unchanged); a transport failure (timeout,
connection refused, HTTP error, unreadable response) keeps them for the next
:meth:`HandheldTerminal.upload`.  Every request has a timeout.

An entry the catalogue rejects is refused at the keyboard (:class:`EntryError`
with findings; :meth:`HandheldTerminal.check_entry`).
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import httpx

from profiles import Finding, load_profile
from profiles.errors import RoucaiError
from profiles.profile import Profile

from .faults import FaultSet


class EntryError(RoucaiError, ValueError):
    """An entry the profile's record rules reject (``findings`` says why): a usage error, exit 2."""

    def __init__(self, findings: list[Finding]):
        super().__init__("；".join(f.zh for f in findings), "; ".join(f.en for f in findings))
        self.findings = findings


@dataclass
class UploadOutcome:
    record_type: str
    count: int
    status: str  # accepted | partial | rejected | refused | timeout | error
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    http_status: int | None = None
    detail: str = ""
    reasons: list[tuple[int, str, str]] = field(default_factory=list)  # (position, reason code, message)


class HandheldTerminal:
    """:param node_code / node_name: the node the terminal belongs to (NodeId of its envelopes).
    :param url: where envelopes are POSTed.  :param key: the node's secret for the VerifyCode.
    :param node_kind: ``"slaughterhouse"`` or ``"wholesale"``.  :param now: clock (datetime factory)."""

    def __init__(
        self,
        node_code: str,
        node_name: str,
        url: str,
        key: str,
        *,
        node_kind: str = "wholesale",
        profile: Profile | None = None,
        faults: FaultSet | None = None,
        seed: int = 0,
        timeout_s: float = 5.0,
        fmt: str = "xml",
        now: Callable[[], _dt.datetime] | None = None,
        batch_seq_start: int = 1,
    ) -> None:
        if node_kind not in ("slaughterhouse", "wholesale"):
            raise ValueError("node_kind must be 'slaughterhouse' or 'wholesale'")
        self.p = profile or load_profile()
        if not self.p.codes.is_valid(node_code, "node"):
            raise EntryError(self.p.codes.findings(node_code, "node"))
        self.node_code, self.node_name, self.node_kind = node_code, node_name, node_kind
        self.url, self.key, self.fmt, self.timeout_s = url, key, fmt, timeout_s
        self.faults = faults or FaultSet()
        self.rng = random.Random(seed)
        # aware UTC by default: the envelope converts it to Beijing time (a naive local clock would be
        # read as Beijing time and be refused on a machine whose local zone is not UTC+8)
        self.now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.outbox: list[tuple[str, dict[str, str]]] = []
        self.rejected: list[tuple[str, dict[str, str], str, str]] = []
        self.uploaded = 0
        self._batch_seq = batch_seq_start - 1

    # -- registration -----------------------------------------------------------------
    def check_entry(self, type_name: str, rec: dict[str, str]) -> dict[str, str]:
        """The entry as kept for upload, once the profile's checks pass; EntryError (refused at the keyboard)
        otherwise."""
        fs = [f for f in self.p.records.validate(type_name, rec) if f.severity == "error"]
        if fs:
            raise EntryError(fs)
        return rec

    def _day(self, day: _dt.date | None) -> str:
        return (day or self.now().date()).strftime("%Y%m%d")

    def register_animal_intake(
        self,
        seller_id: str,
        seller_name: str,
        quarantine_id: str,
        head_count: int,
        *,
        dead: int = 0,
        passed: bool = True,
        plate: str | None = None,
        origin_region: str | None = None,
        farm_name: str | None = None,
        price_yuan_per_kg: Decimal | str | None = None,
        ear_tags: tuple[str, str] | None = None,
        day: _dt.date | None = None,
    ) -> dict[str, str]:
        """Slaughterhouse: pigs arrive with a 产地检疫证明 (``quarantine_id``) and their ear tags (``ear_tags``:
        first and last of the lot's consecutive 畜禽标识 numbers). Returns the queued record."""
        if self.node_kind != "slaughterhouse":
            raise ValueError("animal intake is registered at a slaughterhouse")
        rec = {
            "butcher_fac_id": self.node_code,
            "butcher_fac_name": self.node_name,
            "in_date": self._day(day),
            "seller_id": seller_id,
            "seller_name": seller_name,
            "quarantine_id": quarantine_id,
            "quarantine_num": str(head_count),
            "dead_num": str(dead),
            "check_result": "1" if passed else "0",
        }
        if price_yuan_per_kg is not None:
            rec["price"] = str(Decimal(str(price_yuan_per_kg)).quantize(Decimal("0.01")))
        if plate:
            rec["transporter_id"] = plate
        if origin_region:
            rec["area_origin_id"] = origin_region
            rec["area_origin_name"] = self.p.regions.full_name(origin_region) or ""
        if farm_name:
            rec["farm_name"] = farm_name
        if ear_tags:
            rec["ear_tag_start"], rec["ear_tag_end"] = ear_tags
        rec = self.check_entry("animal_in_info", rec)
        self.outbox.append(("animal_in_info", rec))
        return rec

    def next_batch_id(self) -> str:
        """A batch code issued by this node: a trace code under the node's own operator code (seq 0000)."""
        self._batch_seq += 1
        return self.p.codes.trace_code(self.p.codes.operator_code(self.node_code, 0), self._batch_seq)

    def register_market_entry(
        self,
        wholesaler_id: str,
        wholesaler_name: str,
        goods: list[tuple[Any, ...]],
        *,
        quarantine_animal_products_id: str | None = None,
        inspection_meat_id: str | None = None,
        prov_id: str | None = None,
        quarantine_vege_id: str | None = None,
        plate: str | None = None,
        origin_region: str | None = None,
        base_name: str | None = None,
        base_id: str | None = None,
        supplier: tuple[str, str] | None = None,
        upstream_tran_id: str | None = None,
        batch_id: str | None = None,
        day: _dt.date | None = None,
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        """Wholesale 入场登记 of one batch (批次 = the same wholesaler + the same certificate). Returns (base, details).

        ``goods``: lines ``(commodity code, weight kg)``, or ``(code, kg, upstream trace code)`` when the
        seller's ledger already gave the line a trace code (持卡申报 against the upstream electronic ledger,
        standards.md §3.3): such a line keeps that code as its ``tran_id`` and ``batch_id`` (the buyer's entry
        reuses the upstream line's code: the chain link, standards.md §2(c)), and the entry's ``tran_id`` and
        ``batch_id`` are the first line's.  Without upstream codes the batch code is ``batch_id`` when the
        node's system issued one (it owns the operators' code sequences), else :meth:`next_batch_id`.
        ``supplier`` = (code, name) of the supplying slaughterhouse or market (``ws_supplier_*`` of every
        line); ``base_name`` / ``base_id`` the 生产基地 of the goods (name, id); certificates go on the entry and on every line."""
        if self.node_kind != "wholesale":
            raise ValueError("market entry is registered at a wholesale market")
        if not goods:
            raise EntryError(
                [Finding("TRAN-REC-02", "goods", "入场登记至少需要一种商品", "an entry needs at least one good")]
            )
        upstream = [g[2] if len(g) > 2 else None for g in goods]
        batch = upstream[0] or batch_id or self.next_batch_id()
        certs = {
            k: v
            for k, v in (
                ("quarantine_animal_products_id", quarantine_animal_products_id),
                ("inspection_meat_id", inspection_meat_id),
                ("prov_id", prov_id),
                ("quarantine_vege_id", quarantine_vege_id),
            )
            if v
        }
        base = {
            "market_id": self.node_code,
            "market_name": self.node_name,
            "in_date": self._day(day),
            "wholesaler_id": wholesaler_id,
            "wholesaler_name": wholesaler_name,
            "batch_id": batch,
            **certs,
        }
        if upstream_tran_id or upstream[0]:
            base["tran_id"] = upstream_tran_id or upstream[0]
        if plate:
            base["transporter_id"] = plate
        details = []
        for line, up in zip(goods, upstream):
            code, kg = line[0], line[1]
            d = {
                "batch_id": up or batch,
                "goods_code": code,
                "goods_name": self.p.commodities[code].name_zh if code in self.p.commodities else "",
                "weight": str(Decimal(str(kg)).quantize(Decimal("0.001"))),
                **certs,
            }
            if up:
                d["tran_id"] = up
            if origin_region:
                d["area_origin_id"] = origin_region
                d["area_origin_name"] = self.p.regions.full_name(origin_region) or ""
            if base_name:
                d["base_name"] = base_name
            if base_id:
                d["base_id"] = base_id
            if supplier:
                d["ws_supplier_id"], d["ws_supplier_name"] = supplier
            details.append(d)
        base = self.check_entry("market_in_info_base", base)
        details = [self.check_entry("market_in_info_detail", d) for d in details]
        self.outbox.append(("market_in_info_base", base))
        self.outbox += [("market_in_info_detail", d) for d in details]
        return base, details

    # -- upload -----------------------------------------------------------------------
    def upload(self, client: httpx.Client | None = None, max_per_envelope: int = 100) -> list[UploadOutcome]:
        """POST the outbox as envelopes (one record type each, in order); returns one outcome per envelope."""
        outcomes = []
        own = client is None
        client = client or httpx.Client(timeout=self.timeout_s, trust_env=False)
        try:
            groups: dict[str, list[dict[str, str]]] = {}
            for t, r in self.outbox:
                groups.setdefault(t, []).append(r)
            keep: list[tuple[str, dict[str, str]]] = []
            for t, recs in groups.items():
                for i in range(0, len(recs), max_per_envelope):
                    chunk = recs[i : i + max_per_envelope]
                    o, left = self._post(client, t, chunk)
                    outcomes.append(o)
                    keep += [(t, r) for r in left]
            self.outbox = keep
        finally:
            if own:
                client.close()
        return outcomes

    def _post(
        self, client: httpx.Client, t: str, recs: list[dict[str, str]]
    ) -> tuple[UploadOutcome, list[dict[str, str]]]:
        env = self.p.envelope
        body = env.build(self.node_code, t, recs, self.key, request_time=self.now(), fmt=self.fmt)
        ctype = "application/json" if self.fmt == "json" else "application/xml; charset=utf-8"
        if self.faults.on("http_timeout"):
            return UploadOutcome(t, len(recs), "timeout", detail="link down (fault http_timeout)"), recs
        try:
            resp = client.post(self.url, content=body, headers={"Content-Type": ctype}, timeout=self.timeout_s)
        except httpx.TimeoutException as exc:
            return UploadOutcome(t, len(recs), "timeout", detail=str(exc)), recs
        except httpx.HTTPError as exc:
            return UploadOutcome(t, len(recs), "error", detail=f"{type(exc).__name__}: {exc}"), recs
        parsed, findings = env.parse_response(resp.content)
        if parsed is None:
            return UploadOutcome(
                t,
                len(recs),
                "error",
                http_status=resp.status_code,
                detail="; ".join(f.en for f in findings) or f"HTTP {resp.status_code}",
            ), recs
        if parsed.code != "0000":
            return UploadOutcome(
                t, len(recs), "refused", http_status=resp.status_code, detail=f"{parsed.code} {parsed.message}"
            ), recs
        by_pos = {v.seq: v for v in parsed.results}
        left, out = [], UploadOutcome(t, len(recs), "accepted", http_status=resp.status_code)
        for pos, r in enumerate(recs, 1):
            v = by_pos.get(pos)
            if v is None:
                left.append(r)
            elif v.verdict == "accepted":
                out.accepted += 1
            elif v.verdict == "duplicate":
                out.duplicate += 1
            else:
                out.rejected += 1
                out.reasons.append((pos, v.reason, v.message or ""))
                self.rejected.append((t, r, v.reason, v.message or ""))
        self.uploaded += out.accepted + out.duplicate
        if out.rejected or left:
            out.status = "partial" if out.accepted + out.duplicate else "rejected"
        return out, left
