//! The dashboard, alerts and de-identified exports: each figure checked on a hand-built dataset
//! whose right answer is known, small counts withheld from analysts and partners without any
//! figure giving them away, and who may see what.

mod common;

use common::TestApp;
use haki::auth::Role;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// No sum in a table — each row with its total, each column with its total, the totals with
/// the grand total — lets a reader narrow a withheld count down to a small one: none has exactly
/// one withheld figure, and where the total is shown, what the withheld parts add up to (the
/// total less the shown parts) leaves each of them room to be k or more, knowing each is at
/// least 1.
fn no_figure_given_away(table: &Value) {
    let k = 5;
    let hidden = |f: &Value| f["suppressed"] == true;
    let check = |line: Vec<&Value>, what: &str| {
        let n = line.iter().filter(|f| hidden(f)).count();
        assert_ne!(n, 1, "{what} gives a withheld count away: {table}");
        for f in &line {
            assert_eq!(f["count"].is_null(), hidden(f), "{f}");
        }
        let (total, parts) = line.split_last().unwrap();
        if !hidden(total) && n > 0 {
            let shown: i64 = parts.iter().filter_map(|f| f["count"].as_i64()).sum();
            let rest = total["count"].as_i64().unwrap() - shown;
            assert!(
                rest - (n as i64 - 1) >= k,
                "{what}: withheld parts add up to {rest}: {table}"
            );
        }
    };
    if let Some(cells) = table.get("cells").filter(|_| table.get("columns").is_none()) {
        let mut line: Vec<&Value> = cells.as_array().unwrap().iter().collect();
        line.push(&table["total"]);
        return check(line, "the table");
    }
    let rows = table["rows"].as_array().unwrap();
    let columns = table["columns"].as_array().unwrap().len();
    for row in rows {
        let mut line: Vec<&Value> = row["cells"].as_array().unwrap().iter().collect();
        line.push(&row["total"]);
        check(line, "a row");
    }
    for c in 0..columns {
        let mut line: Vec<&Value> = rows.iter().map(|r| &r["cells"][c]).collect();
        line.push(&table["column_totals"][c]);
        check(line, "a column");
    }
    let mut line: Vec<&Value> = rows.iter().map(|r| &r["total"]).collect();
    line.push(&table["total"]);
    check(line, "the row totals");
    let mut line: Vec<&Value> = table["column_totals"].as_array().unwrap().iter().collect();
    line.push(&table["total"]);
    check(line, "the column totals");
}

/// The count in a cross table at (row key, column key).
fn at(table: &Value, row: &str, column: &str) -> Value {
    let c = table["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|k| k == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == row)
        .unwrap_or_else(|| panic!("no row {row}: {table}"));
    row["cells"][c].clone()
}

/// The count of a one-way table's key.
fn cell(table: &Value, key: &str) -> Value {
    table["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no cell {key}: {table}"))
        .clone()
}

fn referral(external: &str, county: &str) -> Value {
    json!({"external_id": external, "urgency": "routine", "child_alias": "R.R.", "age": 14,
           "county": county, "concern": "c", "whereabouts": "with_family", "safe_tonight": true,
           "consent_to_share": {"given_by": "guardian", "obtained_on": "2025-01-01"}})
}

#[actix_web::test]
async fn the_overview_counts_each_section_and_withholds_small_counts() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let admin = app.admin().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let shelter = app.create_partner("Pwani safe house").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let shelter_desk = app.create_user(Role::Partner, Some(shelter)).await;

    // Cases: six in Kilifi and two in Mombasa reported in 2025, one in Kilifi the day before.
    let mut cases = Vec::new();
    for (county, reported) in [
        ("kilifi", "2025-01-01"),
        ("kilifi", "2025-02-01"),
        ("kilifi", "2025-03-01"),
        ("kilifi", "2025-04-01"),
        ("kilifi", "2025-05-01"),
        ("kilifi", "2025-12-31"),
        ("mombasa", "2025-06-01"),
        ("mombasa", "2025-07-01"),
        ("kilifi", "2024-12-31"),
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
    app.sql(&format!(
        "UPDATE cases SET stage = 'investigation' WHERE id = '{}'",
        cases[1]
    ))
    .await;
    // Suspects: one arrested ten days after its case's report, one at large; one on the case
    // reported before the period (not counted).
    for (case, status, arrested) in [
        (&cases[1], "arrested", Some("2025-02-11")),
        (&cases[2], "at_large", None),
        (&cases[8], "arrested", Some("2025-01-05")),
    ] {
        app.post(
            &format!("/api/v1/cases/{case}/suspects"),
            &pm.token,
            json!({"name": "X", "role": "customer", "relationship": "tourist", "status": status, "arrested_on": arrested}),
        )
        .await
        .expect(201);
    }
    // Court sessions in the period: two held with the survivor accompanied, one adjourned; one
    // held the year after (not counted).
    for (on, status, accompanied, reason) in [
        ("2025-05-01", "held", "true", "NULL"),
        ("2025-05-02", "held", "true", "NULL"),
        ("2025-05-03", "adjourned", "NULL", "'witness_absent'"),
        ("2026-01-01", "held", "true", "NULL"),
    ] {
        app.sql(&format!(
                "INSERT INTO court_sessions (id, case_id, court, scheduled_on, purpose, status, adjournment_reason, survivor_accompanied)
                 VALUES (gen_random_uuid(), '{}', 'Malindi', '{on}', 'hearing', '{status}', {reason}, {accompanied})",
                cases[0]
            ),
        )
        .await;
    }
    // Survivors: three taken in during the period, one the day before it.
    let mut survivors = Vec::new();
    for intake in ["2025-01-01", "2025-06-01", "2025-12-31", "2024-12-31"] {
        let s = app
            .post(
                "/api/v1/survivors",
                &pm.token,
                json!({"pseudonym": "S", "birth_year": 2010, "intake_on": intake, "county": "kilifi"}),
            )
            .await;
        s.expect(201);
        survivors.push(id(&s.json()));
    }
    // Services: counselling running since before the period (in), shelter ended the day before
    // it (out), education still planned (out).
    for (kind, status, start, end) in [
        ("trauma_counselling", "active", Some("2024-06-01"), None),
        ("shelter", "completed", Some("2024-06-01"), Some("2024-12-31")),
        ("education", "planned", None, None),
    ] {
        app.post(
            &format!("/api/v1/survivors/{}/services", survivors[3]),
            &pm.token,
            json!({"kind": kind, "status": status, "start_on": start, "end_on": end}),
        )
        .await
        .expect(201);
    }
    // Referrals: two from the justice centre, one from the shelter.
    for (token, external) in [(&desk.token, "J-1"), (&desk.token, "J-2"), (&shelter_desk.token, "S-1")] {
        let r = app.post("/api/v1/referrals", token, referral(external, "kilifi")).await;
        r.expect(201);
        app.sql(&format!(
            "UPDATE referrals SET created_at = '2025-03-01 10:00+03' WHERE id = '{}'",
            id(&r.json())
        ))
        .await;
    }
    // A training in the period.
    app.post(
        "/api/v1/trainings",
        &analyst.token,
        json!({"title": "CSEC identification", "format": "workshop", "topics": ["csec_identification"],
               "starts_on": "2025-03-10", "ends_on": "2025-03-10", "county": "kilifi",
               "participants": [{"audience": "police", "female": 6, "male": 14},
                                {"audience": "children_officers", "female": 2, "male": 1}]}),
    )
    .await
    .expect(201);

    let period = "from=2025-01-01&to=2025-12-31";
    let overview = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/v1/stats/overview?{query}"), &token).await;
            r.expect(200);
            r.json()
        }
    };

    // Program managers see exact counts.
    let exact = overview(pm.token.clone(), "from=2025-01-01&to=2025-12-31").await;
    assert!(exact["small_cell_k"].is_null());
    let by_stage = &exact["cases"]["by_county_and_stage"];
    assert_eq!(at(by_stage, "kilifi", "reported")["count"], 5);
    assert_eq!(at(by_stage, "kilifi", "investigation")["count"], 1);
    assert_eq!(at(by_stage, "mombasa", "reported")["count"], 2);
    assert_eq!(by_stage["total"]["count"], 8);
    assert_eq!(exact["cases"]["median_days_to_arrest"]["value"], 10.0);
    assert!(exact["cases"]["median_days_to_charge"]["value"].is_null(), "no charge");
    assert_eq!(cell(&exact["suspects_by_status"], "arrested")["count"], 1);
    assert_eq!(cell(&exact["suspects_by_status"], "at_large")["count"], 1);
    assert_eq!(exact["suspects_by_status"]["total"]["count"], 2);
    let court = &exact["court_sessions"];
    assert_eq!(
        at(&court["by_status_and_accompaniment"], "held", "accompanied")["count"],
        2
    );
    assert_eq!(
        at(&court["by_status_and_accompaniment"], "adjourned", "not_accompanied")["count"],
        1
    );
    assert_eq!(court["adjournment_rate"]["value"], 0.333);
    assert_eq!(cell(&exact["survivors_by_restoration_status"], "active")["count"], 3);
    assert_eq!(cell(&exact["services_by_kind"], "trauma_counselling")["count"], 1);
    assert_eq!(exact["services_by_kind"]["total"]["count"], 1);
    let referrals = &exact["referrals_by_partner_and_status"];
    assert_eq!(at(referrals, &cjc.to_string(), "submitted")["count"], 2);
    assert_eq!(referrals["rows"][0]["label"], "Bahari justice centre");
    assert_eq!(referrals["total"]["count"], 3);
    assert_eq!(at(&exact["people_trained"], "police", "female")["count"], 6);
    assert_eq!(exact["people_trained"]["total"]["count"], 23);
    assert_eq!(cell(&exact["partners_by_kind"], "ngo")["count"], 2);
    // Every vocabulary value is listed, zeros too.
    assert_eq!(by_stage["columns"].as_array().unwrap().len(), 8);
    assert_eq!(cell(&exact["suspects_by_status"], "convicted")["count"], 0);
    // The county filter.
    let mombasa = overview(pm.token.clone(), "from=2025-01-01&to=2025-12-31&county=mombasa").await;
    assert_eq!(mombasa["cases"]["by_county_and_stage"]["total"]["count"], 2);
    assert_eq!(mombasa["referrals_by_partner_and_status"]["total"]["count"], 0);
    // Admins see the same exact figures.
    let same = overview(admin.token.clone(), "from=2025-01-01&to=2025-12-31").await;
    assert_eq!(same["cases"], exact["cases"]);

    // Analysts: counts of 1–4 withheld, and whatever would give them away.
    let seen = overview(analyst.token.clone(), "from=2025-01-01&to=2025-12-31").await;
    assert_eq!(seen["small_cell_k"], 5);
    let by_stage = &seen["cases"]["by_county_and_stage"];
    assert_eq!(
        at(by_stage, "kilifi", "investigation"),
        json!({"count": null, "suppressed": true})
    );
    assert_eq!(at(by_stage, "mombasa", "reported")["suppressed"], true);
    assert_eq!(
        at(by_stage, "kilifi", "reported")["suppressed"],
        true,
        "5 shown beside the row total 6 would give the 1 away"
    );
    assert_eq!(by_stage["total"]["count"], 8, "the grand total gives nothing away");
    assert_eq!(
        at(by_stage, "kilifi", "appeal"),
        json!({"count": 0, "suppressed": false})
    );
    no_figure_given_away(by_stage);
    no_figure_given_away(&seen["suspects_by_status"]);
    no_figure_given_away(&seen["court_sessions"]["by_status_and_accompaniment"]);
    no_figure_given_away(&seen["survivors_by_restoration_status"]);
    no_figure_given_away(&seen["services_by_kind"]);
    no_figure_given_away(&seen["referrals_by_partner_and_status"]);
    assert_eq!(
        seen["cases"]["median_days_to_arrest"],
        json!({"value": null, "suppressed": true})
    );
    assert_eq!(seen["court_sessions"]["adjournment_rate"]["suppressed"], true);
    // People trained and partner organisations count no child: shown as they are.
    assert_eq!(at(&seen["people_trained"], "children_officers", "male")["count"], 1);
    assert_eq!(cell(&seen["partners_by_kind"], "ngo")["count"], 2);

    // A partner sees its own referrals only, and nothing else.
    let own = overview(desk.token.clone(), "from=2025-01-01&to=2025-12-31").await;
    let rows = own["referrals_by_partner_and_status"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key"], json!(cjc));
    assert_eq!(rows[0]["total"]["suppressed"], true, "2 referrals: a small count");
    for section in [
        "cases",
        "suspects_by_status",
        "court_sessions",
        "survivors_by_restoration_status",
        "services_by_kind",
        "people_trained",
        "partners_by_kind",
    ] {
        assert!(own[section].is_null(), "{section}: {own}");
    }

    // Case workers and aftercare officers have their records, not the dashboard.
    for user in [&worker, &aftercare] {
        let problem = app
            .get(&format!("/api/v1/stats/overview?{period}"), &user.token)
            .await
            .expect_problem(403, "forbidden");
        assert_eq!(problem["extensions"]["permission"], "read_stats");
    }
    app.get("/api/v1/stats/overview?from=2025-02-01&to=2025-01-01", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    app.get("/api/v1/stats/overview?from=2025-02-01", &pm.token)
        .await
        .expect_problem(400, "invalid_query");
    // Analysts and partners ask for whole months: periods a day apart would tell about that day.
    for (user, query) in [
        (&analyst, "from=2025-01-02&to=2025-12-31"),
        (&analyst, "from=2025-01-01&to=2025-12-30"),
        (&desk, "from=2025-03-01&to=2025-03-15"),
    ] {
        app.get(&format!("/api/v1/stats/overview?{query}"), &user.token)
            .await
            .expect_problem(400, "invalid_query");
    }
    overview(analyst.token.clone(), "from=2024-02-01&to=2024-02-29").await;
    overview(pm.token.clone(), "from=2025-03-01&to=2025-03-15").await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'report.overview'")
            .await,
        7
    );
    app.assert_tallies_agree().await;
}

/// The overview sums tallies the database keeps as records change: writers at the same moment on
/// one case, and on the same day's counts, leave them exact; a case that moves county takes its
/// suspects with it; the median comes out of the tallied days as `percentile_cont` would.
#[actix_web::test]
async fn the_tallies_stay_exact_under_concurrent_writes() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let new_case = || {
        let app = &app;
        let token = pm.token.clone();
        async move {
            let r = app
                .post(
                    "/api/v1/cases",
                    &token,
                    json!({"county": "kilifi", "location_type": "hotel", "reported_on": "2025-03-01"}),
                )
                .await;
            r.expect(201);
            r.json()["id"].as_str().unwrap().to_string()
        }
    };
    let suspect = |case: String, arrested_on: String| {
        let app = &app;
        let token = pm.token.clone();
        async move {
            app.post(
                &format!("/api/v1/cases/{case}/suspects"),
                &token,
                json!({"name": "X", "role": "customer", "relationship": "tourist", "status": "arrested",
                       "arrested_on": arrested_on}),
            )
            .await
            .expect(201);
        }
    };
    let first = new_case().await;
    // Twelve suspects on one case and eleven more cases of the same day and county, at once.
    let on_first = (3..15).map(|d| suspect(first.clone(), format!("2025-03-{d:02}")));
    let (_, others) = futures_util::join!(
        futures_util::future::join_all(on_first),
        futures_util::future::join_all((0..11).map(|_| new_case())),
    );
    // First arrests 2, 4, 10 and 30 days after the report: the median is (4 + 10) / 2.
    for (case, arrested_on) in others.iter().zip(["2025-03-05", "2025-03-11", "2025-03-31"]) {
        suspect(case.clone(), arrested_on.into()).await;
    }
    // A later arrest on a case changes nothing: the first one counts.
    suspect(others[0].clone(), "2025-06-01".into()).await;

    let overview = |query: &'static str| {
        let app = &app;
        let token = pm.token.clone();
        async move {
            let r = app.get(&format!("/api/v1/stats/overview?{query}"), &token).await;
            r.expect(200);
            r.json()
        }
    };
    let year = overview("from=2025-01-01&to=2025-12-31").await;
    assert_eq!(
        at(&year["cases"]["by_county_and_stage"], "kilifi", "reported")["count"],
        12
    );
    assert_eq!(cell(&year["suspects_by_status"], "arrested")["count"], 16);
    assert_eq!(year["cases"]["median_days_to_arrest"]["value"], 7.0);
    app.assert_tallies_agree().await;

    // The first case moves to Mombasa, with its twelve suspects and its arrest after two days.
    let path = format!("/api/v1/cases/{first}");
    let etag = app.get(&path, &pm.token).await.header("etag").unwrap().to_string();
    app.patch(&path, &pm.token, Some(&etag), json!({"county": "mombasa"}))
        .await
        .expect(200);
    let kilifi = overview("from=2025-01-01&to=2025-12-31&county=kilifi").await;
    assert_eq!(
        at(&kilifi["cases"]["by_county_and_stage"], "kilifi", "reported")["count"],
        11
    );
    assert_eq!(cell(&kilifi["suspects_by_status"], "arrested")["count"], 4);
    assert_eq!(kilifi["cases"]["median_days_to_arrest"]["value"], 10.0);
    let mombasa = overview("from=2025-01-01&to=2025-12-31&county=mombasa").await;
    assert_eq!(cell(&mombasa["suspects_by_status"], "arrested")["count"], 12);
    assert_eq!(mombasa["cases"]["median_days_to_arrest"]["value"], 2.0);
    app.assert_tallies_agree().await;

    // The shards fold into one row per key, and the figures stay what they were. (Which shards the
    // writes above used depends on the server processes; one more is made here, for certain.)
    app.sql(
        "WITH moved AS (UPDATE tallies SET n = n - 1, records = records - 1
                         WHERE measure = 'suspect' AND shard <> 63 RETURNING measure, day, county, a, b)
         INSERT INTO tallies AS t (measure, day, county, a, b, shard, n, records)
         SELECT measure, day, county, a, b, 63, count(*), count(*) FROM moved GROUP BY 1, 2, 3, 4, 5
         ON CONFLICT (measure, day, county, a, b, shard)
         DO UPDATE SET n = t.n + excluded.n, records = t.records + excluded.records",
    )
    .await;
    app.assert_tallies_agree().await;
    assert!(app.count("SELECT count(*) FROM tallies WHERE shard = 63").await > 0);
    assert!(haki::stats::tallies::merge_shards(&app.state).await.unwrap() > 0);
    assert_eq!(app.count("SELECT count(*) FROM tallies WHERE shard <> 0").await, 0);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM (SELECT 1 FROM tallies GROUP BY measure, day, county, a, b HAVING count(*) > 1) k"
        )
        .await,
        0
    );
    app.assert_tallies_agree().await;
    let mut folded = overview("from=2025-01-01&to=2025-12-31&county=mombasa").await;
    folded["generated_at"] = mombasa["generated_at"].clone();
    assert_eq!(folded, mombasa);
}

/// The caller's alerts as (kind, reference) pairs, every page followed.
async fn alerts(app: &TestApp, token: &str, query: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/alerts?limit=3&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, token).await;
        page.expect(200);
        let page = page.json();
        for a in page["data"].as_array().unwrap() {
            assert!(
                seen.insert((a["kind"].clone(), a["record"]["id"].clone())),
                "listed twice: {a}"
            );
            out.push((
                a["kind"].as_str().unwrap().to_string(),
                a["record"]["reference"].as_str().unwrap_or_default().to_string(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn kinds_for(list: &[(String, String)], reference: &str) -> Vec<String> {
    let mut k: Vec<String> = list
        .iter()
        .filter(|(_, r)| r == reference)
        .map(|(k, _)| k.clone())
        .collect();
    k.sort();
    k
}

#[actix_web::test]
async fn alerts_follow_each_rule_for_each_user_within_reach() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let admin = app.admin().await;
    let worker = app.create_user(Role::CaseWorker, None).await;
    let aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let other_aftercare = app.create_user(Role::AftercareOfficer, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let today = haki::vocab::today();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();

    // Three open cases: A (the case worker's) triggers the case rules, B sits just outside each,
    // C has a charge that fits no victim's age.
    let mut cases = Vec::new();
    for county in ["kilifi", "kwale", "mombasa"] {
        let c = app
            .post(
                "/api/v1/cases",
                &pm.token,
                json!({"county": county, "location_type": "hotel", "reported_on": day(-10)}),
            )
            .await;
        c.expect(201);
        cases.push((id(&c.json()), c.json()["reference"].as_str().unwrap().to_string()));
    }
    let [(a, a_ref), (b, b_ref), (c, c_ref)] = [cases[0].clone(), cases[1].clone(), cases[2].clone()];
    app.sql(&format!("INSERT INTO case_assignments (id, case_id, user_id, role) VALUES (gen_random_uuid(), '{a}', '{}', 'lead_investigator')", worker.id)).await;
    // Stalled: nothing for 31 days (A) and for exactly 30 (B). At large: 91 days after the
    // report (A) and 90 (B).
    app.sql(&format!(
        "UPDATE cases SET reported_on = '{}', last_activity_on = '{}' WHERE id = '{a}'",
        day(-91),
        day(-31)
    ))
    .await;
    app.sql(&format!(
        "UPDATE cases SET reported_on = '{}', last_activity_on = '{}' WHERE id = '{b}'",
        day(-90),
        day(-30)
    ))
    .await;
    // Suspects: an at-large recruiter on A (no trafficking charge: ctip_gap); an at-large
    // recruiter on B charged under the CTIP Act; a customer on C charged under s.8(4).
    let suspect = |case: &str, role: &str| {
        let suspect_id = uuid::Uuid::now_v7();
        (
            suspect_id,
            format!(
                "INSERT INTO suspects (id, case_id, name, role, relationship, status) VALUES ('{suspect_id}', '{case}', 'X', '{role}', 'acquaintance', 'at_large')"
            ),
        )
    };
    let (_, s_a) = suspect(&a, "recruiter");
    let (sb, s_b) = suspect(&b, "recruiter");
    let (sc, s_c) = suspect(&c, "customer");
    for statement in [s_a, s_b, s_c] {
        app.sql(&statement).await;
    }
    app.sql(&format!("INSERT INTO charges (id, suspect_id, case_id, offence_code, filed_on) VALUES (gen_random_uuid(), '{sb}', '{b}', 'ctip-3-5', '{}')", day(-5))).await;
    app.sql(&format!("INSERT INTO charges (id, suspect_id, case_id, offence_code, filed_on) VALUES (gen_random_uuid(), '{sc}', '{c}', 'soa-8-4', '{}')", day(-5))).await;
    // On B an s.8(3) charge (a child of 12–15) that fits Baraka, 14: no flag.
    app.sql(&format!("INSERT INTO charges (id, suspect_id, case_id, offence_code, filed_on) VALUES (gen_random_uuid(), '{sb}', '{b}', 'soa-8-3', '{}')", day(-5))).await;
    // Court sessions on A: in 7 days unaccompanied (alert), in 8 days (too far), in 3 days with
    // accompaniment planned.
    for (offset, accompanied) in [(7, "NULL"), (8, "NULL"), (3, "true")] {
        app.sql(&format!("INSERT INTO court_sessions (id, case_id, court, scheduled_on, purpose, survivor_accompanied) VALUES (gen_random_uuid(), '{a}', 'Malindi', '{}', 'hearing', {accompanied})", day(offset))).await;
    }

    // Survivors: Amina (the aftercare officer's, a victim on A and aged 10 on C) with no
    // assessment, counselling only planned, a consent expiring in 30 days and one in 31; Baraka
    // (hers too) assessed at intake, in counselling, with follow-ups due and overdue.
    let survivor = |pseudonym: &'static str, birth_year: i32| {
        let app = &app;
        let pm = &pm;
        async move {
            let s = app
                .post(
                    "/api/v1/survivors",
                    &pm.token,
                    json!({"pseudonym": pseudonym, "birth_year": birth_year, "intake_on": day(-10)}),
                )
                .await;
            s.expect(201);
            id(&s.json())
        }
    };
    use chrono::Datelike;
    let amina = survivor("Amina", today.year() - 10).await;
    let baraka = survivor("Baraka", today.year() - 14).await;
    for (s, case) in [(&amina, &a), (&amina, &c), (&baraka, &b)] {
        app.sql(&format!(
            "INSERT INTO case_survivors (case_id, survivor_id, role) VALUES ('{case}', '{s}', 'victim')"
        ))
        .await;
    }
    for s in [&amina, &baraka] {
        app.sql(&format!("INSERT INTO survivor_assignments (id, survivor_id, user_id, role) VALUES (gen_random_uuid(), '{s}', '{}', 'counsellor')", aftercare.id)).await;
    }
    app.sql(&format!("INSERT INTO survivor_services (id, survivor_id, kind, status) VALUES (gen_random_uuid(), '{amina}', 'trauma_counselling', 'planned')")).await;
    app.sql(&format!("INSERT INTO survivor_services (id, survivor_id, kind, status, start_on) VALUES (gen_random_uuid(), '{baraka}', 'psychosocial_support', 'active', '{}')", day(-9))).await;
    // Consents: one expiring in 30 days (alert), one in 31; one expiring in 10 days already
    // renewed for a year (no alert).
    for (offset, purpose) in [
        (30, "data_sharing"),
        (31, "research"),
        (10, "storytelling"),
        (375, "storytelling"),
    ] {
        app.sql(&format!("INSERT INTO consents (id, survivor_id, purpose, given_by, given_on, expires_on) VALUES (gen_random_uuid(), '{amina}', '{purpose}', 'guardian', '{}', '{}')", day(-10), day(offset))).await;
    }
    app.post(
        &format!("/api/v1/survivors/{baraka}/assessments"),
        &aftercare.token,
        json!({"kind": "intake", "assessed_on": day(-10), "scores": {"safety": 2.0, "legal_protection": 2.0, "mental_wellbeing": 2.0,
               "economic_empowerment_education": 2.0, "social_support": 2.0, "physical_wellbeing": 2.0}}),
    )
    .await
    .expect(201);
    for offset in [30, 31, 0, -1] {
        app.sql(&format!(
            "INSERT INTO follow_ups (id, survivor_id, due_on) VALUES (gen_random_uuid(), '{baraka}', '{}')",
            day(offset)
        ))
        .await;
    }
    // The aftercare officer asks to close Amina's restoration: a program manager decides.
    app.post(
        &format!("/api/v1/survivors/{amina}/close"),
        &aftercare.token,
        json!({"closed_on": day(0), "reason": "relocated"}),
    )
    .await
    .expect(202);

    // Referrals: an emergency three hours old (overdue), one an hour old (not yet), an urgent
    // one acknowledged.
    for (external, urgency, hours) in [("E-3", "emergency", 3), ("E-1", "emergency", 1), ("U-30", "urgent", 30)] {
        let mut body = referral(external, "kilifi");
        body["urgency"] = json!(urgency);
        let r = app.post("/api/v1/referrals", &desk.token, body).await;
        r.expect(201);
        let rid = id(&r.json());
        app.sql(&format!(
            "UPDATE referrals SET created_at = now() - interval '{hours} hours' WHERE id = '{rid}'"
        ))
        .await;
        if external == "U-30" {
            common::TestApp::post(
                &app,
                &format!("/api/v1/referrals/{rid}/acknowledge"),
                &pm.token,
                json!({}),
            )
            .await
            .expect(200);
        }
    }

    // The program manager sees every rule, each where it applies and nowhere else.
    let all = alerts(&app, &pm.token, "").await;
    assert_eq!(
        kinds_for(&all, &a_ref),
        [
            "case_stalled",
            "court_session_unaccompanied",
            "ctip_gap",
            "suspect_at_large"
        ],
        "{all:?}"
    );
    assert!(
        kinds_for(&all, &b_ref).is_empty(),
        "B sits just outside every rule: {all:?}"
    );
    assert_eq!(kinds_for(&all, &c_ref), ["age_charge_mismatch"]);
    assert_eq!(
        kinds_for(&all, "Amina"),
        [
            "assessment_due",
            "closure_awaiting_approval",
            "consent_expiring",
            "no_active_counselling"
        ]
    );
    assert_eq!(
        kinds_for(&all, "Baraka"),
        ["follow_up_due", "follow_up_due", "follow_up_overdue"],
        "due in 30 days and today; overdue since yesterday; not due in 31 days"
    );
    assert_eq!(kinds_for(&all, "E-3"), ["referral_overdue"]);
    assert!(kinds_for(&all, "E-1").is_empty() && kinds_for(&all, "U-30").is_empty());
    // Most pressing first.
    let first = app.get("/api/v1/alerts?limit=200", &pm.token).await.json();
    let ranks: Vec<u8> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a["severity"].as_str().unwrap() {
            "high" => 0,
            "medium" => 1,
            _ => 2,
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    let stalled = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "case_stalled")
        .unwrap()
        .clone();
    assert_eq!(stalled["case_id"], json!(a));
    assert_eq!(stalled["record"], json!({"type": "case", "id": a, "reference": a_ref}));
    let assessment = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "assessment_due")
        .unwrap()
        .clone();
    // Due at intake, as the survivor's own record says.
    let amina_record = app.get(&format!("/api/v1/survivors/{amina}"), &pm.token).await.json();
    assert_eq!(amina_record["next_assessment_due"], json!(day(-10)));
    assert!(
        assessment["since"].as_str().unwrap().starts_with(&day(-11)),
        "{assessment}"
    );
    // One kind only.
    let only = alerts(&app, &pm.token, "kind=follow_up_overdue").await;
    assert_eq!(only, [("follow_up_overdue".to_string(), "Baraka".to_string())]);
    let overdue = app.get("/api/v1/alerts?kind=follow_up_overdue", &pm.token).await.json();
    assert!(
        overdue["data"][0]["since"].as_str().unwrap().starts_with(&day(-1)),
        "overdue from the start of today (East Africa Time): {overdue}"
    );
    app.get("/api/v1/alerts?kind=everything", &pm.token)
        .await
        .expect_problem(400, "invalid_query");

    // The case worker: her case's alerts and the referral queue; no restoration, no other case.
    let mine = alerts(&app, &worker.token, "").await;
    assert_eq!(
        kinds_for(&mine, &a_ref),
        [
            "case_stalled",
            "court_session_unaccompanied",
            "ctip_gap",
            "suspect_at_large"
        ]
    );
    assert!(kinds_for(&mine, &c_ref).is_empty());
    assert!(kinds_for(&mine, "Amina").is_empty() && kinds_for(&mine, "Baraka").is_empty());
    assert_eq!(kinds_for(&mine, "E-3"), ["referral_overdue"]);

    // The aftercare officer: her survivors' restoration and the court dates of their cases; no
    // case rules, no referrals, no approvals (she asked for it).
    let hers = alerts(&app, &aftercare.token, "").await;
    assert_eq!(kinds_for(&hers, &a_ref), ["court_session_unaccompanied"]);
    let court = app
        .get("/api/v1/alerts?kind=court_session_unaccompanied", &aftercare.token)
        .await
        .json();
    assert!(
        court["data"][0]["case_id"].is_null(),
        "she sees the court date, not the case"
    );
    assert!(kinds_for(&hers, &c_ref).is_empty());
    assert_eq!(
        kinds_for(&hers, "Amina"),
        ["assessment_due", "consent_expiring", "no_active_counselling"]
    );
    assert_eq!(kinds_for(&hers, "Baraka").len(), 3);
    assert!(kinds_for(&hers, "E-3").is_empty());
    // Another aftercare officer has nothing waiting.
    assert!(alerts(&app, &other_aftercare.token, "").await.is_empty());
    // Unassigned from the case, the case worker stops seeing it at once.
    app.sql(&format!(
        "UPDATE case_assignments SET ended_at = now() WHERE case_id = '{a}'"
    ))
    .await;
    assert!(kinds_for(&alerts(&app, &worker.token, "").await, &a_ref).is_empty());
    // Admins see every record's alerts but neither triage nor approve.
    let admins = alerts(&app, &admin.token, "").await;
    assert_eq!(kinds_for(&admins, &c_ref), ["age_charge_mismatch"]);
    assert!(kinds_for(&admins, "E-3").is_empty());
    assert!(!kinds_for(&admins, "Amina").contains(&"closure_awaiting_approval".to_string()));
    // Analysts and partners have no records to act on.
    for user in [&analyst, &desk] {
        let problem = app
            .get("/api/v1/alerts", &user.token)
            .await
            .expect_problem(403, "forbidden");
        assert_eq!(problem["extensions"]["permission"], "read_alerts");
    }
}

#[actix_web::test]
async fn the_htcds_export_is_de_identified_consented_and_k_anonymous() {
    let app = TestApp::new().await;
    let pm = app.create_user(Role::ProgramManager, None).await;
    let analyst = app.create_user(Role::Analyst, None).await;
    let admin = app.admin().await;
    let cjc = app.create_partner("Bahari justice centre").await;
    let desk = app.create_user(Role::Partner, Some(cjc)).await;
    let worker = app.create_user(Role::CaseWorker, None).await;

    // One case reported in 2025 where the child's aunt recruited her; one the year before.
    let case = |reported: &'static str, types: Value| {
        let app = &app;
        let pm = &pm;
        async move {
            let c = app
                .post(
                    "/api/v1/cases",
                    &pm.token,
                    json!({"county": "kilifi", "location_type": "villa_short_term_rental", "reported_on": reported,
                           "incident_on": reported, "exploitation_types": types}),
                )
                .await;
            c.expect(201);
            id(&c.json())
        }
    };
    let case_2025 = case("2025-03-01", json!(["child_sex_tourism", "early_forced_marriage"])).await;
    let case_2024 = case("2024-12-31", json!(["sexual_exploitation_in_prostitution"])).await;
    app.sql(&format!("INSERT INTO suspects (id, case_id, name, role, relationship) VALUES (gen_random_uuid(), '{case_2025}', 'Aunt', 'recruiter', 'relative')")).await;

    // Survivors on the 2025 case: (pseudonym, sex, birth year, citizenship, consent, role).
    let people = [
        // Five Kenyan girls of 14: a group as they are.
        ("Pendo", "female", 2011, "KE", Some("research"), "victim"),
        ("Rehema", "female", 2011, "KE", Some("data_sharing"), "victim"),
        ("Sauda", "female", 2011, "KE", Some("research"), "victim_witness"),
        ("Tatu", "female", 2011, "KE", Some("research"), "victim"),
        ("Upendo", "female", 2011, "KE", Some("research"), "victim"),
        // Three girls of 6 and two of 8 or 9: two small groups, alike once the band goes.
        ("Waridi", "female", 2019, "KE", Some("research"), "victim"),
        ("Yasmin", "female", 2019, "KE", Some("research"), "victim"),
        ("Zuhura", "female", 2019, "KE", Some("research"), "victim"),
        ("Ashura", "female", 2016, "KE", Some("research"), "victim"),
        ("Bahati", "female", 2016, "KE", Some("research"), "victim"),
        // A boy: alone at every step, withheld.
        ("Chege", "male", 2011, "KE", Some("research"), "victim"),
        // Without a consent for research or data sharing: left out.
        ("Dalila", "female", 2011, "KE", Some("storytelling"), "victim"),
        ("Eshe", "female", 2011, "KE", None, "victim"),
        ("Ghati", "female", 2011, "KE", Some("refused"), "victim"),
        // A witness only: not a row.
        ("Faraji", "male", 2000, "KE", Some("research"), "witness"),
    ];
    for (pseudonym, sex, year, citizenship, consent, role) in people {
        let s = app
            .post(
                "/api/v1/survivors",
                &pm.token,
                json!({"pseudonym": pseudonym, "sex": sex, "birth_year": year, "intake_on": "2025-03-02", "citizenship": citizenship}),
            )
            .await;
        s.expect(201);
        let sid = id(&s.json());
        app.sql(&format!(
            "INSERT INTO case_survivors (case_id, survivor_id, role) VALUES ('{case_2025}', '{sid}', '{role}')"
        ))
        .await;
        match consent {
            // Her guardian consented to research; she said no.
            Some("refused") => app.sql(&format!("INSERT INTO consents (id, survivor_id, purpose, given_by, given_on, child_assent) VALUES (gen_random_uuid(), '{sid}', 'research', 'guardian', '2025-03-02', false)")).await,
            Some(purpose) => app.sql(&format!("INSERT INTO consents (id, survivor_id, purpose, given_by, given_on) VALUES (gen_random_uuid(), '{sid}', '{purpose}', 'guardian', '2025-03-02')")).await,
            None => {}
        }
        if pseudonym == "Pendo" {
            // Her referral recorded threats and false promises.
            app.sql(&format!("INSERT INTO referrals (id, partner_id, external_id, status, urgency, child_alias, county, concern, indicators, whereabouts, safe_tonight, consent_given_by, consent_obtained_on, acknowledged_at, concluded_at, case_id, survivor_id)
                VALUES (gen_random_uuid(), '{cjc}', 'P-1', 'accepted', 'routine', 'P', 'kilifi', 'c', '{{threats,false_promises,out_of_school}}', 'with_family', true, 'guardian', '2025-03-01', now(), now(), '{case_2025}', '{sid}')")).await;
        }
    }
    // A consented survivor on the 2024 case: outside the period.
    let old = app
        .post(
            "/api/v1/survivors",
            &pm.token,
            json!({"pseudonym": "Imara", "sex": "female", "birth_year": 2011, "intake_on": "2025-01-02"}),
        )
        .await;
    let old = id(&old.json());
    app.sql(&format!(
        "INSERT INTO case_survivors (case_id, survivor_id) VALUES ('{case_2024}', '{old}')"
    ))
    .await;
    app.sql(&format!("INSERT INTO consents (id, survivor_id, purpose, given_by, given_on) VALUES (gen_random_uuid(), '{old}', 'research', 'guardian', '2025-01-02')")).await;

    let path = "/api/v1/exports/htcds?from=2025-01-01&to=2025-12-31";
    let export = app.get(path, &analyst.token).await;
    export.expect(200);
    let body = export.text();
    let export = export.json();
    assert_eq!(export["k"], 5);
    let rows = export["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10, "{export}");
    assert_eq!(export["rows_generalised"], 5);
    assert_eq!(export["rows_withheld"], 1);
    assert_eq!(
        export["rows_without_consent"], 3,
        "no consent, storytelling only, the child refused"
    );
    // The five 14-year-olds as they are; the five younger girls without their age band.
    let exact: Vec<&Value> = rows.iter().filter(|r| r["age_broad"] == "9-17").collect();
    assert_eq!(exact.len(), 5);
    for r in &exact {
        assert_eq!(r["year_of_registration"], 2025);
        assert_eq!(r["gender"], "female");
        assert_eq!(r["majority_status"], "minor");
        assert_eq!(r["citizenship"], "KE");
        assert_eq!(r["country_of_exploitation"], "KE");
        assert_eq!(r["type_of_exploit"], json!(["sexual_exploitation", "forced_marriage"]));
        assert_eq!(r["type_of_sex"], json!(["prostitution"]));
        assert_eq!(r["recruiter_relation"], json!(["family"]));
        assert_eq!(r["case_status"], "reported");
    }
    assert_eq!(
        exact
            .iter()
            .filter(|r| r["means_of_control"] == json!(["false_promises", "threats"]))
            .count(),
        1,
        "recorded where a referral gave them"
    );
    let generalised: Vec<&Value> = rows.iter().filter(|r| r["age_broad"].is_null()).collect();
    assert_eq!(generalised.len(), 5);
    assert!(
        generalised
            .iter()
            .all(|r| r["majority_status"] == "minor" && r["year_of_registration"] == 2025)
    );
    assert!(rows.iter().all(|r| r["gender"] == "female"), "the lone boy is withheld");
    // Nothing names, dates or describes a child.
    for word in [
        "Pendo", "Rehema", "Waridi", "Chege", "Dalila", "Faraji", "Imara", "Aunt", "kilifi", "2025-03",
    ] {
        assert!(!body.contains(word), "{word} in {body}");
    }

    // The same rows as CSV.
    let csv = app
        .send(
            actix_web::test::TestRequest::get()
                .uri(path)
                .insert_header(common::bearer(&admin.token))
                .insert_header(("Accept", "text/csv")),
        )
        .await;
    csv.expect(200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = csv.text();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("year_of_registration,gender,age_broad,majority_status,citizenship")
    );
    assert_eq!(lines.clone().count(), 10);
    assert!(text.contains("2025,female,9-17,minor,KE,KE,sexual_exploitation;forced_marriage,prostitution,false_promises;threats,family,reported,"));

    // A smaller k generalises less; consent withdrawn takes a survivor out at once.
    app.sql("UPDATE consents SET withdrawn_at = now() WHERE purpose = 'data_sharing'")
        .await;
    let after = app.get(path, &analyst.token).await.json();
    assert_eq!(after["rows_without_consent"], 4);
    assert_eq!(
        after["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["age_broad"] == "9-17")
            .count(),
        0,
        "four left: generalised or withheld"
    );

    // Analysts and admins only; every export audited.
    for user in [&pm, &worker, &desk] {
        let problem = app.get(path, &user.token).await.expect_problem(403, "forbidden");
        assert_eq!(problem["extensions"]["permission"], "export_deidentified");
    }
    app.get("/api/v1/exports/htcds?from=2025-02-01&to=2025-01-01", &analyst.token)
        .await
        .expect_problem(400, "invalid_query");
    // Whole years only: two exports a day apart would tell which rows were reported that day.
    app.get("/api/v1/exports/htcds?from=2025-01-01&to=2025-06-30", &analyst.token)
        .await
        .expect_problem(400, "invalid_query");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'export.htcds'")
            .await,
        3
    );
}
