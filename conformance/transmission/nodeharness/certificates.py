"""The simulated day's records as the harness registers them: the quarantine sampling carries the
certificates the slaughterhouse issued for each intake (see :func:`with_certificates`)."""

from __future__ import annotations


def with_certificates(records: list[dict], ledger) -> list[dict]:
    """The day's records with the quarantine sampling carrying the certificates the slaughterhouse issued.

    The market model records each sale's certificate pair against its intakes itself (``quarantine_info``
    from ``slaughter.certificates_issued``); for a pair it did not record, the harness, registering the
    sampling at the slaughterhouse, gives one record per certificate pair the ledger's truth links to that
    intake (none with the current model: the intake's own check stays as it is).
    """
    pairs: dict[str, set] = {}
    for r in records:
        if r["type"] == "meat_out_info_detail":
            chain = ledger.chain(r["data"]["tran_id"]) or []
            intake = next((e["id"] for e in chain if e.get("kind") == "intake"), None)
            if intake:
                pairs.setdefault(intake, set()).add(
                    (r["data"].get("quarantine_animal_products_id"), r["data"].get("inspection_meat_id"))
                )
    for r in records:  # pairs the model recorded itself (slaughter.certificates_issued) are not added
        d = r["data"]
        if r["type"] == "quarantine_info" and d.get("quarantine_animal_products_id"):
            pairs.get(d.get("quarantine_id"), set()).discard(
                (d["quarantine_animal_products_id"], d.get("inspection_meat_id"))
            )
    out = []
    for r in records:
        q = r["data"].get("quarantine_id")
        if r["type"] == "quarantine_info" and pairs.get(q) and not r["data"].get("quarantine_animal_products_id"):
            for pq, mq in sorted(pairs[q], key=str):
                extra = {k: v for k, v in (("quarantine_animal_products_id", pq), ("inspection_meat_id", mq)) if v}
                out.append({**r, "data": {**r["data"], **extra}})
        else:
            out.append(r)
    return out
