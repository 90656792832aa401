#!/usr/bin/env python3
"""Turns the statements PostgreSQL logged for one request (log_statement = all) into a pgbench
script of the same statements, so the database's own limit is measured on exactly what the
service sends.

usage: pgbench_script.py LOG OFFSET SINCE_MS [\\META-COMMAND | LITERAL=EXPRESSION ...]

LOG from byte OFFSET holds the request's statements. Parameters are written in as literals.
Values the request minted (UUIDv7 ids stamped at or after SINCE_MS, milliseconds since the epoch)
become per-transaction values from `\\set r`, so a write script can be replayed without
colliding with itself; LITERAL=EXPRESSION pairs replace other values (e.g. an Idempotency-Key, or
a record's id by one drawn with a `\\set` meta-command given before them).
Statements of the background rounds (follow-ups due, webhook deliveries) are left out.
"""
import re
import sys

# Not the request's: the background rounds', and the benchmark's own switching of the log.
OTHERS = ("WITH noticed AS", "WITH due AS", "ALTER SYSTEM", "SELECT pg_reload_conf()")
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[\d+\] ", re.M)
STATEMENT = re.compile(r"LOG:  (?:execute [^:]+|statement): (.*)", re.S)
UUID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})'")


def statements(text):
    out = []
    for entry in ENTRY.split(text):
        entry = entry.strip()
        m = STATEMENT.match(entry)
        if m:
            out.append([m.group(1).strip(), {}])
        elif entry.startswith("DETAIL:  parameters: ") and out:
            params = entry[len("DETAIL:  parameters: "):]
            for m in re.finditer(r"\$(\d+) = (NULL|'(?:[^']|'')*')", params):
                out[-1][1][int(m.group(1))] = m.group(2)
    return out


def uncommented(sql):
    """The SQL without its `--` comments (a `--` inside a string literal stays)."""
    kept = []
    for line in sql.splitlines():
        quote = False
        for i, c in enumerate(line):
            if c == "'":
                quote = not quote
            elif not quote and line.startswith("--", i):
                line = line[:i]
                break
        kept.append(line)
    return "\n".join(kept)


def main():
    log, offset, since = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    meta = [arg for arg in sys.argv[4:] if arg.startswith("\\")]
    replace = dict(arg.split("=", 1) for arg in sys.argv[4:] if not arg.startswith("\\"))
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        text = f.read()
    minted = {}
    lines = ["\\set r random(1, 1000000000000)"] + meta
    for sql, params in statements(text):
        if sql.startswith(OTHERS) or sql == "SELECT $1":
            continue
        for n in sorted(params, reverse=True):
            sql = re.sub(r"\$%d(?!\d)" % n, lambda _: params[n], sql)
        for literal, expression in replace.items():
            sql = sql.replace("'%s'" % literal, expression)

        def mint(m):
            if int(m.group(1).replace("-", "")[:12], 16) < since:
                return m.group(0)
            k = minted.setdefault(m.group(1), len(minted))
            return "md5(:r::text || '-%d')::uuid" % k

        sql = UUID.sub(mint, sql)
        # pgbench reads a statement up to the semicolon ending a line: one line, no comments.
        lines.append(" ".join(uncommented(sql).split()) + ";")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
