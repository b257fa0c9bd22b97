"""The reference node subsystem (节点子系统): scales over serial lines, handheld uploads, a durable
outbox, batched uploads to the city platform, stop-trade relay.

    from simulators.node import load_config, NodeRuntime
    cfg = load_config("fixtures/nodes/example-node.toml")   # ConfigError(zh, en) if wrong
    with NodeRuntime(cfg) as node:                           # threads: scales, uploader, stop-trade
        node.health()

``roucai serve node --config FILE`` runs it behind its HTTP port (:mod:`.app`,
:mod:`.server`).  Modules: :mod:`.config` (TOML, validated), :mod:`.outbox`
(SQLite, states pending -> sent -> acknowledged | rejected), :mod:`.collector`
(scale workers), :mod:`.sales` (sale line -> records), :mod:`.uploader`
(envelopes, verdicts, backoff), :mod:`.stoptrade` (fetch, push, acknowledge),
:mod:`.handheld_api` (handheld envelopes in).
"""

from .config import ConfigError, DeviceConfig, NodeConfig, load_config, parse_config
from .outbox import Outbox
from .runtime import NodeRuntime

__all__ = ["ConfigError", "DeviceConfig", "NodeConfig", "load_config", "parse_config", "Outbox", "NodeRuntime"]
