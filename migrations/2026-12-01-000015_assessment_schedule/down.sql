DROP FUNCTION survivor_next_assessment_due(uuid);
DROP FUNCTION haki_next_assessment_due(date, date, date, date);
