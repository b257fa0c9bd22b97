"""The roucai pytest plugin, tested black-box with pytester."""

import json
import zipfile

import pytest

from conformance.bundle import verify_bundle

CAPS = """
[target]
kind = "scale"
vendor = "测试厂商"
[capabilities]
printer = true
[expected_failures]
"CODE-TRACE-04" = "known: sequence resets after power loss"
"""


@pytest.fixture
def run(pytester):
    pytester.makefile(".toml", caps=CAPS)

    def _run(src, *extra):
        pytester.makepyfile(test_suite=src)
        report = pytester.path / "rep"
        result = pytester.runpytest_inprocess(
            "-p",
            "conformance.plugin",
            "--target",
            "sim://scale-01",
            "--capabilities",
            "caps.toml",
            "--report",
            str(report),
            "--junitxml",
            str(report / "junit.xml"),
            "-o",
            "junit_family=xunit1",
            "-p",
            "no:cacheprovider",
            *extra,
        )
        doc = None
        if (report / "results.json").is_file():
            doc = json.loads((report / "results.json").read_text("utf-8"))
        return result, doc, report

    return _run


def verdicts(doc):
    return {t["name"]: t["verdict"] for t in doc["tests"]}


def test_verdicts_selection_and_outputs(run):
    result, doc, report = run("""
import time, pytest

@pytest.fixture
def traced(evidence):
    yield
    evidence.attach_json("teardown.json", {"wire": "captured after the test"})

@pytest.mark.requirement("CODE-TRACE-01")
def test_ok(evidence, traced):
    evidence.note("看到了", "seen")
    evidence.attach_json("x.json", {"a": 1})

@pytest.mark.requirement("CODE-TRACE-02")
def test_bad():
    assert 1 == 2, "trace code does not start with the operator code"

@pytest.mark.requirement("CODE-TRACE-03")
@pytest.mark.conformance_timeout(0.3)
def test_slow():
    time.sleep(5)

@pytest.mark.requirement("CODE-NODE-01")
@pytest.mark.applies(kinds=("city_platform",))
def test_platform_only():
    raise AssertionError("must not run")

@pytest.mark.requirement("CODE-NODE-02")
@pytest.mark.applies(kinds=("scale",), needs=("card_reader",))
def test_needs_reader():
    raise AssertionError("must not run")

@pytest.mark.requirement("CODE-NODE-03")
def test_partial(evidence):
    evidence.partial("只验证了一半", "only half could be shown")

@pytest.mark.requirement("CODE-OPER-01")
def test_error(nonexistent_fixture):
    pass
""")
    v = verdicts(doc)
    assert v == {
        "test_ok": "pass",
        "test_bad": "fail",
        "test_slow": "timeout",
        "test_platform_only": "not-applicable",
        "test_needs_reader": "not-applicable",
        "test_partial": "partial",
        "test_error": "error",
    }
    tests = {t["name"]: t for t in doc["tests"]}
    assert tests["test_slow"]["duration_s"] < 3
    assert "city_platform" in tests["test_platform_only"]["reason_en"]
    assert "card_reader" in tests["test_needs_reader"]["reason_en"]
    for name in ("test_platform_only", "test_needs_reader"):  # the zh report gives the reason in Chinese
        t = tests[name]
        assert t["reason_zh"] == t["selection_zh"] and t["reason_zh"] != t["reason_en"], t
    assert "applies" in tests["test_ok"]["selection_en"]
    assert tests["test_ok"]["notes"] == [{"zh": "看到了", "en": "seen"}]
    assert any(f.endswith("x.json") for f in tests["test_ok"]["evidence"])
    assert any(f.endswith("teardown.json") for f in tests["test_ok"]["evidence"])  # attached in teardown
    assert doc["summary"]["conformant"] is False
    assert doc["capabilities"]["info"]["vendor"] == "测试厂商"
    reqs = {r["id"]: r["verdict"] for r in doc["requirements"]}
    assert reqs["CODE-TRACE-02"] == "fail" and reqs["CODE-NODE-01"] == "not-applicable"
    # JUnit carries requirement ids and verdicts as properties
    junit = (report / "junit.xml").read_text("utf-8")
    assert 'name="requirement" value="CODE-TRACE-02"' in junit and 'value="timeout"' in junit
    # the terminal summary reads the results the session kept (config.stash), in the run's language
    out = result.stdout.str()
    assert "roucai 一致性判定" in out and "CODE-TRACE-02" in out.split("roucai 一致性判定", 1)[1]
    # HTML in both languages, every section present
    for lang, word in (("zh", "不符合"), ("en", "NON-CONFORMANT")):
        page = (report / f"report.{lang}.html").read_text("utf-8")
        for sec in ("summary", "requirements", "failures", "tests", "capabilities", "environment"):
            assert f'id="{sec}"' in page
        assert word in page
    # the bundle is intact, and any change is detected
    bundle = report / "bundle.zip"
    assert verify_bundle(bundle) == []
    names = zipfile.ZipFile(bundle).namelist()
    assert {
        "results.json",
        "report.zh.html",
        "capabilities.toml",
        "environment.json",
        "profile.json",
        "MANIFEST.sha256",
    } <= set(names)
    tampered = report / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for n in src.namelist():
            data = src.read(n)
            dst.writestr(n, data.replace(b'"pass"', b'"fail"') if n == "results.json" else data)
    assert verify_bundle(tampered) == ["altered: results.json"]


def test_declared_expected_failure_and_unexpected_pass(run):
    _, doc, _ = run("""
import pytest
@pytest.mark.requirement("CODE-TRACE-04")
def test_declared_fails():
    assert False
""")
    assert verdicts(doc) == {"test_declared_fails": "expected-failure"}
    assert doc["summary"]["conformant"] is True
    _, doc, _ = run("""
import pytest
@pytest.mark.requirement("CODE-TRACE-04")
def test_declared_fails():
    assert True
""")
    assert verdicts(doc) == {"test_declared_fails": "unexpected-pass"}
    assert doc["summary"]["conformant"] is False


def test_unknown_requirement_id_is_a_collection_error(run):
    result, doc, _ = run("""
import pytest
@pytest.mark.requirement("CODE-NOPE-99")
def test_x():
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and doc is None
    result.stderr.fnmatch_lines(["*CODE-NOPE-99*"])


def test_unmarked_test_in_a_conformance_run_is_refused(run):
    result, _, _ = run("""
import pytest
@pytest.mark.requirement("CODE-TRACE-01")
def test_marked():
    pass
def test_unmarked():
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_unmarked*requirement*"])


def test_bad_capability_statement_is_a_usage_error(pytester):
    pytester.makefile(".toml", caps='[target]\nkind = "toaster"\n')
    pytester.makepyfile(
        test_suite="""
import pytest
@pytest.mark.requirement("CODE-TRACE-01")
def test_x():
    pass
"""
    )
    result = pytester.runpytest_inprocess(
        "-p", "conformance.plugin", "--target", "sim://x", "--capabilities", "caps.toml"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*toaster*"])


def test_plugin_is_inert_without_requirement_markers(pytester):
    pytester.makepyfile(test_plain="def test_x():\n    assert True\n")
    result = pytester.runpytest_inprocess("-p", "conformance.plugin")
    result.assert_outcomes(passed=1)
    assert "roucai conformance" not in result.stdout.str()


def test_a_missing_action_is_not_tested_and_the_run_incomplete(run):
    """ActionMissing -> verdict not-tested naming the action (never pass, never partial); a required
    requirement left not-tested makes the run INCOMPLETE (not conformant) with the action listed."""
    src = """
import pytest
from conformance.actions import ActionMissing

@pytest.mark.requirement("CODE-TRACE-01")
def test_ok():
    pass

@pytest.mark.requirement("CODE-TRACE-02")
def test_needs_the_pan(evidence):
    raise ActionMissing(["put-load"], "秤盘上需要 1236 克", "1236 g on the platter")
"""
    _, doc, report = run(src)
    assert verdicts(doc) == {"test_ok": "pass", "test_needs_the_pan": "not-tested"}
    t = [x for x in doc["tests"] if x["name"] == "test_needs_the_pan"][0]
    assert "needs action put-load" in t["reason_en"] and "需要操作 put-load" in t["reason_zh"]
    s = doc["summary"]
    assert s["verdict"] == "INCOMPLETE" and s["conformant"] is False and not s["failed_required"]
    assert s["not_tested_required"] == ["CODE-TRACE-02"]
    assert [a["action"] for a in s["actions_needed"]] == ["put-load"]
    assert s["actions_needed"][0]["requirements"] == ["CODE-TRACE-02"]
    assert "INCOMPLETE" in (report / "report.en.html").read_text("utf-8")
    _, doc, _ = run(
        src.replace(
            'raise ActionMissing(["put-load"], "秤盘上需要 1236 克", "1236 g on the platter")',
            "assert False, 'the reading is wrong'",
        )
    )
    assert doc["summary"]["verdict"] == "NON-CONFORMANT"  # a failure outranks not-tested


def test_plugin_is_not_loaded_by_a_plain_pytest_run(pytester):
    """Issue 17 item 6: installing roucai-harness adds nothing to another project's pytest runs. Without
    ``-p conformance.plugin`` (which conformance/pytest.ini and this repository's pyproject add) there is no
    ``--seed`` option and no ``seed`` / ``target`` / ``profile`` fixture (no pytest11 entry point)."""
    pytester.makepyfile(test_plain="def test_x(seed):\n    assert seed\n")
    result = pytester.runpytest_inprocess("--seed", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert "unrecognized arguments: --seed" in result.stderr.str()
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    assert "fixture 'seed' not found" in result.stdout.str()
