"""The regulator statistics as XLSX (issue 14 item 2): ``simulators/platform/regxlsx.py``, ``GET
/api/v1/regulator/stats?format=xlsx`` and ``districts.xlsx`` of ``roucai report districts``, each read back with
openpyxl and compared cell by cell with the JSON answer and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from platformkit import P, meat_chain, today, upload_all, veg_chain

from roucai.cli import main
from simulators.platform import periods
from simulators.platform.nodeauth import signed_get
from simulators.platform.regstats import CSV_COLUMNS, GROUPINGS, TEXT_COLUMNS, RegulatorStats, rows, to_csv
from simulators.platform.regulators import Regulators
from simulators.platform.regxlsx import to_xlsx
from tests.httpkit import BackgroundHTTPServer, QuietHandler

HOSTILE = '=HYPERLINK("http://x","y")'
TEXT = TEXT_COLUMNS | {"period", "by"}


def _sheet(data: bytes) -> list[list]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    out = []
    for row in ws.iter_rows():
        cells = [(c.value, c.data_type) for c in row]
        out.append(cells + [(None, "n")] * (len(CSV_COLUMNS) - len(cells)))
    return out


def _expected(table: dict) -> list[list]:
    """The rows the JSON answer gives, written out here (not through regstats.rows): a group's total, then its
    commodities."""
    out = []
    for g in table["groups"]:
        head = [table["period"], table["by"], g["key"], g["name"]]
        out.append([*head, None, None, g["records"], g["weight_kg"], g["avg_price"], g["previous_kg"], g["change"]])
        for c in g.get("commodities", []):
            out.append(
                [*head, c["goods_code"], c["goods_name"], c["records"], c["weight_kg"], c["avg_price"], None, None]
            )
    return out


def _same_as_json(sheet: list[list], table: dict) -> None:
    """Every cell of the sheet is the JSON answer's value (text exactly, numbers by value, empty = none)."""
    assert [v for v, _t in sheet[0]] == list(CSV_COLUMNS)
    want = _expected(table)
    assert want == list(rows(table))
    assert len(sheet) == 1 + len(want) and len(want) == sum(1 + len(g.get("commodities", [])) for g in table["groups"])
    for got, row in zip(sheet[1:], want):
        for col, (value, kind), expected in zip(CSV_COLUMNS, got, row):
            if expected is None or (col == "avg_price" and not expected):
                assert value is None, (col, value)
            elif col in TEXT:
                assert (value, kind) == (str(expected), "s"), (col, value, kind)
            else:
                assert kind == "n" and Decimal(str(value)) == Decimal(str(expected)), (col, value, expected)


def _same_as_csv(sheet: list[list], csv_text: str) -> None:
    """The CSV export has the same cells (a text cell the CSV defused with an apostrophe aside)."""
    lines = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert len(lines) == len(sheet)
    for got, line in zip(sheet, lines):
        assert len(line) == len(CSV_COLUMNS)
        for col, (value, _kind), text in zip(CSV_COLUMNS, got, line):
            if value is None:
                assert text == "", (col, text)
            elif col in TEXT or isinstance(value, str):
                assert text in (value, "'" + value) and (text == value) == (value[:1] not in "=+-@\t\r"), (col, text)
            else:
                assert Decimal(text) == Decimal(str(value)), (col, text, value)


@pytest.fixture
def city(platform):
    upload_all(platform, meat_chain())
    upload_all(platform, veg_chain())
    return platform


@pytest.mark.parametrize("by", GROUPINGS)
def test_workbook_cells_equal_the_json_and_the_csv(city, by):
    table = RegulatorStats(city.svc.store, P).table(periods.parse(today()), by)
    assert table["groups"]
    table["groups"][0]["name"] = HOSTILE  # a name a spreadsheet would run as a formula
    sheet = _sheet(to_xlsx(table))
    _same_as_json(sheet, table)
    _same_as_csv(sheet, to_csv(table))
    assert sheet[1][CSV_COLUMNS.index("name")] == (HOSTILE, "s")  # kept as text, never a formula
    with zipfile.ZipFile(io.BytesIO(to_xlsx(table))) as z:  # the same table, the same bytes: no clock inside
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert b"2000-01-01T00:00:00Z</dcterms:modified>" in z.read("docProps/core.xml")


def _get(platform, key: str, **params):
    target, headers = signed_get(P.envelope, key, "650100", "/api/v1/regulator/stats", params)
    return platform.client.get(target, headers=headers)


def test_stats_endpoint_answers_xlsx_with_the_json_answers_cells(city):
    key = Regulators(city.svc.store, city.svc.secret, P).register("650100", "乌鲁木齐市商务局")
    for by in ("district", "commodity", "operator"):
        q = {"period": today(), "by": by}
        doc = _get(city, key, **q).json()
        r = _get(city, key, **q, format="xlsx")
        assert r.status_code == 200, r.text[:300]
        assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert f'filename="regulator-stats-{today()}-{by}.xlsx"' in r.headers["content-disposition"]
        sheet = _sheet(r.content)
        _same_as_json(sheet, doc)
        _same_as_csv(sheet, _get(city, key, **q, format="csv").content.decode("utf-8"))
        assert r.content == to_xlsx(doc)
    assert _get(city, key, period=today(), format="xls").status_code in (400, 422)


def test_report_districts_writes_an_xlsx_beside_the_csv(city, tmp_path, capsys):
    key = tmp_path / "regulator.key"
    key.write_text(Regulators(city.svc.store, city.svc.secret, P).register("650100", "乌鲁木齐市商务局"))
    out = tmp_path / "rep"
    cmd = ["report", "districts", "--platform", city.url, "--period", today(), "--out", str(out), "--json"]
    assert main([*cmd, "--regulator", "650100", "--key-file", str(key)]) == 0
    assert "districts.xlsx" in json.loads(capsys.readouterr().out)["files"]
    volumes = json.loads((out / "districts.json").read_text("utf-8"))["volumes"]
    sheet = _sheet((out / "districts.xlsx").read_bytes())
    assert len(sheet) > 3
    _same_as_json(sheet, volumes)
    _same_as_csv(sheet, (out / "districts.csv").read_text("utf-8"))


class _ShapelessStats(QuietHandler):
    """A platform whose regulator endpoints answer JSON objects, the statistics without their table's shape."""

    def do_GET(self):
        body = b'{"districts": []}' if "/districts" in self.path else b'{"groups": [{"key": "650103"}]}'
        if "format=csv" in self.path:
            body = b"period,by\r\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("lang,words", [("zh", "统计表的结构"), ("en", "has not the table's shape")])
def test_report_refuses_statistics_without_the_tables_shape_and_writes_nothing(tmp_path, capsys, lang, words):
    key = tmp_path / "regulator.key"
    key.write_text("k" * 32)
    out = tmp_path / "rep"
    with BackgroundHTTPServer(_ShapelessStats) as srv:
        cmd = ["report", "districts", "--platform", srv.base_url, "--period", "2026-W49", "--out", str(out)]
        assert main([*cmd, "--regulator", "650100", "--key-file", str(key), "--lang", lang]) == 3
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and not out.exists()
