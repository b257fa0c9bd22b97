"""Shared helpers for the device simulator tests (imported by name: the test dir is on sys.path)."""

from __future__ import annotations

import pytest

from profiles import load_profile

NODE = "650102001"
OPERATOR = "6501020010001"
BATCH = "65010200200010000007"  # an incoming batch's trace code (upstream operator 6501020020001)
BATCH2 = "65010200200010000008"


@pytest.fixture(scope="session")
def prof():
    return load_profile()


def bound_scale(store=None, model_class=None, **kw):
    """A scale with a stall bound and two batches loaded (10 kg and 5 kg); ``model_class``: a ScaleModel subclass
    (a firmware bug of conformance/proofs/device_firmware.py), default the clean model."""
    from simulators.devices.scale import ScaleModel

    s = (model_class or ScaleModel)(store, seed=kw.pop("seed", 1), **kw)
    s.bind_stall(NODE, OPERATOR, "A-12", "北园春农贸市场", "张建国")
    s.load_batch(BATCH, "21111002", "", 10_000, 2800)
    s.load_batch(BATCH2, "21111004", "", 5_000, 3300)
    return s
