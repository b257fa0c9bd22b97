"""Fixtures of the platform suite: one simulated day of the city, uploaded once per run.

``day`` is the :class:`~conformance.simday.SimulatedDay` (market model, same preset and seed as
the city); ``day_upload`` uploads it to the platform once (every record, then the day's repeated
uploads again) and returns :class:`DayUpload`: the answers per envelope.  Its HTTP exchanges go to
the evidence folder ``session-simulated-day``; :func:`cite_day_upload` lists that file in a test's
evidence.  Tests that add records of their own use other business days (``records.fresh_day()``),
so the day's statistics stay exactly the day's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conformance.evidence import Evidence
from conformance.notjudgeable import NotJudgeable
from conformance.simday import SimulatedDay
from conformance.uploads import Uploader
from simulators.tls import client_verify


@dataclass
class DayUpload:
    day: SimulatedDay
    answers: list = field(default_factory=list)  # (node, rtype, records, is_repeat, Answer)
    evidence_files: list = field(default_factory=list)

    def summary(self) -> dict:
        out = {"envelopes": len(self.answers), "accepted": 0, "duplicate": 0, "rejected": 0, "refused": 0}
        for *_, a in self.answers:
            if a.code != "0000":
                out["refused"] += 1
            for k, v in a.tally().items():
                out[k] += v
        return out


def cite_day_upload(evidence, up: DayUpload) -> None:
    """List the day upload's evidence (HTTP exchanges) in this test's evidence, with its summary."""
    for f in up.evidence_files:
        if f not in evidence.files:
            evidence.files.append(f)
    evidence.attach_json("day-upload-summary.json", {"date": up.day.date, **up.summary()})


def registered_nodes(http, base: str, city, evidence) -> dict[str, str]:
    """node code -> node type of the platform's active registered nodes (its node listing, the city platform left
    out); the city fixture's nodes, with a note in ``evidence``, when the platform gives no listing."""
    from conformance.queries import nodes

    status, listing = nodes(http, base)
    if status == 200 and isinstance(listing, dict):
        return {
            n["node_id"]: n["node_type"]
            for n in listing["nodes"]
            if n.get("state") != "disabled" and n["node_type"] != "city_platform"
        }
    evidence.note("节点清单不可用，按城市夹具计数", "no node listing: registered nodes counted from the city fixture")
    return {n.code: n.type for n in city.nodes}


@pytest.fixture(scope="session")
def day(profile, capabilities, seed):
    return SimulatedDay(profile, str(capabilities.capabilities.get("city_preset", "tiny")), seed)


@pytest.fixture(scope="session")
def day_upload(request, day, profile, platform):
    from conformance.plugin import PLUGIN_NAME

    s = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    ev = Evidence(s.evidence_root, "session-simulated-day", s.report_root)
    up = DayUpload(day)
    with httpx.Client(
        timeout=httpx.Timeout(30.0, connect=5.0), event_hooks=ev.httpx_hooks(), trust_env=False, verify=client_verify()
    ) as c:
        node = Uploader(c, profile, platform.url, platform.upload_path, platform.keys)
        for n, rtype, recs, repeat in day.envelopes(min(profile.envelope.max_count, 200)):
            a = node.upload(n, rtype, recs, header={"DataDate": day.date})
            up.answers.append((n, rtype, recs, repeat, a))
    up.evidence_files = list(ev.files)
    return up


@pytest.fixture(scope="session")
def central(platform, city, capabilities, tmp_path_factory):
    """The central platform the city platform under test feeds: ``(summary URL base, city id, regulator)``.

    Built-in: a reference central platform is started, the city registered there, and the city platform
    under test restarted (gracefully) with ``--upstream`` and a 0.5 s feed interval; ``regulator`` is the
    province's regulator registered there (the summary answers a regulator: docs/regulator.md).  External: the
    ``central_url`` capability (its ``/api/v1/feed/summary`` is read); ``regulator`` from ``central_regulator_id``
    and ``central_regulator_key_file`` (relative to the statement), else ``None`` and the summary is read unsigned;
    without ``central_url``, not applicable."""
    from conformance.platform_under_test import PlatformError, launch_central

    if not platform.builtin:
        url = capabilities.capabilities.get("central_url")
        if not url:
            raise NotJudgeable(
                "不适用：能力声明未给出 central_url", "not applicable: the capability statement declares no central_url"
            )
        caps = capabilities.capabilities
        who = None
        if caps.get("central_regulator_id") and caps.get("central_regulator_key_file"):
            path = Path(platform.statement_dir or ".") / str(caps["central_regulator_key_file"])
            who = (str(caps["central_regulator_id"]), path.resolve().read_text("utf-8").strip())
        yield str(url).rstrip("/"), str(caps.get("city_id", city.city_code)), who
        return
    from profiles import load_profile

    run_profile = load_profile()
    if run_profile.envelope.recipe.algorithm == "unknown":  # the reference city platform signs its feed with it
        raise NotJudgeable(
            f"无法判定：内置城市平台用配置的 VerifyCode 算法为上报中央平台的数据签名，而配置 {run_profile.name} 的算法"
            "未知（unknown），它无法上报；设置问题，不是判定（外部平台声明 central_url 时照常判定）",
            f"not judgeable: the built-in city platform signs its upward feed with the profile's VerifyCode recipe, "
            f"and profile {run_profile.name}'s is unknown, so it cannot feed; a set-up problem, not a verdict (judged "
            "as usual for an external platform declaring central_url)",
        )
    try:
        work = tmp_path_factory.mktemp("central")
        proc, key = launch_central(work, city.city_code, city.city_name + "平台")
        from conformance.platform_under_test import admin
        from simulators.platform.regulators import Regulators

        province = city.city_code[:2] + "0000"
        with admin(str(work / "central.db")) as reg:
            who = province, Regulators(reg.store, reg.secret, reg.profile).register(province, "一致性测试省级监管部门")
        from simulators.platform.filemode import write_private

        key_file = tmp_path_factory.mktemp("upstream") / "upstream.key"
        write_private(key_file, key.encode())  # never the key itself on a command line (issue 13)
        platform.restart(
            kill=False,
            args=[
                *platform.args,
                "--upstream",
                proc.url,
                "--platform-id",
                city.city_code,
                "--upstream-key-file",
                str(key_file),
                "--feed-interval",
                "0.5",
            ],
        )
    except PlatformError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield proc.url, city.city_code, who
    proc.stop()


@pytest.fixture(scope="session")
def regulator(reader):
    """``(regulator id, key)`` of a regulator whose jurisdiction covers the city (fixture ``reader``,
    conformance/conftest.py), else the tests that need it are skipped (problem discovery, the regulator's read
    endpoints)."""
    if reader is None:
        raise NotJudgeable(
            "不适用：能力声明未给出 regulator_id / regulator_key_file",
            "not applicable: the capability statement declares no regulator_id / regulator_key_file",
        )
    return reader
