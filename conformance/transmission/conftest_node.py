"""Fixtures of the node-side transmission tests (the node software is the target).

``node_session`` — the one :class:`~.nodeharness.NodeSession` of this pytest run (shared with the
coding suite, see :func:`node_session_for`): the harness plays the scales on ptys and the city
platform over HTTP, the node under test runs as a process started from its ``start_command``.

Which node types run: one node process per ``node_<role>`` capability declared true
(``node_slaughterhouse``, ``node_wholesale``, ``node_retail``, ``node_supermarket``,
``node_canteen``); ``node_scales`` (the node reads scales over serial lines) and
``handheld_intake`` (it accepts the profile's envelopes from handhelds on ``{node_port}``)
decide whether the harness plays scales and handhelds.  See docs/certify.md.
"""

from __future__ import annotations

import pytest

from conformance.preflight import TargetDown

from .nodeharness import BUILTIN_COMMAND, FAULT_COMMAND, ROLE_CAPS, HarnessError, NodeSession


def node_session_for(request, target, capabilities, seed, profile, tmp_path_factory) -> NodeSession:
    """The run's node session, built on first use and closed when pytest ends."""
    config = request.config
    sess = getattr(config, "_roucai_node_session", None)
    if sess is not None:
        if isinstance(sess, BaseException):
            raise sess
        return sess
    caps = capabilities.capabilities
    roles = [role for role, cap in ROLE_CAPS.items() if caps.get(cap)]
    if not roles:
        pytest.fail(
            "能力声明未声明任何节点类型（node_retail 等）/ the capability statement declares no node type "
            "(node_retail, node_wholesale, …)",
            pytrace=False,
        )
    if target.is_builtin:
        command = BUILTIN_COMMAND
        if target.variant:
            from conformance.variants import load_variants

            v = load_variants()[target.variant]
            if v.actor == "node":
                command = FAULT_COMMAND.format(fault=v.switch)
    else:
        command = capabilities.info.get("start_command")
        if not command:
            pytest.fail(
                "节点目标的能力声明须给出 [target] start_command（见 docs/certify.md）/ a node target's "
                "capability statement needs [target] start_command (docs/certify.md)",
                pytrace=False,
            )
    sess = NodeSession(
        tmp_path_factory.mktemp("node-session"),
        profile,
        seed,
        roles,
        str(command),
        handheld=bool(caps.get("handheld_intake")),
        scales=bool(caps.get("node_scales")),
    )
    config.add_cleanup(sess.close)
    try:
        sess.run()
        if "start" in sess.timeouts:
            raise HarnessError(sess.timeouts["start"])
    except HarnessError as exc:  # the node (or the harness around it) did not come up: no verdict, exit 3
        what = (str(exc).splitlines() or [""])[0][:200]  # the node's log tail is in the test's reason
        down = TargetDown(
            f"节点未能启动或测试环境出错：{what}", f"the node did not come up (or the harness around it failed): {what}"
        )
        config._roucai_node_session = down
        raise down from None
    config._roucai_node_session = sess
    return sess


@pytest.fixture(scope="session")
def node_session(request, target, capabilities, seed, profile, tmp_path_factory) -> NodeSession:
    return node_session_for(request, target, capabilities, seed, profile, tmp_path_factory)
