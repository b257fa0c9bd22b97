"""The load test's regulator (docs/load.md): ``--regulator`` / ``--regulator-key-file`` of an external target are
checked before anything runs, and the reconciliation reads the statistics signed as the regulator (a real
platform on 127.0.0.1, whose statistics answer a regulator only)."""

from __future__ import annotations

import json
import stat

import httpx
import pytest

from loadtests.reconcile import stored_by_api
from loadtests.run import LoadError, LoadOptions, external_regulator, regulator_file
from profiles import load_profile
from simulators.platform.config import PlatformConfig
from simulators.platform.launcher import ThreadedPlatform
from simulators.platform.regulators import Regulators


@pytest.mark.parametrize(
    "regulator,key_text,why",
    [("650100", None, "go together"), (None, "k", "go together"), ("650100", "", "empty"), ("650100", "-", "cannot")],
)
def test_a_half_or_unreadable_regulator_is_a_usage_error(tmp_path, regulator, key_text, why):
    key_file = None
    if key_text is not None:
        key_file = tmp_path / "r.key"
        if key_text != "-":  # "-": the file does not exist
            key_file.write_text(key_text)
    with pytest.raises(LoadError) as e:
        external_regulator(LoadOptions(regulator=regulator, regulator_key_file=str(key_file) if key_file else None))
    assert e.value.exit_code == 2 and why in e.value.en and e.value.zh


def test_without_a_regulator_the_reads_stay_unsigned(tmp_path):
    assert external_regulator(LoadOptions()) is None
    assert regulator_file(tmp_path, None, tmp_path / "keys.json", None) is None


def test_the_reconciliation_reads_signed_as_the_regulator(tmp_path):
    (tmp_path / "r.key").write_text("placeholder")
    cfg = PlatformConfig(db=str(tmp_path / "p.db"), port=0, log_level="warning")
    with ThreadedPlatform(cfg) as tp:
        key = Regulators(tp.services.store, tp.services.secret, load_profile()).register("650100", "市商务局")
        (tmp_path / "r.key").write_text(key + "\n")
        who = external_regulator(LoadOptions(regulator="650100", regulator_key_file=str(tmp_path / "r.key")))
        path = regulator_file(tmp_path, None, tmp_path / "keys.json", who)
        assert json.loads(path.read_text()) == {"regulator_id": "650100", "key": key}
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stored_by_api(tp.url, ["20250106"], regulator=path) == {}  # no records, but answered
        with pytest.raises(httpx.HTTPStatusError) as e:
            stored_by_api(tp.url, ["20250106"])
        assert e.value.response.status_code == 401
