"""The regulator statistics (``regstats.RegulatorStats.table``) as an Excel workbook (XLSX), with openpyxl.

Contract of :func:`to_xlsx`: one sheet whose first row is :data:`~.regstats.CSV_COLUMNS` and whose other rows
are :func:`~.regstats.rows` of the table, in order: the same cells as the CSV export, typed for a spreadsheet:

* text columns (:data:`~.regstats.TEXT_COLUMNS`, and ``period``, ``by``) are string cells holding the JSON's text
  exactly: a string cell is never evaluated, so a value beginning with ``=`` is shown, not run (the CSV needs the
  OWASP apostrophe for that; an XLSX string cell does not);
* ``records`` an integer; ``weight_kg``, ``previous_kg`` and ``avg_price`` numbers (the JSON's decimal text,
  shown with 3 and 2 decimals); ``change`` a number shown as a percentage;
* where the JSON has no value (``None``, and a missing price) the cell is empty.

The workbook's dates (document properties, zip entries) are fixed: the same table gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

from .regstats import CSV_COLUMNS, TEXT_COLUMNS, rows

#: number formats of the numeric columns
FORMATS = {"records": "0", "weight_kg": "0.000", "previous_kg": "0.000", "avg_price": "0.00", "change": "0.00%"}
_FIXED = dt.datetime(2000, 1, 1)
_TITLE = {"zh": "统计分析", "en": "statistics"}


def _number(value):
    if isinstance(value, (int, float)):
        return value
    d = Decimal(str(value))
    return int(d) if d == d.to_integral_value() and "." not in str(value) else float(d)


def to_xlsx(table: dict, lang: str = "zh") -> bytes:
    """The workbook's bytes (module docstring); the sheet is named 统计分析 (``lang="en"``: statistics)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = _TITLE.get(lang, _TITLE["zh"])
    wb.properties.creator = "roucai"
    wb.properties.created = wb.properties.modified = _FIXED
    ws.append(list(CSV_COLUMNS))
    text = [c in TEXT_COLUMNS or c in ("period", "by") for c in CSV_COLUMNS]
    for r, row in enumerate(rows(table), start=2):
        for i, (value, is_text) in enumerate(zip(row, text), start=1):
            if value is None or (CSV_COLUMNS[i - 1] == "avg_price" and not value):
                continue
            cell = ws.cell(row=r, column=i)
            if is_text:
                cell.value = str(value)
                cell.data_type = "s"  # never a formula, whatever the text begins with
            else:
                cell.value = _number(value)
                cell.number_format = FORMATS.get(CSV_COLUMNS[i - 1], "General")
    for i, name in enumerate(CSV_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(name) + 2)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_dates(buf.getvalue())


def _fixed_dates(data: bytes) -> bytes:
    """``data`` (an XLSX) with every zip entry dated :data:`_FIXED` and the ``modified`` property (openpyxl sets it
    to now when saving) equal to it."""
    stamp = _FIXED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, body)
            dst.writestr(zipfile.ZipInfo(info.filename, _FIXED.timetuple()[:6]), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()
