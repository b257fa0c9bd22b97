"""The fixed settings of the node scenario: where nodes upload, how node processes are started, which
capability declares which node role, and the scenario's sizes and time bounds (seconds).

Plain constants, read by the phases; nothing here changes at run time.
"""

from __future__ import annotations

UPLOAD_PATH = "/api/v1/exchange"
BUILTIN_COMMAND = "{python} -m roucai.cli serve node --config {config}"
#: the built-in node with one defect of conformance/proofs/node_faults.py (``{fault}``: its name)
FAULT_COMMAND = "{{python}} -m conformance.proofs.node_variant {fault} --config {{config}}"
#: node roles (records.toml node_type) -> the capability that declares the node software handles it
ROLE_CAPS = {
    "slaughterhouse": "node_slaughterhouse",
    "wholesale": "node_wholesale",
    "retail": "node_retail",
    "supermarket": "node_supermarket",
    "canteen": "node_canteen",
}
#: upload settings the harness writes into every node config: timings (seconds) scaled down so a run is short;
#: ``max_count`` the profile's maximum Count (reference envelope.toml ``max_count``), so the outage backlog (more
#: records than that) makes the node send and settle a full envelope: answers of 500 results must be read right
UPLOAD_CFG = {"max_count": 500, "batch_wait_s": 0.2, "interval_s": 0.05, "backoff_first_s": 0.25, "backoff_max_s": 1.0}
STOP_POLL_S = 0.25
SALES_PER_SCALE = 12
OUTAGE_SALES = 6
BACKOFF_WINDOW_S = 3.2
#: how long the harness waits for the node to load the entered batches onto its scales (node poll is 0.2 s)
PUSH_WAIT_S = 6.0
