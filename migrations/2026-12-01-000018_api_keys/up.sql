-- API keys for scripts and partner systems: each acts as its owner, with the owner's role and
-- organisation at creation (a key whose owner's role changed no longer works). Only a hash of the
-- secret is kept; revoked keys stay, for the audit trail.
CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The first characters of the secret (`haki_` and six more), to tell keys apart.
    prefix          text NOT NULL,
    secret_sha256   bytea NOT NULL UNIQUE,
    role            text NOT NULL,
    organization_id uuid REFERENCES partners (id),
    expires_at      timestamptz,
    last_used_at    timestamptz,
    last_used_addr  text,
    revoked_at      timestamptz,
    revoked_by      uuid REFERENCES users (id),
    created_by      uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_revoked CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX api_keys_owner_idx ON api_keys (owner_id, id);
