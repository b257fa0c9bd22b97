"""`roucai codes`: exit codes, zh/en output, stable JSON."""

import json

from roucai.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_accepts_urumqi_trace_code(capsys):
    rc, out, _ = run(capsys, "codes", "check", "65010200100120000345")
    assert rc == 0 and "符合" in out and "天山区" in out


def test_check_rejects_malformed_with_reason_and_exit_1(capsys):
    rc, out, _ = run(capsys, "codes", "check", "6501020010012000034５", "--lang", "en")
    assert rc == 1 and "INVALID" in out and "full-width" in out


def test_check_json_is_stable(capsys):
    rc, out, _ = run(capsys, "codes", "check", "65010200100120000345", "99010200100120000345", "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and doc["profile"] == "reference@1.0.0"
    good, bad = doc["results"]
    assert set(good) == {"subject", "ok", "details", "findings"}
    assert good["details"]["parts"]["operator_code"] == "6501020010012"
    assert bad["findings"][0]["rule"] == "CODE-NODE-02"
    assert set(bad["findings"][0]) >= {"rule", "field", "severity", "zh", "en"}


def test_new_trace_codes(capsys):
    rc, out, _ = run(capsys, "codes", "new", "trace", "--operator", "6501020010012", "--seq", "9", "--count", "2")
    assert rc == 0 and out.split() == ["65010200100120000009", "65010200100120000010"]


def test_new_with_bad_region_is_nonconformant(capsys):
    rc, out, _ = run(capsys, "codes", "new", "node", "--region", "990102", "--seq", "1")
    assert rc == 1 and "CODE-NODE-02" in out


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "codes", "new", "trace", "--seq", "1")[0] == 2
    assert run(capsys, "codes", "new", "trace", "--operator", "6501020010012", "--seq", "1", "--count", "0")[0] == 2
    assert run(capsys, "codes", "check", "1", "--profile", "nope")[0] == 2


def test_batch_codes_are_a_kind(capsys):
    rc, out, _ = run(capsys, "codes", "new", "batch", "--node", "440106001", "--seq", "1")
    assert rc == 0 and out.split() == ["4401060010000001"]
    rc, out, _ = run(capsys, "codes", "check", "4401060010000001", "--json")
    (r,) = json.loads(out)["results"]
    assert rc == 0 and r["details"]["kind"] == "batch" and r["details"]["parts"]["node_code"] == "440106001"
    rc, out, _ = run(capsys, "codes", "check", "4401060010000000", "--lang", "en")
    assert rc == 1 and "CODE-BATCH-01" in out
    rc, out, _ = run(capsys, "codes", "check", "21113011", "--kind", "commodity", "--lang", "en")
    assert rc == 0 and "[CODE-COMM-03] warning" in out


def test_check_reads_ear_tags_their_ranges_and_base_ids(capsys):
    """源头衔接 identifiers through `codes check --kind ear_tag|base_id` (profiles/identifiers.py)."""
    rc, out, _ = run(
        capsys, "codes", "check", "--kind", "ear_tag", "165012100496650", "165012100496650..165012100496659"
    )
    assert rc == 0 and out.count("符合") == 2 and "畜种: 猪" in out and "头数: 10" in out and "乌鲁木齐县" in out
    rc, out, _ = run(capsys, "codes", "check", "--kind", "ear_tag", "465012100496650", "--lang", "en")
    assert rc == 1 and "INVALID" in out and "CODE-EARTAG-01" in out and "species code '4'" in out
    rc, out, _ = run(capsys, "codes", "check", "--kind", "ear_tag", "165012100496659..165012100496650", "..", "--json")
    doc = json.loads(out)
    assert rc == 1 and [r["ok"] for r in doc["results"]] == [False, False]
    assert doc["results"][0]["findings"][0]["field"] == "range"
    rc, out, _ = run(capsys, "codes", "check", "--kind", "base_id", "3707830001", "3707830000", "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["results"][0]["details"]["parts"]["region_name"] == "山东省潍坊市寿光市"
    assert [f["rule"] for f in doc["results"][1]["findings"]] == ["CODE-BASE-01"]
