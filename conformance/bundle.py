"""The result bundle: a zip a lab can check was not altered.

``bundle.zip`` holds every file of the report folder (results, reports,
JUnit if it was written there, evidence, capability statement, environment,
profile fingerprint) plus ``MANIFEST.sha256``: one ``<sha256>  <path>`` line
per file, sorted by path.  Zip entries carry a fixed timestamp, so the same
report folder always gives the same bundle bytes.

:func:`verify_bundle` recomputes every hash: it returns the list of problems
(missing, extra or altered files, or results that are not those of a finished run: an
interrupted run writes no bundle, and one whose ``results.json`` says ``interrupted`` is
refused); an empty list means intact.  The zip is written atomically (``.partial``, fsync, rename).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from simulators.atomic_file import atomic_open

MANIFEST = "MANIFEST.sha256"
_EPOCH = (2020, 1, 1, 0, 0, 0)


def write_bundle(folder: Path, out: Path) -> Path:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p != out and p.name != MANIFEST and p.suffix != ".partial"
    )
    lines = []
    with atomic_open(out, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            rel = p.relative_to(folder).as_posix()
            data = p.read_bytes()
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {rel}")
            z.writestr(zipfile.ZipInfo(rel, _EPOCH), data, zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo(MANIFEST, _EPOCH), "\n".join(lines) + "\n", zipfile.ZIP_DEFLATED)
    return out


def verify_bundle(path: Path) -> list[str]:
    problems: list[str] = []
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable zip: {exc}"]
    with z:
        names = set(z.namelist())
        if MANIFEST not in names:
            return ["no MANIFEST.sha256"]
        listed = {}
        for line in z.read(MANIFEST).decode("utf-8").splitlines():
            digest, _, rel = line.partition("  ")
            listed[rel] = digest
        for rel, digest in sorted(listed.items()):
            if rel not in names:
                problems.append(f"missing: {rel}")
            elif hashlib.sha256(z.read(rel)).hexdigest() != digest:
                problems.append(f"altered: {rel}")
        for rel in sorted(names - set(listed) - {MANIFEST}):
            problems.append(f"not in manifest: {rel}")
        if not problems:
            problems += _unfinished(z, names)
    return problems


def _unfinished(z: zipfile.ZipFile, names: set) -> list[str]:
    """A bundle is the evidence of a FINISHED run: one whose results are missing or say otherwise
    (``status`` ``interrupted``) is refused even when every hash matches."""
    if "results.json" not in names:
        return ["no results.json: not the bundle of a finished run"]
    try:
        status = json.loads(z.read("results.json").decode("utf-8")).get("status", "finished")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ["results.json is not a JSON object"]
    return [] if status == "finished" else [f"results.json says the run was {status}: not a finished run"]
