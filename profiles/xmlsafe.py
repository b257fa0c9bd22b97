"""The only place XML from outside is parsed.  Hostile input gives findings, never a crash.

Contract of :class:`XmlSource` (the input is the raw ``bytes`` of a message
or file, as received):

* **Size** (TRAN-ENC-03): more than ``limits.max_bytes`` bytes is refused
  before anything is decoded or parsed.
* **Encoding** (TRAN-ENC-01): UTF-8 is the default (no declaration, or a
  UTF-8 byte-order mark).  A declared ``GBK``, ``GB2312``, ``GB18030`` or
  ``CP936`` is decoded *strictly* as GB18030 (a superset of the other three).
  ``US-ASCII`` is accepted if every byte is ASCII.  Any other declared
  encoding (UTF-16, Big5, ISO-8859-1…) is refused.  Mislabelled input is
  refused with a finding that says what the bytes look like: declared GBK
  but the bytes are UTF-8 with non-ASCII characters; declared UTF-8 but the
  bytes are GB18030; or bytes invalid in the declared encoding (with the
  byte offset).
* **Hostile constructs** (TRAN-ENC-02): any DTD (``<!DOCTYPE``), entity
  declaration or external reference is refused; this covers billion laughs,
  quadratic blow-up and XXE (``file://``, external DTD).  A document whose
  (UTF-8) bytes contain ``<!DOCTYPE`` is parsed by :mod:`defusedxml` with
  ``forbid_dtd=True``, which refuses it; one without cannot declare or
  fetch any entity (expat reports an undefined reference as an error), so it
  goes through the C parser, about twice as fast.  Nothing is ever expanded
  or fetched.
* **Depth and element count** (TRAN-ENC-03): checked *while* parsing;
  parsing stops at the first element deeper than ``limits.max_depth`` or
  beyond ``limits.max_elements``.
* **Well-formedness**: XML that does not parse (truncated, unclosed
  tags…) is reported under TRAN-ENC-01 (the bytes are not XML in the
  declared encoding), with expat's line and column.

Parsing never raises for bad input; it records findings on the source and
stops.  ``XmlSource.events()`` streams ``(event, element, depth)`` with
constant memory per element (the caller clears what it has consumed);
``XmlSource.tree()`` builds the whole tree for small documents.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Iterator, cast
import xml.etree.ElementTree as _ET
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as _det
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from .findings import Finding

ENC_RULE, HOSTILE_RULE, LIMIT_RULE = "TRAN-ENC-01", "TRAN-ENC-02", "TRAN-ENC-03"

#: Declared encodings decoded (strictly) as GB18030.
GB_FAMILY = frozenset({"gbk", "gb2312", "gb18030", "cp936", "x-gbk", "euc-cn"})
_UTF8 = frozenset({"utf-8", "utf8"})
_ASCII = frozenset({"us-ascii", "ascii"})

_DECL = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:\-]{1,40})["'][^>]*\?>""")
_DECL_ANY = re.compile(rb"^<\?xml[^>]*\?>")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one XML input.

    :param max_bytes: largest accepted input, in bytes (default 16 MiB: a
        10,000-record envelope is about 5 MB).
    :param max_depth: deepest element nesting (the root is depth 1; an
        envelope needs 4).
    :param max_elements: most elements in one document.
    """

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 16
    max_elements: int = 2_000_000


DEFAULT_LIMITS = Limits()


class _Stop(Exception):
    pass


def _f(rule: str, field: str, zh: str, en: str, value: str | None = None) -> Finding:
    return Finding(rule, field, zh, en, value=value)


def _offset_context(err: UnicodeDecodeError) -> str:
    return err.object[err.start : err.start + 4].hex(" ")


_CHUNK = 16 * 1024  # what ElementTree.iterparse reads at a time


def _pull_events(data: bytes) -> Iterator[tuple[str, Element]]:
    """``ElementTree.iterparse(BytesIO(data), ("start", "end"))`` without its per-call cost: the same loop (feed
    16 KiB, hand out the events parsed so far; a ``ParseError`` is raised where iterparse raises it), but iterparse
    builds a new iterator class on every call, a measurable share of the parse of a one-record envelope."""
    pull: _ET.XMLPullParser[Element] = _ET.XMLPullParser(events=("start", "end"))
    for i in range(0, len(data), _CHUNK):
        pull.feed(data[i : i + _CHUNK])
        yield from cast(Iterator[tuple[str, Element]], pull.read_events())  # only start/end were asked for
    pull.close()
    yield from cast(Iterator[tuple[str, Element]], pull.read_events())


class XmlSource:
    """Raw bytes from outside, checked for size and encoding; parse with :meth:`events` or :meth:`tree`.

    After construction, :attr:`findings` holds any size or encoding problem;
    if it is non-empty, :meth:`events` yields nothing.  Parse problems are
    appended to :attr:`findings` as parsing meets them.

    :attr declared: the encoding named in the XML declaration (or ``None``).
    :attr encoding: how the bytes were read: ``"utf-8"``, ``"gb18030"`` or
        ``"ascii"`` (``None`` when refused).
    """

    def __init__(self, data: bytes, limits: Limits = DEFAULT_LIMITS):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("XmlSource takes bytes")
        self.limits = limits
        self.findings: list[Finding] = []
        self.declared: str | None = None
        self.encoding: str | None = None
        self._utf8: bytes | None = None
        data = bytes(data)
        if len(data) > limits.max_bytes:
            self.findings.append(
                _f(
                    LIMIT_RULE,
                    "size",
                    f"XML 大小 {len(data)} 字节，超过上限 {limits.max_bytes} 字节",
                    f"XML is {len(data)} bytes, over the limit of {limits.max_bytes} bytes",
                    str(len(data)),
                )
            )
            return
        self._utf8 = self._decode(data)

    # -- encoding ----------------------------------------------------------
    def _decode(self, data: bytes) -> bytes | None:
        bom = None
        for mark, name in _BOMS:
            if data.startswith(mark):
                bom = name
                break
        if bom in ("utf-16", "utf-32"):
            self.findings.append(
                _f(
                    ENC_RULE,
                    "encoding",
                    f"不支持的编码 {bom.upper()}（仅支持 UTF-8 与 GBK/GB18030）",
                    f"unsupported encoding {bom.upper()} (only UTF-8 and GBK/GB18030)",
                    bom,
                )
            )
            return None
        body = data[3:] if bom == "utf-8" else data
        m = _DECL.match(body[:300])
        self.declared = m.group(1).decode("ascii") if m else None
        name = (self.declared or "utf-8").lower().replace("_", "-")
        if bom == "utf-8" and self.declared and name not in _UTF8:
            self.findings.append(
                _f(
                    ENC_RULE,
                    "encoding",
                    f"字节顺序标记为 UTF-8，但声明的编码是 {self.declared}",
                    f"the byte-order mark says UTF-8 but the declaration says {self.declared}",
                    self.declared,
                )
            )
            return None
        if name in _UTF8:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                hint_zh = hint_en = ""
                if _decodes(body, "gb18030"):
                    hint_zh, hint_en = (
                        "（内容像是 GBK/GB18030，却未声明）",
                        " (the bytes look like GBK/GB18030, undeclared)",
                    )
                self.findings.append(
                    _f(
                        ENC_RULE,
                        f"byte {exc.start}",
                        f"{'声明为' + self.declared if self.declared else '未声明编码（默认 UTF-8）'}，"
                        f"但第 {exc.start} 字节起不是有效的 UTF-8（{_offset_context(exc)}）{hint_zh}",
                        f"{'declared ' + self.declared if self.declared else 'no encoding declared (UTF-8 by default)'}"
                        f" but the bytes from offset {exc.start} are not valid UTF-8 ({_offset_context(exc)}){hint_en}",
                        self.declared,
                    )
                )
                return None
            self.encoding = "utf-8"
            if self.declared and self.declared.upper() != "UTF-8":  # e.g. "utf8": expat knows only UTF-8
                return _DECL_ANY.sub(b"", body, count=1)
            return body
        if name in _ASCII:
            if not body.isascii():
                pos = next(i for i, b in enumerate(body) if b > 127)
                self.findings.append(
                    _f(
                        ENC_RULE,
                        f"byte {pos}",
                        f"声明为 {self.declared}，但第 {pos} 字节不是 ASCII",
                        f"declared {self.declared} but byte {pos} is not ASCII",
                        self.declared,
                    )
                )
                return None
            self.encoding = "ascii"
            return body
        if name in GB_FAMILY:
            if not body.isascii() and _decodes(body, "utf-8"):
                self.findings.append(
                    _f(
                        ENC_RULE,
                        "encoding",
                        f"声明为 {self.declared}，但内容是含中文的 UTF-8 字节（编码标注错误）",
                        f"declared {self.declared} but the bytes are UTF-8 with non-ASCII characters (mislabelled)",
                        self.declared,
                    )
                )
                return None
            try:
                text = body.decode("gb18030")
            except UnicodeDecodeError as exc:
                self.findings.append(
                    _f(
                        ENC_RULE,
                        f"byte {exc.start}",
                        f"声明为 {self.declared}，但第 {exc.start} 字节起不是有效的 GB18030 字节（{_offset_context(exc)}）",
                        f"declared {self.declared} but the bytes from offset {exc.start} are not valid GB18030 "
                        f"({_offset_context(exc)})",
                        self.declared,
                    )
                )
                return None
            self.encoding = "gb18030"
            # hand expat UTF-8 without the (now false) declaration
            return _DECL_ANY.sub(b"", text.encode("utf-8"), count=1)
        self.findings.append(
            _f(
                ENC_RULE,
                "encoding",
                f"不支持的编码 {self.declared}（仅支持 UTF-8 与 GBK/GB2312/GB18030）",
                f"unsupported encoding {self.declared} (only UTF-8 and GBK/GB2312/GB18030)",
                self.declared,
            )
        )
        return None

    @property
    def ok(self) -> bool:
        return not self.findings

    # -- parsing -----------------------------------------------------------
    def events(self) -> Iterator[tuple[str, Element, int]]:
        """Yield ``("start"|"end", element, depth)``; stop (with a finding) at the first problem.

        The root has depth 1.  On ``"end"`` the element is complete; the
        caller may ``clear()`` it to keep memory flat.
        """
        if self._utf8 is None or self.findings:
            return
        lim = self.limits
        depth = count = 0
        if b"<!DOCTYPE" in self._utf8:
            # any DTD goes through defusedxml, which refuses it with a precise reason
            it = _det.iterparse(
                io.BytesIO(self._utf8),
                events=("start", "end"),
                forbid_dtd=True,
                forbid_entities=True,
                forbid_external=True,
            )
        else:
            # Without the literal "<!DOCTYPE" (the bytes are UTF-8 here) expat cannot see a DTD, so no entity
            # can be declared or fetched and an undefined reference is a parse error: the C parser is safe.
            it = _pull_events(self._utf8)
        try:
            for ev, el in it:
                if ev == "start":
                    depth += 1
                    count += 1
                    if depth > lim.max_depth:
                        self.findings.append(
                            _f(
                                LIMIT_RULE,
                                "depth",
                                f"元素嵌套超过 {lim.max_depth} 层（<{_tag(el)}>）",
                                f"elements nest deeper than {lim.max_depth} levels (<{_tag(el)}>)",
                                str(depth),
                            )
                        )
                        return
                    if count > lim.max_elements:
                        self.findings.append(
                            _f(
                                LIMIT_RULE,
                                "elements",
                                f"元素个数超过 {lim.max_elements}",
                                f"more than {lim.max_elements} elements",
                                str(count),
                            )
                        )
                        return
                    yield ev, el, depth
                else:
                    yield ev, el, depth
                    depth -= 1
        except DTDForbidden:
            self.findings.append(
                _f(
                    HOSTILE_RULE,
                    "DOCTYPE",
                    "不允许 DTD（<!DOCTYPE>）：拒绝实体展开与外部引用",
                    "a DTD (<!DOCTYPE>) is not allowed: no entity expansion, no external references",
                )
            )
        except EntitiesForbidden:
            self.findings.append(
                _f(
                    HOSTILE_RULE,
                    "ENTITY",
                    "不允许实体声明（<!ENTITY>）",
                    "entity declarations (<!ENTITY>) are not allowed",
                )
            )
        except ExternalReferenceForbidden:
            self.findings.append(_f(HOSTILE_RULE, "external", "不允许外部引用", "external references are not allowed"))
        except DefusedXmlException as exc:
            self.findings.append(
                _f(
                    HOSTILE_RULE,
                    "xml",
                    f"不安全的 XML 结构：{type(exc).__name__}",
                    f"unsafe XML construct: {type(exc).__name__}",
                )
            )
        except ParseError as exc:
            line, col = getattr(exc, "position", (0, 0))
            msg = str(exc).split(":")[0]
            self.findings.append(
                _f(
                    ENC_RULE,
                    f"line {line} col {col}",
                    f"XML 格式错误（非良构）：第 {line} 行第 {col} 列：{msg}",
                    f"XML is not well-formed: line {line} column {col}: {msg}",
                )
            )
        except RecursionError:
            self.findings.append(_f(LIMIT_RULE, "depth", "结构嵌套过深", "structure nested too deep"))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def tree(self) -> Element | None:
        """The whole document as an element tree, or ``None`` (see :attr:`findings`)."""
        root = None
        for ev, el, depth in self.events():
            if depth == 1 and ev == "start":
                root = el
        return root if self.ok else None


def _tag(el: Element) -> str:
    return str(el.tag)[:40]


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def looks_like_xml(data: bytes) -> bool:
    """True if the first non-blank byte (after any BOM) is ``<``."""
    head = data[:64]
    for mark, _ in _BOMS:
        if head.startswith(mark):
            head = head[len(mark) :]
            break
    return head.lstrip()[:1] == b"<"
