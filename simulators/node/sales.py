"""A scale's sale line -> the profile's records the node uploads for it.

The scale stores grams, fen per kg and fen (:class:`~profiles.device.messages.SaleRecord`);
records carry kg with 3 decimals and yuan with 2 (``records.toml`` quantities), so
the conversion is exact (``1234 g`` -> ``"1.234"``, ``1999 fen/kg`` -> ``"19.99"``).

Which record (the node's choice, evidence ``profile`` unless noted):

* retail nodes (farmers' markets, community outlets, shops): one
  ``retail_market_tran_info_summ`` per sale line, ``sale_tran_id`` = the line's
  trace code, ``batch_id`` / ``tran_id`` = the batch the scale sold from.  The
  catalogue calls the record a daily summary (standards.md §4.1); the node sends
  one per line, as the deployed JNLC scale firmware did with ``uploadTranData``
  (devices.md §1.2 e), so every receipt's code is traceable at the platform.
* wholesale nodes: ``market_tran_info_base`` + ``market_tran_info_detail`` per line,
  ``tran_id`` = the line's trace code, the buyer being the node's walk-in
  operator (``…0000``, "散户", as the market model does) unless configured.
* other node types (supermarket, canteen, slaughterhouse) have no sale record in
  the catalogue: scales there are refused at configuration time.

Meat lines need a certificate number (TRAN-REC-05); the scale does not know it, so
the mapper looks it up by batch code in the certificates the node has seen on entry
records (:meth:`~.outbox.Outbox.batch_certificates`).  A line whose batch is unknown
maps to a record without it and is kept locally as invalid (never sent).
"""

from __future__ import annotations

from profiles.device.messages import SaleRecord
from profiles.errors import RoucaiError

RETAIL, WHOLESALE = "retail", "wholesale"
_CERTS = ("quarantine_animal_products_id", "inspection_meat_id", "prov_id", "quarantine_vege_id")


class SaleMappingError(RoucaiError):
    """A sale mapping that cannot be used (node configuration, exit 2)."""


def kg_text(grams: int) -> str:
    """Exact kg text with 3 decimals of a non-negative gram count."""
    return f"{grams // 1000}.{grams % 1000:03d}"


def yuan_text(fen: int) -> str:
    """Exact yuan text with 2 decimals of a non-negative fen amount."""
    return f"{fen // 100}.{fen % 100:02d}"


class SaleMapper:
    """:param node_code / node_name / node_type: the node.  :param operator_name: code -> name."""

    def __init__(
        self,
        node_code: str,
        node_name: str,
        node_type: str,
        operator_name,
        codes,
        walk_in: tuple[str, str] | None = None,
    ):
        self.node_code, self.node_name = node_code, node_name
        self.role = self.role_for(node_type)
        self.operator_name = operator_name
        self.walk_in = walk_in or (codes.operator_code(node_code, 0), "散户")

    @staticmethod
    def role_for(node_type: str) -> str:
        """``retail`` or ``wholesale`` for a city node type; :class:`SaleMappingError` if scales make no record there."""
        from simulators.platform.recordmap import load_rules

        role = load_rules().get("node_roles", {}).get(node_type, node_type)
        if role not in (RETAIL, WHOLESALE):
            raise SaleMappingError(
                f"节点类型 {node_type!r} 在配置（profile）中没有电子秤销售记录（仅零售市场与批发市场有），不能接电子秤",
                f"node type {node_type!r} has no scale sale record in the profile (only retail and wholesale markets do); "
                "scales cannot be attached",
            )
        return role

    def records(self, sale: SaleRecord, certs: dict[str, str] | None = None) -> list[tuple[str, dict[str, str]]]:
        """The ``(record type, record)`` pairs for one sale line, in upload order (base before detail)."""
        day = sale.time.strftime("%Y%m%d")
        cert = {k: v for k, v in (certs or {}).items() if k in _CERTS and v}
        name = self.operator_name(sale.operator_code)
        if self.role == RETAIL:
            rec = {
                "retail_market_id": self.node_code,
                "retail_market_name": self.node_name,
                "sale_date": day,
                "retailer_id": sale.operator_code,
                "retailer_name": name,
                "position_id": sale.stall,
                "tran_id": sale.batch_trace,
                "batch_id": sale.batch_trace,
                "goods_code": sale.commodity,
                "goods_name": sale.commodity_name,
                "weight": kg_text(sale.weight_g),
                "price": yuan_text(sale.unit_price_fen),
                "sale_tran_id": sale.trace_code,
            }
            if cert.get("quarantine_animal_products_id"):
                rec["quarantine_animal_products_id"] = cert["quarantine_animal_products_id"]
            return [("retail_market_tran_info_summ", _drop_empty(rec))]
        buyer, buyer_name = self.walk_in
        head = {
            "market_id": self.node_code,
            "market_name": self.node_name,
            "tran_date": day,
            "wholesaler_id": sale.operator_code,
            "wholesaler_name": name,
            "retailer_id": buyer,
            "retailer_name": buyer_name,
            "tran_id": sale.trace_code,
        }
        detail = {
            **head,
            "batch_id": sale.batch_trace,
            "goods_code": sale.commodity,
            "goods_name": sale.commodity_name,
            "weight": kg_text(sale.weight_g),
            "price": yuan_text(sale.unit_price_fen),
        }
        return [("market_tran_info_base", _drop_empty(head)), ("market_tran_info_detail", _drop_empty(detail))]


def _drop_empty(rec: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in rec.items() if v not in (None, "")}


def in_catalogue_order(rtype, record: dict[str, str]) -> dict[str, str]:
    """``record`` with its fields in the catalogue's element order (unknown fields last, as given)."""
    out = {f.name: record[f.name] for f in rtype.fields if f.name in record}
    out.update((k, v) for k, v in record.items() if k not in out)
    return out


def certificates_of(record: dict[str, str]) -> dict[str, str]:
    """The certificate numbers an entry record carries (for the meat rule of later sales)."""
    return {k: record[k] for k in _CERTS if record.get(k)}
