//! The authorization matrix (DESIGN §2): every operation in the spec, called by every role
//! (and anonymously, with an expired token, with a revoked API key, and as a partner of another
//! organisation) against records inside and outside the caller's reach. The table below is the
//! documentation of who may do what; it is rendered into `docs/security.md`, and an operation
//! without a row fails the test. Also: fields a caller may not set are rejected, never applied.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::test::TestRequest;
use chrono::Duration;
use common::{PASSWORD, TestApp, TestUser, bearer, form, pdf};
use haki::{auth::Role, ids::PartnerId};
use serde_json::{Value, json};

fn days_ago(n: i64) -> String {
    (haki::vocab::today() - Duration::days(n)).to_string()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// The callers with a role, in the order of the expectation columns.
const CALLERS: [&str; 7] = [
    "admin",
    "program_manager",
    "case_worker",
    "aftercare_officer",
    "analyst",
    "partner",
    "other_partner",
];

/// Which records a request names: inside the reach of the case worker, aftercare officer and
/// partner of the table (`In`), or nobody's but the program's (`Out`: another case worker's case,
/// another officer's survivor, another organisation's referral).
#[derive(Clone, Copy, PartialEq)]
enum Side {
    In,
    Out,
}

/// How a row is sent.
enum Body {
    None,
    Json(fn(&World, Side) -> Value),
    /// A document upload (`multipart/form-data`).
    Upload,
}

/// What a request consumes, made anew for each cell so that one caller's success does not change
/// what the next one meets.
#[derive(Clone, Copy, PartialEq)]
enum Fresh {
    Nothing,
    /// The `{id}` is a new record of this kind.
    Record,
    /// The caller is a new, signed-in user of the same role (signing out, ending a session,
    /// changing the password).
    Caller,
}

struct Row {
    op: &'static str,
    /// One column per caller of [`CALLERS`]: `ok` (2xx, or 409 where the record's state forbids
    /// it — the caller got past every check of who they are), `403`, `404`; `a/b` when a record
    /// in reach (`a`) and one out of reach (`b`) differ. `public:NNN`: every caller, anonymous
    /// included, gets NNN.
    expect: &'static str,
    body: Body,
    fresh: Fresh,
}

const fn row(op: &'static str, expect: &'static str) -> Row {
    Row {
        op,
        expect,
        body: Body::None,
        fresh: Fresh::Nothing,
    }
}

const fn with(op: &'static str, expect: &'static str, body: fn(&World, Side) -> Value) -> Row {
    Row {
        op,
        expect,
        body: Body::Json(body),
        fresh: Fresh::Nothing,
    }
}

impl Row {
    const fn fresh(mut self, fresh: Fresh) -> Row {
        self.fresh = fresh;
        self
    }
}

fn pick(w: &World, key: &str, side: Side) -> String {
    let [a, b] = w.ids.get(key).unwrap_or_else(|| panic!("no fixture {key}"));
    match side {
        Side::In => a.clone(),
        Side::Out => b.clone(),
    }
}

fn referral(external: &str) -> Value {
    json!({"external_id": external, "urgency": "routine", "child_alias": "R.R.", "age": 14,
           "county": "kilifi", "concern": "Seen at a villa with an older man", "whereabouts": "with_family", "safe_tonight": true,
           "consent_to_share": {"given_by": "guardian", "obtained_on": days_ago(3)}})
}

/// The table. Columns: admin, program_manager, case_worker, aftercare_officer, analyst, partner,
/// partner of another organisation.
fn table() -> Vec<Row> {
    use Fresh::*;
    vec![
        row("GET /api/v1/alerts", "ok ok ok ok 403 403 403"),
        row("GET /api/v1/api-keys", "ok ok ok ok ok ok ok"),
        with(
            "POST /api/v1/api-keys",
            "ok ok ok ok ok ok ok",
            |_, _| json!({"name": "matrix", "current_password": PASSWORD}),
        ),
        row(
            "DELETE /api/v1/api-keys/{id}",
            "ok ok/404 ok/404 ok/404 ok/404 ok/404 ok/404",
        )
        .fresh(Record),
        row("GET /api/v1/approvals", "ok ok 403 ok 403 403 403"),
        row("GET /api/v1/approvals/{id}", "ok ok 404 ok/404 404 404 404"),
        with(
            "POST /api/v1/approvals/{id}/approve",
            "403 ok 404 403/404 404 404 404",
            |_, _| json!({}),
        )
        .fresh(Record),
        with(
            "POST /api/v1/approvals/{id}/reject",
            "403 ok 404 403/404 404 404 404",
            |_, _| json!({"reason": "Not yet"}),
        )
        .fresh(Record),
        row("GET /api/v1/audit-log", "ok 403 403 403 403 403 403"),
        with(
            "POST /api/v1/auth/forgot-password",
            "public:202",
            |_, _| json!({"email": "nobody@haki.test"}),
        ),
        with(
            "POST /api/v1/auth/login",
            "public:200",
            |w, _| json!({"email": w.bystander.email, "password": PASSWORD}),
        ),
        row("POST /api/v1/auth/logout", "ok ok ok ok ok ok ok").fresh(Caller),
        with(
            "POST /api/v1/auth/mfa",
            "public:401",
            |_, _| json!({"challenge": "hakm_000000000000000000000000000000000000000000", "code": "123456"}),
        ),
        with(
            "POST /api/v1/auth/mfa/enrol",
            "public:401",
            |_, _| json!({"challenge": "hakm_000000000000000000000000000000000000000000"}),
        ),
        with(
            "POST /api/v1/auth/refresh",
            "public:401",
            |_, _| json!({"refresh_token": "hakr_000000000000000000000000000000000000000000"}),
        ),
        with(
            "POST /api/v1/auth/reset-password",
            "public:422",
            |_, _| json!({"token": "hakp_000000000000000000000000000000000000000000", "new_password": "a brand new passphrase"}),
        ),
        row("GET /api/v1/cases", "ok ok ok 403 403 403 403"),
        with(
            "POST /api/v1/cases",
            "403 ok ok 403 403 403 403",
            |_, _| json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": days_ago(30), "incident_on": days_ago(32)}),
        ),
        row("GET /api/v1/cases/{id}", "ok ok ok/404 404 404 404 404"),
        with(
            "PATCH /api/v1/cases/{id}",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"risk_level": "high"}),
        ),
        row("GET /api/v1/cases/{id}/access-log", "ok ok 403/404 404 404 404 404"),
        row("GET /api/v1/cases/{id}/assignments", "ok ok ok/404 404 404 404 404"),
        with(
            "POST /api/v1/cases/{id}/assignments",
            "ok ok 403/404 404 404 404 404",
            |w, _| json!({"user_id": w.users["spare_case_worker"].id, "role": "investigator"}),
        ),
        row(
            "DELETE /api/v1/cases/{id}/assignments/{user_id}",
            "ok ok 403/404 404 404 404 404",
        )
        .fresh(Record),
        row("GET /api/v1/cases/{id}/court-sessions", "ok ok ok/404 404 404 404 404"),
        with(
            "POST /api/v1/cases/{id}/court-sessions",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"court": "Kwale Law Courts", "scheduled_on": days_ago(-9), "purpose": "mention"}),
        ),
        row("GET /api/v1/cases/{id}/documents", "ok ok ok/404 404 404 404 404"),
        Row {
            op: "POST /api/v1/cases/{id}/documents",
            expect: "403 ok ok/404 404 404 404 404",
            body: Body::Upload,
            fresh: Nothing,
        },
        row("GET /api/v1/cases/{id}/events", "ok ok ok/404 404 404 404 404"),
        with(
            "POST /api/v1/cases/{id}/events",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"kind": "note", "occurred_on": days_ago(0)}),
        ),
        row("GET /api/v1/cases/{id}/survivors", "ok ok ok/404 404 404 404 404"),
        with(
            "POST /api/v1/cases/{id}/survivors",
            "403 ok ok/404 404 404 404 404",
            |w, side| json!({"survivor_id": pick(w, "survivor", side), "role": "victim_witness"}),
        ),
        row("GET /api/v1/cases/{id}/suspects", "ok ok ok/404 404 404 404 404"),
        with(
            "POST /api/v1/cases/{id}/suspects",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"name": "Suspect B", "role": "customer", "relationship": "tourist", "nationality": "DE"}),
        ),
        with(
            "POST /api/v1/cases/{id}/transitions",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"to": "investigation", "occurred_on": days_ago(1)}),
        ),
        row("GET /api/v1/changes", "ok ok ok ok ok ok ok"),
        row("GET /api/v1/charges/{id}", "ok ok ok/404 404 404 404 404"),
        with(
            "PATCH /api/v1/charges/{id}",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"court_file_number": "MSA SO 7/2026"}),
        ),
        row("GET /api/v1/consents/{id}", "ok ok 403/404 ok/404 404 404 404"),
        with(
            "POST /api/v1/consents/{id}/withdraw",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"reason": "The guardian asked"}),
        )
        .fresh(Record),
        row("GET /api/v1/court-sessions/{id}", "ok ok ok/404 404 404 404 404"),
        with(
            "PATCH /api/v1/court-sessions/{id}",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"court": "Kwale Law Courts, court 2"}),
        ),
        row("GET /api/v1/documents/{id}", "ok ok ok/404 404 404 404 404"),
        with(
            "PATCH /api/v1/documents/{id}",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"title": "P3 form, corrected"}),
        ),
        with(
            "POST /api/v1/documents/{id}/archive",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({}),
        )
        .fresh(Record),
        row("GET /api/v1/documents/{id}/content", "ok ok ok/404 404 404 404 404"),
        row("GET /api/v1/exports/htcds", "ok 403 403 403 ok 403 403"),
        row("GET /api/v1/follow-ups", "ok ok 403 ok 403 403 403"),
        row("GET /api/v1/follow-ups/{id}", "ok ok 404 ok/404 404 404 404"),
        row("GET /api/v1/indicator-targets", "ok ok 403 403 ok 403 403"),
        with(
            "PUT /api/v1/indicator-targets",
            "403 ok 403 403 ok 403 403",
            |_, _| json!({"targets": [{"indicator": "convictions", "from": "2025-01-01", "to": "2025-12-31", "target": 12}]}),
        ),
        row("GET /api/v1/indicators", "ok ok 403 403 ok 403 403"),
        row("GET /api/v1/me", "ok ok ok ok ok ok ok"),
        with(
            "POST /api/v1/me/mfa/totp",
            "ok ok ok ok ok ok ok",
            |_, _| json!({"current_password": PASSWORD}),
        ),
        with(
            "POST /api/v1/me/mfa/totp/confirm",
            "422 422 422 422 422 422 422",
            |_, _| json!({"code": "000000"}),
        ),
        with(
            "PUT /api/v1/me/password",
            "ok ok ok ok ok ok ok",
            |_, _| json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .fresh(Caller),
        row("GET /api/v1/me/sessions", "ok ok ok ok ok ok ok"),
        row(
            "DELETE /api/v1/me/sessions/{id}",
            "ok/404 ok/404 ok/404 ok/404 ok/404 ok/404 ok/404",
        )
        .fresh(Caller),
        row("GET /api/v1/offences", "ok ok ok ok ok 403 403"),
        with(
            "PATCH /api/v1/offences/{code}",
            "ok 403 403 403 403 403 403",
            |_, _| json!({"penalty_note": "Checked by legal."}),
        ),
        row("GET /api/v1/partners", "ok ok ok ok ok ok ok"),
        with(
            "POST /api/v1/partners",
            "ok 403 403 403 403 403 403",
            |_, _| json!({"name": format!("Matrix partner {}", uuid::Uuid::now_v7()), "kind": "ngo"}),
        ),
        row("GET /api/v1/partners/{id}", "ok ok ok ok ok ok/404 404/ok"),
        with(
            "PATCH /api/v1/partners/{id}",
            "ok 403 403 403 403 403/404 404/403",
            |_, _| json!({"kind": "ngo"}),
        ),
        row("GET /api/v1/referrals", "ok ok ok 403 403 ok ok"),
        with("POST /api/v1/referrals", "403 ok ok 403 403 ok 422", |w, _| {
            let mut body = referral(&format!("matrix-{}", uuid::Uuid::now_v7()));
            body["partner_id"] = json!(w.org_a);
            body
        }),
        row("GET /api/v1/referrals/{id}", "ok ok ok 403 403 ok/404 404/ok"),
        with(
            "PATCH /api/v1/referrals/{id}",
            "403 ok ok 403 403 ok/404 404/ok",
            |_, _| json!({"child_alias": "R.M."}),
        ),
        with(
            "POST /api/v1/referrals/{id}/accept",
            "403 ok ok 403 403 403/404 404/403",
            |_, _| json!({}),
        )
        .fresh(Record),
        with(
            "POST /api/v1/referrals/{id}/acknowledge",
            "403 ok ok 403 403 403/404 404/403",
            |_, _| json!({}),
        )
        .fresh(Record),
        with(
            "POST /api/v1/referrals/{id}/decline",
            "403 ok ok 403 403 403/404 404/403",
            |_, _| json!({"reason": "Not ours"}),
        )
        .fresh(Record),
        with(
            "POST /api/v1/referrals/{id}/withdraw",
            "403 ok ok 403 403 ok/404 404/ok",
            |_, _| json!({}),
        )
        .fresh(Record),
        row("GET /api/v1/reports/indicators", "ok ok 403 403 ok 403 403"),
        row("GET /api/v1/services/{id}", "ok ok 403/404 ok/404 404 404 404"),
        with(
            "PATCH /api/v1/services/{id}",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"status": "active"}),
        ),
        row("GET /api/v1/services/{id}/sessions", "ok ok 403/404 ok/404 404 404 404"),
        with(
            "POST /api/v1/services/{id}/sessions",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"held_on": days_ago(3), "minutes": 60, "notes": "School visit"}),
        ),
        row("GET /api/v1/stats/overview", "ok ok 403 403 ok ok ok"),
        row("GET /api/v1/survivors", "ok ok ok ok 403 403 403"),
        with("POST /api/v1/survivors", "403 ok 403 ok 403 403 403", |_, _| {
            json!({"pseudonym": "Zawadi", "sex": "female", "age_at_intake": 15, "intake_on": days_ago(20),
                   "county": "kilifi", "placement": "shelter", "schooling": "primary"})
        }),
        row("GET /api/v1/survivors/{id}", "ok ok ok/404 ok/404 404 404 404"),
        with(
            "PATCH /api/v1/survivors/{id}",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"schooling": "secondary"}),
        ),
        row(
            "GET /api/v1/survivors/{id}/access-log",
            "ok ok 403/404 403/404 404 404 404",
        ),
        row(
            "GET /api/v1/survivors/{id}/assessments",
            "ok ok 403/404 ok/404 404 404 404",
        ),
        with(
            "POST /api/v1/survivors/{id}/assessments",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| {
                let scores = json!({"safety": 3.0, "legal_protection": 3.0, "mental_wellbeing": 3.0,
                                "economic_empowerment_education": 3.0, "social_support": 3.0, "physical_wellbeing": 3.0});
                json!({"kind": "six_month", "assessed_on": days_ago(2), "scores": scores})
            },
        ),
        row(
            "GET /api/v1/survivors/{id}/assignments",
            "ok ok ok/404 ok/404 404 404 404",
        ),
        with(
            "POST /api/v1/survivors/{id}/assignments",
            "ok ok 403/404 403/404 404 404 404",
            |w, _| json!({"user_id": w.users["spare_aftercare_officer"].id, "role": "counsellor"}),
        ),
        row(
            "DELETE /api/v1/survivors/{id}/assignments/{user_id}",
            "ok ok 403/404 403/404 404 404 404",
        )
        .fresh(Record),
        with(
            "POST /api/v1/survivors/{id}/close",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"closed_on": days_ago(0), "reason": "other"}),
        )
        .fresh(Record),
        row(
            "GET /api/v1/survivors/{id}/consents",
            "ok ok 403/404 ok/404 404 404 404",
        ),
        with(
            "POST /api/v1/survivors/{id}/consents",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"purpose": "services", "given_by": "guardian", "guardian_relationship": "aunt", "child_assent": true, "given_on": days_ago(1)}),
        ),
        row(
            "GET /api/v1/survivors/{id}/documents",
            "ok ok ok/404 ok/404 404 404 404",
        ),
        Row {
            op: "POST /api/v1/survivors/{id}/documents",
            expect: "403 ok 403/404 ok/404 404 404 404",
            body: Body::Upload,
            fresh: Nothing,
        },
        with(
            "POST /api/v1/survivors/{id}/follow-ups",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"conducted_on": days_ago(0), "outcome": "sustained"}),
        ),
        row(
            "GET /api/v1/survivors/{id}/identity",
            "ok 403 403/404 ok/404 404 404 404",
        ),
        with(
            "PUT /api/v1/survivors/{id}/identity",
            "403 403 403/404 ok/404 404 404 404",
            |_, _| json!({"legal_name": "Amani Kahindi Baya", "guardian_name": "Mama Amani", "guardian_relationship": "mother"}),
        ),
        with(
            "POST /api/v1/survivors/{id}/reopen",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"reopened_on": days_ago(0), "reason": "New threats from the suspect's family"}),
        )
        .fresh(Record),
        row(
            "GET /api/v1/survivors/{id}/services",
            "ok ok 403/404 ok/404 404 404 404",
        ),
        with(
            "POST /api/v1/survivors/{id}/services",
            "403 ok 403/404 ok/404 404 404 404",
            |_, _| json!({"kind": "medical"}),
        ),
        row("GET /api/v1/suspects/{id}", "ok ok ok/404 404 404 404 404"),
        with(
            "PATCH /api/v1/suspects/{id}",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"name": "Suspect A, alias"}),
        ),
        with(
            "POST /api/v1/suspects/{id}/charges",
            "403 ok ok/404 404 404 404 404",
            |_, _| json!({"offence_code": "soa-15", "filed_on": days_ago(0)}),
        ),
        row("GET /api/v1/trainings", "ok ok ok ok ok 403 403"),
        with("POST /api/v1/trainings", "403 ok 403 403 ok 403 403", |_, _| {
            json!({"title": "CSEC identification", "format": "workshop", "topics": ["csec_identification"],
                   "starts_on": days_ago(10), "ends_on": days_ago(10), "county": "kilifi",
                   "participants": [{"audience": "police", "female": 6, "male": 9}]})
        }),
        row("GET /api/v1/trainings/{id}", "ok ok ok ok ok 403 403"),
        with(
            "PATCH /api/v1/trainings/{id}",
            "403 ok 403 403 ok 403 403",
            |_, _| json!({"title": "CSEC identification, day 1"}),
        ),
        row("GET /api/v1/users", "ok 403 403 403 403 403 403"),
        with("POST /api/v1/users", "ok 403 403 403 403 403 403", |_, _| {
            json!({"email": format!("matrix-{}@haki.test", uuid::Uuid::now_v7().simple()), "display_name": "New colleague",
                   "role": "analyst", "password": "a long enough password"})
        }),
        row("GET /api/v1/users/{id}", "ok 403 403 403 403 403 403"),
        with(
            "PATCH /api/v1/users/{id}",
            "ok 403 403 403 403 403 403",
            |_, _| json!({"display_name": "Bystander"}),
        ),
        row("DELETE /api/v1/users/{id}/mfa", "ok 403 403 403 403 403 403"),
        with(
            "POST /api/v1/users/{id}/password-reset",
            "ok 403 403 403 403 403 403",
            |_, _| json!({}),
        ),
        row("DELETE /api/v1/users/{id}/sessions", "ok 403 403 403 403 403 403"),
        row("GET /api/v1/webhooks", "ok ok 403 403 403 ok ok"),
        with(
            "POST /api/v1/webhooks",
            "ok ok 403 403 403 ok ok",
            |_, _| json!({"url": "http://127.0.0.1:9/hook", "events": ["referral.status_changed"]}),
        ),
        row("DELETE /api/v1/webhooks/{id}", "ok 404 403 403 403 ok/404 404/ok").fresh(Record),
        row(
            "GET /api/v1/webhooks/{id}/deliveries",
            "ok 404 403 403 403 ok/404 404/ok",
        ),
        with(
            "POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
            "ok 404 403 403 403 ok/404 404/ok",
            |_, _| json!({}),
        ),
        row("GET /healthz", "public:200"),
        row("GET /metrics", "public:401"),
        row("GET /readyz", "public:200"),
    ]
}

struct World {
    app: TestApp,
    users: BTreeMap<&'static str, TestUser>,
    bystander: TestUser,
    org_a: PartnerId,
    org_b: PartnerId,
    /// Fixture name → [in reach, out of reach].
    ids: BTreeMap<&'static str, [String; 2]>,
    /// The bystander's session (a session that is not the caller's).
    bystander_session: String,
}

async fn created(app: &TestApp, user: &TestUser, path: &str, body: Value) -> Value {
    let r = app.post(path, &user.token, body).await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.text());
    r.json()
}

async fn signed_in(app: &TestApp, role: Role, org: Option<PartnerId>) -> (TestUser, String) {
    let mut user = app.create_user(role, org).await;
    let login = app.login_from(&user.email, PASSWORD, &next_peer().to_string()).await;
    login.expect(200);
    user.token = login.json()["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/me/sessions", &user.token).await.json();
    let session = me["data"][0]["id"].as_str().unwrap().to_string();
    (user, session)
}

async fn world() -> World {
    let app = TestApp::new().await;
    let org_a = app.create_partner("Partner A").await;
    let org_b = app.create_partner("Partner B").await;
    let mut users = BTreeMap::new();
    users.insert("admin", app.admin().await);
    users.insert("program_manager", app.create_user(Role::ProgramManager, None).await);
    users.insert("case_worker", app.create_user(Role::CaseWorker, None).await);
    users.insert("aftercare_officer", app.create_user(Role::AftercareOfficer, None).await);
    users.insert("analyst", app.create_user(Role::Analyst, None).await);
    users.insert("partner", app.create_user(Role::Partner, Some(org_a)).await);
    users.insert("other_partner", app.create_user(Role::Partner, Some(org_b)).await);
    users.insert("other_case_worker", app.create_user(Role::CaseWorker, None).await);
    users.insert(
        "other_aftercare_officer",
        app.create_user(Role::AftercareOfficer, None).await,
    );
    users.insert("spare_case_worker", app.create_user(Role::CaseWorker, None).await);
    users.insert(
        "spare_aftercare_officer",
        app.create_user(Role::AftercareOfficer, None).await,
    );
    let (bystander, bystander_session) = signed_in(&app, Role::Analyst, None).await;
    let mut w = World {
        app,
        users,
        bystander,
        org_a,
        org_b,
        ids: BTreeMap::new(),
        bystander_session,
    };
    let (u, app) = (&w.users, &w.app);
    let (pm, cw, ocw, ao, oao) = (
        &u["program_manager"],
        &u["case_worker"],
        &u["other_case_worker"],
        &u["aftercare_officer"],
        &u["other_aftercare_officer"],
    );
    let mut ids: BTreeMap<&'static str, [String; 2]> = BTreeMap::new();
    let mut put = |key: &'static str, a: String, b: String| {
        ids.insert(key, [a, b]);
    };
    let case_body = json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": days_ago(30), "incident_on": days_ago(32)});
    let cases = [
        id(&created(app, cw, "/api/v1/cases", case_body.clone()).await),
        id(&created(app, ocw, "/api/v1/cases", case_body).await),
    ];
    let survivor_body = json!({"pseudonym": "Neema", "sex": "female", "age_at_intake": 14, "intake_on": days_ago(20),
                               "county": "kilifi", "placement": "shelter", "schooling": "primary"});
    let survivors = [
        id(&created(app, ao, "/api/v1/survivors", survivor_body.clone()).await),
        id(&created(app, oao, "/api/v1/survivors", survivor_body.clone()).await),
    ];
    let mut suspects = Vec::new();
    let mut charges = Vec::new();
    let mut sessions = Vec::new();
    let mut documents = Vec::new();
    let mut consents = Vec::new();
    let mut services = Vec::new();
    for (i, (worker, officer)) in [(cw, ao), (ocw, oao)].into_iter().enumerate() {
        let (case, survivor) = (&cases[i], &survivors[i]);
        created(
            app,
            pm,
            &format!("/api/v1/cases/{case}/survivors"),
            json!({"survivor_id": survivor, "role": "victim_witness"}),
        )
        .await;
        for (path, member) in [
            (
                format!("/api/v1/cases/{case}/assignments"),
                json!({"user_id": u["spare_case_worker"].id, "role": "investigator"}),
            ),
            (
                format!("/api/v1/survivors/{survivor}/assignments"),
                json!({"user_id": u["spare_aftercare_officer"].id, "role": "counsellor"}),
            ),
        ] {
            created(app, pm, &path, member).await;
        }
        let suspect = id(&created(
            app,
            worker,
            &format!("/api/v1/cases/{case}/suspects"),
            json!({"name": "Suspect A", "role": "customer", "relationship": "tourist", "nationality": "DE"}),
        )
        .await);
        charges.push(id(&created(
            app,
            worker,
            &format!("/api/v1/suspects/{suspect}/charges"),
            json!({"offence_code": "soa-8-3", "filed_on": days_ago(5)}),
        )
        .await));
        suspects.push(suspect);
        sessions.push(id(&created(
            app,
            worker,
            &format!("/api/v1/cases/{case}/court-sessions"),
            json!({"court": "Kwale Law Courts", "scheduled_on": days_ago(-5), "purpose": "plea"}),
        )
        .await));
        documents.push(new_document(app, worker, case).await);
        consents.push(new_consent(app, officer, survivor).await);
        services.push(id(&created(
            app,
            officer,
            &format!("/api/v1/survivors/{survivor}/services"),
            json!({"kind": "medical"}),
        )
        .await));
        let identity = app
            .send(
                TestRequest::put()
                    .uri(&format!("/api/v1/survivors/{survivor}/identity"))
                    .insert_header(bearer(&officer.token))
                    .insert_header(("If-Match", "*"))
                    .set_json(json!({"legal_name": "Neema Zawadi Baya", "guardian_name": "Mama Neema", "guardian_relationship": "mother"})),
            )
            .await;
        assert!(identity.status.is_success(), "{}", identity.text());
    }
    let pair = |v: Vec<String>| -> (String, String) { (v[0].clone(), v[1].clone()) };
    let (a, b) = pair(suspects);
    put("suspects", a, b);
    let (a, b) = pair(charges);
    put("charges", a, b);
    let (a, b) = pair(sessions);
    put("court-sessions", a, b);
    let (a, b) = pair(documents);
    put("documents", a, b);
    let (a, b) = pair(consents);
    put("consents", a, b);
    let (a, b) = pair(services);
    put("services", a, b);
    put("cases", cases[0].clone(), cases[1].clone());
    put("survivors", survivors[0].clone(), survivors[1].clone());
    put("survivor", survivors[0].clone(), survivors[1].clone());
    put(
        "cases/user_id",
        u["spare_case_worker"].id.to_string(),
        u["spare_case_worker"].id.to_string(),
    );
    put(
        "survivors/user_id",
        u["spare_aftercare_officer"].id.to_string(),
        u["spare_aftercare_officer"].id.to_string(),
    );

    // A follow-up: a survivor closed by a program manager has one scheduled.
    let mut follow_ups = Vec::new();
    for officer in [ao, oao] {
        let closed = new_survivor(app, officer).await;
        created(
            app,
            pm,
            &format!("/api/v1/survivors/{closed}/close"),
            json!({"closed_on": days_ago(0), "reason": "other"}),
        )
        .await;
        let listed = app.get("/api/v1/follow-ups?limit=100", &pm.token).await.json();
        let mine = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["survivor_id"] == json!(closed));
        follow_ups.push(id(
            mine.unwrap_or_else(|| panic!("no follow-up for {closed} in {listed}"))
        ));
    }
    let (a, b) = pair(follow_ups);
    put("follow-ups", a, b);
    let approvals = [new_approval(app, ao).await, new_approval(app, oao).await];
    put("approvals", approvals[0].clone(), approvals[1].clone());

    let (pa, pb) = (&u["partner"], &u["other_partner"]);
    let referrals = [
        id(&created(app, pa, "/api/v1/referrals", referral("matrix-a")).await),
        id(&created(app, pb, "/api/v1/referrals", referral("matrix-b")).await),
    ];
    put("referrals", referrals[0].clone(), referrals[1].clone());
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["referral.status_changed"]});
    let webhooks = [
        id(&created(app, pa, "/api/v1/webhooks", hook.clone()).await),
        id(&created(app, pb, "/api/v1/webhooks", hook).await),
    ];
    put("webhooks", webhooks[0].clone(), webhooks[1].clone());
    // Acknowledging the referrals queues a delivery to each organisation's webhook.
    let mut deliveries = Vec::new();
    for (referral, (hook, owner)) in referrals.iter().zip(webhooks.iter().zip([pa, pb])) {
        created(app, pm, &format!("/api/v1/referrals/{referral}/acknowledge"), json!({})).await;
        let r = app
            .get(&format!("/api/v1/webhooks/{hook}/deliveries"), &owner.token)
            .await;
        deliveries.push(id(&r.json()["data"][0]));
    }
    let (a, b) = pair(deliveries);
    put("webhooks/delivery", a, b);
    let training = id(&created(
        app,
        &u["analyst"],
        "/api/v1/trainings",
        json!({"title": "CSEC identification", "format": "workshop", "topics": ["csec_identification"],
               "starts_on": days_ago(10), "ends_on": days_ago(10), "county": "kilifi",
               "participants": [{"audience": "police", "female": 6, "male": 9}]}),
    )
    .await);
    put("trainings", training.clone(), training);
    put("users", w.bystander.id.to_string(), w.bystander.id.to_string());
    put("partners", org_a.to_string(), org_b.to_string());
    put("offences", "soa-8-3".into(), "soa-8-3".into());
    w.ids = ids;
    w
}

async fn new_survivor(app: &TestApp, officer: &TestUser) -> String {
    id(&created(
        app,
        officer,
        "/api/v1/survivors",
        json!({"pseudonym": "Imani", "sex": "female", "age_at_intake": 15, "intake_on": days_ago(40),
               "county": "kwale", "placement": "family", "schooling": "primary"}),
    )
    .await)
}

async fn new_document(app: &TestApp, worker: &TestUser, case: &str) -> String {
    let r = common::upload(
        app,
        &worker.token,
        &format!("/api/v1/cases/{case}/documents"),
        &[
            ("kind", "p3_form"),
            ("title", "P3 form"),
            ("document_date", &days_ago(3)),
            ("identifying", "false"),
        ],
        Some(&pdf(2000)),
    )
    .await;
    r.expect(201);
    id(&r.json())
}

async fn new_consent(app: &TestApp, officer: &TestUser, survivor: &str) -> String {
    id(&created(
        app,
        officer,
        &format!("/api/v1/survivors/{survivor}/consents"),
        json!({"purpose": "services", "given_by": "guardian", "guardian_relationship": "mother", "child_assent": true, "given_on": days_ago(5)}),
    )
    .await)
}

/// An aftercare officer's request to close a new survivor of hers: a pending approval.
async fn new_approval(app: &TestApp, officer: &TestUser) -> String {
    let survivor = new_survivor(app, officer).await;
    let r = app
        .post(
            &format!("/api/v1/survivors/{survivor}/close"),
            &officer.token,
            json!({"closed_on": days_ago(0), "reason": "other"}),
        )
        .await;
    r.expect(202);
    id(&r.json())
}

/// The record a consuming request of `op` acts on, made anew: in the reach of the table's case
/// worker, aftercare officer and partner (`In`), or of their counterparts (`Out`).
async fn fresh_record(w: &World, op: &str, caller: &str, side: Side) -> String {
    let u = &w.users;
    let app = &w.app;
    let pick_user = |inside: &'static str, outside: &'static str| match side {
        Side::In => &u[inside],
        Side::Out => &u[outside],
    };
    let resource = op.split('/').nth(3).unwrap_or_default();
    match resource {
        "api-keys" => {
            // In reach: the caller's own key; out: someone else's.
            let owner = match side {
                Side::In => &u[caller],
                Side::Out => &w.bystander,
            };
            id(&created(
                app,
                owner,
                "/api/v1/api-keys",
                json!({"name": "to revoke", "current_password": PASSWORD}),
            )
            .await)
        }
        "approvals" => new_approval(app, pick_user("aftercare_officer", "other_aftercare_officer")).await,
        "consents" => {
            new_consent(
                app,
                pick_user("aftercare_officer", "other_aftercare_officer"),
                &pick(w, "survivors", side),
            )
            .await
        }
        "documents" => {
            new_document(
                app,
                pick_user("case_worker", "other_case_worker"),
                &pick(w, "cases", side),
            )
            .await
        }
        "webhooks" => id(&created(
            app,
            pick_user("partner", "other_partner"),
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["referral.status_changed"]}),
        )
        .await),
        "referrals" => {
            let r = created(
                app,
                pick_user("partner", "other_partner"),
                "/api/v1/referrals",
                referral(&format!("fresh-{}", uuid::Uuid::now_v7())),
            )
            .await;
            let rid = id(&r);
            if op.ends_with("/accept") || op.ends_with("/decline") {
                created(
                    app,
                    &u["program_manager"],
                    &format!("/api/v1/referrals/{rid}/acknowledge"),
                    json!({}),
                )
                .await;
            }
            rid
        }
        "cases" => {
            // The spare case worker back on the case, to be taken off again.
            let case = pick(w, "cases", side);
            let r = app
                .post(
                    &format!("/api/v1/cases/{case}/assignments"),
                    &u["program_manager"].token,
                    json!({"user_id": u["spare_case_worker"].id, "role": "investigator"}),
                )
                .await;
            assert!(r.status.is_success() || r.status == 409, "{}", r.text());
            case
        }
        "survivors" if op.ends_with("/assignments/{user_id}") => {
            let survivor = pick(w, "survivors", side);
            let r = app
                .post(
                    &format!("/api/v1/survivors/{survivor}/assignments"),
                    &u["program_manager"].token,
                    json!({"user_id": u["spare_aftercare_officer"].id, "role": "counsellor"}),
                )
                .await;
            assert!(r.status.is_success() || r.status == 409, "{}", r.text());
            survivor
        }
        "survivors" => {
            let officer = pick_user("aftercare_officer", "other_aftercare_officer");
            let survivor = new_survivor(app, officer).await;
            // Linked to the side's case, so that the case worker of that case sees her.
            created(
                app,
                &u["program_manager"],
                &format!("/api/v1/cases/{}/survivors", pick(w, "cases", side)),
                json!({"survivor_id": survivor, "role": "victim_witness"}),
            )
            .await;
            if op.ends_with("/reopen") {
                created(
                    app,
                    &u["program_manager"],
                    &format!("/api/v1/survivors/{survivor}/close"),
                    json!({"closed_on": days_ago(0), "reason": "other"}),
                )
                .await;
            }
            survivor
        }
        other => panic!("no fresh record for {other} ({op})"),
    }
}

/// The path of `op` with its parameters filled for `side`.
fn fill(w: &World, template: &str, side: Side, record: Option<&str>, session: Option<&str>) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    let mut parent = "";
    for (i, seg) in segments.iter().enumerate() {
        let value = match *seg {
            "{id}" if template.starts_with("/api/v1/me/sessions") => match side {
                Side::In => session.expect("own session").to_string(),
                Side::Out => w.bystander_session.clone(),
            },
            "{id}" | "{code}" => record
                .map(str::to_string)
                .unwrap_or_else(|| pick(w, segments[i - 1], side)),
            "{user_id}" | "{delivery}" => pick(w, &format!("{parent}/{}", &seg[1..seg.len() - 1]), side),
            s => {
                if !s.starts_with('{') && !s.is_empty() && s != "api" && s != "v1" && parent.is_empty() {
                    parent = s;
                }
                s.to_string()
            }
        };
        out.push(value);
    }
    out.join("/")
}

/// Each request from its own address, so that the per-address limits of the sign-in endpoints
/// (tested elsewhere) do not decide a cell.
fn next_peer() -> std::net::SocketAddr {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::net::SocketAddr::from(([10, 200, (n >> 8) as u8, n as u8], 40000))
}

/// The required query of the aggregate endpoints.
fn query_of(path: &str) -> &'static str {
    match path {
        "/api/v1/stats/overview" | "/api/v1/reports/indicators" | "/api/v1/exports/htcds" => {
            "?from=2025-01-01&to=2026-12-31"
        }
        _ => "",
    }
}

fn expected_cell(expect: &str, column: usize, side: Side) -> String {
    let token = expect
        .split_whitespace()
        .nth(column)
        .unwrap_or_else(|| panic!("column {column} of {expect}"));
    match token.split_once('/') {
        Some((a, b)) => if side == Side::In { a } else { b }.to_string(),
        None => token.to_string(),
    }
}

fn outcome(status: u16) -> String {
    match status {
        200..=299 | 409 => "ok".into(),
        s => s.to_string(),
    }
}

async fn call(w: &World, method: &str, path: &str, token: Option<&str>, body: &Body, side: Side) -> common::Resp {
    let mut req = match method {
        "GET" => TestRequest::get(),
        "POST" => TestRequest::post(),
        "PUT" => TestRequest::put(),
        "PATCH" => TestRequest::patch(),
        "DELETE" => TestRequest::delete(),
        m => panic!("method {m}"),
    }
    .uri(&format!("{path}{}", query_of(path)))
    .peer_addr(next_peer())
    .insert_header(("If-Match", "*"));
    if let Some(token) = token {
        req = req.insert_header(bearer(token));
    }
    req = match body {
        Body::None => req,
        Body::Json(f) => req.set_json(f(w, side)),
        Body::Upload => {
            let date = days_ago(2);
            let (content_type, bytes) = form(
                &[
                    ("kind", "medical_report"),
                    ("title", "Report"),
                    ("document_date", &date),
                    ("identifying", "false"),
                ],
                Some(&pdf(1500)),
            );
            req.insert_header(("Content-Type", content_type)).set_payload(bytes)
        }
    };
    w.app.send(req).await
}

#[actix_web::test]
async fn every_operation_as_every_caller_inside_and_outside_its_reach() {
    let w = world().await;
    let app = &w.app;
    let rows = table();

    // Every operation of the spec has exactly one row, and every row is an operation.
    let spec: Value = haki::openapi::spec();
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let listed: BTreeSet<String> = rows.iter().map(|r| r.op.to_string()).collect();
    assert_eq!(listed.len(), rows.len(), "an operation has two rows");
    let missing: Vec<_> = operations.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&operations).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the authorization table: {missing:?}"
    );
    assert!(stale.is_empty(), "rows for operations that do not exist: {stale:?}");

    // Callers without a valid credential.
    let expired = {
        let u = &w.users["admin"];
        let now = chrono::Utc::now().timestamp();
        let claims = haki::auth::jwt::Claims {
            sub: u.id,
            role: Role::Admin,
            org: None,
            iss: app.state.config.jwt_issuer.clone(),
            aud: app.state.config.jwt_audience.clone(),
            iat: now - 3600,
            exp: now - 1800,
            jti: uuid::Uuid::now_v7(),
            tv: 1,
            sid: None,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&app.state.config.jwt_secret),
        )
        .unwrap()
    };
    let revoked = {
        let key = created(
            app,
            &w.users["partner"],
            "/api/v1/api-keys",
            json!({"name": "revoked", "current_password": PASSWORD}),
        )
        .await;
        let secret = key["secret"].as_str().unwrap_or_else(|| panic!("{key}")).to_string();
        app.send(
            TestRequest::delete()
                .uri(&format!("/api/v1/api-keys/{}", id(&key)))
                .insert_header(bearer(&w.users["partner"].token)),
        )
        .await
        .expect(200);
        secret
    };
    let unauthenticated: [(&str, Option<&str>); 3] = [
        ("anonymous", None),
        ("expired token", Some(&expired)),
        ("revoked API key", Some(&revoked)),
    ];

    let mut failures = Vec::new();
    let mut matrix = Vec::new();
    for r in &rows {
        let (method, template) = r.op.split_once(' ').unwrap();
        let public = r.expect.strip_prefix("public:");
        for (name, token) in unauthenticated {
            let path = fill(
                &w,
                template,
                Side::In,
                Some("00000000-0000-7000-8000-000000000000"),
                Some("00000000-0000-7000-8000-000000000000"),
            );
            let resp = call(&w, method, &path, token, &r.body, Side::In).await;
            let got = resp.status.as_u16();
            let want = public.unwrap_or("401");
            if got.to_string() != want {
                failures.push(format!("{} as {name}: {got}, expected {want}", r.op));
            } else if public.is_none() && r.op.contains("/api/v1/") {
                // The reason, too: an expiry is told as one (log in again), the rest as unknown.
                let code = if name == "expired token" {
                    "token_expired"
                } else {
                    "unauthenticated"
                };
                resp.expect_problem(401, code);
            }
        }
        let mut cells = Vec::new();
        for (column, caller) in CALLERS.iter().enumerate() {
            let mut pair = Vec::new();
            for side in [Side::In, Side::Out] {
                let (token, session) = if r.fresh == Fresh::Caller {
                    let role = w.users[caller].role;
                    let org = match *caller {
                        "partner" => Some(w.org_a),
                        "other_partner" => Some(w.org_b),
                        _ => None,
                    };
                    let (user, session) = signed_in(app, role, org).await;
                    (user.token, Some(session))
                } else {
                    (w.users[caller].token.clone(), None)
                };
                let record = if r.fresh == Fresh::Record {
                    Some(fresh_record(&w, r.op, caller, side).await)
                } else {
                    None
                };
                let path = fill(&w, template, side, record.as_deref(), session.as_deref());
                let resp = call(&w, method, &path, Some(&token), &r.body, side).await;
                let got = match public {
                    Some(_) => resp.status.as_u16().to_string(),
                    None => outcome(resp.status.as_u16()),
                };
                let want = match public {
                    Some(status) => status.to_string(),
                    None => expected_cell(r.expect, column, side),
                };
                if resp.status == 403 {
                    resp.expect_problem(403, "forbidden");
                }
                if got != want {
                    failures.push(format!(
                        "{} as {caller} ({}): {got}, expected {want}: {}",
                        r.op,
                        if side == Side::In { "in reach" } else { "out of reach" },
                        resp.text().chars().take(200).collect::<String>()
                    ));
                }
                pair.push(got);
            }
            cells.push(if pair[0] == pair[1] {
                pair[0].clone()
            } else {
                pair.join("/")
            });
        }
        matrix.push(format!("{:<60} {}", r.op, cells.join(" ")));
    }
    if !failures.is_empty() {
        eprintln!("observed:\n{}", matrix.join("\n"));
    }
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The table as Markdown, for `docs/security.md`.
fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "Columns: the caller's role; `partner*` is a partner of another organisation than the \
         record's. `ok`: allowed (2xx, or 409 when the record's state forbids the change); `403`: \
         the role may not do this (the answer names the missing permission); `404`: the record is \
         outside the caller's reach, so its existence is not revealed; `a / b`: a record within \
         the caller's reach / one outside it (another case worker's case, another officer's \
         survivor, another organisation's referral or webhook, someone else's key or session). \
         Anonymous callers, expired tokens and revoked API keys get 401 everywhere except the \
         *public* rows, which need no credential (the figure there is the answer to the test's \
         request: a sign-in that succeeds, or a made-up challenge, token or code).\n\n\
         | operation | admin | program_manager | case_worker | aftercare_officer | analyst | partner | partner* |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let cells: Vec<String> = match r.expect.strip_prefix("public:") {
            Some(status) => vec![format!("*public*: {status}")],
            None => r.expect.split_whitespace().map(|c| c.replace('/', " / ")).collect(),
        };
        let cells = if cells.len() == 1 {
            format!("{} |{}", cells[0], " |".repeat(CALLERS.len() - 1))
        } else {
            cells.join(" | ") + " |"
        };
        out.push_str(&format!("| `{}` | {cells}\n", r.op));
    }
    out
}

#[test]
fn the_table_is_documented_in_security_md() {
    const START: &str = "<!-- authorization-matrix:start -->\n";
    const END: &str = "<!-- authorization-matrix:end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    let (head, rest) = doc.split_once(START).expect("start marker");
    let (current, tail) = rest.split_once(END).expect("end marker");
    let rendered = render(&table());
    if current != rendered {
        if std::env::var_os("HAKI_UPDATE_DOCS").is_some() {
            std::fs::write(path, format!("{head}{START}{rendered}{END}{tail}")).expect("write");
        } else {
            panic!(
                "docs/security.md does not show the authorization table of tests/authorization.rs; \
                 run `HAKI_UPDATE_DOCS=1 cargo test --test authorization the_table_is_documented` and commit it"
            );
        }
    }
}

/// Fields a caller may not set — identifiers, references, versions, derived facts, ownership, and
/// statuses that change only through their transitions — are refused by name and change nothing.
#[actix_web::test]
async fn fields_a_caller_may_not_set_are_rejected_never_applied() {
    let w = world().await;
    let app = &w.app;
    let u = &w.users;
    let case = pick(&w, "cases", Side::In);
    let survivor = pick(&w, "survivors", Side::In);
    let referral = fresh_record(&w, "POST /api/v1/referrals/{id}/withdraw", "partner", Side::In).await;
    let document = pick(&w, "documents", Side::In);
    let user = w.bystander.id.to_string();
    let snapshot = || async {
        let mut all = Vec::new();
        for path in [
            format!("/api/v1/cases/{case}"),
            format!("/api/v1/survivors/{survivor}"),
            format!("/api/v1/referrals/{referral}"),
            format!("/api/v1/documents/{document}"),
            format!("/api/v1/users/{user}"),
        ] {
            all.push(app.get(&path, &u["admin"].token).await.json());
        }
        let counts = app
            .count("SELECT (SELECT count(*) FROM cases) * 1000000 + (SELECT count(*) FROM survivors) * 1000 + (SELECT count(*) FROM api_keys)")
            .await;
        (all, counts)
    };
    let before = snapshot().await;

    let case_body = |extra: Value| {
        let mut body = json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": days_ago(30), "incident_on": days_ago(32)});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let attempts: Vec<(&str, String, &TestUser, Value, &str)> = vec![
        (
            "POST",
            "/api/v1/cases".into(),
            &u["case_worker"],
            case_body(json!({"reference": "HAKI-1999-0001"})),
            "reference",
        ),
        (
            "POST",
            "/api/v1/cases".into(),
            &u["case_worker"],
            case_body(json!({"stage": "sentenced"})),
            "stage",
        ),
        (
            "POST",
            "/api/v1/cases".into(),
            &u["case_worker"],
            case_body(json!({"id": case})),
            "id",
        ),
        (
            "POST",
            "/api/v1/cases".into(),
            &u["case_worker"],
            case_body(json!({"created_by": u["admin"].id})),
            "created_by",
        ),
        (
            "PATCH",
            format!("/api/v1/cases/{case}"),
            &u["case_worker"],
            json!({"stage": "closed"}),
            "stage",
        ),
        (
            "PATCH",
            format!("/api/v1/cases/{case}"),
            &u["case_worker"],
            json!({"version": 99}),
            "version",
        ),
        (
            "PATCH",
            format!("/api/v1/cases/{case}"),
            &u["case_worker"],
            json!({"stalled": false}),
            "stalled",
        ),
        (
            "PATCH",
            format!("/api/v1/cases/{case}"),
            &u["case_worker"],
            json!({"reference": "HAKI-1999-0002"}),
            "reference",
        ),
        (
            "PATCH",
            format!("/api/v1/survivors/{survivor}"),
            &u["aftercare_officer"],
            json!({"restoration_status": "closed"}),
            "restoration_status",
        ),
        (
            "PATCH",
            format!("/api/v1/survivors/{survivor}"),
            &u["aftercare_officer"],
            json!({"legal_name": "Leaked"}),
            "legal_name",
        ),
        (
            "PATCH",
            format!("/api/v1/survivors/{survivor}"),
            &u["aftercare_officer"],
            json!({"next_assessment_due": "2030-01-01"}),
            "next_assessment_due",
        ),
        (
            "PATCH",
            format!("/api/v1/referrals/{referral}"),
            &u["partner"],
            json!({"status": "accepted"}),
            "status",
        ),
        (
            "PATCH",
            format!("/api/v1/referrals/{referral}"),
            &u["partner"],
            json!({"partner_id": w.org_b}),
            "partner_id",
        ),
        (
            "PATCH",
            format!("/api/v1/documents/{document}"),
            &u["case_worker"],
            json!({"sha256": "00"}),
            "sha256",
        ),
        (
            "PATCH",
            format!("/api/v1/documents/{document}"),
            &u["case_worker"],
            json!({"case_id": pick(&w, "cases", Side::Out)}),
            "case_id",
        ),
        (
            "POST",
            "/api/v1/api-keys".into(),
            &u["partner"],
            json!({"name": "k", "current_password": PASSWORD, "role": "admin"}),
            "role",
        ),
        (
            "POST",
            "/api/v1/api-keys".into(),
            &u["partner"],
            json!({"name": "k", "current_password": PASSWORD, "organization_id": w.org_b}),
            "organization_id",
        ),
        (
            "PATCH",
            format!("/api/v1/users/{user}"),
            &u["admin"],
            json!({"token_version": 0}),
            "token_version",
        ),
        (
            "PATCH",
            format!("/api/v1/users/{user}"),
            &u["admin"],
            json!({"email_verified": true}),
            "email_verified",
        ),
    ];
    for (method, path, caller, body, field) in attempts {
        let req = match method {
            "POST" => TestRequest::post(),
            _ => TestRequest::patch(),
        }
        .uri(&path)
        .insert_header(bearer(&caller.token))
        .insert_header(("If-Match", "*"))
        .set_json(&body);
        let problem = app.send(req).await.expect_problem(422, "validation_failed");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{method} {path} with {body}: {problem}"
        );
    }

    // A partner may not submit on another organisation's behalf, nor take one of its referrals.
    let mut other_org = self::referral("mass-1");
    other_org["partner_id"] = json!(w.org_b);
    let problem = app
        .post("/api/v1/referrals", &u["partner"].token, other_org)
        .await
        .json();
    assert_eq!(problem["status"], 422, "{problem}");
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "partner_id"),
        "{problem}"
    );
    // Nor hear about what is not its own.
    let problem = app
        .post(
            "/api/v1/webhooks",
            &u["partner"].token,
            json!({"url": "http://127.0.0.1:9/hook", "events": ["case.stage_changed"]}),
        )
        .await;
    assert!(matches!(problem.status.as_u16(), 403 | 422), "{}", problem.text());
    // An admin may not change their own role (nor deactivate themselves).
    app.patch(
        &format!("/api/v1/users/{}", u["admin"].id),
        &u["admin"].token,
        Some("*"),
        json!({"role": "analyst"}),
    )
    .await
    .expect_problem(409, "self_lockout");

    assert_eq!(snapshot().await, before, "a refused request changed something");
}
