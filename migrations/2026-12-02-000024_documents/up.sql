-- Documents of cases and survivors. The file lives in the object store under `documents/{id}`,
-- encrypted with its own data key; the data key is kept here wrapped by the service key
-- (envelope encryption: rotating the service key rewraps keys, not files). The SHA-256 of the
-- plaintext is recorded at upload and checked on every download (chain of custody). Nothing is
-- deleted: an archived document drops out of lists and stays retrievable by admins.
CREATE TABLE documents (
    id            uuid PRIMARY KEY,
    case_id       uuid REFERENCES cases (id),
    survivor_id   uuid REFERENCES survivors (id),
    kind          text NOT NULL CHECK (kind IN ('p3_form', 'prc_form', 'witness_statement', 'charge_sheet',
                      'court_order', 'judgment', 'medical_report', 'consent_form', 'school_report', 'photo', 'other')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    document_date date NOT NULL,
    identifying   boolean NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    key_id        text NOT NULL,
    key_nonce     bytea NOT NULL,
    wrapped_key   bytea NOT NULL,
    uploaded_by   uuid NOT NULL REFERENCES users (id),
    archived_at   timestamptz,
    archived_by   uuid REFERENCES users (id),
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid REFERENCES users (id),
    CHECK ((case_id IS NULL) <> (survivor_id IS NULL))
);
CREATE INDEX documents_case_idx ON documents (case_id, id) WHERE case_id IS NOT NULL;
CREATE INDEX documents_survivor_idx ON documents (survivor_id, id) WHERE survivor_id IS NOT NULL;
CREATE TRIGGER documents_touch BEFORE UPDATE ON documents FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- Uploads under way (a row from before the file streams in until its document commits): the
-- sweep of objects without a document leaves theirs alone however slowly they stream.
CREATE TABLE document_uploads (
    id         uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now()
);
