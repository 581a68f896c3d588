import codecs

import pytest

from streams.pipeline.stages import Rejected
from streams.pipeline.stages.charset import decode_html

ARABIC = "<html><body><p>أعلن وزير الخارجية الروسي سيرغي لافروف</p></body></html>"


def test_meta_declared_windows_1256():
    page = ('<html><head><meta charset="windows-1256"></head>' + ARABIC).encode("cp1256")
    text, how = decode_html(page)
    assert "سيرغي لافروف" in text and how == "cp1256 (meta)"


def test_http_header_charset_wins_over_detection():
    text, how = decode_html(ARABIC.encode("iso-8859-6"), "text/html; charset=ISO-8859-6")
    assert "لافروف" in text and how == "iso8859-6 (header)"


def test_utf8_page_under_a_stale_legacy_declaration():
    page = ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">' + ARABIC).encode()
    text, how = decode_html(page)
    assert "لافروف" in text and how.startswith("utf-8")


def test_bom():
    text, how = decode_html(codecs.BOM_UTF8 + ARABIC.encode())
    assert text.startswith("<html>") and how == "utf-8-sig (bom)"


def test_undeclared_legacy_bytes_are_detected():
    page = (ARABIC * 5).encode("cp1256")
    text, how = decode_html(page)
    assert "لافروف" in text and how.endswith("(detected)")


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(100), b"\x1f\x8b\x08\x00" + bytes(50), b"ab\x00cd" * 10])
def test_binary_rejected(data):
    with pytest.raises(Rejected) as info:
        decode_html(data)
    assert info.value.reason == "binary"


def test_a_bom_page_with_broken_bytes_is_decoded_with_replacement_characters():
    from streams.pipeline.stages.charset import decode_html

    text, how = decode_html(b"\xef\xbb\xbf<p>\xd9\x84\xff</p>")
    assert text == "<p>\u0644\ufffd</p>" and how == "utf-8-sig (bom)"
