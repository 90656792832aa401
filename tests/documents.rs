//! Documents of cases and survivors: upload and download through HTTP, need-to-know, limits,
//! chain of custody, archive, audit, and both storage backends.

mod common;

use actix_web::test::TestRequest;
use chrono::Duration;
use common::{TestApp, TestUser, bearer, pdf, upload};
use haki::auth::Role;
use serde_json::{Value, json};

fn days_ago(n: i64) -> String {
    (haki::vocab::today() - Duration::days(n)).to_string()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn p3<'a>(identifying: &'a str, date: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("kind", "p3_form"),
        ("title", "P3 form, Malindi police station"),
        ("document_date", date),
        ("identifying", identifying),
    ]
}

struct World {
    app: TestApp,
    admin: TestUser,
    pm: TestUser,
    worker: TestUser,
    other_worker: TestUser,
    aftercare: TestUser,
    other_aftercare: TestUser,
    analyst: TestUser,
    partner: TestUser,
    case: String,
    survivor: String,
}

async fn world(app: TestApp) -> World {
    let admin = app.admin().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let other_worker = app.create_user(Role::CaseWorker, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let other_aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let org = app.create_partner("Partner org").await;
    let partner = app.create_user(Role::Partner, Some(org)).await;
    let case = app
        .post(
            "/api/v1/cases",
            &worker.token,
            json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": days_ago(30), "incident_on": days_ago(32)}),
        )
        .await;
    case.expect(201);
    let survivor = app
        .post(
            "/api/v1/survivors",
            &aftercare.token,
            json!({"pseudonym": "Neema", "sex": "female", "age_at_intake": 14, "intake_on": days_ago(20),
                   "county": "kilifi", "placement": "shelter", "schooling": "primary"}),
        )
        .await;
    survivor.expect(201);
    World {
        case: id(&case.json()).to_string(),
        survivor: id(&survivor.json()).to_string(),
        app,
        admin,
        pm,
        worker,
        other_worker,
        aftercare,
        other_aftercare,
        analyst,
        partner,
    }
}

async fn download(app: &TestApp, token: &str, document: &str) -> common::Resp {
    app.get(&format!("/api/v1/documents/{document}/content"), token).await
}

/// The whole round trip and the need-to-know rules, on the store `app` was configured with.
async fn round_trip_and_reach(app: TestApp) {
    let w = world(app).await;
    let app = &w.app;
    let case_docs = format!("/api/v1/cases/{}/documents", w.case);
    // Several chunks and a partial last one.
    let file = pdf(3 * 64 * 1024 + 1234);
    let r = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(2)),
        Some(&file),
    )
    .await;
    r.expect(201);
    let doc = r.json();
    let doc_id = id(&doc).to_string();
    assert_eq!(doc["content_type"], "application/pdf");
    assert_eq!(doc["size_bytes"], file.len());
    assert_eq!(
        doc["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&file))
    );
    assert_eq!(r.header("location").unwrap(), format!("/api/v1/documents/{doc_id}"));

    // Round trip, with the headers that keep a browser from rendering or caching it.
    let got = download(app, &w.worker.token, &doc_id).await;
    got.expect(200);
    assert_eq!(got.body.as_ref(), file.as_slice());
    assert_eq!(got.header("content-type").unwrap(), "application/pdf");
    assert!(got.header("content-disposition").unwrap().starts_with("attachment;"));
    assert!(!got.header("content-disposition").unwrap().contains("passwd"));
    assert_eq!(got.header("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(got.header("cache-control").unwrap(), "no-store");

    // Need-to-know: the case's reach.
    download(app, &w.pm.token, &doc_id).await.expect(200);
    download(app, &w.admin.token, &doc_id).await.expect(200);
    for outsider in [&w.other_worker, &w.aftercare, &w.analyst, &w.partner] {
        download(app, &outsider.token, &doc_id)
            .await
            .expect_problem(404, "not_found");
        app.get(&format!("/api/v1/documents/{doc_id}"), &outsider.token)
            .await
            .expect_problem(404, "not_found");
    }
    let listed = app.get(&case_docs, &w.worker.token).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    app.get(&case_docs, &w.other_worker.token)
        .await
        .expect_problem(404, "not_found");

    // An identifying document: only those who may read identities.
    let r = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("true", &days_ago(1)),
        Some(b"Name: ... (statement text)\n"),
    )
    .await;
    r.expect(201);
    let identifying = id(&r.json()).to_string();
    assert_eq!(r.json()["content_type"], "text/plain");
    let p = download(app, &w.worker.token, &identifying)
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(p["extensions"]["permission"], "read_identity");
    download(app, &w.pm.token, &identifying)
        .await
        .expect_problem(403, "forbidden");
    download(app, &w.admin.token, &identifying).await.expect(200);
    let listed = app.get(&case_docs, &w.worker.token).await.json();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "identifying ones are not listed"
    );
    assert_eq!(
        app.get(&case_docs, &w.admin.token).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A survivor's documents: her aftercare officer's; identifying ones too.
    let survivor_docs = format!("/api/v1/survivors/{}/documents", w.survivor);
    let r = upload(
        app,
        &w.aftercare.token,
        &survivor_docs,
        &[
            ("kind", "consent_form"),
            ("title", "Signed consent"),
            ("document_date", &days_ago(3)),
            ("identifying", "true"),
        ],
        Some(&pdf(2000)),
    )
    .await;
    r.expect(201);
    let consent = id(&r.json()).to_string();
    download(app, &w.aftercare.token, &consent).await.expect(200);
    download(app, &w.other_aftercare.token, &consent)
        .await
        .expect_problem(404, "not_found");
    // Admins read every document but do not add to a survivor's file.
    download(app, &w.admin.token, &consent).await.expect(200);
    upload(
        app,
        &w.admin.token,
        &survivor_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(100)),
    )
    .await
    .expect_problem(403, "forbidden");
    upload(
        app,
        &w.worker.token,
        &survivor_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(100)),
    )
    .await
    .expect_problem(404, "not_found");

    // Unassigned from the case, the case worker loses its documents at once.
    app.sql(&format!(
        "UPDATE case_assignments SET ended_at = now() WHERE case_id = '{}' AND user_id = '{}'",
        w.case, w.worker.id
    ))
    .await;
    download(app, &w.worker.token, &doc_id)
        .await
        .expect_problem(404, "not_found");
    app.get(&case_docs, &w.worker.token)
        .await
        .expect_problem(404, "not_found");

    // Every download is in the record's access log.
    let log = app
        .get(&format!("/api/v1/cases/{}/access-log", w.case), &w.pm.token)
        .await
        .json();
    let downloads = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "document.download")
        .count();
    assert_eq!(downloads, 4);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'document.download' AND resource_type = 'survivor' AND resource_id = '{}'",
            w.survivor
        ))
        .await,
        2
    );

    // At rest the file is encrypted: its bytes are nowhere in the store.
    let stored = app
        .state
        .documents
        .get(&haki::documents::store::path_of(doc_id.parse().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!stored.windows(64).any(|w| file.windows(64).take(50).any(|f| f == w)));
}

#[actix_web::test]
async fn documents_round_trip_on_the_filesystem_within_the_records_reach() {
    round_trip_and_reach(TestApp::new().await).await;
}

#[actix_web::test]
async fn limits_bad_input_and_failed_uploads_leave_nothing() {
    let app = TestApp::with_config(|c| c.document_max_bytes = 200 * 1024).await;
    let w = world(app).await;
    let app = &w.app;
    let case_docs = format!("/api/v1/cases/{}/documents", w.case);
    let objects = async || {
        use futures_util::TryStreamExt;
        let listed: Vec<_> = app
            .state
            .documents
            .list(Some(&object_store::path::Path::from("documents")))
            .try_collect()
            .await
            .unwrap();
        let ids: Vec<String> = listed
            .iter()
            .map(|o| o.location.filename().unwrap().to_string())
            .collect();
        let mut mine = 0;
        for id in ids {
            mine += app
                .count(&format!("SELECT count(*) FROM documents WHERE id = '{id}'"))
                .await;
        }
        (listed.len() as i64, mine)
    };
    let rows = || app.count("SELECT count(*) FROM documents");
    let (before, _) = objects().await;

    // Too large: 413, no row, no object.
    upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(300 * 1024)),
    )
    .await
    .expect_problem(413, "payload_too_large");
    // Not an accepted type, whatever the client says: 415.
    let exe = [b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".as_slice(), &[0u8; 9000]].concat();
    upload(app, &w.worker.token, &case_docs, &p3("false", &days_ago(1)), Some(&exe))
        .await
        .expect_problem(415, "unsupported_media_type");
    // Bad metadata after a good file: 422, and the stored object goes.
    let bad = upload(
        app,
        &w.worker.token,
        &case_docs,
        &[
            ("kind", "diary"),
            ("title", ""),
            ("document_date", &days_ago(-3)),
            ("identifying", "maybe"),
        ],
        Some(&pdf(1000)),
    )
    .await
    .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "title", "document_date", "identifying"]);
    upload(app, &w.worker.token, &case_docs, &p3("false", &days_ago(1)), None)
        .await
        .expect_problem(422, "validation_failed");
    upload(app, &w.worker.token, &case_docs, &p3("false", &days_ago(1)), Some(b""))
        .await
        .expect_problem(422, "validation_failed");
    // Not multipart at all.
    app.post(&case_docs, &w.worker.token, json!({"kind": "p3_form"}))
        .await
        .expect(400);
    // Roles that may not change the case.
    upload(
        app,
        &w.admin.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(100)),
    )
    .await
    .expect_problem(403, "forbidden");
    upload(
        app,
        &w.analyst.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(100)),
    )
    .await
    .expect_problem(404, "not_found");
    assert_eq!(rows().await, 0);
    assert_eq!(objects().await.0, before, "no object left behind");

    // A field given twice.
    let yesterday = days_ago(1);
    let mut twice = p3("false", &yesterday);
    twice.push(("title", "again"));
    upload(app, &w.worker.token, &case_docs, &twice, Some(&pdf(100)))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(rows().await, 0);
    assert_eq!(objects().await.0, before);

    // A file of exactly two encrypted chunks' worth round-trips.
    let exact = pdf(2 * 64 * 1024);
    let r = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&exact),
    )
    .await;
    r.expect(201);
    assert_eq!(
        download(app, &w.worker.token, id(&r.json())).await.body.as_ref(),
        exact.as_slice()
    );

    // A crash between storing the object and committing its row leaves an object: the sweep
    // removes it, and keeps those with a row and those of uploads still under way.
    let streaming = uuid::Uuid::now_v7();
    app.state
        .documents
        .put(&haki::documents::store::path_of(streaming), b"half".to_vec().into())
        .await
        .unwrap();
    app.sql(&format!("INSERT INTO document_uploads (id) VALUES ('{streaming}')"))
        .await;
    let kept = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(500)),
    )
    .await;
    kept.expect(201);
    let orphan = haki::documents::store::path_of(uuid::Uuid::now_v7());
    app.state
        .documents
        .put(&orphan, b"left behind".to_vec().into())
        .await
        .unwrap();
    let removed = haki::documents::store::sweep(&app.state, Duration::zero())
        .await
        .unwrap();
    assert!(removed >= 1);
    assert!(app.state.documents.head(&orphan).await.is_err());
    assert!(
        app.state
            .documents
            .head(&haki::documents::store::path_of(streaming))
            .await
            .is_ok()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM document_uploads").await,
        1,
        "only the one under way"
    );
    download(app, &w.worker.token, id(&kept.json())).await.expect(200);
}

#[actix_web::test]
async fn a_tampered_file_is_refused_never_served() {
    let w = world(TestApp::new().await).await;
    let app = &w.app;
    let case_docs = format!("/api/v1/cases/{}/documents", w.case);
    let file = pdf(150 * 1024);
    let doc = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&file),
    )
    .await
    .json();
    let path = haki::documents::store::path_of(id(&doc).parse().unwrap());
    let stored = app.state.documents.get(&path).await.unwrap().bytes().await.unwrap();
    // One flipped bit in the middle of the stored file.
    let mut tampered = stored.to_vec();
    tampered[100_000] ^= 0x01;
    app.state.documents.put(&path, tampered.into()).await.unwrap();
    let refused = download(app, &w.worker.token, id(&doc)).await;
    let problem = refused.expect_problem(409, "integrity_check_failed");
    assert!(problem["detail"].as_str().unwrap().contains("withheld"));
    // Another document's stored file put in its place: refused too.
    let other = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&file),
    )
    .await
    .json();
    let other_stored = app
        .state
        .documents
        .get(&haki::documents::store::path_of(id(&other).parse().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    app.state.documents.put(&path, other_stored.into()).await.unwrap();
    download(app, &w.worker.token, id(&doc))
        .await
        .expect_problem(409, "integrity_check_failed");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'document.integrity_failed'")
            .await,
        2
    );
    download(app, &w.worker.token, id(&other)).await.expect(200);
}

#[actix_web::test]
async fn metadata_changes_with_if_match_and_archived_documents_stay_for_admins() {
    let w = world(TestApp::new().await).await;
    let app = &w.app;
    let case_docs = format!("/api/v1/cases/{}/documents", w.case);
    let r = upload(
        app,
        &w.worker.token,
        &case_docs,
        &p3("false", &days_ago(1)),
        Some(&pdf(900)),
    )
    .await;
    let doc = id(&r.json()).to_string();
    let etag = r.header("etag").unwrap().to_string();
    let path = format!("/api/v1/documents/{doc}");
    app.patch(&path, &w.worker.token, None, json!({"title": "P3 form (corrected)"}))
        .await
        .expect_problem(428, "precondition_required");
    let changed = app
        .patch(
            &path,
            &w.worker.token,
            Some(&etag),
            json!({"title": "P3 form (corrected)", "kind": "medical_report"}),
        )
        .await;
    changed.expect(200);
    assert_eq!(changed.json()["kind"], "medical_report");
    app.patch(&path, &w.worker.token, Some(&etag), json!({"title": "again"}))
        .await
        .expect_problem(412, "stale_version");
    app.patch(
        &path,
        &w.worker.token,
        Some("*"),
        json!({"document_date": days_ago(-1)}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.patch(&path, &w.analyst.token, Some("*"), json!({"title": "x"}))
        .await
        .expect_problem(404, "not_found");

    app.post(&format!("{path}/archive"), &w.worker.token, json!({}))
        .await
        .expect(204);
    // Again: nothing changes.
    app.post(&format!("{path}/archive"), &w.worker.token, json!({}))
        .await
        .expect(204);
    assert!(app.get(&path, &w.admin.token).await.json()["archived_at"].is_string());
    assert_eq!(
        app.get(&case_docs, &w.worker.token).await.json()["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.get(&path, &w.worker.token).await.expect_problem(404, "not_found");
    download(app, &w.worker.token, &doc)
        .await
        .expect_problem(404, "not_found");
    app.get(&path, &w.admin.token).await.expect(200);
    download(app, &w.admin.token, &doc).await.expect(200);
    for action in [
        "document.upload",
        "document.update",
        "document.archive",
        "document.download",
        "document.read",
        "document.list",
    ] {
        assert!(
            app.count(&format!(
                "SELECT count(*) FROM audit_log WHERE action = '{action}' AND resource_type = 'case'"
            ))
            .await
                >= 1,
            "{action} audited on the case"
        );
    }
}

/// An S3-compatible server for the test (`moto_server`, from `HAKI_TEST_S3_SERVER` or PATH).
struct S3Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn s3_server() -> S3Server {
    let program = std::env::var("HAKI_TEST_S3_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("the S3 test needs {program} (pip install 'moto[server]'; scripts/test.sh sets it up): {e}")
        });
    let server = S3Server { child, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The bucket.
    let status = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            &format!("http://127.0.0.1:{port}/haki-documents"),
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "200", "bucket created");
    server
}

#[actix_web::test]
async fn documents_round_trip_on_an_s3_compatible_store() {
    let server = s3_server().await;
    let store = {
        use object_store::aws::AmazonS3Builder;
        AmazonS3Builder::new()
            .with_bucket_name("haki-documents")
            .with_endpoint(format!("http://127.0.0.1:{}", server.port))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap()
    };
    let app = TestApp::with_store(std::sync::Arc::new(store)).await;
    round_trip_and_reach(app).await;
    drop(server);
}

#[actix_web::test]
async fn rotating_the_data_key_rewraps_document_keys_and_leaves_files_alone() {
    let w = world(TestApp::new().await).await;
    let app = &w.app;
    let file = pdf(100 * 1024);
    let doc = upload(
        app,
        &w.worker.token,
        &format!("/api/v1/cases/{}/documents", w.case),
        &p3("false", &days_ago(1)),
        Some(&file),
    )
    .await
    .json();
    let path = haki::documents::store::path_of(id(&doc).parse().unwrap());
    let before = app.state.documents.get(&path).await.unwrap().bytes().await.unwrap();

    // The new key in, the old one kept for reading: every document key is rewrapped, once.
    let old = app.state.config.data_key;
    let new = [7u8; 32];
    let rotated = haki::survivors::vault::Vault::new(&new, &[old]);
    let mut conn = app.conn().await;
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::documents::SEALED_KEYS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        haki::survivors::vault::reseal_stale(&mut conn, &rotated, &haki::documents::SEALED_KEYS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM documents WHERE key_id = '{}'",
            rotated.current_key_id()
        ))
        .await,
        1
    );
    let after = app.state.documents.get(&path).await.unwrap().bytes().await.unwrap();
    assert_eq!(before, after, "the file is not rewritten");

    // A service with only the new key serves the file.
    let restarted = app
        .restarted(|c| {
            c.data_key = new;
            c.data_keys_previous = Vec::new();
        })
        .await;
    let got = download(&restarted, &w.worker.token, id(&doc)).await;
    got.expect(200);
    assert_eq!(got.body.as_ref(), file.as_slice());
}

#[actix_web::test]
async fn no_secret_identity_or_document_byte_reaches_the_logs_or_the_audit_log() {
    let w = world(TestApp::new().await).await;
    let app = &w.app;
    let mut secrets: Vec<String> = vec![common::PASSWORD.to_string()];

    // Sign in and renew.
    let login = app.login(&w.aftercare.email, common::PASSWORD).await.json();
    let renewed = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/refresh")
                .set_json(json!({"refresh_token": login["refresh_token"]})),
        )
        .await
        .json();
    let access = renewed["access_token"].as_str().unwrap().to_string();
    for token in [
        &login["access_token"],
        &login["refresh_token"],
        &renewed["access_token"],
        &renewed["refresh_token"],
    ] {
        secrets.push(token.as_str().unwrap().to_string());
    }

    // An identity written and read.
    let identity = json!({"legal_name": "Zuhura Mwanaisha Kombo", "guardian_name": "Rehema Kombo",
                          "guardian_relationship": "aunt", "guardian_phone": "+254 711 987654", "address": "House 7, Majengo"});
    let path = format!("/api/v1/survivors/{}/identity", w.survivor);
    app.send(
        TestRequest::put()
            .uri(&path)
            .insert_header(bearer(&access))
            .set_json(identity.clone()),
    )
    .await
    .expect(200);
    app.get(&path, &access).await.expect(200);
    for value in identity.as_object().unwrap().values() {
        secrets.push(value.as_str().unwrap().to_string());
    }

    // An API key and a webhook's secret.
    let key = app
        .post(
            "/api/v1/api-keys",
            &access,
            json!({"name": "nightly sync", "current_password": common::PASSWORD}),
        )
        .await
        .json();
    secrets.push(key["secret"].as_str().unwrap().to_string());
    let hook = app
        .post(
            "/api/v1/webhooks",
            &w.pm.token,
            json!({"url": "http://127.0.0.1:9/hook", "events": ["case.stage_changed"]}),
        )
        .await;
    hook.expect(201);
    secrets.push(hook.json()["secret"].as_str().unwrap().to_string());

    // A document: its bytes go in and out.
    let marker = "Witness statement of Zuhura: the man who rented the villa on the creek road";
    let file = format!("{marker}\n{}", "line of the statement\n".repeat(400));
    let r = upload(
        app,
        &access,
        &format!("/api/v1/survivors/{}/documents", w.survivor),
        &[
            ("kind", "witness_statement"),
            ("title", "Statement"),
            ("document_date", &days_ago(1)),
            ("identifying", "true"),
        ],
        Some(file.as_bytes()),
    )
    .await;
    r.expect(201);
    download(app, &access, id(&r.json())).await.expect(200);
    secrets.push(marker.to_string());

    let logged = common::logged();
    assert!(
        logged.iter().any(|l| l.contains("/documents/{id}/content 200")),
        "requests are logged"
    );
    for secret in &secrets {
        let quoted = format!("'{}'", secret.replace('\'', "''"));
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM audit_log WHERE position({quoted} IN audit_log::text) > 0"
            ))
            .await,
            0,
            "a secret or identity value in the audit log"
        );
        assert!(
            !logged.iter().any(|l| l.contains(secret.as_str())),
            "a secret or identity value in the logs"
        );
    }
}
