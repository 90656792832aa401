-- Survivors and restoration: pseudonymous records, the encrypted identity vault, need-to-know
-- assignments, consent, services, assessments, closure and the follow-up two years later.

CREATE TABLE survivors (
    id                      uuid PRIMARY KEY,
    pseudonym               text NOT NULL CHECK (length(pseudonym) BETWEEN 1 AND 100),
    sex                     text CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    birth_year              integer CHECK (birth_year BETWEEN 1950 AND 2100),
    age_at_intake           integer CHECK (age_at_intake BETWEEN 0 AND 100),
    intake_on               date NOT NULL,
    has_disability          boolean NOT NULL DEFAULT false,
    disability_notes        text CHECK (length(disability_notes) <= 1000),
    county                  text CHECK (county IN ('mombasa', 'kwale', 'kilifi', 'tana_river', 'lamu', 'taita_taveta', 'garissa', 'wajir', 'mandera', 'marsabit', 'isiolo', 'meru', 'tharaka_nithi', 'embu', 'kitui', 'machakos', 'makueni', 'nyandarua', 'nyeri', 'kirinyaga', 'muranga', 'kiambu', 'turkana', 'west_pokot', 'samburu', 'trans_nzoia', 'uasin_gishu', 'elgeyo_marakwet', 'nandi', 'baringo', 'laikipia', 'nakuru', 'narok', 'kajiado', 'kericho', 'bomet', 'kakamega', 'vihiga', 'bungoma', 'busia', 'siaya', 'kisumu', 'homa_bay', 'migori', 'kisii', 'nyamira', 'nairobi')),
    placement               text CHECK (placement IN ('family', 'relative', 'foster', 'shelter', 'boarding_school', 'independent')),
    caregiver_implicated    boolean NOT NULL DEFAULT false,
    schooling               text CHECK (schooling IN ('not_enrolled', 'primary', 'secondary', 'vocational', 'tertiary', 'completed', 'dropped_out')),
    survivor_network_member boolean NOT NULL DEFAULT false,
    restoration_status      text NOT NULL DEFAULT 'active' CHECK (restoration_status IN ('active', 'closed', 'follow_up_done')),
    closed_on               date,
    closure_reason          text CHECK (closure_reason IN ('restored', 'relocated', 'transferred', 'declined_services', 'lost_contact', 'deceased', 'other')),
    version                 integer NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT survivors_age_known CHECK (birth_year IS NOT NULL OR age_at_intake IS NOT NULL),
    CONSTRAINT survivors_closure CHECK ((restoration_status = 'active') = (closed_on IS NULL AND closure_reason IS NULL))
);
CREATE TRIGGER survivors_touch BEFORE UPDATE ON survivors FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- Age in whole years on a day, from the birth year or from the age at intake.
CREATE FUNCTION survivor_age_on(birth_year integer, age_at_intake integer, intake_on date, day date)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN birth_year IS NOT NULL THEN extract(year FROM day)::integer - birth_year
                ELSE age_at_intake - (extract(year FROM intake_on)::integer - extract(year FROM day)::integer) END
$$;

-- Legal name, guardian, phone and address: AES-256-GCM ciphertext only, bound to the survivor id.
CREATE TABLE survivor_identities (
    survivor_id uuid PRIMARY KEY REFERENCES survivors (id),
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    updated_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER survivor_identities_touch BEFORE UPDATE ON survivor_identities FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE case_survivors (
    case_id     uuid NOT NULL REFERENCES cases (id),
    survivor_id uuid NOT NULL REFERENCES survivors (id),
    role        text NOT NULL DEFAULT 'victim' CHECK (role IN ('victim', 'victim_witness', 'witness')),
    linked_by   uuid REFERENCES users (id),
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, survivor_id)
);
CREATE INDEX case_survivors_survivor_idx ON case_survivors (survivor_id, case_id);

CREATE TABLE survivor_assignments (
    id          uuid PRIMARY KEY,
    survivor_id uuid NOT NULL REFERENCES survivors (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    role        text NOT NULL CHECK (role IN ('counsellor', 'social_worker', 'case_manager', 'other')),
    assigned_by uuid REFERENCES users (id),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    ended_by    uuid REFERENCES users (id)
);
CREATE UNIQUE INDEX survivor_assignments_active_key ON survivor_assignments (survivor_id, user_id) WHERE ended_at IS NULL;
CREATE INDEX survivor_assignments_user_idx ON survivor_assignments (user_id, survivor_id) WHERE ended_at IS NULL;

CREATE TABLE consents (
    id                    uuid PRIMARY KEY,
    survivor_id           uuid NOT NULL REFERENCES survivors (id),
    purpose               text NOT NULL CHECK (purpose IN ('services', 'data_sharing', 'storytelling', 'media', 'research')),
    given_by              text NOT NULL CHECK (given_by IN ('survivor', 'guardian')),
    guardian_relationship text CHECK (length(guardian_relationship) <= 100),
    child_assent          boolean,
    given_on              date NOT NULL,
    expires_on            date,
    recipients            uuid[] NOT NULL DEFAULT '{}',
    notes                 text CHECK (length(notes) <= 2000),
    withdrawn_at          timestamptz,
    withdrawn_reason      text CHECK (length(withdrawn_reason) <= 2000),
    recorded_by           uuid REFERENCES users (id),
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT consents_dates CHECK (expires_on IS NULL OR expires_on >= given_on)
);
CREATE INDEX consents_survivor_idx ON consents (survivor_id, purpose);

CREATE TABLE survivor_services (
    id                  uuid PRIMARY KEY,
    survivor_id         uuid NOT NULL REFERENCES survivors (id),
    kind                text NOT NULL CHECK (kind IN ('trauma_counselling', 'psychosocial_support', 'medical', 'shelter', 'education', 'livelihood', 'legal_support', 'court_accompaniment', 'family_reintegration')),
    provider_partner_id uuid REFERENCES partners (id),
    status              text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'active', 'completed', 'discontinued')),
    start_on            date,
    end_on              date,
    cost_minor          bigint CHECK (cost_minor >= 0),
    cost_currency       text CHECK (cost_currency ~ '^[A-Z]{3}$'),
    notes               text CHECK (length(notes) <= 4000),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT survivor_services_dates CHECK (end_on IS NULL OR start_on IS NULL OR end_on >= start_on),
    CONSTRAINT survivor_services_cost CHECK ((cost_minor IS NULL) = (cost_currency IS NULL))
);
CREATE INDEX survivor_services_survivor_idx ON survivor_services (survivor_id, id);
CREATE TRIGGER survivor_services_touch BEFORE UPDATE ON survivor_services FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE service_sessions (
    id          uuid PRIMARY KEY,
    service_id  uuid NOT NULL REFERENCES survivor_services (id),
    held_on     date NOT NULL,
    minutes     integer CHECK (minutes BETWEEN 1 AND 1440),
    notes       text CHECK (length(notes) <= 4000),
    recorded_by uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX service_sessions_service_idx ON service_sessions (service_id, held_on DESC, id DESC);

-- Scores are kept in tenths (10 = 1.0 … 40 = 4.0) so they compare exactly.
CREATE TABLE assessments (
    id                      uuid PRIMARY KEY,
    survivor_id             uuid NOT NULL REFERENCES survivors (id),
    kind                    text NOT NULL CHECK (kind IN ('intake', 'six_month', 'annual', 'closure', 'follow_up')),
    assessed_on             date NOT NULL,
    safety                  smallint NOT NULL CHECK (safety BETWEEN 10 AND 40),
    legal_protection        smallint NOT NULL CHECK (legal_protection BETWEEN 10 AND 40),
    mental_wellbeing        smallint NOT NULL CHECK (mental_wellbeing BETWEEN 10 AND 40),
    economic_empowerment_education smallint NOT NULL CHECK (economic_empowerment_education BETWEEN 10 AND 40),
    social_support          smallint NOT NULL CHECK (social_support BETWEEN 10 AND 40),
    physical_wellbeing      smallint NOT NULL CHECK (physical_wellbeing BETWEEN 10 AND 40),
    notes                   text CHECK (length(notes) <= 4000),
    recorded_by             uuid REFERENCES users (id),
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_survivor_idx ON assessments (survivor_id, assessed_on DESC, id DESC);

-- Every closure, kept when a survivor is reopened.
CREATE TABLE survivor_closures (
    id            uuid PRIMARY KEY,
    survivor_id   uuid NOT NULL REFERENCES survivors (id),
    closed_on     date NOT NULL,
    reason        text NOT NULL,
    note          text CHECK (length(note) <= 4000),
    closed_by     uuid REFERENCES users (id),
    reopened_on   date,
    reopen_reason text CHECK (length(reopen_reason) <= 4000),
    reopened_by   uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survivor_closures_survivor_idx ON survivor_closures (survivor_id, created_at);

CREATE TABLE follow_ups (
    id            uuid PRIMARY KEY,
    survivor_id   uuid NOT NULL REFERENCES survivors (id),
    closure_id    uuid REFERENCES survivor_closures (id),
    due_on        date NOT NULL,
    status        text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'done', 'cancelled')),
    conducted_on  date,
    outcome       text CHECK (outcome IN ('sustained', 'needs_support', 'not_reached')),
    notes         text CHECK (length(notes) <= 4000),
    assessment_id uuid REFERENCES assessments (id),
    recorded_by   uuid REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT follow_ups_done CHECK ((status = 'done') = (conducted_on IS NOT NULL AND outcome IS NOT NULL))
);
CREATE INDEX follow_ups_due_idx ON follow_ups (status, due_on);
CREATE INDEX follow_ups_survivor_idx ON follow_ups (survivor_id);
CREATE TRIGGER follow_ups_touch BEFORE UPDATE ON follow_ups FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- age_charge_mismatch now that survivors exist: a charge under an offence graded by the child's age
-- (SOA s.8) while no victim of the case could have been of an age that subsection covers.
CREATE OR REPLACE VIEW case_facts AS
SELECT c.id AS case_id,
       (SELECT min(s.arrested_on) FROM suspects s WHERE s.case_id = c.id) - c.reported_on AS days_to_first_arrest,
       (SELECT min(ch.filed_on) FROM charges ch WHERE ch.case_id = c.id) - c.reported_on AS days_to_first_charge,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'held') AS court_sessions_held,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'adjourned') AS court_sessions_adjourned,
       (SELECT min(cs.scheduled_on) FROM court_sessions cs
         WHERE cs.case_id = c.id AND cs.status = 'scheduled' AND cs.scheduled_on >= (now() AT TIME ZONE 'Africa/Nairobi')::date) AS next_court_date,
       (c.stage <> 'closed' AND c.last_activity_on < (now() AT TIME ZONE 'Africa/Nairobi')::date - 30) AS stalled,
       (EXISTS (SELECT 1 FROM suspects s
                 WHERE s.case_id = c.id
                   AND (s.role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
                        OR s.relationship IN ('parent', 'caregiver')))
        AND NOT EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                         WHERE ch.case_id = c.id AND o.statute = 'counter_trafficking_act_2010'
                           AND ch.status <> 'withdrawn')) AS ctip_gap,
       EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                WHERE ch.case_id = c.id AND ch.status <> 'withdrawn'
                  AND o.child_age_min IS NOT NULL AND o.child_age_max IS NOT NULL
                  AND EXISTS (SELECT 1 FROM case_survivors cv
                               WHERE cv.case_id = c.id AND cv.role <> 'witness')
                  -- Ages from years alone are the computed one or one year less: flag only when
                  -- neither fits the subsection.
                  AND NOT EXISTS (SELECT 1 FROM case_survivors cv JOIN survivors sv ON sv.id = cv.survivor_id
                                   WHERE cv.case_id = c.id AND cv.role <> 'witness'
                                     AND survivor_age_on(sv.birth_year, sv.age_at_intake, sv.intake_on,
                                                         coalesce(c.incident_on, c.reported_on))
                                         BETWEEN o.child_age_min AND o.child_age_max + 1)) AS age_charge_mismatch
FROM cases c;
