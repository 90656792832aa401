-- ctip_gap asks, for every case of a page, whether it has a facilitator-type suspect. Without this
-- partial index the planner hashes all such suspects on every list query (a sequential scan).
CREATE INDEX suspects_facilitator_idx ON suspects (case_id)
    WHERE role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
       OR relationship IN ('parent', 'caregiver');
