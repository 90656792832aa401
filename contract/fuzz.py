"""Schemathesis against a served Haki, as each of the six roles, with records that exist.

Run by `scripts/contract.sh fuzz BASE_URL` on a server holding the demo dataset. For each role it
logs in as the demo account, finds records within that account's reach (so generated requests get
past 404s), writes a Schemathesis configuration pinning the path ids of each operation to those
records, and runs every check. Business rules no schema can state are listed, one reason each, in
contract/schemathesis-rules.toml. Exits non-zero when any role's run finds a failure.
"""

import json
import re
import os
import subprocess
import time
import sys
import tempfile
import tomllib
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PASSWORD = os.environ.get("HAKI_DEMO_PASSWORD", "haki demo password")
# Least destructive first: program managers change teams, admins deactivate accounts.
ROLES = [
    ("analyst", "analyst@haki.demo"),
    ("partner", "partner@haki.demo"),
    ("aftercare_officer", "aftercare@haki.demo"),
    ("case_worker", "investigator@haki.demo"),
    ("program_manager", "manager@haki.demo"),
    ("admin", "admin@haki.demo"),
]


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def first(base, token, path, key="id"):
    status, body = call(base, "GET", path, token)
    if status != 200 or not body:
        return None
    items = body["data"]  # every list is a page
    return items[0][key] if items else None


def discover(base, token, me):
    """Ids within the caller's reach, by the path template prefix that uses them."""
    ids = {"/api/v1/users": me}
    case = first(base, token, "/api/v1/cases")
    survivor = first(base, token, "/api/v1/survivors")
    ids["/api/v1/cases"] = case
    ids["/api/v1/survivors"] = survivor
    ids["/api/v1/partners"] = first(base, token, "/api/v1/partners")
    ids["/api/v1/offences"] = first(base, token, "/api/v1/offences", key="code")
    if case:
        status, suspects = call(base, "GET", f"/api/v1/cases/{case}/suspects", token)
        if status == 200:
            suspects = suspects["data"]
            if suspects:
                ids["/api/v1/suspects"] = suspects[0]["id"]
                charges = [c for s in suspects for c in s.get("charges", [])]
                if charges:
                    ids["/api/v1/charges"] = charges[0]["id"]
        ids["/api/v1/court-sessions"] = first(base, token, f"/api/v1/cases/{case}/court-sessions")
    if survivor:
        ids["/api/v1/services"] = first(base, token, f"/api/v1/survivors/{survivor}/services")
        ids["/api/v1/consents"] = first(base, token, f"/api/v1/survivors/{survivor}/consents")
    ids["/api/v1/follow-ups"] = first(base, token, "/api/v1/follow-ups")
    ids["/api/v1/trainings"] = first(base, token, "/api/v1/trainings")
    ids["/api/v1/approvals"] = first(base, token, "/api/v1/approvals")
    ids["/api/v1/referrals"] = first(base, token, "/api/v1/referrals")
    ids["/api/v1/api-keys"] = first(base, token, "/api/v1/api-keys")
    ids["/api/v1/webhooks"] = first(base, token, "/api/v1/webhooks")
    return {k: v for k, v in ids.items() if v}


# Schemathesis' own defaults for the checks a rule can widen.
DEFAULT_EXPECTED = {
    "positive_data_acceptance": ["2xx", "3xx", "401", "403", "404", "409", "429"],
    "missing_required_header": ["400", "401", "403", "406", "415", "422"],
}


def operations_config(spec, ids, me, rules):
    """One entry per operation: its path ids, and the statuses the rules file allows it."""
    out = []
    for path, item in spec["paths"].items():
        for method in item:
            name = f"{method.upper()} {path}"
            params = {}
            for prefix, value in ids.items():
                if path.startswith(prefix + "/{"):
                    param = path[len(prefix) + 2 : path.index("}", len(prefix))]
                    params[f"path.{param}"] = value
            if "{user_id}" in path:
                params["path.user_id"] = me
            takes = {p["name"] for p in item[method].get("parameters", [])}
            checks = {}
            for r in rules:
                if re.fullmatch(r["operations"], name) and r.get("parameter", "") in takes | {""}:
                    check = r.get("check", "positive_data_acceptance")
                    expected = checks.setdefault(check, {"expected-statuses": list(DEFAULT_EXPECTED[check])})
                    expected["expected-statuses"].append(str(r["status"]))
            entry = {"include-name": name}
            if params:
                entry["parameters"] = params
            if checks:
                entry["checks"] = checks
            if len(entry) > 1:
                out.append(entry)
    return out


def toml_value(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def main():
    base = sys.argv[1].rstrip("/")
    spec = json.load(urllib.request.urlopen(base + "/openapi.json"))
    rules = tomllib.loads((HERE / "schemathesis-rules.toml").read_text())
    examples = os.environ.get("HAKI_FUZZ_EXAMPLES", "8")
    runs = []
    for role, email in ROLES:
        status, login = call(base, "POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})
        if status != 200:
            print(f"fuzz: cannot log in as {email} ({status}); is the demo dataset loaded?", file=sys.stderr)
            sys.exit(2)
        token = login["access_token"]
        _, me = call(base, "GET", "/api/v1/me", token)
        ids = discover(base, token, me["id"])
        lines = [
            f"base-url = {json.dumps(base)}",
            "continue-on-failure = true",
            "[auth.openapi.bearer]",
            f"bearer = {json.dumps(token)}",
            "[generation]",
            "allow-x00 = false",
            "[phases.stateful]",
            "enabled = false",
        ]
        for op in operations_config(spec, ids, me["id"], rules.get("rule", [])):
            lines.append("[[operations]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in op.items()]
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
            cfg.write("\n".join(lines) + "\n")
        records = ", ".join(sorted(k.rsplit("/", 1)[1] for k in ids))
        runs.append((role, email, records, cfg.name, token))

    # Roles run side by side, one process each with a single worker: Schemathesis' threaded
    # workers trip a CPython 3.11 `ast` race (a spurious "recursion depth mismatch").
    parallel = int(os.environ.get("HAKI_FUZZ_PARALLEL", "2"))
    failed = []
    pending = list(runs)
    active = []
    while pending or active:
        while pending and len(active) < parallel:
            role, email, records, cfg, token = pending.pop(0)
            log = Path(tempfile.gettempdir()) / f"haki-fuzz-{role}.log"
            out = open(log, "w")
            proc = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "--config-file",
                    cfg,
                    "run",
                    base + "/openapi.json",
                    "--checks",
                    "all",
                    "--max-examples",
                    examples,
                    "--seed",
                    os.environ.get("HAKI_FUZZ_SEED", "20261122"),
                    "--workers",
                    "1",
                    "--output-truncate=true",
                    # Signing out (this device, or another: the session listed by GET
                    # /me/sessions is the fuzz's own), an admin ending the caller's sessions or
                    # resetting a second factor would end the session the fuzz runs in; these
                    # are driven by tests/auth.rs instead.
                    "--exclude-operation-id",
                    "logout",
                    "--exclude-operation-id",
                    "end_user_sessions",
                    "--exclude-operation-id",
                    "reset_user_mfa",
                    "--exclude-operation-id",
                    "end_my_session",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks", "PYTHONPATH": str(HERE)},
                cwd=tempfile.gettempdir(),
            )
            active.append((role, email, records, log, out, proc, token))
        time.sleep(0.5)
        for entry in list(active):
            role, email, records, log, out, proc, token = entry
            if proc.poll() is None:
                continue
            active.remove(entry)
            out.close()
            text = log.read_text()
            tail = [l for l in text.splitlines() if l.strip()][-3:]
            print(f"fuzz: {role} ({email}), records: {records}", flush=True)
            print("\n".join("  " + l for l in tail), flush=True)
            if proc.returncode != 0:
                failed.append((role, log))
            # A run whose session ended midway tested little but 401s: that is a failure too.
            status, _ = call(base, "GET", "/api/v1/me", token)
            if status != 200:
                print(f"fuzz: the session as {role} no longer works ({status}): an operation ended it", file=sys.stderr)
                failed.append((role, log))
    if failed:
        for role, log in failed:
            print(f"fuzz: failures as {role}; full output in {log}", file=sys.stderr)
        sys.exit(1)
    print("fuzz: no failures as any role")


if __name__ == "__main__":
    main()
