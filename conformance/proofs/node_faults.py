"""Defects of the reference node, installed from outside through its public seams: the proof that each
node test can fail.

The node itself has no defect switch.  Each defect here is a subclass of one of the node's parts (outbox,
scale worker, uploader, handheld intake, or the runtime itself) that replaces one named step of the clean
algorithm, and :data:`FAULTS` maps each node switch of ``conformance/variants.toml`` (actor ``node``) to a
:class:`~simulators.node.runtime.NodeRuntime` subclass built from it (the runtime's ``*_class`` attributes).
:mod:`conformance.proofs.node_variant` runs a node with one of them.

Every defect is a small, honest bug a real node could have; none fakes its effect on the wire (the harness
sees only what the broken node really sends).  The descriptions (zh/en) and the requirement each breaks are
those of ``variants.toml``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt

from simulators.node.collector import ScaleWorker
from simulators.node.handheld_api import HandheldIntake
from simulators.node.ledger import CertificateLedger
from simulators.node.operators import RTYPE as OPERATOR_RTYPE, operator_items, queue_operators
from simulators.node.outbox import Batch, Item, Outbox
from simulators.node.runtime import NodeRuntime
from simulators.node.uploader import Uploader
from simulators.platform.recordmap import RecordMap

# -- the outbox ------------------------------------------------------------------------------------------


class _DroppingOutbox(Outbox):
    """Answers every item :meth:`drops` chooses as stored, and never stores it (never uploaded)."""

    def drops(self, item: Item) -> bool:
        """Whether this item is lost: each fault below (DropsEvery100th, DropsDetectionRecords) says which.
        The base class is never installed on its own."""
        raise NotImplementedError

    def add(self, items: list[Item], cursor: tuple[str, int] | None = None) -> list[tuple[str, int | None]]:
        lost = {i for i, it in enumerate(items) if not it.findings and self.drops(it)}
        stored = iter(super().add([it for i, it in enumerate(items) if i not in lost], cursor))
        return [("pending", None) if i in lost else next(stored) for i in range(len(items))]


class DropsEvery100th(_DroppingOutbox):
    """``drops-every-100th-record`` (NODE-REC-03): every 100th valid record entering the outbox is lost."""

    def __init__(self, path):
        super().__init__(path)
        self.added = 0

    def drops(self, item: Item) -> bool:
        self.added += 1
        return self.added % 100 == 0


class DropsDetectionRecords(_DroppingOutbox):
    """``drops-detection-records`` (NODE-WHOL-04): test results from the handheld are answered accepted and lost."""

    def drops(self, item: Item) -> bool:
        return item.rtype == "qmarket_detection_info"


class NewestGroupFirst(Outbox):
    """``uploads-out-of-order`` (TRAN-UPL-05): the newest pending group is sent first."""

    def next_group(self) -> tuple[str, str, int] | None:  # called inside claim()'s transaction
        return self.db.execute(
            "SELECT rtype, data_date, created_ms FROM outbox WHERE state = 'pending' ORDER BY id DESC LIMIT 1"
        ).fetchone()


# -- the uploader ----------------------------------------------------------------------------------------


class IgnoresCountLimit(Uploader):
    """``ignores-count-limit`` (TRAN-UPL-02): a backlog goes out in one envelope, over the Count limit."""

    def claim(self) -> Batch | None:
        return self.outbox.claim(10**6, int(self.cfg.batch_wait_s * 1000))


class MissesDeadline(Uploader):
    """``misses-deadline`` (TRAN-UPL-01): a partial envelope waits (practically) forever."""

    def claim(self) -> Batch | None:
        return self.outbox.claim(self.cfg.max_count, 10**12)


class ResendsAcceptedRecords(Uploader):
    """``resends-accepted-records`` (TRAN-UPL-04): an answered envelope's records are uploaded once more."""

    def send(self, batch: Batch) -> str | None:
        error = super().send(batch)
        if error is None:
            super().send(batch)  # a new envelope of the same records; the platform answers duplicate
        return error


class NoResumeAfterOutage(Uploader):
    """``no-resume-after-outage`` (TRAN-UPL-03): a failed envelope's rows are given up as if uploaded."""

    def give_back(self, batch: Batch) -> None:
        self.outbox.settle(batch.ids, [("accepted", "0000", None, "discarded")] * len(batch.ids))


class NoBackoff(Uploader):
    """``no-backoff`` (TRAN-UPL-06): after a failure it retries at the short polling interval."""

    def retry_delay(self) -> float:
        return self.cfg.interval_s


class WrongVerifyCode(Uploader):
    """``wrong-verifycode`` (TRAN-ENV-05): envelopes are signed with a wrong key."""

    def __init__(self, config, outbox, profile, clock=None):
        super().__init__(dataclasses.replace(config, key=config.key + "x"), outbox, profile, clock)


class WrongDataDate(Uploader):
    """``wrong-datadate`` (TRAN-ENV-08): the envelope's DataDate is the day before the records' business date."""

    def envelope(self, batch: Batch) -> bytes:
        day = _dt.datetime.strptime(batch.data_date, "%Y%m%d") - _dt.timedelta(days=1)
        return super().envelope(dataclasses.replace(batch, data_date=day.strftime("%Y%m%d")))


# -- the scale worker --------------------------------------------------------------------------------------


class NoBatchPush(ScaleWorker):
    """``no-batch-push`` (NODE-WHOL-05): entered batches never reach the operators' scales."""

    def push_batches(self) -> None:
        return None


class NoStallTransfer(ScaleWorker):
    """``no-stall-transfer`` (NODE-RETL-01): a transfer never lowers the source scale's limit."""

    def change_limit(self, held, batch) -> bool:
        return True


class StopTradeNotPushed(ScaleWorker):
    """``stop-trade-not-pushed`` (NODE-STOP-01): instructions are taken as applied, never sent to the scale."""

    def enforce_stops(self) -> None:
        self.stops_applied = set(self.outbox.stopped_batches())


class AcksScaleBeforeUpload(ScaleWorker):
    """``acks-scale-before-upload`` (NODE-DEV-01): everything read is acknowledged, uploaded or not."""

    def ackable(self) -> int:
        return self.outbox.cursor(self.dev.id)[0] - 1


# -- the handheld intake -----------------------------------------------------------------------------------


class _AdmitsEverything(CertificateLedger):
    def check(self, rec: dict) -> tuple[str, str] | None:
        return None


class NoCertificateLedger(HandheldIntake):
    """``no-certificate-ledger`` (NODE-WHOL-03): wholesale entries are not keyed by wholesaler + certificate."""

    def __init__(self, config, outbox, profile, clock=None):
        super().__init__(config, outbox, profile, clock)
        self.ledger = _AdmitsEverything(outbox)


class RejectsGuestOperators(HandheldIntake):
    """``rejects-guest-operators`` (NODE-WHOL-01): an operator of another node configured here is refused (2008)."""

    def __init__(self, config, outbox, profile, clock=None):
        super().__init__(config, outbox, profile, clock)
        self.recmap = RecordMap(profile)  # no guests


# -- the operators (the runtime) ---------------------------------------------------------------------------


class NoOperatorInfo(NodeRuntime):
    """``no-operator-info`` (NODE-REC-06): no manager_base_info is ever queued."""

    def announce_operators(self) -> int:
        return 0


class NoOperatorReupload(NodeRuntime):
    """``no-operator-reupload`` (TRAN-UPL-08): an operator is uploaded once; a change never again."""

    def announce_operators(self) -> int:
        seen = {r["record"]["id"] for r in self.outbox.rows_of_type(OPERATOR_RTYPE)}
        items = operator_items(self.cfg, self.outbox, self.profile.records, self.clock())
        fresh = [it for it in items if it.record["id"] not in seen]
        return sum(1 for state, _ in self.outbox.add(fresh) if state != "duplicate")


class RegistersOperatorsAgain(NodeRuntime):
    """``registers-operators-again`` (NODE-WHOL-01): an operator of another node is registered here again,
    under a new local code (9000 + its position among them)."""

    def announce_operators(self) -> int:
        cfg = self.cfg
        foreign = sorted(c for c in cfg.operators if not c.startswith(cfg.node_code))
        local = {c: self.profile.codes.operator_code(cfg.node_code, 9000 + i) for i, c in enumerate(foreign)}
        as_own = dataclasses.replace(
            cfg,
            operators={local.get(c, c): name for c, name in cfg.operators.items()},
            operator_info={local.get(c, c): info for c, info in cfg.operator_info.items()},
        )
        return queue_operators(as_own, self.outbox, self.profile.records, self.clock())


# -- the catalogue -----------------------------------------------------------------------------------------


def _node(name: str, **parts) -> type[NodeRuntime]:
    """A :class:`NodeRuntime` subclass whose ``*_class`` attributes name the defective ``parts``."""
    return type(f"NodeWith_{name.replace('-', '_')}", (NodeRuntime,), parts)


#: node switch of variants.toml -> the runtime class with that defect installed
FAULTS: dict[str, type[NodeRuntime]] = {
    "drops-every-100th-record": _node("drops-every-100th-record", outbox_class=DropsEvery100th),
    "drops-detection-records": _node("drops-detection-records", outbox_class=DropsDetectionRecords),
    "uploads-out-of-order": _node("uploads-out-of-order", outbox_class=NewestGroupFirst),
    "ignores-count-limit": _node("ignores-count-limit", uploader_class=IgnoresCountLimit),
    "misses-deadline": _node("misses-deadline", uploader_class=MissesDeadline),
    "resends-accepted-records": _node("resends-accepted-records", uploader_class=ResendsAcceptedRecords),
    "no-resume-after-outage": _node("no-resume-after-outage", uploader_class=NoResumeAfterOutage),
    "no-backoff": _node("no-backoff", uploader_class=NoBackoff),
    "wrong-verifycode": _node("wrong-verifycode", uploader_class=WrongVerifyCode),
    "wrong-datadate": _node("wrong-datadate", uploader_class=WrongDataDate),
    "no-batch-push": _node("no-batch-push", worker_class=NoBatchPush),
    "no-stall-transfer": _node("no-stall-transfer", worker_class=NoStallTransfer),
    "stop-trade-not-pushed": _node("stop-trade-not-pushed", worker_class=StopTradeNotPushed),
    "acks-scale-before-upload": _node("acks-scale-before-upload", worker_class=AcksScaleBeforeUpload),
    "no-certificate-ledger": _node("no-certificate-ledger", intake_class=NoCertificateLedger),
    "rejects-guest-operators": _node("rejects-guest-operators", intake_class=RejectsGuestOperators),
    "no-operator-info": NoOperatorInfo,
    "no-operator-reupload": NoOperatorReupload,
    "registers-operators-again": RegistersOperatorsAgain,
}
