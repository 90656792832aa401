-- One-time password reset tokens, issued by an admin or sent by email. Only a keyed hash is kept;
-- a token works once, until it expires, and issuing a new one voids the earlier ones.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    -- The admin who issued it; NULL: the user asked for it by email.
    issued_by  uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id) WHERE used_at IS NULL;

-- A second factor: the TOTP secret sealed with the data key (bound to its user), active once a
-- first code confirmed it. `last_step` is the time step of the last code accepted: a code works once.
CREATE TABLE totp_factors (
    user_id      uuid PRIMARY KEY REFERENCES users (id),
    key_id       text NOT NULL,
    nonce        bytea NOT NULL,
    ciphertext   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz,
    last_step    bigint
);

-- One-time recovery codes (keyed hashes), for a lost authenticator.
CREATE TABLE recovery_codes (
    code_hash  bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- A sign-in whose password was right and that waits for its second factor (or its enrolment).
CREATE TABLE mfa_challenges (
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    token_version integer NOT NULL,
    enrol         boolean NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    used_at       timestamptz
);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);
