//! Cases: creation and references, need-to-know, stages, timeline, team, derived facts, lists,
//! audit; suspects, charges, the offence catalogue and court sessions.

mod common;

use chrono::Duration;
use common::{TestApp, TestUser};
use haki::auth::Role;
use serde_json::{Value, json};

fn days_ago(n: i64) -> String {
    (haki::vocab::today() - Duration::days(n)).to_string()
}

fn case_body(county: &str, reported_days_ago: i64) -> Value {
    json!({
        "county": county,
        "location_type": "villa_short_term_rental",
        "exploitation_types": ["sexual_exploitation_in_prostitution"],
        "reported_on": days_ago(reported_days_ago),
        "incident_on": days_ago(reported_days_ago + 3),
        "referral_source": "community_justice_centre",
        "risk_level": "high",
        "summary": "Girl (pseudonym Amani) lured with the promise of school fees."
    })
}

async fn create_case(app: &TestApp, user: &TestUser, county: &str, reported_days_ago: i64) -> Value {
    let r = app
        .post("/api/v1/cases", &user.token, case_body(county, reported_days_ago))
        .await;
    r.expect(201);
    r.json()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn transition(app: &TestApp, user: &TestUser, case: &str, body: Value) -> common::Resp {
    app.post(&format!("/api/v1/cases/{case}/transitions"), &user.token, body)
        .await
}

#[actix_web::test]
async fn creating_a_case_assigns_a_reference_and_the_creator() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let year = (haki::vocab::today() - Duration::days(10)).format("%Y").to_string();
    let r = app.post("/api/v1/cases", &worker.token, case_body("mombasa", 10)).await;
    r.expect(201);
    let case = r.json();
    assert_eq!(case["reference"], format!("CSEC-MSA-{year}-0001"));
    assert_eq!(case["stage"], "reported");
    assert_eq!(case["version"], 1);
    assert_eq!(case["facts"]["stalled"], false);
    assert_eq!(case["facts"]["flags"]["ctip_gap"], false);
    assert_eq!(r.header("location").unwrap(), format!("/api/v1/cases/{}", id(&case)));
    assert_eq!(r.header("etag"), Some("\"1\""));

    let second = create_case(&app, &worker, "mombasa", 10).await;
    assert_eq!(second["reference"], format!("CSEC-MSA-{year}-0002"));
    let kilifi = create_case(&app, &worker, "kilifi", 10).await;
    assert_eq!(kilifi["reference"], format!("CSEC-KLF-{year}-0001"));

    // The creator is on the team and sees the case; the timeline starts with the report.
    let team = app
        .get(&format!("/api/v1/cases/{}/assignments", id(&case)), &worker.token)
        .await
        .json();
    assert_eq!(team["data"][0]["user_id"], worker.id.to_string());
    assert_eq!(team["data"][0]["role"], "lead_investigator");
    assert_eq!(team["data"][0]["assignee"]["role"], "case_worker");
    assert!(team["data"][0]["assignee"]["display_name"].is_string());
    assert_eq!(team["next_cursor"], Value::Null);
    let events = app
        .get(&format!("/api/v1/cases/{}/events", id(&case)), &worker.token)
        .await
        .json();
    assert_eq!(events["data"][0]["kind"], "stage_change");
    assert_eq!(events["data"][0]["stage_to"], "reported");
}

#[actix_web::test]
async fn concurrent_creations_get_distinct_references() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let (a, b, c, d) = futures_util::join!(
        app.post("/api/v1/cases", &pm.token, case_body("kwale", 5)),
        app.post("/api/v1/cases", &pm.token, case_body("kwale", 5)),
        app.post("/api/v1/cases", &pm.token, case_body("kwale", 5)),
        app.post("/api/v1/cases", &pm.token, case_body("kwale", 5)),
    );
    let mut refs: Vec<String> = [a, b, c, d]
        .iter()
        .map(|r| {
            r.expect(201);
            r.json()["reference"].as_str().unwrap().to_string()
        })
        .collect();
    refs.sort();
    refs.dedup();
    assert_eq!(refs.len(), 4);
    assert!(refs[3].ends_with("-0004"), "{refs:?}");
}

#[actix_web::test]
async fn bad_case_input_names_the_field_and_writes_nothing() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let with = |field: &str, value: Value| {
        let mut body = case_body("kwale", 10);
        body[field] = value;
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with("county", json!("atlantis")), "county", "unknown_variant"),
        (
            with("location_type", json!("castle")),
            "location_type",
            "unknown_variant",
        ),
        (with("risk_level", json!(3)), "risk_level", "invalid_type"),
        (
            with("exploitation_types", json!(["smuggling"])),
            "exploitation_types[0]",
            "unknown_variant",
        ),
        (with("reported_on", json!("2024-02-30")), "reported_on", "invalid"),
        (with("reported_on", json!(days_ago(-3))), "reported_on", "in_future"),
        (with("incident_on", json!(days_ago(2))), "incident_on", "after_report"),
        (with("sub_county", json!("nyali")), "sub_county", "unknown_sub_county"),
        (with("summary", json!("abc\u{0}def")), "summary", "nul_byte"),
        (with("summary", json!("x".repeat(4001))), "summary", "length"),
        (
            with("referral_partner_id", json!(uuid::Uuid::now_v7())),
            "",
            "invalid_reference",
        ),
    ];
    for (body, field, code) in cases {
        let r = app.post("/api/v1/cases", &worker.token, body).await;
        if code == "invalid_reference" {
            r.expect_problem(422, "invalid_reference");
            continue;
        }
        let problem = r.expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    // A known sub-county is fine.
    let ok = app
        .post("/api/v1/cases", &worker.token, with("sub_county", json!("msambweni")))
        .await;
    ok.expect(201);
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM case_assignments").await, 1);
}

#[actix_web::test]
async fn need_to_know_each_role_against_assigned_and_unassigned_cases() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let admin = app.admin().await;
    let assigned_worker = app.create_user(Role::CaseWorker, None).await;
    let other_worker = app.create_user(Role::CaseWorker, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let org = app.create_partner("Partner org").await;
    let partner = app.create_user(Role::Partner, Some(org)).await;

    let mine = create_case(&app, &pm, "mombasa", 20).await;
    let theirs = create_case(&app, &pm, "kwale", 20).await;
    app.post(
        &format!("/api/v1/cases/{}/assignments", id(&mine)),
        &pm.token,
        json!({"user_id": assigned_worker.id, "role": "investigator"}),
    )
    .await
    .expect(201);

    let list_ids = |v: Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let parts = ["", "/events", "/suspects", "/court-sessions", "/assignments"];

    for user in [&pm, &admin] {
        let seen = list_ids(app.get("/api/v1/cases", &user.token).await.json());
        assert_eq!(seen.len(), 2);
        for case in [&mine, &theirs] {
            for part in parts {
                app.get(&format!("/api/v1/cases/{}{part}", id(case)), &user.token)
                    .await
                    .expect(200);
            }
        }
    }

    let seen = list_ids(app.get("/api/v1/cases", &assigned_worker.token).await.json());
    assert_eq!(seen, [id(&mine)]);
    for part in parts {
        app.get(&format!("/api/v1/cases/{}{part}", id(&mine)), &assigned_worker.token)
            .await
            .expect(200);
        app.get(&format!("/api/v1/cases/{}{part}", id(&theirs)), &assigned_worker.token)
            .await
            .expect_problem(404, "not_found");
    }
    app.patch(
        &format!("/api/v1/cases/{}", id(&theirs)),
        &assigned_worker.token,
        Some("*"),
        json!({"risk_level": "low"}),
    )
    .await
    .expect_problem(404, "not_found");
    app.post(
        &format!("/api/v1/cases/{}/events", id(&theirs)),
        &assigned_worker.token,
        json!({"kind": "note", "occurred_on": days_ago(0)}),
    )
    .await
    .expect_problem(404, "not_found");

    assert!(list_ids(app.get("/api/v1/cases", &other_worker.token).await.json()).is_empty());
    for case in [&mine, &theirs] {
        app.get(&format!("/api/v1/cases/{}", id(case)), &other_worker.token)
            .await
            .expect_problem(404, "not_found");
    }

    for user in [&aftercare, &analyst, &partner] {
        app.get("/api/v1/cases", &user.token)
            .await
            .expect_problem(403, "forbidden");
        app.post("/api/v1/cases", &user.token, case_body("mombasa", 1))
            .await
            .expect_problem(403, "forbidden");
        for case in [&mine, &theirs] {
            for part in parts {
                app.get(&format!("/api/v1/cases/{}{part}", id(case)), &user.token)
                    .await
                    .expect_problem(404, "not_found");
            }
        }
    }

    // Unassigning takes the case out of reach at once; the assignment stays in history.
    let r = app.send(
        actix_web::test::TestRequest::delete()
            .uri(&format!(
                "/api/v1/cases/{}/assignments/{}",
                id(&mine),
                assigned_worker.id
            ))
            .insert_header(common::bearer(&pm.token)),
    );
    r.await.expect(204);
    app.get(&format!("/api/v1/cases/{}", id(&mine)), &assigned_worker.token)
        .await
        .expect(404);
    assert_eq!(
        app.count("SELECT count(*) FROM case_assignments WHERE ended_at IS NOT NULL")
            .await,
        1
    );

    // Only program managers and admins manage the team.
    app.post(
        &format!("/api/v1/cases/{}/assignments", id(&mine)),
        &admin.token,
        json!({"user_id": other_worker.id, "role": "investigator"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/cases/{}/assignments", id(&mine)),
        &other_worker.token,
        json!({"user_id": assigned_worker.id, "role": "investigator"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/cases/{}/assignments", id(&mine)),
        &pm.token,
        json!({"user_id": other_worker.id, "role": "attorney"}),
    )
    .await
    .expect_problem(409, "already_assigned");
    let r = app
        .post(
            &format!("/api/v1/cases/{}/assignments", id(&mine)),
            &pm.token,
            json!({"user_id": analyst.id, "role": "other"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "not_assignable"
    );
}

#[actix_web::test]
async fn the_stage_machine_refuses_what_it_does_not_allow() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "mombasa", 200).await;
    let cid = id(&case).to_string();
    let today = days_ago(0);

    // Every move the machine does not allow from `reported`, with the allowed ones in the answer.
    for to in ["reported", "suspect_arrested", "charged", "trial", "judgment", "appeal"] {
        let r = transition(&app, &worker, &cid, json!({"to": to, "occurred_on": today})).await;
        let p = r.expect_problem(409, "invalid_transition");
        assert_eq!(p["extensions"]["allowed"], json!(["investigation", "closed"]), "{to}");
    }
    // Unknown stage, date in the future, before the report.
    transition(&app, &worker, &cid, json!({"to": "limbo", "occurred_on": today}))
        .await
        .expect_problem(422, "validation_failed");
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "investigation", "occurred_on": days_ago(-1)}),
    )
    .await
    .expect(422);
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "investigation", "occurred_on": days_ago(300)}),
    )
    .await
    .expect(422);

    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "investigation", "occurred_on": days_ago(150), "note": "Reported to DCI"}),
    )
    .await
    .expect(200);
    // Requirements: an arrested suspect, a filed charge.
    let r = transition(
        &app,
        &worker,
        &cid,
        json!({"to": "suspect_arrested", "occurred_on": today}),
    )
    .await;
    r.expect_problem(409, "requirement_unmet");
    let r = transition(&app, &worker, &cid, json!({"to": "charged", "occurred_on": today})).await;
    r.expect_problem(409, "requirement_unmet");
    let version_before = app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["version"].clone();

    let suspect = app
        .post(
            &format!("/api/v1/cases/{cid}/suspects"),
            &worker.token,
            json!({"name": "Suspect A", "role": "customer", "relationship": "tourist", "nationality": "DE",
                   "status": "arrested", "arrested_on": days_ago(40)}),
        )
        .await;
    suspect.expect(201);
    let suspect = suspect.json();
    assert_eq!(suspect["foreign"], true);
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "suspect_arrested", "occurred_on": days_ago(40)}),
    )
    .await
    .expect(200);
    let charge = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&suspect)),
            &worker.token,
            json!({"offence_code": "soa-8-3", "filed_on": days_ago(35), "court_file_number": "MSA SO 12/2024"}),
        )
        .await;
    charge.expect(201);
    let charge = charge.json();
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "charged", "occurred_on": days_ago(35)}),
    )
    .await
    .expect(200);
    transition(&app, &worker, &cid, json!({"to": "trial", "occurred_on": days_ago(30)}))
        .await
        .expect(200);
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "judgment", "occurred_on": days_ago(1)}),
    )
    .await
    .expect(200);

    // Closing: a reason, and a program manager or admin.
    transition(
        &app,
        &worker,
        &cid,
        json!({"to": "closed", "occurred_on": today, "closure_reason": "convicted"}),
    )
    .await
    .expect_problem(403, "forbidden");
    let r = transition(&app, &pm, &cid, json!({"to": "closed", "occurred_on": today})).await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "closure_reason"
    );
    // A move is not dated before the previous one (judgment, yesterday).
    let r = transition(
        &app,
        &pm,
        &cid,
        json!({"to": "closed", "occurred_on": days_ago(2), "closure_reason": "other"}),
    )
    .await;
    let r = r.expect_problem(422, "validation_failed");
    assert_eq!(r["errors"][0]["field"], "occurred_on");
    assert_eq!(r["errors"][0]["code"], "before_previous_stage");
    // The closure reason tells the truth about the verdicts: the charge is still undecided.
    for reason in ["convicted", "acquitted"] {
        transition(
            &app,
            &pm,
            &cid,
            json!({"to": "closed", "occurred_on": today, "closure_reason": reason}),
        )
        .await
        .expect_problem(409, "requirement_unmet");
    }
    app.patch(
        &format!("/api/v1/charges/{}", id(&charge)),
        &worker.token,
        Some("*"),
        json!({"status": "acquitted", "decided_on": days_ago(1)}),
    )
    .await
    .expect(200);
    transition(
        &app,
        &pm,
        &cid,
        json!({"to": "closed", "occurred_on": today, "closure_reason": "convicted"}),
    )
    .await
    .expect_problem(409, "requirement_unmet");
    app.patch(
        &format!("/api/v1/charges/{}", id(&charge)),
        &worker.token,
        Some("*"),
        json!({"status": "convicted", "decided_on": days_ago(1), "sentence_years": 20}),
    )
    .await
    .expect(200);
    for reason in ["acquitted", "withdrawn", "insufficient_evidence"] {
        transition(
            &app,
            &pm,
            &cid,
            json!({"to": "closed", "occurred_on": today, "closure_reason": reason}),
        )
        .await
        .expect_problem(409, "requirement_unmet");
    }
    let closed = transition(
        &app,
        &pm,
        &cid,
        json!({"to": "closed", "occurred_on": today, "closure_reason": "convicted"}),
    )
    .await;
    closed.expect(200);
    let closed = closed.json();
    assert_eq!(closed["stage"], "closed");
    assert_eq!(closed["closure_reason"], "convicted");
    assert_eq!(closed["closed_on"], today);
    transition(&app, &pm, &cid, json!({"to": "investigation", "occurred_on": today}))
        .await
        .expect_problem(409, "invalid_transition");

    // Refused moves changed nothing; each accepted one wrote exactly one stage_change event.
    assert!(version_before.as_i64().unwrap() >= 2);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM case_events WHERE case_id = '{cid}' AND kind = 'stage_change'"
        ))
        .await,
        7
    );
    let timeline = app
        .get(&format!("/api/v1/cases/{cid}/events?limit=200"), &pm.token)
        .await
        .json();
    let kinds: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"arrest") && kinds.contains(&"charge_filed"),
        "{kinds:?}"
    );
    assert_eq!(timeline["data"][0]["stage_to"], "closed", "latest first");
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn concurrent_patches_with_one_if_match_exactly_one_wins() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "kilifi", 3).await;
    let path = format!("/api/v1/cases/{}", id(&case));
    let (a, b) = futures_util::join!(
        app.patch(&path, &worker.token, Some("\"1\""), json!({"risk_level": "critical"})),
        app.patch(&path, &worker.token, Some("\"1\""), json!({"risk_level": "low"})),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let now = app.get(&path, &worker.token).await;
    assert_eq!(now.json()["version"], 2);
    assert_eq!(now.header("etag"), Some("\"2\""));
    let same = app.patch(&path, &worker.token, Some("\"2\""), json!({})).await;
    same.expect(200);
    assert_eq!(same.header("etag"), Some("\"2\""), "PATCH {{}} changes nothing");
    assert_eq!(same.json()["updated_at"], now.json()["updated_at"]);

    // PATCH validates like POST and keeps the rules across stored and new values.
    let r = app
        .patch(&path, &worker.token, Some("*"), json!({"incident_on": days_ago(0)}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "incident_on"
    );
    let r = app
        .patch(&path, &worker.token, Some("*"), json!({"stage": "closed"}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "unknown_field"
    );
    let r = app
        .patch(&path, &worker.token, Some("*"), json!({"sub_county": "likoni"}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "sub_county"
    );
    app.patch(
        &path,
        &worker.token,
        Some("*"),
        json!({"sub_county": "malindi", "summary": null}),
    )
    .await
    .expect(200);
}

#[actix_web::test]
async fn derived_facts_and_flags() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    // Reported 150 days ago; the caregiver who sold the child is arrested 5 months later.
    let case = create_case(&app, &worker, "kwale", 150).await;
    let cid = id(&case).to_string();
    assert_eq!(case["facts"]["stalled"], true, "nothing happened for 150 days");
    let caregiver = app
        .post(
            &format!("/api/v1/cases/{cid}/suspects"),
            &worker.token,
            json!({"name": "Aunt of the child", "role": "recruiter", "relationship": "caregiver", "nationality": "KE"}),
        )
        .await
        .json();
    assert_eq!(caregiver["foreign"], false);
    let facts = app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["facts"].clone();
    assert_eq!(facts["flags"]["ctip_gap"], true);
    assert_eq!(facts["days_to_first_arrest"], Value::Null);

    app.patch(
        &format!("/api/v1/suspects/{}", id(&caregiver)),
        &worker.token,
        Some("\"1\""),
        json!({"status": "arrested", "arrested_on": days_ago(0)}),
    )
    .await
    .expect(200);
    // A charge under the Sexual Offences Act alone leaves the CTIP gap open.
    app.post(
        &format!("/api/v1/suspects/{}/charges", id(&caregiver)),
        &worker.token,
        json!({"offence_code": "soa-15", "filed_on": days_ago(0)}),
    )
    .await
    .expect(201);
    let facts = app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["facts"].clone();
    assert_eq!(facts["days_to_first_arrest"], 150);
    assert_eq!(facts["days_to_first_charge"], 150);
    assert_eq!(facts["stalled"], false, "the arrest is activity");
    assert_eq!(facts["flags"]["ctip_gap"], true);
    let flagged = app.get("/api/v1/cases?flag=ctip_gap", &worker.token).await.json();
    assert_eq!(flagged["data"].as_array().unwrap().len(), 1);

    let ctip = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&caregiver)),
            &worker.token,
            json!({"offence_code": "ctip-3-5", "filed_on": days_ago(0)}),
        )
        .await
        .json();
    assert_eq!(
        app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["facts"]["flags"]["ctip_gap"],
        false
    );
    assert!(
        app.get("/api/v1/cases?flag=ctip_gap", &worker.token).await.json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Withdrawing the CTIP charge reopens the gap.
    app.patch(
        &format!("/api/v1/charges/{}", id(&ctip)),
        &worker.token,
        Some("*"),
        json!({"status": "withdrawn"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["facts"]["flags"]["ctip_gap"],
        true
    );

    // Court sessions: held, adjourned, next date.
    let sessions = format!("/api/v1/cases/{cid}/court-sessions");
    app.post(
        &sessions,
        &worker.token,
        json!({"court": "Kwale Law Courts", "scheduled_on": days_ago(0), "purpose": "plea", "status": "held"}),
    )
    .await
    .expect(201);
    for _ in 0..2 {
        app.post(
            &sessions,
            &worker.token,
            json!({"court": "Kwale Law Courts", "scheduled_on": days_ago(0), "purpose": "hearing",
                   "status": "adjourned", "adjournment_reason": "prosecution_not_ready"}),
        )
        .await
        .expect(201);
    }
    app.post(&sessions, &worker.token, json!({"court": "Kwale Law Courts", "scheduled_on": days_ago(-14), "purpose": "survivor_testimony",
        "survivor_accompanied": true, "intermediary_used": true, "support_cost": {"amount_minor": 250000, "currency": "KES"}}))
        .await
        .expect(201);
    let facts = app.get(&format!("/api/v1/cases/{cid}"), &worker.token).await.json()["facts"].clone();
    assert_eq!(facts["court_sessions_held"], 1);
    assert_eq!(facts["court_sessions_adjourned"], 2);
    assert_eq!(facts["next_court_date"], days_ago(-14));

    // A fresh case with recent activity is not stalled; the filter tells them apart.
    create_case(&app, &worker, "kwale", 1).await;
    let old = create_case(&app, &worker, "kwale", 90).await;
    let stalled = app.get("/api/v1/cases?stalled=true", &worker.token).await.json();
    let ids: Vec<&str> = stalled["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id(&old)]);
    let also = app.get("/api/v1/cases?flag=stalled", &worker.token).await.json();
    assert_eq!(also["data"].as_array().unwrap().len(), 1);
    let moving = app.get("/api/v1/cases?stalled=false", &worker.token).await.json();
    assert_eq!(moving["data"].as_array().unwrap().len(), 2);
    let contradiction = app
        .get("/api/v1/cases?stalled=false&flag=stalled", &worker.token)
        .await
        .json();
    assert!(contradiction["data"].as_array().unwrap().is_empty());
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn list_filters_search_and_pagination() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let mut refs = Vec::new();
    for (county, days) in [
        ("mombasa", 10),
        ("mombasa", 40),
        ("kilifi", 10),
        ("kwale", 100),
        ("kilifi", 5),
    ] {
        refs.push(create_case(&app, &pm, county, days).await);
    }
    let mine = create_case(&app, &worker, "lamu", 2).await;
    app.patch(
        &format!("/api/v1/cases/{}", id(&refs[0])),
        &pm.token,
        Some("*"),
        json!({"risk_level": "critical", "summary": "Hotel in Nyali; agent called Baraka"}),
    )
    .await
    .expect(200);
    transition(
        &app,
        &pm,
        id(&refs[1]),
        json!({"to": "investigation", "occurred_on": days_ago(1)}),
    )
    .await
    .expect(200);

    let count = |q: &str| {
        let app = &app;
        let token = pm.token.clone();
        let q = q.to_string();
        async move {
            let r = app.get(&format!("/api/v1/cases?{q}"), &token).await;
            r.expect(200);
            r.json()["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("").await, 6);
    assert_eq!(count("county=mombasa").await, 2);
    assert_eq!(count("county=kilifi&risk_level=high").await, 2);
    assert_eq!(count("risk_level=critical").await, 1);
    assert_eq!(count("stage=investigation").await, 1);
    assert_eq!(
        count(&format!("reported_from={}&reported_to={}", days_ago(12), days_ago(4))).await,
        3
    );
    assert_eq!(count("q=baraka").await, 1);
    assert_eq!(count("q=100%25").await, 0, "LIKE wildcards are literal");
    assert_eq!(count(&format!("q={}", refs[3]["reference"].as_str().unwrap())).await, 1);
    assert_eq!(count(&format!("assigned_to={}", worker.id)).await, 1);
    let mine_only = app.get("/api/v1/cases?assigned_to=me", &worker.token).await.json();
    assert_eq!(mine_only["data"][0]["id"], mine["id"]);
    app.get("/api/v1/cases?assigned_to=someone", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/cases?flag=weird", &pm.token)
        .await
        .expect_problem(400, "invalid_query");

    // Newest first, pages that do not overlap.
    let first = app.get("/api/v1/cases?limit=4", &pm.token).await.json();
    assert_eq!(first["data"][0]["id"], mine["id"]);
    let next = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/cases?limit=4&cursor={next}"), &pm.token)
        .await
        .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["data"][1]["id"], refs[0]["id"]);

    // Every order, read two at a time, gives each case once, in order, ties by creation.
    let walk = |sort: &'static str| {
        let app = &app;
        let token = pm.token.clone();
        async move {
            let mut seen: Vec<Value> = Vec::new();
            let mut cursor = String::new();
            loop {
                let r = app
                    .get(&format!("/api/v1/cases?sort={sort}&limit=2{cursor}"), &token)
                    .await;
                r.expect(200);
                let page = r.json();
                seen.extend(page["data"].as_array().unwrap().iter().cloned());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            seen
        }
    };
    for (sort, field, descending) in [
        ("reported_on", "reported_on", false),
        ("-reported_on", "reported_on", true),
        ("last_activity_on", "last_activity_on", false),
        ("-last_activity_on", "last_activity_on", true),
        ("reference", "reference", false),
        ("-reference", "reference", true),
    ] {
        let seen = walk(sort).await;
        assert_eq!(seen.len(), 6, "{sort}");
        let mut ids: Vec<&str> = seen.iter().map(|c| c["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6, "{sort}: each case once");
        let keys: Vec<String> = seen
            .iter()
            .map(|c| c.get(field).unwrap_or(&c["facts"][field]).as_str().unwrap().to_string())
            .collect();
        let mut expected = keys.clone();
        expected.sort();
        if descending {
            expected.reverse();
        }
        assert_eq!(keys, expected, "{sort}");
    }
    let oldest = walk("created").await;
    assert_eq!(oldest[0]["id"], refs[0]["id"]);
    assert_eq!(oldest[5]["id"], mine["id"]);
    // A cursor belongs to its order; an unknown order is named.
    let by_ref = app.get("/api/v1/cases?sort=reference&limit=2", &pm.token).await.json();
    let c = by_ref["next_cursor"].as_str().unwrap();
    app.get(
        &format!("/api/v1/cases?sort=-reported_on&limit=2&cursor={c}"),
        &pm.token,
    )
    .await
    .expect_problem(400, "invalid_cursor");
    let r = app.get("/api/v1/cases?sort=risk", &pm.token).await;
    assert_eq!(r.expect_problem(400, "invalid_query")["errors"][0]["field"], "sort");
}

/// Reads at once share their audit inserts (one statement per batch): every read is still
/// answered only once its own entry is written, each entry naming its own request.
#[actix_web::test]
async fn concurrent_reads_are_each_audited_before_they_are_answered() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "kilifi", 2).await;
    let cid = id(&case).to_string();
    let reads = (0..40).map(|i| {
        let (app, cid) = (&app, &cid);
        let token = if i % 2 == 0 { &worker.token } else { &pm.token };
        async move {
            let path = if i % 4 == 3 {
                "/api/v1/cases?limit=5".to_string()
            } else {
                format!("/api/v1/cases/{cid}")
            };
            let r = app.get(&path, token).await;
            r.expect(200);
            let request_id = r.header("x-request-id").unwrap().to_string();
            // Answered: its entry is there already.
            let n = app
                .count(&format!(
                    "SELECT count(*) FROM audit_log WHERE request_id = '{request_id}' AND resource_id = '{cid}'"
                ))
                .await;
            assert_eq!(n, 1, "read {i} answered before its entry was written");
        }
    });
    futures_util::future::join_all(reads).await;
    let by_action =
        |action: &str| format!("SELECT count(*) FROM audit_log WHERE action = '{action}' AND resource_id = '{cid}'");
    assert_eq!(app.count(&by_action("case.read")).await, 30);
    assert_eq!(app.count(&by_action("case.list")).await, 10);
    // A read that is refused writes nothing.
    let other = app.create_user(Role::CaseWorker, None).await;
    app.get(&format!("/api/v1/cases/{cid}"), &other.token)
        .await
        .expect_problem(404, "not_found");
    assert_eq!(app.count(&by_action("case.read")).await, 30);
}

#[actix_web::test]
async fn reads_and_writes_are_audited_and_listed_in_the_access_log() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "mombasa", 3).await;
    let cid = id(&case).to_string();
    app.get(&format!("/api/v1/cases/{cid}"), &worker.token)
        .await
        .expect(200);
    app.get("/api/v1/cases", &pm.token).await.expect(200);
    app.get(&format!("/api/v1/cases/{cid}/events"), &pm.token)
        .await
        .expect(200);

    let log = app.get(&format!("/api/v1/cases/{cid}/access-log"), &pm.token).await;
    log.expect(200);
    let entries = log.json()["data"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["case.events_read", "case.list", "case.read", "case.create"]);
    assert_eq!(entries[1]["actor_role"], "program_manager");
    assert_eq!(entries[2]["actor_id"], worker.id.to_string());
    app.get(&format!("/api/v1/cases/{cid}/access-log"), &worker.token)
        .await
        .expect_problem(403, "forbidden");
}

#[actix_web::test]
async fn offence_catalogue_is_seeded_and_kept_by_admins() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    // The catalogue comes in pages by code; following the cursors reads it whole, once.
    let mut all: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/offences?limit=5&cursor={c}"),
            None => "/api/v1/offences?limit=5".to_string(),
        };
        let page = app.get(&path, &worker.token).await.json();
        let items = page["data"].as_array().unwrap();
        assert!(items.len() <= 5);
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(all.len() >= 17);
    let codes: Vec<&str> = all.iter().map(|o| o["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(codes, sorted, "by code, each once");
    let find = |code: &str| all.iter().find(|o| o["code"] == code).unwrap().clone();
    assert_eq!(find("soa-8-2")["life_imprisonment"], true);
    assert_eq!(find("soa-8-3")["min_years"], 20);
    assert_eq!(find("soa-8-3")["child_age_min"], 12);
    assert_eq!(find("soa-8-4")["min_years"], 15);
    assert_eq!(find("ctip-3-5")["min_years"], 30);
    assert_eq!(find("ctip-3-5")["min_fine_kes"], 30_000_000);
    assert_eq!(find("ctip-3-5")["facilitator_reach"], true);
    assert_eq!(find("ctip-5")["min_years"], 20);
    assert_eq!(find("ctip-10")["life_imprisonment"], true);
    assert_eq!(
        find("soa-14")["min_years"],
        Value::Null,
        "uncertain penalties stay empty"
    );

    let ctip = app
        .get("/api/v1/offences?statute=counter_trafficking_act_2010", &worker.token)
        .await
        .json();
    assert!(
        ctip["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["statute"] == "counter_trafficking_act_2010")
    );
    assert_eq!(ctip["data"].as_array().unwrap().len(), 7);

    app.patch(
        "/api/v1/offences/soa-14",
        &worker.token,
        Some("*"),
        json!({"min_years": 10}),
    )
    .await
    .expect_problem(403, "forbidden");
    let r = app
        .patch(
            "/api/v1/offences/soa-14",
            &admin.token,
            Some("\"1\""),
            json!({"min_years": 10, "penalty_note": "Checked by legal."}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json()["min_years"], 10);
    app.patch(
        "/api/v1/offences/soa-14",
        &admin.token,
        Some("\"1\""),
        json!({"min_years": 12}),
    )
    .await
    .expect_problem(412, "stale_version");
    let r = app
        .patch(
            "/api/v1/offences/soa-14",
            &admin.token,
            Some("*"),
            json!({"max_years": 5}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "max_years"
    );
    app.patch(
        "/api/v1/offences/nope",
        &admin.token,
        Some("*"),
        json!({"in_force": false}),
    )
    .await
    .expect_problem(404, "not_found");

    // An offence no longer in force cannot be charged.
    app.patch(
        "/api/v1/offences/soa-17",
        &admin.token,
        Some("*"),
        json!({"in_force": false}),
    )
    .await
    .expect(200);
    let case = create_case(&app, &worker, "mombasa", 10).await;
    let s = app
        .post(
            &format!("/api/v1/cases/{}/suspects", id(&case)),
            &worker.token,
            json!({"name": "S", "role": "pimp", "relationship": "stranger"}),
        )
        .await
        .json();
    let r = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&s)),
            &worker.token,
            json!({"offence_code": "soa-17", "filed_on": days_ago(1)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "not_in_force"
    );
    let r = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&s)),
            &worker.token,
            json!({"offence_code": "penal-999", "filed_on": days_ago(1)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "unknown_offence"
    );
}

#[actix_web::test]
async fn suspects_charges_and_sessions_validate_their_rules() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "mombasa", 30).await;
    let cid = id(&case).to_string();
    let suspects = format!("/api/v1/cases/{cid}/suspects");

    let bad: Vec<(Value, &str, &str)> = vec![
        (
            json!({"name": "S", "role": "customer", "relationship": "tourist", "status": "arrested"}),
            "arrested_on",
            "required",
        ),
        (
            json!({"name": "S", "role": "boss", "relationship": "tourist"}),
            "role",
            "unknown_variant",
        ),
        (
            json!({"name": "S", "role": "customer", "relationship": "uncle"}),
            "relationship",
            "unknown_variant",
        ),
        (
            json!({"name": "S", "role": "customer", "relationship": "tourist", "nationality": "german"}),
            "nationality",
            "country",
        ),
        (
            json!({"name": "", "role": "customer", "relationship": "tourist"}),
            "name",
            "length",
        ),
        (
            json!({"name": "S", "role": "customer", "relationship": "tourist", "status": "arrested", "arrested_on": days_ago(-2)}),
            "arrested_on",
            "in_future",
        ),
    ];
    for (body, field, code) in bad {
        let p = app
            .post(&suspects, &worker.token, body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(
            (
                p["errors"][0]["field"].as_str().unwrap(),
                p["errors"][0]["code"].as_str().unwrap()
            ),
            (field, code)
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM suspects").await, 0);

    let s = app
        .post(
            &suspects,
            &worker.token,
            json!({"name": "S", "role": "agent", "relationship": "acquaintance"}),
        )
        .await
        .json();
    let r = app
        .patch(
            &format!("/api/v1/suspects/{}", id(&s)),
            &worker.token,
            Some("*"),
            json!({"status": "remanded"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "arrested_on"
    );

    let charges = format!("/api/v1/suspects/{}/charges", id(&s));
    let r = app
        .post(
            &charges,
            &worker.token,
            json!({"offence_code": "soa-8-3", "filed_on": days_ago(40)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "before_report"
    );
    let charge = app
        .post(
            &charges,
            &worker.token,
            json!({"offence_code": "soa-8-3", "filed_on": days_ago(20)}),
        )
        .await
        .json();
    let cpath = format!("/api/v1/charges/{}", id(&charge));
    let r = app
        .patch(&cpath, &worker.token, Some("*"), json!({"status": "convicted"}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "decided_on"
    );
    let r = app
        .patch(
            &cpath,
            &worker.token,
            Some("*"),
            json!({"status": "convicted", "decided_on": days_ago(25)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "decided_on"
    );
    let r = app
        .patch(
            &cpath,
            &worker.token,
            Some("*"),
            json!({"fine": {"amount_minor": -5, "currency": "kes"}}),
        )
        .await;
    let problem = r.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["fine.amount_minor", "fine.currency"]);
    let convicted = app
        .patch(
            &cpath,
            &worker.token,
            Some("\"1\""),
            json!({"status": "convicted", "decided_on": days_ago(2), "sentence_years": 20,
            "fine": {"amount_minor": 50_000_000, "currency": "KES"}}),
        )
        .await;
    convicted.expect(200);
    let convicted = convicted.json();
    assert_eq!(
        convicted["fine"],
        json!({"amount_minor": 50_000_000, "currency": "KES"})
    );
    assert_eq!(convicted["sentence_years"], 20);
    let suspect = app
        .get(&format!("/api/v1/suspects/{}", id(&s)), &worker.token)
        .await
        .json();
    assert_eq!(suspect["charges"][0]["status"], "convicted");

    let sessions = format!("/api/v1/cases/{cid}/court-sessions");
    let r = app
        .post(
            &sessions,
            &worker.token,
            json!({"court": "Mombasa", "scheduled_on": days_ago(1), "purpose": "hearing", "status": "adjourned"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "adjournment_reason"
    );
    let r = app
        .post(
            &sessions,
            &worker.token,
            json!({"court": "Mombasa", "scheduled_on": days_ago(-5), "purpose": "hearing", "status": "held"}),
        )
        .await;
    r.expect_problem(422, "validation_failed");
    let r = app
        .post(
            &sessions,
            &worker.token,
            json!({"court": "Mombasa", "scheduled_on": days_ago(1), "purpose": "party"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "purpose"
    );
    assert_eq!(app.count("SELECT count(*) FROM court_sessions").await, 0);
    let session = app
        .post(
            &sessions,
            &worker.token,
            json!({"court": "Mombasa", "scheduled_on": days_ago(1), "purpose": "hearing"}),
        )
        .await
        .json();
    let r = app
        .patch(
            &format!("/api/v1/court-sessions/{}", id(&session)),
            &worker.token,
            Some("\"1\""),
            json!({"status": "adjourned", "adjournment_reason": "magistrate_absent", "survivor_attended": true}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json()["adjournment_reason"], "magistrate_absent");
    let timeline = app
        .get(&format!("/api/v1/cases/{cid}/events"), &worker.token)
        .await
        .json();
    assert!(
        timeline["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "court_session")
    );
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn every_move_outside_the_stage_machine_is_refused_from_every_stage() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let case = create_case(&app, &pm, "mombasa", 30).await;
    let cid = id(&case).to_string();
    let stages = [
        "reported",
        "investigation",
        "suspect_arrested",
        "charged",
        "trial",
        "judgment",
        "appeal",
        "closed",
    ];
    let allowed: &[(&str, &[&str])] = &[
        ("reported", &["investigation", "closed"]),
        ("investigation", &["suspect_arrested", "charged", "closed"]),
        ("suspect_arrested", &["investigation", "charged", "closed"]),
        ("charged", &["trial", "closed"]),
        ("trial", &["judgment", "closed"]),
        ("judgment", &["appeal", "closed"]),
        ("appeal", &["judgment", "closed"]),
        ("closed", &[]),
    ];
    let mut conn = app.conn().await;
    for (from, moves) in allowed {
        // Put the case in `from` directly, then try every other stage.
        let closing = if *from == "closed" {
            "'other', current_date"
        } else {
            "NULL, NULL"
        };
        diesel_async::RunQueryDsl::execute(
            diesel::sql_query(format!(
                "UPDATE cases SET stage = '{from}', (closure_reason, closed_on) = ({closing}) WHERE id = '{cid}'"
            )),
            &mut conn,
        )
        .await
        .unwrap();
        for to in stages.iter().filter(|to| !moves.contains(to)) {
            let r = transition(
                &app,
                &pm,
                &cid,
                json!({"to": to, "occurred_on": days_ago(0), "closure_reason": "other"}),
            )
            .await;
            let p = r.expect_problem(409, "invalid_transition");
            assert_eq!(p["extensions"]["from"], *from);
            assert_eq!(p["extensions"]["allowed"], json!(moves), "{from} → {to}");
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM case_events WHERE case_id = '{cid}' AND kind = 'stage_change'"
        ))
        .await,
        1,
        "no refused move wrote an event"
    );
}

#[actix_web::test]
async fn demo_data_tells_the_story_and_loads_once() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let haki::demo::Seeded::Loaded(summary) =
        haki::demo::seed(&mut conn, common::password_hash(), &app.state.vault, false)
            .await
            .unwrap()
    else {
        panic!("first load");
    };
    assert_eq!(summary.cases.len(), 3);
    assert_eq!(
        haki::demo::documents(&mut conn, &*app.state.documents, &app.state.vault)
            .await
            .unwrap(),
        3
    );
    assert!(
        matches!(
            haki::demo::seed(&mut conn, common::password_hash(), &app.state.vault, false)
                .await
                .unwrap(),
            haki::demo::Seeded::AlreadyLoaded
        ),
        "second load is skipped"
    );
    // A database holding a real program's records refuses the fictional ones, unless forced.
    let real = TestApp::new().await;
    real.create_user(Role::Admin, None).await;
    let mut real_conn = real.conn().await;
    let refused = haki::demo::seed(&mut real_conn, common::password_hash(), &real.state.vault, false)
        .await
        .unwrap();
    assert!(matches!(&refused, haki::demo::Seeded::Refused(what) if what.starts_with("1 users")));
    assert_eq!(real.count("SELECT count(*) FROM cases").await, 0, "nothing loaded");
    assert!(matches!(
        haki::demo::seed(&mut real_conn, common::password_hash(), &real.state.vault, true)
            .await
            .unwrap(),
        haki::demo::Seeded::Loaded(_)
    ));

    let pm = app.create_user(Role::ProgramManager, None).await;
    let cases = app.get("/api/v1/cases?county=kilifi", &pm.token).await.json();
    let kilifi = &cases["data"][0];
    assert_eq!(kilifi["stage"], "trial");
    assert_eq!(
        kilifi["facts"]["days_to_first_arrest"], 155,
        "five months before the arrest"
    );
    assert_eq!(
        kilifi["facts"]["flags"]["ctip_gap"], true,
        "the facilitating aunt has no CTIP charge"
    );
    assert_eq!(kilifi["facts"]["court_sessions_adjourned"], 3);
    assert_eq!(kilifi["facts"]["next_court_date"], days_ago(-5));
    let stalled = app.get("/api/v1/cases?stalled=true", &pm.token).await.json();
    assert_eq!(stalled["data"][0]["county"], "mombasa");
    let closed = app.get("/api/v1/cases?stage=closed", &pm.token).await.json();
    assert_eq!(closed["data"][0]["closure_reason"], "convicted");
    assert_eq!(kilifi["facts"]["flags"]["age_charge_mismatch"], false);

    // Restoration at different stages: one closed as restored with her follow-up due soon, one
    // whose assessments do not meet the threshold yet.
    let due = app.get("/api/v1/follow-ups?status=due", &pm.token).await.json();
    let subira = due["data"][0]["survivor_id"].as_str().unwrap().to_string();
    let subira = app.get(&format!("/api/v1/survivors/{subira}"), &pm.token).await.json();
    assert_eq!(subira["pseudonym"], "Subira");
    assert_eq!(subira["closure_reason"], "restored");
    let active = app.get("/api/v1/survivors?q=neema", &pm.token).await.json();
    let neema = &active["data"][0];
    assert_eq!(neema["restoration_status"], "active");
    assert_eq!(neema["cases"][0]["stage"], "trial");
    let assessments = app
        .get(
            &format!("/api/v1/survivors/{}/assessments", neema["id"].as_str().unwrap()),
            &pm.token,
        )
        .await
        .json();
    assert_eq!(assessments["data"][0]["threshold_met"], false);
    assert_eq!(
        app.get("/api/v1/survivors", &pm.token).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // A year of trainings: ten, from about ten months ago to last fortnight, every format.
    let trainings = app.get("/api/v1/trainings", &pm.token).await.json()["data"].clone();
    let trainings = trainings.as_array().unwrap();
    assert_eq!(trainings.len(), 10);
    let days_ago = |t: &Value| {
        (chrono::Utc::now().date_naive() - t["starts_on"].as_str().unwrap().parse::<chrono::NaiveDate>().unwrap())
            .num_days()
    };
    assert!(trainings.iter().map(days_ago).max().unwrap() > 240);
    assert!(trainings.iter().map(days_ago).min().unwrap() < 30);
    let mut formats: Vec<&str> = trainings.iter().map(|t| t["format"].as_str().unwrap()).collect();
    formats.sort();
    formats.dedup();
    assert_eq!(formats.len(), 4);

    // Each demo account sees its own world (the README lists them).
    let token = |email: &'static str| {
        let app = &app;
        async move {
            let r = app.login(email, common::PASSWORD).await;
            r.expect(200);
            r.json()["access_token"].as_str().unwrap().to_string()
        }
    };
    let names = |v: Value, key: &str| -> Vec<String> {
        let mut n: Vec<String> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    let counties = |t: String| {
        let app = &app;
        async move { names(app.get("/api/v1/cases", &t).await.json(), "county") }
    };
    let pseudonyms = |t: String| {
        let app = &app;
        async move { names(app.get("/api/v1/survivors", &t).await.json(), "pseudonym") }
    };
    let manager = token("manager@haki.demo").await;
    assert_eq!(counties(manager.clone()).await, ["kilifi", "kwale", "mombasa"]);
    let investigator = token("investigator@haki.demo").await;
    assert_eq!(counties(investigator.clone()).await, ["kilifi", "kwale"]);
    assert_eq!(pseudonyms(investigator.clone()).await, ["Neema", "Subira"]);
    let investigator2 = token("investigator2@haki.demo").await;
    assert_eq!(counties(investigator2.clone()).await, ["mombasa"]);
    assert_eq!(pseudonyms(investigator2).await, ["Imani", "Zawadi"]);
    assert_eq!(
        counties(token("lawyer@haki.demo").await).await,
        ["kilifi", "kwale", "mombasa"]
    );
    let aftercare = token("aftercare@haki.demo").await;
    let aftercare2 = token("aftercare2@haki.demo").await;
    assert_eq!(pseudonyms(aftercare.clone()).await, ["Neema", "Subira"]);
    assert_eq!(pseudonyms(aftercare2.clone()).await, ["Imani", "Zawadi"]);
    // Identities are in the vault, readable by each survivor's own counsellor only.
    let neema_id = neema["id"].as_str().unwrap();
    let identity = app
        .get(&format!("/api/v1/survivors/{neema_id}/identity"), &aftercare)
        .await;
    identity.expect(200);
    assert!(
        identity.json()["identity"]["legal_name"]
            .as_str()
            .unwrap()
            .contains("Neema")
    );
    app.get(&format!("/api/v1/survivors/{neema_id}/identity"), &aftercare2)
        .await
        .expect_problem(404, "not_found");
    // Documents: the Kilifi case's charge sheet for its investigator (the P3 form identifies the
    // child: not listed for her), Imani's school report for her counsellor only.
    let kilifi_case = app.get("/api/v1/cases?county=kilifi", &manager).await.json()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let docs = app
        .get(&format!("/api/v1/cases/{kilifi_case}/documents"), &investigator)
        .await
        .json();
    assert_eq!(names(docs.clone(), "kind"), ["charge_sheet"]);
    let sheet = app
        .get(
            &format!("/api/v1/documents/{}/content", docs["data"][0]["id"].as_str().unwrap()),
            &investigator,
        )
        .await;
    sheet.expect(200);
    assert!(String::from_utf8_lossy(&sheet.body).contains("Fictional charge sheet"));
    let imani = app.get("/api/v1/survivors", &aftercare2).await.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["pseudonym"] == "Imani")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = app
        .get(&format!("/api/v1/survivors/{imani}/documents"), &aftercare2)
        .await
        .json();
    assert_eq!(names(report, "kind"), ["school_report"]);
    app.get(&format!("/api/v1/survivors/{imani}/documents"), &aftercare)
        .await
        .expect_problem(404, "not_found");
    let analyst = token("analyst@haki.demo").await;
    app.get("/api/v1/cases", &analyst)
        .await
        .expect_problem(403, "forbidden");
    let partner = token("partner@haki.demo").await;
    assert_eq!(
        app.get("/api/v1/partners", &partner).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Referrals in every status; the partner desk sees its own organisation's only.
    let statuses = |v: Value| names(v, "status");
    assert_eq!(
        statuses(app.get("/api/v1/referrals", &manager).await.json()),
        [
            "accepted",
            "acknowledged",
            "declined",
            "submitted",
            "submitted",
            "withdrawn"
        ]
    );
    assert_eq!(
        statuses(app.get("/api/v1/referrals", &partner).await.json()),
        ["accepted", "submitted", "submitted", "withdrawn"]
    );
    let overdue = app.get("/api/v1/referrals?overdue=true", &manager).await.json();
    assert_eq!(overdue["data"].as_array().unwrap().len(), 1);
    assert_eq!(overdue["data"][0]["urgency"], "emergency");
    let accepted = app.get("/api/v1/referrals?status=accepted", &manager).await.json();
    assert_eq!(accepted["data"][0]["survivor_id"], neema["id"]);
    assert_eq!(accepted["data"][0]["case_reference"], kilifi["reference"]);
    // The case it became names the justice centre as its referring partner.
    let kilifi_case = app
        .get(&format!("/api/v1/cases/{}", kilifi["id"].as_str().unwrap()), &manager)
        .await
        .json();
    assert_eq!(kilifi_case["referral_partner_id"], accepted["data"][0]["partner_id"]);
    // Alerts: each sees what waits within reach.
    let alert_kinds = |t: String| {
        let app = &app;
        async move {
            let page = app.get("/api/v1/alerts?limit=200", &t).await;
            page.expect(200);
            let mut k: Vec<String> = page.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["kind"].as_str().unwrap().to_string())
                .collect();
            k.sort();
            k.dedup();
            k
        }
    };
    let managers = alert_kinds(manager.clone()).await;
    for kind in ["referral_overdue", "ctip_gap", "case_stalled"] {
        assert!(managers.contains(&kind.to_string()), "{kind}: {managers:?}");
    }
    let counsellors = alert_kinds(aftercare.clone()).await;
    assert!(!counsellors.contains(&"referral_overdue".to_string()) && !counsellors.contains(&"ctip_gap".to_string()));
    assert!(!counsellors.is_empty(), "her survivors' restoration waits for her");
    app.get("/api/v1/alerts", &analyst)
        .await
        .expect_problem(403, "forbidden");
    let admin = token("admin@haki.demo").await;
    assert_eq!(
        app.get(&format!("/api/v1/survivors/{neema_id}/identity"), &admin)
            .await
            .json()["identity"]["legal_name"],
        "Neema Demo-Kahindi"
    );
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn parts_of_a_case_out_of_reach_are_404_and_odd_values_are_422() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let outsider = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "kwale", 20).await;
    let cid = id(&case).to_string();
    let suspect = app
        .post(
            &format!("/api/v1/cases/{cid}/suspects"),
            &worker.token,
            json!({"name": "S", "role": "pimp", "relationship": "stranger"}),
        )
        .await
        .json();
    let charge = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&suspect)),
            &worker.token,
            json!({"offence_code": "soa-15", "filed_on": days_ago(5)}),
        )
        .await
        .json();
    let session = app
        .post(
            &format!("/api/v1/cases/{cid}/court-sessions"),
            &worker.token,
            json!({"court": "Kwale", "scheduled_on": days_ago(-9), "purpose": "mention"}),
        )
        .await
        .json();
    app.get(&format!("/api/v1/suspects/{}", id(&suspect)), &outsider.token)
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/suspects/{}", id(&suspect)),
        &outsider.token,
        Some("*"),
        json!({"status": "deceased"}),
    )
    .await
    .expect(404);
    app.post(
        &format!("/api/v1/suspects/{}/charges", id(&suspect)),
        &outsider.token,
        json!({"offence_code": "soa-15", "filed_on": days_ago(1)}),
    )
    .await
    .expect(404);
    app.patch(
        &format!("/api/v1/charges/{}", id(&charge)),
        &outsider.token,
        Some("*"),
        json!({"status": "withdrawn"}),
    )
    .await
    .expect(404);
    app.patch(
        &format!("/api/v1/court-sessions/{}", id(&session)),
        &outsider.token,
        Some("*"),
        json!({"court": "X"}),
    )
    .await
    .expect(404);
    assert_eq!(
        app.count("SELECT count(*) FROM charges WHERE status = 'withdrawn'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM suspects WHERE status = 'deceased'")
            .await,
        0
    );

    // A session cannot be rescheduled into the future once held.
    let held = app
        .post(
            &format!("/api/v1/cases/{cid}/court-sessions"),
            &worker.token,
            json!({"court": "Kwale", "scheduled_on": days_ago(1), "purpose": "plea", "status": "held"}),
        )
        .await
        .json();
    app.patch(
        &format!("/api/v1/court-sessions/{}", id(&held)),
        &worker.token,
        Some("*"),
        json!({"status": "scheduled"}),
    )
    .await
    .expect_problem(409, "session_outcome_recorded");
    let r = app
        .patch(
            &format!("/api/v1/court-sessions/{}", id(&held)),
            &worker.token,
            Some("*"),
            json!({"scheduled_on": days_ago(-30)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "status"
    );

    // Values PostgreSQL cannot hold are the client's error, never a 500.
    let mut body = case_body("kwale", 10);
    body["reported_on"] = json!("-5000-01-01");
    body["incident_on"] = json!("-5000-01-01");
    app.post("/api/v1/cases", &worker.token, body)
        .await
        .expect_problem(422, "invalid_value");
    app.get("/api/v1/cases?q=a%00b", &worker.token)
        .await
        .expect_problem(422, "invalid_value");
    let r = app
        .post(
            &format!("/api/v1/cases/{cid}/events"),
            &worker.token,
            json!({"kind": "note", "occurred_on": days_ago(40)}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "before_report"
    );
}

#[actix_web::test]
async fn the_report_date_cannot_move_past_what_happened_on_the_case() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "mombasa", 30).await;
    let path = format!("/api/v1/cases/{}", id(&case));
    app.post(
        &format!("{path}/events"),
        &worker.token,
        json!({"kind": "police_follow_up", "occurred_on": days_ago(20)}),
    )
    .await
    .expect(201);
    let r = app
        .patch(&path, &worker.token, Some("*"), json!({"reported_on": days_ago(10)}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "after_activity"
    );
    let moved = app
        .patch(&path, &worker.token, Some("*"), json!({"reported_on": days_ago(25)}))
        .await;
    moved.expect(200);
    let moved = moved.json();
    assert_eq!(moved["reference"], case["reference"], "the reference never changes");
    let events = app.get(&format!("{path}/events?limit=10"), &worker.token).await.json();
    let opening = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "stage_change")
        .unwrap()
        .clone();
    assert_eq!(
        opening["occurred_on"],
        days_ago(25),
        "the opening event follows the corrected report date"
    );
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn a_retried_case_creation_opens_one_case() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let post = || {
        actix_web::test::TestRequest::post()
            .uri("/api/v1/cases")
            .insert_header(common::bearer(&worker.token))
            .insert_header(("Idempotency-Key", "intake-2025-0042"))
            .set_json(case_body("kilifi", 3))
    };
    let first = app.send(post()).await;
    first.expect(201);
    let again = app.send(post()).await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["reference"], first.json()["reference"]);
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 1);
    assert_eq!(
        app.count("SELECT last_value FROM case_reference_counters").await,
        1,
        "no reference number used up"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'request.replayed'")
            .await,
        1
    );
}

#[actix_web::test]
async fn stale_etags_are_refused_on_every_part_of_a_case() {
    let app = TestApp::new().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let case = create_case(&app, &worker, "kilifi", 20).await;
    let cid = id(&case).to_string();
    let suspect = app
        .post(
            &format!("/api/v1/cases/{cid}/suspects"),
            &worker.token,
            json!({"name": "S", "role": "agent", "relationship": "neighbour"}),
        )
        .await
        .json();
    let charge = app
        .post(
            &format!("/api/v1/suspects/{}/charges", id(&suspect)),
            &worker.token,
            json!({"offence_code": "ctip-3-5", "filed_on": days_ago(2)}),
        )
        .await;
    let charge_location = charge.header("location").unwrap().to_string();
    let charge = charge.json();
    assert_eq!(charge_location, format!("/api/v1/charges/{}", id(&charge)));
    let session = app
        .post(
            &format!("/api/v1/cases/{cid}/court-sessions"),
            &worker.token,
            json!({"court": "Malindi", "scheduled_on": days_ago(-3), "purpose": "plea"}),
        )
        .await;
    let session_location = session.header("location").unwrap().to_string();
    let session = session.json();
    assert_eq!(session_location, format!("/api/v1/court-sessions/{}", id(&session)));
    let stranger = app.create_user(Role::CaseWorker, None).await;
    for (path, body) in [
        (
            format!("/api/v1/suspects/{}", id(&suspect)),
            json!({"notes": "seen in Watamu"}),
        ),
        (
            format!("/api/v1/charges/{}", id(&charge)),
            json!({"court_file_number": "MLD 1/2025"}),
        ),
        (
            format!("/api/v1/court-sessions/{}", id(&session)),
            json!({"court": "Malindi Law Courts"}),
        ),
    ] {
        app.patch(&path, &worker.token, Some("\"2\""), body.clone())
            .await
            .expect_problem(412, "stale_version");
        let ok = app.patch(&path, &worker.token, Some("\"1\""), body.clone()).await;
        ok.expect(200);
        assert_eq!(ok.header("etag"), Some("\"2\""), "{path}");
        // Nothing to change, or the values already held: the version and ETag stay.
        for same in [json!({}), body] {
            let again = app.patch(&path, &worker.token, Some("\"2\""), same).await;
            again.expect(200);
            assert_eq!(again.header("etag"), Some("\"2\""), "{path}");
            assert_eq!(again.json()["version"], 2, "{path}");
        }
        // Each part reads on its own, with its ETag; outside the caller's reach it does not exist.
        let read = app.get(&path, &worker.token).await;
        read.expect(200);
        assert_eq!(read.header("etag"), Some("\"2\""), "{path}");
        app.get(&path, &stranger.token).await.expect_problem(404, "not_found");
    }
}
