-- Cases and prosecution: the offence catalogue, cases, their team, timeline, suspects, charges
-- and court sessions.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE offences (
    code              text PRIMARY KEY CHECK (code ~ '^[a-z0-9_.-]{1,40}$'),
    statute           text NOT NULL CHECK (statute IN ('sexual_offences_act_2006', 'counter_trafficking_act_2010', 'children_act_2022')),
    section           text NOT NULL CHECK (length(section) BETWEEN 1 AND 60),
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    min_years         integer CHECK (min_years >= 0),
    max_years         integer CHECK (max_years >= 0),
    life_imprisonment boolean NOT NULL DEFAULT false,
    min_fine_kes      bigint CHECK (min_fine_kes >= 0),
    penalty_note      text CHECK (length(penalty_note) <= 1000),
    -- CTIP offences that reach the recruiters, transporters, harbourers and financiers.
    facilitator_reach boolean NOT NULL DEFAULT false,
    -- For offences graded by the child's age (SOA s.8): the ages the subsection covers.
    child_age_min     integer CHECK (child_age_min BETWEEN 0 AND 17),
    child_age_max     integer CHECK (child_age_max BETWEEN 0 AND 17),
    in_force          boolean NOT NULL DEFAULT true,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (max_years IS NULL OR min_years IS NULL OR max_years >= min_years),
    CHECK (child_age_max IS NULL OR child_age_min IS NULL OR child_age_max >= child_age_min)
);
CREATE TRIGGER offences_touch BEFORE UPDATE ON offences FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- Penalties that are not certain stay empty rather than guessed; legal staff complete them.
INSERT INTO offences (code, statute, section, title, min_years, life_imprisonment, min_fine_kes, penalty_note, facilitator_reach, child_age_min, child_age_max) VALUES
 ('soa-8-2', 'sexual_offences_act_2006', '8(1) with 8(2)', 'Defilement of a child aged eleven years or less', NULL, true, NULL, 'Imprisonment for life.', false, 0, 11),
 ('soa-8-3', 'sexual_offences_act_2006', '8(1) with 8(3)', 'Defilement of a child aged between twelve and fifteen years', 20, false, NULL, 'Imprisonment for not less than twenty years.', false, 12, 15),
 ('soa-8-4', 'sexual_offences_act_2006', '8(1) with 8(4)', 'Defilement of a child aged between sixteen and eighteen years', 15, false, NULL, 'Imprisonment for not less than fifteen years.', false, 16, 17),
 ('soa-11-1', 'sexual_offences_act_2006', '11(1)', 'Indecent act with a child', 10, false, NULL, 'Imprisonment for not less than ten years.', false, NULL, NULL),
 ('soa-12', 'sexual_offences_act_2006', '12', 'Promotion of sexual offences with a child', 5, false, NULL, 'Imprisonment for not less than five years.', false, NULL, NULL),
 ('soa-14', 'sexual_offences_act_2006', '14', 'Child sex tourism', NULL, false, NULL, NULL, false, NULL, NULL),
 ('soa-15', 'sexual_offences_act_2006', '15', 'Child prostitution', NULL, false, NULL, NULL, false, NULL, NULL),
 ('soa-16', 'sexual_offences_act_2006', '16', 'Child pornography', NULL, false, NULL, NULL, false, NULL, NULL),
 ('soa-17', 'sexual_offences_act_2006', '17', 'Exploitation of prostitution', NULL, false, NULL, NULL, false, NULL, NULL),
 ('ctip-3-5', 'counter_trafficking_act_2010', '3(1) with 3(5)', 'Trafficking in persons', 30, false, 30000000, 'Imprisonment for not less than thirty years, or a fine of not less than thirty million shillings, or both; imprisonment for life on a subsequent conviction.', true, NULL, NULL),
 ('ctip-3-6', 'counter_trafficking_act_2010', '3(6)', 'Financing, controlling, aiding or abetting trafficking in persons', NULL, false, NULL, NULL, true, NULL, NULL),
 ('ctip-4', 'counter_trafficking_act_2010', '4', 'Acts that promote child trafficking', NULL, false, NULL, NULL, true, NULL, NULL),
 ('ctip-5', 'counter_trafficking_act_2010', '5', 'Promotion of trafficking in persons (e.g. knowingly leasing or letting premises)', 20, false, 20000000, 'Imprisonment for not less than twenty years, or a fine of not less than twenty million shillings, or both.', true, NULL, NULL),
 ('ctip-7', 'counter_trafficking_act_2010', '7', 'Facilitating entry into or exit from Kenya for trafficking', NULL, false, NULL, NULL, true, NULL, NULL),
 ('ctip-9', 'counter_trafficking_act_2010', '9', 'Trafficking with aggravated harm', NULL, true, NULL, 'Imprisonment for life.', true, NULL, NULL),
 ('ctip-10', 'counter_trafficking_act_2010', '10', 'Trafficking by an organised criminal group', NULL, true, NULL, 'Imprisonment for life.', true, NULL, NULL),
 ('ca-22', 'children_act_2022', '22', 'Abuse of a child (protection from abuse, including sexual exploitation)', NULL, false, NULL, NULL, false, NULL, NULL),
 ('ca-27', 'children_act_2022', '27', 'Disclosure of a child''s identity (privacy)', NULL, false, NULL, NULL, false, NULL, NULL);

-- Case references CSEC-<county>-<year>-<sequence>: one counter row per county and year, advanced
-- atomically so concurrent creations never collide.
CREATE TABLE case_reference_counters (
    prefix     text PRIMARY KEY,
    last_value integer NOT NULL
);

CREATE TABLE cases (
    id                  uuid PRIMARY KEY,
    reference           text NOT NULL UNIQUE,
    county              text NOT NULL CHECK (county IN ('mombasa', 'kwale', 'kilifi', 'tana_river', 'lamu', 'taita_taveta', 'garissa', 'wajir', 'mandera', 'marsabit', 'isiolo', 'meru', 'tharaka_nithi', 'embu', 'kitui', 'machakos', 'makueni', 'nyandarua', 'nyeri', 'kirinyaga', 'muranga', 'kiambu', 'turkana', 'west_pokot', 'samburu', 'trans_nzoia', 'uasin_gishu', 'elgeyo_marakwet', 'nandi', 'baringo', 'laikipia', 'nakuru', 'narok', 'kajiado', 'kericho', 'bomet', 'kakamega', 'vihiga', 'bungoma', 'busia', 'siaya', 'kisumu', 'homa_bay', 'migori', 'kisii', 'nyamira', 'nairobi')),
    sub_county          text CHECK (length(sub_county) <= 60),
    location_type       text NOT NULL CHECK (location_type IN ('hotel', 'villa_short_term_rental', 'private_home', 'brothel', 'street', 'online', 'other')),
    exploitation_types  text[] NOT NULL DEFAULT '{}',
    reported_on         date NOT NULL,
    incident_on         date,
    referral_source     text CHECK (referral_source IN ('community_justice_centre', 'neighbour', 'family', 'survivor', 'human_rights_defender', 'hotline', 'police', 'school', 'health_facility', 'partner_referral', 'media', 'other')),
    referral_partner_id uuid REFERENCES partners (id),
    risk_level          text NOT NULL DEFAULT 'medium' CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    summary             text CHECK (length(summary) <= 4000),
    stage               text NOT NULL DEFAULT 'reported' CHECK (stage IN ('reported', 'investigation', 'suspect_arrested', 'charged', 'trial', 'judgment', 'appeal', 'closed')),
    closure_reason      text CHECK (closure_reason IN ('convicted', 'acquitted', 'withdrawn', 'insufficient_evidence', 'transferred', 'other')),
    closed_on           date,
    -- Latest day something happened on the case (its timeline), kept by a trigger.
    last_activity_on    date NOT NULL,
    created_by          uuid REFERENCES users (id),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cases_incident_not_after_report CHECK (incident_on IS NULL OR incident_on <= reported_on),
    CONSTRAINT cases_closure_reason CHECK ((stage = 'closed') = (closure_reason IS NOT NULL AND closed_on IS NOT NULL))
);
CREATE INDEX cases_county_idx ON cases (county, id);
CREATE INDEX cases_stage_idx ON cases (stage, id);
CREATE INDEX cases_reported_idx ON cases (reported_on, id);
CREATE INDEX cases_open_activity_idx ON cases (last_activity_on) WHERE stage <> 'closed';
CREATE INDEX cases_search_idx ON cases USING gin ((reference || ' ' || coalesce(summary, '')) gin_trgm_ops);
CREATE TRIGGER cases_touch BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- Who may see a case. Ending an assignment keeps its history.
CREATE TABLE case_assignments (
    id          uuid PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    role        text NOT NULL CHECK (role IN ('lead_investigator', 'investigator', 'lead_attorney', 'attorney', 'aftercare', 'other')),
    assigned_by uuid REFERENCES users (id),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    ended_by    uuid REFERENCES users (id)
);
CREATE UNIQUE INDEX case_assignments_active_key ON case_assignments (case_id, user_id) WHERE ended_at IS NULL;
CREATE INDEX case_assignments_user_idx ON case_assignments (user_id, case_id) WHERE ended_at IS NULL;

CREATE TABLE case_events (
    id          uuid PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id),
    kind        text NOT NULL CHECK (kind IN ('reported_to_police', 'police_follow_up', 'escalation', 'arrest', 'charge_filed', 'court_session', 'testimony', 'verdict', 'sentence', 'appeal', 'stage_change', 'note')),
    occurred_on date NOT NULL,
    note        text CHECK (length(note) <= 4000),
    stage_from  text,
    stage_to    text,
    recorded_by uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_events_timeline_idx ON case_events (case_id, occurred_on DESC, id DESC);

CREATE FUNCTION cases_track_activity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cases SET last_activity_on = greatest(last_activity_on, NEW.occurred_on) WHERE id = NEW.case_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER case_events_activity AFTER INSERT ON case_events FOR EACH ROW EXECUTE FUNCTION cases_track_activity();

CREATE TABLE suspects (
    id           uuid PRIMARY KEY,
    case_id      uuid NOT NULL REFERENCES cases (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sex          text CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    role         text NOT NULL CHECK (role IN ('customer', 'recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator', 'exploiter')),
    relationship text NOT NULL CHECK (relationship IN ('parent', 'caregiver', 'relative', 'neighbour', 'acquaintance', 'stranger', 'tourist', 'employer', 'intimate_partner')),
    nationality  text CHECK (nationality ~ '^[A-Z]{2}$'),
    status       text NOT NULL DEFAULT 'at_large' CHECK (status IN ('at_large', 'arrested', 'released_on_bail', 'remanded', 'convicted', 'acquitted', 'deceased')),
    arrested_on  date,
    notes        text CHECK (length(notes) <= 4000),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT suspects_arrest_date CHECK (status NOT IN ('arrested', 'released_on_bail', 'remanded') OR arrested_on IS NOT NULL)
);
CREATE INDEX suspects_case_idx ON suspects (case_id, id);
CREATE TRIGGER suspects_touch BEFORE UPDATE ON suspects FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE charges (
    id                  uuid PRIMARY KEY,
    suspect_id          uuid NOT NULL REFERENCES suspects (id),
    case_id             uuid NOT NULL REFERENCES cases (id),
    offence_code        text NOT NULL REFERENCES offences (code) ON UPDATE CASCADE,
    court_file_number   text CHECK (length(court_file_number) <= 100),
    filed_on            date NOT NULL,
    status              text NOT NULL DEFAULT 'filed' CHECK (status IN ('filed', 'withdrawn', 'reduced', 'convicted', 'acquitted')),
    sentence_years      integer CHECK (sentence_years BETWEEN 0 AND 200),
    sentence_life       boolean NOT NULL DEFAULT false,
    fine_amount_minor   bigint CHECK (fine_amount_minor >= 0),
    fine_currency       text CHECK (fine_currency ~ '^[A-Z]{3}$'),
    decided_on          date,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT charges_decision_date CHECK (status NOT IN ('convicted', 'acquitted') OR decided_on IS NOT NULL),
    CONSTRAINT charges_decided_after_filing CHECK (decided_on IS NULL OR decided_on >= filed_on),
    CONSTRAINT charges_fine_currency CHECK ((fine_amount_minor IS NULL) = (fine_currency IS NULL))
);
CREATE INDEX charges_case_idx ON charges (case_id);
CREATE INDEX charges_suspect_idx ON charges (suspect_id);
CREATE TRIGGER charges_touch BEFORE UPDATE ON charges FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

CREATE TABLE court_sessions (
    id                    uuid PRIMARY KEY,
    case_id               uuid NOT NULL REFERENCES cases (id),
    court                 text NOT NULL CHECK (length(court) BETWEEN 1 AND 200),
    scheduled_on          date NOT NULL,
    purpose               text NOT NULL CHECK (purpose IN ('plea', 'mention', 'hearing', 'survivor_testimony', 'defence_hearing', 'judgment', 'sentencing')),
    status                text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'held', 'adjourned', 'vacated')),
    adjournment_reason    text CHECK (adjournment_reason IN ('prosecution_not_ready', 'defence_not_ready', 'witness_absent', 'survivor_absent', 'accused_absent', 'magistrate_absent', 'file_missing', 'interpreter_absent', 'court_time', 'other')),
    survivor_attended     boolean,
    survivor_accompanied  boolean,
    intermediary_used     boolean,
    support_cost_minor    bigint CHECK (support_cost_minor >= 0),
    support_cost_currency text CHECK (support_cost_currency ~ '^[A-Z]{3}$'),
    notes                 text CHECK (length(notes) <= 4000),
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT court_sessions_adjournment CHECK ((status = 'adjourned') = (adjournment_reason IS NOT NULL)),
    CONSTRAINT court_sessions_cost_currency CHECK ((support_cost_minor IS NULL) = (support_cost_currency IS NULL))
);
CREATE INDEX court_sessions_case_idx ON court_sessions (case_id, scheduled_on);
CREATE INDEX court_sessions_upcoming_idx ON court_sessions (scheduled_on) WHERE status = 'scheduled';
CREATE TRIGGER court_sessions_touch BEFORE UPDATE ON court_sessions FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();

-- Facts derived from a case and its parts, computed on read (never stored, never stale).
-- age_charge_mismatch needs the child's age at the incident, which comes with survivors.
CREATE VIEW case_facts AS
SELECT c.id AS case_id,
       (SELECT min(s.arrested_on) FROM suspects s WHERE s.case_id = c.id) - c.reported_on AS days_to_first_arrest,
       (SELECT min(ch.filed_on) FROM charges ch WHERE ch.case_id = c.id) - c.reported_on AS days_to_first_charge,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'held') AS court_sessions_held,
       (SELECT count(*) FROM court_sessions cs WHERE cs.case_id = c.id AND cs.status = 'adjourned') AS court_sessions_adjourned,
       (SELECT min(cs.scheduled_on) FROM court_sessions cs
         WHERE cs.case_id = c.id AND cs.status = 'scheduled' AND cs.scheduled_on >= current_date) AS next_court_date,
       (c.stage <> 'closed' AND c.last_activity_on < current_date - 30) AS stalled,
       (EXISTS (SELECT 1 FROM suspects s
                 WHERE s.case_id = c.id
                   AND (s.role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
                        OR s.relationship IN ('parent', 'caregiver')))
        AND NOT EXISTS (SELECT 1 FROM charges ch JOIN offences o ON o.code = ch.offence_code
                         WHERE ch.case_id = c.id AND o.statute = 'counter_trafficking_act_2010'
                           AND ch.status <> 'withdrawn')) AS ctip_gap,
       false AS age_charge_mismatch
FROM cases c;
