//! Survivors and restoration: records, need-to-know, the identity vault, consent, services,
//! assessments, closure and follow-up.

mod common;

use actix_web::test::TestRequest;
use chrono::{Duration, Months};
use common::{TestApp, TestUser, bearer};
use haki::{auth::Role, ids::SurvivorId, restoration::models::ConsentPurpose};
use serde_json::{Value, json};

const LEGAL_NAME: &str = "Wanjiru Zawadi Mwakilema";

fn days_ago(n: i64) -> String {
    (haki::vocab::today() - Duration::days(n)).to_string()
}

fn survivor_body(pseudonym: &str, age: i32) -> Value {
    json!({"pseudonym": pseudonym, "sex": "female", "age_at_intake": age, "intake_on": days_ago(200),
           "county": "kilifi", "placement": "shelter", "schooling": "primary"})
}

async fn create_survivor(app: &TestApp, user: &TestUser, pseudonym: &str, age: i32) -> Value {
    let r = app
        .post("/api/v1/survivors", &user.token, survivor_body(pseudonym, age))
        .await;
    r.expect(201);
    r.json()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn scores(v: f64) -> Value {
    json!({"safety": v, "legal_protection": v, "mental_wellbeing": v, "economic_empowerment_education": v,
           "social_support": v, "physical_wellbeing": v})
}

struct World {
    app: TestApp,
    admin: TestUser,
    pm: TestUser,
    aftercare: TestUser,
    other_aftercare: TestUser,
    worker: TestUser,
    other_worker: TestUser,
    analyst: TestUser,
    partner: TestUser,
    /// Assigned to `aftercare`, linked to `case` (assigned to `worker`).
    mine: Value,
    /// Nobody's.
    theirs: Value,
    case: Value,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let other_aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let other_worker = app.create_user(Role::CaseWorker, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let org = app.create_partner("Partner org").await;
    let partner = app.create_user(Role::Partner, Some(org)).await;
    let mine = create_survivor(&app, &aftercare, "Neema", 14).await;
    let theirs = create_survivor(&app, &pm, "Imani", 16).await;
    let case = app
        .post(
            "/api/v1/cases",
            &worker.token,
            json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": days_ago(210), "incident_on": days_ago(215)}),
        )
        .await
        .json();
    app.post(
        &format!("/api/v1/cases/{}/survivors", id(&case)),
        &pm.token,
        json!({"survivor_id": mine["id"], "role": "victim_witness"}),
    )
    .await
    .expect(201);
    World {
        app,
        admin,
        pm,
        aftercare,
        other_aftercare,
        worker,
        other_worker,
        analyst,
        partner,
        mine,
        theirs,
        case,
    }
}

#[actix_web::test]
async fn survivors_are_pseudonymous_records_with_derived_facts() {
    let w = world().await;
    let r = w
        .app
        .get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.aftercare.token)
        .await;
    r.expect(200);
    let s = r.json();
    assert_eq!(s["pseudonym"], "Neema");
    assert_eq!(s["child_at_incident"], true);
    assert_eq!(s["restoration_status"], "active");
    assert_eq!(
        s["next_assessment_due"],
        days_ago(200),
        "an intake assessment is due at intake"
    );
    assert_eq!(s["cases"][0]["reference"], w.case["reference"]);
    assert_eq!(s["cases"][0]["stage"], "reported");
    assert_eq!(s["cases"][0]["role"], "victim_witness");
    assert!(s.get("legal_name").is_none());
    // The registering aftercare officer is on the team.
    let team = w
        .app
        .get(&format!("/api/v1/survivors/{}/assignments", id(&w.mine)), &w.pm.token)
        .await
        .json();
    assert_eq!(team["data"][0]["user_id"], w.aftercare.id.to_string());
    assert_eq!(team["data"][0]["assignee"]["role"], "aftercare_officer");

    // Bad input names the field and writes nothing.
    let before = w.app.count("SELECT count(*) FROM survivors").await;
    for (body, field) in [
        (json!({"pseudonym": "X", "intake_on": days_ago(1)}), "birth_year"),
        (
            json!({"pseudonym": "", "age_at_intake": 12, "intake_on": days_ago(1)}),
            "pseudonym",
        ),
        (
            json!({"pseudonym": "X", "age_at_intake": 12, "intake_on": days_ago(-1)}),
            "intake_on",
        ),
        (
            json!({"pseudonym": "X", "age_at_intake": 12, "intake_on": days_ago(1), "placement": "castle"}),
            "placement",
        ),
        (
            json!({"pseudonym": "   ", "age_at_intake": 12, "intake_on": days_ago(1)}),
            "pseudonym",
        ),
        (
            json!({"pseudonym": "X\u{0}", "age_at_intake": 12, "intake_on": days_ago(1)}),
            "pseudonym",
        ),
    ] {
        let p = w
            .app
            .post("/api/v1/survivors", &w.aftercare.token, body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    assert_eq!(w.app.count("SELECT count(*) FROM survivors").await, before);

    // Linking: a new survivor through the case, and no duplicate link.
    let linked = w
        .app
        .post(
            &format!("/api/v1/cases/{}/survivors", id(&w.case)),
            &w.worker.token,
            json!({"survivor": survivor_body("Zawadi", 13)}),
        )
        .await;
    linked.expect(201);
    assert_eq!(linked.json()["survivor"]["pseudonym"], "Zawadi");
    w.app
        .post(
            &format!("/api/v1/cases/{}/survivors", id(&w.case)),
            &w.pm.token,
            json!({"survivor_id": w.mine["id"]}),
        )
        .await
        .expect_problem(409, "already_linked");
    w.app
        .post(
            &format!("/api/v1/cases/{}/survivors", id(&w.case)),
            &w.worker.token,
            json!({"survivor_id": w.theirs["id"]}),
        )
        .await
        .expect_problem(422, "validation_failed");
    let on_case = w
        .app
        .get(&format!("/api/v1/cases/{}/survivors", id(&w.case)), &w.worker.token)
        .await
        .json();
    assert_eq!(on_case["data"].as_array().unwrap().len(), 2);
    // One at a time, in the order they were linked, each once.
    let first = w
        .app
        .get(
            &format!("/api/v1/cases/{}/survivors?limit=1", id(&w.case)),
            &w.worker.token,
        )
        .await
        .json();
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = w
        .app
        .get(
            &format!("/api/v1/cases/{}/survivors?limit=1&cursor={cursor}", id(&w.case)),
            &w.worker.token,
        )
        .await
        .json();
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(first["data"][0]["survivor"]["id"], on_case["data"][0]["survivor"]["id"]);
    assert_eq!(
        second["data"][0]["survivor"]["id"],
        on_case["data"][1]["survivor"]["id"]
    );
}

#[actix_web::test]
async fn need_to_know_for_survivors() {
    let w = world().await;
    let app = &w.app;
    let ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    let parts = ["", "/assignments"];
    let restoration = ["/consents", "/services", "/assessments"];

    for user in [&w.admin, &w.pm] {
        assert_eq!(ids(app.get("/api/v1/survivors", &user.token).await.json()).len(), 3 - 1);
        for s in [&w.mine, &w.theirs] {
            for part in parts.iter().chain(restoration.iter()) {
                app.get(&format!("/api/v1/survivors/{}{part}", id(s)), &user.token)
                    .await
                    .expect(200);
            }
        }
    }
    // The aftercare officer: her survivors only.
    assert_eq!(
        ids(app.get("/api/v1/survivors", &w.aftercare.token).await.json()),
        [id(&w.mine)]
    );
    for part in parts.iter().chain(restoration.iter()) {
        app.get(&format!("/api/v1/survivors/{}{part}", id(&w.mine)), &w.aftercare.token)
            .await
            .expect(200);
        app.get(
            &format!("/api/v1/survivors/{}{part}", id(&w.theirs)),
            &w.aftercare.token,
        )
        .await
        .expect_problem(404, "not_found");
    }
    assert!(ids(app.get("/api/v1/survivors", &w.other_aftercare.token).await.json()).is_empty());
    app.get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.other_aftercare.token)
        .await
        .expect_problem(404, "not_found");

    // The case worker: survivors of her cases, by pseudonym, read-only, no restoration data.
    assert_eq!(
        ids(app.get("/api/v1/survivors", &w.worker.token).await.json()),
        [id(&w.mine)]
    );
    app.get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.worker.token)
        .await
        .expect(200);
    app.get(&format!("/api/v1/survivors/{}", id(&w.theirs)), &w.worker.token)
        .await
        .expect_problem(404, "not_found");
    for part in restoration {
        app.get(&format!("/api/v1/survivors/{}{part}", id(&w.mine)), &w.worker.token)
            .await
            .expect_problem(403, "forbidden");
    }
    app.patch(
        &format!("/api/v1/survivors/{}", id(&w.mine)),
        &w.worker.token,
        Some("*"),
        json!({"placement": "family"}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert!(ids(app.get("/api/v1/survivors", &w.other_worker.token).await.json()).is_empty());
    app.get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.other_worker.token)
        .await
        .expect_problem(404, "not_found");

    // Analysts and partners see no survivor.
    for user in [&w.analyst, &w.partner] {
        app.get("/api/v1/survivors", &user.token)
            .await
            .expect_problem(403, "forbidden");
        app.post("/api/v1/survivors", &user.token, survivor_body("X", 10))
            .await
            .expect_problem(403, "forbidden");
        for s in [&w.mine, &w.theirs] {
            for part in parts.iter().chain(restoration.iter()).chain(["/identity"].iter()) {
                app.get(&format!("/api/v1/survivors/{}{part}", id(s)), &user.token)
                    .await
                    .expect_problem(404, "not_found");
            }
        }
    }

    // An assignment brings a survivor into reach.
    app.post(
        &format!("/api/v1/survivors/{}/assignments", id(&w.theirs)),
        &w.pm.token,
        json!({"user_id": w.other_aftercare.id, "role": "counsellor"}),
    )
    .await
    .expect(201);
    app.get(
        &format!("/api/v1/survivors/{}", id(&w.theirs)),
        &w.other_aftercare.token,
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/survivors/{}/assignments", id(&w.theirs)),
        &w.aftercare.token,
        json!({"user_id": w.aftercare.id, "role": "counsellor"}),
    )
    .await
    .expect_problem(404, "not_found");
}

#[actix_web::test]
async fn the_identity_vault_is_encrypted_restricted_audited_and_never_leaks() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/survivors/{}/identity", id(&w.mine));
    let identity = json!({"legal_name": LEGAL_NAME, "guardian_name": "Mama Wanjiru", "guardian_relationship": "mother",
                          "guardian_phone": "+254 700 123456", "address": "Plot 14, Mtwapa"});
    let put = |user: &TestUser, body: Value| {
        TestRequest::put()
            .uri(&path)
            .insert_header(bearer(&user.token))
            .set_json(body)
    };

    app.get(&path, &w.aftercare.token)
        .await
        .expect_problem(404, "not_found");
    let r = app.send(put(&w.aftercare, identity.clone())).await;
    r.expect(200);
    assert_eq!(r.json()["identity"]["legal_name"], LEGAL_NAME);
    let r = app.send(put(&w.aftercare, json!({"legal_name": ""}))).await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "legal_name"
    );

    // Only admins and the assigned aftercare officer.
    for user in [&w.admin, &w.aftercare] {
        let r = app.get(&path, &user.token).await;
        r.expect(200);
        assert_eq!(r.json()["identity"]["address"], "Plot 14, Mtwapa");
        // No cache (browser, proxy) keeps a child's identity.
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    for path in [
        format!("/api/v1/survivors/{}", id(&w.mine)),
        "/api/v1/survivors".to_string(),
    ] {
        assert_eq!(
            app.get(&path, &w.aftercare.token).await.header("cache-control"),
            Some("no-store"),
            "{path}"
        );
    }
    app.get(&path, &w.pm.token).await.expect_problem(403, "forbidden");
    app.get(&path, &w.worker.token).await.expect_problem(403, "forbidden");
    app.send(put(&w.pm, identity.clone()))
        .await
        .expect_problem(403, "forbidden");
    app.get(&path, &w.other_aftercare.token)
        .await
        .expect_problem(404, "not_found");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'survivor.identity_read'")
            .await,
        2
    );

    // At rest it is ciphertext.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM survivor_identities WHERE position(convert_to('{LEGAL_NAME}', 'UTF8') in ciphertext) > 0"
        ))
        .await,
        0
    );

    // It never appears anywhere else: walk every endpoint that shows survivors, cases, logs.
    let sid = id(&w.mine);
    let cid = id(&w.case);
    app.post(&format!("/api/v1/survivors/{sid}/consents"), &w.aftercare.token,
        json!({"purpose": "services", "given_by": "guardian", "guardian_relationship": "mother", "child_assent": true, "given_on": days_ago(5)}))
        .await
        .expect(201);
    app.post(
        &format!("/api/v1/survivors/{sid}/assessments"),
        &w.aftercare.token,
        json!({"kind": "intake", "assessed_on": days_ago(5), "scores": scores(2.0)}),
    )
    .await
    .expect(201);
    let paths = [
        "/api/v1/survivors".to_string(),
        format!("/api/v1/survivors/{sid}"),
        format!("/api/v1/survivors/{sid}/assignments"),
        format!("/api/v1/survivors/{sid}/consents"),
        format!("/api/v1/survivors/{sid}/services"),
        format!("/api/v1/survivors/{sid}/assessments"),
        format!("/api/v1/survivors/{sid}/access-log"),
        format!("/api/v1/cases/{cid}"),
        format!("/api/v1/cases/{cid}/survivors"),
        format!("/api/v1/cases/{cid}/events"),
        format!("/api/v1/cases/{cid}/access-log"),
        "/api/v1/cases".to_string(),
        "/api/v1/follow-ups".to_string(),
        "/api/v1/audit-log?limit=200".to_string(),
    ];
    for p in paths {
        // The admin reads every one of them, so the check below looks at real answers.
        app.get(&p, &w.admin.token).await.expect(200);
        for user in [&w.admin, &w.aftercare] {
            let r = app.get(&p, &user.token).await;
            assert!(
                !r.text().contains("Wanjiru Zawadi") && !r.text().contains("Mtwapa"),
                "{p} leaks the identity"
            );
        }
    }
    let metrics = app.get("/metrics", common::METRICS_TOKEN).await;
    metrics.expect(200);
    assert!(!metrics.text().contains("Wanjiru Zawadi") && !metrics.text().contains("Mtwapa"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE details::text LIKE '%{LEGAL_NAME}%'"
        ))
        .await,
        0
    );

    // The access log tells who read the identity.
    let log = app
        .get(&format!("/api/v1/survivors/{sid}/access-log"), &w.pm.token)
        .await
        .json();
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"survivor.identity_read") && actions.contains(&"survivor.identity_write"),
        "{actions:?}"
    );
    app.get(&format!("/api/v1/survivors/{sid}/access-log"), &w.aftercare.token)
        .await
        .expect_problem(403, "forbidden");
}

#[actix_web::test]
async fn consent_rules_and_withdrawal_taking_effect_at_once() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/survivors/{}/consents", id(&w.mine));
    let org = app.create_partner("Shelter partner").await;
    // A child's consent comes from a guardian, with her assent recorded.
    let r = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"purpose": "data_sharing", "given_by": "survivor", "given_on": days_ago(1)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "given_by"
    );
    let r = app.post(&path, &w.aftercare.token, json!({"purpose": "data_sharing", "given_by": "guardian", "guardian_relationship": "aunt", "given_on": days_ago(1)})).await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "child_assent"
    );
    let r = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"purpose": "gossip", "given_by": "guardian", "given_on": days_ago(1)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "purpose"
    );
    let r = app.post(&path, &w.aftercare.token, json!({"purpose": "media", "given_by": "guardian", "guardian_relationship": "aunt", "child_assent": true, "given_on": days_ago(1), "expires_on": days_ago(3)})).await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "expires_on"
    );
    assert_eq!(app.count("SELECT count(*) FROM consents").await, 0);

    let survivor = SurvivorId(uuid::Uuid::parse_str(id(&w.mine)).unwrap());
    let mut conn = app.conn().await;
    use haki::restoration::consent::allows;
    assert!(
        !allows(&mut conn, survivor, ConsentPurpose::DataSharing, Some(org))
            .await
            .unwrap()
    );
    let consent = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"purpose": "data_sharing", "given_by": "guardian", "guardian_relationship": "aunt",
            "child_assent": true, "given_on": days_ago(1), "recipients": [org]}),
        )
        .await;
    consent.expect(201);
    let consent = consent.json();
    assert_eq!(consent["in_effect"], true);
    assert!(
        allows(&mut conn, survivor, ConsentPurpose::DataSharing, Some(org))
            .await
            .unwrap()
    );
    let other_org = app.create_partner("Another org").await;
    assert!(
        !allows(&mut conn, survivor, ConsentPurpose::DataSharing, Some(other_org))
            .await
            .unwrap(),
        "only named recipients"
    );
    assert!(
        !allows(&mut conn, survivor, ConsentPurpose::Storytelling, None)
            .await
            .unwrap(),
        "only its purpose"
    );

    // Read on its own with its ETag; a withdrawal honours If-Match like every state change.
    let one = app
        .get(&format!("/api/v1/consents/{}", id(&consent)), &w.aftercare.token)
        .await;
    one.expect(200);
    assert_eq!(one.header("etag"), Some("\"1\""));
    assert_eq!(one.json()["id"], consent["id"]);
    let withdraw = |tag: &'static str| {
        TestRequest::post()
            .uri(&format!("/api/v1/consents/{}/withdraw", id(&consent)))
            .insert_header(("Authorization", format!("Bearer {}", w.aftercare.token)))
            .insert_header(("If-Match", tag))
            .set_json(json!({"reason": "guardian asked"}))
    };
    app.send(withdraw("\"2\"")).await.expect_problem(412, "stale_version");
    assert!(
        allows(&mut conn, survivor, ConsentPurpose::DataSharing, Some(org))
            .await
            .unwrap(),
        "a refused withdrawal changes nothing"
    );
    let withdrawn = app.send(withdraw("\"1\"")).await;
    withdrawn.expect(200);
    assert_eq!(withdrawn.header("etag"), Some("\"2\""));
    assert_eq!(withdrawn.json()["in_effect"], false);
    assert_eq!(
        app.get(&format!("/api/v1/consents/{}", id(&consent)), &w.aftercare.token)
            .await
            .json()["withdrawn_reason"],
        "guardian asked"
    );
    assert!(
        !allows(&mut conn, survivor, ConsentPurpose::DataSharing, Some(org))
            .await
            .unwrap(),
        "withdrawal is immediate"
    );
    app.post(
        &format!("/api/v1/consents/{}/withdraw", id(&consent)),
        &w.aftercare.token,
        json!({}),
    )
    .await
    .expect_problem(409, "already_withdrawn");
    app.post(
        &format!("/api/v1/consents/{}/withdraw", id(&consent)),
        &w.worker.token,
        json!({}),
    )
    .await
    .expect_problem(403, "forbidden");
}

#[actix_web::test]
async fn services_and_sessions() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/survivors/{}/services", id(&w.mine));
    for (body, field) in [
        (json!({"kind": "astrology"}), "kind"),
        (
            json!({"kind": "education", "start_on": days_ago(10), "end_on": days_ago(20)}),
            "end_on",
        ),
        (
            json!({"kind": "education", "cost": {"amount_minor": 10, "currency": "shillings"}}),
            "cost.currency",
        ),
    ] {
        let p = app
            .post(&path, &w.aftercare.token, body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(p["errors"][0]["field"], field);
    }
    assert_eq!(app.count("SELECT count(*) FROM survivor_services").await, 0);
    let school = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"kind": "education", "status": "active", "start_on": days_ago(100),
            "cost": {"amount_minor": 4500000, "currency": "KES"}, "notes": "A year of boarding school"}),
        )
        .await;
    school.expect(201);
    let school = school.json();
    assert_eq!(school["cost"]["amount_minor"], 4500000);
    let spath = format!("/api/v1/services/{}", id(&school));
    let r = app
        .patch(
            &spath,
            &w.aftercare.token,
            Some("\"1\""),
            json!({"end_on": days_ago(200)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "end_on"
    );
    app.patch(
        &spath,
        &w.aftercare.token,
        Some("\"1\""),
        json!({"status": "completed", "end_on": days_ago(1)}),
    )
    .await
    .expect(200);
    app.patch(&spath, &w.aftercare.token, Some("\"1\""), json!({"status": "active"}))
        .await
        .expect_problem(412, "stale_version");

    let sessions = format!("{spath}/sessions");
    app.post(
        &sessions,
        &w.aftercare.token,
        json!({"held_on": days_ago(3), "minutes": 60, "notes": "School visit"}),
    )
    .await
    .expect(201);
    app.post(&sessions, &w.aftercare.token, json!({"held_on": days_ago(-3)}))
        .await
        .expect(422);
    app.post(
        &sessions,
        &w.aftercare.token,
        json!({"held_on": days_ago(3), "minutes": 0}),
    )
    .await
    .expect(422);
    let list = app.get(&sessions, &w.aftercare.token).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    app.get(&sessions, &w.other_aftercare.token)
        .await
        .expect_problem(404, "not_found");
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn the_assessment_schedule_moves_past_a_skipped_one() {
    let w = world().await;
    let app = &w.app;
    let intake_on = haki::vocab::today() - Duration::days(800);
    let mut body = survivor_body("Amani", 13);
    body["intake_on"] = json!(intake_on);
    let s = app.post("/api/v1/survivors", &w.aftercare.token, body).await.json();
    let path = format!("/api/v1/survivors/{}", id(&s));
    let due = || async { app.get(&path, &w.aftercare.token).await.json()["next_assessment_due"].clone() };
    assert_eq!(due().await, json!(intake_on), "the intake assessment first");
    let assessments = format!("{path}/assessments");
    let assess = |kind: &'static str, on: chrono::NaiveDate| {
        app.post(
            &assessments,
            &w.aftercare.token,
            json!({"kind": kind, "assessed_on": on, "scores": scores(2.5)}),
        )
    };
    assess("intake", intake_on).await.expect(201);
    let six = intake_on.checked_add_months(Months::new(6)).unwrap();
    assert_eq!(due().await, json!(six));
    // The six-month assessment was skipped; the annual one was made a little late.
    let annual = intake_on.checked_add_months(Months::new(12)).unwrap() + Duration::days(20);
    assess("annual", annual).await.expect(201);
    assert_eq!(
        due().await,
        json!(intake_on.checked_add_months(Months::new(24)).unwrap()),
        "the next anniversary after the latest assessment, not the skipped six-month one"
    );

    // An intake assessment made four months late is still the intake one: the six-month one is due.
    let mut body = survivor_body("Baraka", 12);
    body["intake_on"] = json!(intake_on);
    let late = app.post("/api/v1/survivors", &w.aftercare.token, body).await.json();
    let late_path = format!("/api/v1/survivors/{}", id(&late));
    app.post(
        &format!("{late_path}/assessments"),
        &w.aftercare.token,
        json!({"kind": "intake", "assessed_on": intake_on.checked_add_months(Months::new(4)).unwrap(), "scores": scores(2.5)}),
    )
    .await
    .expect(201);
    assert_eq!(
        app.get(&late_path, &w.aftercare.token).await.json()["next_assessment_due"],
        json!(six)
    );
}

#[actix_web::test]
async fn assessments_closure_reopen_and_follow_up() {
    let w = world().await;
    let app = &w.app;
    let sid = id(&w.mine).to_string();
    let path = format!("/api/v1/survivors/{sid}/assessments");
    for (score, code) in [
        (json!(0), "range"),
        (json!(4.5), "range"),
        (json!(2.95), "whole_tenths"),
        (json!("high"), "invalid_type"),
    ] {
        let mut s = scores(3.0);
        s["safety"] = score;
        let p = app
            .post(
                &path,
                &w.aftercare.token,
                json!({"kind": "intake", "assessed_on": days_ago(150), "scores": s}),
            )
            .await;
        let p = p.expect_problem(422, "validation_failed");
        assert_eq!(
            (
                p["errors"][0]["field"].as_str().unwrap(),
                p["errors"][0]["code"].as_str().unwrap()
            ),
            ("scores.safety", code)
        );
    }
    let mut missing = scores(3.0);
    missing.as_object_mut().unwrap().remove("social_support");
    let p = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"kind": "intake", "assessed_on": days_ago(150), "scores": missing}),
        )
        .await;
    assert_eq!(
        p.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "scores.social_support"
    );
    assert_eq!(app.count("SELECT count(*) FROM assessments").await, 0);

    let intake = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"kind": "intake", "assessed_on": days_ago(150), "scores": scores(2.0)}),
        )
        .await;
    intake.expect(201);
    let intake = intake.json();
    assert_eq!(intake["overall"], 2.0);
    assert_eq!(intake["threshold_met"], false);
    let due = app
        .get(&format!("/api/v1/survivors/{sid}"), &w.aftercare.token)
        .await
        .json()["next_assessment_due"]
        .clone();
    let intake_on = haki::vocab::today() - Duration::days(200);
    let expected = intake_on.checked_add_months(Months::new(6)).unwrap();
    assert_eq!(due, expected.to_string(), "six months after intake");

    // Restored needs a threshold-meeting assessment from the last 90 days.
    let close = format!("/api/v1/survivors/{sid}/close");
    let r = app
        .post(
            &close,
            &w.aftercare.token,
            json!({"closed_on": days_ago(0), "reason": "restored"}),
        )
        .await;
    r.expect_problem(409, "restoration_threshold_unmet");
    let mut almost = scores(3.5);
    almost["mental_wellbeing"] = json!(2.9);
    let a = app
        .post(
            &path,
            &w.aftercare.token,
            json!({"kind": "six_month", "assessed_on": days_ago(20), "scores": almost}),
        )
        .await
        .json();
    assert_eq!(a["threshold_met"], false, "every domain must reach the threshold");
    assert_eq!(a["overall"], 3.4);
    let due = app
        .get(&format!("/api/v1/survivors/{sid}"), &w.aftercare.token)
        .await
        .json()["next_assessment_due"]
        .clone();
    assert_eq!(
        due,
        intake_on.checked_add_months(Months::new(12)).unwrap().to_string(),
        "then a year after intake"
    );
    app.post(
        &path,
        &w.aftercare.token,
        json!({"kind": "closure", "assessed_on": days_ago(100), "scores": scores(3.5)}),
    )
    .await
    .expect(201);
    app.post(
        &close,
        &w.aftercare.token,
        json!({"closed_on": days_ago(0), "reason": "restored"}),
    )
    .await
    .expect(409);
    app.post(
        &path,
        &w.aftercare.token,
        json!({"kind": "closure", "assessed_on": days_ago(10), "scores": scores(3.0)}),
    )
    .await
    .expect(201);
    let closed = app
        .post(
            &close,
            &w.pm.token,
            json!({"closed_on": days_ago(0), "reason": "restored"}),
        )
        .await;
    closed.expect(200);
    let closed = closed.json();
    assert_eq!(closed["restoration_status"], "closed");
    assert_eq!(closed["next_assessment_due"], Value::Null);
    app.post(
        &close,
        &w.aftercare.token,
        json!({"closed_on": days_ago(0), "reason": "other"}),
    )
    .await
    .expect_problem(409, "already_closed");

    // The follow-up is scheduled two years later.
    let two_years = haki::vocab::today().checked_add_months(Months::new(24)).unwrap();
    let all = app.get("/api/v1/follow-ups", &w.aftercare.token).await.json();
    assert_eq!(all["data"][0]["due_on"], two_years.to_string());
    assert_eq!(all["data"][0]["status"], "scheduled");
    assert!(
        app.get("/api/v1/follow-ups?status=due", &w.aftercare.token)
            .await
            .json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Move it into the due window, then past it.
    let mut conn = app.conn().await;
    let set_due =
        |days: i64| format!("UPDATE follow_ups SET due_on = current_date + {days} WHERE survivor_id = '{sid}'");
    diesel_async::RunQueryDsl::execute(diesel::sql_query(set_due(10)), &mut conn)
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/follow-ups?status=due", &w.aftercare.token)
            .await
            .json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    diesel_async::RunQueryDsl::execute(diesel::sql_query(set_due(-10)), &mut conn)
        .await
        .unwrap();
    let overdue = app
        .get("/api/v1/follow-ups?status=overdue", &w.aftercare.token)
        .await
        .json();
    assert_eq!(overdue["data"][0]["overdue"], true);
    assert!(
        app.get("/api/v1/follow-ups", &w.other_aftercare.token).await.json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.get("/api/v1/follow-ups", &w.analyst.token)
        .await
        .expect_problem(403, "forbidden");

    // Reopening keeps the history and cancels the pending follow-up.
    let reopened = app
        .post(
            &format!("/api/v1/survivors/{sid}/reopen"),
            &w.aftercare.token,
            json!({"reopened_on": days_ago(0), "reason": "New threats from the suspect's family"}),
        )
        .await;
    reopened.expect(200);
    assert_eq!(reopened.json()["restoration_status"], "active");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM survivor_closures WHERE survivor_id = '{sid}' AND reopened_on IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM follow_ups WHERE status = 'cancelled'")
            .await,
        1
    );
    app.post(
        &format!("/api/v1/survivors/{sid}/follow-ups"),
        &w.aftercare.token,
        json!({"conducted_on": days_ago(0), "outcome": "sustained"}),
    )
    .await
    .expect_problem(409, "not_closed");

    // Closed again. A contact the day after closure is not the follow-up two years later.
    app.post(
        &close,
        &w.pm.token,
        json!({"closed_on": days_ago(1), "reason": "relocated"}),
    )
    .await
    .expect(200);
    let early = app
        .post(
            &format!("/api/v1/survivors/{sid}/follow-ups"),
            &w.aftercare.token,
            json!({"conducted_on": days_ago(0), "outcome": "sustained"}),
        )
        .await;
    let early = early.expect_problem(422, "validation_failed");
    assert_eq!(early["errors"][0]["field"], "conducted_on");
    assert_eq!(early["errors"][0]["code"], "before_due");
    assert_eq!(
        app.count("SELECT count(*) FROM follow_ups WHERE status = 'scheduled'")
            .await,
        1,
        "still to be done"
    );
    // Within 60 days of its due date it can be recorded.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE follow_ups SET due_on = current_date + 60 WHERE survivor_id = '{sid}' AND status = 'scheduled'"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    let done = app
        .post(
            &format!("/api/v1/survivors/{sid}/follow-ups"),
            &w.aftercare.token,
            json!({"conducted_on": days_ago(0), "outcome": "sustained", "assessment_id": intake["id"]}),
        )
        .await;
    done.expect(201);
    assert_eq!(done.json()["status"], "done");
    let one = format!("/api/v1/follow-ups/{}", done.json()["id"].as_str().unwrap());
    assert_eq!(done.header("location"), Some(one.as_str()));
    let read = app.get(&one, &w.aftercare.token).await;
    read.expect(200);
    assert_eq!(read.json()["outcome"], "sustained");
    app.get(&one, &w.other_aftercare.token)
        .await
        .expect_problem(404, "not_found");
    assert_eq!(
        app.get(&format!("/api/v1/survivors/{sid}"), &w.aftercare.token)
            .await
            .json()["restoration_status"],
        "follow_up_done"
    );
    assert_eq!(
        app.get("/api/v1/follow-ups?status=done", &w.aftercare.token)
            .await
            .json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.assert_tallies_agree().await;
}

/// A case reported in January about an incident the December before, with one victim.
async fn year_boundary_case(app: &TestApp, pm: &TestUser, survivor: Value) -> (String, String) {
    let case = app
        .post(
            "/api/v1/cases",
            &pm.token,
            json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-01-05",
                   "incident_on": "2024-12-20"}),
        )
        .await
        .json();
    let link = app
        .post(
            &format!("/api/v1/cases/{}/survivors", id(&case)),
            &pm.token,
            json!({"survivor": survivor, "role": "victim_witness"}),
        )
        .await;
    link.expect(201);
    (
        id(&case).to_string(),
        link.json()["survivor"]["id"].as_str().unwrap().to_string(),
    )
}

#[actix_web::test]
async fn ages_known_only_at_intake_are_ranges_across_a_year_boundary() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let age_of = |survivor: String| {
        let app = &app;
        let token = pm.token.clone();
        async move { app.get(&format!("/api/v1/survivors/{survivor}"), &token).await.json() }
    };
    let flagged_with = |case: String, offence: &'static str| {
        let app = &app;
        let token = pm.token.clone();
        async move {
            let suspect = app
                .post(
                    &format!("/api/v1/cases/{case}/suspects"),
                    &token,
                    json!({"name": offence, "role": "customer", "relationship": "tourist"}),
                )
                .await
                .json();
            let charge = app
                .post(
                    &format!("/api/v1/suspects/{}/charges", id(&suspect)),
                    &token,
                    json!({"offence_code": offence, "filed_on": "2025-02-01"}),
                )
                .await;
            charge.expect(201);
            let flag =
                app.get(&format!("/api/v1/cases/{case}"), &token).await.json()["facts"]["flags"]["age_charge_mismatch"]
                    .clone();
            // Withdrawn, so the next charge is judged alone.
            app.patch(
                &format!("/api/v1/charges/{}", id(&charge.json())),
                &token,
                Some("*"),
                json!({"status": "withdrawn"}),
            )
            .await
            .expect(200);
            flag
        }
    };
    let intake = |age: i32| json!({"pseudonym": "P", "age_at_intake": age, "intake_on": "2025-01-10"});

    // Twelve at an intake in January: eleven or twelve at the incident the December before.
    let (case, survivor) = year_boundary_case(&app, &pm, intake(12)).await;
    let s = age_of(survivor).await;
    assert_eq!(s["cases"][0]["age_at_incident"], json!({"min": 11, "max": 12}));
    assert_eq!(s["child_at_incident"], true);
    assert_eq!(flagged_with(case.clone(), "soa-8-3").await, false, "s.8(3) fits twelve");
    assert_eq!(flagged_with(case.clone(), "soa-8-2").await, false, "s.8(2) fits eleven");
    assert_eq!(flagged_with(case, "soa-8-4").await, true, "s.8(4) is for 16–17");

    // Thirteen at intake: twelve or thirteen, so s.8(2) (eleven or less) is wrong.
    let (case, survivor) = year_boundary_case(&app, &pm, intake(13)).await;
    assert_eq!(
        age_of(survivor).await["cases"][0]["age_at_incident"],
        json!({"min": 12, "max": 13})
    );
    assert_eq!(
        flagged_with(case.clone(), "soa-8-2").await,
        true,
        "s.8(2) fits no age in 12–13"
    );
    assert_eq!(flagged_with(case, "soa-8-3").await, false);

    // Born in 2010: thirteen or fourteen on 20 December 2024.
    let (_, survivor) = year_boundary_case(
        &app,
        &pm,
        json!({"pseudonym": "B", "birth_year": 2010, "intake_on": "2025-01-10"}),
    )
    .await;
    assert_eq!(
        age_of(survivor).await["cases"][0]["age_at_incident"],
        json!({"min": 13, "max": 14})
    );

    // Eighteen at intake may have been seventeen at the incident: a child, for every rule.
    let (_, survivor) = year_boundary_case(&app, &pm, intake(18)).await;
    let s = age_of(survivor).await;
    assert_eq!(s["cases"][0]["age_at_incident"], json!({"min": 17, "max": 18}));
    assert_eq!(s["child_at_incident"], true);
}

#[actix_web::test]
async fn case_workers_see_only_their_cases_of_a_survivor_and_unassigning_ends_access() {
    let w = world().await;
    let app = &w.app;
    // Neema is also a witness in a second case the worker is not on.
    let other_case = app
        .post(
            "/api/v1/cases",
            &w.pm.token,
            json!({"county": "mombasa", "location_type": "hotel", "reported_on": days_ago(20)}),
        )
        .await
        .json();
    app.post(
        &format!("/api/v1/cases/{}/survivors", id(&other_case)),
        &w.pm.token,
        json!({"survivor_id": w.mine["id"], "role": "witness"}),
    )
    .await
    .expect(201);
    let by_pm = app
        .get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.pm.token)
        .await
        .json();
    assert_eq!(by_pm["cases"].as_array().unwrap().len(), 2);
    let by_worker = app
        .get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.worker.token)
        .await
        .json();
    let refs: Vec<&str> = by_worker["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(refs, [id(&w.case)], "the other case stays out of reach");
    let listed = app.get("/api/v1/survivors", &w.worker.token).await.json();
    assert_eq!(listed["data"][0]["cases"].as_array().unwrap().len(), 1);

    // Out-of-reach by-id routes of restoration answer 404.
    let service = app
        .post(
            &format!("/api/v1/survivors/{}/services", id(&w.mine)),
            &w.aftercare.token,
            json!({"kind": "medical"}),
        )
        .await
        .json();
    let consent = app
        .post(&format!("/api/v1/survivors/{}/consents", id(&w.mine)), &w.aftercare.token,
            json!({"purpose": "services", "given_by": "guardian", "guardian_relationship": "aunt", "child_assent": true, "given_on": days_ago(1)}))
        .await
        .json();
    app.patch(
        &format!("/api/v1/services/{}", id(&service)),
        &w.other_aftercare.token,
        Some("*"),
        json!({"status": "active"}),
    )
    .await
    .expect_problem(404, "not_found");
    app.get(
        &format!("/api/v1/services/{}/sessions", id(&service)),
        &w.other_aftercare.token,
    )
    .await
    .expect_problem(404, "not_found");
    for path in [
        format!("/api/v1/services/{}", id(&service)),
        format!("/api/v1/consents/{}", id(&consent)),
    ] {
        app.get(&path, &w.other_aftercare.token)
            .await
            .expect_problem(404, "not_found");
        app.get(&path, &w.worker.token).await.expect_problem(403, "forbidden");
        let mine = app.get(&path, &w.aftercare.token).await;
        mine.expect(200);
        assert_eq!(mine.header("etag"), Some("\"1\""), "{path}");
    }
    let created = app
        .post(
            &format!("/api/v1/survivors/{}/services", id(&w.mine)),
            &w.aftercare.token,
            json!({"kind": "education"}),
        )
        .await;
    let location = created.header("location").unwrap().to_string();
    assert_eq!(location, format!("/api/v1/services/{}", id(&created.json())));
    app.get(&location, &w.aftercare.token).await.expect(200);
    app.post(
        &format!("/api/v1/consents/{}/withdraw", id(&consent)),
        &w.other_aftercare.token,
        json!({}),
    )
    .await
    .expect_problem(404, "not_found");
    // Recipients must be partner organisations, and only for data sharing.
    let r = app
        .post(&format!("/api/v1/survivors/{}/consents", id(&w.mine)), &w.aftercare.token,
            json!({"purpose": "data_sharing", "given_by": "guardian", "guardian_relationship": "aunt", "child_assent": true,
                   "given_on": days_ago(1), "recipients": [uuid::Uuid::now_v7()]}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "unknown_partner"
    );

    // Ending the aftercare officer's assignment ends her access, identity included.
    let r = app
        .send(
            TestRequest::delete()
                .uri(&format!(
                    "/api/v1/survivors/{}/assignments/{}",
                    id(&w.mine),
                    w.aftercare.id
                ))
                .insert_header(bearer(&w.pm.token)),
        )
        .await;
    r.expect(204);
    app.get(&format!("/api/v1/survivors/{}", id(&w.mine)), &w.aftercare.token)
        .await
        .expect_problem(404, "not_found");
    app.get(
        &format!("/api/v1/survivors/{}/identity", id(&w.mine)),
        &w.aftercare.token,
    )
    .await
    .expect_problem(404, "not_found");
    assert_eq!(
        app.count("SELECT count(*) FROM survivor_assignments WHERE ended_at IS NOT NULL")
            .await,
        1
    );
}

#[actix_web::test]
async fn admins_read_everything_but_do_not_change_case_or_restoration_records() {
    let w = world().await;
    let app = &w.app;
    let (cid, sid) = (id(&w.case).to_string(), id(&w.mine).to_string());
    let admin = &w.admin.token;
    app.get(&format!("/api/v1/cases/{cid}"), admin).await.expect(200);
    app.post(
        "/api/v1/cases",
        admin,
        json!({"county": "lamu", "location_type": "street", "reported_on": days_ago(1)}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/cases/{cid}"),
        admin,
        Some("*"),
        json!({"risk_level": "low"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/cases/{cid}/events"),
        admin,
        json!({"kind": "note", "occurred_on": days_ago(1)}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/cases/{cid}/suspects"),
        admin,
        json!({"name": "S", "role": "agent", "relationship": "stranger"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/survivors/{sid}/services"),
        admin,
        json!({"kind": "medical"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/survivors/{sid}/close"),
        admin,
        json!({"closed_on": days_ago(0), "reason": "other"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let put = TestRequest::put()
        .uri(&format!("/api/v1/survivors/{sid}/identity"))
        .insert_header(bearer(admin))
        .set_json(json!({"legal_name": "X"}));
    app.send(put).await.expect_problem(403, "forbidden");
    // Every other kind of change to case or restoration records, in one sweep.
    let suspect = app
        .post(
            &format!("/api/v1/cases/{cid}/suspects"),
            &w.worker.token,
            json!({"name": "S", "role": "agent", "relationship": "stranger"}),
        )
        .await
        .json();
    let sus = id(&suspect).to_string();
    for (path, body) in [
        (
            format!("/api/v1/cases/{cid}/transitions"),
            json!({"to": "investigation", "occurred_on": days_ago(0)}),
        ),
        (
            format!("/api/v1/cases/{cid}/court-sessions"),
            json!({"court": "X", "scheduled_on": days_ago(-1), "purpose": "plea"}),
        ),
        (
            format!("/api/v1/suspects/{sus}/charges"),
            json!({"offence_code": "soa-15", "filed_on": days_ago(1)}),
        ),
        (
            format!("/api/v1/cases/{cid}/survivors"),
            json!({"survivor_id": w.theirs["id"]}),
        ),
        ("/api/v1/survivors".to_string(), survivor_body("X", 12)),
        (
            format!("/api/v1/survivors/{sid}/consents"),
            json!({"purpose": "services", "given_by": "guardian", "guardian_relationship": "aunt", "child_assent": true, "given_on": days_ago(1)}),
        ),
        (
            format!("/api/v1/survivors/{sid}/assessments"),
            json!({"kind": "intake", "assessed_on": days_ago(1), "scores": scores(2.0)}),
        ),
        (
            format!("/api/v1/survivors/{sid}/follow-ups"),
            json!({"conducted_on": days_ago(0), "outcome": "sustained"}),
        ),
        (
            format!("/api/v1/survivors/{sid}/reopen"),
            json!({"reopened_on": days_ago(0), "reason": "x"}),
        ),
    ] {
        let r = app.post(&path, admin, body).await;
        assert_eq!(r.status.as_u16(), 403, "admin POST {path}: {}", r.text());
    }
    app.patch(
        &format!("/api/v1/suspects/{sus}"),
        admin,
        Some("*"),
        json!({"notes": "x"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/survivors/{sid}"),
        admin,
        Some("*"),
        json!({"placement": "family"}),
    )
    .await
    .expect_problem(403, "forbidden");
    // Case workers do not run restoration either.
    app.post(
        &format!("/api/v1/survivors/{sid}/assessments"),
        &w.worker.token,
        json!({"kind": "intake", "assessed_on": days_ago(1), "scores": scores(2.0)}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(
        app.count("SELECT count(*) FROM charges").await + app.count("SELECT count(*) FROM assessments").await,
        0
    );

    // Program managers supervise: they may change cases and restoration, not identities.
    app.patch(
        &format!("/api/v1/cases/{cid}"),
        &w.pm.token,
        Some("*"),
        json!({"risk_level": "low"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/survivors/{sid}/services"),
        &w.pm.token,
        json!({"kind": "medical"}),
    )
    .await
    .expect(201);
    assert_eq!(app.count("SELECT count(*) FROM survivor_services").await, 1);
}

#[actix_web::test]
async fn stale_etags_are_refused_on_survivors_and_identities() {
    let w = world().await;
    let app = &w.app;
    let path = format!("/api/v1/survivors/{}", id(&w.mine));
    app.patch(&path, &w.aftercare.token, Some("\"7\""), json!({"placement": "family"}))
        .await
        .expect_problem(412, "stale_version");
    app.patch(&path, &w.aftercare.token, Some("\"1\""), json!({"placement": "family"}))
        .await
        .expect(200);
    let identity = format!("{path}/identity");
    let put = |tag: Option<&str>| {
        let mut req = TestRequest::put()
            .uri(&identity)
            .insert_header(bearer(&w.aftercare.token))
            .set_json(json!({"legal_name": "A B"}));
        if let Some(tag) = tag {
            req = req.insert_header(("If-Match", tag.to_string()));
        }
        req
    };
    app.send(put(None)).await.expect(200);
    app.send(put(Some("\"1\""))).await.expect(200);
    app.send(put(Some("\"1\""))).await.expect_problem(412, "stale_version");
    let close = format!("{path}/close");
    let req = TestRequest::post()
        .uri(&close)
        .insert_header(bearer(&w.aftercare.token))
        .insert_header(("If-Match", "\"1\""))
        .set_json(json!({"closed_on": days_ago(0), "reason": "other"}));
    app.send(req).await.expect_problem(412, "stale_version");
}

#[actix_web::test]
async fn an_aftercare_officers_closure_waits_for_a_program_managers_approval() {
    let w = world().await;
    let app = &w.app;
    let sid = id(&w.mine).to_string();
    let close = format!("/api/v1/survivors/{sid}/close");
    let survivor_status = || async {
        app.get(&format!("/api/v1/survivors/{sid}"), &w.pm.token).await.json()["restoration_status"].clone()
    };
    let pending = |token: String| async move {
        let r = app.get("/api/v1/approvals?status=pending", &token).await;
        r.expect(200);
        r.json()["data"].as_array().unwrap().len()
    };

    // The request: 202, the survivor stays active, the request is visible.
    let requested = app
        .post(
            &close,
            &w.aftercare.token,
            json!({"closed_on": days_ago(0), "reason": "other", "note": "Moved away"}),
        )
        .await;
    requested.expect(202);
    let location = requested.header("location").unwrap().to_string();
    let request = requested.json();
    assert_eq!(location, format!("/api/v1/approvals/{}", id(&request)));
    assert_eq!(request["status"], "pending");
    assert_eq!(request["requested_by"], w.aftercare.id.to_string());
    assert_eq!(survivor_status().await, "active");
    assert_eq!(pending(w.pm.token.clone()).await, 1);
    assert_eq!(pending(w.aftercare.token.clone()).await, 1, "her own survivor's");
    assert_eq!(pending(w.other_aftercare.token.clone()).await, 0);
    for user in [&w.worker, &w.analyst, &w.partner] {
        app.get("/api/v1/approvals", &user.token)
            .await
            .expect_problem(403, "forbidden");
    }
    app.get(&location, &w.other_aftercare.token)
        .await
        .expect_problem(404, "not_found");
    app.post(
        &close,
        &w.aftercare.token,
        json!({"closed_on": days_ago(0), "reason": "other"}),
    )
    .await
    .expect_problem(409, "approval_pending");

    // Only a program manager decides; a rejection needs a reason.
    let approve = format!("{location}/approve");
    let reject = format!("{location}/reject");
    for user in [&w.aftercare, &w.admin] {
        let r = app.post(&approve, &user.token, json!({})).await;
        assert_eq!(
            r.expect_problem(403, "forbidden")["extensions"]["permission"],
            "approve_closures"
        );
    }
    let r = app.post(&reject, &w.pm.token, json!({})).await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "reason"
    );
    let rejected = app
        .post(
            &reject,
            &w.pm.token,
            json!({"reason": "Her family has not been reached yet"}),
        )
        .await;
    rejected.expect(200);
    let rejected = rejected.json();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decided_by"], w.pm.id.to_string());
    assert!(rejected["decided_at"].is_string());
    assert_eq!(survivor_status().await, "active");
    app.post(&approve, &w.pm.token, json!({}))
        .await
        .expect_problem(409, "approval_decided");

    // Asked again and approved: the closure takes effect as requested.
    let again = app
        .post(
            &close,
            &w.aftercare.token,
            json!({"closed_on": days_ago(1), "reason": "relocated"}),
        )
        .await;
    again.expect(202);
    let again = again.header("location").unwrap().to_string();
    let approved = app.post(&format!("{again}/approve"), &w.pm.token, json!({})).await;
    approved.expect(200);
    assert_eq!(approved.json()["status"], "approved");
    let closed = app.get(&format!("/api/v1/survivors/{sid}"), &w.pm.token).await.json();
    assert_eq!(closed["restoration_status"], "closed");
    assert_eq!(closed["closure_reason"], "relocated");
    assert_eq!(closed["closed_on"], days_ago(1));
    assert_eq!(pending(w.pm.token.clone()).await, 0);
    // Who asked and who decided, and when, is kept and audited.
    for (action, actor) in [
        ("survivor.close_requested", &w.aftercare),
        ("approval.reject", &w.pm),
        ("approval.approve", &w.pm),
        ("survivor.close", &w.pm),
    ] {
        assert!(
            app.count(&format!(
                "SELECT count(*) FROM audit_log WHERE action = '{action}' AND actor_id = '{}' AND resource_id = '{sid}'",
                actor.id
            ))
            .await
                >= 1,
            "{action}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM survivor_closures WHERE survivor_id = '{sid}' AND closed_by = '{}'",
            w.aftercare.id
        ))
        .await,
        1,
        "the closure is hers, approved by the manager"
    );

    // Reopened, asked again, then closed by the manager directly: the request is superseded.
    app.post(
        &format!("/api/v1/survivors/{sid}/reopen"),
        &w.pm.token,
        json!({"reopened_on": days_ago(0), "reason": "She came back to the programme"}),
    )
    .await
    .expect(200);
    let third = app
        .post(
            &close,
            &w.aftercare.token,
            json!({"closed_on": days_ago(0), "reason": "other"}),
        )
        .await;
    third.expect(202);
    let third = third.header("location").unwrap().to_string();
    app.post(
        &close,
        &w.pm.token,
        json!({"closed_on": days_ago(0), "reason": "relocated"}),
    )
    .await
    .expect(200);
    let superseded = app.get(&third, &w.pm.token).await.json();
    assert_eq!(superseded["status"], "rejected");
    assert!(
        superseded["decision_reason"]
            .as_str()
            .unwrap()
            .starts_with("Superseded")
    );
    app.post(&format!("{third}/approve"), &w.pm.token, json!({}))
        .await
        .expect_problem(409, "approval_decided");

    // A program manager's own closure takes effect at once.
    let theirs = format!("/api/v1/survivors/{}/close", id(&w.theirs));
    let direct = app
        .post(
            &theirs,
            &w.pm.token,
            json!({"closed_on": days_ago(0), "reason": "other"}),
        )
        .await;
    direct.expect(200);
    assert_eq!(direct.json()["restoration_status"], "closed");
    app.assert_tallies_agree().await;
}

/// `haki reencrypt-identities` after a rotation of HAKI_DATA_KEY: every identity is sealed under
/// the new key, and a service holding only the new key reads it back; a second run has nothing
/// to do.
#[actix_web::test]
async fn reencrypt_identities_moves_every_identity_to_the_new_key() {
    use base64::Engine;
    let w = world().await;
    let app = &w.app;
    let sid = id(&w.mine).to_string();
    app.send(
        TestRequest::put()
            .uri(&format!("/api/v1/survivors/{sid}/identity"))
            .insert_header(bearer(&w.aftercare.token))
            .insert_header(("If-Match", "*"))
            .set_json(
                json!({"legal_name": LEGAL_NAME, "guardian_name": "Mama Wanjiru", "guardian_relationship": "mother"}),
            ),
    )
    .await
    .expect(200);
    let new = [5u8; 32];
    let b64 = |k: &[u8; 32]| base64::engine::general_purpose::STANDARD.encode(k);
    let config = &app.state.config;
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_haki"))
            .arg("reencrypt-identities")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &config.database_url)
            .env("HAKI_JWT_SECRET", String::from_utf8(config.jwt_secret.clone()).unwrap())
            .env("HAKI_DATA_KEY", b64(&new))
            .env("HAKI_DATA_KEYS_PREVIOUS", b64(&config.data_key))
            .env("HAKI_DOCUMENT_STORE", &config.document_store)
            .output()
            .expect("run haki");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run().starts_with("re-encrypted 1 identities"));
    assert!(run().starts_with("re-encrypted 0 identities"));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'identities.reencrypt'")
            .await,
        2
    );

    let restarted = app
        .restarted(|c| {
            c.data_key = new;
            c.data_keys_previous = Vec::new();
        })
        .await;
    let r = restarted
        .get(&format!("/api/v1/survivors/{sid}/identity"), &w.aftercare.token)
        .await;
    r.expect(200);
    assert_eq!(r.json()["identity"]["legal_name"], LEGAL_NAME);
}
