//! Conventions every endpoint shares: errors, request ids, pagination, idempotency, ETags,
//! operations endpoints, the OpenAPI document, database outages.

mod common;

use actix_web::test::TestRequest;
use common::{TestApp, bearer};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::new().await;
    app.send(TestRequest::get().uri("/healthz")).await.expect(200);
    let ready = app.send(TestRequest::get().uri("/readyz")).await;
    ready.expect(200);
    assert_eq!(ready.json()["status"], "ok");

    // Metrics need their own token: not public, and not a user's token either.
    app.send(TestRequest::get().uri("/metrics"))
        .await
        .expect_problem(401, "unauthenticated");
    let admin = app.admin().await;
    app.get("/metrics", &admin.token)
        .await
        .expect_problem(401, "unauthenticated");
    let metrics = app.get("/metrics", common::METRICS_TOKEN).await;
    metrics.expect(200);
    let text = metrics.text();
    assert!(
        text.contains(r#"haki_http_requests_total{method="GET",route="/readyz",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("haki_http_request_duration_seconds_bucket"), "{text}");
    // The pool of work off the HTTP workers (4) and the pool of the one worker here (4).
    assert!(text.contains(r#"haki_db_pool_connections{state="max"} 8"#), "{text}");
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_echoes_a_given_one() {
    let app = TestApp::new().await;
    let generated = app.send(TestRequest::get().uri("/healthz")).await;
    assert!(generated.header("x-request-id").is_some_and(|id| id.len() >= 32));

    let echoed = app
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("X-Request-Id", "trace-abc.123")),
        )
        .await;
    let body = echoed.expect_problem(401, "unauthenticated");
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc.123"));
    assert_eq!(body["request_id"], "trace-abc.123");

    // A header that could forge log lines is replaced, not echoed.
    let replaced = app
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("X-Request-Id", "a b\tc")),
        )
        .await;
    assert_ne!(replaced.header("x-request-id"), Some("a b\tc"));
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    // Authentication comes first: without credentials, even a missing route is a 401.
    app.send(TestRequest::get().uri("/api/v1/nothing-here"))
        .await
        .expect_problem(401, "unauthenticated");
    app.get("/api/v1/nothing-here", &admin.token)
        .await
        .expect_problem(404, "not_found");
    app.send(TestRequest::get().uri("/nothing-here"))
        .await
        .expect_problem(404, "not_found");
    // 405 says which methods the resource allows.
    let r = app
        .send(
            TestRequest::delete()
                .uri("/api/v1/me")
                .insert_header(bearer(&admin.token)),
        )
        .await;
    r.expect_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = app
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::TRACE)
                .uri("/api/v1/partners")
                .insert_header(bearer(&admin.token)),
        )
        .await;
    r.expect_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = app.send(TestRequest::put().uri("/api/v1/auth/login")).await;
    r.expect_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = app.send(TestRequest::post().uri("/healthz")).await;
    assert_eq!(r.header("allow"), Some("GET"));
}

#[actix_web::test]
async fn authentication_is_checked_before_anything_else() {
    let app = TestApp::new().await;
    // A malformed Idempotency-Key, an unknown query parameter, a bad body: still 401 first.
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/partners?bogus=1")
                .insert_header(("Idempotency-Key", "has spaces in it"))
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("{"),
        )
        .await;
    r.expect_problem(401, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="haki""#));
    app.send(TestRequest::patch().uri("/api/v1/cases/not-a-uuid"))
        .await
        .expect_problem(401, "unauthenticated");
}

#[actix_web::test]
async fn unknown_query_parameters_are_named() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let r = app
        .get(
            "/api/v1/partners?limit=5&kynd=ngo&county=kilifi&sort_by=name&kynd=cbo",
            &admin.token,
        )
        .await;
    let body = r.expect_problem(400, "unknown_parameter");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kynd", "sort_by"]);
    assert!(body["detail"].as_str().unwrap().contains("kynd"), "{body}");
    app.get("/api/v1/partners?limit=5&kind=ngo", &admin.token)
        .await
        .expect(200);
}

#[actix_web::test]
async fn writes_in_place_need_if_match() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let created = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "Kwale Shelter", "kind": "shelter"}),
        )
        .await;
    created.expect(201);
    let path = format!("/api/v1/partners/{}", created.json()["id"].as_str().unwrap());
    // Without If-Match: 428, saying what to send; nothing changes.
    let r = app.patch(&path, &admin.token, None, json!({"notes": "x"})).await;
    let body = r.expect_problem(428, "precondition_required");
    assert!(body["detail"].as_str().unwrap().contains("If-Match"), "{body}");
    let after = app.get(&path, &admin.token).await;
    assert_eq!(after.json()["version"], 1);
    assert_eq!(after.json()["notes"], Value::Null);
    // With the ETag read: applied.
    app.patch(&path, &admin.token, Some("\"1\""), json!({"notes": "x"}))
        .await
        .expect(200);
    // A whole number written as 3.0 is the integer 3 (JSON Schema does not tell them apart).
    let officer = app.create_user(haki::auth::Role::AftercareOfficer, None).await;
    let survivor = app
        .post(
            "/api/v1/survivors",
            &officer.token,
            json!({"pseudonym": "Amani", "age_at_intake": 13.0, "county": "kwale", "intake_on": "2025-01-10"}),
        )
        .await;
    survivor.expect(201);
    assert_eq!(survivor.json()["age_at_intake"], 13);
    let fraction = app
        .post(
            "/api/v1/survivors",
            &officer.token,
            json!({"pseudonym": "Amani", "age_at_intake": 13.5, "intake_on": "2025-01-10"}),
        )
        .await;
    fraction.expect_problem(422, "validation_failed");
}

#[actix_web::test]
async fn malformed_and_invalid_bodies() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        TestRequest::post()
            .uri("/api/v1/partners")
            .insert_header(bearer(&admin.token))
            .insert_header(("Content-Type", content_type))
            .set_payload(body)
    };

    // Malformed JSON → 400.
    let r = app.send(post_raw(r#"{"name": "#, "application/json")).await;
    r.expect_problem(400, "malformed_body");

    // Wrong content type → 415.
    let r = app.send(post_raw(r#"{"name":"A","kind":"ngo"}"#, "text/plain")).await;
    r.expect_problem(415, "unsupported_media_type");

    // Unknown enum value → 422 naming the field.
    let r = app
        .send(post_raw(r#"{"name":"A","kind":"pirates"}"#, "application/json"))
        .await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "kind");
    assert_eq!(body["errors"][0]["code"], "unknown_variant");

    // Wrong type → 422.
    let r = app
        .send(post_raw(r#"{"name":42,"kind":"ngo"}"#, "application/json"))
        .await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "name");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    // Missing required field → 422.
    let r = app.send(post_raw(r#"{"kind":"ngo"}"#, "application/json")).await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(
        body["errors"][0],
        json!({"field": "name", "code": "required", "message": "is required"})
    );

    // Unknown field → 422 (typos are not silently ignored).
    let r = app
        .send(post_raw(r#"{"name":"A","kind":"ngo","nmae":"x"}"#, "application/json"))
        .await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "nmae");
    assert_eq!(body["errors"][0]["code"], "unknown_field");

    // NUL byte in text → 422 naming the nested field.
    let r = app
        .send(post_raw(
            r#"{"name":"A","kind":"ngo","contact":{"name":"x\u0000y"}}"#,
            "application/json",
        ))
        .await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "contact.name");
    assert_eq!(body["errors"][0]["code"], "nul_byte");

    // Validation rules → 422 listing every failing field.
    let r = app
        .send(post_raw(
            r#"{"name":"","kind":"ngo","contact":{"email":"nope"}}"#,
            "application/json",
        ))
        .await;
    let body = r.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["contact.email", "name"]);

    // Over the body limit (64 KiB in tests) → 413.
    let big = format!(r#"{{"name":"A","kind":"ngo","notes":"{}"}}"#, "x".repeat(70_000));
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/partners")
                .insert_header(bearer(&admin.token))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(big),
        )
        .await;
    r.expect_problem(413, "payload_too_large");

    // None of it was written.
    assert_eq!(app.count("SELECT count(*) FROM partners").await, 0);
}

#[actix_web::test]
async fn malformed_path_and_query() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.get("/api/v1/users/not-a-uuid", &admin.token)
        .await
        .expect_problem(400, "invalid_path");
    app.get("/api/v1/users?limit=abc", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/users?limit=201", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/users?limit=0", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/users?cursor=garbage!", &admin.token)
        .await
        .expect_problem(400, "invalid_cursor");
    app.get("/api/v1/users?role=emperor", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    // A required parameter left out is named.
    let missing = app
        .get("/api/v1/stats/overview?to=2025-12-31", &admin.token)
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(missing["detail"], "The query parameter `from` is required.");
    assert_eq!(missing["errors"][0]["field"], "from");
}

#[actix_web::test]
async fn cursor_pagination_walks_every_row_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for i in 0..7 {
        app.create_partner(&format!("Partner {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/partners?limit=3&cursor={c}"),
            None => "/api/v1/partners?limit=3".to_string(),
        };
        let page = app.get(&path, &admin.token).await;
        page.expect(200);
        let body = page.json();
        pages += 1;
        for p in body["data"].as_array().unwrap() {
            seen.push(p["name"].as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Newest first, each exactly once.
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Partner {i}")).collect();
    assert_eq!(seen, expected);
}

#[actix_web::test]
async fn idempotency_key_replays_and_rejects_reuse() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let post = |key: &'static str, body: Value| {
        TestRequest::post()
            .uri("/api/v1/partners")
            .insert_header(bearer(&admin.token))
            .insert_header(("Idempotency-Key", key))
            .set_json(body)
    };
    let body = json!({"name": "Mombasa Shelter", "kind": "shelter"});
    let first = app.send(post("key-1", body.clone())).await;
    first.expect(201);
    let again = app.send(post("key-1", body.clone())).await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(app.count("SELECT count(*) FROM partners").await, 1);

    // Same key, another body → 422, nothing written.
    let other = app.send(post("key-1", json!({"name": "Other", "kind": "ngo"}))).await;
    other.expect_problem(422, "idempotency_key_reused");
    assert_eq!(app.count("SELECT count(*) FROM partners").await, 1);

    // Client errors are replayed too: the same request gets the same answer.
    let dup = app.send(post("key-2", body.clone())).await;
    dup.expect_problem(409, "already_exists");
    let dup_again = app.send(post("key-2", body.clone())).await;
    dup_again.expect(409);
    assert_eq!(dup_again.header("idempotent-replayed"), Some("true"));
    // ...and keys belong to their caller: another admin's key-1 is a fresh request.
    let other_admin = app.admin().await;
    let theirs = app
        .send(
            TestRequest::post()
                .uri("/api/v1/partners")
                .insert_header(bearer(&other_admin.token))
                .insert_header(("Idempotency-Key", "key-1"))
                .set_json(json!({"name": "Kwale Centre", "kind": "community_justice_centre"})),
        )
        .await;
    theirs.expect(201);
    assert!(theirs.header("idempotent-replayed").is_none());
}

#[actix_web::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::new().await;
    let allowed = app
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/api/v1/me")
                .insert_header(("Origin", "http://dashboard.example"))
                .insert_header(("Access-Control-Request-Method", "GET")),
        )
        .await;
    allowed.expect(200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://dashboard.example")
    );

    let other = app
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("Origin", "http://evil.example")),
        )
        .await;
    assert!(other.header("access-control-allow-origin").is_none());
    // A browser asking first (preflight) is refused with a problem naming the setting.
    let refused = app
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/api/v1/me")
                .insert_header(("Origin", "http://evil.example"))
                .insert_header(("Access-Control-Request-Method", "GET")),
        )
        .await;
    let body = refused.expect_problem(400, "cors_refused");
    assert!(body["detail"].as_str().unwrap().contains("HAKI_CORS_ORIGINS"));
    let preflight = app
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/api/v1/me")
                .insert_header(("Origin", "http://dashboard.example"))
                .insert_header(("Access-Control-Request-Method", "TRACE")),
        )
        .await;
    preflight.expect_problem(400, "cors_refused");
}

#[actix_web::test]
async fn database_outage_is_503_and_recovers_by_itself() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.get("/api/v1/me", &admin.token).await.expect(200);

    let mut server = app.conn().await;
    // Take the database away: cut every connection to it and rename it.
    let away = format!("{}_away", app.db_name);
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        app.db_name
    ))
    .execute(&mut server)
    .await
    .unwrap();
    drop(server);
    let mut admin_conn: diesel_async::AsyncPgConnection =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&common::base_url())
            .await
            .unwrap();
    rename_when_free(&mut admin_conn, &app.db_name, &away).await;

    let down = app.get("/api/v1/me", &admin.token).await;
    let body = down.expect_problem(503, "database_unavailable");
    assert!(
        !body["detail"].as_str().unwrap().contains("postgres"),
        "no internals: {body}"
    );
    assert!(down.header("retry-after").is_some());
    app.send(TestRequest::get().uri("/readyz"))
        .await
        .expect_problem(503, "database_unavailable");
    app.send(TestRequest::get().uri("/healthz")).await.expect(200);

    rename_when_free(&mut admin_conn, &away, &app.db_name).await;
    let mut status = 0;
    for _ in 0..5 {
        status = app.get("/api/v1/me", &admin.token).await.status.as_u16();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the service did not recover");
    app.send(TestRequest::get().uri("/readyz")).await.expect(200);
}

async fn rename_when_free(conn: &mut diesel_async::AsyncPgConnection, from: &str, to: &str) {
    for _ in 0..50 {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{from}' AND pid <> pg_backend_pid()"
        ))
        .execute(conn)
        .await
        .unwrap();
        if diesel::sql_query(format!("ALTER DATABASE {from} RENAME TO {to}"))
            .execute(conn)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("could not rename {from}");
}

#[actix_web::test]
async fn committed_openapi_document_is_current() {
    let generated = haki::openapi::spec();
    let generated = serde_json::to_value(&generated).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let committed: Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: regenerate it with `make openapi` (cargo run -- openapi > openapi/openapi.json) and commit it"
    );
    assert!(generated["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(generated["components"]["securitySchemes"]["bearer"].is_object());
    assert!(generated["components"]["schemas"]["Problem"].is_object());
    // Every operation has an id and documents its errors as problems.
    for (path, item) in generated["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
            let problem = &op["responses"]["500"]["content"]["application/problem+json"];
            assert!(
                problem.is_object(),
                "{method} {path} does not document 500 as a problem"
            );
            // 428 only where If-Match is required (PATCH, PUT of one record; not the caller's
            // password, nor indicator targets, which are set by their key and carry no one version).
            assert_eq!(
                op["responses"]["428"].is_object(),
                matches!(method.as_str(), "patch" | "put")
                    && !matches!(path.as_str(), "/api/v1/me/password" | "/api/v1/indicator-targets"),
                "{method} {path}"
            );
        }
    }
    // Fields of which one must be given say so: every branch requires one, non-null.
    let schemas = &generated["components"]["schemas"];
    for (schema, fields) in [
        ("CreateSurvivor", ["birth_year", "age_at_intake"]),
        ("LinkSurvivor", ["survivor_id", "survivor"]),
        ("SubmitReferral", ["age", "birth_year"]),
    ] {
        let branches = schemas[schema]["anyOf"].as_array().unwrap();
        for (branch, field) in branches.iter().zip(fields) {
            assert_eq!(branch["required"], json!([field]), "{schema}");
            assert_ne!(branch["properties"][field]["type"], "null", "{schema}");
        }
    }
}

#[actix_web::test]
async fn served_spec_and_swagger_ui() {
    let app = TestApp::new().await;
    let spec = app.send(TestRequest::get().uri("/openapi.json")).await;
    spec.expect(200);
    assert_eq!(spec.json(), serde_json::to_value(haki::openapi::spec()).unwrap());
    let ui = app.send(TestRequest::get().uri("/docs/")).await;
    ui.expect(200);
    assert!(ui.text().contains("swagger"), "{}", ui.text());
    for path in ["/docs", "/"] {
        let redirect = app.send(TestRequest::get().uri(path)).await;
        assert!(redirect.status.is_redirection(), "{path}");
        assert_eq!(redirect.header("location"), Some("/docs/"), "{path}");
    }
}

#[actix_web::test]
async fn every_invalid_field_at_once_in_plain_words() {
    let app = TestApp::new().await;
    let manager = app.create_user(haki::auth::Role::ProgramManager, None).await;
    let r = app
        .post(
            "/api/v1/cases",
            &manager.token,
            json!({
                "location_type": "castle",
                "reported_on": "2025-02-30",
                "risk_level": 3,
                "summary": "x".repeat(5000),
                "colour": "blue"
            }),
        )
        .await;
    let body = r.expect_problem(422, "validation_failed");
    let errors = body["errors"].as_array().unwrap();
    let by_field = |f: &str| {
        errors
            .iter()
            .find(|e| e["field"] == f)
            .unwrap_or_else(|| panic!("no error for {f}: {body}"))
            .clone()
    };
    assert_eq!(by_field("county")["code"], "required");
    assert_eq!(by_field("location_type")["code"], "unknown_variant");
    assert!(
        by_field("location_type")["message"].as_str().unwrap().contains("hotel"),
        "{body}"
    );
    assert_eq!(
        by_field("reported_on")["message"],
        "must be a real date written YYYY-MM-DD"
    );
    assert_eq!(by_field("risk_level")["code"], "invalid_type");
    assert_eq!(by_field("colour")["code"], "unknown_field");
    // No Rust type names or serde phrases reach a client.
    let text = body.to_string();
    for phrase in ["i32", "i64", "struct", "expected", "premature", "variant `", "serde"] {
        assert!(!text.contains(phrase), "`{phrase}` in {text}");
    }

    // A query parameter that cannot be read is named.
    let r = app.get("/api/v1/cases?stage=sleeping&limit=ten", &manager.token).await;
    let body = r.expect_problem(400, "invalid_query");
    assert!(body["detail"].as_str().unwrap().contains('`'), "{body}");
    assert!(
        ["stage", "limit"].contains(&body["errors"][0]["field"].as_str().unwrap()),
        "{body}"
    );

    // An unknown reference names its field.
    let r = app
        .post(
            "/api/v1/cases",
            &manager.token,
            json!({"county": "kwale", "location_type": "hotel", "reported_on": "2025-02-03",
                   "referral_partner_id": "0193a1b2-0000-7000-8000-000000000000"}),
        )
        .await;
    let body = r.expect_problem(422, "invalid_reference");
    assert_eq!(body["errors"][0]["field"], "referral_partner_id", "{body}");

    // `null` for a field that cannot be cleared is refused, not ignored.
    let case = app
        .post(
            "/api/v1/cases",
            &manager.token,
            json!({"county": "kwale", "location_type": "hotel", "reported_on": "2025-02-03"}),
        )
        .await;
    case.expect(201);
    let path = format!("/api/v1/cases/{}", case.json()["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &manager.token,
            Some("\"1\""),
            json!({"county": null, "risk_level": null}),
        )
        .await;
    let body = r.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["errors"][0]["code"], "not_nullable", "{body}");
    // A malformed If-Match is a 400 saying what to send.
    let r = app
        .patch(&path, &manager.token, Some("3"), json!({"summary": "x"}))
        .await;
    r.expect_problem(400, "malformed_if_match");
    // An empty If-Match names no version: as if absent, so a PATCH needs one (428).
    let r = app
        .patch(&path, &manager.token, Some(""), json!({"summary": "x"}))
        .await;
    r.expect_problem(428, "precondition_required");
}

#[actix_web::test]
async fn the_idempotency_store_keeps_nothing_it_should_not() {
    let app = TestApp::new().await;
    let pm = app.create_user(haki::auth::Role::ProgramManager, None).await;
    let worker = app.create_user(haki::auth::Role::CaseWorker, None).await;
    let keyed = |path: String, token: String, key: &'static str, body: Value| {
        TestRequest::post()
            .uri(&path)
            .insert_header(bearer(&token))
            .insert_header(("Idempotency-Key", key))
            .set_json(body)
    };
    let mut conn = app.conn().await;

    // A login is never stored, even with a key and a valid token: no token is ever kept.
    let login = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .insert_header(bearer(&worker.token))
                .insert_header(("Idempotency-Key", "login-1"))
                .peer_addr("10.0.0.9:5000".parse().unwrap())
                .set_json(json!({"email": worker.email, "password": common::PASSWORD})),
        )
        .await;
    login.expect(200);
    // ...nor under an encoded spelling of its path, which routes to the same handler.
    let encoded = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/%6Cogin")
                .insert_header(bearer(&worker.token))
                .insert_header(("Idempotency-Key", "login-2"))
                .peer_addr("10.0.0.9:5000".parse().unwrap())
                .set_json(json!({"email": worker.email, "password": common::PASSWORD})),
        )
        .await;
    encoded.expect(200);
    assert_eq!(app.count("SELECT count(*) FROM idempotency_keys").await, 0);

    // A replay re-checks reach: unassigned since, the case worker gets 404, not the stored answer.
    let case_body = json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"});
    let created = app
        .send(keyed(
            "/api/v1/cases".into(),
            worker.token.clone(),
            "case-1",
            case_body.clone(),
        ))
        .await;
    created.expect(201);
    let case = created.json()["id"].as_str().unwrap().to_string();
    let events = format!("/api/v1/cases/{case}/events");
    let event = json!({"kind": "police_follow_up", "occurred_on": "2025-03-02", "note": "Statement taken"});
    app.send(keyed(events.clone(), worker.token.clone(), "event-1", event.clone()))
        .await
        .expect(201);
    let replay = app
        .send(keyed(events.clone(), worker.token.clone(), "event-1", event.clone()))
        .await;
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/cases/{case}/assignments/{}", worker.id))
            .insert_header(bearer(&pm.token)),
    )
    .await
    .expect(204);
    app.send(keyed(events.clone(), worker.token.clone(), "event-1", event.clone()))
        .await
        .expect_problem(404, "not_found");
    app.send(keyed("/api/v1/cases".into(), worker.token.clone(), "case-1", case_body))
        .await
        .expect_problem(404, "not_found");

    // Two requests with one key at once: one runs, the other gets 409 or the replay.
    let before = app.count("SELECT count(*) FROM case_events").await;
    let (a, b) = futures_util::join!(
        app.send(keyed(events.clone(), pm.token.clone(), "event-2", event.clone())),
        app.send(keyed(events.clone(), pm.token.clone(), "event-2", event.clone())),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert!(statuses == [201, 201] || statuses == [201, 409], "{statuses:?}");
    assert_eq!(app.count("SELECT count(*) FROM case_events").await, before + 1);

    // A claim whose request died before its action committed is released and the request runs;
    // one whose action committed never runs again (409).
    let hash = |body: &Value| {
        let hash = app
            .state
            .keyed_hash(&[b"POST", events.as_bytes(), &serde_json::to_vec(body).unwrap()]);
        format!("\\x{}", hex::encode(hash))
    };
    for (key, committed) in [("died-before", false), ("died-after", true)] {
        diesel::sql_query(format!(
            "INSERT INTO idempotency_keys (principal, key, request_hash, claim_id, committed, created_at)
             VALUES ('{}', '{key}', '{}', gen_random_uuid(), {committed}, now() - interval '10 minutes')",
            pm.id,
            hash(&event)
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let before = app.count("SELECT count(*) FROM case_events").await;
    app.send(keyed(events.clone(), pm.token.clone(), "died-before", event.clone()))
        .await
        .expect(201);
    let lost = app
        .send(keyed(events.clone(), pm.token.clone(), "died-after", event.clone()))
        .await;
    let lost = lost.expect_problem(409, "idempotency_in_progress");
    assert!(lost["detail"].as_str().unwrap().contains("done its work"), "{lost}");
    assert_eq!(app.count("SELECT count(*) FROM case_events").await, before + 1);

    // Stored answers are purged after 24 hours by the service's periodic job.
    diesel::sql_query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'event-2'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(haki::idempotency::purge_expired(&app.state).await.unwrap(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys WHERE key = 'event-2'")
            .await,
        0
    );
    assert!(
        app.count("SELECT count(*) FROM idempotency_keys").await > 0,
        "fresh ones stay"
    );

    // What is kept holds no token (the claims above matched the server's keyed hash of the
    // request, which is all that is kept of it).
    assert_eq!(
        app.count(
            "SELECT count(*) FROM idempotency_keys
             WHERE position('access_token'::bytea IN coalesce(body, ''::bytea)) > 0"
        )
        .await,
        0
    );
}

#[actix_web::test]
async fn the_services_role_cannot_disable_or_rewrite_the_audit_log() {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let app = TestApp::new().await;
    let mut owner = app.conn().await;
    // The service's role as `make run` and `HAKI_MIGRATION_DATABASE_URL` set it up.
    let role = format!("svc_{}", app.db_name.trim_start_matches("haki_"));
    owner
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS \"{role}\"; CREATE ROLE \"{role}\" LOGIN PASSWORD 'service pw'; {}",
            haki::db::service_grants(&role)
        ))
        .await
        .unwrap();
    let url = common::url_for(&app.db_name);
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let mut service = diesel_async::AsyncPgConnection::establish(&format!("{scheme}://{role}:service%20pw@{host}"))
        .await
        .expect("connect as the service's role");
    // It does its work: reads records, appends to the audit log.
    diesel::sql_query("SELECT count(*) FROM cases")
        .execute(&mut service)
        .await
        .unwrap();
    haki::audit::AuditEvent::operator("test.entry", "system", "roles")
        .record(&service)
        .await
        .unwrap();
    // It cannot rewrite, erase or switch off the trail.
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET action = 'x'",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    ] {
        assert!(
            service.batch_execute(sql).await.is_err(),
            "the service's role could run: {sql}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'test.entry'")
            .await,
        1
    );
    // A replica started with this role only (migrations applied by the owner) starts: with
    // nothing pending it writes nothing to the schema.
    let service_url = format!("{scheme}://{role}:service%20pw@{host}");
    let started = tokio::task::spawn_blocking(move || haki::db::migrate_as_owner(&service_url, None))
        .await
        .unwrap();
    assert_eq!(started.map_err(|e| e.to_string()), Ok(Vec::new()));
    drop(service);
    owner
        .batch_execute(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\""))
        .await
        .unwrap();
}

/// `haki backup` of a populated database and document store, `haki restore` into a fresh
/// cluster, and a service with the same keys reads an identity and a document back.
#[actix_web::test]
async fn a_backup_restores_into_a_fresh_cluster() {
    use haki::auth::Role;
    let app = TestApp::new().await;
    let officer = app.create_user(Role::AftercareOfficer, None).await;
    let survivor = app
        .post(
            "/api/v1/survivors",
            &officer.token,
            json!({"pseudonym": "Neema", "sex": "female", "age_at_intake": 14, "intake_on": "2026-01-10",
                   "county": "kilifi", "placement": "shelter", "schooling": "primary"}),
        )
        .await
        .json();
    let sid = survivor["id"].as_str().unwrap().to_string();
    let identity =
        json!({"legal_name": "Neema Zawadi Baya", "guardian_name": "Mama Neema", "guardian_relationship": "mother"});
    app.send(
        TestRequest::put()
            .uri(&format!("/api/v1/survivors/{sid}/identity"))
            .insert_header(bearer(&officer.token))
            .insert_header(("If-Match", "*"))
            .set_json(&identity),
    )
    .await
    .expect(200);
    let file = common::pdf(150_000);
    let uploaded = common::upload(
        &app,
        &officer.token,
        &format!("/api/v1/survivors/{sid}/documents"),
        &[
            ("kind", "medical_report"),
            ("title", "Medical report"),
            ("document_date", "2026-01-12"),
            ("identifying", "false"),
        ],
        Some(&file),
    )
    .await;
    uploaded.expect(201);
    let document = uploaded.json()["id"].as_str().unwrap().to_string();

    let backup = std::env::temp_dir().join(format!("haki-test-backup-{}", uuid::Uuid::now_v7().simple()));
    let haki_as = |args: &[&str], database_url: &str, store: &str, owner: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_haki"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("HAKI_DOCUMENT_STORE", store);
        if let Some(owner) = owner {
            command.env("HAKI_MIGRATION_DATABASE_URL", owner);
        }
        let out = command.output().expect("run haki");
        assert!(
            out.status.success(),
            "haki {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let haki = |args: &[&str], database_url: &str, store: &str| haki_as(args, database_url, store, None);
    let said = haki(
        &["backup", backup.to_str().unwrap()],
        &app.state.config.database_url,
        &app.state.config.document_store,
    );
    assert!(said.contains("1 document objects"), "{said}");
    // Readable by the operator alone.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(backup.join("database.dump"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // The backup holds no key: the identity is sealed and the file encrypted in it.
    let dump = std::fs::read(backup.join("database.dump")).unwrap();
    assert!(!contains(&dump, b"Neema Zawadi Baya"));
    for entry in walk(&backup.join("documents")) {
        assert!(!contains(&std::fs::read(entry).unwrap(), &file[..64]));
    }

    let cluster = common::Cluster::start();
    let store = cluster.dir.join("restored-documents");
    let said = haki(
        &["restore", backup.to_str().unwrap()],
        &cluster.url(),
        store.to_str().unwrap(),
    );
    assert!(said.contains("1 document objects"), "{said}");
    // The service runs as its own role, which owns nothing: `haki migrate` as the owner grants
    // it what it needs again (the archive carries no grants).
    cluster.sql("CREATE ROLE haki_service LOGIN PASSWORD 'service pw'");
    let service_url = cluster.url_as("haki_service", "service%20pw");
    haki_as(
        &["migrate"],
        &service_url,
        store.to_str().unwrap(),
        Some(&cluster.url()),
    );
    let restored = app
        .restarted(|c| {
            c.database_url = service_url.clone();
            c.document_store = store.to_string_lossy().into_owned();
        })
        .await;
    let r = restored
        .get(&format!("/api/v1/survivors/{sid}/identity"), &officer.token)
        .await;
    r.expect(200);
    assert_eq!(r.json()["identity"]["legal_name"], "Neema Zawadi Baya");
    let r = restored
        .get(&format!("/api/v1/documents/{document}/content"), &officer.token)
        .await;
    r.expect(200);
    assert!(r.body.as_ref() == file.as_slice(), "the document came back different");
    // And the restored database takes writes as the service's role (grants and sequences), which
    // still cannot rewrite the audit log.
    restored
        .post(
            "/api/v1/survivors",
            &officer.token,
            json!({"pseudonym": "Imani", "sex": "female", "age_at_intake": 15, "intake_on": "2026-02-10",
                   "county": "kwale", "placement": "family", "schooling": "primary"}),
        )
        .await
        .expect(201);
    let mut service = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&service_url)
        .await
        .unwrap();
    assert!(
        diesel::sql_query("DELETE FROM audit_log")
            .execute(&mut service)
            .await
            .is_err(),
        "the service's role could delete the audit log"
    );
    drop(service);
    drop(restored);
    let _ = std::fs::remove_dir_all(&backup);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `haki serve` on a cluster of the test's own: a SIGTERM lets a request in flight finish and the
/// webhook round under way be sent and recorded, then the process exits cleanly.
#[actix_web::test]
async fn a_stop_signal_finishes_requests_in_flight_and_the_delivery_round() {
    use haki::auth::Role;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::mpsc;

    let cluster = common::Cluster::start();
    let app = TestApp::on_cluster(&cluster, |_| {}).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;

    // A webhook receiver that holds its answer until the test has sent the signal.
    // A mail server that greets no one until the test says so.
    let smtp_hold = std::sync::Arc::new(tokio::sync::Notify::new());
    let (smtp_port, mail) = common::smtp_sink(Some(smtp_hold.clone())).await;
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let (arrived, got_request) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut stream, _) = receiver.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        arrived.send(()).unwrap();
        let _ = released.recv();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
    });

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = &app.state.config;
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_haki"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &config.database_url)
        .env("HAKI_JWT_SECRET", String::from_utf8(config.jwt_secret.clone()).unwrap())
        .env("HAKI_DATA_KEY", base64_key(&config.data_key))
        .env("HAKI_BIND", format!("127.0.0.1:{port}"))
        .env("HAKI_DOCUMENT_STORE", &config.document_store)
        .env("HAKI_MFA_REQUIRED_ROLES", "")
        .env("HAKI_WEBHOOK_ALLOW_LOOPBACK", "true")
        .env("HAKI_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
        .env("HAKI_MAIL_FROM", "Haki <haki@haki.test>")
        .env("HAKI_PASSWORD_RESET_URL", "https://app.haki.test/reset#")
        .env("HAKI_WEBHOOK_POLL_MS", "100")
        .env("HAKI_WORKERS", "1")
        .env("HAKI_SHUTDOWN_TIMEOUT_SECONDS", "20")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start haki serve");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "haki serve did not start");
    let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let hook = call(
        reqwest::Method::POST,
        "/api/v1/webhooks",
        &pm.token,
        json!({"url": hook_url, "events": ["case.stage_changed"]}),
    )
    .await
    .unwrap();
    assert_eq!(hook.status(), 201);
    let case_body = json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": "2026-11-01", "incident_on": "2026-10-30"});
    let case: Value = call(reqwest::Method::POST, "/api/v1/cases", &worker.token, case_body.clone())
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    let moved = call(
        reqwest::Method::POST,
        &format!("/api/v1/cases/{}/transitions", case["id"].as_str().unwrap()),
        &worker.token,
        json!({"to": "investigation", "occurred_on": "2026-11-02"}),
    )
    .await
    .unwrap();
    assert_eq!(moved.status(), 200);
    // The worker has sent the event; the receiver holds it.
    tokio::task::spawn_blocking(move || {
        got_request
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("delivery")
    })
    .await
    .unwrap();

    // A request in flight: its head and half its body sent.
    let body = serde_json::to_vec(&case_body).unwrap();
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        slow,
        "POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        worker.token,
        body.len()
    )
    .unwrap();
    slow.write_all(&body[..body.len() / 2]).unwrap();
    slow.flush().unwrap();
    // A reset email asked for: answered 202 at once, sent after the answer — and held up by the
    // mail server past the signal.
    let forgot = client
        .post(format!("{base}/api/v1/auth/forgot-password"))
        .header("content-type", "application/json")
        .body(json!({"email": worker.email}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Stopping: no new connection is served ...
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "still accepting after the signal"
    );
    // ... but the request in flight completes,
    slow.write_all(&body[body.len() / 2..]).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // and so do the delivery and, well after it, the email under way.
    release.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    smtp_hold.notify_one();
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "haki serve exited with {status}");
    assert_eq!(app.count("SELECT count(*) FROM cases").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .await,
        1,
        "the delivery in flight at the signal was recorded"
    );
    assert_eq!(
        mail.lock().unwrap().len(),
        1,
        "the reset email under way at the signal was sent"
    );
}

fn base64_key(key: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// PostgreSQL stopped under a load of writes, then started again: every answer meanwhile is a
/// 503 within the pool's timeout (never a hang, never a 500), the service recovers by itself,
/// every acknowledged write is there and none is half-written.
#[actix_web::test]
async fn postgresql_stopped_under_load_gives_503s_then_recovers_with_every_acknowledged_write() {
    use haki::auth::Role;
    use std::{
        cell::RefCell,
        collections::BTreeMap,
        rc::Rc,
        sync::Arc,
        time::{Duration, Instant},
    };

    let cluster = Arc::new(common::Cluster::start());
    let timeout = Duration::from_secs(1);
    let app = TestApp::on_cluster(&cluster, |c| c.db_timeout = timeout).await;
    let officer = app.create_user(Role::AftercareOfficer, None).await;
    #[derive(Default)]
    struct Seen {
        acknowledged: Vec<String>,
        statuses: BTreeMap<(u8, u16), usize>,
        slowest: Duration,
        phase: u8,
        done: bool,
    }
    let seen = Rc::new(RefCell::new(Seen::default()));
    let client = |n: usize| {
        let seen = seen.clone();
        let (app, token) = (&app, officer.token.clone());
        async move {
            let mut i = 0;
            while !seen.borrow().done {
                i += 1;
                let started = Instant::now();
                let r = app
                    .post(
                        "/api/v1/survivors",
                        &token,
                        json!({"pseudonym": format!("Load {n}-{i}"), "sex": "female", "age_at_intake": 14, "intake_on": "2026-01-10",
                               "county": "kilifi", "placement": "shelter", "schooling": "primary"}),
                    )
                    .await;
                let elapsed = started.elapsed();
                {
                    let mut s = seen.borrow_mut();
                    s.slowest = s.slowest.max(elapsed);
                    let phase = s.phase;
                    *s.statuses.entry((phase, r.status.as_u16())).or_default() += 1;
                    match r.status.as_u16() {
                        201 => s.acknowledged.push(r.json()["id"].as_str().unwrap().to_string()),
                        503 => {
                            assert_eq!(r.json()["code"], "database_unavailable", "{}", r.text());
                            assert!(r.header("retry-after").is_some(), "a 503 without Retry-After");
                        }
                        other => panic!("{other} under a database outage: {}", r.text()),
                    }
                }
                if r.status == 503 {
                    // Clients back off as Retry-After asks; not a tight loop on a dead server.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let control = {
        let (seen, cluster) = (seen.clone(), cluster.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let stopping = cluster.clone();
            tokio::task::spawn_blocking(move || stopping.stop()).await.unwrap();
            seen.borrow_mut().phase = 1;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let starting = cluster.clone();
            tokio::task::spawn_blocking(move || starting.resume()).await.unwrap();
            seen.borrow_mut().phase = 2;
            for _ in 0..100 {
                if seen.borrow().statuses.get(&(2, 201)).copied().unwrap_or(0) >= 5 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen.borrow_mut().done = true;
        }
    };
    futures_util::join!(client(1), client(2), client(3), client(4), control);

    let seen = Rc::try_unwrap(seen).ok().expect("the load is over").into_inner();
    let statuses = &seen.statuses;
    assert!(statuses.get(&(0, 201)).is_some(), "{statuses:?}");
    assert!(
        statuses.get(&(1, 503)).is_some_and(|n| *n > 0),
        "no 503 while down: {statuses:?}"
    );
    assert!(
        statuses.get(&(2, 201)).is_some_and(|n| *n >= 5),
        "did not recover: {statuses:?}"
    );
    assert!(
        seen.slowest < timeout + Duration::from_secs(3),
        "a request hung for {:?}",
        seen.slowest
    );
    let ids = seen
        .acknowledged
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM survivors WHERE id IN ({ids})"))
            .await,
        seen.acknowledged.len() as i64,
        "an acknowledged write is missing"
    );
    // Nothing half-written: every survivor has her team and her audit entry, whatever was cut.
    assert_eq!(
        app.count("SELECT count(*) FROM survivors s WHERE NOT EXISTS (SELECT 1 FROM survivor_assignments a WHERE a.survivor_id = s.id)").await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM survivors s WHERE NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.resource_type = 'survivor' AND l.resource_id = s.id::text)").await,
        0
    );
    drop(app);
}

/// The service over real TCP with its connection limits: a client that sends its headers too
/// slowly is cut off, oversized headers are refused, a crowd of slow clients does not keep a
/// normal request from being served, and bodies, JSON nesting and query parameters are bounded.
#[actix_web::test]
async fn slow_clients_oversized_requests_and_deep_nesting_are_bounded() {
    use std::{
        io::{Read, Write},
        net::TcpStream,
        time::{Duration, Instant},
    };
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let state = app.state.clone();
    let server = haki::with_connection_limits(actix_web::HttpServer::new(move || haki::build_app(state.clone())))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);

    // Blocking socket work runs off the test's own thread, which also drives the server.
    let exchange = move |head: Vec<u8>, wait: Duration| {
        tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(&head).unwrap();
            std::thread::sleep(wait);
            let started = Instant::now();
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer);
            (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
        })
    };

    // Thirty clients that never finish their headers ...
    let slow: Vec<_> = (0..30)
        .map(|_| exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(), Duration::ZERO))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... do not keep a normal request from being answered,
    let (answer, _) = exchange(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // and each is cut off once the request timeout is over (408), not held open.
    for client in slow {
        let (answer, waited) = client.await.unwrap();
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            waited < haki::limits::CLIENT_REQUEST_TIMEOUT + Duration::from_secs(5),
            "held for {waited:?}"
        );
    }

    // Headers beyond actix-http's bounds: refused, not buffered without end.
    let mut huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    huge.extend(format!("X-Big: {}\r\n\r\n", "a".repeat(200 * 1024)).as_bytes());
    let (answer, _) = exchange(huge, Duration::ZERO).await.unwrap();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let mut many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend(b"\r\n");
    let (answer, _) = exchange(many, Duration::ZERO).await.unwrap();
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A body that stops arriving half-way: 408 once HAKI_BODY_IDLE_TIMEOUT_SECONDS have passed
    // (1 s here), not a handler waiting for ever; and nothing is written.
    let partial = format!(
        "POST /api/v1/partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\": \"Half",
        admin.token
    );
    let (answer, waited) = exchange(partial.into_bytes(), Duration::ZERO).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(waited < Duration::from_secs(10), "held for {waited:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM partners WHERE name LIKE 'Half%'").await,
        0
    );
    handle.stop(true).await;

    // Bodies over HAKI_BODY_LIMIT_BYTES: 413 before the handler.
    let big = json!({"name": "x".repeat(app.state.config.body_limit + 10), "kind": "ngo"});
    app.post("/api/v1/partners", &admin.token, big)
        .await
        .expect_problem(413, "payload_too_large");
    // JSON nested deeper than the parser's limit: a 400, not a crash or a 500.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let r = app
        .send(
            TestRequest::post()
                .uri("/api/v1/partners")
                .insert_header(bearer(&admin.token))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(deep),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 400 | 422), "{} {}", r.status, r.text());
    // More query parameters than accepted.
    let query = (0..100).map(|i| format!("county=k{i}")).collect::<Vec<_>>().join("&");
    let r = app.get(&format!("/api/v1/cases?{query}"), &admin.token).await;
    let problem = r.expect_problem(400, "invalid_query");
    assert!(problem["detail"].as_str().unwrap().contains("at most 64"), "{problem}");
}

/// `haki seed-bench`: a synthetic dataset at scale, in chunks, that the service then serves as
/// any other (a generated case worker sees her caseload); never over existing records.
#[actix_web::test]
async fn seed_bench_fills_an_empty_database_that_the_service_then_serves() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let scale = haki::seed_bench::Scale::new(12_500);
    let mut progress = Vec::new();
    haki::seed_bench::seed(&mut conn, &scale, common::password_hash(), |done| progress.push(done))
        .await
        .unwrap();
    assert_eq!(progress, vec![10_000, 12_500], "a chunk at a time");
    for (table, rows) in [
        ("cases", 12_500),
        ("survivors", 12_500),
        ("case_survivors", 12_500),
        ("case_assignments", 12_500),
        ("survivor_assignments", 12_500),
        ("documents", 12_500),
        ("referrals", 6_250),
        ("audit_log", 62_500),
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")).await,
            rows,
            "{table}"
        );
    }
    assert!(app.count("SELECT count(*) FROM charges").await > 3_000);
    assert!(app.count("SELECT count(*) FROM court_sessions").await > 10_000);
    assert!(app.count("SELECT count(*) FROM survivor_services").await == 25_000);
    // Tallied chunk by chunk, as the triggers would have, and the triggers are back on.
    app.assert_tallies_agree().await;
    assert_eq!(
        app.count("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_tally\\_%' AND tgenabled = 'D'")
            .await,
        0
    );
    // Every record satisfies the database's rules (they were all checked on insert); a second
    // run is refused.
    assert!(
        haki::seed_bench::seed(&mut conn, &scale, common::password_hash(), |_| {})
            .await
            .is_err()
    );

    // A generated case worker signs in and sees her own caseload, and no one else's.
    let login = app
        .login(&haki::seed_bench::email("case_worker", 7), common::PASSWORD)
        .await;
    login.expect(200);
    let token = login.json()["access_token"].as_str().unwrap().to_string();
    let page = app.get("/api/v1/cases?limit=200", &token).await;
    page.expect(200);
    let caseload = page.json()["data"].as_array().unwrap().len() as u64;
    assert_eq!(caseload, scale.cases / scale.case_workers);
    let admin = app.admin().await;
    app.get("/api/v1/stats/overview?from=2020-01-01&to=2030-12-31", &admin.token)
        .await
        .expect(200);
    app.get("/api/v1/alerts", &token).await.expect(200);
}
