"""HTTPS on the reference platform: a self-signed certificate made on request, the real path, the clients' trust."""

import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from roucai.cli import main
from simulators.platform.launcher import PlatformProcess
from simulators.tls import ENV_CA, ENV_INSECURE, TlsError, check_pair, client_trust, client_verify, self_signed

ROOT = Path(__file__).resolve().parents[3]
CHANGCHUN = ROOT / "fixtures" / "records" / "deployed" / "changchun_2015_manager_base_info.envelope.xml"
REAL_PATH = "/dts_if/servlet/IfRevSubServlet"


def test_self_signed_pair_is_private_loadable_and_reused(tmp_path):
    d = tmp_path / "tls"
    cert, key = self_signed(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(cert.stat().st_mode) == 0o600 and stat.S_IMODE(key.stat().st_mode) == 0o600
    check_pair(cert, key)
    ctx = ssl.create_default_context(cafile=str(cert))  # it is its own CA: a client can trust it with --ca
    assert ctx.cert_store_stats()["x509_ca"] == 1
    before = cert.read_bytes()
    assert self_signed(d) == (cert, key) and cert.read_bytes() == before
    assert not list(d.glob("*.partial"))


def test_a_broken_pair_and_a_missing_openssl_are_clear_errors(tmp_path, monkeypatch):
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(TlsError) as e:
        self_signed(tmp_path)
    assert "无法加载" in e.value.zh and "cannot load" in e.value.en
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TlsError, match="openssl"):
        self_signed(tmp_path / "other")


def test_client_trust_is_scoped_and_exclusive(tmp_path):
    cert, _ = self_signed(tmp_path / "tls")
    assert client_verify() is True
    with client_trust(ca=str(cert)):
        assert isinstance(client_verify(), ssl.SSLContext) and os.environ[ENV_CA] == str(cert.resolve())
        with client_trust(insecure=True):
            assert client_verify() is False and ENV_CA not in os.environ
        assert os.environ[ENV_CA] == str(cert.resolve())
    assert ENV_CA not in os.environ and ENV_INSECURE not in os.environ
    with pytest.raises(TlsError):
        with client_trust(ca=str(cert), insecure=True):
            pass
    with pytest.raises(TlsError, match="PEM"):
        with client_trust(ca=str(tmp_path / "tls" / "key.pem")):
            pass


@pytest.fixture(scope="module")
def https_platform(tmp_path_factory):
    d = tmp_path_factory.mktemp("https")
    with PlatformProcess(
        str(d / "p.db"), args=["--tls-self-signed", str(d / "tls")], cwd=str(ROOT), timeout=30
    ) as proc:
        yield proc, d / "tls" / "cert.pem"


def test_platform_serves_https_with_the_certificate_it_made(https_platform):
    proc, cert = https_platform
    assert proc.url.startswith("https://127.0.0.1:")
    assert httpx.get(proc.url + "/healthz", verify=ssl.create_default_context(cafile=str(cert))).status_code == 200
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(proc.url + "/healthz")  # not trusted without --ca
    with pytest.raises(httpx.HTTPError):
        httpx.get(proc.url.replace("https://", "http://") + "/healthz", timeout=5)  # no plain HTTP on that port


@pytest.mark.parametrize("path", [REAL_PATH, "/api/v1/exchange"])
def test_both_upload_paths_answer_over_https(https_platform, path):
    """The Changchun envelope, byte for byte, on the real path and on ours: a DataExchangeResp comes back
    (refused 1111: node 220122001 is not registered at this platform)."""
    proc, cert = https_platform
    r = httpx.post(
        proc.url + path,
        content=CHANGCHUN.read_bytes(),
        verify=ssl.create_default_context(cafile=str(cert)),
        headers={"Content-Type": "application/xml; charset=utf-8"},
    )
    assert r.status_code == 401 and b"<DataExchangeResp>" in r.content and b"<ResultCode>1111</ResultCode>" in r.content


def _serve(*args, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "roucai.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_a_profile_that_requires_https_refuses_to_serve_plain_http(tmp_path):
    r = _serve(
        "--profile", "changchun", "--lang", "en", "serve", "platform", "--db", str(tmp_path / "p.db"), "--port", "0"
    )
    assert r.returncode == 2 and "requires HTTPS" in r.stderr and "Traceback" not in r.stderr
    # administering its database needs no certificate
    r = _serve(
        "--profile",
        "changchun",
        "serve",
        "admin",
        "--db",
        str(tmp_path / "p.db"),
        "register-node",
        "220122001",
        "--name",
        "长春众品",
        "--type",
        "slaughter_pig",
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--tls-cert", "c.pem"], "go together"),
        (["--tls-self-signed", "d", "--tls-key", "k.pem"], "excludes"),
        (["--tls-cert", "nope.pem", "--tls-key", "nope.pem"], "cannot load"),
    ],
)
def test_bad_tls_options_are_usage_errors(tmp_path, args, words):
    r = _serve("--lang", "en", "serve", "platform", "--db", str(tmp_path / "p.db"), "--port", "0", *args)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_ca_and_insecure_exclude_each_other_on_every_client_command(capsys):
    for cmd in (["simulate", "--preset", "tiny"], ["load"], ["certify"]):
        assert main(["--lang", "en", *cmd, "--ca", __file__, "--insecure"]) == 2
        assert "exclude each other" in capsys.readouterr().err
    assert ENV_CA not in os.environ and ENV_INSECURE not in os.environ


def test_profile_option_is_scoped_to_the_command(capsys):
    """records validate of the Changchun envelope: conformant under changchun ("not verifiable", a warning);
    the same bytes under the reference recipe with a key: the code does not match (exit 1).  The profile of
    one command does not leak into the next."""
    from profiles.profile import ENV_PROFILE

    assert main(["--profile", "changchun", "--lang", "en", "records", "validate", str(CHANGCHUN), "--key", "k"]) == 0
    out = capsys.readouterr().out
    assert "cannot be verified without the city's recipe" in out and "warning" in out
    assert ENV_PROFILE not in os.environ
    assert main(["--lang", "en", "records", "validate", str(CHANGCHUN), "--key", "k"]) == 1
    assert "does not match" in capsys.readouterr().out


def test_browser_args_pin_the_ca_key(tmp_path):
    """Chromium (the consumer-page check) trusts what the run trusts: the --ca key pinned, or nothing checked."""
    import base64
    import hashlib
    from simulators.tls import browser_args

    cert, key = self_signed(tmp_path / "tls")
    assert browser_args() == []
    with client_trust(insecure=True):
        assert browser_args() == ["--ignore-certificate-errors"]
    spki = subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "der"], capture_output=True, check=True
    ).stdout
    want = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    with client_trust(ca=str(cert)):
        assert browser_args() == [f"--ignore-certificate-errors-spki-list={want}"]
