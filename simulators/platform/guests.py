"""Guest operators: who may be named as seller by a node that is not the operator's own (NODE-WHOL-01).

The 2010 construction spec's wholesale step 1 (standards.md §3.3): an operator already registered at another node
is not registered again; it keeps its operator code and trades at the wholesale market under that code.  So a
wholesale market's records name, as wholesaler, operators whose code begins with another node's code.

Issue 13 finding 7 forbids the rest: a node naming an arbitrary other node's operator as seller.  The rule
(platform.toml ``[guests]``, evidence profile) that keeps both:

* the uploading node's role is one of ``host_roles`` (markets where outside operators trade: wholesale);
* the named operator is registered at this platform, under a node registered here whose role is one of
  ``home_roles`` (nodes whose operators supply a wholesale market: slaughterhouse, wholesale).

Anything else naming another node's operator as seller stays "not your record" (2008,
:meth:`.recordmap.RecordMap.facts`).  A guest's sale voucher issued under its home code is still judged by the
``own`` rule (the trace code must begin with the uploading node's code).
"""

from __future__ import annotations


class GuestRule:
    """``rule(node_id, operator_code) -> bool``: may ``node_id`` name that operator of another node as seller?

    Reads the registry on every call (nodes and operators change while the platform runs); called only for a
    seller field that names another node's code, so an ordinary upload costs nothing."""

    def __init__(self, rules: dict, registry, role_of):
        spec = rules.get("guests", {})
        self.host_roles = frozenset(spec.get("host_roles", ()))
        self.home_roles = frozenset(spec.get("home_roles", ()))
        self.registry = registry
        self.role_of = role_of

    def __call__(self, node_id: str, code: str) -> bool:
        if not self.host_roles or not isinstance(code, str) or len(code) != 13 or code[:9] == node_id:
            return False
        host = self.registry.node(node_id)
        if host is None or self.role_of(host.node_type) not in self.host_roles:
            return False
        home = self.registry.node(code[:9])
        if home is None or self.role_of(home.node_type) not in self.home_roles:
            return False
        return self.registry.operator_name(code) is not None
