#!/usr/bin/env python3
"""Writes bench/REPORT.md (to standard output) from the figures bench/run.sh collected.

usage: report.py RESULTS RSS HEADER_LINE...
RESULTS: size|scenario|req/s|p50|p99|cpu ms per request|pgbench tps|pgbench p50|pgbench p99
RSS: size|peak RSS in MB
"""
import sys


def ms(text):
    """wrk's and pgbench's latencies ("950.00us", "1.20ms", "1.02s") in milliseconds."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return number(text[: -len(unit)]) * factor or None
    return None


def number(text):
    """A figure as a float; 0 when the tool printed none (nothing completed in the time)."""
    try:
        return float(text)
    except ValueError:
        return 0.0


def fmt_ms(value):
    return "" if value is None else f"{value:.2f} ms"


def main():
    rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1]) if line.strip()]
    rss = dict(line.strip().split("|") for line in open(sys.argv[2]) if line.strip())
    sizes = list(dict.fromkeys(r[0] for r in rows))
    scenarios = list(dict.fromkeys(r[1] for r in rows))
    by = {(r[0], r[1]): r for r in rows}
    out = ["# Benchmark report", "", "Written by `make bench` (`bench/run.sh`); commit it with the code it measured.", ""]
    out += [f"- {line}" for line in sys.argv[3:]]
    out.append("- server: release build; peak RSS " + ", ".join(f"{rss.get(s, '?')} MB at {int(s):,} cases" for s in sizes))
    out += ["", "\"pgbench\" is PostgreSQL running the statements the service sent for that request (captured with",
            "`log_statement`, parameters written in; ids the request minted drawn per transaction), prepared, at",
            "the same concurrency on the same database: the database's own limit. A ratio is service over",
            "pgbench for throughput, pgbench over service for latency; 1.0 would be a service that costs",
            "nothing beyond its statements.", ""]
    for size in sizes:
        out += [f"## {int(size):,} cases", "",
                "| scenario | req/s | p50 | p99 | server CPU / request | pgbench tx/s | pgbench p50 | pgbench p99 | throughput | p50 | p99 |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name in scenarios:
            r = by.get((size, name))
            if not r:
                continue
            _, _, rps, p50, p99, cpu, tps, pg50, pg99 = r
            thr = f"ratio {float(rps) / float(tps):.2f}" if number(rps) and number(tps) else ""
            lat = f"ratio {ms(pg50) / ms(p50):.2f}" if ms(p50) and ms(pg50) else ""
            tail = f"ratio {ms(pg99) / ms(p99):.2f}" if ms(p99) and ms(pg99) else ""
            out.append(f"| {name} | {number(rps):,.1f} | {fmt_ms(ms(p50))} | {fmt_ms(ms(p99))} | "
                       f"{cpu} ms | {f'{number(tps):,.1f}' if tps else ''} | {pg50} | {pg99} | {thr} | {lat} | {tail} |")
        out.append("")
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        out += ["## As the data grows", "",
                f"Time per request (1 / throughput at the same concurrency) at each size, and its growth from "
                f"{int(first):,} to {int(last):,} cases.", "",
                "| scenario | " + " | ".join(f"{int(s):,}" for s in sizes) + " | growth |",
                "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |"]
        for name in scenarios:
            cells = []
            for s in sizes:
                r = by.get((s, name))
                cells.append(1000 / number(r[2]) if r and number(r[2]) else None)
            growth = f"{cells[-1] / cells[0]:.2f}×" if cells[0] and cells[-1] else ""
            out.append(f"| {name} | " + " | ".join(f"{c:.3f} ms" if c else "" for c in cells) + f" | {growth} |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
