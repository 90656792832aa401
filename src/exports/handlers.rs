use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::{
    csv,
    htcds::{self, HtcdsExport, HtcdsRow},
    queries,
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    error::ApiResult,
    state::AppState,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// First day of the period: 1 January of a year (cases reported on or after it).
    pub from: chrono::NaiveDate,
    /// Last day of the period: 31 December of a year, not before `from`.
    pub to: chrono::NaiveDate,
}

/// Exports cover whole years (the finest date a row carries): two exports a day apart would
/// otherwise tell, by subtraction, which rows were reported on that day.
fn check_whole_years(params: &ExportParams) -> ApiResult<()> {
    use chrono::Datelike;
    if (params.from.month(), params.from.day()) != (1, 1) || (params.to.month(), params.to.day()) != (12, 31) {
        return Err(crate::error::ApiError::bad_request(
            crate::error::ErrorCode::InvalidQuery,
            "Exports cover whole years: `from` a 1 January, `to` a 31 December (e.g. 2025-01-01 to 2025-12-31).",
        ));
    }
    Ok(())
}

fn list<T: AsRef<str>>(values: &[T]) -> String {
    values.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(";")
}

fn csv_row(row: &HtcdsRow) -> Vec<String> {
    let text = |v: Option<&str>| v.unwrap_or_default().to_string();
    vec![
        row.year_of_registration.map(|y| y.to_string()).unwrap_or_default(),
        row.gender.as_ref().to_string(),
        text(row.age_broad.as_ref().map(AsRef::as_ref)),
        text(row.majority_status.as_ref().map(AsRef::as_ref)),
        csv::cell(row.citizenship.as_deref().unwrap_or_default()),
        row.country_of_exploitation.clone(),
        list(&row.type_of_exploit),
        list(&row.type_of_sex),
        list(&row.means_of_control),
        list(&row.recruiter_relation),
        row.case_status.as_ref().to_string(),
        text(row.case_outcome.as_ref().map(AsRef::as_ref)),
    ]
}

/// De-identified survivor–case records in the vocabulary of the Human Trafficking Case Data
/// Standard (HTCDS 2.0) for analysts and admins: one row per survivor (as a victim) on each case
/// reported in the period (whole years), with no name, pseudonym, free text, place below the
/// country or exact date; only survivors with a consent in force for research or data sharing
/// (not refused by the child). Every row shares its quasi-identifiers (year, gender, age band,
/// majority status, citizenship, case outcome) with rows of at least k − 1 other children: rows
/// in smaller groups lose their age band and a non-Kenyan citizenship, then their year and
/// outcome, and are withheld if still too few; the answer says how many. `Accept: text/csv`
/// gives the same rows as CSV (lists joined with `;`). Every export is audited.
#[utoipa::path(
    tag = "reports",
    operation_id = "export_htcds",
    params(ExportParams),
    responses((status = 200, content(
        (HtcdsExport = "application/json"),
        (String = "text/csv", example = "year_of_registration,gender,age_broad,majority_status,citizenship,country_of_exploitation,type_of_exploit,type_of_sex,means_of_control,recruiter_relation,case_status,case_outcome\n2025,female,9-17,minor,KE,KE,sexual_exploitation,prostitution,false_promises,family,prosecution,\n"),
    )))
)]
#[get("/exports/htcds")]
pub async fn export_htcds(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    params: crate::extract::Query<ExportParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ExportDeidentified)?;
    crate::extract::check_period(Some(params.from), Some(params.to))?;
    check_whole_years(&params)?;
    let k = state.config.export_k;
    let mut conn = state.conn().await?;
    let links = queries::consented_links(&mut conn, params.from, params.to).await?;
    let without_consent = queries::links_without_consent(&mut conn, params.from, params.to).await?;
    let (rows, generalised, withheld) = htcds::anonymise(links.into_iter().map(HtcdsRow::from_link).collect(), k);
    let wants_csv = csv::wanted(&req);
    AuditEvent::by(&user, "export.htcds", "export", "htcds")
        .details(json!({
            "from": params.from, "to": params.to, "rows": rows.len(), "generalised": generalised,
            "withheld": withheld, "csv": wants_csv,
        }))
        .record(&conn)
        .await?;
    if wants_csv {
        return csv::attachment(
            &format!("htcds-{}-{}.csv", params.from, params.to),
            &[
                "year_of_registration",
                "gender",
                "age_broad",
                "majority_status",
                "citizenship",
                "country_of_exploitation",
                "type_of_exploit",
                "type_of_sex",
                "means_of_control",
                "recruiter_relation",
                "case_status",
                "case_outcome",
            ],
            rows.iter().map(csv_row),
        );
    }
    Ok(HttpResponse::Ok().json(HtcdsExport {
        from: params.from,
        to: params.to,
        k,
        generated_at: Utc::now(),
        rows,
        rows_generalised: generalised,
        rows_withheld: withheld,
        rows_without_consent: without_consent,
    }))
}
