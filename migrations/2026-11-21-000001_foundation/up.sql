-- Foundation: partner organisations, users, the append-only audit log and idempotency keys.

-- Keeps updated_at true on every UPDATE without relying on each query to remember it.
CREATE FUNCTION haki_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE partners (
    id               uuid PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind             text NOT NULL CHECK (kind IN (
                         'community_justice_centre', 'ngo', 'shelter', 'government_agency',
                         'police_unit', 'prosecution', 'court', 'faith_based', 'media', 'donor', 'other')),
    counties         text[] NOT NULL DEFAULT '{}',
    contact_name     text CHECK (length(contact_name) <= 200),
    contact_email    text CHECK (length(contact_email) <= 254),
    contact_phone    text CHECK (length(contact_phone) <= 40),
    services_offered text[] NOT NULL DEFAULT '{}',
    mou_signed_on    date,
    mou_expires_on   date,
    active           boolean NOT NULL DEFAULT true,
    notes            text CHECK (length(notes) <= 4000),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT partners_mou_dates CHECK (mou_expires_on IS NULL OR mou_signed_on IS NULL OR mou_expires_on >= mou_signed_on)
);
CREATE UNIQUE INDEX partners_name_key ON partners (lower(name));
CREATE TRIGGER partners_touch BEFORE UPDATE ON partners
    FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash       text NOT NULL,
    role                text NOT NULL CHECK (role IN (
                            'admin', 'program_manager', 'case_worker', 'aftercare_officer', 'analyst', 'partner')),
    organization_id     uuid REFERENCES partners (id),
    active              boolean NOT NULL DEFAULT true,
    failed_logins       integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    last_login_at       timestamptz,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    -- Carried in access tokens; bumping it (new password) revokes every token issued before.
    token_version       integer NOT NULL DEFAULT 1,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- A partner user acts for exactly one organisation.
    CONSTRAINT users_partner_has_organization CHECK (role <> 'partner' OR organization_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_organization_idx ON users (organization_id);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id      uuid,
    actor_role    text,
    action        text NOT NULL,
    resource_type text NOT NULL,
    resource_id   text,
    request_id    text,
    client_addr   text,
    details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

-- The audit trail is evidence: nobody, not even the table's owner through this service, rewrites it.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Responses remembered for POST requests carrying an Idempotency-Key, per principal.
CREATE TABLE idempotency_keys (
    principal     uuid NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,
    status        smallint,          -- NULL while the first request is still being processed
    content_type  text,
    location      text,
    etag          text,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
