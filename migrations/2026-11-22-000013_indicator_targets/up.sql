-- Donor targets for the program's indicators: one per indicator, period and (optionally) county.
CREATE TABLE indicator_targets (
    id          uuid PRIMARY KEY,
    indicator   text NOT NULL CHECK (indicator IN (
                    'survivors_relieved', 'perpetrators_restrained', 'people_trained', 'active_partnerships',
                    'cases_reported', 'suspects_charged', 'convictions', 'survivors_restored',
                    'court_sessions_supported', 'follow_ups_sustained', 'referrals_received')),
    period_from date NOT NULL,
    period_to   date NOT NULL,
    -- NULL: the whole program.
    county      text,
    target      integer NOT NULL CHECK (target >= 0),
    -- The narrative that goes with the result (e.g. why a target was missed).
    note        text CHECK (length(note) <= 2000),
    updated_by  uuid REFERENCES users (id),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT indicator_targets_period CHECK (period_to >= period_from),
    CONSTRAINT indicator_targets_key UNIQUE NULLS NOT DISTINCT (indicator, period_from, period_to, county)
);

CREATE TRIGGER indicator_targets_touch BEFORE UPDATE ON indicator_targets FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();
