"""imps.pts: the PTS preamble, parameters, quoting, lists, DD segmentation and reassembly.

Vectors: digest §5.2/§5.3/§5.7 (/work/shared/specs/DIGEST.md section 5) and the shapes AIM's
client writes and reads (aosp-mirror/platform_packages_apps_im, src/com/android/im/imps/:
PtsPrimitiveSerializer.java, PtsPrimitiveParser.java, SmsSplitter.java, SmsAssembler.java).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.imps import (
    MAX_SEGMENTS,
    TRANSACTIONS,
    VERSIONS,
    Assembler,
    Primitive,
    PtsError,
    Status,
    Value,
    encode,
    missing_segments,
    parse,
    split,
)
from opensmsc.imps.pts import MAX_DEPTH

# --- vectors: text ↔ primitive, both ways ---------------------------------------------------

VECTORS: list[tuple[str, str, Primitive]] = [
    (
        "digest §5.5 item 7: a Login-Response",
        "WV12RL5 ST=200 SI=abc KA=600",
        Primitive("RL", 5, (("ST", "200"), ("SI", "abc"), ("KA", "600"))),
    ),
    (
        'digest §5.5 item 7: quoting with "a ""b"" c"',
        'WV12SM9 MC="a ""b"" c"',
        Primitive("SM", 9, (("MC", 'a "b" c'),)),
    ),
    (
        "PtsPrimitiveParser.java ELEM_RESULT: ST=(<StatusCode>,<Description>)",
        'WV12ST3 ST=(404,"Not found")',
        Primitive("ST", 3, (("ST", ("404", "Not found")),)),
    ),
    (
        "PtsPrimitiveSerializer.java: Login-Request, ClientIdEncoder writes the MSISDN",
        "WV12LR1 CI=+15551234567 UI=alice PW=secret",
        Primitive("LR", 1, (("CI", "+15551234567"), ("UI", "alice"), ("PW", "secret"))),
    ),
    (
        "PtsPrimitiveSerializer.java: Polling-Request without a transaction id uses 0",
        "WV12PO0 SI=s-1",
        Primitive("PO", 0, (("SI", "s-1"),)),
    ),
    (
        "PtsPrimitiveSerializer.java CapabilityEncoder: ((name,value),...)",
        "WV12CP2 SI=s CA=((CT,MP),(SC,SS))",
        Primitive("CP", 2, (("SI", "s"), ("CA", (("CT", "MP"), ("SC", "SS"))))),
    ),
    (
        "PtsPrimitiveSerializer.java ServiceTreeEncoder: the leaves of the service tree",
        "WV13SQ4 SI=s RF=(FF,PF,IF)",
        Primitive("SQ", 4, (("SI", "s"), ("RF", ("FF", "PF", "IF"))), version="13"),
    ),
    (
        "PtsPrimitiveSerializer.java PresenceSubListEncoder: UpdatePresence, one attribute "
        "in an extra pair of parentheses; ClientInfo's sub-attributes",
        "WV12UP7 SI=s UV=((UA,AV),(CF,((CT,MP),(CP,MOKIA))))",
        Primitive(
            "UP",
            7,
            (("SI", "s"), ("UV", (("UA", "AV"), ("CF", (("CT", "MP"), ("CP", "MOKIA")))))),
        ),
    ),
    (
        "PtsPrimitiveParser.java ELEM_PRESENCE: PR=((<UserID>,<PresenceSubList>),...)",
        "WV12PG8 ST=200 PR=((alice,((OS,T))),(bob,((UA,NA))))",
        Primitive(
            "PG",
            8,
            (("ST", "200"), ("PR", (("alice", (("OS", "T"),)), ("bob", (("UA", "NA"),))))),
        ),
    ),
    (
        "ours: the empty string, the empty list, a list holding one empty string",
        'WVXXSM10 MC="" UI=() AB=("")',
        Primitive("SM", 10, (("MC", ""), ("UI", ()), ("AB", ("",))), version="XX"),
    ),
    (
        "ours (NON-STANDARD): NewMessage with non-ASCII text and a date",
        'WV12NM999 MI=m7 SU=+447700900123 MC="héllo, wörld 👋" CT=text/plain DT=20261207T145600Z',
        Primitive(
            "NM",
            999,
            (
                ("MI", "m7"),
                ("SU", "+447700900123"),
                ("MC", "héllo, wörld 👋"),
                ("CT", "text/plain"),
                ("DT", "20261207T145600Z"),
            ),
        ),
    ),
]


@pytest.mark.parametrize(("source", "text", "primitive"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_parses_and_encodes(source: str, text: str, primitive: Primitive) -> None:
    assert parse(text) == primitive
    assert encode(primitive) == text


def test_code_is_case_insensitive_and_names_are_upper_cased() -> None:
    # PtsPrimitiveParser.java: "BB - message type, case insensitive"; translateParam upper-cases
    primitive = parse("WV12rl5 st=200 Si=abc")
    assert primitive == Primitive("RL", 5, (("ST", "200"), ("SI", "abc")))
    assert encode(primitive) == "WV12RL5 ST=200 SI=abc"


def test_unquoted_empty_list_elements_read_as_empty_strings() -> None:
    # PtsPrimitiveSerializer.java NickListEncoder writes (,user) for a contact without a
    # nickname; we write the empty string "" there, which AIM's parser reads the same way.
    primitive = parse('WV12LM6 SI=s CL=friends AN=((,bob),("Ann B",ann)) RN=(a,,b)')
    assert primitive.get("AN") == (("", "bob"), ("Ann B", "ann"))
    assert primitive.get("RN") == ("a", "", "b")
    assert encode(primitive) == 'WV12LM6 SI=s CL=friends AN=(("",bob),("Ann B",ann)) RN=(a,"",b)'


def test_values_with_special_characters_are_quoted() -> None:
    for char in ' ",()=&':
        text = encode(Primitive("SM", 1, (("MC", f"x{char}y"),)))
        assert text.startswith('WV12SM1 MC="'), text
        assert parse(text).get("MC") == f"x{char}y"
    assert encode(Primitive("SM", 1, (("MC", "a-b.c:d;é"),))) == "WV12SM1 MC=a-b.c:d;é"


def test_accessors() -> None:
    primitive = parse("WV12SM3 SI=abc UI=alice AB=(bob,carol) MC=hi")
    assert primitive.session_id == "abc"
    assert primitive.get("ui") == "alice"
    assert primitive.text("MC") == "hi"
    assert primitive.text("DR") is None
    assert primitive.items("UI") == ("alice",)  # a bare string is a list of one
    assert primitive.items("AB") == ("bob", "carol")
    assert primitive.items("RB") == ()
    with pytest.raises(PtsError) as raised:
        primitive.text("AB")
    error = raised.value
    assert (error.status, error.code, error.transaction, error.session_id) == (
        Status.BAD_PARAMETER,
        "SM",
        3,
        "abc",
    )
    assert "AB" in error.detail


def test_a_repeated_name_keeps_every_value() -> None:
    # AIM's Login-Request writes one SH= per digest schema it offers (PtsPrimitiveSerializer
    # writes each element with its own code; LoginTransaction offers MD5 and SHA).
    login = parse("WV12LR5 UI=alice SH=MD5 SH=SHA")
    assert login.text("SH") == "MD5"
    assert login.values("SH") == ("MD5", "SHA")
    assert login.values("PW") == ()
    assert encode(login) == "WV12LR5 UI=alice SH=MD5 SH=SHA"


def test_session_id_that_is_a_list_is_a_bad_parameter() -> None:
    with pytest.raises(PtsError) as raised:
        _ = parse("WV12PO0 SI=(a,b)").session_id
    assert raised.value.status == Status.BAD_PARAMETER


def test_no_parameters_and_no_session() -> None:
    primitive = parse("WV11AK12")
    assert primitive == Primitive("AK", 12, (), version="11")
    assert primitive.session_id is None


# --- every kind of bad PTS gets its status, and says what and where ------------------------

BAD: list[tuple[str, str, int, str]] = [
    ("unknown code", "WV12ZZ5 SI=abc", Status.NOT_IMPLEMENTED, "unknown transaction code ZZ"),
    ("not PTS", "hello", Status.BAD_REQUEST, "not a PTS primitive"),
    ("bad version", "WV1xLR5", Status.BAD_REQUEST, "version"),
    ("unsupported version", "WV14LR5", Status.VERSION_NOT_SUPPORTED, "version 14"),
    ("code not letters", "WV12L5", Status.BAD_REQUEST, "not two letters"),
    ("transaction out of range", "WV12LR1000", Status.INVALID_TRANSACTION_ID, "'1000'"),
    ("transaction leading zero", "WV12LR05", Status.INVALID_TRANSACTION_ID, "'05'"),
    ("transaction missing", "WV12LR UI=a", Status.INVALID_TRANSACTION_ID, "no transaction"),
    ("junk after preamble", "WV12LR5x", Status.BAD_REQUEST, "offset 7"),
    ("a segment", "WV12LR5ab UI=a", Status.BAD_REQUEST, "reassemble"),
    ("unclosed quote", 'WV12SM5 MC="ab', Status.BAD_REQUEST, "broken quoting"),
    ("text after a closing quote", 'WV12SM5 MC="a"b', Status.BAD_REQUEST, "broken quoting"),
    ("quote in a bare value", 'WV12SM5 MC=a"b', Status.BAD_REQUEST, "broken quoting"),
    ("special in a bare value", "WV12SM5 MC=a=b", Status.BAD_REQUEST, "must be quoted"),
    ("unclosed list", "WV12SM5 UI=(a,(b,c)", Status.BAD_REQUEST, "unbalanced"),
    ("extra close", "WV12SM5 UI=(a,b))", Status.BAD_REQUEST, "unbalanced"),
    ("close without open", "WV12SM5 UI=a) MC=x", Status.BAD_REQUEST, "unbalanced"),
    ("space inside a list", "WV12SM5 UI=(a, b)", Status.BAD_REQUEST, "unbalanced"),
    ("comma at top level", "WV12SM5 UI=a,b", Status.BAD_REQUEST, "quote it"),
    ("no value", "WV12SM5 MC= UI=a", Status.BAD_REQUEST, "has no value"),
    ("no value at the end", "WV12SM5 MC=", Status.BAD_REQUEST, "has no value"),
    ("no '='", "WV12SM5 DR", Status.BAD_REQUEST, "has no '='"),
    ("two spaces", "WV12SM5  MC=a", Status.BAD_REQUEST, "expected a parameter name"),
    ("trailing space", "WV12SM5 MC=a ", Status.BAD_REQUEST, "expected a parameter name"),
    ("too deep", "WV12SM5 UI=" + "(" * 20 + ")" * 20, Status.BAD_REQUEST, "deeper"),
]


@pytest.mark.parametrize(("kind", "text", "status", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_pts_gets_its_status(kind: str, text: str, status: int, says: str) -> None:
    with pytest.raises(PtsError) as raised:
        parse(text)
    assert raised.value.status == status
    assert says in raised.value.detail, raised.value.detail


def test_errors_name_transaction_session_and_offset() -> None:
    with pytest.raises(PtsError) as raised:
        parse('WV12SM42 SI="s 1" UI=bob MC="unclosed')
    error = raised.value
    assert (error.code, error.transaction, error.session_id) == ("SM", 42, "s 1")
    assert "offset 28" in error.detail
    assert str(error) == (
        "SM42: offset 28: the quoted value of MC is not closed (broken quoting) (400 Bad request)"
    )


def test_unknown_code_error_carries_the_transaction_for_the_answer() -> None:
    with pytest.raises(PtsError) as raised:
        parse("WV12QQ17 SI=abc")
    assert (raised.value.code, raised.value.transaction, raised.value.session_id) == (
        "QQ",
        17,
        "abc",
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: Primitive("ZZ", 1),
        lambda: Primitive("SM", 1000),
        lambda: Primitive("SM", -1),
        lambda: Primitive("SM", 1, version="14"),
        lambda: Primitive("SM", 1, (("mc", "x"),)),
        lambda: Primitive("SM", 1, (("M C", "x"),)),
        lambda: Primitive("SM", 1, (("UI", ["a"]),)),  # type: ignore[arg-type]
    ],
)
def test_building_a_primitive_that_cannot_be_written_is_a_value_error(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


# --- properties --------------------------------------------------------------------------


def _depth(value: Value) -> int:
    return 1 + max(map(_depth, value), default=0) if isinstance(value, tuple) else 0


values: st.SearchStrategy[Value] = st.recursive(
    st.text(max_size=12) | st.sampled_from(["", '"', " ", "()", ",", "a=b&c", '""x""']),
    lambda children: st.lists(children, max_size=4).map(tuple),
    max_leaves=10,
).filter(lambda v: _depth(v) <= MAX_DEPTH)
names = st.from_regex(r"[A-Z][A-Z0-9]{0,2}", fullmatch=True)
primitives = st.builds(
    Primitive,
    code=st.sampled_from(sorted(TRANSACTIONS)),
    transaction=st.integers(0, 999),
    params=st.lists(st.tuples(names, values), max_size=6, unique_by=lambda p: p[0]).map(tuple),
    version=st.sampled_from(VERSIONS),
)


@given(primitives)
def test_parse_encode_round_trip(primitive: Primitive) -> None:
    text = encode(primitive)
    assert parse(text) == primitive
    assert encode(parse(text)) == text


@given(st.text())
def test_arbitrary_text_raises_only_pts_error(text: str) -> None:
    try:
        parse(text)
    except PtsError as error:
        assert error.detail


@given(st.text(alphabet=' "(),=&aZ9é', max_size=40))
def test_arbitrary_parameters_raise_only_pts_error(tail: str) -> None:
    try:
        primitive = parse("WV12SM5 " + tail)
    except PtsError as error:
        assert error.detail
    else:  # whatever parses, encodes to text that parses the same
        assert parse(encode(primitive)) == primitive


# --- segmentation ------------------------------------------------------------------------


def test_digest_two_segment_reassembly_ab_bb() -> None:
    # digest §5.3: "ab is segment 1 of 2 and bb is segment 2 of 2"
    assembler = Assembler()
    assert assembler.feed("+4477", "WV12SM7ab SI=x MC=hel", now=0.0) is None
    assert assembler.pending == 1
    assert assembler.feed("+4477", "WV12SM7bb lo", now=1.0) == "WV12SM7 SI=x MC=hello"
    assert assembler.pending == 0


def test_split_writes_aim_segments() -> None:
    text = "WV12SM7 SI=x MC=" + "y" * 30
    pieces = split(text, max_octets=20)
    # SmsSplitter.java: the preamble, DD, a space, then max - len(preamble) - 3 octets
    assert pieces == [
        "WV12SM7ad SI=x MC=yy",
        "WV12SM7bd yyyyyyyyyy",
        "WV12SM7cd yyyyyyyyyy",
        "WV12SM7dd yyyyyyyy",
    ]
    assert split(text, max_octets=len(text)) == [text]


def test_split_never_cuts_a_utf8_character() -> None:
    text = encode(Primitive("NM", 3, (("MC", "😀é" * 40),)))
    pieces = split(text, max_octets=40)
    for piece in pieces:
        assert len(piece.encode()) <= 40
    assembler = Assembler()
    results = [assembler.feed("a", piece, now=0.0) for piece in pieces]
    assert results[-1] == text


def test_split_beyond_26_segments_is_a_pts_error() -> None:
    text = encode(Primitive("NM", 3, (("MC", "x" * 2000),)))
    with pytest.raises(PtsError) as raised:
        split(text, max_octets=60)
    assert raised.value.status == Status.BAD_REQUEST
    assert (raised.value.code, raised.value.transaction) == ("NM", 3)
    assert "26" in raised.value.detail
    assert len(split(text, max_octets=134)) <= MAX_SEGMENTS


@settings(max_examples=200)
@given(
    st.lists(primitives, min_size=1, max_size=4, unique_by=lambda p: p.transaction),
    st.integers(40, 134),
    st.randoms(use_true_random=False),
)
def test_split_and_reassemble_in_any_order_interleaved(
    batch: list[Primitive], max_octets: int, random: object
) -> None:
    expected: dict[tuple[str, int], str] = {}
    pieces: list[tuple[str, str]] = []
    for i, primitive in enumerate(batch):
        text = encode(primitive)
        try:
            parts = split(text, max_octets)
        except PtsError:
            budget = max_octets - len(text.split(" ")[0]) - 3
            assert len(text.encode()) > MAX_SEGMENTS * (budget - 3)
            continue
        assert all(len(p.encode()) <= max_octets for p in parts)
        assert len(parts) == 1 or all(p.startswith(text.split(" ")[0]) for p in parts)
        sender = f"+4477009000{i % 2}"  # two senders, transactions unique per batch
        expected[(sender, primitive.transaction)] = text
        pieces.extend((sender, part) for part in parts)
    random.shuffle(pieces)  # type: ignore[attr-defined]
    assembler = Assembler()
    got = {}
    for sender, part in pieces:
        whole = assembler.feed(sender, part, now=0.0)
        if whole is not None:
            got[(sender, parse(whole).transaction)] = whole
    assert got == expected
    assert assembler.pending == 0


# --- the Assembler's timeout, eviction and bounds ----------------------------------------


def test_unsegmented_text_comes_back_at_once() -> None:
    assembler = Assembler()
    assert assembler.feed("a", "WV12PO0 SI=x", now=0.0) == "WV12PO0 SI=x"
    assert assembler.feed("a", "not pts at all", now=0.0) == "not pts at all"
    assert assembler.pending == 0


def test_missing_segment_expires_after_the_timeout() -> None:
    assembler = Assembler(timeout=120.0)
    assembler.feed("+1", "WV12SM7ac SI=x MC=a", now=10.0)
    assembler.feed("+1", "WV12SM7cc c", now=20.0)
    assembler.feed("+2", "WV12SM8ab SI=y MC=a", now=50.0)
    assert assembler.expire(now=129.9) == []
    assert assembler.expire(now=130.0) == [("+1", "WV12SM7")]
    assert assembler.pending == 1
    assert assembler.expire(now=1000.0) == [("+2", "WV12SM8")]
    # the late segment starts a new group rather than completing the dropped one
    assert assembler.feed("+1", "WV12SM7bc b", now=131.0) is None
    error = missing_segments("WV12SM7")
    assert (error.status, error.code, error.transaction) == (Status.REQUEST_TIMEOUT, "SM", 7)


def test_max_pending_evicts_the_oldest_group_and_reports_it() -> None:
    assembler = Assembler(max_pending=2)
    assembler.feed("+1", "WV12SM1ab x", now=0.0)
    assembler.feed("+2", "WV12SM2ab x", now=1.0)
    assembler.feed("+3", "WV12SM3ab x", now=2.0)
    assert assembler.pending == 2
    assert assembler.expire(now=3.0) == [("+1", "WV12SM1")]
    assert assembler.feed("+2", "WV12SM2bb y", now=4.0) == "WV12SM2 xy"


def test_memory_stays_bounded_under_a_flood_of_first_segments() -> None:
    assembler = Assembler(max_pending=100)
    for i in range(5000):
        assembler.feed(f"+{i}", "WV12SM1az " + "x" * 100, now=float(i))
    assert assembler.pending == 100
    assert len(assembler.expire(now=0.0)) == 100  # evictions kept are bounded too


def test_a_group_beyond_max_octets_is_dropped() -> None:
    assembler = Assembler(max_octets=10)
    assembler.feed("+1", "WV12SM1ac 12345", now=0.0)
    with pytest.raises(PtsError) as raised:
        assembler.feed("+1", "WV12SM1bc 678901", now=0.0)
    assert raised.value.status == Status.BAD_REQUEST
    assert "exceeds 10 octets" in raised.value.detail
    assert assembler.pending == 0


SEGMENT_ERRORS = [
    ("index beyond total", ["WV12SM7cb x"], "beyond the total", Status.BAD_REQUEST),
    ("transaction out of range", ["WV12SM1000ab x"], "'1000'", Status.INVALID_TRANSACTION_ID),
    ("upper-case DD", ["WV12SM7AB x"], "lower-case", Status.BAD_REQUEST),
    ("no payload", ["WV12SM7ab"], "no space and payload", Status.BAD_REQUEST),
    ("another total", ["WV12SM7ab x", "WV12SM7bc y"], "pending", Status.BAD_REQUEST),
    ("another preamble", ["WV12SM7ab x", "WV12NM7bb y"], "pending", Status.BAD_REQUEST),
    ("same index, other text", ["WV12SM7ac x", "WV12SM7ac y"], "twice", Status.BAD_REQUEST),
]


@pytest.mark.parametrize(
    ("kind", "texts", "says", "status"), SEGMENT_ERRORS, ids=[e[0] for e in SEGMENT_ERRORS]
)
def test_inconsistent_segment_is_a_pts_error(
    kind: str, texts: list[str], says: str, status: int
) -> None:
    assembler = Assembler()
    for text in texts[:-1]:
        assert assembler.feed("+1", text, now=0.0) is None
    with pytest.raises(PtsError) as raised:
        assembler.feed("+1", texts[-1], now=0.0)
    assert raised.value.status == status
    assert says in raised.value.detail, raised.value.detail
    assert assembler.pending == 0  # a contradicted group is dropped


def test_a_redelivered_segment_is_ignored() -> None:
    assembler = Assembler()
    assert assembler.feed("+1", "WV12SM7ab SI=x MC=a", now=0.0) is None
    assert assembler.feed("+1", "WV12SM7ab SI=x MC=a", now=1.0) is None
    assert assembler.feed("+1", "WV12SM7bb b", now=2.0) == "WV12SM7 SI=x MC=ab"


def test_same_transaction_from_two_senders_does_not_mix() -> None:
    assembler = Assembler()
    assembler.feed("+1", "WV12SM7ab MC=a", now=0.0)
    assembler.feed("+2", "WV12SM7ab MC=x", now=0.0)
    assert assembler.feed("+2", "WV12SM7bb y", now=0.0) == "WV12SM7 MC=xy"
    assert assembler.feed("+1", "WV12SM7bb b", now=0.0) == "WV12SM7 MC=ab"


def test_a_late_segment_does_not_complete_a_timed_out_group() -> None:
    assembler = Assembler(timeout=120.0)
    assembler.feed("+1", "WV12SM7ab SI=x MC=a", now=0.0)
    # expire has not run; the group's time is up all the same
    assert assembler.feed("+1", "WV12SM7bb b", now=120.0) is None
    assert assembler.expire(now=120.0) == [("+1", "WV12SM7")]
    assert assembler.pending == 1  # the late segment's own group, waiting for its first half


def test_a_single_segment_group_completes_at_once() -> None:
    assert Assembler().feed("+1", "WV12SM7aa SI=x MC=a", now=0.0) == "WV12SM7 SI=x MC=a"
