-- Webhooks: subscriptions to events, and their deliveries — the outbox. A change writes the
-- deliveries of its event in its own transaction (no event without the change, no change without
-- its event); a worker in the service sends them, signed, retried with backoff.
CREATE TABLE webhooks (
    id                uuid PRIMARY KEY,
    owner_id          uuid NOT NULL REFERENCES users (id),
    -- A partner organisation's webhook hears about its own referrals only; NULL: the program's.
    organization_id   uuid REFERENCES partners (id),
    url               text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events            text[] NOT NULL CHECK (cardinality(events) >= 1),
    -- The signing secret, encrypted under the service's data key (it must be read back to sign).
    secret_key_id     text NOT NULL,
    secret_nonce      bytea NOT NULL,
    secret_ciphertext bytea NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    disabled_reason   text,
    -- Since when every attempt failed (NULL: the last one succeeded); too long and it is disabled.
    failing_since     timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE INDEX webhooks_owner_idx ON webhooks (owner_id, id);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id),
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
