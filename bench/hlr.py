"""Simulated HLR at scale (issue 6, "Scale"): load a million subscribers, then look them up.

    python bench/hlr.py [--n 1000000] [--lookups 200000] [--dir PATH] [--json]

Writes an N-row subscriber CSV (every column filled, a realistic mix of states, networks,
latencies and some ported and roaming numbers) in a temporary folder, then in this process:
loads it with `SubscriberTable.load_csv` and reports the seconds taken and VmRSS (from
/proc/self/status) before and after; then times `SubscriberTable.resolve` over random numbers,
half present and half absent (these take the prefix-default path), `SimulatedHlr.
send_routing_info_for_sm` and `HlrLookup.lookup`, and reports the median and p99 in µs.

The bars: load < 30 s, RSS < 500 MiB, lookup < 50 µs. Writing the CSV is not part of the load
time; the RSS after the load includes the interpreter and the imported modules.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc.network import HlrLookup, PrefixDefault, SimulatedHlr, SubscriberTable
from opensmsc.routing import Numbering, NumberPortability, PortabilityTable

BASE = 447_700_000_000  # +44 7700 000000: room for ten million numbers after it
STATES = ["attached"] * 80 + ["absent"] * 10 + ["memory_full", "busy", "barred", "unknown"] * 2
STATES += ["not_provisioned_for_sms"] * 2
NETWORKS = ["23410", "23415", "23420", "23430", "23433"]
LATENCIES = ["fixed:20", "uniform:10:50", "normal:40:10", "normal:80:25"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_csv(path: Path, n: int, rng: random.Random) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            [
                "msisdn",
                "imsi",
                "home_network",
                "msc_address",
                "state",
                "ported_to",
                "serving_network",
                "latency",
                "failure_probability",
                "absent_diagnostic",
            ]
        )
        for i in range(n):
            msisdn = BASE + 2 * i  # even numbers present, odd ones absent
            home = NETWORKS[i % len(NETWORKS)]
            ported = NETWORKS[(i + 1) % len(NETWORKS)] if i % 20 == 0 else ""
            imsi = (ported or home) + str(msisdn)[-10:]
            out.writerow(
                [
                    f"+{msisdn}",
                    imsi,
                    home,
                    f"4477009{i % 100:05d}",
                    rng.choice(STATES),
                    ported,
                    "20801" if i % 50 == 0 else "",
                    rng.choice(LATENCIES),
                    "0.01" if i % 10 == 0 else "0",
                    "1",
                ]
            )


def percentiles(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {
        "median_us": round(statistics.median(samples) * 1e6, 2),
        "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 2),
        "max_us": round(samples[-1] * 1e6, 2),
    }


def timed(function: object, keys: list[str]) -> dict[str, float]:
    assert callable(function)
    clock = time.perf_counter
    samples = []
    for key in keys:
        start = clock()
        function(key)
        samples.append(clock() - start)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(6)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "subscribers.csv"
        start = time.perf_counter()
        write_csv(path, args.n, rng)
        write_s = time.perf_counter() - start
        size_mib = path.stat().st_size / 2**20
        gc.collect()
        rss_before = rss_mib()
        table = SubscriberTable(
            numbering=Numbering("GB"),
            defaults=[PrefixDefault(prefix="44", home_network="23415")],
        )
        start = time.perf_counter()
        loaded = table.load_csv(path)
        load_s = time.perf_counter() - start
        gc.collect()
        rss_after = rss_mib()
    assert loaded == args.n == len(table)

    ported = PortabilityTable(numbering=table.numbering)
    for i in range(0, 10_000):
        ported.put(BASE + 2 * i + 1, "23420", "4420")
    hlr = SimulatedHlr(table, portability=NumberPortability(ported))
    lookup = HlrLookup(hlr)
    span = 2 * args.n
    keys = [str(BASE + rng.randrange(span)) for _ in range(args.lookups)]
    present = sum(1 for key in keys if (int(key) - BASE) % 2 == 0)
    results = {
        "subscribers": args.n,
        "csv_mib": round(size_mib, 1),
        "csv_write_s": round(write_s, 2),
        "load_s": round(load_s, 2),
        "load_rows_per_s": round(args.n / load_s),
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_after, 1),
        "lookups": args.lookups,
        "present_share": round(present / len(keys), 3),
        "resolve": timed(table.resolve, keys),
        "resolve_e164_plus": timed(table.resolve, ["+" + key for key in keys[:50_000]]),
        "resolve_national": timed(table.resolve, ["0" + key[2:] for key in keys[:20_000]]),
        "sri_for_sm": timed(hlr.send_routing_info_for_sm, keys),
        "hlr_lookup": timed(lookup.lookup, keys[:50_000]),
        "rss_end_mib": round(rss_mib(), 1),
    }
    bars = {
        "load_s < 30": results["load_s"] < 30,  # type: ignore[operator]
        "rss_after_mib < 500": results["rss_after_mib"] < 500,  # type: ignore[operator]
        "resolve p99 < 50 us": results["resolve"]["p99_us"] < 50,  # type: ignore[index]
        "sri_for_sm p99 < 50 us": results["sri_for_sm"]["p99_us"] < 50,  # type: ignore[index]
    }
    results["bars_met"] = bars
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, value in results.items():
        print(f"{name:>22}: {value}")


if __name__ == "__main__":
    main()
