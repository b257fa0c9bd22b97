"""One simulated market day of the city, as its nodes upload it, with the simulator's ground truth.

:class:`SimulatedDay` runs the market model (``simulators.market.run_market``: the same preset
and seed as the city) for :data:`DAY` and keeps every catalogue record with its node, and the
ledger (the truth: who received what from whom, back to the origin).  The platform suite
uploads the records (:meth:`SimulatedDay.envelopes`) and compares the platform's answers with:

* :meth:`truth_of` — the true chain of a trace code the day issued: the codes of every hop,
  the wholesale market's own batch (vegetables), the slaughter intake's quarantine number and
  the origin's region (meat);
* :meth:`source_of` — the source identifiers that chain must reach (源头衔接): the intake's certificate and
  ear-tag range, or the vegetable entry's origin certificate and production base id, as uploaded;
* :meth:`expected_stats` — records and grams per (node, record type, commodity), each record
  once however often it was uploaded.

Playing the slaughterhouse: the market model leaves the optional certificate numbers out of
``quarantine_info``, so a platform could not join meat-out lines to the intake; as
``tests/simulators/node/test_flow_tiny.py`` does, the quarantine record is sent once per
certificate pair that the ledger gives its intake (the ledger is the truth of that link).
When the model sends them itself, nothing is added.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections import defaultdict

DAY = _dt.date(2025, 3, 10)
#: record type -> the field holding the trace code the record issues
OWN_CODE = {
    "meat_out_info_base": "tran_id",
    "market_tran_info_base": "tran_id",
    "retail_market_tran_info_summ": "sale_tran_id",
}


def grams(kg: str | None) -> int:
    whole, _, frac = (kg or "0").partition(".")
    return int(whole or 0) * 1000 + int((frac + "000")[:3])


class SimulatedDay:
    def __init__(self, profile, preset: str, seed: int, retail_upload: str = "summary"):
        """``retail_upload``: what retail nodes upload of their sales (``summary``: a stall's day per lot; ``lines``:
        one record per receipt line, ``sale_tran_id`` the receipt's code; ``simulators.market.retail``).  The ledger
        (the truth) and every other record are the same either way."""
        from simulators.market import run_market

        self.p = profile
        self.date = DAY.strftime("%Y%m%d")
        sink = io.StringIO()
        self.ledger = run_market(
            preset, seed=seed, start=DAY, ledger_sink=sink, profile=profile, retail_upload=retail_upload
        )
        objs = [json.loads(x) for x in sink.getvalue().splitlines()]
        recs = [o for o in objs if o["k"] == "record" and o["type"] in profile.records.types]
        form = profile.envelope.city_form  # a dialect: what its city's form carries of each record
        self.records = [{**r, "data": form.narrow(r["type"], r["data"])} for r in self._with_certificates(recs)]
        self.nodes = sorted({r["node"] for r in self.records})
        self._sources: dict | None = None

    def _with_certificates(self, records: list[dict]) -> list[dict]:
        pairs = defaultdict(set)
        for r in records:
            if r["type"] == "meat_out_info_detail":
                intake = next(
                    (e["id"] for e in self.ledger.chain(r["data"]["tran_id"]) or [] if e.get("kind") == "intake"), None
                )
                if intake:
                    pairs[intake].add(
                        (r["data"].get("quarantine_animal_products_id", ""), r["data"].get("inspection_meat_id", ""))
                    )
        for r in records:  # pairs the model recorded itself (slaughter.certificates_issued) are not added
            d = r["data"]
            if r["type"] == "quarantine_info" and d.get("quarantine_animal_products_id"):
                pairs.get(d.get("quarantine_id"), set()).discard(
                    (d["quarantine_animal_products_id"], d.get("inspection_meat_id", ""))
                )
        out = []
        for r in records:
            q = r["data"].get("quarantine_id")
            if r["type"] == "quarantine_info" and pairs.get(q) and not r["data"].get("quarantine_animal_products_id"):
                for pq, mq in sorted(pairs[q]):
                    out.append(
                        {**r, "data": {**r["data"], "quarantine_animal_products_id": pq, "inspection_meat_id": mq}}
                    )
            else:
                out.append(r)
        return out

    def envelopes(self, max_count: int) -> list[tuple[str, str, list[dict], bool]]:
        """``(node, record type, records, is_repeat)`` in upload order: per node and type, chunks of at
        most ``max_count``; then the records the model uploads twice (fault ``duplicate_upload``) again."""
        groups: dict[tuple[str, str], list[dict]] = {}
        repeats: dict[tuple[str, str], list[dict]] = {}
        for r in self.records:
            groups.setdefault((r["node"], r["type"]), []).append(r["data"])
            if len(r.get("upload") or []) > 1:
                repeats.setdefault((r["node"], r["type"]), []).append(r["data"])
        out = []
        for (node, rtype), recs in groups.items():
            for i in range(0, len(recs), max_count):
                out.append((node, rtype, recs[i : i + max_count], False))
        for (node, rtype), recs in repeats.items():
            out.append((node, rtype, recs, True))
        return out

    # -- truth ---------------------------------------------------------------------
    def own_codes(self) -> dict[str, dict]:
        """Every trace code a record of the day issues -> that record object."""
        return {r["data"][OWN_CODE[r["type"]]]: r for r in self.records if r["type"] in OWN_CODE}

    def truth_of(self, code: str) -> dict:
        """``{"issued": [codes, sale first], "batch": wholesale batch or None, "intake": quarantine id
        or None, "origin_region": GB/T 2260 code or None}`` from the ledger."""
        rec = self.own_codes()[code]
        if rec["type"] == "retail_market_tran_info_summ":  # a stall's day summary: its own code, then its lot
            chain = [{"id": code, "kind": "line"}] + (self.ledger.chain(rec["data"]["batch_id"]) or [])
        else:
            chain = self.ledger.chain(code) or []
        kinds = {e.get("kind"): e for e in chain}
        return {
            "issued": [e["id"] for e in chain if e.get("kind") == "line"],
            "batch": kinds["veg_batch"]["id"] if "veg_batch" in kinds else None,
            "intake": kinds["intake"]["id"] if "intake" in kinds else None,
            "origin_region": chain[-1].get("region") if chain and chain[-1].get("kind") == "origin" else None,
        }

    def source_of(self, code: str) -> dict[str, str]:
        """The source identifiers (源头衔接) the chain of ``code`` must reach, as the nodes uploaded them: for meat
        the slaughter intake's ``quarantine_id``, ``ear_tag_start`` and ``ear_tag_end``; for vegetables the first
        entry's ``prov_id`` and ``base_id`` (only the fields the city's form carries; ``{}`` when none)."""
        if self._sources is None:
            self._sources = {}
            for r in self.records:
                d = r["data"]
                if r["type"] == "animal_in_info" and d.get("quarantine_id"):
                    self._sources[("intake", d["quarantine_id"])] = {
                        k: d[k] for k in ("quarantine_id", "ear_tag_start", "ear_tag_end") if d.get(k)
                    }
                elif r["type"] == "market_in_info_detail" and d.get("base_id") and d.get("batch_id"):
                    self._sources.setdefault(
                        ("veg_batch", d["batch_id"]), {k: d[k] for k in ("prov_id", "base_id") if d.get(k)}
                    )
        t = self.truth_of(code)
        key = ("intake", t["intake"]) if t["intake"] else ("veg_batch", t["batch"]) if t["batch"] else None
        return dict(self._sources.get(key, {})) if key else {}

    def expected_stats(self) -> dict[tuple[str, str, str], list[int]]:
        """(node, record type, goods code or "") -> [records, grams]; weights from the records' weight field."""
        out: dict = defaultdict(lambda: [0, 0])
        for r in self.records:
            d = r["data"]
            goods = d.get("goods_code") or d.get("meat_code") or ""
            cell = out[(r["node"], r["type"], goods)]
            cell[0] += 1
            cell[1] += grams(d.get("weight")) if "weight" in d else 0
        return dict(out)
