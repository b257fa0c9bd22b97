"""Fixtures shared by the suites (the plugin's ``target``, ``capabilities``, ``seed``, ``profile``,
``evidence`` come from ``conformance/plugin.py``).

* ``city`` — the seeded city fixture every suite plays (preset ``[capabilities] city_preset``,
  default ``tiny``; seed ``--seed``).  An external platform must have it registered: ``roucai
  fixtures city --preset tiny --seed N`` then its own import (the reference: ``roucai serve admin
  import-city``).
* ``platform`` — the :class:`~conformance.platform_under_test.PlatformUnderTest`: for ``builtin``
  the reference city platform in a subprocess on 127.0.0.1 (temporary SQLite, the city imported,
  ``target.variant`` applied when its actor is ``city_platform``); for ``http(s)://…`` the user's
  platform with the keys of ``[capabilities] keys_file`` (see that module for every capability).
* ``platform_url``, ``node_keys`` — its URL and ``{node code: key}``.
* ``http`` — an ``httpx.Client`` with 10 s timeouts whose every exchange goes to the test's
  evidence (``http.jsonl``); ``uploader`` — an :class:`~conformance.uploads.Uploader` on it.
* ``records`` — a :class:`~conformance.testrecords.RecordMaker` for fresh valid records.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conformance.platform_under_test import PlatformError, connect_external, launch_builtin
from simulators.tls import client_verify

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@pytest.fixture(scope="session")
def city(profile, capabilities, seed):
    from simulators.city import generate_city

    return generate_city(str(capabilities.capabilities.get("city_preset", "tiny")), seed, profile)


@pytest.fixture(scope="session")
def platform(request, target, capabilities, city, tmp_path_factory):
    if target.is_builtin:
        from conformance.variants import load_variants

        v = load_variants().get(target.variant) if target.variant else None
        variant = v.switch if v is not None and v.actor == "city_platform" else None
        try:
            deadline = str(capabilities.capabilities.get("stop_ack_deadline_s", 600))  # PLAT-STOP-02 alert
            put = launch_builtin(
                city, tmp_path_factory.mktemp("platform"), variant, args=["--stop-ack-deadline", deadline]
            )
        except PlatformError as exc:
            pytest.fail(str(exc), pytrace=False)
    elif target.is_platform:
        base = Path(capabilities.source).parent if capabilities.source != "built-in" else Path.cwd()
        try:
            put = connect_external(target.url, capabilities.capabilities, base)
        except PlatformError as exc:
            pytest.fail(str(exc), pytrace=False)
        from conformance.plugin import PLUGIN_NAME

        put.restart_log = request.config.pluginmanager.get_plugin(PLUGIN_NAME).report_root / "restart.log"
    else:
        from conformance.notjudgeable import NotJudgeable

        raise NotJudgeable("目标不是平台", "the target is not a platform")
    yield put
    put.close()


@pytest.fixture(scope="session")
def platform_url(platform) -> str:
    return platform.url


@pytest.fixture(scope="session")
def node_keys(platform) -> dict[str, str]:
    return platform.keys


def _unverified(target, capabilities):
    from conformance.recipe import unverified_reason
    from profiles import load_profile

    return unverified_reason(load_profile(), capabilities, target.is_builtin)


@pytest.fixture
def message_authentication(target, capabilities):
    """A check to call first in a test of message authentication: it fails the test, with the reason, when
    the target verifies no VerifyCode (capability verify_code = "none", or the built-in platform under a
    profile whose recipe is unknown; conformance/recipe.py :func:`~conformance.recipe.unverified_reason`)."""

    def check() -> None:
        why = _unverified(target, capabilities)
        if why is not None:  # an AssertionError: the verdict is fail (the requirement is not met), not error
            raise AssertionError(f"{why[0]} / {why[1]}")

    return check


@pytest.fixture
def forgery_refused(target, capabilities):
    """A check to call in a test whose *set-up* needs the platform to refuse a wrongly signed request (its
    requirement is not message authentication): when the target verifies no VerifyCode the test cannot judge
    its requirement, so its verdict is not applicable with the reason
    (:class:`~conformance.notjudgeable.NotJudgeable`), never a fail; PLAT-SEC-01 fails for it instead."""
    from conformance.notjudgeable import NotJudgeable

    def check() -> None:
        why = _unverified(target, capabilities)
        if why is not None:
            raise NotJudgeable(
                f"无法判定：本测试的准备步骤需要平台拒绝错误签名的请求，而{why[0]}（见 PLAT-SEC-01）",
                f"not judgeable: this test's set-up needs the platform to refuse a wrongly signed request, and "
                f"{why[1]} (see PLAT-SEC-01)",
            )

    return check


@pytest.fixture(scope="session")
def reader(platform, capabilities, city):
    """``(regulator id, key)`` of a regulator whose jurisdiction covers the city, or ``None``: built-in, registered
    here (the city's prefecture); an external platform declares ``regulator_id`` and ``regulator_key_file``
    (relative to the statement) in ``[capabilities]``, else ``None`` and its reads are sent unsigned, as before the
    reference platform required them signed (docs/regulator.md)."""
    caps = capabilities.capabilities
    if platform.builtin:
        from conformance.platform_under_test import admin
        from simulators.platform.regulators import Regulators

        rid = city.city_code[:4] + "00"
        with admin(platform.db) as reg:
            return rid, Regulators(reg.store, reg.secret, reg.profile).register(rid, "一致性测试监管部门")
    if not (caps.get("regulator_id") and caps.get("regulator_key_file")):
        return None
    path = (Path(platform.statement_dir or ".") / str(caps["regulator_key_file"])).resolve()
    return str(caps["regulator_id"]), path.read_text("utf-8").strip()


@pytest.fixture
def http(evidence, request):
    """In a test of a platform with a regulator (fixture ``reader``), its monitoring and statistics reads are signed
    as that regulator (:class:`~simulators.platform.reader_auth.RegulatorReads`); ``auth=None`` sends one unsigned."""
    auth = None
    if "platform" in request.fixturenames:
        who = request.getfixturevalue("reader")
        if who is not None:
            from simulators.platform.reader_auth import RegulatorReads

            auth = RegulatorReads(request.getfixturevalue("profile").envelope, *who)
    with httpx.Client(
        timeout=HTTP_TIMEOUT, event_hooks=evidence.httpx_hooks(), trust_env=False, verify=client_verify(), auth=auth
    ) as c:
        yield c


@pytest.fixture(scope="session")
def acknowledged(profile):
    """One :class:`~conformance.acknowledged.AcknowledgedLedger` for the run: every upload through ``uploader``."""
    from conformance.acknowledged import AcknowledgedLedger

    return AcknowledgedLedger(profile)


@pytest.fixture(scope="session")
def accepted_envelopes():
    """One :class:`~conformance.accepted_envelopes.AcceptedEnvelopes` for the run: the signed uploads through
    ``uploader`` that the platform accepted whole (the late replay probe of TRAN-ENV-10)."""
    from conformance.accepted_envelopes import AcceptedEnvelopes

    return AcceptedEnvelopes()


def run_uploader(client, profile, platform, acknowledged, accepted_envelopes):
    """An :class:`~conformance.uploads.Uploader` over ``client`` that tells the run's ledgers (the run-wide statistics
    invariant, the late replay probe) of every upload: what the ``uploader`` fixture returns, for any HTTP client."""
    from conformance.uploads import Uploader

    return Uploader(
        client,
        profile,
        platform.url,
        platform.upload_path,
        platform.keys,
        ledger=acknowledged,
        accepted=accepted_envelopes,
    )


@pytest.fixture
def uploader(http, profile, platform, acknowledged, accepted_envelopes):
    return run_uploader(http, profile, platform, acknowledged, accepted_envelopes)


#: tests that judge what every other test of the run sent: they run last
RUN_LAST = (
    "test_an_envelope_replayed_minutes_later_is_still_refused",
    "test_statistics_of_every_day_node_and_commodity_equal_what_was_acknowledged",
)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda it: getattr(it, "originalname", it.name) in RUN_LAST)


@pytest.fixture(scope="session")
def records(profile, city, seed):
    from conformance.testrecords import RecordMaker

    return RecordMaker(profile, city, seed)
