"""Upward feed: the central platform's totals equal the city platform's."""

from __future__ import annotations

import time

import pytest

from conformance.platform.conftest import cite_day_upload
from conformance.queries import day_rows, regulator_get

PLATFORM = ("city_platform",)


@pytest.mark.requirement("PLAT-FEED-01")
@pytest.mark.applies(kinds=PLATFORM, needs=("upward_feed", "statistics"))
@pytest.mark.conformance_timeout(60)
def test_central_totals_equal_the_city_totals(day_upload, central, http, platform, profile, evidence):
    """After the simulated day, the central platform's records and kilograms for the city, in total and per
    node type, equal the city platform's own statistics of that day (waiting at most 20 s for the feed)."""
    cite_day_upload(evidence, day_upload)
    base, city_id, central_regulator = central
    date = day_upload.day.date
    city_rows = day_rows(http, platform.url, date)
    want_records = sum(v[0] for v in city_rows.values())
    want_grams = sum(v[1] for v in city_rows.values())
    node_types = {}
    r = http.get(platform.url + "/api/v1/nodes")
    for n in r.json().get("nodes", []) if r.status_code == 200 else []:
        node_types[n["node_id"]] = n["node_type"]
    want_by_type: dict = {}
    for (node, _t, _g), v in city_rows.items():
        want_by_type[node_types.get(node, "unregistered")] = (
            want_by_type.get(node_types.get(node, "unregistered"), 0) + v[0]
        )
    end = time.monotonic() + 20
    got = {}
    while time.monotonic() < end:
        # signed as the central's regulator when there is one (docs/regulator.md), else unsigned
        status, doc = regulator_get(http, base, "/api/v1/feed/summary", {"date": date}, profile, central_regulator)
        got = doc.get("cities", {}).get(city_id, {}) if status == 200 and isinstance(doc, dict) else {}
        if got.get("records") == want_records:
            break
        time.sleep(0.5)
    evidence.attach_json(
        "feed.json",
        {"city": {"records": want_records, "grams": want_grams, "by_node_type": want_by_type}, "central": got},
    )
    assert got.get("records") == want_records, (
        f"the central platform shows {got.get('records')} records of {date} for city {city_id}; the city has "
        f"{want_records} (the feed must carry every accepted record's statistics, without loss or duplicates)"
    )
    whole, _, frac = got["weight_kg"].partition(".")
    assert int(whole) * 1000 + int((frac + "000")[:3]) == want_grams, (
        f"kg differ: central {got['weight_kg']}, city {want_grams} g"
    )
    by_type = {t: v["records"] for t, v in got.get("by_node_type", {}).items()}
    assert by_type == want_by_type, f"per node type, central {by_type} != city {want_by_type}"
    evidence.note("“次日06:00前送达”的时限未核对", "the 06:00 next-day deadline is not checked")
