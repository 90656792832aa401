-- The case list sorted by last activity pages on (last_activity_on, id).
CREATE INDEX cases_activity_idx ON cases (last_activity_on, id);
