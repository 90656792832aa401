-- The dashboard, the indicator report and the alerts read records by the date that puts them in
-- a period; these indexes let each read only its period, however long the history grows.
CREATE INDEX court_sessions_date_idx ON court_sessions (scheduled_on);
CREATE INDEX survivors_intake_idx ON survivors (intake_on);
CREATE INDEX suspects_arrested_idx ON suspects (arrested_on) WHERE arrested_on IS NOT NULL;
-- Referrals count by their submission day in East Africa Time.
CREATE INDEX referrals_submitted_day_idx ON referrals (((created_at AT TIME ZONE 'Africa/Nairobi')::date));
-- Services running at some time in a period: their [start, end] range overlaps it.
CREATE INDEX survivor_services_period_idx ON survivor_services USING gist (daterange(start_on, end_on, '[]'))
    WHERE start_on IS NOT NULL;
-- Consents still in force that expire soon.
CREATE INDEX consents_expiry_idx ON consents (expires_on) WHERE withdrawn_at IS NULL AND expires_on IS NOT NULL;
