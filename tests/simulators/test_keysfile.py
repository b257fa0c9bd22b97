"""The one keys-file reader (simulators/keysfile.py): what import-city --keys-out writes reads back, in JSON or
TOML [keys]; anything else is a bilingual KeysFileError naming the file, never a traceback."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.keysfile import KeysFileError, read_keys

keys = st.dictionaries(
    st.from_regex(r"[0-9]{9,12}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    min_size=1,
    max_size=20,
)


@settings(max_examples=50, deadline=None)
@given(keys)
def test_what_keys_out_writes_reads_back_in_json_and_toml(tmp_path_factory, k):
    d = tmp_path_factory.mktemp("k")
    (d / "k.json").write_text(json.dumps(k, indent=1, sort_keys=True) + "\n", "utf-8")
    (d / "k.toml").write_text("[keys]\n" + "".join(f'"{n}" = "{v}"\n' for n, v in k.items()), "utf-8")
    assert read_keys(d / "k.json") == k == read_keys(str(d / "k.toml"))


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "not found"),
        ("", "not a keys file"),
        ("not json at all", "not a keys file"),
        ("{}", "not a keys file"),
        ('{"650103001": 5}', "not a keys file"),
        ('{"650103001": ""}', "not a keys file"),
        ("[1, 2]", "not a keys file"),
        ('[other]\n"650103001" = "k"\n', "not a keys file"),
        (b"\xff\xfe{", "UTF-8"),
    ],
)
def test_unusable_files_are_refused_naming_the_file(tmp_path, content, needle):
    f = tmp_path / "k.json"
    if isinstance(content, bytes):
        f.write_bytes(content)
    elif content is not None:
        f.write_text(content, "utf-8")
    with pytest.raises(KeysFileError) as err:
        read_keys(f)
    assert needle in err.value.en and str(f) in err.value.en and str(f) in err.value.zh


def test_a_directory_and_an_oversized_file_are_refused(tmp_path, monkeypatch):
    with pytest.raises(KeysFileError, match="is a directory"):
        read_keys(tmp_path)
    f = tmp_path / "big.json"
    f.write_text('{"1": "k"}')
    monkeypatch.setattr("simulators.keysfile.MAX_BYTES", os.path.getsize(f) - 1)
    with pytest.raises(KeysFileError, match="too large"):
        read_keys(f)
