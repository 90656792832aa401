"""Schemathesis hooks for `contract/fuzz.py`.

A well-formed Idempotency-Key is made unique per generated request: generated keys are short and
repeat, and the same key with another body is, by contract, refused (422 idempotency_key_reused).
Retries with a key are tested deliberately in tests/platform.rs. Malformed keys are left as they
are, so their rejection is still checked.
"""

import re
import uuid

import schemathesis

WELL_FORMED = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and WELL_FORMED.fullmatch(str(headers[name])):
            headers[name] = str(uuid.uuid4())
    return None
