//! Partner organisations: staff read them, admins change them, a partner user sees only its own.

mod common;

use common::TestApp;
use haki::auth::Role;
use serde_json::{Value, json};

#[actix_web::test]
async fn admin_registers_and_updates_a_partner() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let created = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({
                "name": "Kilifi Community Justice Centre",
                "kind": "community_justice_centre",
                "counties": ["kilifi", "mombasa", "kilifi"],
                "contact": {"name": "Amina", "email": "amina@kcjc.example", "phone": "+254 700 000001"},
                "services_offered": ["legal_support", "court_accompaniment"],
                "mou_signed_on": "2024-03-01",
                "mou_expires_on": "2030-02-28"
            }),
        )
        .await;
    created.expect(201);
    let p = created.json();
    assert_eq!(p["counties"], json!(["kilifi", "mombasa"]));
    assert_eq!(p["contact"]["email"], "amina@kcjc.example");
    assert_eq!(p["mou_in_force"], true);
    assert_eq!(p["active"], true);
    assert_eq!(p["version"], 1);
    let path = format!("/api/v1/partners/{}", p["id"].as_str().unwrap());

    let updated = app
        .patch(
            &path,
            &admin.token,
            Some("\"1\""),
            json!({"mou_expires_on": null, "active": false, "notes": "MOU under renewal"}),
        )
        .await;
    updated.expect(200);
    let u = updated.json();
    assert_eq!(u["mou_expires_on"], serde_json::Value::Null);
    assert_eq!(u["active"], false);
    assert_eq!(u["version"], 2);
    assert_eq!(u["contact"]["name"], "Amina", "absent fields stay as they are");

    app.patch(&path, &admin.token, Some("\"1\""), json!({"notes": "x"}))
        .await
        .expect_problem(412, "stale_version");

    // Filters.
    let by_county = app.get("/api/v1/partners?county=mombasa", &admin.token).await.json();
    assert_eq!(by_county["data"].as_array().unwrap().len(), 1);
    let by_county = app.get("/api/v1/partners?county=kwale", &admin.token).await.json();
    assert_eq!(by_county["data"].as_array().unwrap().len(), 0);
    let by_kind = app
        .get(
            "/api/v1/partners?kind=community_justice_centre&active=false&q=kilifi",
            &admin.token,
        )
        .await
        .json();
    assert_eq!(by_kind["data"].as_array().unwrap().len(), 1);

    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE resource_type = 'partner'")
            .await,
        2
    );
}

#[actix_web::test]
async fn mou_cannot_expire_before_it_is_signed() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let r = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "A", "kind": "ngo", "mou_signed_on": "2025-01-01", "mou_expires_on": "2024-12-31"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "mou_expires_on"
    );
    assert_eq!(app.count("SELECT count(*) FROM partners").await, 0);

    let ok = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "A", "kind": "ngo", "mou_signed_on": "2025-01-01"}),
        )
        .await;
    ok.expect(201);
    let path = format!("/api/v1/partners/{}", ok.json()["id"].as_str().unwrap());
    // The rule holds against the stored value too.
    let r = app
        .patch(&path, &admin.token, Some("*"), json!({"mou_expires_on": "2024-01-01"}))
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "mou_expires_on"
    );
    let r = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "B", "kind": "ngo", "mou_signed_on": "2025-13-01"}),
        )
        .await;
    assert_eq!(
        r.expect_problem(422, "validation_failed")["errors"][0]["field"],
        "mou_signed_on"
    );
}

#[actix_web::test]
async fn names_are_unique_regardless_of_case() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    app.post(
        "/api/v1/partners",
        &admin.token,
        json!({"name": "Haki Shelter", "kind": "shelter"}),
    )
    .await
    .expect(201);
    let dup = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "HAKI SHELTER", "kind": "shelter"}),
        )
        .await;
    assert_eq!(dup.expect_problem(409, "already_exists")["errors"][0]["field"], "name");
    let blank = app
        .post(
            "/api/v1/partners",
            &admin.token,
            json!({"name": "  ", "kind": "shelter"}),
        )
        .await;
    let problem = blank.expect_problem(422, "validation_failed");
    assert_eq!(
        (
            problem["errors"][0]["field"].as_str(),
            problem["errors"][0]["code"].as_str()
        ),
        (Some("name"), Some("blank"))
    );
}

#[actix_web::test]
async fn staff_read_all_partners_see_only_their_own_and_only_admins_write() {
    let app = TestApp::new().await;
    let mine = app.create_partner("Mine").await;
    let theirs = app.create_partner("Theirs").await;

    for role in [
        Role::Admin,
        Role::ProgramManager,
        Role::CaseWorker,
        Role::AftercareOfficer,
        Role::Analyst,
    ] {
        let user = app.create_user(role, None).await;
        let list = app.get("/api/v1/partners", &user.token).await;
        list.expect(200);
        assert_eq!(list.json()["data"].as_array().unwrap().len(), 2, "{role:?}");
        app.get(&format!("/api/v1/partners/{theirs}"), &user.token)
            .await
            .expect(200);
        if role != Role::Admin {
            app.post("/api/v1/partners", &user.token, json!({"name": "New", "kind": "ngo"}))
                .await
                .expect_problem(403, "forbidden");
            app.patch(
                &format!("/api/v1/partners/{mine}"),
                &user.token,
                Some("*"),
                json!({"name": "Renamed"}),
            )
            .await
            .expect_problem(403, "forbidden");
        }
    }

    let partner_user = app.create_user(Role::Partner, Some(mine)).await;
    // Staff keep notes about the organisation that its own users do not see.
    let staff = app.admin().await;
    app.patch(
        &format!("/api/v1/partners/{mine}"),
        &staff.token,
        Some("*"),
        json!({"notes": "MOU renewal stalled; director unresponsive"}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&format!("/api/v1/partners/{mine}"), &staff.token).await.json()["notes"],
        "MOU renewal stalled; director unresponsive"
    );
    let own = app
        .get(&format!("/api/v1/partners/{mine}"), &partner_user.token)
        .await
        .json();
    assert_eq!(own["notes"], Value::Null);
    let listed = app.get("/api/v1/partners", &partner_user.token).await.json();
    assert_eq!(listed["data"][0]["notes"], Value::Null);
    let list = app.get("/api/v1/partners", &partner_user.token).await.json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.to_string().as_str()]);
    app.get(&format!("/api/v1/partners/{mine}"), &partner_user.token)
        .await
        .expect(200);
    // Another organisation is out of reach: 404, not 403.
    app.get(&format!("/api/v1/partners/{theirs}"), &partner_user.token)
        .await
        .expect_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/partners/{theirs}"),
        &partner_user.token,
        Some("*"),
        json!({"name": "X"}),
    )
    .await
    .expect_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/partners/{mine}"),
        &partner_user.token,
        Some("*"),
        json!({"name": "X"}),
    )
    .await
    .expect_problem(403, "forbidden");
    assert_eq!(
        app.count("SELECT count(*) FROM partners WHERE name IN ('New', 'Renamed', 'X')")
            .await,
        0
    );
}
