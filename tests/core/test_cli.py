"""The `opensmsc` command line, run in-process through main(argv) (and once as a process)."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc import __version__
from opensmsc.cli import runner
from opensmsc.cli.decode import HexError, decode_stream, parse_hex, render_text
from opensmsc.cli.main import main
from opensmsc.config import Config, LogLevel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "opensmsc.toml"

# submit_sm seq=7: from "Sender" (alphanumeric) to +447700900123, UCS-2, UDHI with an 8-bit
# concat IE (ref 0x42, part 1 of 2), registered_delivery 1, validity 1 day relative.
SUBMIT_SM = (
    "00000059 00000004 00000000 00000007 00 05 00 53656e64657200 01 01 34343737303039303031323300"
    " 40 00 00 00 30303030303130303030303030303052 00 01 00 08 00 16"
    " 050003420201 00480065006c006c006f0020d83dde00"
)
# deliver_sm seq=8: an SMSC delivery receipt (esm_class 0x04), Appendix B text, and the TLVs
# receipted_message_id "abc123", message_state DELIVERED, network_error_code GSM 0, and a
# vendor TLV 0x1501.
RECEIPT = (
    "000000b7000000050000000000000008000000343437373030393030313233000000"
    "53656e646572000400000000000000006769643a616263313233207375623a303031"
    "20646c7672643a303031207375626d697420646174653a3235303130323135303420"
    "646f6e6520646174653a3235303130323135303520737461743a44454c4956524420"
    "6572723a30303020746578743a48656c6c6f"
    "001e0007616263313233000427000102042300030300001501000201 02"
)
ENQUIRE_LINK = "00000010 00000015 00000000 00000001"  # SMPP 3.4 §4.11.1
SUBMIT_SM_RESP = "00000017 80000004 00000000 00000007 61626331323300"
THROTTLED = "00000010 80000004 00000058 00000003"  # a header-only failed submit_sm_resp


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logging.captureWarnings(False)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- version, check-config, run ------------------------------------------------------------


def test_dash_dash_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"opensmsc {__version__}\n"


def test_encode_counts_what_the_part_limits_count(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "encode", "😀" * 40)
    assert status == 0
    assert out.splitlines()[0] == "message: 40 characters, 80 UTF-16 code units"
    assert "parts: 2 (concat udh8), esm_class UDHI 0x40" in out
    report = encode_json(capsys, "€" * 3)
    assert (report["characters"], report["units"], report["unit"]) == (3, 6, "septets")


def test_a_single_part_is_not_said_to_be_concatenated(capsys: pytest.CaptureFixture[str]) -> None:
    for concat in ("udh8", "udh16", "sar"):
        status, out, _ = run_cli(capsys, "encode", "--concat", concat, "hi")
        assert status == 0
        assert "parts: 1\n" in out and "concat" not in out
        assert encode_json(capsys, "--concat", concat, "hi")["concat"] is None
    _, out, _ = run_cli(capsys, "encode", "--concat", "payload", "hi")
    assert "parts: 1 (concat payload)" in out


def test_output_into_a_closed_pipe_is_no_error() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "opensmsc", "encode", "x" * 2000],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    with proc.stdout, proc.stderr:
        proc.stdout.read(10)
        proc.stdout.close()  # as `| head -1` does
        assert proc.wait(timeout=30) == 0
        assert b"Traceback" not in proc.stderr.read()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "version") == (0, f"opensmsc {__version__}\n", "")


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opensmsc", "version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, f"opensmsc {__version__}\n")


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "check-config", str(EXAMPLE)) == (0, "ok\n", "")


def test_check_config_prints_every_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text('[smpp.server]\nport = -1\nwindw = 3\n[logging]\nlevel = "x"\n')
    status, out, _ = run_cli(capsys, "check-config", "bad.toml")
    assert status == 1
    assert out.splitlines() == [
        "bad.toml:2: smpp.server.port: expected a port number from 0 to 65535, got -1",
        'bad.toml:3: smpp.server.windw: unknown key; did you mean "window"?',
        'bad.toml:5: logging.level: expected one of "debug", "info", "warning", "error", got "x"',
    ]


def test_run_with_a_bad_config_prints_every_error_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text("[smpp.server]\nport = -1\nwindow = 0\n")
    status, out, err = run_cli(capsys, "run", "--config", "bad.toml")
    assert (status, out) == (2, "")
    assert err.splitlines() == [
        "bad.toml:2: smpp.server.port: expected a port number from 0 to 65535, got -1",
        "bad.toml:3: smpp.server.window: expected an integer from 1 to 10000, got 0",
    ]


def test_run_with_a_missing_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run_cli(capsys, "run", "--config", str(tmp_path / "absent.toml"))
    assert status == 2
    assert "cannot read the file" in err


def test_run_loads_config_makes_data_dir_sets_logging_and_calls_app(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("opensmsc.toml").write_text('[node]\ndata_dir = "var/data"\n[logging]\nlevel = "debug"\n')
    seen: list[Config] = []

    def fake_app_run(config: Config, **_: object) -> int:
        seen.append(config)
        logging.getLogger("opensmsc.test").info("started session=%s", 1)
        return 0

    monkeypatch.setattr(runner, "_app_run", lambda: fake_app_run)
    status, _, err = run_cli(capsys, "run", "--config", "opensmsc.toml")
    assert status == 0
    (config,) = seen
    assert config.logging.level is LogLevel.DEBUG
    assert (tmp_path / "var" / "data").is_dir()
    assert " level=info logger=opensmsc.test started session=1" in err
    assert err.startswith("ts=")


def test_run_without_config_uses_the_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: list[Config] = []
    monkeypatch.setattr(runner, "_app_run", lambda: lambda config, **_: seen.append(config))
    assert run_cli(capsys, "run")[0] == 0
    assert seen[0].smpp.server.port == 2775
    assert (tmp_path / "data").is_dir()


def test_run_without_the_application_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    def missing(name: str) -> object:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr("importlib.import_module", missing)
    status, _, err = run_cli(capsys, "run")
    assert status == 1
    assert "opensmsc.app" in err


def test_a_config_error_from_the_application_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opensmsc.errors import ConfigError

    monkeypatch.chdir(tmp_path)

    def failing(config: Config, **_: object) -> None:
        raise ConfigError("cannot load certificate and key: bad PEM", path="smsc.crt")

    monkeypatch.setattr(runner, "_app_run", lambda: failing)
    status, _, err = run_cli(capsys, "run")
    assert status == 2
    assert "smsc.crt: cannot load certificate and key: bad PEM" in err


def test_hash_password_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from opensmsc.accounts.passwords import verify

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    status, out, _ = run_cli(capsys, "hash-password")
    assert status == 0
    assert out.startswith("$argon2id$")
    assert verify(out.strip(), "s3cret")


def test_hash_password_refuses_what_smpp_cannot_carry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("much-too-long\n"))
    status, out, err = run_cli(capsys, "hash-password")
    assert (status, out) == (1, "")
    assert "at most 8 characters" in err


# --- decode --------------------------------------------------------------------------------


def test_parse_hex_allows_spaces_colons_and_0x() -> None:
    assert parse_hex(["00:01 0x02", "0A-ff"]) == bytes([0, 1, 2, 10, 255])
    with pytest.raises(HexError, match="odd number"):
        parse_hex(["abc"])
    with pytest.raises(HexError, match="not a hex digit: 'g'"):
        parse_hex(["0g"])


def test_decode_submit_sm_field_by_field(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", SUBMIT_SM)
    assert status == 0
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[0] == "PDU 1: submit_sm seq=7, 89 octets at offset 0"
    for expected in [
        "command_length 89",
        "command_id 0x00000004 (submit_sm)",
        "command_status 0x00000000 (ESME_ROK)",
        "sequence_number 7",
        "source_addr_ton 0x05 (ALPHANUMERIC)",
        'source_addr "Sender"',
        "dest_addr_ton 0x01 (INTERNATIONAL)",
        "dest_addr_npi 0x01 (ISDN)",
        'destination_addr "447700900123"',
        "esm_class 0x40 (default mode, normal message, UDHI (short_message starts with a UDH))",
        'validity_period "000001000000000R" (relative: 1 day)',
        "registered_delivery 0x01 (SMSC receipt on success or failure)",
        "data_coding 0x08 (UCS2 (ISO/IEC-10646))",
        "sm_length 22 (derived)",
        "udh 05 00 03 42 02 01 (concat 8-bit ref=66 part 1/2)",
        "ie 0x00 iei 0x00 42 02 01 (concatenated SM, 8-bit reference)",
        'text "Hello 😀" (7 characters)',
    ]:
        assert expected in lines


def test_decode_receipt_with_tlvs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", RECEIPT)
    assert status == 0
    lines = [" ".join(line.split()) for line in out.splitlines()]
    for expected in [
        "PDU 1: deliver_sm seq=8, 183 octets at offset 0",
        "esm_class 0x04 (default mode, SMSC delivery receipt)",
        "receipt delivery receipt, message_state DELIVERED",
        'id "abc123"',
        "submit_date 2025-01-02 15:04:00",
        'stat "DELIVRD"',
        "tlvs 4 TLVs",
        'receipted_message_id [0x001E] "abc123"',
        "message_state [0x0427] 2 (DELIVERED)",
        "network_error_code [0x0423] NetworkErrorCode",
        "network_type 3 (GSM)",
        "vendor-specific [0x1501] 01 02",
    ]:
        assert expected in lines


def test_decode_several_pdus_in_one_string(capsys: pytest.CaptureFixture[str]) -> None:
    joined = (ENQUIRE_LINK + SUBMIT_SM_RESP).replace(" ", "")
    status, out, _ = run_cli(capsys, "decode", joined)
    assert status == 0
    titles = [line for line in out.splitlines() if line.startswith("PDU")]
    assert titles == [
        "PDU 1: enquire_link seq=1, 16 octets at offset 0",
        "PDU 2: submit_sm_resp seq=7, 23 octets at offset 16",
    ]


def test_decode_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(ENQUIRE_LINK.replace(" ", ":") + "\n"))
    status, out, _ = run_cli(capsys, "decode")
    assert status == 0
    assert out.startswith("PDU 1: enquire_link seq=1")


def test_decode_failed_response_names_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", THROTTLED)
    assert status == 0
    assert "command_status             0x00000058  (ESME_RTHROTTLED)" in out


def test_decode_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", "--json", RECEIPT, SUBMIT_SM_RESP)
    assert status == 0
    document = json.loads(out)
    assert document["error"] is None
    receipt, response = document["pdus"]
    assert (receipt["command"], receipt["status"], receipt["sequence_number"]) == (
        "deliver_sm",
        "ESME_ROK",
        8,
    )
    fields = {field["name"]: field for field in receipt["fields"]}
    assert fields["esm_class"]["value"] == 4
    tlvs = {tlv["name"]: tlv["value"] for tlv in fields["tlvs"]["children"]}
    assert tlvs["receipted_message_id"] == {"tag": 0x001E, "value": "abc123"}
    assert tlvs["message_state"] == {"tag": 0x0427, "value": 2}
    assert tlvs["network_error_code"] == {
        "tag": 0x0423,
        "value": {"network_type": 3, "error_code": 0},
    }
    message = fields["short_message"]
    receipt_row = next(c for c in message["children"] if c["name"] == "receipt")
    assert receipt_row["value"]["stat"] == "DELIVRD"
    assert response["command"] == "submit_sm_resp"
    assert {"name": "message_id", "value": "abc123"} in response["fields"]


def test_decode_unknown_command_id_reports_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", "00000010 00000099 00000000 00000005")
    assert status == 1
    assert "unknown 0x00000099" in out
    assert "(ESME_RINVCMDID)" in out


def test_decode_json_error_carries_the_status(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "decode", "--json", "00000010 00000099 00000000 00000005")
    assert status == 1
    (pdu,) = json.loads(out)["pdus"]
    assert pdu["error_status_name"] == "ESME_RINVCMDID"
    assert pdu["error_status"] == 3


def test_decode_framing_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(
        capsys, "decode", ENQUIRE_LINK, "7fffffff 00000004 00000000 00000001"
    )
    assert status == 1
    assert out.startswith("PDU 1: enquire_link")  # the frame before the bad one is shown
    assert "framing error" in err
    assert "ESME_RINVCMDLEN" in err


def test_decode_incomplete_pdu(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "decode", "00000020 00000015 00000000")
    assert status == 1
    assert "incomplete PDU: command_length 32, only 12 octets given" in err


def test_decode_bad_hex(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "decode", "00000010 0000001")
    assert status == 1
    assert "odd number of hex digits" in err


def test_decode_lenient_accepts_what_strict_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    no_nul = "00000013 80000004 00000000 00000007 616263"  # message_id without its NUL
    status, out, _ = run_cli(capsys, "decode", no_nul)
    assert status == 1
    assert "ESME_RINVMSGID" in out
    status, out, _ = run_cli(capsys, "decode", "--lenient", no_nul)
    assert status == 0
    assert 'message_id                 "abc"' in out


# --- encode --------------------------------------------------------------------------------


def encode_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    status, out, err = run_cli(capsys, "encode", "--json", *argv)
    assert status == 0, err
    report = json.loads(out)
    assert isinstance(report, dict)
    return report


def test_encode_gsm_text(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "encode", "Hello", "world")
    assert status == 0
    assert out.splitlines() == [
        "message: 11 characters, 11 septets",
        "alphabet: GSM7",
        "data_coding: 0x00 (SMSC default alphabet, GSM 7-bit)",
        "parts: 1",
        "part 1/1:",
        "  short_message: 11 octets, payload 11 septets",
        "    0000: 48 65 6c 6c 6f 20 77 6f 72 6c 64",
    ]


def test_encode_gsm_extension_characters_take_an_escape(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "€5")
    assert report["alphabet"] == "GSM7"
    parts = report["parts"]
    assert isinstance(parts, list)
    assert parts[0]["short_message"] == "1b6535"


def test_encode_ucs2_text(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "Привет")
    assert (report["alphabet"], report["data_coding"]) == ("UCS2", 8)
    parts = report["parts"]
    assert isinstance(parts, list)
    assert parts[0]["short_message"] == "Привет".encode("utf-16-be").hex()
    assert parts[0]["udh"] is None


def test_encode_long_gsm_text_in_udh8_parts(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "--reference", "66", "a" * 200)
    parts = report["parts"]
    assert isinstance(parts, list)
    assert [part["udh"] for part in parts] == ["050003420201", "050003420202"]
    assert [part["payload_octets"] for part in parts] == [153, 47]
    assert parts[0]["udh_meaning"] == "concat 8-bit ref=66 part 1/2"
    assert report["esm_class_udhi"] is True


def test_encode_long_text_shows_each_parts_udh(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "encode", "--concat", "udh16", "b" * 320)
    assert status == 0
    assert "parts: 3 (concat udh16), esm_class UDHI 0x40" in out
    assert "  udh: 06 08 04 00 01 03 02  (concat 16-bit ref=1 part 2/3)" in out


def test_encode_emoji_is_never_split(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "x" + "😀" * 40)
    assert report["alphabet"] == "UCS2"
    parts = report["parts"]
    assert isinstance(parts, list)
    assert len(parts) == 2
    text = b"".join(bytes.fromhex(part["short_message"])[6:] for part in parts).decode("utf-16-be")
    assert text == "x" + "😀" * 40  # each part decodes alone: no surrogate pair was cut
    for part in parts:
        bytes.fromhex(part["short_message"])[6:].decode("utf-16-be")


def test_encode_sar_puts_concat_in_tlvs(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "--concat", "sar", "--reference", "300", "c" * 170)
    parts = report["parts"]
    assert isinstance(parts, list)
    assert [part["udh"] for part in parts] == [None, None]
    assert parts[1]["sar"] == {
        "sar_msg_ref_num": 300,
        "sar_total_segments": 2,
        "sar_segment_seqnum": 2,
    }


def test_encode_payload_is_one_part(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "--concat", "payload", "d" * 500)
    parts = report["parts"]
    assert isinstance(parts, list)
    assert len(parts) == 1
    assert parts[0]["payload_octets"] == 500


def test_encode_port_addressing(capsys: pytest.CaptureFixture[str]) -> None:
    report = encode_json(capsys, "--port", "2948:9200", "--alphabet", "binary", "0102ff")
    parts = report["parts"]
    assert isinstance(parts, list)
    assert parts[0]["udh"] == "0605040b8423f0"
    assert parts[0]["short_message"] == "0605040b8423f00102ff"
    assert report["data_coding"] == 4


def test_encode_national_language_shift(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "encode", "--national", "turkish", "Şişli ğ")
    assert status == 0
    assert "alphabet: GSM7 + single shift turkish" in out
    assert "udh: 03 24 01 01  (single shift turkish)" in out


def test_encode_forced_alphabet_that_cannot_hold_the_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run_cli(capsys, "encode", "--alphabet", "gsm7", "Привет")
    assert (status, out) == (1, "")
    assert err.startswith("opensmsc encode: ")


def test_encode_too_many_parts(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "encode", "--max-parts", "1", "e" * 200)
    assert status == 1
    assert "2 parts" in err


def test_encode_unknown_language_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "encode", "--national", "klingon", "hi")
    assert status == 2
    assert "unknown language" in err


def test_encode_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "encode", "--port", "70000", "hi")
    assert status == 2
    assert "0..65535" in err


@given(
    command_id=st.sampled_from([0x4, 0x5, 0x103, 0x21, 0x80000021, 0x3, 0x80000003, 0x9, 0x111]),
    body=st.binary(max_size=300),
)
@settings(max_examples=300, deadline=None)
def test_decode_never_crashes_on_any_body(command_id: int, body: bytes) -> None:
    frame = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big")
    frame += bytes(4) + (1).to_bytes(4, "big") + body
    for strict in (True, False):
        dumps, trouble = decode_stream(frame, strict=strict)
        assert trouble == ""
        (dump,) = dumps
        render_text(dump)
        json.dumps(dump.to_json())


@given(
    esm_class=st.integers(0, 255),
    data_coding=st.integers(0, 255),
    short_message=st.binary(max_size=254),
    validity_period=st.sampled_from(
        ["", "000001000000000R", "250102150400004+", "99999999999999R"]
    ),
    registered_delivery=st.integers(0, 255),
    tlvs=st.lists(
        st.tuples(st.sampled_from([0x0424, 0x0427, 0x001E, 0x0423, 0x1501]), st.binary(max_size=8)),
        max_size=3,
    ),
)
@settings(max_examples=300, deadline=None)
def test_decode_describes_any_deliver_sm(
    *,
    esm_class: int,
    data_coding: int,
    short_message: bytes,
    validity_period: str,
    registered_delivery: int,
    tlvs: list[tuple[int, bytes]],
) -> None:
    body = b"\x00" + b"\x00\x001\x00" + b"\x00\x002\x00"  # service_type, source, destination
    body += bytes((esm_class, 0, 0)) + b"\x00" + validity_period.encode() + b"\x00"
    body += bytes((registered_delivery, 0, data_coding, 0, len(short_message))) + short_message
    for tag, value in tlvs:
        body += tag.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value
    frame = (16 + len(body)).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(4)
    frame += (1).to_bytes(4, "big") + body
    dumps, trouble = decode_stream(frame, strict=False)
    assert trouble == ""
    (dump,) = dumps
    render_text(dump)
    json.dumps(dump.to_json())


# --- make ---------------------------------------------------------------------------------


def _make_dry_run(*args: str, venv: Path) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]
    # Under `make test` this make is a sub-make: without these it would print its directory.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", *args, f"VENV={venv}"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return proc.stdout.splitlines()


def test_make_run_installs_only_the_package_and_passes_config(tmp_path: Path) -> None:
    lines = _make_dry_run("run", "CONFIG=etc/my node.toml", venv=tmp_path / "venv")
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert installs and all("[dev" not in line and "bench]" not in line for line in installs)
    assert any(line.endswith("pip install --quiet -e .") for line in installs)
    assert lines[-1] == f"{tmp_path / 'venv'}/bin/opensmsc run --config 'etc/my node.toml'"
    assert _make_dry_run("run", venv=tmp_path / "venv")[-1].rstrip().endswith("opensmsc run")


def test_make_test_installs_the_dev_and_bench_extras(tmp_path: Path) -> None:
    lines = _make_dry_run("test", venv=tmp_path / "venv")
    assert any("pip install --quiet -e '.[dev,bench]'" in line for line in lines)


# --- logs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("show", [False, True])
def test_message_text_is_redacted_unless_configured(show: bool) -> None:
    from opensmsc.cli.logsetup import setup_logging
    from opensmsc.config import LoggingConfig
    from opensmsc.observability import MessageText

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        setup_logging(LoggingConfig(show_short_message=show), stream=stream)
        ucs2 = "esc\x1b[2J c1\x9b é".encode("utf-16-be")
        udh = bytes.fromhex("0500030a0201")
        logging.getLogger("opensmsc.test").info(
            "a=%s b=%s c=%s",
            MessageText(ucs2, 0x08),
            MessageText(udh + b"part", 0x00, 0x40),
            MessageText(b"\x00\xff", 0x04),
        )
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    line = stream.getvalue().strip()
    if show:
        assert line.endswith(r'a="esc\u001b[2J c1\u009b é" b="part" c=0x00ff')
    else:
        assert line.endswith("a=<26 octets redacted> b=<10 octets redacted> c=<2 octets redacted>")
