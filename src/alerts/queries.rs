//! Every alert rule in one statement. Each rule reads the records within the caller's reach
//! (`my_cases`, `my_survivors`, `court_cases`, written for each reach) through indexed columns
//! and yields the alerts it raises; the list is ordered by severity, then since when, then kind
//! and record, and paged by that key. "Today" is the program's calendar day (East Africa Time), as everywhere.

use chrono::{DateTime, Utc};
use diesel::{
    QueryResult, QueryableByName,
    sql_types::{BigInt, Bool, Double, Integer, Nullable, Text, Timestamptz, Uuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::dto::{AlertKind, RecordType, Severity};
use crate::ids::{CaseId, SurvivorId, UserId};

/// Whose records the caller's alerts cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    All,
    Assigned,
    None,
}

impl Reach {
    fn sql(self) -> &'static str {
        match self {
            Reach::All => "all",
            Reach::Assigned => "assigned",
            Reach::None => "none",
        }
    }

    /// The open cases within reach: each reach is its own statement, so its plan is made once
    /// and starts where the rows are (a case worker's assignments, not every open case).
    fn cases(self) -> &'static str {
        match self {
            Reach::All => {
                "SELECT c.id, c.reference, c.reported_on, c.last_activity_on FROM cases c WHERE c.stage <> 'closed'"
            }
            Reach::Assigned => {
                "SELECT c.id, c.reference, c.reported_on, c.last_activity_on
                   FROM case_assignments a JOIN cases c ON c.id = a.case_id
                  WHERE a.user_id = $1 AND a.ended_at IS NULL AND c.stage <> 'closed'"
            }
            Reach::None => "SELECT c.id, c.reference, c.reported_on, c.last_activity_on FROM cases c WHERE false",
        }
    }

    /// The survivors within reach.
    fn survivors(self) -> &'static str {
        match self {
            Reach::All => "SELECT s.id, s.pseudonym, s.intake_on, s.restoration_status FROM survivors s",
            Reach::Assigned => {
                "SELECT s.id, s.pseudonym, s.intake_on, s.restoration_status
                   FROM survivor_assignments a JOIN survivors s ON s.id = a.survivor_id
                  WHERE a.user_id = $1 AND a.ended_at IS NULL"
            }
            Reach::None => "SELECT s.id, s.pseudonym, s.intake_on, s.restoration_status FROM survivors s WHERE false",
        }
    }
}

/// The caller and what their alerts cover.
#[derive(Debug, Clone, Copy)]
pub struct Audience {
    pub user: UserId,
    /// Open cases: all, the ones assigned, or none.
    pub cases: Reach,
    /// Survivors (restoration): all, the ones assigned, or none. Assigned survivors also bring
    /// the court sessions of their cases (the survivor is accompanied by her aftercare team).
    pub survivors: Reach,
    /// Overdue referrals go to those who triage them.
    pub triage: bool,
    /// Closures awaiting approval go to those who approve them.
    pub approve: bool,
    pub urgent_window: std::time::Duration,
    pub emergency_window: std::time::Duration,
}

/// The sort key of an alert, which is also its cursor.
pub type Key = (i32, DateTime<Utc>, AlertKind, uuid::Uuid);

#[derive(Debug, QueryableByName)]
pub struct AlertRow {
    #[diesel(sql_type = Text)]
    pub kind: AlertKind,
    #[diesel(sql_type = Text)]
    pub severity: Severity,
    #[diesel(sql_type = Integer)]
    pub rank: i32,
    #[diesel(sql_type = Text)]
    pub record_type: RecordType,
    #[diesel(sql_type = Uuid)]
    pub record_id: uuid::Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub reference: Option<String>,
    #[diesel(sql_type = Nullable<Uuid>)]
    pub case_id: Option<CaseId>,
    #[diesel(sql_type = Nullable<Uuid>)]
    pub survivor_id: Option<SurvivorId>,
    #[diesel(sql_type = Timestamptz)]
    pub since: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub reason: String,
}

impl AlertRow {
    pub fn key(&self) -> Key {
        (self.rank, self.since, self.kind, self.record_id)
    }
}

const ALERTS: &str = r#"
WITH p AS (SELECT (now() AT TIME ZONE 'Africa/Nairobi')::date AS today),
my_cases AS ({my_cases}),
my_survivors AS ({my_survivors}),
court_cases AS (
    SELECT id, reference FROM my_cases
    UNION
    SELECT c.id, c.reference FROM cases c JOIN case_survivors cv ON cv.case_id = c.id
      JOIN my_survivors s ON s.id = cv.survivor_id
     WHERE $3 = 'assigned' AND c.stage <> 'closed'),
alerts AS (
    SELECT 'case_stalled' AS kind, 'medium' AS severity, 'case' AS record_type, c.id AS record_id,
           c.reference AS reference, c.id AS case_id, NULL::uuid AS survivor_id,
           (c.last_activity_on + 31)::timestamp AT TIME ZONE 'Africa/Nairobi' AS since,
           format('Nothing recorded on the case since %s.', c.last_activity_on) AS reason
      FROM my_cases c, p WHERE c.last_activity_on < p.today - 30
    UNION ALL
    SELECT 'suspect_at_large', 'medium', 'suspect', x.id, c.reference, c.id, NULL,
           (c.reported_on + 91)::timestamp AT TIME ZONE 'Africa/Nairobi',
           format('A suspect is still at large %s days after the report.', p.today - c.reported_on)
      FROM suspects x JOIN my_cases c ON c.id = x.case_id, p
     WHERE x.status = 'at_large' AND c.reported_on < p.today - 90
    UNION ALL
    SELECT 'referral_overdue', 'high', 'referral', r.id, r.external_id, NULL, NULL,
           r.created_at + make_interval(secs => CASE r.urgency WHEN 'emergency' THEN $7::float8 ELSE $6::float8 END),
           format('The %s referral from %s was not acknowledged in time.', r.urgency, pa.name)
      FROM referrals r JOIN partners pa ON pa.id = r.partner_id
     WHERE $4 AND r.status = 'submitted' AND r.urgency IN ('urgent', 'emergency')
       AND r.created_at + make_interval(secs => CASE r.urgency WHEN 'emergency' THEN $7::float8 ELSE $6::float8 END) < now()
    UNION ALL
    SELECT 'court_session_unaccompanied', 'high', 'court_session', cs.id, c.reference,
           CASE WHEN $2 <> 'none' THEN c.id END, NULL,
           (cs.scheduled_on - 7)::timestamp AT TIME ZONE 'Africa/Nairobi',
           format('Court session (%s) at %s on %s: no accompaniment planned for the survivor.',
                  replace(cs.purpose, '_', ' '), cs.court, cs.scheduled_on)
      FROM court_sessions cs JOIN court_cases c ON c.id = cs.case_id, p
     WHERE cs.status = 'scheduled' AND cs.scheduled_on BETWEEN p.today AND p.today + 7
       AND cs.survivor_accompanied IS NOT TRUE
    UNION ALL
    SELECT CASE WHEN f.due_on < p.today THEN 'follow_up_overdue' ELSE 'follow_up_due' END,
           CASE WHEN f.due_on < p.today THEN 'high' ELSE 'low' END,
           'follow_up', f.id, s.pseudonym, NULL, s.id,
           (CASE WHEN f.due_on < p.today THEN f.due_on + 1 ELSE f.due_on - 30 END)::timestamp AT TIME ZONE 'Africa/Nairobi',
           CASE WHEN f.due_on < p.today THEN format('The two-year follow-up was due on %s.', f.due_on)
                ELSE format('The two-year follow-up is due on %s.', f.due_on) END
      FROM follow_ups f JOIN my_survivors s ON s.id = f.survivor_id, p
     WHERE f.status = 'scheduled' AND f.due_on <= p.today + 30
    UNION ALL
    SELECT 'assessment_due', 'medium', 'survivor', s.id, s.pseudonym, NULL, s.id,
           d.due::timestamp AT TIME ZONE 'Africa/Nairobi',
           format('An assessment is due since %s.', d.due)
      FROM my_survivors s
           CROSS JOIN LATERAL (SELECT max(a.assessed_on) FILTER (WHERE a.kind = 'intake') AS intake_done,
                                      max(a.assessed_on) FILTER (WHERE a.kind = 'six_month') AS six_month_done,
                                      max(a.assessed_on) FILTER (WHERE a.kind = 'annual') AS annual_done
                                 FROM assessments a WHERE a.survivor_id = s.id) h
           CROSS JOIN LATERAL (SELECT haki_next_assessment_due(s.intake_on, h.intake_done, h.six_month_done,
                                                               h.annual_done) AS due) d, p
     WHERE s.restoration_status = 'active' AND d.due <= p.today
    UNION ALL
    SELECT 'no_active_counselling', 'medium', 'survivor', s.id, s.pseudonym, NULL, s.id,
           greatest(s.intake_on, (SELECT max(v.end_on) FROM survivor_services v
                                   WHERE v.survivor_id = s.id AND v.kind IN ('trauma_counselling', 'psychosocial_support')))
             ::timestamp AT TIME ZONE 'Africa/Nairobi',
           'No trauma counselling or psychosocial support is active.'
      FROM my_survivors s
     WHERE s.restoration_status = 'active'
       AND NOT EXISTS (SELECT 1 FROM survivor_services v
                        WHERE v.survivor_id = s.id AND v.status = 'active'
                          AND v.kind IN ('trauma_counselling', 'psychosocial_support'))
    UNION ALL
    SELECT 'ctip_gap', 'medium', 'case', c.id, c.reference, c.id, NULL,
           coalesce((SELECT min(x.created_at) FROM suspects x
                      WHERE x.case_id = c.id
                        AND (x.role IN ('recruiter', 'agent', 'pimp', 'transporter', 'harbourer', 'facilitator')
                             OR x.relationship IN ('parent', 'caregiver'))),
                    c.reported_on::timestamp AT TIME ZONE 'Africa/Nairobi'),
           'A facilitator (recruiter, agent, transporter, harbourer, or a parent or caregiver) faces no charge under the Counter-Trafficking in Persons Act.'
      FROM my_cases c JOIN case_facts f ON f.case_id = c.id
     WHERE f.ctip_gap
    UNION ALL
    SELECT 'age_charge_mismatch', 'high', 'case', c.id, c.reference, c.id, NULL,
           coalesce((SELECT min(ch.created_at) FROM charges ch JOIN offences o ON o.code = ch.offence_code
                      WHERE ch.case_id = c.id AND ch.status <> 'withdrawn' AND o.child_age_min IS NOT NULL),
                    c.reported_on::timestamp AT TIME ZONE 'Africa/Nairobi'),
           'A charge graded by the child''s age does not fit the age of any victim at the incident.'
      FROM my_cases c JOIN case_facts f ON f.case_id = c.id
     WHERE f.age_charge_mismatch
    UNION ALL
    SELECT 'consent_expiring', 'low', 'consent', k.id, s.pseudonym, NULL, s.id,
           (k.expires_on - 30)::timestamp AT TIME ZONE 'Africa/Nairobi',
           format('Consent for %s expires on %s.', replace(k.purpose, '_', ' '), k.expires_on)
      FROM consents k JOIN my_survivors s ON s.id = k.survivor_id, p
     WHERE k.withdrawn_at IS NULL AND k.expires_on BETWEEN p.today AND p.today + 30
       -- not when a consent for the same purpose already carries on past it
       AND NOT EXISTS (SELECT 1 FROM consents n
                        WHERE n.survivor_id = k.survivor_id AND n.purpose = k.purpose AND n.id <> k.id
                          AND n.withdrawn_at IS NULL AND n.given_on <= p.today
                          AND (n.expires_on IS NULL OR n.expires_on > k.expires_on))
    UNION ALL
    SELECT 'closure_awaiting_approval', 'low', 'approval', ap.id, s.pseudonym, NULL, s.id, ap.requested_at,
           format('A closure of restoration (%s) awaits a decision.', replace(ap.reason, '_', ' '))
      FROM approvals ap JOIN survivors s ON s.id = ap.survivor_id
     WHERE $5 AND ap.status = 'pending' AND ap.requested_by <> $1)
SELECT * FROM (
    SELECT a.*, CASE a.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END AS rank FROM alerts a) ranked
 WHERE ($8::text IS NULL OR kind = $8)
   AND ($9::integer IS NULL OR (rank, since, kind, record_id) > ($9, $10::timestamptz, $11::text, $12::uuid))
 ORDER BY rank, since, kind, record_id
 LIMIT $13
"#;

/// One page of the caller's alerts (`limit + 1` rows: the extra one only says more follow).
pub async fn page(
    conn: &mut AsyncPgConnection,
    who: &Audience,
    kind: Option<AlertKind>,
    after: Option<Key>,
    limit: i64,
) -> QueryResult<Vec<AlertRow>> {
    let sql = ALERTS
        .replace("{my_cases}", who.cases.cases())
        .replace("{my_survivors}", who.survivors.survivors());
    crate::db::prepared(sql)
        .bind::<Uuid, _>(who.user)
        .bind::<Text, _>(who.cases.sql())
        .bind::<Text, _>(who.survivors.sql())
        .bind::<Bool, _>(who.triage)
        .bind::<Bool, _>(who.approve)
        .bind::<Double, _>(who.urgent_window.as_secs_f64())
        .bind::<Double, _>(who.emergency_window.as_secs_f64())
        .bind::<Nullable<Text>, _>(kind.map(|k| k.as_ref().to_string()))
        .bind::<Nullable<Integer>, _>(after.map(|k| k.0))
        .bind::<Nullable<Timestamptz>, _>(after.map(|k| k.1))
        .bind::<Nullable<Text>, _>(after.map(|k| k.2.as_ref().to_string()))
        .bind::<Nullable<Uuid>, _>(after.map(|k| k.3))
        .bind::<BigInt, _>(limit + 1)
        .load(conn)
        .await
}
