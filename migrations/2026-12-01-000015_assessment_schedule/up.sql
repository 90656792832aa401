-- When a survivor's next assessment is due, computed where the data is, so that a survivor's
-- record and the alerts of every user agree and no list loads a history to work it out.
--
-- Assessments are due at intake, six months after intake, then on each anniversary of intake.
-- Each assessment counts for its own date in that schedule (an annual one for the latest
-- anniversary it reaches, up to three months early; the first anniversary at least), and the next
-- is due at the first date after the latest counted — so the schedule moves on past a skipped
-- assessment instead of waiting for it. Month arithmetic keeps to the month's last day (an intake
-- on 29 February has its anniversaries on 28 February).
-- Written as one expression (the same terms repeated) so that the planner inlines it into
-- set-based queries such as the alerts. `covered`: the latest slot the assessments made count
-- for; the annual slot is the latest anniversary an annual assessment reaches three months early
-- (whole years from intake to that day, plus one where that anniversary is a clamped 28
-- February), the first anniversary at least.
CREATE FUNCTION haki_next_assessment_due(intake date, intake_done date, six_month_done date, annual_done date)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN greatest(CASE WHEN intake_done IS NOT NULL THEN intake END, CASE WHEN six_month_done IS NOT NULL THEN (intake + interval '6 months')::date END, (intake + make_interval(years => (CASE WHEN annual_done IS NOT NULL THEN greatest(1, date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + CASE WHEN (intake + make_interval(years => date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + 1))::date <= (annual_done + interval '3 months')::date THEN 1 ELSE 0 END) END)))::date) IS NULL THEN intake
        WHEN greatest(CASE WHEN intake_done IS NOT NULL THEN intake END, CASE WHEN six_month_done IS NOT NULL THEN (intake + interval '6 months')::date END, (intake + make_interval(years => (CASE WHEN annual_done IS NOT NULL THEN greatest(1, date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + CASE WHEN (intake + make_interval(years => date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + 1))::date <= (annual_done + interval '3 months')::date THEN 1 ELSE 0 END) END)))::date) < (intake + interval '6 months')::date THEN (intake + interval '6 months')::date
        WHEN greatest(CASE WHEN intake_done IS NOT NULL THEN intake END, CASE WHEN six_month_done IS NOT NULL THEN (intake + interval '6 months')::date END, (intake + make_interval(years => (CASE WHEN annual_done IS NOT NULL THEN greatest(1, date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + CASE WHEN (intake + make_interval(years => date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + 1))::date <= (annual_done + interval '3 months')::date THEN 1 ELSE 0 END) END)))::date) < (intake + make_interval(years => 1))::date THEN (intake + make_interval(years => 1))::date
        ELSE (intake + make_interval(years => (CASE WHEN annual_done IS NOT NULL THEN greatest(1, date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + CASE WHEN (intake + make_interval(years => date_part('year', age((annual_done + interval '3 months')::date::timestamp, intake::timestamp))::integer + 1))::date <= (annual_done + interval '3 months')::date THEN 1 ELSE 0 END) END) + 1))::date
    END
$$;

-- A survivor's next assessment from her assessments; NULL once her restoration is closed.
CREATE FUNCTION survivor_next_assessment_due(survivor uuid)
RETURNS date LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s.restoration_status = 'active' THEN
               haki_next_assessment_due(s.intake_on, a.intake_done, a.six_month_done, a.annual_done)
           END
      FROM survivors s,
           LATERAL (SELECT max(assessed_on) FILTER (WHERE kind = 'intake') AS intake_done,
                           max(assessed_on) FILTER (WHERE kind = 'six_month') AS six_month_done,
                           max(assessed_on) FILTER (WHERE kind = 'annual') AS annual_done
                      FROM assessments WHERE survivor_id = s.id) a
     WHERE s.id = survivor
$$;
