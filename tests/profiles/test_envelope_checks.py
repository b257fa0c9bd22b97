"""profiles.envelope_checks: the envelope checks as a table of named rules a dialect swaps by name (issue 17).

A dialect that drops or replaces one rule changes exactly that rule's findings: every envelope of a varied
set (each header element broken in several ways, alone and combined, keys right and wrong, clock given or
not) is parsed under the reference and under the dialect, and the two finding lists are compared whole.
"""

import datetime as dt
import functools
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from profiles import load_profile
from profiles.envelope_checks import DEFAULT_TABLE, RULES, CheckContext, NamedRule
from profiles.findings import Finding
from profiles.profile import ProfileError
from profiles.record_examples import example_record
from roucai.cli import main
from roucai.commands.profile import checks_markdown

REF = load_profile()
NODE, KEY = "650102009", "demo-secret"
WHEN = dt.datetime(2024, 5, 18, 20, 30, 0)
T = "retail_market_tran_info_summ"
DOC = Path(__file__).resolve().parents[2] / "docs" / "dialects.md"

BREAKS = [
    (r"<NodeId>[^<]*</NodeId>", ["<NodeId></NodeId>", "<NodeId>12345</NodeId>", "<NodeId>65010200x</NodeId>"]),
    (
        r"<RequestTime>[^<]*</RequestTime>",
        ["<RequestTime>2024</RequestTime>", "<RequestTime>20240519203000000</RequestTime>"],
    ),
    (r"<VerifyCode>[^<]*</VerifyCode>", ["<VerifyCode>abc</VerifyCode>", "<VerifyCode>" + "0" * 32 + "</VerifyCode>"]),
    (r"<Index>[^<]*</Index>", ["<Index>ZZZ</Index>", "<Index>A01002</Index>"]),
    (r"<Count>[^<]*</Count>", ["<Count>7</Count>", "<Count>-1</Count>"]),
    (r"<DataDate>[^<]*</DataDate>", ["<DataDate>20240230</DataDate>", "<DataDate>20240519</DataDate>"]),
]


@functools.cache
def envelopes() -> tuple[bytes, ...]:
    """A valid envelope, each break alone, and 20 seeded combinations of three."""
    rng = random.Random(5)
    recs = [example_record(REF.records, T, rng, node=NODE, day=WHEN.date()) for _ in range(3)]
    good = REF.envelope.build(NODE, T, recs, KEY, request_time=WHEN).decode()
    out = [good] + [re.sub(p, r, good, count=1) for p, reps in BREAKS for r in reps]
    for _ in range(20):
        s = good
        for p, reps in rng.sample(BREAKS, 3):
            s = re.sub(p, rng.choice(reps), s, count=1)
        out.append(s)
    return tuple(s.encode() for s in out)


def findings(spec, data, key, now):
    res = spec.parse(data, key=key, now=now)
    return [(f.rule, f.field, f.severity, f.zh, f.en, f.value) for f in res.findings], [
        [(f.rule, f.field, f.severity, f.zh, f.en, f.value) for f in rf] for rf in res.record_findings
    ]


def dialect(tmp_path, checks: str):
    (tmp_path / "profile.toml").write_text(
        'name = "swapped"\nextends = "reference"\n[files]\nenvelope = "envelope.toml"\n', "utf-8"
    )
    (tmp_path / "envelope.toml").write_text(checks, "utf-8")
    return load_profile(str(tmp_path))


CASES = [(key, now) for key in (None, KEY, "wrong") for now in (None, WHEN)]


def compare(spec, rule):
    """Per envelope and case: (reference findings without ``rule``, the same for ``spec``, ``rule``'s own under
    both).  Asserts the first two equal, in order; returns how many envelopes ``rule``'s findings changed."""
    changed = 0
    for data in envelopes():
        for key, now in CASES:
            (ref_env, ref_rec), (got_env, got_rec) = (
                findings(REF.envelope, data, key, now),
                findings(spec, data, key, now),
            )
            assert [f for f in got_env if f[0] != rule] == [f for f in ref_env if f[0] != rule]
            assert got_rec == ref_rec
            changed += [f for f in got_env if f[0] == rule] != [f for f in ref_env if f[0] == rule]
    return changed


def test_the_default_table_runs_the_named_rules_in_order():
    assert (
        DEFAULT_TABLE.names()
        == (
            "header-complete node-id request-time clock-window index count data-date verify-code replay "
            "record-fields record-date"
        ).split()
    )
    for name in ("reference", "changchun", "guangzhou", "ningbo"):  # no shipped dialect swaps a rule
        assert load_profile(name).envelope.checks == DEFAULT_TABLE


def test_a_dialect_dropping_a_rule_loses_exactly_that_rules_findings(tmp_path):
    spec = dialect(tmp_path, '[checks]\ndrop = ["clock-window"]\nevidence = "profile"\n').envelope
    assert "clock-window" not in spec.checks.names() and len(spec.checks.names()) == 10
    assert compare(spec, "TRAN-ENV-04") > 0  # the reference reported TRAN-ENV-04 somewhere: now it is gone
    late = envelopes()[5]  # RequestTime a day late (key None: the form of the VerifyCode only)
    assert [f[0] for f in findings(REF.envelope, late, None, WHEN)[0]] == ["TRAN-ENV-04"]
    assert findings(spec, late, None, WHEN)[0] == []


def test_a_dialect_replacing_a_rule_changes_exactly_that_rules_findings(tmp_path):
    spec = dialect(tmp_path, '[checks.replace]\nverify-code = "verify-code-form-only"\n').envelope
    assert spec.checks.names()[7] == "verify-code-form-only"
    assert compare(spec, "TRAN-ENV-05") > 0
    good = envelopes()[0]
    wrong = spec.parse(good, key="wrong", now=WHEN)
    assert [(f.rule, f.severity) for f in wrong.findings] == [("TRAN-ENV-05", "warning")]
    assert not wrong.authenticated and wrong.envelope_ok
    assert [(f.rule, f.severity) for f in REF.envelope.parse(good, key="wrong").findings] == [("TRAN-ENV-05", "error")]


def test_code_swaps_a_rule_for_any_function_through_with_checks():
    def no_node_code(ctx: CheckContext) -> list[Finding]:
        return [Finding("TRAN-ENV-02", "NodeId", "测试", "test")]

    spec = REF.envelope.with_checks(REF.envelope.checks.swapped(replace={"node-id": no_node_code}))
    assert spec.checks.names() == DEFAULT_TABLE.names()  # the slot keeps its name
    assert compare(spec, "TRAN-ENV-02") > 0
    assert REF.envelope.checks == DEFAULT_TABLE  # the profile's own is untouched


@pytest.mark.parametrize(
    "checks,zh,en",
    [
        ('[checks]\ndrop = ["clock-windw"]\n', "未知的检查规则 'clock-windw'", "unknown check rule 'clock-windw'"),
        ('[checks.replace]\nclock = "replay"\n', "未知的检查规则 'clock'", "unknown check rule 'clock'"),
        ('[checks.replace]\nreplay = "nothing"\n', "未知的规则", "replay = 'nothing': unknown rule"),
        (
            '[checks.replace]\nrecord-date = "verify-code-form-only"\n',
            "不能替换记录级规则",
            "cannot replace the record rule",
        ),
        ('[checks]\ndrop = ["replay"]\nreplace = { replay = "verify-code" }\n', "不能既删除又替换", "both dropped"),
        ('[checks]\ndorp = ["replay"]\n', "未知的键 dorp", "unknown key(s) dorp"),
        ('[checks]\ndrop = "replay"\n', "应为规则名的列表", "a list of rule names"),
    ],
)
def test_a_bad_checks_table_is_a_bilingual_profile_error(tmp_path, checks, zh, en):
    with pytest.raises(ProfileError) as exc:
        dialect(tmp_path, checks).envelope
    assert zh in exc.value.zh and en in exc.value.en and exc.value.exit_code == 2


@pytest.mark.parametrize("lang,text", [("zh", "未知的检查规则 'nope'"), ("en", "unknown check rule 'nope'")])
def test_the_cli_refuses_an_unknown_rule_name_with_exit_2(tmp_path, capsys, lang, text):
    dialect(tmp_path, '[checks]\ndrop = ["nope"]\n')
    envelope = tmp_path / "e.xml"
    envelope.write_bytes(envelopes()[0])
    assert main(["--lang", lang, "--profile", str(tmp_path), "records", "validate", str(envelope)]) == 2
    out = capsys.readouterr()
    assert text in out.err and "Traceback" not in out.err + out.out


def test_profile_checks_lists_a_dialects_table(tmp_path, capsys):
    dialect(tmp_path, '[checks]\ndrop = ["replay"]\n[checks.replace]\nverify-code = "verify-code-form-only"\n')
    assert main(["--json", "profile", "checks", "--profile", str(tmp_path)]) == 0
    import json

    got = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in got["checks"]] == [
        n.replace("verify-code", "verify-code-form-only") for n in DEFAULT_TABLE.names() if n != "replay"
    ]
    assert got["dropped"] == ["replay"] and got["replaced"] == {"verify-code": "verify-code-form-only"}


def test_dialects_md_holds_the_table_as_rendered_from_the_registry():
    doc = DOC.read_text("utf-8")
    table = "\n".join(checks_markdown(DEFAULT_TABLE))
    assert table in doc
    assert all(f"`{name}`" in table for name in RULES)
    assert isinstance(RULES["replay"], NamedRule)


ENVELOPE_RULES = [r.name for r in DEFAULT_TABLE.envelope]
REF_FINDINGS = {
    (i, key, now): findings(REF.envelope, data, key, now)
    for i, data in enumerate(envelopes())
    for key, now in ((KEY, WHEN), (None, None))
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sets(st.sampled_from(ENVELOPE_RULES)))
def test_dropping_any_set_of_envelope_rules_removes_exactly_their_findings(dropped):
    spec = REF.envelope.with_checks(DEFAULT_TABLE.swapped(drop=dropped))
    gone = {rid for name in dropped for rid in RULES[name].reports}
    for i, data in enumerate(envelopes()):
        for key, now in ((KEY, WHEN), (None, None)):
            ref_env, ref_rec = REF_FINDINGS[(i, key, now)]
            got_env, got_rec = findings(spec, data, key, now)
            assert got_env == [f for f in ref_env if f[0] not in gone] and got_rec == ref_rec
