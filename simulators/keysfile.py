"""The nodes' keys file: what ``roucai serve admin import-city --keys-out`` writes, read back.

One reader for every command that signs as the nodes (simulate --to, device handheld, load, certify's
``keys_file``, the proof proxy).  Accepted: a UTF-8 JSON object ``{"node_id": "key"}`` (the ``--keys-out``
output), or TOML with a ``[keys]`` table of the same (a capability statement's style).  Refused, with a
bilingual :class:`KeysFileError`: a missing file, a directory, a file over :data:`MAX_BYTES`, text that is not
UTF-8 JSON/TOML, and anything but a non-empty table of non-empty string keys.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from profiles.errors import RoucaiError

MAX_BYTES = 64 * 1024 * 1024  # a lanzhou keys file is well under 1 MB


class KeysFileError(RoucaiError, ValueError):
    """The keys file cannot be used; ``zh`` and ``en`` say why and name the file."""


def read_keys(path: str | Path) -> dict[str, str]:
    """``{node_id: key}`` from ``path`` (see the module doc); raises :class:`KeysFileError`."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise KeysFileError(f"密钥文件过大：{p}", f"keys file too large: {p}")
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise KeysFileError(f"找不到密钥文件 {p}", f"keys file not found: {p}") from None
    except IsADirectoryError:
        raise KeysFileError(f"密钥文件须为文件，而 {p} 是目录", f"the keys file {p} is a directory") from None
    except (OSError, UnicodeDecodeError):
        raise KeysFileError(
            f"无法读取密钥文件 {p}（须为 UTF-8 文本）", f"cannot read the keys file {p} (UTF-8 text expected)"
        ) from None
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text).get("keys")
    except (ValueError, tomllib.TOMLDecodeError):
        doc = None
    if not (
        isinstance(doc, dict) and doc and all(isinstance(k, str) and isinstance(v, str) and v for k, v in doc.items())
    ):
        raise KeysFileError(
            f'{p} 不是密钥文件：须为 {{"节点编码": "密钥"}} 形式的 JSON 对象（roucai serve admin import-city '
            "--keys-out 的输出）或含 [keys] 表的 TOML",
            f'{p} is not a keys file: expected a JSON object {{"node_id": "key"}} (the output of roucai serve '
            "admin import-city --keys-out) or TOML with a [keys] table",
        )
    return dict(doc)
