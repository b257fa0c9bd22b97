"""Regulators: who may run problem detection and acknowledge or close problems (issue 14).

The platform's own design (evidence ``profile``).  A regulator (a city's or a district's 商务主管部门) is
registered with ``roucai serve admin register-regulator ID --name N``: ``ID`` is the 6-digit GB/T 2260 code
of its jurisdiction (a prefecture such as ``650100`` covers every district of the city, a county such as
``650102`` only itself).  Its key derives from the platform secret in a namespace of its own
(``regulator:ID``), so a node's key, even of a node with the same digits, never signs as a regulator.
Requests are signed like the nodes' (:mod:`.nodeauth`), checked by a verifier that knows regulator keys only.
"""

from __future__ import annotations

from .clock import now_ms
from .registry import RegistryError
from .secret import PlatformSecret, fingerprint
from .storage import Store


def jurisdiction_prefix(regulator_id: str) -> str:
    """The prefix every county code of ``regulator_id``'s jurisdiction starts with (``650100`` -> ``6501``)."""
    if regulator_id.endswith("0000"):
        return regulator_id[:2]
    if regulator_id.endswith("00"):
        return regulator_id[:4]
    return regulator_id


def covers(regulator_id: str, district: str) -> bool:
    """Whether the jurisdiction ``regulator_id`` includes the county ``district`` (both GB/T 2260 codes)."""
    return district.startswith(jurisdiction_prefix(regulator_id))


class Regulators:
    def __init__(self, store: Store, secret: PlatformSecret, profile):
        self.store = store
        self.secret = secret
        self.profile = profile

    def _key(self, regulator_id: str, version: int) -> str:
        return self.secret.node_key(f"regulator:{regulator_id}", version)

    def register(self, regulator_id: str, name: str) -> str:
        """Register (or rename) a regulator and issue it a new key (revoking the old one); returns the key."""
        if not (
            len(regulator_id) == 6
            and regulator_id.isascii()
            and regulator_id.isdigit()
            and self.profile.regions.get(regulator_id) is not None
        ):
            raise RegistryError(
                f"监管部门编号应为6位 GB/T 2260 行政区划代码：{regulator_id!r}",
                f"a regulator id is a 6-digit GB/T 2260 code: {regulator_id!r}",
            )
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise RegistryError("监管部门名称不能为空且不超过100字", "a regulator's name is 1-100 characters")
        with self.store.write() as tx:
            row = tx.one("SELECT key_version FROM regulators WHERE regulator_id = ?", (regulator_id,))
            version = (row[0] if row else 0) + 1
            key = self._key(regulator_id, version)
            if row is None:
                tx.execute(
                    "INSERT INTO regulators (regulator_id, name, key_version, key_fingerprint, registered_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (regulator_id, name, version, fingerprint(key), now_ms()),
                )
            else:
                tx.execute(
                    "UPDATE regulators SET name = ?, key_version = ?, key_fingerprint = ? WHERE regulator_id = ?",
                    (name, version, fingerprint(key), regulator_id),
                )
        return key

    def current_key(self, regulator_id: str) -> str | None:
        """The key of a registered regulator, else ``None`` (also when no platform secret is loaded)."""
        if self.secret is None:
            return None
        with self.store.read() as tx:
            row = tx.one("SELECT key_version FROM regulators WHERE regulator_id = ?", (regulator_id,))
        if row is None or row[0] < 1:
            return None
        return self._key(regulator_id, row[0])
