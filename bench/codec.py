"""SMPP codec benchmark: opensmsc against python-smpplib 2.2.4 and smpp34, in one run.

    python bench/codec.py [--n N] [--repeat R] [--json]

For three PDUs (a submit_sm with a 160-character GSM text and a few fields set, a deliver_sm
delivery receipt with receipted_message_id and message_state TLVs, and a submit_sm_resp) it
measures encode/s, decode/s and decode+encode/s for each library, the median of R repeats of N
operations each, and prints the ratios ours/theirs. Every library works from the same octets:
each one's encoding is checked to decode back to the same field values before timing.

What each library's "decode" does:
- opensmsc: `decode(frame)`: header, every field, typed TLVs, a frozen dataclass.
- smpplib: `smpplib.smpp.parse_pdu(frame)`: a Command object with its fields set.
- smpp34 (Rust): `smpp34.decode(frame)`: a SubmitSm / DeliverSm object; for any other
  command only a RawPdu (header + raw body), so its submit_sm_resp "decode" parses no field,
  and it has no way to encode a submit_sm_resp at all (the table says so).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc import smpp
from opensmsc.smpp.constants import Tag

TEXT = (
    b"Your parcel 4471-2208 is out for delivery today between 10:00 and 14:00. "
    b"Track it or change the slot at example.com/t/44712208 Reply STOP to opt out"
)[:160].ljust(160, b".")
RECEIPT_TEXT = (
    b"id:0123456789abcdef sub:001 dlvrd:001 submit date:2501011200 done date:2501011201"
    b" stat:DELIVRD err:000 text:Your parcel 4471-22"
)
MESSAGE_ID = "0123456789abcdef"

SUBMIT_FIELDS: dict[str, Any] = {
    "source_addr_ton": 5,
    "source_addr_npi": 0,
    "source_addr": "ParcelCo",
    "dest_addr_ton": 1,
    "dest_addr_npi": 1,
    "destination_addr": "447700900123",
    "registered_delivery": 1,
    "data_coding": 0,
}
RECEIPT_FIELDS: dict[str, Any] = {
    "source_addr_ton": 1,
    "source_addr_npi": 1,
    "source_addr": "447700900123",
    "dest_addr_ton": 5,
    "dest_addr_npi": 0,
    "destination_addr": "ParcelCo",
    "esm_class": 4,
}

Op = Callable[[], object]


@dataclass
class Case:
    """One library's three operations on one PDU; None where the library cannot do it."""

    encode: Op | None
    decode: Op | None
    note: str = ""


# -- opensmsc ---------------------------------------------------------------------------------


def ours() -> dict[str, Case]:
    submit = smpp.SubmitSm(**SUBMIT_FIELDS, short_message=TEXT)
    receipt = smpp.DeliverSm(
        **RECEIPT_FIELDS,
        short_message=RECEIPT_TEXT,
        tlvs=smpp.Tlvs(
            (
                (Tag.RECEIPTED_MESSAGE_ID, MESSAGE_ID),
                (Tag.MESSAGE_STATE, smpp.MessageState.DELIVERED),
            )
        ),
    )
    resp = smpp.SubmitSmResp(message_id=MESSAGE_ID)
    encode, decode = smpp.encode, smpp.decode
    cases = {}
    for name, pdu in (
        ("submit_sm", submit),
        ("deliver_sm receipt", receipt),
        ("submit_sm_resp", resp),
    ):
        frame = encode(pdu, 7)
        assert decode(frame).pdu == pdu
        cases[name] = Case(
            encode=lambda pdu=pdu: encode(pdu, 7),
            decode=lambda frame=frame: decode(frame),
        )
    return cases


# -- python-smpplib 2.2.4 ---------------------------------------------------------------------


def smpplib_cases() -> dict[str, Case] | str:
    try:
        import smpplib.smpp as psl
    except ImportError as exc:
        return f"not installed ({exc})"

    class Sequencer:
        """What smpplib asks of its client when it parses: a sequence counter."""

        sequence = 0

        def next_sequence(self) -> int:
            self.sequence += 1
            return self.sequence

    client = Sequencer()

    def frame_command(frame: bytes) -> str:
        return {4: "submit_sm", 5: "deliver_sm", 0x80000004: "submit_sm_resp"}[
            int.from_bytes(frame[4:8], "big")
        ]

    def submit() -> Any:
        return psl.make_pdu(
            "submit_sm", client=client, sequence=7, **SUBMIT_FIELDS, short_message=TEXT
        )

    def receipt() -> Any:
        return psl.make_pdu(
            "deliver_sm",
            client=client,
            sequence=7,
            **RECEIPT_FIELDS,
            short_message=RECEIPT_TEXT,
            receipted_message_id=MESSAGE_ID,
            message_state=2,
        )

    def resp() -> Any:
        return psl.make_pdu("submit_sm_resp", client=client, sequence=7, message_id=MESSAGE_ID)

    cases = {}
    for name, build in (
        ("submit_sm", submit),
        ("deliver_sm receipt", receipt),
        ("submit_sm_resp", resp),
    ):
        pdu = build()
        frame = pdu.generate()
        assert pdu.generate() == frame  # generate() can be repeated on one built PDU
        parsed = psl.parse_pdu(frame, client=client)
        assert parsed.command == frame_command(frame)
        cases[name] = Case(
            encode=lambda pdu=pdu: pdu.generate(),
            decode=lambda frame=frame: psl.parse_pdu(frame, client=client),
        )
    return cases


# -- smpp34 (Rust) ----------------------------------------------------------------------------


def smpp34_cases() -> dict[str, Case] | str:
    try:
        import smpp34
    except ImportError as exc:
        return f"not installed ({exc})"

    def fields(src: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in src.items() if k not in ("source_addr", "destination_addr")}

    submit = smpp34.SubmitSm(
        SUBMIT_FIELDS["source_addr"],
        SUBMIT_FIELDS["destination_addr"],
        TEXT,
        sequence_number=7,
        **fields(SUBMIT_FIELDS),
    )
    receipt = smpp34.DeliverSm(
        RECEIPT_FIELDS["source_addr"],
        RECEIPT_FIELDS["destination_addr"],
        RECEIPT_TEXT,
        sequence_number=7,
        tlvs=[
            smpp34.Tlv(Tag.RECEIPTED_MESSAGE_ID, MESSAGE_ID.encode() + b"\0"),
            smpp34.Tlv(Tag.MESSAGE_STATE, b"\x02"),
        ],
        **fields(RECEIPT_FIELDS),
    )
    resp_frame = smpp.encode(smpp.SubmitSmResp(message_id=MESSAGE_ID), 7)
    cases: dict[str, Case] = {}
    for name, pdu in (("submit_sm", submit), ("deliver_sm receipt", receipt)):
        frame = pdu.encode()
        assert smpp34.decode(frame).short_message == pdu.short_message
        cases[name] = Case(
            encode=lambda pdu=pdu: pdu.encode(),
            decode=lambda frame=frame: smpp34.decode(frame),
        )
    cases["submit_sm_resp"] = Case(
        encode=None,
        decode=lambda: smpp34.decode(resp_frame),
        note="smpp34: no submit_sm_resp codec; decode gives a RawPdu (header, raw body)",
    )
    return cases


# -- timing -----------------------------------------------------------------------------------


def timed(op: Op, n: int) -> float:
    """Operations per second over `n` calls."""
    start = time.perf_counter()
    for _ in range(n):
        op()
    return n / (time.perf_counter() - start)


def both(case: Case) -> Op | None:
    if case.encode is None or case.decode is None:
        return None
    enc, dec = case.encode, case.decode

    def run() -> None:
        dec()
        enc()

    return run


Results = dict[str, dict[str, dict[str, float | None]]]  # library → PDU → operation → ops/s


def measure(libraries: dict[str, dict[str, Case]], n: int, repeat: int) -> Results:
    """The median ops/s of each (library, PDU, operation). The repeats are interleaved across
    libraries, so a load change on the machine hits all of them alike and the ratios hold."""
    ops: list[tuple[str, str, str, Op]] = []
    results: Results = {}
    for lib, cases in libraries.items():
        results[lib] = {}
        for pdu_name, case in cases.items():
            chosen = {"encode": case.encode, "decode": case.decode, "decode+encode": both(case)}
            results[lib][pdu_name] = dict.fromkeys(chosen)
            for op_name, op in chosen.items():
                if op is not None:
                    op()  # warm up, and fail early
                    ops.append((lib, pdu_name, op_name, op))
    samples: dict[tuple[str, str, str], list[float]] = {key[:3]: [] for key in ops}
    for _ in range(repeat):
        for lib, pdu_name, op_name, op in ops:
            samples[lib, pdu_name, op_name].append(timed(op, n))
    for (lib, pdu_name, op_name), rates in samples.items():
        results[lib][pdu_name][op_name] = statistics.median(rates)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="operations per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats; the median is kept")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    libraries: dict[str, dict[str, Case] | str] = {
        "opensmsc": ours(),
        "smpplib 2.2.4": smpplib_cases(),
        "smpp34": smpp34_cases(),
    }
    notes: list[str] = []
    runnable: dict[str, dict[str, Case]] = {}
    for lib, cases in libraries.items():
        if isinstance(cases, str):
            notes.append(f"{lib}: {cases}")
        else:
            runnable[lib] = cases
            notes += [case.note for case in cases.values() if case.note]
    results = measure(runnable, args.n, args.repeat)

    if args.json:
        print(json.dumps({"n": args.n, "repeat": args.repeat, "results": results, "notes": notes}))
        return 0

    mine = results["opensmsc"]
    others = [lib for lib in results if lib != "opensmsc"]
    header = f"{'PDU':<20} {'operation':<14} {'opensmsc /s':>12}"
    for lib in others:
        header += f" {lib + ' /s':>16} {'ratio':>7}"
    print(f"n={args.n} repeat={args.repeat} (median ops/s; ratio = opensmsc / other)")
    print(header)
    print("-" * len(header))
    for pdu_name, ops in mine.items():
        for op_name, ours_rate in ops.items():
            line = f"{pdu_name:<20} {op_name:<14} {ours_rate or 0:>12,.0f}"
            for lib in others:
                theirs = results[lib].get(pdu_name, {}).get(op_name)
                if theirs is None:
                    line += f" {'cannot':>16} {'-':>7}"
                else:
                    ratio = (ours_rate or 0) / theirs
                    line += f" {theirs:>16,.0f} {ratio:>6.2f}x"
            print(line)
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
