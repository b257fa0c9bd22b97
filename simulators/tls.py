"""TLS for the harness: the platform's certificate (given, or self-signed on request) and the clients' trust.

Server side: :func:`self_signed` writes ``cert.pem`` and ``key.pem`` (mode 0600,
folder 0700) for ``127.0.0.1`` / ``localhost`` with the ``openssl`` command
(EC P-256, valid 30 days); a pair already in the folder is reused so a client's
``--ca`` stays valid across restarts.  :func:`check_pair` checks a given pair
loads.

Client side: every harness HTTP client (certify, load, simulate --to) takes
its ``verify`` from :func:`client_verify`, which reads the process-wide trust
set by :func:`client_trust` (``--ca FILE`` / ``--insecure``).  The trust is
kept in environment variables (``ROUCAI_TLS_CA``, ``ROUCAI_TLS_INSECURE``) so
that worker processes (Locust workers) inherit it.

Errors: :class:`TlsError` with a Chinese and an English message (a usage or
configuration error, exit 2).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from contextlib import contextmanager
from pathlib import Path

from profiles.errors import RoucaiError

ENV_CA, ENV_INSECURE = "ROUCAI_TLS_CA", "ROUCAI_TLS_INSECURE"
CERT_NAME, KEY_NAME = "cert.pem", "key.pem"
OPENSSL_TIMEOUT_S = 30


class TlsError(RoucaiError):
    """A certificate or key that cannot be used (exit 2)."""


def check_pair(cert: str | Path, key: str | Path) -> None:
    """Raise :class:`TlsError` unless ``cert`` and ``key`` load as one server certificate."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            f"证书或私钥无法加载（{cert}，{key}）：{exc}", f"cannot load the certificate or key ({cert}, {key}): {exc}"
        ) from None


def self_signed(folder: str | Path, days: int = 30) -> tuple[Path, Path]:
    """``(cert, key)`` in ``folder``: reused if a loadable pair is there, else made (0600) with openssl."""
    d = Path(folder)
    cert, key = d / CERT_NAME, d / KEY_NAME
    if cert.is_file() and key.is_file():
        check_pair(cert, key)
        return cert, key
    exe = shutil.which("openssl")
    if exe is None:
        raise TlsError(
            "找不到 openssl 命令，无法生成自签名证书；请用 --tls-cert/--tls-key 提供证书",
            "the openssl command is not found, so no self-signed certificate can be made; "
            "give one with --tls-cert/--tls-key",
        )
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise TlsError(
            f"无法创建目录 {d}：{exc.strerror or exc}", f"cannot create {d}: {exc.strerror or exc}"
        ) from None
    tmp_cert, tmp_key = d / (CERT_NAME + ".partial"), d / (KEY_NAME + ".partial")
    old = os.umask(0o077)
    try:
        r = subprocess.run(
            [
                exe,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                str(days),
                "-subj",
                "/CN=127.0.0.1/O=roucai-harness",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(tmp_key),
                "-out",
                str(tmp_cert),
            ],
            capture_output=True,
            text=True,
            timeout=OPENSSL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TlsError("openssl 生成证书超时", "openssl timed out making the certificate") from None
    finally:
        os.umask(old)
    if r.returncode != 0:
        for t in (tmp_cert, tmp_key):
            t.unlink(missing_ok=True)
        raise TlsError(
            f"openssl 生成证书失败：{r.stderr.strip()[:300]}",
            f"openssl failed to make the certificate: {r.stderr.strip()[:300]}",
        )
    for t in (tmp_cert, tmp_key):
        os.chmod(t, 0o600)
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return cert, key


@contextmanager
def client_trust(ca: str | None = None, insecure: bool = False):
    """For the block: every harness client of this process and its children trusts ``ca`` (a PEM file), or
    verifies nothing (``insecure``), or (neither) the system's CAs.  Raises :class:`TlsError` for both at
    once or an unreadable ``ca``, before changing anything; the previous trust is restored after."""
    if ca and insecure:
        raise TlsError("--ca 与 --insecure 不能同时使用", "--ca and --insecure exclude each other")
    if ca:
        try:
            ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(
                f"--ca {ca} 不是可读的 PEM 证书：{exc}", f"--ca {ca} is not a readable PEM certificate: {exc}"
            ) from None
    old = {k: os.environ.get(k) for k in (ENV_CA, ENV_INSECURE)}
    os.environ.pop(ENV_CA, None)
    os.environ.pop(ENV_INSECURE, None)
    if ca:
        os.environ[ENV_CA] = str(Path(ca).resolve())
    elif insecure:
        os.environ[ENV_INSECURE] = "1"
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def client_verify() -> ssl.SSLContext | bool:
    """``verify`` for an httpx client: a context trusting ``--ca``, ``False`` under ``--insecure``, else ``True``."""
    if os.environ.get(ENV_INSECURE) == "1":
        return False
    ca = os.environ.get(ENV_CA)
    if ca:
        return ssl.create_default_context(cafile=ca)
    return True


def browser_args() -> list[str]:
    """Chromium flags for the same trust: ``--ignore-certificate-errors-spki-list`` pinned to the public keys
    of the ``--ca`` certificates (a chain holding one of them is accepted, nothing else), or
    ``--ignore-certificate-errors`` under ``--insecure``; ``[]`` otherwise."""
    if os.environ.get(ENV_INSECURE) == "1":
        return ["--ignore-certificate-errors"]
    ca = os.environ.get(ENV_CA)
    if not ca:
        return []
    return [f"--ignore-certificate-errors-spki-list={','.join(_spki_hashes(Path(ca)))}"]


def _spki_hashes(ca: Path) -> list[str]:
    """base64 SHA-256 of the SubjectPublicKeyInfo of every certificate in the PEM file ``ca``."""
    import base64
    import hashlib
    import re

    out = []
    for pem in re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", ca.read_text("ascii"), re.S):
        der = subprocess.run(
            ["openssl", "x509", "-pubkey", "-noout"],
            input=pem.encode(),
            capture_output=True,
            timeout=OPENSSL_TIMEOUT_S,
            check=True,
        ).stdout
        spki = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "der"],
            input=der,
            capture_output=True,
            timeout=OPENSSL_TIMEOUT_S,
            check=True,
        ).stdout
        out.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return out


def gevent_options() -> dict:
    """``insecure`` and ``ssl_context_factory`` for geventhttpclient (Locust's clients), from the same trust."""
    ca = os.environ.get(ENV_CA)
    if os.environ.get(ENV_INSECURE) == "1":
        return {"insecure": True, "ssl_context_factory": _gevent_unverified}
    if ca:
        return {"insecure": False, "ssl_context_factory": lambda cafile=None: _gevent_context(ca)}
    return {"insecure": False, "ssl_context_factory": None}


def _gevent_context(ca: str):
    import gevent.ssl

    return gevent.ssl.create_default_context(cafile=ca)


def _gevent_unverified(cafile=None):
    import gevent.ssl

    ctx = gevent.ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = gevent.ssl.CERT_NONE
    return ctx


def add_client_arguments(parser) -> None:
    """``--ca FILE`` and ``--insecure`` on a command that talks to https:// targets."""
    parser.add_argument(
        "--ca", metavar="FILE", help="CA certificate (PEM) to trust for an https:// target / 信任的 CA 证书"
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the https:// target's certificate (tests only) / 不校验服务器证书",
    )
