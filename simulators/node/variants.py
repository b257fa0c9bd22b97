"""Deliberately broken variants of the reference node: one named switch, one broken requirement.

``roucai serve node --config F --variant NAME`` (or ``NodeConfig.variant``) turns
one switch on; the conformance suites must catch each (conformance/variants.toml,
actor ``node``).  The clean node never consults this module except through
:func:`active`, so with no variant nothing changes.

Every switch is a small, honest defect a real node could have; none fakes its
effect on the wire (the harness sees only what the broken node really sends).
"""

from __future__ import annotations

from dataclasses import dataclass

from profiles.errors import RoucaiError


@dataclass(frozen=True)
class NodeVariant:
    name: str
    breaks: str  #: the requirement id it breaks
    zh: str
    en: str


VARIANTS: dict[str, NodeVariant] = {
    v.name: v
    for v in [
        NodeVariant(
            "drops-every-100th-record",
            "NODE-REC-03",
            "每第100条进入发件箱的记录被静默丢弃（从不上传）",
            "every 100th record entering the outbox is silently dropped (never uploaded)",
        ),
        NodeVariant(
            "resends-accepted-records",
            "TRAN-UPL-04",
            "平台已接收的记录再上传一次（平台答复重复）",
            "records the platform accepted are uploaded once more (the platform answers duplicate)",
        ),
        NodeVariant(
            "no-resume-after-outage",
            "TRAN-UPL-03",
            "上传失败（平台中断）时把该批记录当作已上传丢弃，恢复后不续传",
            "when an upload fails (platform outage) the batch is discarded as if uploaded; nothing resumes",
        ),
        NodeVariant(
            "wrong-verifycode",
            "TRAN-ENV-05",
            "用错误的密钥计算VerifyCode",
            "the VerifyCode is computed with a wrong key",
        ),
        NodeVariant(
            "ignores-count-limit",
            "TRAN-UPL-02",
            "不限制每个报文的记录数（积压时一个报文装入全部记录，超过Count上限）",
            "no limit on records per envelope (a backlog goes out in one envelope, over the Count limit)",
        ),
        NodeVariant(
            "acks-scale-before-upload",
            "NODE-DEV-01",
            "从秤读出记录后立即向秤确认，不等平台接收",
            "records are acknowledged to the scale as soon as they are read, before the platform accepted them",
        ),
        NodeVariant(
            "stop-trade-not-pushed",
            "NODE-STOP-01",
            "收到中止交易指令后不下发给秤，却向平台确认",
            "stop-trade instructions are acknowledged to the platform but never pushed to the scales",
        ),
        NodeVariant(
            "misses-deadline",
            "TRAN-UPL-01",
            "未满一个报文（max_count条）的记录一直等待，不在上传时限内发出",
            "records wait until a full envelope (max_count) has accumulated; a partial batch is never sent",
        ),
        NodeVariant(
            "wrong-datadate",
            "TRAN-ENV-08",
            "报文DataDate填成业务日期的前一天",
            "the envelope's DataDate is the day before the records' business date",
        ),
        NodeVariant(
            "no-backoff",
            "TRAN-UPL-06",
            "上传失败后按固定短间隔立即重试（无指数退避）",
            "after a failed upload it retries at a short fixed interval (no exponential backoff)",
        ),
        NodeVariant(
            "uploads-out-of-order",
            "TRAN-UPL-05",
            "先上传最新的记录组（明细可先于基本信息、后发生的先上传）",
            "the newest record group is uploaded first (details before their base, later business first)",
        ),
        NodeVariant(
            "no-operator-info",
            "NODE-REC-06",
            "不上传经营者基本信息（manager_base_info）",
            "operator base information (manager_base_info) is never uploaded",
        ),
        NodeVariant(
            "drops-detection-records",
            "NODE-WHOL-04",
            "手持终端登记的检测结果被接收却不上传",
            "test results registered on the handheld are accepted but never uploaded",
        ),
        NodeVariant(
            "no-operator-reupload",
            "TRAN-UPL-08",
            "经营者信息变更后不重新上传（只在首次登记时上传一次manager_base_info）",
            "a changed operator is never uploaded again (manager_base_info only once, when first registered)",
        ),
        NodeVariant(
            "no-batch-push",
            "NODE-WHOL-05",
            "不把进场登记的批次下发到经营者绑定的电子秤（由经营者自己在秤上录入）",
            "entered batches are never pushed to the operators' bound scales (left to the operators to key in)",
        ),
        NodeVariant(
            "no-stall-transfer",
            "NODE-RETL-01",
            "摊位间调拨时调出摊位的秤上批次余量不减少（同一批次可被重复销售）",
            "a stall transfer never lowers the source stall's remaining quantity on its scale (the batch can be "
            "sold twice)",
        ),
        NodeVariant(
            "no-certificate-ledger",
            "NODE-WHOL-03",
            "无上游台账的批发进场不按“批发商+证明编号”成批：无证或批次与证明不符的进场也被接收",
            "wholesale entries without an upstream voucher are not keyed by wholesaler + certificate: entries "
            "without a certificate, or whose batch contradicts the certificate, are admitted",
        ),
        NodeVariant(
            "registers-operators-again",
            "NODE-WHOL-01",
            "已在其他节点备案的经营者在本节点以新的本地编码再次备案（上传manager_base_info）",
            "an operator already registered at another node is registered again here under a new local code "
            "(manager_base_info uploaded)",
        ),
        NodeVariant(
            "rejects-guest-operators",
            "NODE-WHOL-01",
            "已在其他节点备案、在本节点以原编码交易的经营者，其进场记录被当作他人记录拒收（2008）",
            "an operator registered at another node, trading here under its home code, has its entry rejected as "
            "another node's record (2008)",
        ),
    ]
}


class VariantError(RoucaiError, ValueError):
    def __init__(self, name: str):
        super().__init__(
            f"未知的节点缺陷变体「{name}」，可选：{', '.join(sorted(VARIANTS))}",
            f"unknown node variant {name!r}; known: {', '.join(sorted(VARIANTS))}",
        )


def check(name: str | None) -> str | None:
    """``name`` if it is a known variant (or ``None``); :class:`VariantError` otherwise."""
    if name is not None and name not in VARIANTS:
        raise VariantError(name)
    return name


def active(config, name: str) -> bool:
    """Whether the variant ``name`` is switched on in this node ``config``."""
    if name not in VARIANTS:
        raise VariantError(name)
    return getattr(config, "variant", None) == name
