//! Referrals from partner organisations: intake and its retries, triage, acceptance into a case
//! and a survivor, possible duplicates, partner isolation and the acknowledgement windows.

mod common;

use actix_web::test::TestRequest;
use common::{TestApp, bearer};
use haki::auth::Role;
use serde_json::{Value, json};

fn referral(external_id: &str, alias: &str, urgency: &str) -> Value {
    json!({
        "external_id": external_id,
        "urgency": urgency,
        "child_alias": alias,
        "sex": "female",
        "age": 14,
        "county": "kilifi",
        "sub_county": "malindi",
        "concern": "Seen leaving a holiday villa at night with an older foreign man; out of school since March.",
        "indicators": ["contact_with_tourists", "seen_in_hotels_or_villas", "out_of_school"],
        "whereabouts": "with_referring_partner",
        "safe_tonight": true,
        "consent_to_share": {"given_by": "guardian", "obtained_on": "2026-01-10"}
    })
}

fn with(mut body: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() && k.starts_with('-') {
            body.as_object_mut().unwrap().remove(&k[1..]);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn action(app: &TestApp, token: &str, id: &str, verb: &str, body: Option<Value>) -> common::Resp {
    let mut req = TestRequest::post()
        .uri(&format!("/api/v1/referrals/{id}/{verb}"))
        .insert_header(bearer(token));
    if let Some(body) = body {
        req = req.set_json(body);
    }
    app.send(req).await
}

#[actix_web::test]
async fn intake_is_validated_and_safe_to_retry() {
    let app = TestApp::new().await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let other = app.create_partner("Pwani shelter").await;
    let partner = app.create_user(Role::Partner, Some(cjc)).await;
    let other_partner = app.create_user(Role::Partner, Some(other)).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;

    // No consent to share: a clear refusal, whether absent or null, and nothing written.
    for body in [
        with(referral("CJC-1", "N.K.", "urgent"), json!({"-consent_to_share": null})),
        with(referral("CJC-1", "N.K.", "urgent"), json!({"consent_to_share": null})),
    ] {
        let refused = app.post("/api/v1/referrals", &partner.token, body).await;
        let problem = refused.expect_problem(422, "consent_required");
        assert!(
            problem["detail"].as_str().unwrap().contains("call the program"),
            "{problem}"
        );
        assert_eq!(problem["errors"][0]["field"], "consent_to_share");
    }
    for (change, field) in [
        (json!({"-age": null}), "age"),
        (json!({"birth_year": 2099}), "birth_year"),
        (json!({"sub_county": "westlands"}), "sub_county"),
        (
            json!({"consent_to_share": {"given_by": "guardian", "obtained_on": "2099-01-01"}}),
            "consent_to_share.obtained_on",
        ),
        (json!({"partner_id": other}), "partner_id"),
        (json!({"urgency": "whenever"}), "urgency"),
        (json!({"indicators": ["not_an_indicator"]}), "indicators[0]"),
        (json!({"external_id": " "}), "external_id"),
    ] {
        let refused = app
            .post(
                "/api/v1/referrals",
                &partner.token,
                with(referral("CJC-1", "N.K.", "urgent"), change.clone()),
            )
            .await;
        let problem = refused.expect_problem(422, "validation_failed");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{change}: {problem}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM referrals").await, 0);

    // Who may submit: partners and triage staff; analysts and aftercare officers may not.
    for user in [&analyst, &aftercare] {
        app.post("/api/v1/referrals", &user.token, referral("X-1", "A.B.", "routine"))
            .await
            .expect_problem(403, "forbidden");
    }
    // Staff name the partner on whose behalf they submit.
    app.post("/api/v1/referrals", &pm.token, referral("PHONE-7", "A.B.", "routine"))
        .await
        .expect_problem(422, "validation_failed");
    let unknown = haki::ids::PartnerId::new();
    let problem = app
        .post(
            "/api/v1/referrals",
            &pm.token,
            with(referral("PHONE-7", "A.B.", "routine"), json!({"partner_id": unknown})),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "unknown_partner");
    let on_behalf = app
        .post(
            "/api/v1/referrals",
            &pm.token,
            with(referral("PHONE-7", "A.B.", "routine"), json!({"partner_id": other})),
        )
        .await;
    on_behalf.expect(201);
    assert_eq!(on_behalf.json()["partner_id"], json!(other));
    assert_eq!(on_behalf.json()["submitted_by"], json!(pm.id));

    // A new referral.
    let first = app
        .post(
            "/api/v1/referrals",
            &partner.token,
            referral("CJC-1", " N.K. ", "urgent"),
        )
        .await;
    first.expect(201);
    assert_eq!(first.header("etag"), Some("\"1\""));
    assert_eq!(first.header("haki-existing"), None);
    let created = first.json();
    let rid = id(&created);
    assert_eq!(
        first.header("location"),
        Some(format!("/api/v1/referrals/{rid}").as_str())
    );
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["child_alias"], "N.K.");
    assert_eq!(created["partner_name"], "Bahari justice centre");
    assert_eq!(created["overdue"], false);
    assert!(created["acknowledge_by"].is_string());
    // A partner never sees staff-only fields.
    for field in ["case_id", "survivor_id", "submitted_by", "possible_matches"] {
        assert!(created[field].is_null(), "{field}: {created}");
    }

    // The same external_id again: the same referral, answered 200 and marked as existing.
    let again = app
        .post("/api/v1/referrals", &partner.token, referral("CJC-1", "N.K.", "urgent"))
        .await;
    again.expect(200);
    assert_eq!(again.header("haki-existing"), Some("true"));
    assert_eq!(id(&again.json()), rid);
    assert_eq!(again.json()["version"], 1);
    // Re-posted with new content while submitted: updated.
    let updated = app
        .post(
            "/api/v1/referrals",
            &partner.token,
            with(referral("CJC-1", "N.K.", "emergency"), json!({"safe_tonight": false})),
        )
        .await;
    updated.expect(200);
    assert_eq!(updated.json()["urgency"], "emergency");
    assert_eq!(updated.json()["version"], 2);
    // The same external_id from another organisation is another referral.
    app.post(
        "/api/v1/referrals",
        &other_partner.token,
        referral("CJC-1", "Z.Z.", "routine"),
    )
    .await
    .expect(201);

    // Concurrent duplicates: exactly one referral.
    let posts: Vec<_> = (0..8)
        .map(|_| {
            app.post(
                "/api/v1/referrals",
                &partner.token,
                referral("CJC-RACE", "R.R.", "routine"),
            )
        })
        .collect();
    let answers = futures_util::future::join_all(posts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 200, 200, 201], "{statuses:?}");
    let ids: std::collections::HashSet<String> = answers.iter().map(|r| id(&r.json())).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM referrals WHERE external_id = 'CJC-RACE'")
            .await,
        1
    );

    // Idempotency-Key works as everywhere: the first answer is replayed.
    let keyed = |key: &'static str| {
        TestRequest::post()
            .uri("/api/v1/referrals")
            .insert_header(bearer(&partner.token))
            .insert_header(("Idempotency-Key", key))
            .set_json(referral("CJC-KEY", "K.K.", "routine"))
    };
    // A refusal is replayed as it was, too.
    let refused = || {
        TestRequest::post()
            .uri("/api/v1/referrals")
            .insert_header(bearer(&partner.token))
            .insert_header(("Idempotency-Key", "referral-key-refused"))
            .set_json(with(
                referral("CJC-NOCONSENT", "K.K.", "routine"),
                json!({"-consent_to_share": null}),
            ))
    };
    app.send(refused()).await.expect_problem(422, "consent_required");
    app.send(refused()).await.expect_problem(422, "consent_required");
    // An inactive organisation no longer refers through the system.
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query(format!("UPDATE partners SET active = false WHERE id = '{other}'"))
            .execute(&mut app.conn().await)
            .await
            .expect("deactivate");
    }
    let problem = app
        .post(
            "/api/v1/referrals",
            &other_partner.token,
            referral("LATE-1", "L.L.", "routine"),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "inactive_partner");
    // Dates at the calendar's ends bound nothing; they never break the list.
    app.get("/api/v1/referrals?to=%2B262142-12-31&from=-262143-01-01", &pm.token)
        .await
        .expect(200);
    let one = app.send(keyed("referral-key-1")).await;
    one.expect(201);
    let two = app.send(keyed("referral-key-1")).await;
    two.expect(201);
    assert_eq!(id(&one.json()), id(&two.json()));

    // PATCH while submitted needs If-Match; once acknowledged the referral is locked.
    let path = format!("/api/v1/referrals/{rid}");
    app.patch(&path, &partner.token, None, json!({"safe_tonight": true}))
        .await
        .expect_problem(428, "precondition_required");
    app.patch(&path, &partner.token, Some("\"1\""), json!({"safe_tonight": true}))
        .await
        .expect_problem(412, "stale_version");
    let patched = app
        .patch(
            &path,
            &partner.token,
            Some("\"2\""),
            json!({"safe_tonight": true, "age": null, "birth_year": 2012}),
        )
        .await;
    patched.expect(200);
    assert_eq!(patched.json()["safe_tonight"], true);
    assert_eq!(patched.json()["birth_year"], 2012);
    assert!(patched.json()["age"].is_null());
    app.patch(&path, &partner.token, Some("\"3\""), json!({"birth_year": null}))
        .await
        .expect_problem(422, "validation_failed");

    action(&app, &pm.token, &rid, "acknowledge", None).await.expect(200);
    let current = app.get(&path, &partner.token).await.json();
    let resent = app
        .post(
            "/api/v1/referrals",
            &partner.token,
            with(
                referral("CJC-1", "N.K.", "emergency"),
                json!({"safe_tonight": true, "birth_year": 2012, "-age": null}),
            ),
        )
        .await;
    resent.expect(200);
    assert_eq!(resent.header("haki-existing"), Some("true"));
    assert_eq!(resent.json()["version"], current["version"]);
    app.post(
        "/api/v1/referrals",
        &partner.token,
        referral("CJC-1", "N.K.", "routine"),
    )
    .await
    .expect_problem(409, "referral_locked");
    let tag = format!("\"{}\"", current["version"]);
    app.patch(&path, &partner.token, Some(&tag), json!({"safe_tonight": false}))
        .await
        .expect_problem(409, "referral_locked");
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn triage_moves_and_acceptance_into_a_case_and_survivor() {
    let app = TestApp::new().await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let partner = app.create_user(Role::Partner, Some(cjc)).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;

    let submit = async |external: &str, alias: &str| {
        let r = app
            .post("/api/v1/referrals", &partner.token, referral(external, alias, "urgent"))
            .await;
        r.expect(201);
        id(&r.json())
    };
    let a = submit("A", "Amani").await;

    // Partners do not triage; the 403 names the permission.
    for verb in ["acknowledge", "accept", "decline"] {
        let body = (verb == "decline").then(|| json!({"reason": "no"}));
        let problem = action(&app, &partner.token, &a, verb, body)
            .await
            .expect_problem(403, "forbidden");
        assert_eq!(problem["extensions"]["permission"], "triage_referrals");
    }
    // Only from acknowledged may a referral be accepted or declined.
    let problem = action(&app, &pm.token, &a, "accept", None)
        .await
        .expect_problem(409, "invalid_transition");
    assert_eq!(problem["extensions"]["status"], "submitted");
    action(&app, &pm.token, &a, "decline", Some(json!({"reason": "not ours"})))
        .await
        .expect_problem(409, "invalid_transition");

    let acked = action(&app, &worker.token, &a, "acknowledge", None).await;
    acked.expect(200);
    let acked = acked.json();
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], json!(worker.id));
    assert!(acked["acknowledged_at"].is_string());
    assert!(acked["minutes_to_acknowledge"].as_i64().is_some_and(|m| m >= 0));
    action(&app, &pm.token, &a, "acknowledge", None)
        .await
        .expect_problem(409, "invalid_transition");
    // Decline needs a reason.
    action(&app, &pm.token, &a, "decline", Some(json!({})))
        .await
        .expect_problem(422, "validation_failed");

    // A failed acceptance leaves nothing behind: the case it opened is rolled back.
    let cases_before = app.count("SELECT count(*) FROM cases").await;
    let survivors_before = app.count("SELECT count(*) FROM survivors").await;
    let problem = action(
        &app,
        &pm.token,
        &a,
        "accept",
        Some(json!({"survivor_id": haki::ids::SurvivorId::new()})),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "unknown_survivor");
    assert_eq!(app.count("SELECT count(*) FROM cases").await, cases_before);
    assert_eq!(app.count("SELECT count(*) FROM case_events").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM case_assignments").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM survivors").await, survivors_before);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{a}"), &pm.token).await.json()["status"],
        "acknowledged"
    );

    // Accepted by a case worker: a new case (she leads it) and a new survivor, in one go.
    let accepted = action(
        &app,
        &worker.token,
        &a,
        "accept",
        Some(json!({"location_type": "villa_short_term_rental", "exploitation_types": ["child_sex_tourism"]})),
    )
    .await;
    accepted.expect(200);
    let accepted = accepted.json();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["concluded_by"], json!(worker.id));
    assert!(accepted["decided_at"].is_string());
    let case_id = accepted["case_id"].as_str().unwrap().to_string();
    let survivor_id = accepted["survivor_id"].as_str().unwrap().to_string();
    let reference = accepted["case_reference"].as_str().unwrap().to_string();
    assert!(reference.starts_with("CSEC-KLF-"), "{reference}");

    let case = app.get(&format!("/api/v1/cases/{case_id}"), &worker.token).await;
    case.expect(200);
    let case = case.json();
    assert_eq!(case["referral_partner_id"], json!(cjc));
    assert_eq!(case["referral_source"], "partner_referral");
    assert_eq!(case["county"], "kilifi");
    assert_eq!(case["sub_county"], "malindi");
    assert_eq!(case["risk_level"], "high");
    assert_eq!(case["location_type"], "villa_short_term_rental");
    let survivor = app
        .get(&format!("/api/v1/survivors/{survivor_id}"), &pm.token)
        .await
        .json();
    assert_eq!(survivor["pseudonym"], "Amani");
    assert_eq!(survivor["sex"], "female");
    assert_eq!(survivor["age_at_intake"], 14);
    assert_eq!(survivor["county"], "kilifi");
    assert_eq!(survivor["cases"][0]["case_id"], json!(case_id));
    assert_eq!(survivor["cases"][0]["role"], "victim");

    // The partner sees the outcome and the case reference — never the case or the survivor.
    let seen = app.get(&format!("/api/v1/referrals/{a}"), &partner.token).await.json();
    assert_eq!(seen["status"], "accepted");
    assert_eq!(seen["case_reference"], json!(reference));
    for field in [
        "case_id",
        "survivor_id",
        "concluded_by",
        "acknowledged_by",
        "possible_matches",
    ] {
        assert!(seen[field].is_null(), "{field}: {seen}");
    }
    app.get(&format!("/api/v1/cases/{case_id}"), &partner.token)
        .await
        .expect_problem(404, "not_found");
    app.get(&format!("/api/v1/survivors/{survivor_id}"), &partner.token)
        .await
        .expect_problem(404, "not_found");
    // Nothing moves after acceptance.
    for verb in ["acknowledge", "accept", "withdraw"] {
        action(&app, &pm.token, &a, verb, None)
            .await
            .expect_problem(409, "invalid_transition");
    }
    action(&app, &partner.token, &a, "withdraw", None)
        .await
        .expect_problem(409, "invalid_transition");

    // A second referral of the same child, accepted into the existing case and survivor.
    let b = submit("B", "Amani").await;
    action(&app, &pm.token, &b, "acknowledge", None).await.expect(200);
    let linked = action(
        &app,
        &pm.token,
        &b,
        "accept",
        Some(json!({"case_id": case_id, "survivor_id": survivor_id})),
    )
    .await;
    linked.expect(200);
    assert_eq!(linked.json()["case_id"], json!(case_id));
    assert_eq!(linked.json()["survivor_id"], json!(survivor_id));
    assert_eq!(app.count("SELECT count(*) FROM cases").await, cases_before + 1);
    assert_eq!(app.count("SELECT count(*) FROM survivors").await, survivors_before + 1);
    // A case outside the caller's reach cannot be named.
    let c = submit("C", "Baraka").await;
    action(&app, &pm.token, &c, "acknowledge", None).await.expect(200);
    let stranger = app.create_user(Role::CaseWorker, None).await;
    let problem = action(&app, &stranger.token, &c, "accept", Some(json!({"case_id": case_id})))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "unknown_case");
    // A case worker not on the case sees that the referral was accepted, not what it became.
    let unseen = app.get(&format!("/api/v1/referrals/{a}"), &stranger.token).await.json();
    assert_eq!(unseen["status"], "accepted");
    for field in ["case_id", "survivor_id", "case_reference"] {
        assert!(unseen[field].is_null(), "{field}: {unseen}");
    }
    let listed = app
        .get("/api/v1/referrals?status=accepted", &stranger.token)
        .await
        .json();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["case_id"].is_null())
    );

    // Declined with a reason the partner reads.
    let declined = action(
        &app,
        &pm.token,
        &c,
        "decline",
        Some(json!({"reason": "  Outside the program's counties; referred to the children's office.  "})),
    )
    .await;
    declined.expect(200);
    let seen = app.get(&format!("/api/v1/referrals/{c}"), &partner.token).await.json();
    assert_eq!(seen["status"], "declined");
    assert_eq!(
        seen["decline_reason"],
        "Outside the program's counties; referred to the children's office."
    );
    assert!(seen["decided_at"].is_string());
    action(&app, &partner.token, &c, "withdraw", None)
        .await
        .expect_problem(409, "invalid_transition");
    // Nothing moves after a decline either.
    for verb in ["acknowledge", "accept", "decline"] {
        let body = (verb == "decline").then(|| json!({"reason": "again"}));
        action(&app, &pm.token, &c, verb, body)
            .await
            .expect_problem(409, "invalid_transition");
    }
    // An accepted referral cannot be declined.
    action(
        &app,
        &pm.token,
        &a,
        "decline",
        Some(json!({"reason": "changed our mind"})),
    )
    .await
    .expect_problem(409, "invalid_transition");

    // Withdrawn by the partner, from submitted or acknowledged; If-Match honoured when sent.
    let d = submit("D", "Chausiku").await;
    let stale = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/referrals/{d}/withdraw"))
                .insert_header(bearer(&partner.token))
                .insert_header(("If-Match", "\"7\"")),
        )
        .await;
    stale.expect_problem(412, "stale_version");
    let withdrawn = action(
        &app,
        &partner.token,
        &d,
        "withdraw",
        Some(json!({"reason": "Family moved to Nairobi"})),
    )
    .await;
    withdrawn.expect(200);
    assert_eq!(withdrawn.json()["status"], "withdrawn");
    assert_eq!(withdrawn.json()["withdraw_reason"], "Family moved to Nairobi");
    assert!(withdrawn.json()["withdrawn_at"].is_string());
    for verb in ["acknowledge", "accept", "decline", "withdraw"] {
        let body = (verb == "decline").then(|| json!({"reason": "no"}));
        action(&app, &pm.token, &d, verb, body)
            .await
            .expect_problem(409, "invalid_transition");
    }
    // Withdrawn after acknowledgement, too: the partner may still take it back until a decision.
    let f = submit("F", "Fatuma").await;
    action(&app, &worker.token, &f, "acknowledge", None).await.expect(200);
    let withdrawn = action(&app, &partner.token, &f, "withdraw", None).await;
    withdrawn.expect(200);
    assert_eq!(withdrawn.json()["status"], "withdrawn");
    // An empty body is no body, whatever its Content-Type says.
    let e = submit("E", "Dalila").await;
    let empty = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/referrals/{e}/withdraw"))
                .insert_header(bearer(&partner.token))
                .insert_header(("Content-Type", "application/json")),
        )
        .await;
    empty.expect(200);
    assert!(empty.json()["withdraw_reason"].is_null());

    // Every move is in the audit log, by whom.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE resource_id = '{a}' AND action IN ('referral.submit', 'referral.acknowledge', 'referral.accept')"
        ))
        .await,
        3
    );
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn possible_matches_are_shown_to_staff_only() {
    let app = TestApp::new().await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let partner = app.create_user(Role::Partner, Some(cjc)).await;
    let pm = app.create_user(Role::ProgramManager, None).await;

    let survivor = app
        .post(
            "/api/v1/survivors",
            &pm.token,
            json!({"pseudonym": "Neema", "sex": "female", "birth_year": 2012, "intake_on": "2025-06-01", "county": "kilifi"}),
        )
        .await;
    survivor.expect(201);
    let survivor_id = id(&survivor.json());
    // Same pseudonym, but another county: not a match.
    app.post(
        "/api/v1/survivors",
        &pm.token,
        json!({"pseudonym": "Neema", "sex": "female", "birth_year": 2012, "intake_on": "2025-06-01", "county": "lamu"}),
    )
    .await
    .expect(201);
    // Another one-word name with the same first letter: one initial is no evidence.
    app.post(
        "/api/v1/survivors",
        &pm.token,
        json!({"pseudonym": "Nadia", "sex": "female", "birth_year": 2012, "intake_on": "2025-06-01", "county": "kilifi"}),
    )
    .await
    .expect(201);
    // Same pseudonym, but a boy: not a match.
    app.post(
        "/api/v1/survivors",
        &pm.token,
        json!({"pseudonym": "Neema", "sex": "male", "birth_year": 2012, "intake_on": "2025-06-01", "county": "kilifi"}),
    )
    .await
    .expect(201);
    // Same pseudonym, but born years apart: not a match.
    app.post(
        "/api/v1/survivors",
        &pm.token,
        json!({"pseudonym": "neema", "sex": "female", "birth_year": 2003, "intake_on": "2025-06-01", "county": "kilifi"}),
    )
    .await
    .expect(201);

    let post = async |external: &str, alias: &str| {
        let r = app
            .post(
                "/api/v1/referrals",
                &partner.token,
                with(
                    referral(external, alias, "routine"),
                    json!({"-age": null, "birth_year": 2013}),
                ),
            )
            .await;
        r.expect(201);
        r.json()
    };
    let first = post("M-1", "Neema").await;
    assert!(first["possible_matches"].is_null(), "a partner never sees matches");
    let staff_view = app
        .get(&format!("/api/v1/referrals/{}", id(&first)), &pm.token)
        .await
        .json();
    let matches = staff_view["possible_matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:?}");
    assert_eq!(matches[0]["kind"], "survivor");
    assert_eq!(matches[0]["id"], json!(survivor_id));
    assert_eq!(matches[0]["name"], "Neema");

    // Initials match across spellings ("N.K.", "NK"); open referrals are matched too.
    let by_initials = post("M-2", "N.K.").await;
    let second = post("M-3", "NK").await;
    let seen = app
        .get(&format!("/api/v1/referrals/{}", id(&second)), &pm.token)
        .await
        .json();
    let kinds: Vec<(String, String)> = seen["possible_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds, vec![("referral".to_string(), id(&by_initials))], "{seen}");
    // Staff submitting on a partner's behalf see the matches at once.
    let by_staff = app
        .post(
            "/api/v1/referrals",
            &pm.token,
            with(
                referral("M-4", "Neema", "routine"),
                json!({"partner_id": cjc, "-age": null, "birth_year": 2012}),
            ),
        )
        .await;
    by_staff.expect(201);
    let found: Vec<String> = by_staff.json()["possible_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(found.contains(&survivor_id) && found.contains(&id(&first)), "{found:?}");
    // A case worker sees only the survivors within her reach.
    let worker = app.create_user(Role::CaseWorker, None).await;
    let seen = app
        .get(&format!("/api/v1/referrals/{}", id(&first)), &worker.token)
        .await
        .json();
    assert!(
        seen["possible_matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["kind"] == "referral"),
        "{seen}"
    );

    // Accepting into the matched survivor registers no one new.
    let rid = id(&first);
    action(&app, &pm.token, &rid, "acknowledge", None).await.expect(200);
    // Still shown once acknowledged, when staff decide whether to link or create.
    let acked = app.get(&format!("/api/v1/referrals/{rid}"), &pm.token).await.json();
    assert!(
        acked["possible_matches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == json!(survivor_id)),
        "{acked}"
    );
    let before = app.count("SELECT count(*) FROM survivors").await;
    let accepted = action(
        &app,
        &pm.token,
        &rid,
        "accept",
        Some(json!({"survivor_id": survivor_id})),
    )
    .await;
    accepted.expect(200);
    assert_eq!(accepted.json()["survivor_id"], json!(survivor_id));
    assert_eq!(app.count("SELECT count(*) FROM survivors").await, before);
}

#[actix_web::test]
async fn partners_see_only_their_own_referrals() {
    let app = TestApp::new().await;
    let a = app.create_partner("Bahari justice centre").await;
    let b = app.create_partner("Pwani shelter").await;
    let partner_a = app.create_user(Role::Partner, Some(a)).await;
    let partner_b = app.create_user(Role::Partner, Some(b)).await;
    let pm = app.create_user(Role::ProgramManager, None).await;

    let mine = app
        .post(
            "/api/v1/referrals",
            &partner_a.token,
            referral("A-1", "N.K.", "routine"),
        )
        .await;
    mine.expect(201);
    let mine = id(&mine.json());
    app.post(
        "/api/v1/referrals",
        &partner_b.token,
        referral("B-1", "Z.M.", "routine"),
    )
    .await
    .expect(201);

    let listed = app.get("/api/v1/referrals", &partner_b.token).await.json();
    let listed: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["B-1"]);
    let named = app
        .get(&format!("/api/v1/referrals?partner_id={a}"), &partner_b.token)
        .await
        .json();
    assert_eq!(named["data"], json!([]));
    let all = app.get("/api/v1/referrals", &pm.token).await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    let only_a = app
        .get(&format!("/api/v1/referrals?partner_id={a}"), &pm.token)
        .await
        .json();
    assert_eq!(only_a["data"].as_array().unwrap().len(), 1);

    // Another organisation's referral, or a guessed id: 404 for reading and for every change.
    let guessed = haki::ids::ReferralId::new().to_string();
    for target in [&mine, &guessed] {
        let path = format!("/api/v1/referrals/{target}");
        app.get(&path, &partner_b.token).await.expect_problem(404, "not_found");
        app.patch(&path, &partner_b.token, Some("\"1\""), json!({"safe_tonight": false}))
            .await
            .expect_problem(404, "not_found");
        action(&app, &partner_b.token, target, "withdraw", None)
            .await
            .expect_problem(404, "not_found");
    }
    // The same external_id from another organisation does not touch the first one.
    app.post(
        "/api/v1/referrals",
        &partner_b.token,
        referral("A-1", "Q.Q.", "routine"),
    )
    .await
    .expect(201);
    assert_eq!(
        app.get(&format!("/api/v1/referrals/{mine}"), &partner_a.token)
            .await
            .json()["child_alias"],
        "N.K."
    );
    // Staff endpoints stay closed to partners.
    for path in [
        "/api/v1/cases",
        "/api/v1/survivors",
        "/api/v1/trainings",
        "/api/v1/audit-log",
    ] {
        app.get(path, &partner_a.token).await.expect_problem(403, "forbidden");
    }
    // Analysts see aggregates, not referrals.
    let analyst = app.create_user(Role::Analyst, None).await;
    app.get("/api/v1/referrals", &analyst.token)
        .await
        .expect_problem(403, "forbidden");
}

#[actix_web::test]
async fn urgent_and_emergency_referrals_become_overdue_unacknowledged() {
    let app = TestApp::with_config(|c| c.referral_urgent_window = std::time::Duration::from_secs(12 * 3600)).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let partner = app.create_user(Role::Partner, Some(cjc)).await;
    let pm = app.create_user(Role::ProgramManager, None).await;

    let mut ids = std::collections::HashMap::new();
    // (external id, urgency, hours since submission)
    let cases = [
        ("EMERGENCY-3H", "emergency", 3),
        ("EMERGENCY-1H", "emergency", 1),
        ("URGENT-3H", "urgent", 3),
        ("URGENT-13H", "urgent", 13),
        ("ROUTINE-100H", "routine", 100),
    ];
    for (external, urgency, hours) in cases {
        let r = app
            .post("/api/v1/referrals", &partner.token, referral(external, "O.D.", urgency))
            .await;
        r.expect(201);
        let rid = id(&r.json());
        {
            use diesel_async::RunQueryDsl;
            diesel::sql_query(format!(
                "UPDATE referrals SET created_at = now() - interval '{hours} hours' WHERE id = '{rid}'"
            ))
            .execute(&mut app.conn().await)
            .await
            .expect("backdate");
        }
        ids.insert(external, rid);
    }
    let overdue = |list: &Value| -> Vec<String> {
        let mut v: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["external_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let list = app.get("/api/v1/referrals?overdue=true", &pm.token).await.json();
    assert_eq!(overdue(&list), vec!["EMERGENCY-3H", "URGENT-13H"]);
    assert!(list["data"].as_array().unwrap().iter().all(|r| r["overdue"] == true));
    let not_overdue = app.get("/api/v1/referrals?overdue=false", &pm.token).await.json();
    assert_eq!(overdue(&not_overdue), vec!["EMERGENCY-1H", "ROUTINE-100H", "URGENT-3H"]);
    let one = app
        .get(&format!("/api/v1/referrals/{}", ids["ROUTINE-100H"]), &pm.token)
        .await
        .json();
    assert!(one["acknowledge_by"].is_null());
    assert_eq!(one["overdue"], false);

    // Acknowledging ends it; the time it took is kept.
    let acked = action(&app, &pm.token, &ids["EMERGENCY-3H"], "acknowledge", None).await;
    acked.expect(200);
    assert_eq!(acked.json()["overdue"], false);
    assert!(
        acked.json()["minutes_to_acknowledge"]
            .as_i64()
            .is_some_and(|m| (179..=181).contains(&m))
    );
    let list = app
        .get("/api/v1/referrals?overdue=true&urgency=urgent", &pm.token)
        .await
        .json();
    assert_eq!(overdue(&list), vec!["URGENT-13H"]);
    // Other filters: status, county, submission dates.
    let acked = app.get("/api/v1/referrals?status=acknowledged", &pm.token).await.json();
    assert_eq!(overdue(&acked), vec!["EMERGENCY-3H"]);
    assert_eq!(
        app.get("/api/v1/referrals?county=lamu", &pm.token).await.json()["data"],
        json!([])
    );
    app.get("/api/v1/referrals?from=2026-02-01&to=2026-01-01", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    // One referral from another county, submitted (East Africa Time) on 2025-03-10.
    let lamu = app
        .post(
            "/api/v1/referrals",
            &partner.token,
            with(
                referral("LAMU-1", "L.M.", "routine"),
                json!({"county": "lamu", "sub_county": null}),
            ),
        )
        .await;
    lamu.expect(201);
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE referrals SET created_at = '2025-03-09T21:30:00Z' WHERE id = '{}'",
            id(&lamu.json())
        ))
        .execute(&mut app.conn().await)
        .await
        .expect("backdate");
    }
    let lamu_list = app.get("/api/v1/referrals?county=lamu", &pm.token).await.json();
    assert_eq!(overdue(&lamu_list), vec!["LAMU-1"]);
    for (query, expected) in [
        ("from=2025-03-10&to=2025-03-10", vec!["LAMU-1"]),
        ("from=2025-03-11&to=2025-03-31", vec![]),
        ("from=2025-03-01&to=2025-03-09", vec![]),
        ("from=2025-03-01&to=2025-03-10&county=kilifi", vec![]),
    ] {
        let list = app.get(&format!("/api/v1/referrals?{query}"), &pm.token).await.json();
        assert_eq!(overdue(&list), expected, "{query}");
    }
    let recent = app
        .get(
            &format!(
                "/api/v1/referrals?from={}",
                haki::vocab::today() - chrono::Duration::days(1)
            ),
            &pm.token,
        )
        .await
        .json();
    assert_eq!(
        recent["data"].as_array().unwrap().len(),
        4,
        "all but the one 100 hours old"
    );
}
