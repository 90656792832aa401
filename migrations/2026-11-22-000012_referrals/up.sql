-- Referrals from partner organisations: intake, triage and the case and survivor they become.
CREATE TABLE referrals (
    id                   uuid PRIMARY KEY,
    partner_id           uuid NOT NULL REFERENCES partners (id),
    -- The partner's own id for the referral: re-posting it never creates a second referral.
    external_id          text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 100),
    status               text NOT NULL DEFAULT 'submitted'
                         CHECK (status IN ('submitted', 'acknowledged', 'accepted', 'declined', 'withdrawn')),
    urgency              text NOT NULL CHECK (urgency IN ('routine', 'urgent', 'emergency')),
    -- Initials or a pseudonym: never the child's name.
    child_alias          text NOT NULL CHECK (length(child_alias) BETWEEN 1 AND 60),
    sex                  text CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    age                  integer CHECK (age BETWEEN 0 AND 25),
    birth_year           integer CHECK (birth_year BETWEEN 1990 AND 2100),
    county               text NOT NULL,
    sub_county           text,
    has_disability       boolean NOT NULL DEFAULT false,
    disability_notes     text CHECK (length(disability_notes) <= 1000),
    concern              text NOT NULL CHECK (length(concern) BETWEEN 1 AND 4000),
    indicators           text[] NOT NULL DEFAULT '{}',
    whereabouts          text NOT NULL,
    safe_tonight         boolean NOT NULL,
    consent_given_by     text NOT NULL,
    consent_obtained_on  date NOT NULL,
    -- Submitted at created_at.
    submitted_by         uuid REFERENCES users (id),
    acknowledged_by      uuid REFERENCES users (id),
    acknowledged_at      timestamptz,
    -- Accepted, declined or withdrawn: by whom, when, and why (required to decline).
    concluded_by         uuid REFERENCES users (id),
    concluded_at         timestamptz,
    conclusion_reason    text CHECK (length(conclusion_reason) BETWEEN 1 AND 2000),
    case_id              uuid REFERENCES cases (id),
    survivor_id          uuid REFERENCES survivors (id),
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT referrals_external_id_unique UNIQUE (partner_id, external_id),
    CONSTRAINT referrals_acknowledged CHECK ((status = 'submitted') = (acknowledged_at IS NULL) OR status = 'withdrawn'),
    CONSTRAINT referrals_accepted CHECK ((status = 'accepted') = (case_id IS NOT NULL AND survivor_id IS NOT NULL)),
    CONSTRAINT referrals_declined CHECK (status <> 'declined' OR conclusion_reason IS NOT NULL),
    CONSTRAINT referrals_concluded CHECK ((status IN ('accepted', 'declined', 'withdrawn')) = (concluded_at IS NOT NULL))
);
CREATE INDEX referrals_partner_idx ON referrals (partner_id, id);
CREATE INDEX referrals_open_idx ON referrals (urgency, created_at) WHERE status = 'submitted';
CREATE INDEX referrals_case_idx ON referrals (case_id) WHERE case_id IS NOT NULL;
CREATE TRIGGER referrals_touch BEFORE UPDATE ON referrals FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- The initials of a name or pseudonym, to find records that may be the same child:
-- 'Neema Kahindi' and 'N.K.' both give 'NK'; a short all-capitals alias ('NK') is its own initials.
CREATE FUNCTION haki_initials(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN btrim(name) ~ '^[[:upper:]]{2,4}$' THEN btrim(name)
        ELSE (SELECT string_agg(upper(left(word, 1)), '' ORDER BY n)
              FROM regexp_split_to_table(btrim(name), '[^[:alpha:]]+') WITH ORDINALITY AS t(word, n)
              WHERE word <> '')
    END
$$;
