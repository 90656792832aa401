//! Integration for scripts and partner systems: API keys (bound to their owner's role, shown once,
//! revoked and expired at once, rate limited per key).

mod common;

use actix_web::test::TestRequest;
use common::{PASSWORD, TestApp, bearer};
use haki::auth::Role;
use serde_json::{Value, json};

/// A referral of a child of 14 in Kilifi, with consent.
fn referral_body(external_id: &str, urgency: &str, alias: &str) -> Value {
    json!({"external_id": external_id, "urgency": urgency, "child_alias": alias, "age": 14, "county": "kilifi",
           "concern": "c", "whereabouts": "with_family", "safe_tonight": true,
           "consent_to_share": {"given_by": "guardian", "obtained_on": "2025-01-01"}})
}

async fn create_key(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post("/api/v1/api-keys", token, body).await;
    r.expect(201);
    r.json()
}

#[actix_web::test]
async fn api_keys_act_as_their_owner_and_stop_at_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let other = app.create_partner("Pwani safe house").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let other_desk = app.create_user(Role::Partner, Some(other)).await;

    // Created from a session, shown once, stored as a hash; never replayed from the idempotency store.
    let created = app
        .send(
            TestRequest::post()
                .uri("/api/v1/api-keys")
                .insert_header(bearer(&pm.token))
                .insert_header(("Idempotency-Key", "nightly-sync-key"))
                .set_json(json!({"name": "Nightly sync", "current_password": PASSWORD})),
        )
        .await;
    created.expect(201);
    let key = created.json();
    let secret = key["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("haki_") && secret.len() > 40, "{secret}");
    assert_eq!(key["role"], "program_manager");
    assert_eq!(key["owner_id"], json!(pm.id));
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    let listed = app.get("/api/v1/api-keys", &pm.token).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0].get("secret").is_none());
    for (table, column) in [
        ("api_keys", "prefix || name"),
        ("audit_log", "details::text"),
        ("idempotency_keys", "coalesce(encode(body, 'escape'), '')"),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM {table} WHERE {column} LIKE '%{}%'",
                &secret[5..]
            ))
            .await,
            0,
            "the secret is in {table}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM idempotency_keys").await, 0);

    // The key acts as its owner, audited as such with the key named.
    let me = app.get("/api/v1/me", &secret).await;
    me.expect(200);
    assert_eq!(me.json()["id"], json!(pm.id));
    assert_eq!(me.json()["role"], "program_manager");
    app.post(
        "/api/v1/cases",
        &secret,
        json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"}),
    )
    .await
    .expect(201);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'case.create' AND actor_id = '{}' AND details->>'api_key' = '{}'",
            pm.id,
            key["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    let used = app.get("/api/v1/api-keys", &pm.token).await.json();
    assert!(used["data"][0]["last_used_at"].is_string());
    // A key cannot mint keys or revoke them.
    app.post(
        "/api/v1/api-keys",
        &secret,
        json!({"name": "More", "current_password": PASSWORD}),
    )
    .await
    .expect_problem(403, "forbidden");

    // Admins create keys for others, with that user's role and organisation: a partner's key
    // sees its own organisation's referrals and nothing of the staff's.
    let partner_key = create_key(
        &app,
        &admin.token,
        json!({"name": "CJC referral system", "current_password": PASSWORD, "owner_id": desk.id}),
    )
    .await;
    assert_eq!(partner_key["role"], "partner");
    assert_eq!(partner_key["organization_id"], json!(cjc));
    let partner_secret = partner_key["secret"].as_str().unwrap();
    app.get("/api/v1/referrals", partner_secret).await.expect(200);
    app.get("/api/v1/cases", partner_secret)
        .await
        .expect_problem(403, "forbidden");
    // Others only for themselves; another user's key is out of reach.
    app.post(
        "/api/v1/api-keys",
        &pm.token,
        json!({"name": "x", "current_password": PASSWORD, "owner_id": desk.id}),
    )
    .await
    .expect_problem(403, "forbidden");
    let theirs = app.get("/api/v1/api-keys", &other_desk.token).await.json();
    assert!(theirs["data"].as_array().unwrap().is_empty());
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/api-keys/{}", partner_key["id"].as_str().unwrap()))
            .insert_header(bearer(&other_desk.token)),
    )
    .await
    .expect_problem(404, "not_found");
    // Bad input: a blank name, an expiry in the past, an unknown owner.
    for body in [
        json!({"name": " ", "current_password": PASSWORD}),
        json!({"name": "x", "current_password": PASSWORD, "expires_at": "2020-01-01T00:00:00Z"}),
        json!({"name": "x", "current_password": PASSWORD, "owner_id": haki::ids::UserId::new()}),
    ] {
        app.post("/api/v1/api-keys", &admin.token, body)
            .await
            .expect_problem(422, "validation_failed");
    }

    // Revoked: refused at once.
    let revoke = |id: &str, token: &str| {
        TestRequest::delete()
            .uri(&format!("/api/v1/api-keys/{id}"))
            .insert_header(bearer(token))
    };
    let revoked = app.send(revoke(key["id"].as_str().unwrap(), &pm.token)).await;
    revoked.expect(200);
    assert!(revoked.json()["revoked_at"].is_string());
    let refused = app.get("/api/v1/me", &secret).await;
    refused.expect_problem(401, "unauthenticated");
    assert!(refused.text().contains("revoked"));
    assert!(
        app.get("/api/v1/api-keys", &pm.token).await.json()["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Expired: refused at once.
    let expiring = create_key(
        &app,
        &pm.token,
        json!({"name": "Short", "current_password": PASSWORD, "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let expiring_secret = expiring["secret"].as_str().unwrap();
    app.get("/api/v1/me", expiring_secret).await.expect(200);
    app.sql(&format!(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        expiring["id"].as_str().unwrap()
    ))
    .await;
    assert!(
        app.get("/api/v1/me", expiring_secret)
            .await
            .expect_problem(401, "unauthenticated")
            .to_string()
            .contains("expired")
    );
    // Never above its owner: a key whose owner changed role (or was deactivated) stops.
    let still = create_key(&app, &pm.token, json!({"name": "Still", "current_password": PASSWORD})).await;
    let still_secret = still["secret"].as_str().unwrap();
    app.sql(&format!("UPDATE users SET role = 'analyst' WHERE id = '{}'", pm.id))
        .await;
    app.get("/api/v1/me", still_secret)
        .await
        .expect_problem(401, "unauthenticated");
    app.get("/api/v1/me", "haki_not-a-key")
        .await
        .expect_problem(401, "unauthenticated");
    // A password change ends the account's keys, as it ends its sessions.
    let desks = create_key(&app, &desk.token, json!({"name": "Desk", "current_password": PASSWORD})).await;
    let desks = desks["secret"].as_str().unwrap();
    app.get("/api/v1/me", desks).await.expect(200);
    app.send(
        TestRequest::put()
            .uri("/api/v1/me/password")
            .insert_header(bearer(&desk.token))
            .set_json(json!({"current_password": common::PASSWORD, "new_password": "a brand new long passphrase"})),
    )
    .await
    .expect(200);
    app.get("/api/v1/me", desks)
        .await
        .expect_problem(401, "unauthenticated");
}

#[actix_web::test]
async fn each_api_key_has_its_own_rate_limit() {
    let app = TestApp::with_config(|c| c.api_key_rate_per_minute = 3).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let a = create_key(&app, &pm.token, json!({"name": "A", "current_password": PASSWORD})).await;
    let b = create_key(&app, &pm.token, json!({"name": "B", "current_password": PASSWORD})).await;
    let (a, b) = (a["secret"].as_str().unwrap(), b["secret"].as_str().unwrap());
    for _ in 0..3 {
        app.get("/api/v1/me", a).await.expect(200);
    }
    let limited = app.get("/api/v1/me", a).await;
    limited.expect_problem(429, "rate_limited");
    assert!(
        limited
            .header("retry-after")
            .is_some_and(|s| s.parse::<u64>().unwrap() >= 1)
    );
    // Another key, and the owner's own session, are not held back.
    app.get("/api/v1/me", b).await.expect(200);
    app.get("/api/v1/me", &pm.token).await.expect(200);
}

/// The feed from `after` to its end, as (type, id, op) and the last cursor.
async fn feed(app: &TestApp, token: &str, after: Option<&str>, query: &str) -> (Vec<(String, String, String)>, String) {
    let mut out = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let mut path = format!("/api/v1/changes?limit=2&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&after={c}"));
        }
        let page = app.get(&path, token).await;
        page.expect(200);
        let page = page.json();
        let data = page["data"].as_array().unwrap().clone();
        let next = page["next_cursor"].as_str().unwrap().to_string();
        for c in &data {
            out.push((
                c["type"].as_str().unwrap().to_string(),
                c["id"].as_str().unwrap().to_string(),
                c["op"].as_str().unwrap().to_string(),
            ));
        }
        if data.is_empty() {
            return (out, next);
        }
        cursor = Some(next);
    }
}

/// The feed once it holds what `done` waits for: an entry shows once every transaction that
/// started before it (in any database of the cluster, such as another test's) has finished.
async fn feed_until(
    app: &TestApp,
    token: &str,
    after: Option<&str>,
    query: &str,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> (Vec<(String, String, String)>, String) {
    for _ in 0..100 {
        let (entries, end) = feed(app, token, after, query).await;
        if done(&entries) {
            return (entries, end);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feed never showed what was expected");
}

#[actix_web::test]
async fn the_change_feed_resumes_without_gaps_or_repeats_within_reach() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let other = app.create_partner("Pwani safe house").await;

    let case = |county: &'static str| {
        let app = &app;
        let pm = &pm;
        async move {
            let c = app
                .post(
                    "/api/v1/cases",
                    &pm.token,
                    json!({"county": county, "location_type": "hotel", "reported_on": "2025-03-01"}),
                )
                .await;
            c.expect(201);
            c.json()["id"].as_str().unwrap().to_string()
        }
    };
    let mine = case("kilifi").await;
    let theirs = case("kwale").await;
    app.sql(&format!("INSERT INTO case_assignments (id, case_id, user_id, role) VALUES (gen_random_uuid(), '{mine}', '{}', 'investigator')", worker.id)).await;
    let referral = app
        .post(
            "/api/v1/referrals",
            &desk.token,
            referral_body("F-1", "routine", "F.F."),
        )
        .await;
    referral.expect(201);
    let referral = referral.json()["id"].as_str().unwrap().to_string();

    // The program manager sees everything, in order, each change once.
    let (all, end) = feed_until(&app, &pm.token, None, "", |e| e.iter().any(|c| c.1 == referral)).await;
    let ids: Vec<&str> = all.iter().map(|c| c.1.as_str()).collect();
    let pos = |id: &str| {
        ids.iter()
            .position(|x| *x == id)
            .unwrap_or_else(|| panic!("{id} not in {all:?}"))
    };
    assert!(pos(&cjc.to_string()) < pos(&mine) && pos(&mine) < pos(&theirs) && pos(&theirs) < pos(&referral));
    assert!(all.contains(&("case".into(), mine.clone(), "create".into())));
    // Nothing new: the same position back, and an update appears once.
    let (none, same) = feed(&app, &pm.token, Some(&end), "").await;
    assert!(none.is_empty());
    assert_eq!(same, end);
    app.patch(
        &format!("/api/v1/cases/{mine}"),
        &pm.token,
        Some("\"1\""),
        json!({"summary": "Seen at a villa"}),
    )
    .await
    .expect(200);
    // Entries out of reach are passed over once: an analyst asking for cases (none in reach) ends
    // at the same position as the program manager who read everything.
    let (_, pm_end) = feed(&app, &pm.token, None, "").await;
    let (no_cases, analyst_end) = feed(&app, &analyst.token, None, "types=case").await;
    assert!(no_cases.is_empty());
    assert_eq!(analyst_end, pm_end);
    // A change that changes nothing is no change.
    app.patch(
        &format!("/api/v1/cases/{mine}"),
        &pm.token,
        Some("\"2\""),
        json!({"summary": "Seen at a villa"}),
    )
    .await
    .expect(200);
    let (next, end) = feed_until(&app, &pm.token, Some(&end), "", |e| !e.is_empty()).await;
    assert_eq!(next, [("case".to_string(), mine.clone(), "update".to_string())]);

    // Each sees what is within reach: a case worker her case (not the other, not referrals' cases);
    // a partner its own referral and organisation; an analyst trainings and partners only.
    let (hers, _) = feed(&app, &worker.token, None, "types=case").await;
    assert!(hers.iter().all(|c| c.1 == mine) && !hers.is_empty());
    let (desks, _) = feed(&app, &desk.token, None, "").await;
    assert!(desks.iter().any(|c| c.1 == referral));
    assert!(
        desks.iter().all(|c| c.1 == referral || c.1 == cjc.to_string()),
        "{desks:?}"
    );
    assert!(!desks.iter().any(|c| c.1 == other.to_string()));
    let (analysts, _) = feed(&app, &analyst.token, None, "").await;
    assert!(
        analysts.iter().all(|c| c.0 == "training" || c.0 == "partner"),
        "{analysts:?}"
    );

    // Transactions that commit out of order: A starts writing first and commits last. While it
    // runs, B's later change is held back; once A commits, both come, A first — nothing skipped.
    let mut a = app.conn().await;
    a.batch_execute(&format!(
        "BEGIN; INSERT INTO partners (id, name, kind) VALUES ('{}', 'Slow partner', 'ngo');",
        uuid::Uuid::now_v7()
    ))
    .await
    .unwrap();
    let b = app
        .post(
            "/api/v1/trainings",
            &analyst.token,
            json!({"title": "T", "format": "workshop", "topics": ["other"], "starts_on": "2025-03-10",
                   "ends_on": "2025-03-10", "county": "kilifi", "participants": []}),
        )
        .await;
    b.expect(201);
    let training = b.json()["id"].as_str().unwrap().to_string();
    let (held, held_end) = feed(&app, &pm.token, Some(&end), "").await;
    assert!(held.is_empty(), "B waits for A: {held:?}");
    assert_eq!(held_end, end);
    a.batch_execute("COMMIT").await.unwrap();
    let (both, _) = feed_until(&app, &pm.token, Some(&end), "", |e| e.len() >= 2).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0].0, "partner");
    assert_eq!(both[1].1, training);

    // Filters and bad input.
    let (only, _) = feed(&app, &pm.token, None, "types=referral").await;
    assert_eq!(only, [("referral".to_string(), referral.clone(), "create".to_string())]);
    app.get("/api/v1/changes?types=cases", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/changes?after=nonsense", &pm.token)
        .await
        .expect_problem(400, "invalid_cursor");
}

/// A receiver on loopback: records every request (path, event id, signature, body) and answers
/// each path's scripted statuses in turn, then 200.
/// A request as received: path, event id, signature, body.
type Received = (String, String, String, String);

#[derive(Clone, Default)]
struct Receiver {
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    script: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u16>>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let r = receiver.clone();
        let server = actix_web::HttpServer::new(move || {
            let r = r.clone();
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let r = r.clone();
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let path = req.path().to_string();
                        r.got.lock().unwrap().push((
                            path.clone(),
                            header("x-haki-event-id"),
                            header("x-haki-signature"),
                            String::from_utf8_lossy(&body).to_string(),
                        ));
                        let status = r
                            .script
                            .lock()
                            .unwrap()
                            .get_mut(&path)
                            .and_then(|s| (!s.is_empty()).then(|| s.remove(0)))
                            .unwrap_or(200);
                        // Scripted 0: hang past any client's patience.
                        if status == 0 {
                            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        }
                        let status = status.max(200);
                        actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
                    }
                },
            ))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        (receiver, format!("http://{addr}"))
    }

    fn fail(&self, path: &str, statuses: &[u16]) {
        self.script.lock().unwrap().insert(path.to_string(), statuses.to_vec());
    }

    fn at(&self, path: &str) -> Vec<(String, String, String)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.0 == path)
            .map(|g| (g.1.clone(), g.2.clone(), g.3.clone()))
            .collect()
    }
}

/// Checks `t=…,v1=…` against HMAC-SHA256 of "t.body" under the secret, computed here.
fn verifies(secret: &str, header: &str, body: &str) -> bool {
    use hmac::Mac;
    let mut parts = header.split(',');
    let t = parts.next().and_then(|p| p.strip_prefix("t=")).unwrap_or_default();
    let v1 = parts.next().and_then(|p| p.strip_prefix("v1=")).unwrap_or_default();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes()) == v1
}

#[actix_web::test]
async fn webhooks_are_signed_retried_isolated_and_delivered_once() {
    let app = TestApp::new().await;
    let client = haki::webhooks::delivery::client(&app.state.config).unwrap();
    let (receiver, base) = Receiver::start().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let other = app.create_partner("Pwani safe house").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let other_desk = app.create_user(Role::Partner, Some(other)).await;
    let subscribe = async |token: &str, path: &str, events: Value| {
        let r = app
            .post(
                "/api/v1/webhooks",
                token,
                json!({"url": format!("{base}{path}"), "events": events}),
            )
            .await;
        r.expect(201);
        r.json()
    };
    let a = subscribe(&desk.token, "/a", json!(["referral.status_changed"])).await;
    let b = subscribe(&other_desk.token, "/b", json!(["referral.status_changed"])).await;
    let staff = subscribe(
        &pm.token,
        "/pm",
        json!([
            "referral.status_changed",
            "case.stage_changed",
            "court_session.scheduled"
        ]),
    )
    .await;
    let secret = a["secret"].as_str().unwrap().to_string();
    // A partner's referral, submitted and acknowledged by the program (a status change).
    let acknowledged = async |token: &str, referral: Value| {
        let r = app.post("/api/v1/referrals", token, referral).await;
        r.expect(201);
        let id = r.json()["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/referrals/{id}/acknowledge"), &pm.token, json!({}))
            .await
            .expect(200);
        id
    };
    assert!(
        app.get("/api/v1/webhooks", &desk.token).await.json()["data"][0]
            .get("secret")
            .is_none()
    );
    // Partners hear about their own referrals only; addresses never reach private networks.
    app.post(
        "/api/v1/webhooks",
        &desk.token,
        json!({"url": format!("{base}/x"), "events": ["case.stage_changed"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    for url in [
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest",
        "http://example.org/hook",
        "ftp://example.org/x",
        "https://user:pw@example.org/x",
    ] {
        let problem = app
            .post(
                "/api/v1/webhooks",
                &pm.token,
                json!({"url": url, "events": ["case.stage_changed"]}),
            )
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["code"], "unreachable_url", "{url}");
    }
    app.get("/api/v1/webhooks", &worker.token)
        .await
        .expect_problem(403, "forbidden");

    // The justice centre's referral is acknowledged: its webhook fails twice, then takes it.
    let r = app
        .post("/api/v1/referrals", &desk.token, referral_body("W-1", "urgent", "W.W."))
        .await;
    r.expect(201);
    let referral = r.json()["id"].as_str().unwrap().to_string();
    receiver.fail("/a", &[500, 503]);
    app.post(
        &format!("/api/v1/referrals/{referral}/acknowledge"),
        &pm.token,
        json!({}),
    )
    .await
    .expect(200);
    for _ in 0..5 {
        haki::webhooks::delivery::run_once(&app.state, &client, 20)
            .await
            .unwrap();
    }
    let got = receiver.at("/a");
    assert_eq!(got.len(), 3, "two failures, then the success: {got:?}");
    assert!(got.iter().all(|g| g.0 == got[0].0), "one event id in every attempt");
    assert!(
        got.iter().all(|g| verifies(&secret, &g.1, &g.2)),
        "signed with the webhook's secret"
    );
    let body: Value = serde_json::from_str(&got[2].2).unwrap();
    assert_eq!(body["type"], "referral.status_changed");
    assert_eq!(body["data"]["referral_id"], json!(referral));
    assert_eq!(body["data"]["status"], "acknowledged");
    assert!(
        !got[2].2.contains("W.W.") && !got[2].2.contains("concern"),
        "thin payloads: {}",
        got[2].2
    );
    let deliveries = app
        .get(
            &format!("/api/v1/webhooks/{}/deliveries", a["id"].as_str().unwrap()),
            &desk.token,
        )
        .await
        .json();
    assert_eq!(deliveries["data"][0]["status"], "delivered");
    assert_eq!(deliveries["data"][0]["attempts"], 3);
    assert!(receiver.at("/b").is_empty(), "another organisation hears nothing of it");
    assert_eq!(receiver.at("/pm").len(), 1);
    app.get(
        &format!("/api/v1/webhooks/{}/deliveries", a["id"].as_str().unwrap()),
        &other_desk.token,
    )
    .await
    .expect_problem(404, "not_found");

    // The program hears about stage changes and court dates; partners do not.
    let case = app
        .post(
            "/api/v1/cases",
            &pm.token,
            json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"}),
        )
        .await
        .json();
    let case_id = case["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/cases/{case_id}/transitions"),
        &pm.token,
        json!({"to": "investigation", "occurred_on": "2025-03-02"}),
    )
    .await
    .expect(200);
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    let staff_got = receiver.at("/pm");
    assert_eq!(staff_got.len(), 2);
    let stage: Value = serde_json::from_str(&staff_got[1].2).unwrap();
    assert_eq!(stage["type"], "case.stage_changed");
    assert_eq!(stage["data"]["to"], "investigation");
    assert_eq!(receiver.at("/a").len(), 3);

    // Redelivery: the same event again, on request.
    let delivery = deliveries["data"][0]["id"].as_str().unwrap();
    let again = app
        .post(
            &format!(
                "/api/v1/webhooks/{}/deliveries/{delivery}/redeliver",
                a["id"].as_str().unwrap()
            ),
            &desk.token,
            json!({}),
        )
        .await;
    again.expect(202);
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    assert_eq!(receiver.at("/a").len(), 4);
    assert_eq!(receiver.at("/a")[3].0, got[0].0);

    // Two workers (two service instances on one database) never send one delivery twice.
    app.sql(&format!(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload)
         SELECT gen_random_uuid(), '{}', gen_random_uuid(), 'case.stage_changed', '{{\"n\": 1}}'::jsonb FROM generate_series(1, 30)",
        staff["id"].as_str().unwrap()
    ))
    .await;
    let second = haki::state::AppState::new(
        app.state.config.clone(),
        haki::db::build_pool(&app.state.config.database_url, 4, std::time::Duration::from_secs(5)).unwrap(),
    )
    .unwrap();
    for _ in 0..3 {
        let (x, y) = futures_util::join!(
            haki::webhooks::delivery::run_once(&app.state, &client, 7),
            haki::webhooks::delivery::run_once(&second, &client, 7)
        );
        x.unwrap();
        y.unwrap();
    }
    for _ in 0..3 {
        haki::webhooks::delivery::run_once(&second, &client, 20).await.unwrap();
    }
    let ids: Vec<String> = receiver.at("/pm").into_iter().map(|g| g.0).collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 32, "each of the 30 new events once, after the 2 before");
    assert_eq!(unique.len(), ids.len());

    // A webhook failing every delivery for too long is disabled, and says why.
    app.sql(&format!(
            "UPDATE webhooks SET failing_since = now() - interval '4 days', last_failure_at = now() - interval '5 hours' WHERE id = '{}'",
            b["id"].as_str().unwrap()
        ),
    )
    .await;
    receiver.fail("/b", &[500]);
    acknowledged(&other_desk.token, referral_body("B-1", "routine", "B.B.")).await;
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    let listed = app.get("/api/v1/webhooks", &other_desk.token).await.json();
    assert_eq!(listed["data"][0]["active"], false);
    assert!(
        listed["data"][0]["disabled_reason"].as_str().unwrap().contains("500"),
        "{listed}"
    );

    // A delivery being sent cannot be sent again until it is done.
    let pending = app
        .get(
            &format!("/api/v1/webhooks/{}/deliveries", staff["id"].as_str().unwrap()),
            &pm.token,
        )
        .await
        .json();
    let some = pending["data"][0]["id"].as_str().unwrap().to_string();
    app.sql(&format!(
        "UPDATE webhook_deliveries SET claim_token = gen_random_uuid() WHERE id = '{some}'"
    ))
    .await;
    app.post(
        &format!(
            "/api/v1/webhooks/{}/deliveries/{some}/redeliver",
            staff["id"].as_str().unwrap()
        ),
        &pm.token,
        json!({}),
    )
    .await
    .expect_problem(409, "delivery_in_flight");

    // A webhook lasts as long as its owner's right: a program manager moved to another role
    // hears nothing more.
    let before = receiver.at("/pm").len();
    app.sql(&format!("UPDATE users SET role = 'analyst' WHERE id = '{}'", pm.id))
        .await;
    let other_pm = app.create_user(Role::ProgramManager, None).await;
    app.post(
        &format!("/api/v1/cases/{case_id}/court-sessions"),
        &other_pm.token,
        json!({"court": "Malindi", "scheduled_on": "2025-04-01", "purpose": "plea"}),
    )
    .await
    .expect(201);
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    assert_eq!(receiver.at("/pm").len(), before);
    app.sql(&format!(
        "UPDATE users SET role = 'program_manager' WHERE id = '{}'",
        pm.id
    ))
    .await;

    // Deleted: nothing more is delivered to it.
    let gone = app
        .send(
            TestRequest::delete()
                .uri(&format!("/api/v1/webhooks/{}", a["id"].as_str().unwrap()))
                .insert_header(bearer(&desk.token)),
        )
        .await;
    gone.expect(200);
    acknowledged(&desk.token, referral_body("W-2", "routine", "X.X.")).await;
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    assert_eq!(receiver.at("/a").len(), 4);
}

#[actix_web::test]
async fn a_follow_up_coming_due_is_told_once() {
    let app = TestApp::new().await;
    let client = haki::webhooks::delivery::client(&app.state.config).unwrap();
    let (receiver, base) = Receiver::start().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    app.post(
        "/api/v1/webhooks",
        &pm.token,
        json!({"url": format!("{base}/pm"), "events": ["survivor.follow_up_due"]}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/webhooks",
        &desk.token,
        json!({"url": format!("{base}/desk"), "events": ["survivor.follow_up_due"]}),
    )
    .await
    .expect_problem(422, "validation_failed");
    let s = app
        .post(
            "/api/v1/survivors",
            &pm.token,
            json!({"pseudonym": "Zuri", "birth_year": 2010, "intake_on": "2024-01-01"}),
        )
        .await
        .json();
    let today = haki::vocab::today();
    for days in [20, 31] {
        app.sql(&format!(
            "INSERT INTO follow_ups (id, survivor_id, due_on) VALUES (gen_random_uuid(), '{}', '{}')",
            s["id"].as_str().unwrap(),
            today + chrono::Duration::days(days)
        ))
        .await;
    }
    for _ in 0..3 {
        haki::webhooks::delivery::run_once(&app.state, &client, 20)
            .await
            .unwrap();
    }
    let got = receiver.at("/pm");
    assert_eq!(got.len(), 1, "within 30 days, once: {got:?}");
    let body: Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(body["type"], "survivor.follow_up_due");
    assert_eq!(
        body["data"]["due_on"],
        json!((today + chrono::Duration::days(20)).to_string())
    );
    assert!(!got[0].2.contains("Zuri"), "no survivor details: {}", got[0].2);
}

#[actix_web::test]
async fn a_receiver_that_hangs_is_cut_off_and_the_delivery_fails_after_its_last_attempt() {
    let app = TestApp::with_config(|c| {
        c.webhook_timeout = std::time::Duration::from_secs(1);
        c.webhook_max_attempts = 2;
    })
    .await;
    let client = haki::webhooks::delivery::client(&app.state.config).unwrap();
    let (receiver, base) = Receiver::start().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let hook = app
        .post(
            "/api/v1/webhooks",
            &pm.token,
            json!({"url": format!("{base}/slow"), "events": ["case.stage_changed"]}),
        )
        .await
        .json();
    receiver.fail("/slow", &[0, 0]);
    let case = app
        .post(
            "/api/v1/cases",
            &pm.token,
            json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"}),
        )
        .await
        .json();
    app.post(
        &format!("/api/v1/cases/{}/transitions", case["id"].as_str().unwrap()),
        &pm.token,
        json!({"to": "investigation", "occurred_on": "2025-03-02"}),
    )
    .await
    .expect(200);
    let started = std::time::Instant::now();
    for _ in 0..3 {
        haki::webhooks::delivery::run_once(&app.state, &client, 20)
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "cut off, not waited for"
    );
    let deliveries = app
        .get(
            &format!("/api/v1/webhooks/{}/deliveries", hook["id"].as_str().unwrap()),
            &pm.token,
        )
        .await
        .json();
    let d = &deliveries["data"][0];
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["attempts"], 2);
    assert!(d["last_error"].as_str().unwrap().contains("in time"), "{d}");
}

#[actix_web::test]
async fn a_scheduled_court_session_is_told_to_the_program() {
    let app = TestApp::new().await;
    let client = haki::webhooks::delivery::client(&app.state.config).unwrap();
    let (receiver, base) = Receiver::start().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    app.post(
        "/api/v1/webhooks",
        &pm.token,
        json!({"url": format!("{base}/court"), "events": ["court_session.scheduled"]}),
    )
    .await
    .expect(201);
    let case = app
        .post(
            "/api/v1/cases",
            &pm.token,
            json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"}),
        )
        .await
        .json();
    let case_id = case["id"].as_str().unwrap();
    let session = app
        .post(
            &format!("/api/v1/cases/{case_id}/court-sessions"),
            &pm.token,
            json!({"court": "Malindi", "scheduled_on": "2025-04-01", "purpose": "plea"}),
        )
        .await;
    session.expect(201);
    haki::webhooks::delivery::run_once(&app.state, &client, 20)
        .await
        .unwrap();
    let got = receiver.at("/court");
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(body["type"], "court_session.scheduled");
    assert_eq!(body["data"]["court_session_id"], session.json()["id"]);
    assert_eq!(body["data"]["case_id"], json!(case_id));
    assert_eq!(body["data"]["scheduled_on"], "2025-04-01");
}

/// Two instances of the service on one database, as two replicas behind a load balancer: what
/// one does, the other honours — idempotent replays, the account lockout, refresh-token rotation
/// and its reuse detection, webhook deliveries (each once), the change feed (no gap, no repeat).
#[actix_web::test]
async fn two_replicas_on_one_database_hold_every_guarantee() {
    let a = TestApp::new().await;
    let b = a.restarted(|_| {}).await;
    let admin = a.admin().await;
    let pm = a.create_user(Role::ProgramManager, None).await;

    // Idempotency: a retry that lands on the other replica gets the same answer, and the same
    // key sent to both at once creates one record.
    async fn create(app: &TestApp, token: &str, key: &str, name: &str) -> common::Resp {
        app.send(
            TestRequest::post()
                .uri("/api/v1/partners")
                .insert_header(bearer(token))
                .insert_header(("Idempotency-Key", key.to_string()))
                .set_json(json!({"name": name, "kind": "ngo"})),
        )
        .await
    }
    let send = |app, key, name| create(app, &admin.token, key, name);
    let first = send(&a, "replica-key-1", "Bahari").await;
    first.expect(201);
    let again = send(&b, "replica-key-1", "Bahari").await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["id"], first.json()["id"]);
    let (x, y) = futures_util::join!(send(&a, "replica-key-2", "Pwani"), send(&b, "replica-key-2", "Pwani"));
    assert!(
        x.status.as_u16() == 201 || y.status.as_u16() == 201,
        "{} {}",
        x.text(),
        y.text()
    );
    assert_eq!(a.count("SELECT count(*) FROM partners WHERE name = 'Pwani'").await, 1);

    // Lockout: failures on either replica add up; the lock holds on both.
    let user = a.create_user(Role::Analyst, None).await;
    let threshold = a.state.config.lockout_threshold;
    for i in 0..threshold {
        let app = if i % 2 == 0 { &a } else { &b };
        app.login_from(&user.email, "not the password at all", &format!("10.7.0.{i}:4000"))
            .await
            .expect(401);
    }
    for app in [&a, &b] {
        app.login_from(&user.email, common::PASSWORD, "10.7.1.1:4000")
            .await
            .expect(401);
    }
    assert_eq!(
        a.count(&format!(
            "SELECT count(*) FROM users WHERE id = '{}' AND locked_until > now()",
            user.id
        ))
        .await,
        1
    );

    // Refresh tokens: rotated on one replica, the old one is a reuse on the other, which ends the
    // session for both holders.
    let session = a.login_from(&pm.email, common::PASSWORD, "10.7.2.1:4000").await.json();
    async fn refresh(app: &TestApp, token: &str) -> common::Resp {
        app.send(
            TestRequest::post()
                .uri("/api/v1/auth/refresh")
                .set_json(json!({"refresh_token": token})),
        )
        .await
    }
    let old = session["refresh_token"].as_str().unwrap().to_string();
    let rotated = refresh(&b, &old).await;
    rotated.expect(200);
    let rotated = rotated.json();
    b.get("/api/v1/me", rotated["access_token"].as_str().unwrap())
        .await
        .expect(200);
    refresh(&a, &old).await.expect(401);
    refresh(&b, rotated["refresh_token"].as_str().unwrap())
        .await
        .expect(401);
    a.get("/api/v1/me", rotated["access_token"].as_str().unwrap())
        .await
        .expect(401);

    // Webhooks: both replicas' workers over one outbox; every event is delivered once.
    let (receiver, base) = Receiver::start().await;
    let hook = a
        .post(
            "/api/v1/webhooks",
            &pm.token,
            json!({"url": format!("{base}/replicas"), "events": ["case.stage_changed"]}),
        )
        .await;
    hook.expect(201);
    let worker = a.create_user(Role::CaseWorker, None).await;
    for (i, app) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
        let case = app
            .post(
                "/api/v1/cases",
                &worker.token,
                json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": "2026-11-01", "incident_on": "2026-10-30"}),
            )
            .await;
        case.expect(201);
        let moved = (if i % 2 == 0 { &b } else { &a })
            .post(
                &format!("/api/v1/cases/{}/transitions", case.json()["id"].as_str().unwrap()),
                &worker.token,
                json!({"to": "investigation", "occurred_on": "2026-11-02"}),
            )
            .await;
        moved.expect(200);
    }
    let client = haki::webhooks::delivery::client(&a.state.config).unwrap();
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..3 {
        let (x, y) = futures_util::join!(
            haki::webhooks::delivery::run_once(&a.state, &client, 2),
            haki::webhooks::delivery::run_once(&b.state, &client, 2)
        );
        by_a += x.unwrap();
        by_b += y.unwrap();
    }
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas' workers sent some: {by_a} and {by_b}"
    );
    let ids: Vec<String> = receiver.at("/replicas").into_iter().map(|g| g.0).collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 6, "each stage change once: {ids:?}");
    assert_eq!(unique.len(), 6);

    // The change feed, read from one replica while the other writes, has each case once.
    let (before, cursor) = feed(&a, &pm.token, None, "types=case").await;
    for app in [&b, &a, &b] {
        app.post(
            "/api/v1/cases",
            &worker.token,
            json!({"county": "kwale", "location_type": "street", "reported_on": "2026-11-01", "incident_on": "2026-10-30"}),
        )
        .await
        .expect(201);
    }
    let (after, _) = feed_until(&b, &pm.token, Some(&cursor), "types=case", |e| e.len() >= 3).await;
    let new_ids: std::collections::HashSet<&String> = after.iter().map(|e| &e.1).collect();
    assert_eq!(after.len(), 3, "each new case once: {after:?}");
    assert_eq!(new_ids.len(), 3, "{after:?}");
    assert!(before.iter().all(|e| !new_ids.contains(&e.1)));
}

/// After a rotation of HAKI_DATA_KEY, `reencrypt-identities` re-seals webhook signing secrets
/// too: a service holding only the new key still signs deliveries with the same secret.
#[actix_web::test]
async fn webhook_secrets_survive_a_key_rotation() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let (receiver, base) = Receiver::start().await;
    let hook = app
        .post(
            "/api/v1/webhooks",
            &pm.token,
            json!({"url": format!("{base}/rotated"), "events": ["case.stage_changed"]}),
        )
        .await;
    hook.expect(201);
    let secret = hook.json()["secret"].as_str().unwrap().to_string();

    let new = [7u8; 32];
    let rotated = haki::survivors::vault::Vault::new(&new, &[app.state.config.data_key]);
    let mut conn = app.conn().await;
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::webhooks::handlers::SEALED_SECRETS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::webhooks::handlers::SEALED_SECRETS)
            .await
            .unwrap(),
        0
    );

    let restarted = app
        .restarted(|c| {
            c.data_key = new;
            c.data_keys_previous = Vec::new();
        })
        .await;
    let case = restarted
        .post(
            "/api/v1/cases",
            &worker.token,
            json!({"county": "kilifi", "location_type": "street", "reported_on": "2026-11-01", "incident_on": "2026-10-30"}),
        )
        .await
        .json();
    restarted
        .post(
            &format!("/api/v1/cases/{}/transitions", case["id"].as_str().unwrap()),
            &worker.token,
            json!({"to": "investigation", "occurred_on": "2026-11-02"}),
        )
        .await
        .expect(200);
    let client = haki::webhooks::delivery::client(&restarted.state.config).unwrap();
    haki::webhooks::delivery::run_once(&restarted.state, &client, 20)
        .await
        .unwrap();
    let got = receiver.at("/rotated");
    assert_eq!(got.len(), 1);
    assert!(verifies(&secret, &got[0].1, &got[0].2), "signed with the same secret");
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .await,
        1
    );
}
