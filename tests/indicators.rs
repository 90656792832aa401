//! Indicators against donor targets: each definition checked on a hand-built dataset whose right
//! answer is known (records just inside and just outside the period, another county), the
//! targets, the CSV form and small-cell suppression.

mod common;

use actix_web::test::TestRequest;
use common::{TestApp, bearer};
use haki::auth::Role;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn results(report: &Value) -> std::collections::BTreeMap<String, Value> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["indicator"].as_str().unwrap().to_string(), r["result"].clone()))
        .collect()
}

#[actix_web::test]
async fn each_indicator_counts_what_its_definition_says() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;

    // Survivors: intake on the period's first and last day (in), the day before (out), another county.
    let mut survivors = Vec::new();
    for (intake, county) in [
        ("2025-01-01", "kilifi"),
        ("2025-12-31", "kilifi"),
        ("2024-12-31", "kilifi"),
        ("2025-06-01", "mombasa"),
    ] {
        let s = app
            .post(
                "/api/v1/survivors",
                &pm.token,
                json!({"pseudonym": "S", "birth_year": 2010, "intake_on": intake, "county": county}),
            )
            .await;
        s.expect(201);
        survivors.push(id(&s.json()));
    }
    // Cases: reported in the period (Kilifi, Mombasa) and the day before it (Kilifi).
    let mut cases = Vec::new();
    for (reported, county) in [
        ("2025-01-01", "kilifi"),
        ("2024-12-31", "kilifi"),
        ("2025-03-01", "mombasa"),
    ] {
        let c = app
            .post(
                "/api/v1/cases",
                &pm.token,
                json!({"county": county, "location_type": "hotel", "reported_on": reported}),
            )
            .await;
        c.expect(201);
        cases.push(id(&c.json()));
    }
    let suspect = async |case: &str, status: &str, arrested: Option<&str>| {
        let s = app
            .post(
                &format!("/api/v1/cases/{case}/suspects"),
                &pm.token,
                json!({"name": "X", "role": "customer", "relationship": "tourist", "status": status, "arrested_on": arrested}),
            )
            .await;
        s.expect(201);
        id(&s.json())
    };
    // Arrests: one in the period on a case reported in it, one in the period on a case reported
    // before it (the arrest date decides), one suspect at large, one arrested in Mombasa.
    let first = suspect(&cases[0], "arrested", Some("2025-02-01")).await;
    let second = suspect(&cases[1], "arrested", Some("2025-01-05")).await;
    suspect(&cases[0], "at_large", None).await;
    suspect(&cases[2], "arrested", Some("2025-04-01")).await;
    let charge = async |suspect: &str, filed: &str| {
        let c = app
            .post(
                &format!("/api/v1/suspects/{suspect}/charges"),
                &pm.token,
                json!({"offence_code": "soa-15", "filed_on": filed}),
            )
            .await;
        c.expect(201);
        id(&c.json())
    };
    // Charges: the first suspect twice in the period (counted once); the second first charged the
    // day before the period (not counted, though charged again in it).
    let convicted = charge(&first, "2025-03-01").await;
    charge(&first, "2025-04-01").await;
    charge(&second, "2024-12-31").await;
    let acquitted = charge(&second, "2025-02-01").await;
    app.sql(&format!(
        "UPDATE charges SET status = 'convicted', decided_on = '2025-06-01' WHERE id = '{convicted}'"
    ))
    .await;
    app.sql(&format!(
        "UPDATE charges SET status = 'acquitted', decided_on = '2025-06-02' WHERE id = '{acquitted}'"
    ))
    .await;

    // Court sessions: held and accompanied (in), held alone, adjourned, held and accompanied the
    // year after.
    for (on, status, accompanied, reason) in [
        ("2025-05-01", "held", true, "NULL"),
        ("2025-05-02", "held", false, "NULL"),
        ("2025-05-03", "adjourned", true, "'witness_absent'"),
        ("2026-01-01", "held", true, "NULL"),
    ] {
        app.sql(&format!(
                "INSERT INTO court_sessions (id, case_id, court, scheduled_on, purpose, status, adjournment_reason, survivor_accompanied)
                 VALUES (gen_random_uuid(), '{}', 'Malindi', '{on}', 'hearing', '{status}', {reason}, {accompanied})",
                cases[0]
            ),
        )
        .await;
    }
    // Closures: restored in the period (in), restored but reopened, another reason.
    let (a, b, c) = (&survivors[0], &survivors[1], &survivors[2]);
    app.sql(&format!("INSERT INTO survivor_closures (id, survivor_id, closed_on, reason) VALUES (gen_random_uuid(), '{a}', '2025-07-01', 'restored')")).await;
    app.sql(&format!("INSERT INTO survivor_closures (id, survivor_id, closed_on, reason, reopened_on) VALUES (gen_random_uuid(), '{b}', '2025-07-01', 'restored', '2025-08-01')")).await;
    app.sql(&format!("INSERT INTO survivor_closures (id, survivor_id, closed_on, reason) VALUES (gen_random_uuid(), '{c}', '2025-07-01', 'relocated')")).await;
    // Follow-ups: sustained in the period (in), needing support, sustained after the period.
    for (survivor, on, outcome) in [
        (a, "2025-08-01", "sustained"),
        (b, "2025-08-01", "needs_support"),
        (b, "2026-01-02", "sustained"),
    ] {
        app.sql(&format!("INSERT INTO follow_ups (id, survivor_id, due_on, status, conducted_on, outcome) VALUES (gen_random_uuid(), '{survivor}', '{on}', 'done', '{on}', '{outcome}')")).await;
    }
    // Trainings: 18 people in the period, 7 the day before it.
    for (starts, female, male) in [("2025-03-10", 4, 14), ("2024-12-31", 3, 4)] {
        app.post(
            "/api/v1/trainings",
            &analyst.token,
            json!({"title": "CSEC identification", "format": "workshop", "topics": ["csec_identification"],
                   "starts_on": starts, "ends_on": starts, "county": "kilifi",
                   "participants": [{"audience": "police", "female": female, "male": male}]}),
        )
        .await
        .expect(201);
    }
    // Partners: the justice centre's MOU is in force (in); others expired before the period,
    // inactive, or signed after it.
    app.sql(&format!(
        "UPDATE partners SET mou_signed_on = '2024-01-01', counties = '{{kilifi}}' WHERE id = '{cjc}'"
    ))
    .await;
    for (name, signed, expires, active) in [
        ("Expired", "'2023-01-01'", "'2024-12-31'", true),
        ("Inactive", "'2024-01-01'", "NULL", false),
        ("Later", "'2026-01-01'", "NULL", true),
    ] {
        app.sql(&format!("INSERT INTO partners (id, name, kind, counties, mou_signed_on, mou_expires_on, active) VALUES (gen_random_uuid(), '{name}', 'ngo', '{{kilifi}}', {signed}, {expires}, {active})")).await;
    }
    // Referrals: submitted in the period, and around midnight of New Year in East Africa Time.
    for (external, at) in [
        ("R-1", "2025-03-01 10:00+03"),
        ("R-2", "2024-12-31 22:00+00"), // 01:00 on 1 January in Nairobi: in
        ("R-3", "2024-12-31 20:00+00"), // 23:00 on 31 December in Nairobi: out
    ] {
        let r = app
            .post(
                "/api/v1/referrals",
                &desk.token,
                json!({"external_id": external, "urgency": "routine", "child_alias": "R.R.", "age": 14,
                       "county": "kilifi", "concern": "c", "whereabouts": "with_family", "safe_tonight": true,
                       "consent_to_share": {"given_by": "guardian", "obtained_on": "2024-12-01"}}),
            )
            .await;
        r.expect(201);
        app.sql(&format!(
            "UPDATE referrals SET created_at = '{at}' WHERE id = '{}'",
            id(&r.json())
        ))
        .await;
    }

    let kilifi = app
        .get(
            "/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31&county=kilifi",
            &pm.token,
        )
        .await;
    kilifi.expect(200);
    let expected = json!({
        "survivors_relieved": 2,
        "perpetrators_restrained": 2,
        "people_trained": 18,
        "active_partnerships": 1,
        "cases_reported": 1,
        "suspects_charged": 1,
        "convictions": 1,
        "survivors_restored": 1,
        "court_sessions_supported": 1,
        "follow_ups_sustained": 1,
        "referrals_received": 2,
    });
    let got = results(&kilifi.json());
    assert_eq!(serde_json::to_value(&got).unwrap(), expected, "{}", kilifi.text());
    // The whole program adds Mombasa's survivor, case and arrest.
    let program = app
        .get("/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31", &pm.token)
        .await
        .json();
    let got = results(&program);
    assert_eq!(got["survivors_relieved"], 3);
    assert_eq!(got["cases_reported"], 2);
    assert_eq!(got["perpetrators_restrained"], 3);

    // The catalogue defines every indicator the report shows.
    let catalogue = app.get("/api/v1/indicators", &analyst.token).await.json();
    let defined: Vec<&str> = catalogue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["indicator"].as_str().unwrap())
        .collect();
    assert_eq!(defined.len(), 11);
    for d in catalogue["data"].as_array().unwrap() {
        for field in ["counts", "dated_by", "excludes", "county_of"] {
            assert!(d[field].as_str().is_some_and(|t| t.len() > 5), "{d}");
        }
        assert!(expected.get(d["indicator"].as_str().unwrap()).is_some());
    }

    // Targets with notes; the report shows target, result, percentage and note.
    let set = app
        .send(
            TestRequest::put()
                .uri("/api/v1/indicator-targets")
                .insert_header(bearer(&analyst.token))
                .set_json(json!({"targets": [
                    {"indicator": "survivors_relieved", "from": "2025-01-01", "to": "2025-12-31", "county": "kilifi", "target": 4,
                     "note": "=HYPERLINK(\"http://x\") case detection slowed"},
                    {"indicator": "people_trained", "from": "2025-01-01", "to": "2025-12-31", "county": "kilifi", "target": 0},
                    {"indicator": "convictions", "from": "2025-01-01", "to": "2025-12-31", "target": 11},
                ]})),
        )
        .await;
    set.expect(200);
    assert_eq!(set.json()["data"].as_array().unwrap().len(), 3);
    let report = app
        .get(
            "/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31&county=kilifi",
            &pm.token,
        )
        .await
        .json();
    let row = |r: &Value, name: &str| -> Value {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["indicator"] == name)
            .unwrap()
            .clone()
    };
    let relieved = row(&report, "survivors_relieved");
    assert_eq!(relieved["target"], 4);
    assert_eq!(relieved["percentage"], 50.0);
    assert_eq!(relieved["note"], "=HYPERLINK(\"http://x\") case detection slowed");
    assert!(
        row(&report, "people_trained")["percentage"].is_null(),
        "a zero target has no percentage"
    );
    assert!(
        row(&report, "convictions")["target"].is_null(),
        "the program's target is not Kilifi's"
    );
    let program = app
        .get("/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31", &pm.token)
        .await
        .json();
    assert_eq!(row(&program, "convictions")["target"], 11);
    assert_eq!(row(&program, "convictions")["percentage"], 9.1);

    // Setting a target again replaces it (a new version), and lists show it once.
    let again = app
        .send(
            TestRequest::put()
                .uri("/api/v1/indicator-targets")
                .insert_header(bearer(&pm.token))
                .set_json(json!({"targets": [{"indicator": "convictions", "from": "2025-01-01", "to": "2025-12-31", "target": 12}]})),
        )
        .await;
    again.expect(200);
    assert_eq!(again.json()["data"][0]["version"], 2);
    let listed = app
        .get("/api/v1/indicator-targets?indicator=convictions", &pm.token)
        .await
        .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["target"], 12);

    // CSV: the same table, UTF-8 with a header row, formula-looking text neutralised.
    let csv = app
        .send(
            TestRequest::get()
                .uri("/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31&county=kilifi")
                .insert_header(bearer(&pm.token))
                .insert_header(("Accept", "text/csv")),
        )
        .await;
    csv.expect(200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("indicator,title,target,result,suppressed,percentage,note")
    );
    let relieved = lines.next().unwrap();
    assert!(
        relieved.starts_with("survivors_relieved,Survivors relieved,4,2,false,50.0,"),
        "{relieved}"
    );
    assert!(
        relieved.contains("\"'=HYPERLINK(\"\"http://x\"\") case detection slowed\""),
        "{relieved}"
    );
    assert_eq!(text.lines().count(), 12);

    // Analysts: small counts of children, cases and suspects are withheld; trainings are not.
    let seen = app
        .get(
            "/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31&county=kilifi",
            &analyst.token,
        )
        .await
        .json();
    assert_eq!(seen["small_cell_k"], 5);
    let relieved = row(&seen, "survivors_relieved");
    assert!(relieved["result"].is_null() && relieved["suppressed"] == true && relieved["percentage"].is_null());
    assert_eq!(row(&seen, "people_trained")["result"], 18);
    assert_eq!(row(&seen, "people_trained")["suppressed"], false);
    assert!(report["small_cell_k"].is_null(), "program managers see exact counts");
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn targets_are_validated_and_reports_are_for_their_roles() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let admin = app.admin().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let org = app.create_partner("Justice centre").await;
    let partner = app.create_user(Role::Partner, Some(org)).await;
    let put = async |token: &str, body: Value| {
        app.send(
            TestRequest::put()
                .uri("/api/v1/indicator-targets")
                .insert_header(bearer(token))
                .set_json(body),
        )
        .await
    };
    let good = json!({"indicator": "cases_reported", "from": "2025-01-01", "to": "2025-12-31", "target": 20});
    for (body, field) in [
        (
            json!({"targets": [good, {"indicator": "cases_reported", "from": "2025-02-01", "to": "2025-01-01", "target": 1}]}),
            "targets[1].to",
        ),
        (json!({"targets": [good, good]}), "targets[1]"),
        (
            json!({"targets": [{"indicator": "cases_reported", "from": "2025-01-01", "to": "2025-12-31", "target": -1}]}),
            "targets[0].target",
        ),
        (json!({"targets": []}), "targets"),
    ] {
        let problem = put(&pm.token, body).await.expect_problem(422, "validation_failed");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {problem}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM indicator_targets").await,
        0,
        "all or nothing"
    );
    // Admins read indicators but do not set targets; case workers and partners see neither.
    let problem = put(&admin.token, json!({"targets": [good]}))
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(problem["extensions"]["permission"], "set_indicator_targets");
    app.get("/api/v1/indicators", &admin.token).await.expect(200);
    for user in [&worker, &partner] {
        for path in [
            "/api/v1/indicators",
            "/api/v1/indicator-targets",
            "/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31",
        ] {
            app.get(path, &user.token).await.expect_problem(403, "forbidden");
        }
    }
    app.get("/api/v1/reports/indicators?from=2025-02-01&to=2025-01-01", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/reports/indicators?from=2025-02-01", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    // Every report is in the audit log.
    app.get("/api/v1/reports/indicators?from=2025-01-01&to=2025-12-31", &pm.token)
        .await
        .expect(200);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'report.indicators'")
            .await,
        1
    );
}
