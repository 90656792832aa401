-- `survivor.follow_up_due` is told once per follow-up, when it comes within 30 days of its due
-- date: a follow-up is noted here in the same statement that queues its deliveries, so that
-- several service instances never tell it twice.
CREATE TABLE follow_up_notices (
    follow_up_id uuid PRIMARY KEY REFERENCES follow_ups (id),
    noticed_at   timestamptz NOT NULL DEFAULT now()
);

-- A delivery being sent carries the token of the worker that claimed it: only that worker records
-- its outcome, and it cannot be sent again while in flight.
ALTER TABLE webhook_deliveries ADD COLUMN claim_token uuid;

-- When the webhook's last failed attempt was: failures separated by a long quiet spell do not add
-- up to "failing for days".
ALTER TABLE webhooks ADD COLUMN last_failure_at timestamptz;

-- An API key lasts as long as its owner's sessions: a password change or deactivation (which move
-- the owner's token version on) ends it too.
ALTER TABLE api_keys ADD COLUMN token_version integer NOT NULL DEFAULT 1;
