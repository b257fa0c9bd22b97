"""The reference platform's broken variants live on the proof side (issue 17 item 1).

Catalogued (every ``city_platform`` variant has a fault), installable through the platform's public seams
(each fault is installed on a freshly built platform: a renamed seam fails here in seconds, not after the slow
variant proof), served by the launcher (a fault seen changing behaviour over real HTTP, the reference not),
refused when unknown (exit 2, bilingual), and absent from the product: no module of ``simulators/platform``
names a variant or reads a variant switch (proven able to fail on a planted copy).
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conformance.proofs import platform_faults
from conformance.proofs.platform_variant import command
from conformance.variants import load_variants
from simulators.platform import logs
from simulators.platform.app import build_services, create_app
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import PlatformProcess

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "simulators" / "platform"
#: what a variant switch inside the product would look like: the word, the old environment variable, a catalogued name
_SWITCH = re.compile(r"variant|ROUCAI_PLATFORM_VARIANT", re.I)


def _platform_names() -> set[str]:
    return {v.switch for v in load_variants().values() if v.actor == "city_platform"}


def test_every_catalogued_platform_variant_has_a_fault():
    names = _platform_names()
    assert names and names <= set(platform_faults.names()), names - set(platform_faults.names())


def _switches_in(folder: Path) -> list[str]:
    """``file:line`` of every line under ``folder`` that names a variant (the word, the variable, a catalogued name)."""
    names = _platform_names()
    hits = []
    for path in sorted(folder.rglob("*.py")):
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if _SWITCH.search(line) or any(f'"{name}"' in line for name in names):
                hits.append(f"{path.relative_to(folder)}:{n}: {line.strip()}")
    return hits


def test_the_platform_holds_no_variant_switch():
    assert _switches_in(PLATFORM) == []


def test_a_planted_switch_is_found(tmp_path):
    copy = tmp_path / "platform"
    shutil.copytree(PLATFORM, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "planted.py").write_text('import os\nNAME = os.environ.get("ROUCAI_PLATFORM_VARIANT")\n', "utf-8")
    (copy / "planted2.py").write_text('if name == "drops-every-100th-record":\n    pass\n', "utf-8")
    hits = _switches_in(copy)
    assert [h.split(":", 1)[0] for h in hits] == ["planted.py", "planted2.py"], hits


@pytest.fixture
def quiet_logger():
    """The platform logger's filters as they were (one fault silences it through a filter)."""
    lg = logging.getLogger(logs.LOGGER)
    before = list(lg.filters)
    yield
    lg.filters[:] = before


def test_every_fault_installs_through_public_seams(tmp_path, quiet_logger):
    """Each fault's stages run against a freshly built platform; each must change at least one attribute it
    reaches through the services or the app (a fault that silently installs nothing is a failure)."""
    lg = logging.getLogger(logs.LOGGER)
    for name in platform_faults.names():
        cfg = PlatformConfig(  # with an upstream, so that the feed has a pusher (never started: no lifespan)
            db=str(tmp_path / f"{name}.db"), upstream="http://127.0.0.1:9", platform_id="650100", upstream_key="k"
        )
        svc = build_services(cfg)
        try:
            before = _surface(svc)
            filters = len(lg.filters)
            platform_faults.install_services(name, svc)
            app = create_app(cfg, svc)
            real_openapi = app.openapi
            platform_faults.install_app(name, app)
            changed = _surface(svc) != before or len(lg.filters) != filters or app.openapi != real_openapi
            assert changed, f"{name}: installed, but nothing reachable changed"
        finally:
            svc.store.close()
            lg.filters[:] = lg.filters[:filters]


def _surface(svc) -> dict:
    """Identity of every public attribute one level deep in the services (what a fault may replace)."""
    out = {}
    for field, obj in vars(svc).items():
        out[field] = id(obj) if callable(obj) or not isinstance(obj, (int, float, str)) else obj
        for attr, val in getattr(obj, "__dict__", {}).items():
            if not attr.startswith("_"):
                out[f"{field}.{attr}"] = id(val) if not isinstance(val, (int, float, str)) else val
        spec = getattr(obj, "spec", None)
        for attr, val in getattr(spec, "__dict__", {}).items():
            out[f"{field}.spec.{attr}"] = id(val) if not isinstance(val, (int, float, str)) else val
    return out


def test_unknown_fault_is_a_usage_error(tmp_path):
    for lang, word in (("zh", "未知的平台缺陷"), ("en", "unknown platform fault")):
        p = subprocess.run(
            [*command("no-such-fault"), "--db", str(tmp_path / "p.db"), "--lang", lang],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 2 and word in p.stderr and "Traceback" not in p.stderr, p.stderr
    p = subprocess.run([*command("time-service-utc"), "--no-such-option"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--no-such-option" in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_launcher_serves_the_fault_and_the_reference_has_none(tmp_path):
    """time-service-utc (a services stage) is 8 h behind; openapi-incomplete (an app stage) hides a path; the
    reference started the ordinary way has neither fault."""
    seen = {}
    for label, cmd in (("utc", command("time-service-utc")), ("doc", command("openapi-incomplete")), ("ref", None)):
        with PlatformProcess(str(tmp_path / f"{label}.db"), command=cmd, timeout=30) as p:
            skew = httpx.get(p.url + "/api/v1/time").json()["epoch_ms"] - time.time() * 1000
            paths = httpx.get(p.url + "/openapi.json").json()["paths"]
            seen[label] = (round(skew / 3_600_000), "/api/v1/trace/{code}" in paths, p.log_lines[0])
    assert seen["utc"][:2] == (-8, True) and '"broken_variant"' in seen["utc"][2]
    assert seen["doc"][:2] == (0, False) and '"broken_variant"' in seen["doc"][2]
    assert seen["ref"][:2] == (0, True) and "broken_variant" not in seen["ref"][2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_launcher_stopped_by_a_signal_exits_3(tmp_path, sig):
    """SIGTERM or SIGINT stops the launcher gracefully with the house's code for interrupted work, 3 (as
    ``roucai serve platform`` and the node's launcher do), after logging the stop request."""
    p = PlatformProcess(str(tmp_path / "p.db"), command=command("time-service-utc"), timeout=30).start()
    try:
        p.proc.send_signal(sig)
        rc = p.proc.wait(30)
    finally:
        p.stop()
    assert rc == 3, f"{sig.name}: exit {rc}; log: {p.log_lines[-3:]}"
    assert any('"shutdown_requested"' in line and sig.name in line for line in p.log_lines), p.log_lines[-3:]


def test_dtd_rewrite_and_encoding_guess_are_what_they_claim():
    body = b'<?xml version="1.0"?><!DOCTYPE R [<!ENTITY n "650103002">]><R><NodeId>&n;</NodeId></R>'
    assert platform_faults._strip_dtd(body) == b'<?xml version="1.0"?><R><NodeId>650103002</NodeId></R>'
    gbk_decl_utf8 = '<?xml version="1.0" encoding="GBK"?><R>猪肉</R>'.encode("utf-8")
    assert platform_faults._utf8_if_it_decodes(gbk_decl_utf8).startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    true_gbk = '<?xml version="1.0" encoding="GBK"?><R>猪肉</R>'.encode("gbk")
    assert platform_faults._utf8_if_it_decodes(true_gbk) == true_gbk
