"""profiles.xmlsafe / jsonsafe: hostile input gives findings, never a crash, never a hang."""

import time

from hypothesis import given, settings, strategies as st

from profiles.jsonsafe import read_json
from profiles.xmlsafe import Limits, XmlSource, looks_like_xml


def rules(src):
    return [f.rule for f in src.findings]


def parse(data: bytes, limits=Limits()):
    src = XmlSource(data, limits)
    return src, src.tree()


def test_plain_utf8_parses():
    src, root = parse('<?xml version="1.0" encoding="UTF-8"?><a><b>猪肉</b></a>'.encode())
    assert src.ok and src.encoding == "utf-8" and root.find("b").text == "猪肉"


def test_no_declaration_is_utf8_and_bom_is_accepted():
    src, root = parse(b"\xef\xbb\xbf<a>\xe7\x8c\xaa</a>")
    assert src.ok and root.text == "猪"


def test_utf8_spelled_without_hyphen_is_accepted():
    src, root = parse('<?xml version="1.0" encoding="utf8"?><a>羊</a>'.encode())
    assert src.ok and root.text == "羊"


def test_real_gbk_is_decoded_as_gb18030():
    data = '<?xml version="1.0" encoding="GBK"?><a>白条猪·羊前腿肉</a>'.encode("gbk")
    src, root = parse(data)
    assert src.ok and src.encoding == "gb18030" and root.text == "白条猪·羊前腿肉"


def test_gb2312_declared_gb18030_only_character_is_accepted():
    # 㐀 (U+3400) exists in GB18030, not in GB2312: the profile reads the whole family as GB18030
    data = '<?xml version="1.0" encoding="GB2312"?><a>㐀</a>'.encode("gb18030")
    src, root = parse(data)
    assert src.ok and root.text == "㐀"


def test_gbk_declared_but_utf8_bytes_is_mislabelled():
    src, root = parse('<?xml version="1.0" encoding="GBK"?><a>牛肉</a>'.encode("utf-8"))
    assert root is None and rules(src) == ["TRAN-ENC-01"] and "mislabelled" in src.findings[0].en


def test_utf8_declared_but_gbk_bytes_names_the_likely_encoding():
    src, root = parse('<?xml version="1.0" encoding="UTF-8"?><a>牛肉</a>'.encode("gbk"))
    assert root is None and rules(src) == ["TRAN-ENC-01"] and "GBK" in src.findings[0].en


def test_invalid_bytes_for_gbk_give_offset():
    data = b'<?xml version="1.0" encoding="GBK"?><a>\x81\x20</a>'
    src, root = parse(data)
    assert root is None and rules(src) == ["TRAN-ENC-01"] and src.findings[0].field.startswith("byte ")


def test_unsupported_encodings_are_refused():
    for data in (
        '<?xml version="1.0" encoding="ISO-8859-1"?><a/>'.encode(),
        "<a>x</a>".encode("utf-16"),
        '<?xml version="1.0" encoding="Big5"?><a/>'.encode(),
    ):
        src, root = parse(data)
        assert root is None and rules(src) == ["TRAN-ENC-01"]


def test_bom_contradicting_declaration():
    src, _ = parse(b'\xef\xbb\xbf<?xml version="1.0" encoding="GBK"?><a/>')
    assert rules(src) == ["TRAN-ENC-01"]


def test_billion_laughs_is_refused_quickly():
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10)
    ]
    data = ('<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(ents) + "]><lolz>&lol9;</lolz>").encode()
    t = time.perf_counter()
    src, root = parse(data)
    assert time.perf_counter() - t < 1.0
    assert root is None and rules(src) == ["TRAN-ENC-02"]


def test_quadratic_blowup_is_refused():
    data = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]><r>' + "&a;" * 50_000 + "</r>"
    ).encode()
    src, root = parse(data)
    assert root is None and rules(src) == ["TRAN-ENC-02"]


def test_xxe_file_is_refused_and_nothing_is_read():
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    src, root = parse(data)
    assert root is None and rules(src) == ["TRAN-ENC-02"]
    assert all("root:" not in f.zh + f.en for f in src.findings)


def test_external_dtd_and_parameter_entities_are_refused():
    for data in (
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/hosts"> %p;]><r/>',
        b"<!DOCTYPE r><r/>",
    ):
        src, root = parse(data)
        assert root is None and rules(src) == ["TRAN-ENC-02"], data


def test_truncated_and_malformed_xml():
    for data in (b"<a><b>1</b>", b"<a><b>1</a>", b"", b"not xml", b"<a>&undefined;</a>"):
        src, root = parse(data)
        assert root is None and rules(src) == ["TRAN-ENC-01"], data
        assert "line" in src.findings[0].field


def test_50_mb_input_is_refused_before_parsing():
    data = b"<a>" + b"x" * (50 * 1024 * 1024) + b"</a>"
    t = time.perf_counter()
    src, root = parse(data)
    assert time.perf_counter() - t < 1.0
    assert root is None and rules(src) == ["TRAN-ENC-03"] and src.findings[0].field == "size"


def test_depth_limit_stops_early():
    n = 200_000
    data = b"<a>" * n + b"</a>" * n
    t = time.perf_counter()
    src, root = parse(data, Limits(max_depth=16))
    assert time.perf_counter() - t < 1.0
    assert root is None and rules(src) == ["TRAN-ENC-03"] and src.findings[0].field == "depth"


def test_element_count_limit():
    data = b"<a>" + b"<b/>" * 101 + b"</a>"
    src, root = parse(data, Limits(max_elements=100))
    assert root is None and rules(src) == ["TRAN-ENC-03"]
    src, root = parse(data, Limits(max_elements=102))
    assert root is not None and len(root) == 101


def test_events_stream_with_depth():
    src = XmlSource(b"<a><b><c/></b><d/></a>")
    evs = [(ev, el.tag, d) for ev, el, d in src.events()]
    assert evs == [
        ("start", "a", 1),
        ("start", "b", 2),
        ("start", "c", 3),
        ("end", "c", 3),
        ("end", "b", 2),
        ("start", "d", 2),
        ("end", "d", 2),
        ("end", "a", 1),
    ]


def test_looks_like_xml():
    assert looks_like_xml(b"  \n<a/>") and looks_like_xml(b"\xef\xbb\xbf<a/>")
    assert not looks_like_xml(b'{"a": 1}')


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data):
    src = XmlSource(data, Limits(max_bytes=300))
    root = src.tree()
    assert (root is None) == bool(src.findings)
    assert all(f.rule.startswith("TRAN-ENC-") and f.zh and f.en for f in src.findings)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40))
def test_text_round_trips_in_both_encodings(text):
    from xml.sax.saxutils import escape

    body = f"<a>{escape(text)}</a>"
    src, root = parse(('<?xml version="1.0" encoding="UTF-8"?>' + body).encode())
    assert src.ok and (root.text or "") == text
    src, root = parse(('<?xml version="1.0" encoding="GB18030"?>' + body).encode("gb18030"))
    if text.isascii() or not _is_utf8(('<?xml version="1.0"?>' + body).encode("gb18030")):
        assert src.ok and (root.text or "") == text


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# -- JSON -----------------------------------------------------------------
def test_json_numbers_keep_their_literal_text():
    v, f = read_json(b'{"weight": 12.500, "n": 7, "big": 1e400}')
    assert f == [] and v == {"weight": "12.500", "n": "7", "big": "1e400"}


def test_json_bad_input():
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        (b'{"a": NaN}', Limits(), "TRAN-ENC-01"),
        (b"{'a': 1}", Limits(), "TRAN-ENC-01"),
        (b'{"a": "\xff"}', Limits(), "TRAN-ENC-01"),
        (b"{" + b" " * 200 + b"}", Limits(max_bytes=100), "TRAN-ENC-03"),
        (deep, Limits(max_bytes=300_000), "TRAN-ENC-03"),
        (b"[" * 20 + b"1" + b"]" * 20, Limits(max_depth=16), "TRAN-ENC-03"),
    ]
    for data, limits, rule in cases:
        v, f = read_json(data, limits)
        assert v is None and [x.rule for x in f] == [rule], data[:30]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_json_arbitrary_bytes_never_raise(data):
    v, f = read_json(data)
    assert all(x.rule.startswith("TRAN-ENC-") for x in f)
    assert not f or v is None
