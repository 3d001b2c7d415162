"""bench/compare.py's own arithmetic, without running any system: what the sink reads from a
submit_sm, the texts' tokens and parts, how a cell's figures and losses come out of the client's
and the sink's records, and how runs become the table. The benchmark itself runs by hand
(`make bench`): it takes minutes and needs Jasmin and Kannel.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import compare  # noqa: E402
import compare_sink  # noqa: E402
import compare_texts  # noqa: E402

from opensmsc.smpp import decode  # noqa: E402
from opensmsc.smpp.constants import Tag  # noqa: E402
from opensmsc.smpp.receipt import receipt_from_pdu  # noqa: E402


def test_every_part_of_a_long_text_carries_the_whole_token() -> None:
    tok = compare_texts.token("abcdef", 123456)
    text = compare_texts.long_text(tok)
    parts = compare_texts.ucs2_parts(text, ref=7)
    assert len(parts) == 2
    for number, part in enumerate(parts, 1):
        body, udh = compare_sink.message_text(part, 8, has_udh=True)
        assert compare_sink.tokens_of(body) == {tok}
        assert compare_sink.concat_info(udh, []) == (2, number)
    # A system that cuts at 66 characters (16-bit reference) still leaves it whole in each.
    assert all(tok in text[i : i + 66] for i in (0, 66))


def test_a_short_text_is_one_gsm_part_with_its_token() -> None:
    tok = compare_texts.token("qwerty", 5)
    raw = compare_texts.short_text(tok).encode()
    body, udh = compare_sink.message_text(raw, 0, has_udh=False)
    assert compare_sink.tokens_of(body) == {tok}
    assert compare_sink.concat_info(udh, []) == (1, 1)


def test_sar_tlvs_give_the_part_number() -> None:
    tlvs = [(compare_sink.SAR_TOTAL_SEGMENTS, b"\x03"), (compare_sink.SAR_SEGMENT_SEQNUM, b"\x02")]
    assert compare_sink.concat_info(b"", tlvs) == (3, 2)


def test_the_long_share_is_three_in_ten() -> None:
    assert sum(compare_texts.is_long(i, 0.3) for i in range(1000)) == 300
    assert not any(compare_texts.is_long(i, 0.0) for i in range(100))


def test_the_sinks_receipt_reads_as_a_receipt_of_that_id() -> None:
    frame = compare_sink.encode_receipt(9, "12345", "447700900123", "C000002A")
    decoded = decode(frame, strict=True)
    assert decoded.sequence_number == 9
    pdu = decoded.pdu
    assert pdu.esm_class == 0x04
    assert pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID) == "C000002A"
    info = receipt_from_pdu(pdu)
    assert info is not None
    assert info.message_id == "C000002A"


def _client(n: int) -> dict[str, float]:
    return {
        "n": n,
        "t0_mono": 100.0,
        "t_resp_mono": 102.0,
        "t_receipt_mono": 104.0,
        "p50_ms": 1.5,
        "p99_ms": 9.0,
        "p50_receipt_ms": 120.0,
        "p99_receipt_ms": 300.0,
    }


def test_a_cell_counts_losses_by_token_and_ignores_the_warm_up() -> None:
    tok = [compare_texts.token("runrun", i) for i in range(4)]
    sink = {
        "tokens": {
            tok[0]: [1, 1, 101.0],
            tok[1]: [2, 2, 101.5],
            tok[2]: [1, 2, 101.0],  # one part of two: not complete at the sink
            compare_texts.token("warmup", 0): [1, 1, 99.0],
        }
    }
    ids = {"accepted": tok, "receipted": [tok[0], tok[2]]}
    figures = compare.cell_figures(_client(4), ids, sink, "runrun", cpu_s=2.0)
    assert figures["accepted"] == 4
    assert figures["accepted_per_s"] == 2.0  # 4 in 2 s
    assert figures["sink_per_s"] == 2 / 1.5  # two complete, the last 1.5 s after the start
    assert figures["receipts_per_s"] == 0.5  # two receipted in 4 s
    assert figures["lost_sink"] == 2  # tok[2] incomplete, tok[3] never there
    assert figures["lost_receipt"] == 2  # tok[1], tok[3]
    assert figures["lost"] == 3  # only tok[0] both reached the sink and came back
    assert figures["cpu_s_per_1000"] == 500.0


def test_runs_become_median_min_max_and_ratios_to_opensmsc() -> None:
    ours = [{"accepted_per_s": v, "receipts_per_s": v / 2, "lost": 0.0} for v in (900, 1000, 1100)]
    theirs = [{"accepted_per_s": v, "receipts_per_s": v, "lost": 0.0} for v in (10, 20, 30)]
    stat = compare.summarize(ours, "accepted_per_s")
    assert (stat.median, stat.low, stat.high) == (1000, 900, 1100)
    assert compare.cell_text(stat, ",.0f") == "1,000 [900–1,100]"
    assert math.isnan(compare.summarize(ours, "p99_ms").median)
    table = compare.markdown_table(
        {("opensmsc", "smpp S=1 W=10"): ours, ("jasmin", "smpp S=1 W=10"): theirs}
    )
    jasmin_row = next(line for line in table.splitlines() if "| jasmin |" in line)
    assert jasmin_row.endswith("| 50.0 / 25.0 |")
    assert "| smpp S=1 W=10 | opensmsc | 1,000 [900–1,100] |" in table
