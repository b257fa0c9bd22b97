"""The wholesale market's entry ledger without an upstream ledger: one batch = wholesaler + certificate (NODE-WHOL-03).

When a lot arrives without an upstream electronic voucher (a ``market_in_info_base`` with no ``tran_id``), the
batch is the same wholesaler with the same certificate: the animal-product quarantine certificate
(``quarantine_animal_products_id``), else the origin certificate (``prov_id``), else the vegetable quarantine
certificate (``quarantine_vege_id``), first one present.  :class:`CertificateLedger` keeps, from the node's own
accepted entries, ``(wholesaler, certificate) -> batch`` and ``batch -> (wholesaler, certificate)``, and
:meth:`CertificateLedger.check` answers, for a new entry, ``None`` (admissible) or ``(reason code, message)``:

* no certificate at all -> ``2002`` (a required field is missing: without a voucher the certificate is the key);
* the pair already names another batch, or the batch already belongs to another pair -> ``2011`` (the profile's
  own reason code, ``envelope.toml``).

Entries with a ``tran_id`` (an upstream voucher) are not judged here.  Thread-safe; the ledger is read from the
outbox incrementally, and entries accepted in the same envelope count for the ones after them.
"""

from __future__ import annotations

import threading

RTYPE = "market_in_info_base"
CERTS = ("quarantine_animal_products_id", "prov_id", "quarantine_vege_id")


def certificate_of(rec: dict) -> str | None:
    return next((rec[k] for k in CERTS if rec.get(k)), None)


class CertificateLedger:
    def __init__(self, outbox):
        self.outbox = outbox
        self._lock = threading.Lock()
        self._after = 0
        self.by_pair: dict[tuple[str, str], str] = {}
        self.by_batch: dict[str, tuple[str, str]] = {}

    def _learn(self, rec: dict) -> None:
        cert = certificate_of(rec)
        if rec.get("tran_id") or not cert or not rec.get("batch_id"):
            return
        pair = (rec.get("wholesaler_id", ""), cert)
        self.by_pair.setdefault(pair, rec["batch_id"])
        self.by_batch.setdefault(rec["batch_id"], pair)

    def refresh(self) -> None:
        with self._lock:
            for row in self.outbox.rows_of_type(RTYPE, self._after):
                self._after = row["id"]
                if row["state"] != "invalid":
                    self._learn(row["record"])

    def check(self, rec: dict) -> tuple[str, str] | None:
        """``None`` if ``rec`` may be admitted (and it is remembered), else ``(reason code, message)``."""
        if rec.get("tran_id"):
            return None
        cert = certificate_of(rec)
        if not cert:
            return (
                "2002",
                "无上游电子台账（无tran_id）时须有检疫证、产地证明或检疫编号 / without an upstream voucher "
                "(tran_id) a certificate number is required (NODE-WHOL-03)",
            )
        pair, batch = (rec.get("wholesaler_id", ""), cert), rec.get("batch_id", "")
        with self._lock:
            known = self.by_pair.get(pair)
            owner = self.by_batch.get(batch)
            if (known is not None and known != batch) or (owner is not None and owner != pair):
                return (
                    "2011",
                    f"批发商{pair[0]}+证明{cert}的批次为{known or '（无）'}，批次{batch}属于"
                    f"{owner[0] + '+' + owner[1] if owner else '（无）'} / wholesaler+certificate maps to "
                    f"batch {known}, batch {batch} belongs to {owner}",
                )
            self.by_pair.setdefault(pair, batch)
            self.by_batch.setdefault(batch, pair)
        return None
