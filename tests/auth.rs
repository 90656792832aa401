//! Login, tokens, the caller's account, user administration, roles and the audit trail.

mod common;

use actix_web::test::TestRequest;
use common::{PASSWORD, TestApp, bearer};
use diesel_async::RunQueryDsl;
use haki::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

#[actix_web::test]
async fn login_issues_a_token_that_opens_me() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    // Emails match case-insensitively.
    let r = app.login(&user.email.to_uppercase(), PASSWORD).await;
    r.expect(200);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();

    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
        .unwrap()
        .claims;
    for claim in ["sub", "role", "org", "iss", "aud", "iat", "exp", "jti"] {
        assert!(claims.get(claim).is_some(), "claim {claim} missing: {claims}");
    }
    assert_eq!(claims["role"], "case_worker");
    assert_eq!(claims["sub"], user.id.to_string());

    let me = app.get("/api/v1/me", token).await;
    me.expect(200);
    let me_body = me.json();
    assert_eq!(me_body["email"], user.email);
    assert!(me_body.get("password_hash").is_none());
    assert!(me_body["last_login_at"].is_string());
    assert!(me.header("etag").is_some());

    assert_eq!(
        app.count(&format!("SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND actor_id = '{}' AND client_addr = '10.0.0.1' AND request_id IS NOT NULL", user.id)).await,
        1
    );
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_answer_the_same() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::Analyst, None).await;
    let unknown = app.login("nobody@haki.test", PASSWORD).await;
    let wrong = app.login(&user.email, "not the password at all").await;
    let a = unknown.expect_problem(401, "unauthenticated");
    let b = wrong.expect_problem(401, "unauthenticated");
    assert_eq!(a["detail"], b["detail"]);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed'")
            .await,
        2
    );
    // The attempted password is never recorded, nor the typed email (a password typed into the
    // email field must not land in the log): a keyed hash of it, the same for the same email.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE details::text LIKE '%not the password%'")
            .await,
        0
    );
    let typed = "my secret passphrase@oops";
    app.login(typed, PASSWORD).await.expect(401);
    app.login(" My Secret Passphrase@OOPS ", PASSWORD).await.expect(401);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE lower(details::text) LIKE '%passphrase%' OR details::text LIKE '%nobody@%' OR details ? 'email'")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT count(DISTINCT details->>'email_hash') FROM audit_log
             WHERE action = 'auth.login_failed' AND details->>'reason' = 'unknown_email'"
        )
        .await,
        2,
        "one hash per distinct typed email"
    );
}

#[actix_web::test]
async fn wrong_current_passwords_count_toward_the_lockout() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    for _ in 0..5 {
        app.send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&user.token))
                .set_json(
                    json!({"current_password": "a guess that is wrong", "new_password": "a brand new passphrase"}),
                ),
        )
        .await
        .expect_problem(422, "validation_failed");
    }
    // Locked like five failed logins: the right password no longer logs in for now, and the
    // password cannot be changed either (not even with the right one).
    app.login(&user.email, PASSWORD).await.expect(401);
    app.send(
        TestRequest::put()
            .uri("/api/v1/me/password")
            .insert_header(bearer(&user.token))
            .set_json(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
    )
    .await
    .expect_problem(429, "rate_limited");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.password_change_failed'")
            .await,
        5
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM users WHERE id = '{}' AND locked_until > now()",
            user.id
        ))
        .await,
        1
    );
}

#[actix_web::test]
async fn five_failures_in_a_row_lock_the_account() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    for _ in 0..5 {
        app.login(&user.email, "wrong password guess")
            .await
            .expect_problem(401, "unauthenticated");
    }
    // Locked: even the right password is refused, with the same answer.
    app.login(&user.email, PASSWORD)
        .await
        .expect_problem(401, "unauthenticated");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.account_locked'")
            .await,
        1
    );

    // The admin sees the lock and lifts it.
    let admin = app.admin().await;
    let path = format!("/api/v1/users/{}", user.id);
    let shown = app.get(&path, &admin.token).await;
    assert_eq!(shown.json()["locked"], true);
    app.patch(&path, &admin.token, Some("*"), json!({"unlock": true}))
        .await
        .expect(200);
    app.login(&user.email, PASSWORD).await.expect(200);
}

#[actix_web::test]
async fn success_resets_the_failure_count() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    for _ in 0..4 {
        app.login(&user.email, "wrong password guess").await.expect(401);
    }
    app.login(&user.email, PASSWORD).await.expect(200);
    for _ in 0..4 {
        app.login(&user.email, "wrong password guess").await.expect(401);
    }
    app.login(&user.email, PASSWORD).await.expect(200);
}

#[actix_web::test]
async fn thirty_colleagues_behind_one_address_all_sign_in() {
    let app = TestApp::new().await;
    let mut people = Vec::new();
    for _ in 0..30 {
        people.push(app.create_user(Role::CaseWorker, None).await);
    }
    for person in &people {
        app.login_from(&person.email, common::PASSWORD, "10.7.7.7:4000")
            .await
            .expect(200);
    }
    // A few typos among them do not lock the office out either.
    for person in people.iter().take(3) {
        app.login_from(&person.email, "a typo in the password", "10.7.7.7:4000")
            .await
            .expect(401);
        app.login_from(&person.email, common::PASSWORD, "10.7.7.7:4000")
            .await
            .expect(200);
    }
}

#[actix_web::test]
async fn login_is_rate_limited_per_client_address() {
    let app = TestApp::new().await;
    for _ in 0..10 {
        app.login_from("nobody@haki.test", "whatever password", "10.9.9.9:1000")
            .await
            .expect(401);
    }
    let limited = app
        .login_from("nobody@haki.test", "whatever password", "10.9.9.9:1001")
        .await;
    limited.expect_problem(429, "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another address is not affected.
    app.login_from("nobody@haki.test", "whatever password", "10.9.9.10:1000")
        .await
        .expect(401);
}

#[actix_web::test]
async fn a_burst_of_concurrent_guesses_is_stopped_like_a_sequence() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let guesses = (0..40).map(|i| {
        let peer = format!("10.8.8.8:{}", 2000 + i);
        let email = user.email.clone();
        let app = &app;
        async move {
            app.login_from(&email, &format!("guess number {i:02} of many"), &peer)
                .await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + refused, 40);
    // Attempts in flight count against the address: no more guesses than its allowance.
    assert!((1..=10).contains(&checked), "{checked} guesses were checked");
    assert!(
        answers
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| r.header("retry-after").is_some())
    );
    assert!(
        app.count(&format!("SELECT failed_logins FROM users WHERE id = '{}'", user.id))
            .await
            <= 10
    );
}

#[actix_web::test]
async fn what_ended_sessions_leave_behind_is_purged_and_live_sessions_are_kept() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let live = app.login(&user.email, PASSWORD).await.json();
    let rotated = post_public(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": live["refresh_token"]}),
    )
    .await
    .json();
    let ended = app.login(&user.email, PASSWORD).await.json();
    app.send(
        TestRequest::post()
            .uri("/api/v1/auth/logout")
            .insert_header(bearer(ended["access_token"].as_str().unwrap())),
    )
    .await
    .expect(204);
    app.sql("UPDATE sessions SET revoked_at = now() - interval '2 days' WHERE revoked_at IS NOT NULL")
        .await;
    let admin = app.admin().await;
    app.post(
        &format!("/api/v1/users/{}/password-reset", user.id),
        &admin.token,
        json!({}),
    )
    .await
    .expect(201);
    app.sql("UPDATE password_resets SET expires_at = now() - interval '2 days'")
        .await;

    let purged = haki::auth::sessions::purge_expired(&app.state).await.unwrap();
    assert_eq!(
        purged, 2,
        "the ended session's refresh token and the expired reset token"
    );
    // The live session keeps its rotated token (reuse is still detected) and its current one.
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 2);
    post_public(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await
    .expect(200);
    app.sql("UPDATE sessions SET revoked_at = now() - interval '31 days' WHERE revoked_at IS NOT NULL")
        .await;
    assert_eq!(haki::auth::sessions::purge_expired(&app.state).await.unwrap(), 1);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 1);
}

fn forge(claims: serde_json::Value, secret: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[actix_web::test]
async fn tampered_tokens_are_refused() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::Admin, None).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |over: serde_json::Value| {
        let mut c = json!({
            "sub": user.id, "role": "admin", "org": null, "iss": "haki", "aud": "haki-api",
            "iat": now, "exp": now + 600, "jti": uuid::Uuid::now_v7(), "tv": 1
        });
        for (k, v) in over.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let secret = app.state.config.jwt_secret.clone();
    // The honest token works.
    app.get("/api/v1/me", &forge(claims(json!({})), &secret, Algorithm::HS256))
        .await
        .expect(200);

    let other_key = forge(
        claims(json!({})),
        b"another-secret-of-sufficient-length!!",
        Algorithm::HS256,
    );
    let expired = forge(
        claims(json!({"iat": now - 7200, "exp": now - 3600})),
        &secret,
        Algorithm::HS256,
    );
    let wrong_aud = forge(claims(json!({"aud": "someone-else"})), &secret, Algorithm::HS256);
    let wrong_iss = forge(claims(json!({"iss": "evil"})), &secret, Algorithm::HS256);
    let other_alg = forge(claims(json!({})), &secret, Algorithm::HS512);
    // alg: none — header and claims, no signature.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&claims(json!({}))).unwrap())
    );
    // A valid signature with a flipped claim.
    let honest = forge(claims(json!({})), &secret, Algorithm::HS256);
    let mut parts: Vec<String> = honest.split('.').map(String::from).collect();
    parts[1] = b64.encode(serde_json::to_vec(&claims(json!({"role": "partner"}))).unwrap());
    let altered = parts.join(".");

    for (name, token) in [
        ("other key", other_key),
        ("expired", expired),
        ("wrong audience", wrong_aud),
        ("wrong issuer", wrong_iss),
        ("HS512", other_alg),
        ("alg none", none),
        ("altered payload", altered),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        let r = app.get("/api/v1/me", &token).await;
        assert_eq!(r.status.as_u16(), 401, "{name} was accepted: {}", r.text());
        let challenge = r.header("www-authenticate").unwrap_or_default().to_string();
        assert!(challenge.contains(r#"error="invalid_token""#), "{name}: {challenge}");
        if name == "expired" {
            // A client can tell an expired token (renew it) from a forged one.
            r.expect_problem(401, "token_expired");
            assert!(challenge.contains("expired"), "{challenge}");
        } else {
            r.expect_problem(401, "unauthenticated");
            assert!(!challenge.contains("expired"), "{name}: {challenge}");
        }
    }
    // No header, or another scheme.
    app.send(TestRequest::get().uri("/api/v1/me"))
        .await
        .expect_problem(401, "unauthenticated");
    app.send(
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(("Authorization", "Basic YTpi")),
    )
    .await
    .expect(401);
}

#[actix_web::test]
async fn deactivation_cuts_off_existing_tokens_at_once() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    app.get("/api/v1/me", &worker.token).await.expect(200);
    let r = app
        .patch(
            &format!("/api/v1/users/{}", worker.id),
            &admin.token,
            Some("*"),
            json!({"active": false}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json()["active"], false);
    app.get("/api/v1/me", &worker.token)
        .await
        .expect_problem(401, "unauthenticated");
    app.login(&worker.email, PASSWORD).await.expect(401);
}

#[actix_web::test]
async fn changing_the_password_revokes_older_tokens() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::AftercareOfficer, None).await;
    let old = app.login(&user.email, PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let wrong = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&old))
                .set_json(json!({"current_password": "not it at all", "new_password": "a brand new passphrase"})),
        )
        .await;
    let body = wrong.expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "current_password");

    let short = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&old))
                .set_json(json!({"current_password": PASSWORD, "new_password": "short"})),
        )
        .await;
    assert_eq!(
        short.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "new_password"
    );

    let ok = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&old))
                .set_json(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
        )
        .await;
    ok.expect(200);
    let fresh = ok.json()["access_token"].as_str().unwrap().to_string();
    app.get("/api/v1/me", &old).await.expect(401);
    app.get("/api/v1/me", &user.token).await.expect(401);
    app.get("/api/v1/me", &fresh).await.expect(200);
    app.login(&user.email, PASSWORD).await.expect(401);
    app.login(&user.email, "a brand new passphrase").await.expect(200);
}

#[actix_web::test]
async fn admin_manages_users() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let org = app.create_partner("Kwale Community Justice Centre").await;

    let created = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "Wanjiru@Example.org", "display_name": "Wanjiru", "role": "partner",
                   "organization_id": org, "password": "a long enough password"}),
        )
        .await;
    created.expect(201);
    let user = created.json();
    assert_eq!(user["role"], "partner");
    assert_eq!(user["organization_id"], org.to_string());
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));

    // Emails are unique regardless of case.
    let dup = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "wanjiru@example.org", "display_name": "W", "role": "analyst", "password": "a long enough password"}),
        )
        .await;
    let body = dup.expect_problem(409, "already_exists");
    assert_eq!(body["errors"][0]["field"], "email");

    // A partner user needs an organisation, and it must exist.
    let r = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "p@example.org", "display_name": "P", "role": "partner", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "organization_id"
    );
    let r = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "p@example.org", "display_name": "P", "role": "partner",
                   "organization_id": uuid::Uuid::now_v7(), "password": "a long enough password"}),
        )
        .await;
    r.expect_problem(422, "invalid_reference");

    // Bad fields are named, nothing is written.
    let r = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "not-an-email", "display_name": "", "role": "king", "password": "x"}),
        )
        .await;
    r.expect_problem(422, "validation_failed");
    let r = app
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": "not-an-email", "display_name": "", "role": "analyst", "password": "x"}),
        )
        .await;
    let fields: Vec<String> = r.expect_problem(422, "validation_failed")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["display_name", "email", "password"]);
    assert_eq!(app.count("SELECT count(*) FROM users").await, 2);

    // Filters.
    let list = app.get("/api/v1/users?role=partner", &admin.token).await;
    list.expect(200);
    let data = list.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["email"], "Wanjiru@Example.org");
    let list = app.get("/api/v1/users?q=wanj", &admin.token).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    // PATCH with ETag: a stale If-Match is refused, the current one wins.
    let r = app
        .patch(
            &path,
            &admin.token,
            Some("\"1\""),
            json!({"display_name": "Wanjiru K."}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.json()["display_name"], "Wanjiru K.");
    let stale = app
        .patch(
            &path,
            &admin.token,
            Some("\"1\""),
            json!({"display_name": "Lost update"}),
        )
        .await;
    stale.expect_problem(412, "stale_version");
    assert_eq!(app.get(&path, &admin.token).await.json()["display_name"], "Wanjiru K.");

    // Clearing the organisation of a partner user is refused.
    let r = app
        .patch(&path, &admin.token, Some("*"), json!({"organization_id": null}))
        .await;
    r.expect_problem(422, "validation_failed");

    // An admin cannot lock themselves out.
    let me = format!("/api/v1/users/{}", admin.id);
    app.patch(&me, &admin.token, Some("*"), json!({"active": false}))
        .await
        .expect_problem(409, "self_lockout");
    // Nor set their own password without the current one (a stolen token is not enough).
    let own = app
        .patch(
            &me,
            &admin.token,
            Some("*"),
            json!({"password": "a brand new admin passphrase"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(own["errors"][0]["code"], "own_password");
    app.get("/api/v1/me", &admin.token).await.expect(200);

    // Every change is in the audit log.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.create'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.update'")
            .await,
        1
    );
}

#[actix_web::test]
async fn concurrent_patches_with_the_same_if_match_one_wins() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let user = app.create_user(Role::Analyst, None).await;
    let path = format!("/api/v1/users/{}", user.id);
    let (a, b) = futures_util::join!(
        app.patch(&path, &admin.token, Some("\"1\""), json!({"display_name": "A"})),
        app.patch(&path, &admin.token, Some("\"1\""), json!({"display_name": "B"})),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    assert_eq!(app.get(&path, &admin.token).await.json()["version"], 2);
}

#[actix_web::test]
async fn only_admins_reach_users_and_the_audit_log() {
    let app = TestApp::new().await;
    let org = app.create_partner("Shelter").await;
    let target = app.create_user(Role::Analyst, None).await;
    for role in [
        Role::ProgramManager,
        Role::CaseWorker,
        Role::AftercareOfficer,
        Role::Analyst,
        Role::Partner,
    ] {
        let user = app.create_user(role, (role == Role::Partner).then_some(org)).await;
        app.get("/api/v1/users", &user.token)
            .await
            .expect_problem(403, "forbidden");
        app.get(&format!("/api/v1/users/{}", target.id), &user.token)
            .await
            .expect_problem(403, "forbidden");
        app.post(
            "/api/v1/users",
            &user.token,
            json!({"email": "x@example.org", "display_name": "X", "role": "admin", "password": "a long enough password"}),
        )
        .await
        .expect_problem(403, "forbidden");
        app.patch(
            &format!("/api/v1/users/{}", target.id),
            &user.token,
            Some("*"),
            json!({"role": "admin"}),
        )
        .await
        .expect_problem(403, "forbidden");
        let refused = app
            .get("/api/v1/audit-log", &user.token)
            .await
            .expect_problem(403, "forbidden");
        assert_eq!(refused["extensions"]["permission"], "read_audit_log");
        // Everyone reads their own account, with the permissions the role has.
        let me = app.get("/api/v1/me", &user.token).await;
        me.expect(200);
        let me = me.json();
        assert_eq!(me["role"], role.to_string());
        let granted: Vec<&str> = me["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(!granted.contains(&"manage_users") && !granted.contains(&"read_audit_log"));
        assert!(granted.contains(&"read_partners"), "{granted:?}");
        assert_eq!(
            granted.contains(&"close_cases"),
            role == Role::ProgramManager,
            "{granted:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE role = 'admin'").await, 0);
    let admin = app.create_user(Role::Admin, None).await;
    let me = app.get("/api/v1/me", &admin.token).await.json();
    for p in ["manage_users", "read_audit_log", "read_cases", "read_identity"] {
        assert!(me["permissions"].as_array().unwrap().contains(&json!(p)), "{me}");
    }
}

#[actix_web::test]
async fn audit_log_lists_filters_and_cannot_be_altered() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    app.login(&user.email, PASSWORD).await.expect(200);
    app.login(&user.email, "wrong password guess").await.expect(401);

    let all = app.get("/api/v1/audit-log", &admin.token).await;
    all.expect(200);
    let entries = all.json()["data"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "auth.login_failed", "newest first");
    assert_eq!(entries[1]["action"], "auth.login");
    assert_eq!(entries[1]["actor_role"], "case_worker");
    assert_eq!(entries[1]["client_addr"], "10.0.0.1");

    let filtered = app
        .get("/api/v1/audit-log?action=auth.login", &admin.token)
        .await
        .json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let filtered = app
        .get(
            &format!("/api/v1/audit-log?resource_id={}&limit=1", user.id),
            &admin.token,
        )
        .await
        .json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert!(filtered["next_cursor"].is_string());

    // The database itself refuses to rewrite history.
    let mut conn = app.conn().await;
    for sql in [
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = diesel::sql_query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_log").await, 2);
}

#[actix_web::test]
async fn the_client_address_behind_trusted_proxies_cannot_be_forged() {
    // The test instance trusts the proxies in 10.9.0.0/16.
    let app = TestApp::new().await;
    let user = app.create_user(Role::Analyst, None).await;
    let login = |peer: &'static str, forwarded: &'static str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr(peer.parse().unwrap())
            .insert_header(("X-Forwarded-For", forwarded))
            .set_json(json!({"email": user.email, "password": PASSWORD}))
    };
    let last_login_addr = || async {
        let log = app
            .count(&format!(
                "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND actor_id = '{}'",
                user.id
            ))
            .await;
        let mut conn = app.conn().await;
        #[derive(diesel::QueryableByName)]
        struct Addr {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            client_addr: Option<String>,
        }
        let addr: Addr =
            diesel::sql_query("SELECT client_addr FROM audit_log WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1")
                .get_result(&mut conn)
                .await
                .unwrap();
        (log, addr.client_addr)
    };
    // Through two proxies: the client wrote a forged address at the left; the first proxy
    // appended the real one. The right-most address that is not a proxy is the client.
    app.send(login("10.9.0.5:443", "1.2.3.4, 203.0.113.7, 10.9.0.2"))
        .await
        .expect(200);
    assert_eq!(last_login_addr().await, (1, Some("203.0.113.7".to_string())));
    // Straight from a client that is not a proxy: its header is not believed.
    app.send(login("198.51.100.20:5000", "203.0.113.99")).await.expect(200);
    assert_eq!(last_login_addr().await, (2, Some("198.51.100.20".to_string())));
}

#[actix_web::test]
async fn easily_guessed_passwords_are_refused() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    for password in [
        "password1234",
        "123456789012",
        "qwertyuiopasdf",
        "12345678901 ",
        "            ",
    ] {
        let problem = app
            .post(
                "/api/v1/users",
                &admin.token,
                json!({"email": "new@haki.test", "display_name": "New", "role": "analyst", "password": password}),
            )
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "password", "{problem}");
        assert_eq!(problem["errors"][0]["code"], "common_password", "{problem}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'new@haki.test'")
            .await,
        0
    );
    let problem = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&admin.token))
                .set_json(json!({"current_password": PASSWORD, "new_password": "passwordpassword"})),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "common_password");
    app.post(
        "/api/v1/users",
        &admin.token,
        json!({"email": "new@haki.test", "display_name": "New", "role": "analyst", "password": "correct horse battery staple"}),
    )
    .await
    .expect(201);
}

#[actix_web::test]
async fn sessions_rotate_refresh_tokens_detect_reuse_and_end() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let admin = app.admin().await;
    let refresh = async |token: &str| {
        app.send(
            TestRequest::post()
                .uri("/api/v1/auth/refresh")
                .set_json(json!({"refresh_token": token})),
        )
        .await
    };
    let first = app.login(&user.email, PASSWORD).await;
    first.expect(200);
    let first = first.json();
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    assert!(r1.starts_with("hakr_"));
    assert_eq!(first["refresh_expires_in"], 1800);

    // Rotation: the refresh token works once; the new pair works.
    let second = refresh(&r1).await;
    second.expect(200);
    let second = second.json();
    let (a2, r2) = (
        second["access_token"].as_str().unwrap().to_string(),
        second["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(r1, r2);
    app.get("/api/v1/me", &a2).await.expect(200);
    // Reuse of the rotated token: someone copied it. The whole session ends, for both.
    refresh(&r1).await.expect_problem(401, "unauthenticated");
    app.get("/api/v1/me", &a2).await.expect_problem(401, "unauthenticated");
    refresh(&r2).await.expect_problem(401, "unauthenticated");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reused'")
            .await,
        1
    );
    // Tokens are kept only as hashes.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%{}%'",
            &r2[5..15]
        ))
        .await,
        0
    );

    // Two devices: each listed, the other one signed out from here.
    let phone = app.login(&user.email, PASSWORD).await.json();
    let laptop = app.login(&user.email, PASSWORD).await.json();
    let phone_access = phone["access_token"].as_str().unwrap();
    let laptop_access = laptop["access_token"].as_str().unwrap();
    let listed = app.get("/api/v1/me/sessions", laptop_access).await.json();
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = listed.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/me/sessions/{phone_session}"))
            .insert_header(bearer(laptop_access)),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", phone_access)
        .await
        .expect_problem(401, "unauthenticated");
    refresh(phone["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/me/sessions/{}", uuid::Uuid::now_v7()))
            .insert_header(bearer(laptop_access)),
    )
    .await
    .expect_problem(404, "not_found");

    // Idle too long, or past its lifetime: over.
    let idle = app.login(&user.email, PASSWORD).await.json();
    app.sql("UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE revoked_at IS NULL")
        .await;
    refresh(idle["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    let old = app.login(&user.email, PASSWORD).await.json();
    app.sql("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL")
        .await;
    app.get("/api/v1/me", old["access_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    refresh(old["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");

    // Sign-out ends this session's tokens at once.
    let mine = app.login(&user.email, PASSWORD).await.json();
    let access = mine["access_token"].as_str().unwrap();
    app.send(
        TestRequest::post()
            .uri("/api/v1/auth/logout")
            .insert_header(bearer(access)),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", access)
        .await
        .expect_problem(401, "unauthenticated");
    refresh(mine["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");

    // A password change ends every other session; its answer opens a fresh one.
    let other = app.login(&user.email, PASSWORD).await.json();
    let here = app.login(&user.email, PASSWORD).await.json();
    let changed = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(here["access_token"].as_str().unwrap()))
                .set_json(json!({"current_password": PASSWORD, "new_password": "a brand new long passphrase"})),
        )
        .await;
    changed.expect(200);
    refresh(other["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    let fresh = refresh(changed.json()["refresh_token"].as_str().unwrap()).await;
    fresh.expect(200);

    // Deactivation ends every session, and reactivation does not bring them back.
    let kept = refresh(fresh.json()["refresh_token"].as_str().unwrap()).await;
    kept.expect(200);
    let kept = kept.json();
    let set_active = async |active: bool| {
        let current = app.get(&format!("/api/v1/users/{}", user.id), &admin.token).await;
        let etag = current.header("etag").unwrap().to_string();
        app.patch(
            &format!("/api/v1/users/{}", user.id),
            &admin.token,
            Some(&etag),
            json!({"active": active}),
        )
        .await
        .expect(200);
    };
    set_active(false).await;
    set_active(true).await;
    refresh(kept["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    app.get("/api/v1/me", kept["access_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    let fresh = app.login(&user.email, "a brand new long passphrase").await;
    fresh.expect(200);

    // An admin ends every session of a user (a lost phone).
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/users/{}/sessions", user.id))
            .insert_header(bearer(&admin.token)),
    )
    .await
    .expect(204);
    refresh(fresh.json()["refresh_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/users/{}/sessions", user.id))
            .insert_header(bearer(&app.create_user(Role::ProgramManager, None).await.token)),
    )
    .await
    .expect_problem(403, "forbidden");
    assert!(app.count("SELECT count(*) FROM audit_log WHERE action IN ('auth.logout', 'auth.session_ended', 'auth.sessions_ended', 'auth.refresh')").await >= 4);
}

/// The code an authenticator app shows at `at` (seconds) for a base32 `secret`.
fn totp_code(secret: &str, at: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new())
        .generate(u64::try_from(at).unwrap())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn post_public(app: &TestApp, path: &str, body: serde_json::Value) -> common::Resp {
    app.send(
        TestRequest::post()
            .uri(path)
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .set_json(body),
    )
    .await
}

#[actix_web::test]
async fn reset_tokens_from_an_admin_work_once_and_expire() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let issue = async || {
        let r = app
            .post(
                &format!("/api/v1/users/{}/password-reset", user.id),
                &admin.token,
                json!({}),
            )
            .await;
        r.expect(201);
        r.json()["token"].as_str().unwrap().to_string()
    };
    let reset = async |token: &str, password: &str| {
        post_public(
            &app,
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": password}),
        )
        .await
    };
    // Only admins issue them.
    let pm = app.create_user(Role::ProgramManager, None).await;
    app.post(
        &format!("/api/v1/users/{}/password-reset", user.id),
        &pm.token,
        json!({}),
    )
    .await
    .expect_problem(403, "forbidden");

    let session = app.login(&user.email, PASSWORD).await.json();
    let first = issue().await;
    assert!(first.starts_with("hakp_"));
    // A new token voids the earlier one.
    let token = issue().await;
    reset(&first, "a long and fresh passphrase")
        .await
        .expect_problem(422, "validation_failed");
    // The new password is checked like any other.
    let weak = reset(&token, "password1234")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(weak["errors"][0]["code"], "common_password");
    reset(&token, "short").await.expect_problem(422, "validation_failed");

    // A locked account is unlocked by the reset; every session ends.
    app.sql(&format!(
        "UPDATE users SET locked_until = now() + interval '1 hour' WHERE id = '{}'",
        user.id
    ))
    .await;
    reset(&token, "a long and fresh passphrase").await.expect(204);
    app.get("/api/v1/me", session["access_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    app.login(&user.email, PASSWORD)
        .await
        .expect_problem(401, "unauthenticated");
    app.login(&user.email, "a long and fresh passphrase").await.expect(200);
    // Once only.
    reset(&token, "another long passphrase")
        .await
        .expect_problem(422, "validation_failed");

    // A password change voids a token waiting in a mailbox.
    let waiting = issue().await;
    let signed_in = app.login(&user.email, "a long and fresh passphrase").await.json();
    app.send(
        TestRequest::put()
            .uri("/api/v1/me/password")
            .insert_header(bearer(signed_in["access_token"].as_str().unwrap()))
            .set_json(json!({"current_password": "a long and fresh passphrase", "new_password": "a long and fresh passphrase 2"})),
    )
    .await
    .expect(200);
    reset(&waiting, "another long passphrase")
        .await
        .expect_problem(422, "validation_failed");

    // An admin's API key cannot issue one: a key never passed a second factor.
    let admin_session = app.login(&admin.email, PASSWORD).await.json();
    let key = app
        .post(
            "/api/v1/api-keys",
            admin_session["access_token"].as_str().unwrap(),
            json!({"name": "admin script", "current_password": PASSWORD}),
        )
        .await
        .json();
    let key = key["secret"].as_str().unwrap();
    app.post(&format!("/api/v1/users/{}/password-reset", user.id), key, json!({}))
        .await
        .expect_problem(403, "forbidden");
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/users/{}/mfa", user.id))
            .insert_header(bearer(key)),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post("/api/v1/me/mfa/totp", key, json!({"current_password": PASSWORD}))
        .await
        .expect_problem(403, "forbidden");
    // Nor make an account, or set another's password: both would be a way in.
    app.post(
        "/api/v1/users",
        key,
        json!({"email": "by-key@haki.test", "display_name": "K", "role": "admin", "password": "a long enough password"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/users/{}", user.id),
        key,
        Some("*"),
        json!({"password": "a takeover passphrase"}),
    )
    .await
    .expect_problem(403, "forbidden");
    // A key is minted only with the current password: a session alone is not enough.
    app.post(
        "/api/v1/api-keys",
        admin_session["access_token"].as_str().unwrap(),
        json!({"name": "stolen session", "current_password": "not the password"}),
    )
    .await
    .expect_problem(422, "validation_failed");

    // Expired.
    let late = issue().await;
    app.sql("UPDATE password_resets SET expires_at = now() - interval '1 second'")
        .await;
    let expired = reset(&late, "another long passphrase")
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(expired["errors"][0]["field"], "token");

    // Kept only as keyed hashes; each step audited.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM password_resets WHERE encode(token_hash, 'escape') LIKE '%{}%'",
            &late[5..15]
        ))
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset_issued'")
            .await,
        4
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset' AND actor_id = '{}'",
            user.id
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset_failed'")
            .await,
        2
    );

    // Without email set up, asking for a link answers the same for any address and sends nothing.
    let known = post_public(&app, "/api/v1/auth/forgot-password", json!({"email": user.email})).await;
    let unknown = post_public(
        &app,
        "/api/v1/auth/forgot-password",
        json!({"email": "nobody@haki.test"}),
    )
    .await;
    known.expect(202);
    unknown.expect(202);
    assert_eq!(known.json(), unknown.json());
    assert_eq!(
        app.count("SELECT count(*) FROM password_resets WHERE used_at IS NULL AND expires_at > now()")
            .await,
        0
    );
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_by_an_emailed_link() {
    let (port, mail) = common::smtp_sink(None).await;
    let app = TestApp::with_config(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = Some("Haki <haki@haki.test>".into());
        c.password_reset_url = Some("https://app.haki.test/reset#".into());
    })
    .await;
    let user = app.create_user(Role::AftercareOfficer, None).await;
    let known = post_public(&app, "/api/v1/auth/forgot-password", json!({"email": user.email})).await;
    let unknown = post_public(
        &app,
        "/api/v1/auth/forgot-password",
        json!({"email": "nobody@haki.test"}),
    )
    .await;
    known.expect(202);
    unknown.expect(202);
    assert_eq!(known.json(), unknown.json());
    // Asking again soon sends nothing more.
    post_public(&app, "/api/v1/auth/forgot-password", json!({"email": user.email}))
        .await
        .expect(202);

    let mut message = None;
    for _ in 0..100 {
        let received: Vec<String> = mail.lock().unwrap().clone();
        if let Some(m) = received.into_iter().next() {
            message = Some(m);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let message = message.expect("a reset email").replace("=\n", "");
    assert!(message.contains(&user.email), "{message}");
    let token = message
        .split("https://app.haki.test/reset#")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a link")
        .to_string();
    assert!(token.starts_with("hakp_"));
    post_public(
        &app,
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": "remembered at last, long"}),
    )
    .await
    .expect(204);
    app.login(&user.email, "remembered at last, long").await.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(mail.lock().unwrap().len(), 1, "one email for two requests");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset_requested' AND details->>'outcome' = 'sent'").await,
        1
    );
}

#[actix_web::test]
async fn a_second_factor_is_enrolled_asked_for_and_reset() {
    let app = TestApp::with_config(|c| {
        c.lockout_threshold = 8;
        c.login_rate_per_minute = 100;
    })
    .await;
    let admin = app.admin().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let signed_in = app.login(&user.email, PASSWORD).await.json();
    let access = signed_in["access_token"].as_str().unwrap().to_string();

    // Enrol: the secret is shown once; a wrong code does not confirm it, the right one does.
    // The current password is asked for first.
    app.post(
        "/api/v1/me/mfa/totp",
        &access,
        json!({"current_password": "not the password at all"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    let enrolment = app
        .post("/api/v1/me/mfa/totp", &access, json!({"current_password": PASSWORD}))
        .await;
    enrolment.expect(200);
    let enrolment = enrolment.json();
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Haki:")
    );
    let wrong = if totp_code(&secret, now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    app.post("/api/v1/me/mfa/totp/confirm", &access, json!({"code": wrong}))
        .await
        .expect_problem(422, "validation_failed");
    let first_code = totp_code(&secret, now());
    let confirmed = app
        .post("/api/v1/me/mfa/totp/confirm", &access, json!({"code": first_code}))
        .await;
    confirmed.expect(200);
    let recovery: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(app.get("/api/v1/me", &access).await.json()["mfa_enabled"], true);
    app.post("/api/v1/me/mfa/totp", &access, json!({"current_password": PASSWORD}))
        .await
        .expect_problem(409, "already_exists");

    // Signing in now asks for a code.
    let challenge = async || {
        let r = app.login(&user.email, PASSWORD).await;
        r.expect(200);
        let body = r.json();
        assert_eq!(body["mfa_required"], "totp");
        assert!(body.get("access_token").is_none());
        body["challenge"].as_str().unwrap().to_string()
    };
    let verify = async |body: serde_json::Value| post_public(&app, "/api/v1/auth/mfa", body).await;
    let c = challenge().await;
    // The code that confirmed the enrolment was used: it does not work again.
    verify(json!({"challenge": c, "code": first_code}))
        .await
        .expect_problem(422, "validation_failed");
    let next = totp_code(&secret, now() + 30);
    let tokens = verify(json!({"challenge": c, "code": next})).await;
    tokens.expect(200);
    let tokens = tokens.json();
    app.get("/api/v1/me", tokens["access_token"].as_str().unwrap())
        .await
        .expect(200);
    assert!(tokens["recovery_codes"].is_null());
    // A challenge works once, and a code once.
    verify(json!({"challenge": c, "code": next}))
        .await
        .expect_problem(401, "unauthenticated");
    let c = challenge().await;
    verify(json!({"challenge": c, "code": next}))
        .await
        .expect_problem(422, "validation_failed");
    // Neither or both of code and recovery code.
    verify(json!({"challenge": c}))
        .await
        .expect_problem(422, "validation_failed");
    verify(json!({"challenge": c, "code": "123456", "recovery_code": recovery[0]}))
        .await
        .expect_problem(422, "validation_failed");

    // A recovery code stands in for a code, once.
    let by_recovery = verify(json!({"challenge": c, "recovery_code": recovery[0].to_uppercase()})).await;
    by_recovery.expect(200);
    let c = challenge().await;
    verify(json!({"challenge": c, "recovery_code": recovery[0]}))
        .await
        .expect_problem(422, "validation_failed");

    // Wrong codes end the challenge after five and count toward the account's lockout.
    app.sql(&format!("UPDATE users SET failed_logins = 0 WHERE id = '{}'", user.id))
        .await;
    let c = challenge().await;
    for _ in 0..5 {
        verify(json!({"challenge": c, "code": wrong}))
            .await
            .expect_problem(422, "validation_failed");
    }
    assert_eq!(
        app.count(&format!("SELECT failed_logins FROM users WHERE id = '{}'", user.id))
            .await,
        5
    );
    verify(json!({"challenge": c, "code": totp_code(&secret, now() + 60)}))
        .await
        .expect_problem(401, "unauthenticated");
    let c = challenge().await;
    for _ in 0..3 {
        verify(json!({"challenge": c, "code": wrong}))
            .await
            .expect_problem(422, "validation_failed");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM users WHERE id = '{}' AND locked_until > now()",
            user.id
        ))
        .await,
        1
    );
    verify(json!({"challenge": c, "code": totp_code(&secret, now() + 60)}))
        .await
        .expect_problem(401, "unauthenticated");
    app.sql(&format!(
        "UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE id = '{}'",
        user.id
    ))
    .await;

    // The admin resets the factor (a lost phone): the sessions end, sign-in needs no code again.
    let staff = app.create_user(Role::ProgramManager, None).await;
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/users/{}/mfa", user.id))
            .insert_header(bearer(&staff.token)),
    )
    .await
    .expect_problem(403, "forbidden");
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/users/{}/mfa", user.id))
            .insert_header(bearer(&admin.token)),
    )
    .await
    .expect(204);
    app.get("/api/v1/me", tokens["access_token"].as_str().unwrap())
        .await
        .expect_problem(401, "unauthenticated");
    let plain = app.login(&user.email, PASSWORD).await;
    plain.expect(200);
    assert!(plain.json()["access_token"].is_string());

    for action in [
        "auth.mfa_enrolled",
        "auth.mfa_failed",
        "auth.mfa_reset",
        "auth.mfa_challenged",
    ] {
        assert!(
            app.count(&format!("SELECT count(*) FROM audit_log WHERE action = '{action}'"))
                .await
                >= 1,
            "{action} audited"
        );
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND details->>'second_factor' = 'recovery_code'"
        )
        .await,
        1
    );
    // The secret is sealed, recovery codes are hashed.
    let raw_secret = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM totp_factors WHERE position('\\x{}'::bytea IN ciphertext) > 0",
            hex::encode(&raw_secret[..8])
        ))
        .await,
        0
    );
}

#[actix_web::test]
async fn a_role_that_requires_a_second_factor_enrols_at_sign_in() {
    let app = TestApp::with_config(|c| c.mfa_required_roles = vec![Role::ProgramManager]).await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let first = app.login(&pm.email, PASSWORD).await;
    first.expect(200);
    let first = first.json();
    assert_eq!(first["mfa_required"], "enrol");
    let c = first["challenge"].as_str().unwrap();
    // No recovery codes before enrolment; no tokens without a code.
    post_public(
        &app,
        "/api/v1/auth/mfa",
        json!({"challenge": c, "recovery_code": "abcd-efgh-jkmn"}),
    )
    .await
    .expect_problem(422, "validation_failed");
    let enrolment = post_public(&app, "/api/v1/auth/mfa/enrol", json!({"challenge": c})).await;
    enrolment.expect(200);
    let secret = enrolment.json()["secret"].as_str().unwrap().to_string();
    let done = post_public(
        &app,
        "/api/v1/auth/mfa",
        json!({"challenge": c, "code": totp_code(&secret, now())}),
    )
    .await;
    done.expect(200);
    let done = done.json();
    assert_eq!(done["recovery_codes"].as_array().unwrap().len(), 10);
    let me = app
        .get("/api/v1/me", done["access_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(
        (me["mfa_enabled"].clone(), me["mfa_required"].clone()),
        (json!(true), json!(true))
    );

    // From now on the sign-in asks for a code, and an enrolment challenge is refused.
    let next = app.login(&pm.email, PASSWORD).await.json();
    assert_eq!(next["mfa_required"], "totp");
    post_public(&app, "/api/v1/auth/mfa/enrol", json!({"challenge": next["challenge"]}))
        .await
        .expect_problem(401, "unauthenticated");
    // Roles it is not required of sign in with a password alone.
    let worker = app.create_user(Role::CaseWorker, None).await;
    assert!(app.login(&worker.email, PASSWORD).await.json()["access_token"].is_string());
}

#[actix_web::test]
async fn a_browser_keeps_its_refresh_token_in_a_strict_cookie() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::Analyst, None).await;
    let login = post_public(
        &app,
        "/api/v1/auth/login",
        json!({"email": user.email, "password": PASSWORD, "refresh_cookie": true}),
    )
    .await;
    login.expect(200);
    assert!(login.json()["refresh_token"].is_null());
    let cookie = login.header("set-cookie").unwrap().to_string();
    for part in [
        "haki_refresh=hakr_",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/v1/auth",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    let value = cookie.split(';').next().unwrap().to_string();
    let refresh = async |cookie: &str| {
        app.send(
            TestRequest::post()
                .uri("/api/v1/auth/refresh")
                .insert_header(("Cookie", cookie))
                .set_json(json!({})),
        )
        .await
    };
    let renewed = refresh(&value).await;
    renewed.expect(200);
    assert!(renewed.json()["refresh_token"].is_null());
    let next = renewed
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(next, value);
    // The rotated cookie used again ends the session.
    refresh(&value).await.expect_problem(401, "unauthenticated");
    refresh(&next).await.expect_problem(401, "unauthenticated");
    // Without a cookie or a token there is nothing to renew.
    refresh("other=1").await.expect_problem(401, "unauthenticated");

    // Sign-out removes the cookie.
    let again = post_public(
        &app,
        "/api/v1/auth/login",
        json!({"email": user.email, "password": PASSWORD, "refresh_cookie": true}),
    )
    .await
    .json();
    let out = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/logout")
                .insert_header(bearer(again["access_token"].as_str().unwrap())),
        )
        .await;
    out.expect(204);
    let removal = out.header("set-cookie").unwrap();
    assert!(
        removal.starts_with("haki_refresh=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );
}

#[actix_web::test]
async fn no_secret_of_signing_in_reaches_the_logs_the_audit_log_or_other_answers() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_string()];
    let mut answers: Vec<String> = Vec::new();

    let login = app.login(&user.email, PASSWORD).await.json();
    let access = login["access_token"].as_str().unwrap().to_string();
    let refreshed = post_public(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": login["refresh_token"]}),
    )
    .await
    .json();
    secrets.extend([access.clone(), login["refresh_token"].as_str().unwrap().to_string()]);
    let access = refreshed["access_token"].as_str().unwrap().to_string();
    secrets.extend([access.clone(), refreshed["refresh_token"].as_str().unwrap().to_string()]);

    // A mistyped password in the email field, and a wrong password.
    let typo = "my secret passphrase typed in the email field";
    app.login(typo, PASSWORD).await.expect(401);
    app.login(&user.email, "wrong but still a secret").await.expect(401);
    secrets.extend([typo.to_string(), "wrong but still a secret".to_string()]);

    // A second factor: its secret, codes, recovery codes and challenge.
    let enrolment = app
        .post("/api/v1/me/mfa/totp", &access, json!({"current_password": PASSWORD}))
        .await
        .json();
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let code = totp_code(&secret, now());
    let codes = app
        .post("/api/v1/me/mfa/totp/confirm", &access, json!({"code": code}))
        .await
        .json();
    let recovery: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let challenge = app.login(&user.email, PASSWORD).await.json()["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    let by_recovery = post_public(
        &app,
        "/api/v1/auth/mfa",
        json!({"challenge": challenge, "recovery_code": recovery[3]}),
    )
    .await
    .json();
    secrets.extend([
        secret.clone(),
        enrolment["otpauth_uri"].as_str().unwrap().to_string(),
        challenge,
    ]);
    secrets.extend(recovery);
    let access = by_recovery["access_token"].as_str().unwrap().to_string();
    secrets.extend([
        access.clone(),
        by_recovery["refresh_token"].as_str().unwrap().to_string(),
    ]);

    // A password change, an API key, a reset token and its use.
    let changed = app
        .send(
            TestRequest::put()
                .uri("/api/v1/me/password")
                .insert_header(bearer(&access))
                .set_json(json!({"current_password": PASSWORD, "new_password": "the next long passphrase"})),
        )
        .await
        .json();
    let access = changed["access_token"].as_str().unwrap().to_string();
    secrets.extend(["the next long passphrase".to_string(), access.clone()]);
    let key = app
        .post(
            "/api/v1/api-keys",
            &access,
            json!({"name": "sync script", "current_password": "the next long passphrase"}),
        )
        .await
        .json();
    secrets.push(key["secret"].as_str().unwrap().to_string());
    let reset = app
        .post(
            &format!("/api/v1/users/{}/password-reset", user.id),
            &admin.token,
            json!({}),
        )
        .await
        .json();
    let reset_token = reset["token"].as_str().unwrap().to_string();
    post_public(
        &app,
        "/api/v1/auth/reset-password",
        json!({"token": reset_token, "new_password": "reset to a long passphrase"}),
    )
    .await
    .expect(204);
    secrets.extend([reset_token, "reset to a long passphrase".to_string()]);

    // What others may read: the account, its sessions, the user list and the audit log.
    let fresh = app.login(&user.email, "reset to a long passphrase").await.json();
    let challenge = fresh["challenge"].as_str().unwrap().to_string();
    let fresh = post_public(
        &app,
        "/api/v1/auth/mfa",
        json!({"challenge": challenge, "code": totp_code(&secret, now() + 30)}),
    )
    .await
    .json();
    let access = fresh["access_token"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/me".to_string(),
        "/api/v1/me/sessions".into(),
        "/api/v1/api-keys".into(),
    ] {
        answers.push(app.get(&path, &access).await.text());
    }
    for path in [
        format!("/api/v1/users/{}", user.id),
        "/api/v1/users".into(),
        "/api/v1/audit-log?limit=100".into(),
    ] {
        let r = app.get(&path, &admin.token).await;
        r.expect(200);
        answers.push(r.text());
    }

    let logged = common::logged();
    assert!(
        logged.iter().any(|line| line.contains("POST /api/v1/auth/mfa 200")),
        "requests are logged"
    );
    for secret in &secrets {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM audit_log WHERE position({} IN audit_log::text) > 0",
                sql_text(secret)
            ))
            .await,
            0,
            "a secret in the audit log"
        );
        assert!(
            !logged.iter().any(|line| line.contains(secret.as_str())),
            "a secret in the logs"
        );
        assert!(
            !answers.iter().any(|a| a.contains(secret.as_str())),
            "a secret in an answer"
        );
    }
}

fn sql_text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[actix_web::test]
async fn rotating_the_data_key_reseals_second_factors() {
    let app = TestApp::new().await;
    let user = app.create_user(Role::CaseWorker, None).await;
    let access = app.login(&user.email, PASSWORD).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = app
        .post("/api/v1/me/mfa/totp", &access, json!({"current_password": PASSWORD}))
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/api/v1/me/mfa/totp/confirm",
        &access,
        json!({"code": totp_code(&secret, now())}),
    )
    .await
    .expect(200);

    let new = [9u8; 32];
    let rotated = haki::survivors::vault::Vault::new(&new, &[app.state.config.data_key]);
    let mut conn = app.conn().await;
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::auth::mfa::SEALED_SECRETS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::auth::mfa::SEALED_SECRETS)
            .await
            .unwrap(),
        0
    );

    // A service with only the new key still checks the code.
    let restarted = app
        .restarted(|c| {
            c.data_key = new;
            c.data_keys_previous = Vec::new();
        })
        .await;
    let challenge = restarted.login(&user.email, PASSWORD).await.json()["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    post_public(
        &restarted,
        "/api/v1/auth/mfa",
        json!({"challenge": challenge, "code": totp_code(&secret, now() + 30)}),
    )
    .await
    .expect(200);
}
