//! CSV answers: UTF-8 with a header row, every text cell safe to open in a spreadsheet.

use actix_web::{HttpRequest, HttpResponse, http::header};

use crate::error::{ApiError, ApiResult};

/// Whether the caller asked for CSV (`Accept: text/csv`).
pub fn wanted(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// Escapes a cell that a spreadsheet would read as a formula (OWASP's CSV injection advice).
pub fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// A CSV document of `header` and `rows` (cells already made safe), as a download.
pub fn attachment(
    filename: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> ApiResult<HttpResponse> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let fail = |e: ::csv::Error| ApiError::internal(e);
    out.write_record(header).map_err(fail)?;
    for row in rows {
        out.write_record(&row).map_err(fail)?;
    }
    let body = out.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}
