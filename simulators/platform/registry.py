"""Node registry: nodes, operators, traceability scales and the nodes' keys (see :mod:`.secret` for how keys work).

Registration validates codes with the profile (``p.codes``): a node code must
be a valid 9-digit 流通节点编码 whose region is a GB/T 2260 county; an operator
code must be a valid 13-digit 经营者编码 under a registered node.  City
platforms registered at a *central* instance use ``node_type = "city_platform"``
and a 6-digit GB/T 2260 prefecture or county code as their id.

Errors: :class:`RegistryError` (zh, en) for a bad registration: the admin CLI
turns it into exit 2 (usage) or 1 (non-conformant code), never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from profiles.errors import RoucaiError

from .clock import now_ms
from .secret import PlatformSecret, fingerprint
from .storage import Store

CITY_PLATFORM = "city_platform"
_TYPE = re.compile(r"^[a-z][a-z_]{1,39}$")


class RegistryError(RoucaiError):
    """A node registration refused (configuration, exit 2); ``findings`` says why, if known."""

    def __init__(self, zh: str, en: str, findings=()):
        super().__init__(zh, en)
        self.findings = list(findings)


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    name: str
    node_type: str
    region_code: str
    status: str
    key_version: int
    key_fingerprint: str | None
    registered_ms: int
    last_seen_ms: int | None
    last_upload_ms: int | None

    def to_dict(self) -> dict:
        return asdict(self)


_NODE_COLS = (
    "node_id, name, node_type, region_code, status, key_version, key_fingerprint, "
    "registered_ms, last_seen_ms, last_upload_ms"
)


class Registry:
    """Nodes, operators and keys in ``store``; ``secret`` derives the keys."""

    def __init__(self, store: Store, secret: PlatformSecret, profile):
        self.store = store
        self.secret = secret
        self.profile = profile

    # -- validation --------------------------------------------------------
    def _check_node_id(self, node_id: str, node_type: str) -> str:
        codes = self.profile.codes
        if node_type == CITY_PLATFORM:
            region = self.profile.regions
            if not (len(node_id) == 6 and node_id.isascii() and node_id.isdigit() and region.get(node_id) is not None):
                raise RegistryError(
                    f"城市平台编号应为6位 GB/T 2260 行政区划代码：{node_id!r}",
                    f"a city platform id is a 6-digit GB/T 2260 code: {node_id!r}",
                )
            return node_id
        findings = codes.findings(node_id, "node")
        if findings:
            raise RegistryError(f"流通节点编码不符合：{node_id!r}", f"invalid node code {node_id!r}", findings)
        return node_id[:6]

    # -- nodes -------------------------------------------------------------
    def register_node(self, node_id: str, name: str, node_type: str) -> Node:
        """Register (or update the name/type of) a node.  Idempotent; keys are untouched."""
        if not _TYPE.match(node_type or ""):
            raise RegistryError(
                f"节点类型格式错误：{node_type!r}（小写字母与下划线）",
                f"node type must be lowercase letters and '_': {node_type!r}",
            )
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise RegistryError("节点名称不能为空且不超过100字", "node name must be 1..100 characters")
        region = self._check_node_id(node_id, node_type)
        with self.store.write() as tx:
            tx.execute(
                "INSERT INTO nodes (node_id, name, node_type, region_code, registered_ms)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET"
                " name = excluded.name, node_type = excluded.node_type",
                (node_id, name, node_type, region, now_ms()),
            )
        return self.node(node_id)

    def node(self, node_id: str) -> Node | None:
        with self.store.read() as tx:
            row = tx.one(f"SELECT {_NODE_COLS} FROM nodes WHERE node_id = ?", (node_id,))
        return Node(*row) if row else None

    def nodes(self) -> list[Node]:
        with self.store.read() as tx:
            return [Node(*r) for r in tx.all(f"SELECT {_NODE_COLS} FROM nodes ORDER BY node_id")]

    def set_status(self, node_id: str, status: str) -> Node:
        if status not in ("active", "disabled"):
            raise RegistryError("状态只能是 active 或 disabled", "status is active or disabled")
        with self.store.write() as tx:
            n = tx.execute("UPDATE nodes SET status = ? WHERE node_id = ?", (status, node_id))
        if n == 0:
            raise RegistryError(f"节点未登记：{node_id}", f"node not registered: {node_id}")
        return self.node(node_id)

    # -- keys ----------------------------------------------------------------
    def issue_key(self, node_id: str) -> str:
        """Issue a new key for ``node_id`` (revoking the previous one) and return it."""
        with self.store.write() as tx:
            row = tx.one("SELECT key_version FROM nodes WHERE node_id = ?", (node_id,))
            if row is None:
                raise RegistryError(f"节点未登记：{node_id}", f"node not registered: {node_id}")
            version = row[0] + 1
            key = self.secret.node_key(node_id, version)
            tx.execute(
                "UPDATE nodes SET key_version = ?, key_fingerprint = ? WHERE node_id = ?",
                (version, fingerprint(key), node_id),
            )
        return key

    def current_key(self, node_id: str) -> str | None:
        """The key of an active node with an issued key, else ``None``."""
        with self.store.read() as tx:
            row = tx.one("SELECT key_version, status FROM nodes WHERE node_id = ?", (node_id,))
        if row is None or row[0] < 1 or row[1] != "active":
            return None
        return self.secret.node_key(node_id, row[0])

    # -- operators -------------------------------------------------------------
    def register_operator(
        self, operator_id: str, name: str, business_type: str | None = None, reg_id: str | None = None
    ) -> dict:
        findings = self.profile.codes.findings(operator_id, "operator")
        if findings:
            raise RegistryError(
                f"经营者编码不符合：{operator_id!r}", f"invalid operator code {operator_id!r}", findings
            )
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise RegistryError("经营者名称不能为空且不超过100字", "operator name must be 1..100 characters")
        node_id = operator_id[:9]
        with self.store.write() as tx:
            if tx.one("SELECT 1 FROM nodes WHERE node_id = ?", (node_id,)) is None:
                raise RegistryError(
                    f"经营者所属节点未登记：{node_id}", f"the operator's node is not registered: {node_id}"
                )
            tx.execute(
                "INSERT INTO operators (operator_id, node_id, name, business_type, reg_id,"
                " registered_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (operator_id) DO UPDATE"
                " SET name = excluded.name, business_type = excluded.business_type,"
                " reg_id = excluded.reg_id",
                (operator_id, node_id, name, business_type, reg_id, now_ms()),
            )
        return {
            "operator_id": operator_id,
            "node_id": node_id,
            "name": name,
            "business_type": business_type,
            "reg_id": reg_id,
        }

    def operators(self, node_id: str | None = None) -> list[dict]:
        sql = "SELECT operator_id, node_id, name, business_type, reg_id FROM operators"
        params: tuple = ()
        if node_id:
            sql += " WHERE node_id = ?"
            params = (node_id,)
        with self.store.read() as tx:
            rows = tx.all(sql + " ORDER BY operator_id", params)
        return [dict(zip(("operator_id", "node_id", "name", "business_type", "reg_id"), r)) for r in rows]

    # -- scales --------------------------------------------------------------------
    def register_scale(
        self, scale_id: str, node_id: str, operator_id: str, stall: str | None = None, kind: str | None = None
    ) -> dict:
        """Register (or update) a traceability scale of ``node_id``, used by ``operator_id`` [at ``stall``]."""
        scale_id = (scale_id or "").strip()
        if not scale_id or len(scale_id) > 40 or not scale_id.isprintable():
            raise RegistryError("秤编号须为1..40个可打印字符", "a scale id is 1..40 printable characters")
        if not operator_id.startswith(node_id):
            raise RegistryError(
                f"秤的经营者 {operator_id} 不属于节点 {node_id}",
                f"the scale's operator {operator_id} is not under node {node_id}",
            )
        with self.store.write() as tx:
            if tx.one("SELECT 1 FROM nodes WHERE node_id = ?", (node_id,)) is None:
                raise RegistryError(f"秤所属节点未登记：{node_id}", f"the scale's node is not registered: {node_id}")
            tx.execute(
                "INSERT INTO scales (scale_id, node_id, operator_id, stall, kind, registered_ms)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scale_id) DO UPDATE SET node_id = excluded.node_id,"
                " operator_id = excluded.operator_id, stall = excluded.stall, kind = excluded.kind",
                (scale_id, node_id, operator_id, stall or "", kind, now_ms()),
            )
        return {
            "scale_id": scale_id,
            "node_id": node_id,
            "operator_id": operator_id,
            "stall": stall or None,
            "kind": kind,
        }

    # -- coverage denominators -------------------------------------------------------------
    def set_enterprises(self, quarter: str, node_type: str, count: int) -> dict:
        """How many enterprises of ``node_type`` the city must cover in ``quarter`` (YYYYQn), count 1..10**6."""
        from .stats import PeriodError, period_bounds

        try:
            period_bounds(quarter=quarter)
        except PeriodError:
            raise RegistryError(f"季度格式应为 YYYYQn：{quarter!r}", f"a quarter is YYYYQn: {quarter!r}") from None
        if not _TYPE.match(node_type or "") or node_type == CITY_PLATFORM:
            raise RegistryError(f"节点类型格式错误：{node_type!r}", f"invalid node type {node_type!r}")
        if not isinstance(count, int) or not 1 <= count <= 1_000_000:
            raise RegistryError("企业数应为 1..1000000 的整数", "the enterprise count is an integer 1..1000000")
        with self.store.write() as tx:
            tx.execute(
                "INSERT INTO enterprise_counts (quarter, node_type, enterprises, updated_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (quarter, node_type) DO UPDATE SET enterprises = excluded.enterprises,"
                " updated_ms = excluded.updated_ms",
                (quarter, node_type, count, now_ms()),
            )
        return {"quarter": quarter, "node_type": node_type, "enterprises": count}

    def unregistered_operators(self, codes) -> set[str]:
        """The operator codes of ``codes`` that this platform should know and does not (PLAT-REG-01).

        An operator code (13 digits) whose first 9 digits are a node registered here must itself be a
        registered operator; codes under a node this platform does not register (another city) cannot be
        judged here and are never returned.  One read transaction, at most 2 queries per 500 codes."""
        codes = sorted({c for c in codes if isinstance(c, str)})
        unknown: set[str] = set()
        with self.store.read() as tx:
            for i in range(0, len(codes), 500):
                part = codes[i : i + 500]
                marks = ", ".join("?" * len(part))
                known = {
                    r[0] for r in tx.all(f"SELECT operator_id FROM operators WHERE operator_id IN ({marks})", part)
                }
                rest = [c for c in part if c not in known]
                if not rest:
                    continue
                heads = sorted({c[:9] for c in rest})
                nodes = {
                    r[0]
                    for r in tx.all(
                        f"SELECT node_id FROM nodes WHERE node_id IN ({', '.join('?' * len(heads))})", heads
                    )
                }
                unknown.update(c for c in rest if c[:9] in nodes)
        return unknown

    def operator_name(self, operator_id: str) -> str | None:
        with self.store.read() as tx:
            return tx.scalar("SELECT name FROM operators WHERE operator_id = ?", (operator_id,))
