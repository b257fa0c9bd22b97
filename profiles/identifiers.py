"""Identifiers carried as data: 统一社会信用代码, plates, certificates, resident ids, card UIDs, ear tags, bases.

The rules live in ``identifiers.toml`` (each section states its evidence);
this module interprets them.  Kinds (:data:`KINDS`) and their rule ids::

    uscc         18 chars, GB 32100           CODE-USCC-01 structure, charset, department/category, region
                                              CODE-USCC-02 check character (position 18)
                                              CODE-USCC-03 embedded GB 11714 org-code check (position 17)
    plate        GA 36 (新A·12345, 新AD12345) CODE-PLATE-01 format;  CODE-PLATE-02 letter I or O
    certificate  profile format (20 chars)    CODE-CERT-01
    resident_id  GB 11643, 18 chars           CODE-RESID-01 structure, birth date;  CODE-RESID-02 check
    card_uid     4-byte UID, 8 uppercase hex  CODE-CARD-01
    ear_tag      畜禽标识, 15 digits           CODE-EARTAG-01 species + county + serial (and a tag range)
    base_id      profile format (10 digits)   CODE-BASE-01 county + serial of a production base

Validators (``findings``, ``is_valid``, ``check``) never raise for bad input,
whatever its type; they return :class:`~profiles.findings.Finding` objects.
An unknown GB/T 2260 code inside a USCC or a certificate is a *warning*
(real data carries historic codes).  Generators take a ``random.Random`` and
always return valid identifiers; they raise ``ValueError`` when asked for an
impossible one (unknown province, bad region…).
"""

from __future__ import annotations

import datetime as _dt
import random
from typing import Any

from .findings import Finding, Report
from .regions import RegionTable

KINDS = ("uscc", "plate", "certificate", "resident_id", "card_uid", "ear_tag", "base_id")
PLATE_KINDS = ("ordinary", "nev_small", "nev_large")

_KIND_ZH = {
    "uscc": "统一社会信用代码",
    "plate": "车牌号",
    "certificate": "证明编号",
    "resident_id": "公民身份号码",
    "card_uid": "卡片UID",
    "ear_tag": "畜禽标识编码",
    "base_id": "生产基地编号",
}
_KIND_EN = {
    "uscc": "unified social credit code",
    "plate": "vehicle plate",
    "certificate": "certificate number",
    "resident_id": "resident id number",
    "card_uid": "card UID",
    "ear_tag": "ear tag number",
    "base_id": "production base id",
}
_HEX = "0123456789ABCDEF"


def _describe_char(ch: str) -> tuple[str, str]:
    """A short zh/en description of a character that is out of place."""
    if "\uff10" <= ch <= "\uff19" or "\uff21" <= ch <= "\uff3a":
        half = chr(ord(ch) - 0xFEE0)
        return f"全角字符「{ch}」（应为半角「{half}」）", f"the full-width character {ch!r} (use {half!r})"
    if ch.isspace():
        return f"空白字符（U+{ord(ch):04X}）", f"white space (U+{ord(ch):04X})"
    if ch.isascii() and ch.islower():
        return f"小写字母「{ch}」（应为大写）", f"the lower-case letter {ch!r} (use upper case)"
    return f"字符「{ch}」", f"the character {ch!r}"


def _valid_date(text: str) -> bool:
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        return False
    try:
        _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


class Identifiers:
    """The profile's identifier rules over its region table.

    :param regions: the profile's GB/T 2260 table (for USCC and certificate regions).
    :param spec: the ``identifiers`` data of the profile (``identifiers.toml``).
    """

    def __init__(self, regions: RegionTable, spec: dict[str, Any]):
        self.regions = regions
        self.spec = spec
        u = spec["uscc"]
        self.uscc_alphabet: str = u["alphabet"]
        self._uscc_value = {c: i for i, c in enumerate(self.uscc_alphabet)}
        self._uscc_weights = [int(w) for w in u["weights"]]
        self._org_weights = [int(w) for w in u["orgcode"]["weights"]]
        self.departments: dict[str, Any] = u["departments"]
        self._national = frozenset(u.get("national_region_codes", []))
        p = spec["plate"]
        self.provinces: dict[str, str] = dict(p["provinces"])
        self.plate_letters: str = p["letters"]
        self._plate_sep: str = p["separator"]
        self._max_serial_letters = int(p["max_serial_letters"])
        self._energy = p["nev_energy_letters"]
        self.city_plate_prefix: dict[str, str] = dict(p.get("city_prefix", {}))
        c = spec["certificates"]
        self.cert_kinds: dict[str, dict[str, Any]] = c["kinds"]
        self._cert_serial = int(c["serial_digits"])
        self._cert_by_prefix = {v["prefix"]: k for k, v in self.cert_kinds.items()}
        self._cert_len = 2 + 6 + 8 + self._cert_serial
        r = spec["resident_id"]
        self._rid_weights = [int(w) for w in r["weights"]]
        self._rid_checks: str = r["check_chars"]
        self._uid_len = 2 * int(spec["card_uid"]["bytes"])
        e = spec["ear_tag"]
        self.ear_tag_species: dict[str, dict[str, Any]] = dict(e["species"])
        self._tag_serial = int(e["serial_digits"])
        self._tag_len = 1 + 6 + self._tag_serial
        self._base_serial = int(spec["base_id"]["serial_digits"])
        self._base_len = 6 + self._base_serial
        self.enums: dict[str, dict[str, Any]] = {
            k: {c: v for c, v in t.items() if isinstance(v, dict)} for k, t in spec.get("enums", {}).items()
        }

    # == 统一社会信用代码 ====================================================
    def orgcode_check_char(self, body8: str) -> str:
        """GB 11714 check character of an 8-character org-code body (0-9, A-Z)."""
        total = sum(self._orgcode_value(ch) * w for ch, w in zip(body8, self._org_weights))
        c = 11 - total % 11
        return "X" if c == 10 else "0" if c == 11 else str(c)

    @staticmethod
    def _orgcode_value(ch: str) -> int:
        return ord(ch) - 48 if ch.isdigit() else ord(ch) - 55  # A=10 … Z=35

    def uscc_check_char(self, first17: str) -> str:
        """GB 32100 check character of the first 17 characters (all in the USCC alphabet)."""
        total = sum(self._uscc_value[ch] * w for ch, w in zip(first17, self._uscc_weights))
        return self.uscc_alphabet[(31 - total % 31) % 31]

    def _uscc_findings(self, code: str) -> list[Finding]:
        n = int(self.spec["uscc"]["length"])
        if code == "":
            return [Finding("CODE-USCC-01", "code", "统一社会信用代码为空", "the unified social credit code is empty")]
        out: list[Finding] = []
        if len(code) != n:
            out.append(
                Finding(
                    "CODE-USCC-01",
                    "length",
                    f"统一社会信用代码应为{n}位，实为{len(code)}位",
                    f"a unified social credit code has {n} characters, this has {len(code)}",
                    value=str(len(code)),
                )
            )
        for i, ch in enumerate(code):
            if ch in self._uscc_value:
                continue
            dz, de = _describe_char(ch)
            if ch in "IOZSV":
                dz, de = f"字母「{ch}」（不使用I、O、Z、S、V）", f"the letter {ch!r} (I, O, Z, S, V are not used)"
            out.append(
                Finding(
                    "CODE-USCC-01",
                    f"[{i}]",
                    f"第{i + 1}位是{dz}，不在代码字符集中",
                    f"position {i + 1} is {de}, outside the code's character set",
                    value=ch,
                )
            )
        if out:
            return out
        dept, cat, region = code[0], code[1], code[2:8]
        d = self.departments.get(dept)
        if d is None:
            out.append(
                Finding(
                    "CODE-USCC-01",
                    "[0]",
                    f"登记管理部门代码「{dept}」不存在",
                    f"registration department code {dept!r} does not exist",
                    value=dept,
                )
            )
        elif cat not in d["categories"]:
            sev = "error" if d.get("verified", True) else "warning"
            out.append(
                Finding(
                    "CODE-USCC-01",
                    "[1]",
                    f"机构类别代码「{cat}」不属于登记管理部门「{dept}」（{d['zh']}）",
                    f"organisation category {cat!r} is not one of department {dept!r} ({d['en']})",
                    severity=sev,
                    value=cat,
                )
            )
        if region not in self.regions and region not in self._national:
            out.append(
                Finding(
                    "CODE-USCC-01",
                    "[2:8]",
                    f"第3-8位「{region}」不是现行GB/T 2260行政区划代码（可能是历史代码）",
                    f"positions 3-8 {region!r} are not a current GB/T 2260 code (may be a historic one)",
                    severity="warning",
                    value=region,
                )
            )
        want17 = self.orgcode_check_char(code[8:16])
        if code[16] != want17:
            out.append(
                Finding(
                    "CODE-USCC-03",
                    "[16]",
                    f"组织机构代码校验码（第17位）应为「{want17}」，实为「{code[16]}」",
                    f"the org-code check character (position 17) should be {want17!r}, is {code[16]!r}",
                    value=code[16],
                )
            )
        want18 = self.uscc_check_char(code[:17])
        if code[17] != want18:
            out.append(
                Finding(
                    "CODE-USCC-02",
                    "[17]",
                    f"校验码（第18位）应为「{want18}」，实为「{code[17]}」",
                    f"the check character (position 18) should be {want18!r}, is {code[17]!r}",
                    value=code[17],
                )
            )
        return out

    def new_uscc(self, rng: random.Random, region: str, department: str = "9", category: str = "1") -> str:
        """A valid USCC registered in ``region`` (a GB/T 2260 code).

        Department 9 codes get the post-2015 ``MA`` body prefix, as newly
        registered enterprises and 个体工商户 do in practice.
        """
        if region not in self.regions and region not in self._national:
            raise ValueError(f"unknown GB/T 2260 code {region!r}")
        if category not in self.departments.get(department, {}).get("categories", {}):
            raise ValueError(f"no category {category!r} under department {department!r}")
        alpha = self.uscc_alphabet
        head = "MA" if department == "9" else rng.choice(alpha[:10]) + rng.choice(alpha)
        body = head + "".join(rng.choice(alpha) for _ in range(6))
        first17 = f"{department}{category}{region}{body}{self.orgcode_check_char(body)}"
        return first17 + self.uscc_check_char(first17)

    # == 车牌号 ==============================================================
    def plate_kind(self, plate: str) -> str | None:
        """``ordinary``, ``nev_small`` or ``nev_large`` for a valid plate, else ``None``."""
        if not isinstance(plate, str) or self._plate_findings(plate):
            return None
        serial = self._plate_serial(plate)
        if len(serial) == 5:
            return "ordinary"
        return "nev_small" if serial[0] in self._energy else "nev_large"

    def _plate_serial(self, plate: str) -> str:
        rest = plate[2:]
        return rest[1:] if rest.startswith(self._plate_sep) else rest

    def _plate_findings(self, plate: str) -> list[Finding]:
        R1, R2 = "CODE-PLATE-01", "CODE-PLATE-02"
        if plate == "":
            return [Finding(R1, "plate", "车牌号为空", "the plate is empty")]
        out: list[Finding] = []
        for i, ch in enumerate(plate):
            if ch in "IO":
                out.append(
                    Finding(
                        R2,
                        f"[{i}]",
                        f"第{i + 1}位是字母「{ch}」，号牌不使用I和O",
                        f"position {i + 1} is the letter {ch!r}; plates never use I or O",
                        value=ch,
                    )
                )
        if "-" in plate:
            out.append(
                Finding(
                    R1,
                    "plate",
                    "车牌号不含连字符「-」（可写作「新A·12345」或「新A12345」）",
                    "a plate has no hyphen (write 新A·12345 or 新A12345)",
                    value=plate,
                )
            )
            return out
        prov = plate[0]
        if prov not in self.provinces:
            out.append(
                Finding(
                    R1,
                    "[0]",
                    f"第1位「{prov}」不是省、自治区、直辖市简称",
                    f"position 1 {prov!r} is not a provincial abbreviation",
                    value=prov,
                )
            )
        if len(plate) < 2 or plate[1] not in self.plate_letters + "IO":
            got = plate[1] if len(plate) > 1 else ""
            out.append(
                Finding(
                    R1,
                    "[1]",
                    f"第2位「{got}」应为发牌机关代号（大写字母）",
                    f"position 2 {got!r} should be the issuing authority letter (upper case)",
                    value=got,
                )
            )
        serial = self._plate_serial(plate) if len(plate) > 2 else ""
        allowed = self.plate_letters + "0123456789IO"
        bad = [ch for ch in serial if ch not in allowed]
        if bad or len(serial) not in (5, 6):
            out.append(
                Finding(
                    R1,
                    "serial",
                    f"序号「{serial}」应为5位（普通号牌）或6位（新能源号牌）数字或大写字母",
                    f"the serial {serial!r} should be 5 (ordinary) or 6 (new-energy) digits or upper-case letters",
                    value=serial,
                )
            )
            return out
        if len(serial) == 5:
            letters = sum(1 for ch in serial if not ch.isdigit())
            if letters > self._max_serial_letters:
                out.append(
                    Finding(
                        R1,
                        "serial",
                        f"普通号牌序号最多含{self._max_serial_letters}个字母，此处有{letters}个",
                        f"an ordinary plate's serial has at most {self._max_serial_letters} letters, "
                        f"this has {letters}",
                        value=serial,
                    )
                )
        else:
            small = serial[0] in self._energy and serial[2:].isdigit()
            large = serial[:5].isdigit() and serial[5] in self._energy
            if not (small or large):
                out.append(
                    Finding(
                        R1,
                        "serial",
                        "新能源号牌序号应为D/F+字母或数字+4位数字（小型）或5位数字+D/F（大型）",
                        "a new-energy serial is D/F + letter-or-digit + 4 digits (small) or 5 digits + D/F (large)",
                        value=serial,
                    )
                )
        return out

    def new_plate(
        self, rng: random.Random, prefix: str = "新A", kind: str = "ordinary", separator: bool = False
    ) -> str:
        """A valid plate under ``prefix`` (province + authority letter, default 新A = 乌鲁木齐).

        ``kind`` is one of :data:`PLATE_KINDS`; ordinary serials carry 0-2
        letters.  With ``separator`` the middle dot follows the authority letter.
        """
        if len(prefix) != 2 or prefix[0] not in self.provinces or prefix[1] not in self.plate_letters:
            raise ValueError(f"bad plate prefix {prefix!r}")
        digits, letters = "0123456789", self.plate_letters
        if kind == "ordinary":
            n_letters = rng.choice((0, 0, 0, 1, 1, 2))
            chars = [rng.choice(digits) for _ in range(5)]
            for pos in rng.sample(range(5), n_letters):
                chars[pos] = rng.choice(letters)
            serial = "".join(chars)
        elif kind == "nev_small":
            serial = (
                rng.choice(self._energy) + rng.choice(letters + digits) + "".join(rng.choice(digits) for _ in range(4))
            )
        elif kind == "nev_large":
            serial = "".join(rng.choice(digits) for _ in range(5)) + rng.choice(self._energy)
        else:
            raise ValueError(f"plate kind must be one of {PLATE_KINDS}")
        return prefix + (self._plate_sep if separator else "") + serial

    def plate_prefix_of(self, city_code: str) -> str | None:
        """The plate prefix of a prefecture (``650100`` → ``新A``) if the profile knows it."""
        return self.city_plate_prefix.get(city_code)

    # == 证明编号 ============================================================
    def _cert_findings(self, number: str, kind: str | None = None) -> list[Finding]:
        R = "CODE-CERT-01"
        if kind is not None and kind not in self.cert_kinds:
            raise ValueError(f"certificate kind must be one of {sorted(self.cert_kinds)}")
        if number == "":
            return [Finding(R, "number", "证明编号为空", "the certificate number is empty")]
        n = self._cert_len
        out: list[Finding] = []
        if len(number) != n:
            out.append(
                Finding(
                    R,
                    "length",
                    f"证明编号（本配置格式 PP+区划6位+日期8位+流水{self._cert_serial}位）"
                    f"应为{n}位，实为{len(number)}位",
                    f"a certificate number (profile format PP + 6-digit region + 8-digit date + "
                    f"{self._cert_serial}-digit serial) has {n} characters, this has {len(number)}",
                    value=str(len(number)),
                )
            )
            return out
        prefix = number[:2]
        got_kind = self._cert_by_prefix.get(prefix)
        if got_kind is None:
            known = "、".join(f"{v['prefix']}({v['zh']})" for v in self.cert_kinds.values())
            out.append(
                Finding(
                    R,
                    "[0:2]",
                    f"前缀「{prefix}」不是已知证明类别：{known}",
                    f"prefix {prefix!r} is not a known certificate kind "
                    f"({', '.join(v['prefix'] for v in self.cert_kinds.values())})",
                    value=prefix,
                )
            )
        elif kind is not None and got_kind != kind:
            want = self.cert_kinds[kind]
            out.append(
                Finding(
                    R,
                    "[0:2]",
                    f"前缀「{prefix}」是{self.cert_kinds[got_kind]['zh']}，此处应为{want['zh']}（{want['prefix']}）",
                    f"prefix {prefix!r} is a {self.cert_kinds[got_kind]['en']}; "
                    f"expected a {want['en']} ({want['prefix']})",
                    value=prefix,
                )
            )
        rest = number[2:]
        if not (rest.isascii() and rest.isdigit()):
            out.append(
                Finding(
                    R, "[2:]", "前缀之后应全为半角数字", "everything after the prefix must be ASCII digits", value=rest
                )
            )
            return out
        region, date, serial = rest[:6], rest[6:14], rest[14:]
        if region not in self.regions:
            out.append(
                Finding(
                    R,
                    "[2:8]",
                    f"签发地区划码「{region}」不是现行GB/T 2260代码",
                    f"issuer region {region!r} is not a current GB/T 2260 code",
                    severity="warning",
                    value=region,
                )
            )
        if not _valid_date(date):
            out.append(
                Finding(
                    R,
                    "[8:16]",
                    f"签发日期「{date}」不是有效日期（YYYYMMDD）",
                    f"issue date {date!r} is not a valid date (YYYYMMDD)",
                    value=date,
                )
            )
        if set(serial) == {"0"}:
            out.append(Finding(R, "[16:]", "流水号不能全为0", "the serial cannot be all zeros", value=serial))
        return out

    def new_certificate(self, kind: str, region: str, date: _dt.date, serial: int) -> str:
        """The certificate number of ``kind`` issued in ``region`` on ``date`` with ``serial`` (1..9999)."""
        if kind not in self.cert_kinds:
            raise ValueError(f"certificate kind must be one of {sorted(self.cert_kinds)}")
        if region not in self.regions:
            raise ValueError(f"unknown GB/T 2260 code {region!r}")
        if not 1 <= serial < 10**self._cert_serial:
            raise ValueError(f"serial must be 1..{10**self._cert_serial - 1}")
        return f"{self.cert_kinds[kind]['prefix']}{region}{date:%Y%m%d}{serial:0{self._cert_serial}d}"

    def certificate_kind(self, number: str) -> str | None:
        """The kind a certificate number's prefix names (``None`` if unknown)."""
        return self._cert_by_prefix.get(number[:2]) if isinstance(number, str) else None

    # == 公民身份号码 ========================================================
    def resident_id_check_char(self, first17: str) -> str:
        """GB 11643 (ISO 7064 MOD 11-2) check character of 17 digits."""
        return self._rid_checks[sum(int(c) * w for c, w in zip(first17, self._rid_weights)) % 11]

    def _resident_id_findings(self, rid: str) -> list[Finding]:
        R1, R2 = "CODE-RESID-01", "CODE-RESID-02"
        if len(rid) != 18:
            return [
                Finding(
                    R1,
                    "length",
                    f"公民身份号码应为18位，实为{len(rid)}位",
                    f"a resident id number has 18 characters, this has {len(rid)}",
                    value=str(len(rid)),
                )
            ]
        out: list[Finding] = []
        body, last = rid[:17], rid[17]
        if not (body.isascii() and body.isdigit()) or last not in "0123456789X":
            return [
                Finding(
                    R1,
                    "charset",
                    "前17位应为数字，第18位为数字或大写X",
                    "the first 17 characters are digits, the 18th a digit or upper-case X",
                    value=rid,
                )
            ]
        if not _valid_date(body[6:14]):
            out.append(
                Finding(
                    R1,
                    "[6:14]",
                    f"出生日期「{body[6:14]}」无效",
                    f"birth date {body[6:14]!r} is invalid",
                    value=body[6:14],
                )
            )
        want = self.resident_id_check_char(body)
        if last != want:
            out.append(
                Finding(
                    R2,
                    "[17]",
                    f"校验码应为「{want}」，实为「{last}」",
                    f"the check character should be {want!r}, is {last!r}",
                    value=last,
                )
            )
        return out

    # == 卡片 UID ============================================================
    def _card_uid_findings(self, uid: str) -> list[Finding]:
        n = self._uid_len
        if len(uid) == n and all(ch in _HEX for ch in uid):
            return []
        return [
            Finding(
                "CODE-CARD-01",
                "uid",
                f"卡片UID应为{n // 2}字节，即{n}位大写十六进制（无分隔符）",
                f"a card UID is {n // 2} bytes: {n} upper-case hex digits, no separators",
                value=uid,
            )
        ]

    def new_card_uid(self, rng: random.Random) -> str:
        return "".join(rng.choice(_HEX) for _ in range(self._uid_len))

    # == 畜禽标识编码 / 生产基地编号 ===========================================
    #: digit-only identifiers: rule, zh name, en name, zh layout, en layout (``{n}``: serial digits)
    _DIGIT_KINDS = {
        "ear_tag": (
            "CODE-EARTAG-01",
            "畜禽标识编码",
            "ear tag number",
            "畜种1位+县级区划码6位+顺序号{n}位",
            "species 1 + county code 6 + serial {n}",
        ),
        "base_id": (
            "CODE-BASE-01",
            "生产基地编号（本配置格式）",
            "production base id (profile format)",
            "县级区划码6位+基地顺序号{n}位",
            "county code 6 + base serial {n}",
        ),
    }

    def _digits_findings(self, kind: str, value: str) -> list[Finding]:
        """The length and charset finding of a digit-only identifier ``kind`` (empty when both hold)."""
        rule, zh_kind, en_kind, lay_zh, lay_en = self._DIGIT_KINDS[kind]
        n, length = (self._tag_serial, self._tag_len) if kind == "ear_tag" else (self._base_serial, self._base_len)
        if value == "":
            return [Finding(rule, "value", f"{zh_kind}为空", f"the {en_kind} is empty")]
        if len(value) != length or not (value.isascii() and value.isdigit()):
            return [
                Finding(
                    rule,
                    "format",
                    f"{zh_kind}应为{length}位半角数字（{lay_zh.format(n=n)}），实为「{value}」",
                    f"the {en_kind} must be {length} ASCII digits ({lay_en.format(n=n)}), this is {value!r}",
                    value=value,
                )
            ]
        return []

    def _county_serial(self, county: str, serial: int, digits: int) -> None:
        """Raise ``ValueError`` unless ``county`` is a current GB/T 2260 code and ``serial`` fits ``digits``."""
        if county not in self.regions:
            raise ValueError(f"unknown GB/T 2260 code {county!r}")
        if not 1 <= serial < 10**digits:
            raise ValueError(f"serial must be 1..{10**digits - 1}")

    def _region_warning(self, rule: str, field: str, region: str) -> list[Finding]:
        if region in self.regions:
            return []
        return [
            Finding(
                rule,
                field,
                f"区划码「{region}」不是现行GB/T 2260代码（可能是历史代码）",
                f"region {region!r} is not a current GB/T 2260 code (may be a historic one)",
                severity="warning",
                value=region,
            )
        ]

    def _ear_tag_findings(self, tag: str) -> list[Finding]:
        R = "CODE-EARTAG-01"
        out = self._digits_findings("ear_tag", tag)
        if out:
            return out
        if tag[0] not in self.ear_tag_species:
            known = "、".join(f"{k}={v['zh']}" for k, v in self.ear_tag_species.items())
            out.append(
                Finding(
                    R,
                    "[0]",
                    f"畜种代码「{tag[0]}」未知（{known}）",
                    f"species code {tag[0]!r} is unknown ({', '.join(self.ear_tag_species)})",
                    value=tag[0],
                )
            )
        out += self._region_warning(R, "[1:7]", tag[1:7])
        return out

    def ear_tag_range_findings(self, start: object, end: object) -> list[Finding]:
        """Findings about a range of tags ``start``..``end`` on one record (profile convention): both valid
        tags, the same species and county, and ``start <= end``.  Never raises."""
        R = "CODE-EARTAG-01"
        out = self.findings(start, "ear_tag") + self.findings(end, "ear_tag")
        if any(f.severity == "error" for f in out) or not (isinstance(start, str) and isinstance(end, str)):
            return out  # a value that is not text is an error finding above: the second test only narrows
        if start[:7] != end[:7]:
            out.append(
                Finding(
                    R,
                    "range",
                    f"耳标号段「{start}」至「{end}」的畜种或县级区划码不一致",
                    f"the tag range {start}..{end} spans two species or counties",
                    value=f"{start}-{end}",
                )
            )
        elif start > end:
            out.append(
                Finding(
                    R,
                    "range",
                    f"耳标号段起号「{start}」大于止号「{end}」",
                    f"the tag range starts after it ends ({start} > {end})",
                    value=f"{start}-{end}",
                )
            )
        return out

    def new_ear_tag(self, species: str, county: str, serial: int) -> str:
        """The ear tag of ``species`` (a species code ``1``… or an animal name ``pig``…) under ``county``."""
        code = (
            species
            if species in self.ear_tag_species
            else next(
                (k for k, v in self.ear_tag_species.items() if v.get("animal") == species and "evidence" not in v), None
            )
        )
        if code is None:
            raise ValueError(f"no ear-tag species code for {species!r}")
        self._county_serial(county, serial, self._tag_serial)
        return f"{code}{county}{serial:0{self._tag_serial}d}"

    def _base_id_findings(self, base: str) -> list[Finding]:
        out = self._digits_findings("base_id", base)
        if not out and set(base[6:]) == {"0"}:
            out.append(
                Finding(
                    "CODE-BASE-01", "[6:]", "基地顺序号不能全为0", "the base serial cannot be all zeros", value=base[6:]
                )
            )
        return out or self._region_warning("CODE-BASE-01", "[0:6]", base[:6])

    def new_base_id(self, county: str, serial: int) -> str:
        """The production base id of the ``serial``-th base of ``county`` (profile format)."""
        self._county_serial(county, serial, self._base_serial)
        return f"{county}{serial:0{self._base_serial}d}"

    # == dispatch ============================================================
    def findings(self, value: object, kind: str, cert_kind: str | None = None) -> list[Finding]:
        """Every finding about ``value`` read as ``kind`` (one of :data:`KINDS`).

        ``cert_kind`` narrows ``certificate`` to one certificate kind.  A
        value that is not a ``str`` is one finding, never an exception.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if not isinstance(value, str):
            rule = {
                "uscc": "CODE-USCC-01",
                "plate": "CODE-PLATE-01",
                "certificate": "CODE-CERT-01",
                "resident_id": "CODE-RESID-01",
                "card_uid": "CODE-CARD-01",
                "ear_tag": "CODE-EARTAG-01",
                "base_id": "CODE-BASE-01",
            }[kind]
            return [
                Finding(
                    rule,
                    kind,
                    f"{_KIND_ZH[kind]}应为文本，实为{type(value).__name__}",
                    f"a {_KIND_EN[kind]} must be text, not {type(value).__name__}",
                )
            ]
        if kind == "uscc":
            return self._uscc_findings(value)
        if kind == "plate":
            return self._plate_findings(value)
        if kind == "certificate":
            return self._cert_findings(value, cert_kind)
        if kind == "resident_id":
            return self._resident_id_findings(value)
        if kind == "ear_tag":
            return self._ear_tag_findings(value)
        if kind == "base_id":
            return self._base_id_findings(value)
        return self._card_uid_findings(value)

    def is_valid(self, value: object, kind: str, cert_kind: str | None = None) -> bool:
        """True iff ``value`` has no error-severity finding as ``kind``."""
        return not any(f.severity == "error" for f in self.findings(value, kind, cert_kind))

    def check(self, value: str, kind: str, cert_kind: str | None = None) -> Report:
        """A report on ``value`` as ``kind``; an ear tag or base id without errors also gets its ``parts``
        (``details["parts"]``: species, region code and name, serial)."""
        rep = Report(str(value), details={"kind": kind})
        rep.extend(self.findings(value, kind, cert_kind))
        if rep.ok and kind in ("ear_tag", "base_id"):
            rep.details["parts"] = self._source_parts(value, kind)
        return rep

    def check_ear_tag_range(self, start: object, end: object) -> Report:
        """A report on the range ``start``..``end`` (:meth:`ear_tag_range_findings`), with its head count."""
        rep = Report(f"{start}..{end}", details={"kind": "ear_tag_range"})
        rep.extend(self.ear_tag_range_findings(start, end))
        if rep.ok and isinstance(start, str) and isinstance(end, str):  # ok implies text (findings)
            rep.details["parts"] = {
                **self._source_parts(start, "ear_tag"),
                "serial": f"{start[7:]}..{end[7:]}",
                "head_count": str(int(end[7:]) - int(start[7:]) + 1),
            }
        return rep

    def _source_parts(self, value: str, kind: str) -> dict[str, str]:
        region = value[1:7] if kind == "ear_tag" else value[:6]
        parts = {"region_code": region, "region_name": self.regions.full_name(region) or ""}
        if kind == "ear_tag":
            parts.update(species=self.ear_tag_species[value[0]]["zh"], serial=value[7:])
        else:
            parts["base_seq"] = value[6:]
        return parts

    def enum_label(self, enum: str, code: str, lang: str = "zh") -> str | None:
        """The label of ``code`` in enumeration ``enum`` (``supply_type``…), or ``None``."""
        entry = self.enums.get(enum, {}).get(code)
        return None if entry is None else entry.get(lang, entry.get("zh"))
