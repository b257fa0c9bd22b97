"""A target declares its VerifyCode recipe (capability verify_code; conformance/recipe.py): the harness signs with it,
so a platform using another recipe than the profile's is certified; a target declaring no MAC fails the message
authentication requirement with that reason while its envelope parsing is still judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.capabilities import CapabilityError, CapabilityStatement
from conformance.recipe import declared, no_mac_reason, target_profile
from profiles import load_profile
from simulators.city import dump_bytes, generate_city
from simulators.platform.launcher import PlatformProcess
from tests.regulatorkit import declare_regulator

from tests.conformance.changchun_run import certify_changchun

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "capabilities" / "platform-example.toml"
TESTS = (
    "test_every_record_type_is_ingested or test_uploads_without_the_right_verifycode or "
    "test_health_endpoint_and_structured_operating_logs"
)


def _statement(extra: str) -> CapabilityStatement:
    return CapabilityStatement.parse(f'[target]\nkind = "city_platform"\n[capabilities]\n{extra}\n')


def test_declared_recipes_and_their_errors():
    ref = load_profile("reference")
    assert declared(_statement("")) is None and target_profile(ref, _statement("")) is ref
    p = target_profile(ref, _statement('verify_code = "hmac-sha256"'))
    assert p is not ref and p.envelope.recipe.algorithm == "hmac-sha256" and ref.envelope.recipe.algorithm == "hmac-md5"
    assert p.records is ref.records
    assert target_profile(ref, _statement('verify_code = "none"')) is ref
    assert no_mac_reason(_statement('verify_code = "none"'))[1].startswith(
        "the target declares no message authentication"
    )
    assert no_mac_reason(_statement('verify_code = "hmac-md5"')) is None
    for bad in ('verify_code = "unknown"', 'verify_code = "crc"', 'verify_code = { algorithm = "md5" }'):
        with pytest.raises(CapabilityError):
            declared(_statement(bad))


def _platform(d: Path, profile_args: list[str]):
    (d / "tiny.json").write_bytes(dump_bytes(generate_city("tiny", 1, load_profile())))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "serve",
            "admin",
            "--db",
            str(d / "p.db"),
            "import-city",
            str(d / "tiny.json"),
            "--keys-out",
            str(d / "keys.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return PlatformProcess(
        str(d / "p.db"),
        args=[*profile_args, "--offline-after", "5", "--stop-ack-deadline", "3"],
        cwd=str(ROOT),
        timeout=30,
        log_file=d / "platform.log",
    )


@pytest.fixture(scope="module")
def sha_platform(tmp_path_factory):
    """The reference platform run with an overlay profile whose VerifyCode recipe is HMAC-SHA-256."""
    d = tmp_path_factory.mktemp("sha")
    prof = d / "sha-city"
    prof.mkdir()
    (prof / "profile.toml").write_text(
        'name = "sha-city"\nextends = "reference"\n[files]\nenvelope = "e.toml"\n', "utf-8"
    )
    (prof / "e.toml").write_text('[verify_code]\nalgorithm = "hmac-sha256"\nhex_length = 32\n', "utf-8")
    with _platform(d, ["--profile", str(prof)]) as proc:
        yield proc, d


def _certify(proc, d, tmp_path, name, caps_line):
    text = EXAMPLE.read_text("utf-8").replace('keys_file = "keys.json"', f'keys_file = "{d / "keys.json"}"')
    text = text.replace('log_file = "platform.log"', f'log_file = "{d / "platform.log"}"')
    text = declare_regulator(text, d / "p.db", d)  # the statistics reads answer a regulator only
    (tmp_path / f"{name}.toml").write_text(text + caps_line + "\n", "utf-8")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "--lang",
            "en",
            "certify",
            "--target",
            proc.url,
            "--capabilities",
            str(tmp_path / f"{name}.toml"),
            "--suite",
            "platform",
            "-k",
            TESTS,
            "--report",
            str(tmp_path / name),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    res = (
        json.loads((tmp_path / name / "results.json").read_text("utf-8"))
        if (tmp_path / name / "results.json").is_file()
        else None
    )
    return r, res


def _verdicts(res) -> dict[str, tuple[str, str]]:
    return {t["nodeid"].rsplit("::", 1)[1]: (t["verdict"], t.get("reason_en") or "") for t in res["tests"]}


def test_a_platform_using_another_recipe_is_certified_with_the_declared_one(sha_platform, tmp_path):
    proc, d = sha_platform
    r, res = _certify(proc, d, tmp_path, "declared", 'verify_code = { algorithm = "hmac-sha256", hex_length = 32 }')
    assert r.returncode == 0, r.stdout[-2500:] + r.stderr[-1500:]
    assert {v for v, _ in _verdicts(res).values()} == {"pass"}
    # the same platform certified assuming the profile's recipe: nothing it is sent authenticates
    r2, res2 = _certify(proc, d, tmp_path, "assumed", "")
    assert r2.returncode != 0


def test_a_target_without_mac_fails_authentication_with_the_reason_and_is_still_judged(tmp_path):
    """Declared "none" against the reference platform: the uploads (signed with the profile's recipe, which the
    target is said to ignore) are judged as usual and pass; the authentication test fails with the reason; the
    operating-log test, whose set-up needs a forged upload refused, is not judged."""
    d = tmp_path / "ref"
    d.mkdir()
    with _platform(d, []) as proc:
        r, res = _certify(proc, d, tmp_path, "nomac", 'verify_code = "none"')
    assert res is not None, r.stdout[-2000:] + r.stderr[-1500:]
    v = _verdicts(res)
    verdict, reason = v["test_uploads_without_the_right_verifycode_are_refused"]
    assert verdict == "fail" and "declares no message authentication" in reason, v
    assert v["test_every_record_type_is_ingested_in_xml_and_json"][0] == "pass", v
    # PLAT-MAINT-01 reads the log line of a refused forged upload: not judgeable when nothing is authenticated
    verdict, reason = v["test_health_endpoint_and_structured_operating_logs"]
    assert verdict == "not-applicable" and reason.startswith("not judgeable: this test's set-up needs"), v
    assert "declares no message authentication" in reason, v
    assert r.returncode == 1


def test_a_run_that_must_sign_under_an_unknown_recipe_is_a_setup_error_not_a_verdict(tmp_path):
    """Changchun's VerifyCode recipe is unknown: a run of a signing suite with no declared recipe is refused
    (exit 2, one line, no report) instead of ending in 'error' verdicts and NON-CONFORMANT; the perception suite
    signs nothing and is not refused; a declared recipe lets the run go on."""
    from conformance.recipe import check_signable

    cc = load_profile("changchun")
    for suites in (["platform"], ["coding"], ["transmission"], ["perception", "platform"]):
        with pytest.raises(CapabilityError) as err:
            check_signable(cc, _statement(""), suites)
        assert "changchun" in err.value.en and "verify_code" in err.value.en
    check_signable(cc, _statement(""), ["perception"])
    check_signable(cc, _statement('verify_code = "hmac-md5"'), ["platform"])
    check_signable(cc, _statement('verify_code = "hmac-md5"'), ["platform", "perception"], builtin=True)
    for suites in (["coding"], ["platform", "transmission"]):  # the reference node signs with the profile's
        with pytest.raises(CapabilityError, match="reference node cannot sign"):
            check_signable(cc, _statement('verify_code = "hmac-md5"'), suites, builtin=True)
    check_signable(load_profile("reference"), _statement(""), ["platform", "coding"])
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "roucai.cli",
            "--lang",
            "en",
            "--profile",
            "changchun",
            "certify",
            "--target",
            "builtin",
            "--suite",
            "platform",
            "--report",
            str(tmp_path / "rep"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "recipe is unknown" in r.stderr and "Traceback" not in r.stderr and not (tmp_path / "rep").exists()


def test_the_builtin_target_speaks_changchun_over_https_with_a_declared_recipe(tmp_path):
    """Under changchun (HTTPS required, property written in words) the built-in platform starts with a
    self-signed certificate the run trusts, and the harness writes 企业 where the reference writes 1: ingest of
    every record type and the time service pass (each was an 'error' or a rejected record before)."""
    r = certify_changchun(tmp_path, "test_time or test_every_record_type_is_ingested")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    doc = json.loads((tmp_path / "rep" / "results.json").read_text("utf-8"))
    verdicts = {t["name"]: t["verdict"] for t in doc["tests"]}
    assert verdicts and set(verdicts.values()) == {"pass"}, verdicts
    assert any(n.startswith("test_every_record_type_is_ingested") for n in verdicts)
