"""What the platform reads from each record type: identity, trace links, statistics fields.

Data: ``platform.toml`` ``[records.TYPE]`` (the platform's own definitions,
checked against the profile's record catalogue at start-up: every catalogue
type must be described and every field named must exist, else
:class:`RecordMapError`, a configuration error).

:meth:`RecordMap.facts` turns one *valid* record into :class:`Facts`:

* ``rkey``: identity of the record within (node, type); the same record sent
  twice has the same ``rkey`` and is stored once;
* ``own_code``: the 20-digit trace code it issues (or ``None``);
* ``received``: the upstream code the goods arrived under (or ``None``): the first ``receive`` field
  holding a code of one of the profile's ``batch_link_kinds`` (reference: the 20-digit trace code and
  the 16-digit batch code; a dialect whose batch_id does not carry the upstream code narrows it, so chain
  linking (CODE-TRACE-05) does not assume it); a batch_id that voucher_type says is a certificate is
  not a code and goes to ``links`` instead;
* ``batch_local``: the record's ``batch_id`` field as sent (or ``None``);
* ``links``: certificate numbers joining slaughterhouse records;
* ``goods_code``, ``weight_g`` (integer grams, exact from the 3-decimal kg text);
* ``foreign``: why the record does not belong to the uploading node, or ``None`` (including a ``sellers`` field,
  when filled, naming an operator code outside the uploading node: issue 13; unless ``guests(node, code)``
  says that operator of another node trades at the uploading node, NODE-WHOL-01, :mod:`.guests`);
* ``operators``: ``(field, code)`` of every operator-code field the record fills (the catalogue's
  ``operator_code`` fields), for the registration check (PLAT-REG-01, reason 2010, see :mod:`.ingest`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from profiles.errors import RoucaiError

DATA = Path(__file__).resolve().parent / "platform.toml"
_SEP = "\x1f"  # unit separator: cannot occur in a valid field value (control characters are refused)


class RecordMapError(RoucaiError):
    """A record or the record map that cannot be used (configuration, exit 2)."""


@dataclass(frozen=True, slots=True)
class Facts:
    rkey: str
    own_code: str | None
    received: str | None
    batch_local: str | None
    goods_code: str | None
    weight_g: int | None
    links: tuple[tuple[str, str], ...]
    foreign: tuple[str, str, str] | None  # (field, zh, en)
    operators: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TypeMap:
    name: str
    key: tuple[str, ...]
    own: str | None
    receive: tuple[str, ...]
    links: tuple[str, ...]
    goods: str | None
    weight: str | None
    node_field: str | None
    operator: str | None
    role: str
    operator_fields: tuple[str, ...] = ()
    sellers: tuple[str, ...] = ()


def load_rules(path: Path = DATA) -> dict:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RecordMapError(f"{path}: {exc}") from exc


def kg_to_g(text: str | None) -> int | None:
    """Exact grams of a kg decimal text with at most 3 decimals ("12.5" -> 12500)."""
    if not text:
        return None
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 3:
        return None
    return int(whole) * 1000 + int((frac + "000")[:3])


def _root_fields(profile, type_name: str) -> set[str]:
    """Field names of ``type_name`` in the profile this one (a dialect) extends, at the root of its lineage."""
    root = profile
    while getattr(root, "base", None) is not None:
        root = root.base
    rt = root.records.types.get(type_name) if root is not profile else None
    return set(rt.by_name) if rt is not None else set()


class RecordMap:
    def __init__(self, profile, rules: dict | None = None, guests=None):
        """``guests``: ``(uploading node, operator code) -> bool``, the operators of other nodes a node may name as
        seller (the platform's :class:`.guests.GuestRule`, a node's configured operators); ``None``: none."""
        self.profile = profile
        self.guests = guests
        rules = rules if rules is not None else load_rules()
        self.rules = rules
        cat = profile.records
        self.types: dict[str, TypeMap] = {}
        described = rules.get("records", {})
        for name, rt in cat.types.items():
            spec = described.get(name)
            if spec is None:
                raise RecordMapError(f"platform.toml does not describe record type {name!r}")
            # checked against the root profile's catalogue: a dialect whose form lacks a field (Guangzhou's
            # market_tran_info_detail has no wholesaler_id) simply never fills it
            names = set(rt.by_name) | _root_fields(profile, name)
            tm = TypeMap(
                name,
                tuple(spec["key"]),
                spec.get("own"),
                tuple(spec.get("receive", ())),
                tuple(spec.get("links", ())),
                spec.get("goods"),
                spec.get("weight"),
                getattr(rt, "node_field", None),
                spec.get("operator"),
                getattr(rt, "node_type", "any"),
                tuple(f.name for f in rt.fields if f.type == "operator_code"),
                tuple(spec.get("sellers", ())),
            )
            used = (
                set(tm.key)
                | set(tm.receive)
                | set(tm.links)
                | set(tm.sellers)
                | {x for x in (tm.own, tm.goods, tm.weight, tm.operator) if x}
            )
            missing = used - names
            if missing:
                raise RecordMapError(f"platform.toml: {name} names unknown fields {sorted(missing)}")
            self.types[name] = tm
        self.codes = profile.codes

    def facts(self, rtype: str, rec: dict[str, str], node_id: str) -> Facts:
        tm = self.types[rtype]
        rkey = _SEP.join(rec.get(f, "") for f in tm.key)
        own = rec.get(tm.own) if tm.own else None
        received = None
        cat = self.profile.records
        cert_batch = rec.get("voucher_type") in cat.certificate_vouchers
        for f in tm.receive:
            v = rec.get(f)
            if f == "batch_id" and cert_batch:
                continue
            if v and any(self.codes.is_valid(v, k) for k in cat.batch_link_kinds):
                received = v
                break
        foreign = None
        # a form without the node field (Guangzhou's market_tran_info_detail) is judged by its own code below
        if tm.node_field and rec.get(tm.node_field) and rec.get(tm.node_field) != node_id:
            v = rec.get(tm.node_field, "")
            foreign = (
                tm.node_field,
                f"{tm.node_field}「{v}」不是上传节点 {node_id}",
                f"{tm.node_field} {v!r} is not the uploading node {node_id}",
            )
        elif own and not own.startswith(node_id):
            foreign = (
                tm.own,
                f"{tm.own}「{own}」不是本节点（{node_id}）签发的追溯码",
                f"{tm.own} {own!r} was not issued by the uploading node {node_id}",
            )
        elif tm.operator and not rec.get(tm.operator, "").startswith(node_id):
            v = rec.get(tm.operator, "")
            foreign = (
                tm.operator,
                f"经营者「{v}」不属于上传节点 {node_id}",
                f"operator {v!r} is not registered at the uploading node {node_id}",
            )
        else:
            other = next(
                (
                    f
                    for f in tm.sellers
                    if rec.get(f)
                    and not rec[f].startswith(node_id)
                    and not (self.guests is not None and self.guests(node_id, rec[f]))
                ),
                None,
            )
            if other is not None:
                v = rec[other][:40]
                foreign = (
                    other,
                    f"{other}「{v}」不是上传节点 {node_id} 的经营者",
                    f"{other} {v!r} is not an operator of the uploading node {node_id}",
                )
        links = tuple((f, rec[f]) for f in tm.links if rec.get(f))
        if cert_batch and rec.get("batch_id"):
            links += (("batch_id", rec["batch_id"]),)
        goods = rec.get(tm.goods) if tm.goods else None
        weight = kg_to_g(rec.get(tm.weight)) if tm.weight else None
        operators = tuple((f, rec[f]) for f in tm.operator_fields if rec.get(f))
        return Facts(
            rkey, own or None, received, rec.get("batch_id") or None, goods or None, weight, links, foreign, operators
        )

    # -- roles and KPIs -------------------------------------------------------
    def role_of(self, node_type: str) -> str | None:
        return self.rules.get("node_roles", {}).get(node_type)

    def expected_types(self, role: str) -> list[str]:
        occasional = set(self.rules.get("completeness", {}).get("occasional", []))
        return sorted(n for n, t in self.types.items() if t.role == role and n not in occasional)
