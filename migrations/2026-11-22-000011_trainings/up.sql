-- Trainings, mentoring visits and sensitisation of justice-sector and community actors.
CREATE TABLE trainings (
    id                    uuid PRIMARY KEY,
    title                 text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    format                text NOT NULL CHECK (format IN ('workshop', 'mentoring_visit', 'technical_assistance', 'community_sensitisation')),
    topics                text[] NOT NULL DEFAULT '{}',
    starts_on             date NOT NULL,
    ends_on               date NOT NULL,
    county                text NOT NULL,
    venue                 text CHECK (length(venue) <= 200),
    organising_partner_id uuid REFERENCES partners (id),
    institutions          text[] NOT NULL DEFAULT '{}',
    -- [{"audience": "police", "female": 4, "male": 11}, ...], one entry per audience.
    participants          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(participants) = 'array'),
    pre_test_average      double precision CHECK (pre_test_average BETWEEN 0 AND 100),
    post_test_average     double precision CHECK (post_test_average BETWEEN 0 AND 100),
    recorded_by           uuid REFERENCES users (id),
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trainings_dates CHECK (ends_on >= starts_on)
);
CREATE INDEX trainings_starts_idx ON trainings (starts_on, id);
CREATE TRIGGER trainings_touch BEFORE UPDATE ON trainings FOR EACH ROW EXECUTE FUNCTION haki_touch_updated_at();
