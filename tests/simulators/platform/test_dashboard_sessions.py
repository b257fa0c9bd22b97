"""Sessions of the regulator's dashboard (simulators/platform/dashboard_sessions.py): who logs in, and when a session
ends (expiry, logout, a newly issued key, the oldest dropped past the maximum)."""

from platformkit import R

from simulators.platform.dashboard_sessions import DashboardSessions
from simulators.platform.regulators import Regulators


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_only_the_regulators_current_key_logs_in_and_sessions_end(platform):
    regs = Regulators(platform.svc.store, platform.svc.secret, platform.svc.profile)
    key = regs.register("650100", "乌鲁木齐市商务局")
    clock = Clock()
    s = DashboardSessions(regs, ttl_s=60, max_sessions=2, clock=clock)
    assert s.login("650100", platform.keys[R]) is None  # a node's key
    assert s.login("650103", key) is None  # the right key under another id
    assert s.login("650100", key[:-1]) is None and s.login("6501", key) is None and s.login("650100", "") is None
    token, session = s.login("650100", key)
    assert session.regulator_id == "650100" and s.get(token) == session and len(session.csrf) > 20
    clock.t += 61
    assert s.get(token) is None  # expired
    token, _ = s.login("650100", key)
    s.logout(token)
    assert s.get(token) is None
    token, _ = s.login("650100", key)
    new_key = regs.register("650100", "乌鲁木齐市商务局")  # a new key revokes the old one and its sessions
    assert s.get(token) is None and s.login("650100", key) is None
    first, _ = s.login("650100", new_key)
    second, _ = s.login("650100", new_key)
    third, _ = s.login("650100", new_key)
    assert s.get(first) is None and s.get(second) and s.get(third)  # at most 2: the oldest went
    assert s.get(None) is None and s.get("forged") is None
