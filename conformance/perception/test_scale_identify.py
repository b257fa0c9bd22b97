"""PERC-SCALE-20: the scale's own capability statement (IDENTIFY) against the vendor's TOML."""

from __future__ import annotations

import pytest

#: capability-statement key -> IDENTIFY capability key (roucai-dp/1)
DECLARED_TO_OBSERVED = {
    "max_g": "max_g",
    "min_g": "min_g",
    "e1_g": "e1_g",
    "e2_g": "e2_g",
    "switch_g": "switch_g",
    "max_batches": "max_batches",
    "storage_records": "storage_records",
    "storage_full_policy": "storage_full_policy",
    "printer": "printer",
    "card_reader": "card_reader",
    "qr_code": "qr",
}
#: what the requirement says IDENTIFY must report (capacity, division, batches, storage, printer, reader, QR)
MUST_REPORT = ("max_g", "e1_g", "max_batches", "storage_records", "printer", "card_reader", "qr")


def identified(drv, kind: str, evidence):
    """IDENTIFY through ``drv``, kept as evidence (``identify.json``); asserts the device kind is ``kind``.
    Returns ``(the answer, its capabilities as a dict)``."""
    ident = drv.identify()
    observed = ident.capability_map()
    evidence.attach_json(
        "identify.json",
        {
            "device_kind": ident.device_kind,
            "vendor": ident.vendor,
            "model": ident.model,
            "firmware": ident.firmware,
            "serial_no": ident.serial_no,
            "protocol": ident.protocol,
            "capabilities": observed,
        },
    )
    assert ident.device_kind == kind, f"IDENTIFY says device kind {ident.device_kind!r}, expected {kind!r}"
    return ident, observed


def same(declared, observed: str) -> bool:
    if isinstance(declared, bool):
        return observed.strip().lower() in (("1", "true", "yes") if declared else ("0", "false", "no"))
    if isinstance(declared, (int, float)):
        try:
            return float(observed) == float(declared)
        except ValueError:
            return False
    return str(declared).strip() == observed.strip()


@pytest.mark.requirement("PERC-SCALE-20")
@pytest.mark.applies(kinds=("scale",))
def test_identify_matches_the_capability_statement(scale, capabilities, evidence):
    """IDENTIFY names the device and reports its capabilities; each one the vendor declared must match."""
    ident, observed = identified(scale.drv, "scale", evidence)
    blank = [k for k in ("vendor", "model", "firmware", "serial_no") if not getattr(ident, k).strip()]
    assert not blank, f"IDENTIFY leaves {blank} empty: report vendor, model, firmware and serial number"
    unreported = [k for k in MUST_REPORT if k not in observed]
    assert not unreported, f"IDENTIFY does not report capabilities {unreported}: add them to its capability list"
    mismatches, compared = [], []
    for dkey, okey in DECLARED_TO_OBSERVED.items():
        if dkey in capabilities.capabilities:
            compared.append(dkey)
            if not same(capabilities.capabilities[dkey], observed.get(okey, "")):
                mismatches.append(
                    f"{dkey}: declared {capabilities.capabilities[dkey]!r}, device reports {observed.get(okey)!r}"
                )
    if not scale.builtin:  # the built-in statement's [target] names the whole reference set, not one scale
        for k in ("vendor", "model", "firmware"):
            if k in capabilities.info and str(capabilities.info[k]) != getattr(ident, k):
                mismatches.append(f"{k}: declared {capabilities.info[k]!r}, device reports {getattr(ident, k)!r}")
                compared.append(k)
    evidence.note(
        f"比对了 {len(compared)} 项声明：{', '.join(compared)}",
        f"compared {len(compared)} declared items: {', '.join(compared)}",
    )
    assert not mismatches, (
        "the device's own capability statement contradicts the vendor's "
        "(fix the firmware or the statement): " + "; ".join(mismatches)
    )
