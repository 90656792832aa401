//! Trainings and mentoring: who records them, what is refused, the derived totals, the filters.

mod common;

use common::TestApp;
use haki::auth::Role;
use serde_json::{Value, json};

fn training(county: &str, starts_on: &str, topic: &str, audience: &str) -> Value {
    json!({
        "title": "CSEC identification for police officers",
        "format": "workshop",
        "topics": [topic],
        "starts_on": starts_on,
        "ends_on": starts_on,
        "county": county,
        "venue": "Malindi police station",
        "institutions": ["Malindi police station", " Anti-Human Trafficking and Child Protection Unit ", ""],
        "participants": [{"audience": audience, "female": 4, "male": 11}, {"audience": "community", "female": 3, "male": 0}],
        "pre_test_average": 52.5,
        "post_test_average": 78.0
    })
}

#[actix_web::test]
async fn trainings_are_recorded_validated_and_filtered() {
    let app = TestApp::new().await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let admin = app.admin().await;
    let org = app.create_partner("Justice centre").await;
    let partner = app.create_user(Role::Partner, Some(org)).await;

    let created = app
        .post(
            "/api/v1/trainings",
            &analyst.token,
            training("kilifi", "2025-03-10", "csec_identification", "police"),
        )
        .await;
    created.expect(201);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let t = created.json();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/trainings/{}", t["id"].as_str().unwrap()).as_str())
    );
    assert_eq!(t["total_participants"], 18);
    assert_eq!(t["knowledge_gain"], 25.5);
    assert_eq!(
        t["institutions"],
        json!([
            "Malindi police station",
            "Anti-Human Trafficking and Child Protection Unit"
        ])
    );

    // Refused, each naming its field, and nothing written.
    for (change, field, code) in [
        (
            json!({"participants": [{"audience": "police", "female": -1, "male": 2}]}),
            "participants[0].female",
            "range",
        ),
        (json!({"ends_on": "2025-03-09"}), "ends_on", "before_start"),
        (json!({"post_test_average": 101}), "post_test_average", "range"),
        (
            json!({"participants": [{"audience": "police", "female": 1, "male": 2}, {"audience": "police", "female": 1, "male": 0}]}),
            "participants",
            "duplicate_audience",
        ),
        (json!({"title": "  "}), "title", "blank"),
    ] {
        let mut body = training("kilifi", "2025-03-10", "csec_identification", "police");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.post("/api/v1/trainings", &pm.token, body).await;
        let problem = r.expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    assert_eq!(app.count("SELECT count(*) FROM trainings").await, 1);

    // Analysts and program managers record; other staff read; partners see none.
    for user in [&worker, &admin] {
        let r = app
            .post(
                "/api/v1/trainings",
                &user.token,
                training("kwale", "2025-04-01", "ctip_act", "prosecutors"),
            )
            .await;
        assert_eq!(
            r.expect_problem(403, "forbidden")["extensions"]["permission"],
            "record_trainings"
        );
        app.get("/api/v1/trainings", &user.token).await.expect(200);
    }
    app.get("/api/v1/trainings", &partner.token)
        .await
        .expect_problem(403, "forbidden");
    app.post(
        "/api/v1/trainings",
        &pm.token,
        training("kwale", "2025-04-01", "ctip_act", "prosecutors"),
    )
    .await
    .expect(201);
    let mut mentoring = training("mombasa", "2025-05-20", "trauma_informed_care", "faith_leaders");
    mentoring["format"] = json!("mentoring_visit");
    app.post("/api/v1/trainings", &pm.token, mentoring).await.expect(201);

    let ids = |q: &'static str| {
        let app = &app;
        let token = worker.token.clone();
        async move {
            let r = app.get(&format!("/api/v1/trainings?{q}"), &token).await;
            r.expect(200);
            r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["county"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("").await, ["mombasa", "kwale", "kilifi"], "latest first");
    assert_eq!(ids("county=kwale").await, ["kwale"]);
    assert_eq!(ids("topic=trauma_informed_care").await, ["mombasa"]);
    assert_eq!(ids("audience=police").await, ["kilifi"]);
    assert_eq!(ids("audience=community").await, ["mombasa", "kwale", "kilifi"]);
    assert_eq!(ids("format=mentoring_visit").await, ["mombasa"]);
    assert_eq!(ids("from=2025-04-01&to=2025-04-30").await, ["kwale"]);
    app.get("/api/v1/trainings?from=2025-04-30&to=2025-04-01", &worker.token)
        .await
        .expect_problem(400, "invalid_query");
    let first = app.get("/api/v1/trainings?limit=2", &worker.token).await.json();
    let next = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/trainings?limit=2&cursor={next}"), &worker.token)
        .await
        .json();
    assert_eq!(second["data"][0]["county"], "kilifi");
    assert_eq!(second["next_cursor"], Value::Null);

    // Corrections need If-Match and keep their rules.
    let path = format!("/api/v1/trainings/{}", t["id"].as_str().unwrap());
    app.patch(&path, &analyst.token, None, json!({"venue": "Watamu"}))
        .await
        .expect_problem(428, "precondition_required");
    let r = app
        .patch(&path, &analyst.token, Some("\"1\""), json!({"starts_on": "2025-03-11"}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["code"],
        "before_start"
    );
    let changed = app
        .patch(
            &path,
            &analyst.token,
            Some("\"1\""),
            json!({"participants": [{"audience": "police", "female": 10, "male": 10}], "pre_test_average": null}),
        )
        .await;
    changed.expect(200);
    assert_eq!(changed.header("etag"), Some("\"2\""));
    assert_eq!(changed.json()["total_participants"], 20);
    assert_eq!(changed.json()["knowledge_gain"], Value::Null);
    let read = app.get(&path, &worker.token).await;
    read.expect(200);
    assert_eq!(read.json()["version"], 2);
    app.assert_tallies_agree().await;
}

#[actix_web::test]
async fn a_retried_training_is_recorded_once() {
    let app = TestApp::new().await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let post = || {
        actix_web::test::TestRequest::post()
            .uri("/api/v1/trainings")
            .insert_header(common::bearer(&analyst.token))
            .insert_header(("Idempotency-Key", "training-2025-03-10"))
            .set_json(training("kilifi", "2025-03-10", "csec_identification", "police"))
    };
    let first = app.send(post()).await;
    first.expect(201);
    let replay = app.send(post()).await;
    replay.expect(201);
    assert_eq!(first.json()["id"], replay.json()["id"]);
    assert_eq!(app.count("SELECT count(*) FROM trainings").await, 1);
}
