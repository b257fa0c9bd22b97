"""The requirement catalogue: contents of the reference catalogue, validation of malformed ones, round trips."""

import copy
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from profiles import ProfileError, load_profile
from profiles.requirements import (
    ACTORS,
    AREAS,
    CONDITION_KINDS,
    EVIDENCE,
    LEVELS,
    TESTABLE_BY,
    Requirement,
    RequirementCatalog,
)

ROOT = Path(__file__).resolve().parents[2]

#: ids other modules emit in findings; the brief fixes their meaning.
MUST_HAVE = (
    "CODE-NODE-01 CODE-NODE-02 CODE-NODE-03 CODE-OPER-01 CODE-OPER-02 CODE-TRACE-01 CODE-TRACE-02 "
    "CODE-TRACE-03 CODE-TRACE-04 CODE-TRACE-05 CODE-COMM-01 CODE-COMM-02 CODE-USCC-01 CODE-USCC-02 "
    "CODE-USCC-03 CODE-PLATE-01 CODE-PLATE-02 CODE-CERT-01 "
    + " ".join(f"TRAN-REC-0{i}" for i in range(1, 8))
    + " "
    + " ".join(f"TRAN-ENC-0{i}" for i in range(1, 4))
    + " "
    + " ".join(f"TRAN-ENV-{i:02d}" for i in range(1, 11))
).split()


@pytest.fixture(scope="module")
def cat():
    return load_profile().requirements


def _valid(**over):
    raw = {
        "area": "coding",
        "level": "required",
        "actors": ["node"],
        "evidence": "practice",
        "source": "standards.md §2.2",
        "title_zh": "标题",
        "title_en": "title",
        "statement_zh": "要求",
        "statement_en": "statement",
    }
    raw.update(over)
    return raw


# -- the reference catalogue ---------------------------------------------------


def test_reference_catalogue_is_large_and_complete(cat):
    assert len(cat) >= 60
    for r in cat:
        d = r.to_dict()
        for key in ("title_zh", "title_en", "statement_zh", "statement_en", "source", "evidence"):
            assert d[key].strip(), (r.id, key)
        assert r.evidence in EVIDENCE and r.level in LEVELS and r.actors


def test_must_have_ids_present(cat):
    missing = [i for i in MUST_HAVE if i not in cat]
    assert not missing


def test_every_area_populated_and_prefix_matches(cat):
    for area, (prefix, _, _) in AREAS.items():
        items = cat.by_area(area)
        assert items, area
        assert all(r.id.startswith(prefix + "-") for r in items)
    assert cat.by_area("nonsense") == []


def test_specific_meanings(cat):
    assert cat["CODE-TRACE-01"].profile_values["length"] == 20
    assert cat["CODE-OPER-02"].profile_values["self_seq"] == "0000"
    assert "限量控制" in cat["PERC-SCALE-06"].title_zh
    assert "卡单同行" in cat["PERC-CARD-08"].title_zh
    assert cat["PLAT-STOP-01"].evidence == "standard"
    # retention of 2 years is press material, not standard text
    assert cat["PLAT-RET-01"].evidence == "practice"


def test_not_tested_have_reasons_and_standard_toc_cites_contents(cat):
    for r in cat:
        if r.testable_by == "not-tested":
            assert r.not_tested_reason["zh"] and r.not_tested_reason["en"]
        if r.evidence == "standard-toc":
            assert "contents" in r.source, r.id


def test_no_invented_clause_numbers_for_sb_t_standards(cat):
    """SB/T 10680/10681/10683/11124 bodies are unseen: cite their headings, never '§n' clauses."""
    for r in cat:
        assert not re.search(r"SB/T 1068[0-4]-2012 ?§|SB/T 11124-2015 ?§", r.source), r.id


def test_every_rule_id_emitted_in_code_is_catalogued(cat):
    """Findings name requirement ids: every id literal in the packages must exist in the catalogue."""
    pattern = re.compile(r"""["'\s(](?:CODE|PERC|TRAN|PLAT|NODE)-[A-Z]{2,6}-\d{2}\b""")
    unknown = set()
    for pkg in ("profiles", "simulators", "conformance", "roucai", "loadtests"):
        for path in (ROOT / pkg).rglob("*"):
            if path.suffix not in (".py", ".toml") or path.name == "requirements.toml":
                continue
            for m in pattern.finditer(path.read_text("utf-8", errors="replace")):
                rid = m.group(0)[1:]
                if rid not in cat:
                    unknown.add(f"{path.relative_to(ROOT)}: {rid}")
    assert not unknown, sorted(unknown)


def test_consistent_with_envelope_data(cat):
    p = load_profile()
    env = p.data("envelope")
    assert cat["TRAN-ENV-04"].profile_values["clock_window_s"] == env["clock"]["window_seconds"]
    assert cat["TRAN-ENV-07"].profile_values["max_count"] == env["limits"]["max_count"]
    assert cat["TRAN-ENV-10"].profile_values["remember_s"] == env["replay"]["remember_seconds"]
    for code, reason in env.get("reasons", {}).items():
        for rule in reason.get("rules", []):
            assert rule in cat, (code, rule)


def test_conditions_name_known_things(cat):
    p = load_profile()
    records = p.data("records")
    node_types = {t["node_type"] for t in records["types"].values()}
    field_names = set(records["fields"]) | set(p.data("identifiers"))
    for r in cat:
        if r.condition is None:
            continue
        kind, names = r.condition.split(" ", 1)
        assert kind in CONDITION_KINDS
        for name in names.split("|"):
            if kind == "node_type":
                assert name in node_types, (r.id, name)
            elif kind == "field":
                assert name in field_names, (r.id, name)


def test_select_filters_combine(cat):
    sel = cat.select(area="perception", actor="scale", level="required")
    assert sel and all(r.area == "perception" and "scale" in r.actors and r.level == "required" for r in sel)
    assert cat.select() == list(cat)
    assert cat.ids == [r.id for r in cat]
    assert cat.get("NOPE-NOPE-01") is None


# -- validation of malformed catalogues ---------------------------------------------


@pytest.mark.parametrize(
    "rid, raw, needle",
    [
        ("CODE-X-01", _valid(), "AREA-TOPIC-NN"),
        ("FOO-NODE-01", _valid(), "AREA-TOPIC-NN"),
        ("CODE-NODE-1", _valid(), "AREA-TOPIC-NN"),
        ("PERC-NODE-01", _valid(), "prefix"),
        ("CODE-NODE-01", _valid(area="coding-ish"), "area"),
        ("CODE-NODE-01", _valid(level="must"), "level"),
        ("CODE-NODE-01", _valid(evidence="rumour"), "evidence"),
        ("CODE-NODE-01", _valid(actors=[]), "actors"),
        ("CODE-NODE-01", _valid(actors=["robot"]), "actor"),
        ("CODE-NODE-01", _valid(actors=["node", "node"]), "repeats"),
        ("CODE-NODE-01", _valid(title_en="  "), "title_en"),
        ("CODE-NODE-01", {k: v for k, v in _valid().items() if k != "source"}, "source"),
        ("CODE-NODE-01", _valid(level="conditional"), "condition"),
        ("CODE-NODE-01", _valid(level="conditional", condition="when it rains"), "condition"),
        ("CODE-NODE-01", _valid(condition="capability printer"), "condition"),
        ("CODE-NODE-01", _valid(testable_by="someday"), "testable_by"),
        ("CODE-NODE-01", _valid(testable_by="not-tested"), "not_tested_reason"),
        ("CODE-NODE-01", _valid(testable_by="not-tested", not_tested_reason={"zh": "原因"}), "not_tested_reason"),
        ("CODE-NODE-01", _valid(not_tested_reason={"zh": "原因", "en": "why"}), "not_tested_reason"),
        ("CODE-NODE-01", _valid(profile_values=[1, 2]), "profile_values"),
        ("CODE-NODE-01", _valid(colour="red"), "unknown keys"),
        ("CODE-NODE-01", _valid(id="CODE-NODE-02"), "differs"),
        ("CODE-NODE-01", "not a table", "table"),
    ],
)
def test_malformed_entry_raises_with_its_id(rid, raw, needle):
    with pytest.raises(ProfileError) as exc:
        RequirementCatalog.from_data({"requirement": {rid: raw}})
    assert rid in str(exc.value) and needle in str(exc.value)


@pytest.mark.parametrize("data", [{}, {"requirement": {}}, {"requirement": []}, []])
def test_empty_or_shapeless_catalogue_raises(data):
    with pytest.raises(ProfileError):
        RequirementCatalog.from_data(data)


def test_duplicate_ids_rejected():
    r = RequirementCatalog.from_data({"requirement": {"CODE-NODE-01": _valid()}})
    with pytest.raises(ProfileError, match="duplicate"):
        RequirementCatalog(list(r) + list(r))


def test_reference_file_mutations_are_caught():
    """Break one field of one real entry: the error names that entry."""
    data = tomllib.loads((ROOT / "profiles/reference/requirements.toml").read_text("utf-8"))
    broken = copy.deepcopy(data)
    broken["requirement"]["PERC-SCALE-06"]["evidence"] = "hearsay"
    with pytest.raises(ProfileError, match="PERC-SCALE-06"):
        RequirementCatalog.from_data(broken)


def test_variant_overrides_one_field(tmp_path):
    (tmp_path / "profile.toml").write_text(
        'name = "city"\nversion = "0.1"\nextends = "reference"\n[files]\nrequirements = "requirements.toml"\n',
        encoding="utf-8",
    )
    (tmp_path / "requirements.toml").write_text(
        "[requirement.TRAN-ENV-04]\nprofile_values = { clock_window_s = 120 }\n", encoding="utf-8"
    )
    from profiles.profile import Profile

    variant = Profile(tmp_path, base=load_profile())
    base = load_profile().requirements
    assert variant.requirements["TRAN-ENV-04"].profile_values == {"clock_window_s": 120}
    assert variant.requirements["TRAN-ENV-04"].statement_zh == base["TRAN-ENV-04"].statement_zh
    assert len(variant.requirements) == len(base)


# -- property: any valid entry parses, and to_dict round-trips --------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(lambda s: s.strip())
_name = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def entries(draw):
    area = draw(st.sampled_from(list(AREAS)))
    rid = f"{AREAS[area][0]}-{draw(st.from_regex(r'[A-Z]{2,6}', fullmatch=True))}-{draw(st.integers(0, 99)):02d}"
    level = draw(st.sampled_from(list(LEVELS)))
    raw = {
        "area": area,
        "level": level,
        "evidence": draw(st.sampled_from(list(EVIDENCE))),
        "actors": draw(st.lists(st.sampled_from(list(ACTORS)), min_size=1, max_size=4, unique=True)),
        "source": draw(_text),
        "title_zh": draw(_text),
        "title_en": draw(_text),
        "statement_zh": draw(_text),
        "statement_en": draw(_text),
        "profile_values": draw(st.dictionaries(_name, st.integers() | _text, max_size=3)),
    }
    if level == "conditional":
        raw["condition"] = f"{draw(st.sampled_from(CONDITION_KINDS))} " + "|".join(
            draw(st.lists(_name, min_size=1, max_size=3))
        )
    tb = draw(st.none() | st.sampled_from(TESTABLE_BY))
    if tb is not None:
        raw["testable_by"] = tb
        if tb == "not-tested":
            raw["not_tested_reason"] = {"zh": draw(_text), "en": draw(_text)}
    return rid, raw


def _raw_of(req: Requirement) -> dict:
    d = req.to_dict()
    del d["id"]
    return {k: v for k, v in d.items() if v is not None}


@settings(max_examples=150, deadline=None)
@given(entries())
def test_generated_entries_validate_and_round_trip(entry):
    rid, raw = entry
    cat = RequirementCatalog.from_data({"requirement": {rid: raw}})
    req = cat[rid]
    assert req.id == rid and req.area == raw["area"]
    again = RequirementCatalog.from_data({"requirement": {rid: _raw_of(req)}})[rid]
    assert again == req


def test_required_rules_resting_on_the_profiles_own_definition_say_why(cat):
    """Issue 12: practice outranks invention; an invented rule may fail a target only for a stated reason
    (rendered in docs/profile.*.md).  Otherwise it is recommended: a warning, not a failure."""
    silent = [r.id for r in cat.select(level="required", evidence="profile") if not r.justification]
    assert not silent, f"required + evidence profile without justification (add one, or make it recommended): {silent}"


def test_practice_contradicted_rules_are_recommended(cat):
    """The rules deployed practice contradicts (deployed/: node sequence 000, codes outside the table, local batch
    ids, free-text values) are recommendations, and the rules practice now supports say so."""
    for rid in ("CODE-NODE-03", "CODE-COMM-03", "CODE-BATCH-02", "TRAN-REC-08"):
        assert cat[rid].level == "recommended", rid
    for rid in ("TRAN-REC-03", "TRAN-REC-04", "CODE-COMM-01", "CODE-BATCH-01"):
        assert cat[rid].evidence == "practice" and "deployed/" in cat[rid].source, rid
