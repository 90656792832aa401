//! The dashboard, alerts and de-identified exports: each figure checked on a hand-built dataset
//! whose right answer is known, small counts withheld from analysts and partners without any
//! figure giving them away, and who may see what.

mod common;

use common::TestApp;
use diesel_async::RunQueryDsl;
use haki::auth::Role;
use serde_json::{Value, json};

async fn sql(app: &TestApp, statement: &str) {
    diesel::sql_query(statement)
        .execute(&mut app.conn().await)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// Every sum in a cross table — each row with its total, each column with its total, the totals
/// with the grand total — has none or at least two withheld figures, so none can be worked out
/// by subtraction.
fn no_figure_given_away(table: &Value) {
    let hidden = |f: &Value| f["suppressed"] == true;
    let check = |line: Vec<&Value>, what: &str| {
        let n = line.iter().filter(|f| hidden(f)).count();
        assert_ne!(n, 1, "{what} gives a withheld count away: {table}");
        for f in line {
            assert_eq!(f["count"].is_null(), hidden(f), "{f}");
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
    sql(
        &app,
        &format!("UPDATE cases SET stage = 'investigation' WHERE id = '{}'", cases[1]),
    )
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
        sql(
            &app,
            &format!(
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
        sql(
            &app,
            &format!(
                "UPDATE referrals SET created_at = '2025-03-01 10:00+03' WHERE id = '{}'",
                id(&r.json())
            ),
        )
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
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'report.overview'")
            .await,
        5
    );
}
