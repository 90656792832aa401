-- An aftercare officer's closure of a survivor is a request a program manager approves or
-- rejects (DESIGN §2). Until then the survivor stays active; one request at a time.
CREATE TABLE approvals (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('survivor_closure')),
    survivor_id     uuid NOT NULL REFERENCES survivors (id),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    closed_on       date NOT NULL,
    reason          text NOT NULL,
    note            text CHECK (length(note) <= 4000),
    requested_by    uuid NOT NULL REFERENCES users (id),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      uuid REFERENCES users (id),
    decided_at      timestamptz,
    decision_reason text CHECK (length(decision_reason) <= 2000),
    version         integer NOT NULL DEFAULT 1,
    CONSTRAINT approvals_decided CHECK ((status = 'pending') = (decided_by IS NULL AND decided_at IS NULL)),
    CONSTRAINT approvals_rejection_reason CHECK (status <> 'rejected' OR decision_reason IS NOT NULL)
);
CREATE UNIQUE INDEX approvals_one_pending ON approvals (survivor_id) WHERE status = 'pending';
CREATE INDEX approvals_status_idx ON approvals (status, id);
