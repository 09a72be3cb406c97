"""EVP-1 parsing and encoding (drivers.protocol): pure functions, no I/O."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.protocol import (
    DEFAULT_BYTE_TABLE,
    MAX_LINE,
    ByteDecoder,
    CaseEnded,
    FrameError,
    Hello,
    KeyPress,
    LineDecoder,
    Pong,
    Solicit,
    StaffIn,
    StaffOut,
    TerminalDecoder,
    encode_all_lit,
    encode_beep,
    encode_event,
    encode_frame,
    encode_light,
    encode_ping,
    parse_panel_frame,
    parse_terminal_frame,
    xor_checksum,
)

BAD, INVALID, UNKNOWN = FrameError.BAD_CHECKSUM, FrameError.INVALID, FrameError.UNKNOWN


def decode(data: bytes) -> list:
    return LineDecoder().feed(data)


def with_checksum(body: bytes, lower: bool = False) -> bytes:
    xx = b"%02x" % xor_checksum(body) if lower else b"%02X" % xor_checksum(body)
    return body + b"*" + xx


def expected_results(data: bytes) -> int:
    """Reference count: one result per LF-terminated line not empty after its CR."""
    lines = data.split(b"\n")[:-1]
    return sum(1 for line in lines if line.removesuffix(b"\r"))


PANEL_FRAMES = [
    (b"K1", KeyPress(1)),
    (b"K9", KeyPress(9)),
    (b"S", Solicit()),
    (b"H EVP-100 2.4.1", Hello("EVP-100", "2.4.1")),
    (b"P", Pong()),
    (b"C 2026A-0042 E1023", CaseEnded("2026A-0042", "E1023")),
    (b"C 2026A-0042", CaseEnded("2026A-0042", None)),
    (b"C 2026A-0043 E1023 11320900MB1234567X4000112001",
     CaseEnded("2026A-0043", "E1023", "11320900MB1234567X4000112001")),
    (b"C 2026A-0044 - 1132.09_A-1", CaseEnded("2026A-0044", None, "1132.09_A-1")),
    (b"C " + b"a_Z-9" * 8, CaseEnded("a_Z-9" * 8, None)),
    (b"I E1023", StaffIn("E1023")),
    (b"O", StaffOut()),
]


@pytest.mark.parametrize(("body", "event"), PANEL_FRAMES)
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_every_panel_frame_with_and_without_checksum(body, event, ending):
    assert decode(body + ending) == [event]
    assert decode(with_checksum(body) + ending) == [event]
    assert decode(with_checksum(body, lower=True) + ending) == [event]
    assert parse_panel_frame(body + ending) == event


def test_spec_example_checksum():
    assert xor_checksum(b"K3") == 0x78
    assert decode(b"K3*78\n") == [KeyPress(3)]


@pytest.mark.parametrize("line", [b"K3*79", b"K3*00", b"S*FF", b"XYZ*00", b"*01"])
def test_wrong_checksum_is_bad_checksum(line):
    assert decode(line + b"\n") == [BAD]


@pytest.mark.parametrize(
    "line",
    [
        b"K3*7", b"K3*7G", b"K3*789", b"K3**78", b"K3*78 ", b"K*3*78", b"*",  # checksum syntax
        b"K0", b"K10", b"Ka", b"K", b"K3 x", b"K-1",  # key digit
        b"S x", b"P x", b"O x", b"H a", b"H a b c", b"I", b"I a b",  # field counts
        b"C", b"C a b c d", b"C a b c!", b"C bad!no", b"C " + b"x" * 41, b"C \xe4",  # case number
        b"H  a b", b"S ", b" S", b"I  E1",  # empty fields
        b"K3\xff", b"K\x003", b"K3\t", b"K\r3", b"\x7f", "评价".encode(),  # non-printable
        b"*00",  # empty body with a checksum
    ],
)
def test_invalid_lines(line):
    assert decode(line + b"\n") == [INVALID]


@pytest.mark.parametrize("line", [b"X", b"L3", b"A", b"B", b"k3", b"SS", b"hello world", b"Z 1 2"])
def test_unknown_commands(line):
    assert decode(line + b"\n") == [UNKNOWN]


@pytest.mark.parametrize("line", [b"I " + b"E" * 41, b"I E10/23", b"C 2026A-1 E10/23", b"C 2026A-1 " + b"E" * 41])
def test_staff_ids_follow_the_terminals_id_rule(line):
    assert decode(line + b"\n") == [INVALID]


def test_empty_lines_are_ignored_and_not_counted():
    assert decode(b"\n\r\n\n") == []
    assert decode(b"\nK2\r\n\n") == [KeyPress(2)]
    assert parse_panel_frame(b"\r\n") is None


def test_line_of_exactly_80_bytes_is_accepted_81_is_not():
    firmware = "v" * (MAX_LINE - 4)
    assert decode(f"H m {firmware}\n".encode()) == [Hello("m", firmware)]
    assert decode(f"H m {firmware}\r\n".encode()) == [Hello("m", firmware)]  # the CR is not counted
    assert decode(f"H m {firmware}v\n".encode()) == [INVALID]


def test_over_long_line_discarded_up_to_lf_and_counted_once():
    decoder = LineDecoder()
    assert decoder.feed(b"K" * 500) == []
    assert decoder.feed(b"K1" * 500) == []  # still discarding, still not counted
    assert decoder.feed(b"K2\nK3\n") == [INVALID, KeyPress(3)]
    assert decoder.feed(b"x" * 100 + b"\r\nS\n") == [INVALID, Solicit()]


def test_partial_lines_are_kept_between_feeds():
    decoder = LineDecoder()
    data = b"H EVP-1 1.0\r\nK3*78\nC A-1 E7\n"
    results = []
    for byte in data:
        results += decoder.feed(bytes([byte]))
    assert results == [Hello("EVP-1", "1.0"), KeyPress(3), CaseEnded("A-1", "E7")]
    assert decoder.feed(b"K") == []
    assert decoder.feed(b"4") == []
    assert decoder.feed(b"\n") == [KeyPress(4)]


def test_byte_mode_default_and_custom_table():
    assert ByteDecoder().feed(b"1S9\n0") == [KeyPress(1), Solicit(), KeyPress(9), UNKNOWN, UNKNOWN]
    assert DEFAULT_BYTE_TABLE[0x35] == KeyPress(5)
    custom = ByteDecoder({0xA1: KeyPress(1), 0xA5: KeyPress(5), 0xB0: Solicit()})
    assert custom.feed(bytes([0xA5, 0x31, 0xB0])) == [KeyPress(5), UNKNOWN, Solicit()]
    assert custom.feed(b"") == []


# --- encoders -----------------------------------------------------------------------


def test_terminal_frame_encoders():
    assert [encode_light(d) for d in (0, 3, 9)] == [b"L0\n", b"L3\n", b"L9\n"]
    assert encode_all_lit() == b"A\n"
    assert encode_beep() == b"B\n"
    assert encode_ping() == b"P\n"
    assert encode_light(3, checksum=True) == b"L3*7F\n"
    assert encode_all_lit(checksum=True) == b"A*41\n"
    assert encode_beep(checksum=True) == b"B*42\n"
    assert encode_ping(checksum=True) == b"P*50\n"


@pytest.mark.parametrize("bad", [-1, 10, "3", 3.0, True, None])
def test_encode_light_rejects_bad_keys(bad):
    with pytest.raises(ValueError):
        encode_light(bad)


@pytest.mark.parametrize("body", ["", "K3*78", "a\nb", "é", "x" * 81, "\x01"])
def test_encode_frame_rejects_bodies_that_would_not_read_back(body):
    with pytest.raises(ValueError):
        encode_frame(body)


def test_encode_frame_checksum_fits_in_the_line_limit():
    assert len(encode_frame("x" * 80)) == 81
    assert decode(encode_frame("H m " + "x" * 73, checksum=True)) == [Hello("m", "x" * 73)]
    with pytest.raises(ValueError):
        encode_frame("x" * 78, checksum=True)


@pytest.mark.parametrize(("body", "event"), PANEL_FRAMES)
@pytest.mark.parametrize("checksum", [False, True])
def test_encode_event_round_trips(body, event, checksum):
    wire = encode_event(event, checksum)
    assert wire == (with_checksum(body) if checksum else body) + b"\n"
    assert decode(wire) == [event]


@pytest.mark.parametrize(
    "event",
    [KeyPress(0), KeyPress(10), CaseEnded("bad case"), CaseEnded(""), CaseEnded("A-1", "E7", "x" * 65),
     CaseEnded("A-1", None, "bad item"), StaffIn("a b"), StaffIn(""),
     Hello("a", "")],
)
def test_encode_event_rejects_what_the_wire_cannot_carry(event):
    with pytest.raises(ValueError):
        encode_event(event)


@pytest.mark.parametrize(
    ("line", "frame"),
    [(b"L0\n", ("L", 0)), (b"L9\r\n", ("L", 9)), (b"A\n", ("A",)), (b"B", ("B",)),
     (b"P*50\n", ("P",)), (b"L3*7f\n", ("L", 3)), (b"L3*00\n", BAD), (b"LX\n", INVALID),
     (b"L10\n", INVALID), (b"A 1\n", INVALID), (b"K3\n", UNKNOWN), (b"\xff\n", INVALID),
     (b"\n", None)],
)
def test_parse_terminal_frame(line, frame):
    assert parse_terminal_frame(line) == frame


def test_terminal_decoder_streams():
    decoder = TerminalDecoder()
    assert decoder.feed(b"L3\nA") == [("L", 3)]
    assert decoder.feed(b"\nB\r\nP\nQ\n") == [("A",), ("B",), ("P",), UNKNOWN]


# --- fuzz -------------------------------------------------------------------------


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=30))
def test_fuzz_random_bytes_never_raise_and_every_line_is_accounted(data, cuts):
    decoder = LineDecoder()
    results = []
    for chunk in chunked(data, cuts):
        results += decoder.feed(chunk)
    assert len(results) == expected_results(data)
    assert results == LineDecoder().feed(data)  # chunking never changes the outcome


LINEISH = st.lists(
    st.one_of(
        st.sampled_from(
            [b"K3", b"K3*78", b"K3*79", b"S", b"H m f", b"C A-1 E2", b"O", b"X", b"\r", b""]
        ),
        st.binary(max_size=100),
        st.text(alphabet="KSHPCIO *0123456789ABCDEFabcdef-_\r", max_size=90).map(str.encode),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(LINEISH, st.lists(st.integers(min_value=0), max_size=30), st.booleans())
def test_fuzz_line_shaped_input(lines, cuts, crlf):
    data = (b"\r\n" if crlf else b"\n").join(lines)
    decoder = LineDecoder()
    results = []
    for chunk in chunked(data, cuts):
        results += decoder.feed(chunk)
    assert len(results) == expected_results(data)
    events = [r for r in results if not isinstance(r, FrameError)]
    assert all(parse_panel_frame(encode_event(e)) == e for e in events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500))
def test_fuzz_terminal_decoder_and_byte_decoder_never_raise(data):
    assert len(TerminalDecoder().feed(data)) == expected_results(data)
    assert len(ByteDecoder().feed(data)) == len(data)
