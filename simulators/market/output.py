"""Outputs of a run besides the ledger: XML envelopes batched per node as it would upload them.

The JSON-lines stream itself is written by the model (``MarketModel.record``): one
object per line, keys sorted, UTF-8, in simulated-time order; ``k`` is ``record`` (with
``type, node, data, upload, t, ts``) or ``event`` (``stop_trade`` broadcasts).

:class:`EnvelopeBatcher` receives every catalogue record (``scale_sale`` is the scale's
own upload, not a catalogue record, and is left out) and groups them as the node's
upload job would: per node, record type, business date and upload window
(``upload.node_batch_s``, by the record's upload time), at most the profile's
``max_count`` records per envelope.  A duplicated upload (fault ``duplicate_upload``)
is sent again in the window of its second upload.  :meth:`EnvelopeBatcher.write` signs
each with ``p.envelope.build`` (RequestTime = the upload time, Beijing clock) and writes
``DIR/<node>/<nnnnnn>-<Index>-<type>.xml``.  The key is one development key for every node
(``--envelope-key``; a platform derives real per-node keys).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

DEFAULT_KEY = "roucai-dev-key"


class EnvelopeBatcher:
    def __init__(self, profile, start: dt.date, window_s: float, key: str = DEFAULT_KEY):
        self.p = profile
        self.spec = profile.envelope
        self.start = dt.datetime.combine(start, dt.time())
        self.window = float(window_s)
        self.key = key
        self._groups: dict[tuple, list[dict]] = defaultdict(list)

    def add(self, obj: dict) -> None:
        rtype = obj["type"]
        if rtype not in self.p.records.types:
            return
        rt = self.p.records.types[rtype]
        date = rt.business_date(obj["data"]) or ""
        for up in obj["upload"]:
            self._groups[(obj["node"], int(up // self.window), rtype, date)].append((up, obj["data"]))

    def batches(self):
        """Every upload as ``(t_up, node, rtype, data_date, records)``, grouped as :meth:`write` writes them
        (per node, upload window, type and business date; at most ``max_count`` records), in that order.

        ``t_up`` is the chunk's last upload time (simulated seconds from ``start``); ``data_date``
        (yyyyMMdd) is the records' business date, or for a type without one the date of ``t_up``."""
        maxc = self.spec.max_count
        for key in sorted(self._groups):
            node, _w, rtype, date = key
            items = self._groups[key]
            for i in range(0, len(items), maxc):
                chunk = items[i : i + maxc]
                t_up = max(u for u, _ in chunk)
                ddate = date or (self.start + dt.timedelta(seconds=t_up)).strftime("%Y%m%d")
                yield t_up, node, rtype, ddate, [r for _, r in chunk]

    def write(self, out_dir: str | Path) -> dict:
        """Write every envelope; returns ``{"envelopes": n, "records": n, "nodes": n}``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        seq: dict[str, int] = defaultdict(int)
        n_env = n_rec = 0
        for t_up, node, rtype, date, records in self.batches():
            index = self.p.records.types[rtype].index
            when = self.start + dt.timedelta(seconds=t_up)
            body = self.spec.build(node, rtype, records, self.key, request_time=when, data_date=date)
            seq[node] += 1
            d = out / node
            d.mkdir(exist_ok=True)
            (d / f"{seq[node]:06d}-{index}-{rtype}.xml").write_bytes(body)
            n_env += 1
            n_rec += len(records)
        return {"envelopes": n_env, "records": n_rec, "nodes": len(seq)}
