"""Handheld entry registration uploading envelopes to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from profiles import load_profile
from conformance.proofs.device_firmware import DropsARequiredField, UploadsTwice
from simulators.devices.faults import FaultSet
from simulators.devices.handheld import EntryError, HandheldTerminal
from tests.httpkit import BackgroundHTTPServer, QuietHandler

P = load_profile()
KEY = "node-secret"
NODE = "650102001"
NOW = dt.datetime(2024, 5, 18, 6, 30, 0)


class Platform(BackgroundHTTPServer):
    """A minimal receiver: parse with the profile, answer per record, remember what it has."""

    def __init__(self, delay_s: float = 0.0):
        self.seen: set[str] = set()
        self.envelopes = 0
        self.delay_s = delay_s
        outer = self

        class H(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(outer.delay_s)
                res = P.envelope.parse(body, key=KEY, now=NOW)
                outer.envelopes += 1
                dups = []
                for r in res.records:
                    k = repr(sorted(r.values.items()) if hasattr(r, "values") else r)
                    if k in outer.seen:
                        dups.append(r.position)
                    outer.seen.add(k)
                out = P.envelope.build_response(P.envelope.respond(res, now=NOW, duplicates=dups))
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        super().__init__(H)
        self.url = self.base_url + "/upload"


def terminal(url, kind="wholesale", **kw) -> HandheldTerminal:
    return HandheldTerminal(NODE, "北园春农产品批发市场", url, KEY, node_kind=kind, now=lambda: NOW, **kw)


def wholesale_entries(h: HandheldTerminal, n: int = 3):
    for i in range(n):
        h.register_market_entry(
            P.codes.operator_code(NODE, i + 1),
            f"批发商{i}",
            [("21111001", "812.500")],
            quarantine_animal_products_id=f"65{i:08d}",
            plate="新A12345",
            origin_region="650121",
        )


def test_wholesale_entries_upload_and_duplicates():
    with Platform() as plat:
        h = terminal(plat.url)
        wholesale_entries(h)
        out = h.upload()
        assert [(o.record_type, o.status, o.accepted) for o in out] == [
            ("market_in_info_base", "accepted", 3),
            ("market_in_info_detail", "accepted", 3),
        ]
        assert h.outbox == [] and h.uploaded == 6
        h2 = UploadsTwice(NODE, "北园春农产品批发市场", plat.url, KEY, node_kind="wholesale", now=lambda: NOW)
        wholesale_entries(h2, 1)
        out = h2.upload()
        assert all(o.duplicate == 1 and o.accepted == 0 for o in out) and h2.outbox == []


def test_slaughterhouse_intake():
    with Platform() as plat:
        h = terminal(plat.url, kind="slaughterhouse")
        rec = h.register_animal_intake(
            P.codes.operator_code(NODE, 7), "王建国", "6500000123", 42, dead=1, plate="新A12345", origin_region="650121"
        )
        assert rec["quarantine_num"] == "42" and P.records.validate("animal_in_info", rec) == []
        [o] = h.upload()
        assert o.status == "accepted" and o.accepted == 1


def test_invalid_entry_refused_at_the_keyboard():
    h = terminal("http://127.0.0.1:9/none")
    with pytest.raises(EntryError) as e:
        h.register_market_entry("123", "x", [("21111001", "1.000")], quarantine_animal_products_id="65000001")
    assert e.value.findings and h.outbox == []
    with pytest.raises(EntryError):
        h.register_market_entry(P.codes.operator_code(NODE, 1), "x", [])


def test_missing_fields_firmware_bug_is_rejected_by_the_server():
    with Platform() as plat:
        h = DropsARequiredField(NODE, "北园春农产品批发市场", plat.url, KEY, node_kind="wholesale", now=lambda: NOW)
        wholesale_entries(h, 2)
        out = h.upload()
        assert all(o.rejected == o.count and o.status == "rejected" for o in out)
        assert h.outbox == [] and len(h.rejected) == 4 and all(r[2] != "0000" for r in h.rejected)


def test_server_down_and_timeout_keep_the_outbox():
    h = terminal("http://127.0.0.1:9/upload", timeout_s=0.5)  # port 9: nothing listens
    wholesale_entries(h, 1)
    assert {o.status for o in h.upload()} == {"error"} and len(h.outbox) == 2
    with Platform(delay_s=0.4) as plat:
        h.url = plat.url
        h.timeout_s = 0.1
        t = time.monotonic()
        assert {o.status for o in h.upload()} == {"timeout"} and len(h.outbox) == 2
        assert time.monotonic() - t < 1.0
        h.timeout_s = 5.0
        assert {o.status for o in h.upload()} == {"accepted"} and h.outbox == []


def test_link_down_fault():
    h = terminal("http://127.0.0.1:9/upload", faults=FaultSet(["http_timeout"], "handheld"))
    wholesale_entries(h, 1)
    assert {o.status for o in h.upload()} == {"timeout"} and len(h.outbox) == 2


def test_default_clock_gives_a_request_time_inside_the_window():
    """The default clock must be zone-aware: a naive local clock is read as Beijing time by the envelope."""
    import datetime as dt

    t = HandheldTerminal(NODE, "北园春农产品批发市场", "http://127.0.0.1:9", KEY)
    stamp = t.now()
    assert stamp.tzinfo is not None
    assert abs((stamp - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5
