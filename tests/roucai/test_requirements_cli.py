"""`roucai requirements list|show` and `roucai docs profile`: exit codes, zh/en output, stable JSON."""

import json

import pytest

from roucai.cli import main

FIELDS = {
    "id",
    "area",
    "level",
    "condition",
    "actors",
    "evidence",
    "source",
    "title_zh",
    "title_en",
    "statement_zh",
    "statement_en",
    "profile_values",
    "testable_by",
    "not_tested_reason",
    "justification",
}


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_json_has_every_field_and_evidence(capsys):
    rc, out, _ = run(capsys, "requirements", "list", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["profile"] == "reference@1.0.0"
    assert doc["count"] == len(doc["requirements"]) >= 60
    assert doc["filters"] == {"area": None, "actor": None, "level": None, "evidence": None}
    for r in doc["requirements"]:
        assert set(r) == FIELDS
        assert r["evidence"] in ("standard", "standard-toc", "practice", "industry", "profile")
        assert r["source"] and r["title_zh"] and r["statement_en"]


@pytest.mark.parametrize(
    "opt, val, key",
    [("--area", "perception", "area"), ("--level", "conditional", "level"), ("--evidence", "standard-toc", "evidence")],
)
def test_list_filters(capsys, opt, val, key):
    rc, out, _ = run(capsys, "requirements", "list", opt, val, "--json")
    reqs = json.loads(out)["requirements"]
    assert rc == 0 and reqs and all(r[key] == val for r in reqs)


def test_list_actor_filter_and_combination(capsys):
    rc, out, _ = run(capsys, "requirements", "list", "--actor", "card_reader", "--area", "coding", "--json")
    reqs = json.loads(out)["requirements"]
    assert rc == 0 and reqs and all("card_reader" in r["actors"] and r["area"] == "coding" for r in reqs)
    rc, out, _ = run(capsys, "requirements", "list", "--actor", "central_platform", "--area", "perception", "--json")
    assert rc == 0 and json.loads(out)["count"] == 0


def test_list_human_zh_and_en(capsys):
    rc, out, _ = run(capsys, "requirements", "list", "--area", "coding")
    assert rc == 0 and "CODE-TRACE-01" in out and "追溯码为20位数字" in out and "共" in out
    rc, out, _ = run(capsys, "requirements", "list", "--area", "coding", "--lang", "en")
    assert rc == 0 and "Trace code is 20 digits" in out and "requirements" in out


def test_list_bad_choice_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["requirements", "list", "--level", "mandatory"])
    assert exc.value.code == 2


def test_show_json_and_case_insensitive(capsys):
    rc, out, _ = run(capsys, "requirements", "show", "tran-env-04", "--json")
    doc = json.loads(out)
    assert rc == 0 and set(doc) == {"profile", "catalogue_version", "requirement"}
    assert doc["requirement"]["id"] == "TRAN-ENV-04" and set(doc["requirement"]) == FIELDS
    assert doc["requirement"]["profile_values"] == {"clock_window_s": 300}


def test_show_human(capsys):
    rc, out, _ = run(capsys, "requirements", "show", "PERC-SCALE-22", "--lang", "en")
    assert rc == 0 and "evidence: practice" in out and "not tested because" in out


def test_show_unknown_id_exits_2_with_close_matches(capsys):
    rc, out, err = run(capsys, "requirements", "show", "PERC-SCALE-6")
    assert rc == 2 and out == ""
    assert "PERC-SCALE-06" in err and "未知的需求编号" in err
    rc, _, err = run(capsys, "requirements", "show", "XYZ", "--lang", "en")
    assert rc == 2 and "unknown requirement id XYZ" in err and "requirements list" in err


def test_docs_profile_out_check_and_stdout(capsys, tmp_path):
    rc, out, _ = run(capsys, "docs", "profile", "--out", str(tmp_path), "--json")
    assert rc == 0 and len(json.loads(out)["written"]) == 2
    rc, out, _ = run(capsys, "docs", "profile", "--check", str(tmp_path))
    assert rc == 0 and "最新" in out
    (tmp_path / "profile.zh.md").write_text("old\n", encoding="utf-8")
    rc, out, _ = run(capsys, "docs", "profile", "--check", str(tmp_path), "--json")
    assert rc == 1 and json.loads(out)["stale"] == [str(tmp_path / "profile.zh.md")]
    rc, out, _ = run(capsys, "docs", "profile", "--lang", "en")
    assert rc == 0 and out.startswith("# Meat & vegetable")


def test_docs_profile_usage_errors(capsys, tmp_path):
    f = tmp_path / "file.md"
    f.write_text("x", encoding="utf-8")
    rc, _, err = run(capsys, "docs", "profile", "--out", str(f))
    assert rc == 2 and "不是目录" in err
    rc, _, err = run(capsys, "docs", "profile", "--out", str(tmp_path), "--check", str(tmp_path), "--lang", "en")
    assert rc == 2 and "cannot be used together" in err


def test_show_gives_the_justification_of_a_required_invented_rule(capsys):
    rc, out, _ = run(capsys, "requirements", "show", "TRAN-ENC-02", "--lang", "en")
    assert rc == 0 and "why required: DTDs and external entities" in out
    rc, out, _ = run(capsys, "requirements", "list", "--evidence", "profile", "--level", "required", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["requirements"] and all(r["justification"] for r in doc["requirements"])
