//! Extractors and response helpers shared by every resource: validated JSON bodies, client
//! metadata, optimistic concurrency (ETag / If-Match).

use std::net::IpAddr;

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    dev::Payload,
    http::{StatusCode, header},
    web,
};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::{
    error::{ApiError, ErrorCode, FieldError, payload_too_large, unsupported_media_type, validation_errors},
    middleware::RequestId,
    state::AppState,
};

/// A JSON body that parsed, has the right types and passed its `validator` rules. Errors name the
/// field: 400 for malformed JSON, 415 for another content type, 413 past the size limit, 422 for
/// wrong types, unknown enum values, text with NUL bytes and failed validation.
pub struct ValidatedJson<T>(pub T);

impl<T: DeserializeOwned + Validate + utoipa::PartialSchema + 'static> FromRequest for ValidatedJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .mime_type()
            .ok()
            .flatten()
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(unsupported_media_type());
            }
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    payload_too_large()
                } else if e
                    .as_error::<actix_web::error::PayloadError>()
                    .is_some_and(crate::error::is_body_timeout)
                {
                    crate::error::body_timed_out().into()
                } else {
                    ApiError::bad_request(ErrorCode::MalformedBody, "The request body could not be read.").into()
                }
            })?;
            let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(
                    ErrorCode::MalformedBody,
                    format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column()),
                )
            })?;
            whole_numbers_as_integers(&mut value);
            if let Some(field) = find_nul(&value, String::new()) {
                return Err(
                    ApiError::invalid_field(&field, "nul_byte", "must not contain NUL (\\u0000) characters").into(),
                );
            }
            parse_all::<T>(value)
                .map(ValidatedJson)
                .map_err(|errors| ApiError::invalid_fields(errors).into())
        })
    }
}

/// An optional JSON body: a request without one (an empty body, whatever its `Content-Type`) gets
/// the default; anything sent is read as [`ValidatedJson`] reads it.
pub struct MaybeJson<T>(pub T);

impl<T: DeserializeOwned + Validate + utoipa::PartialSchema + Default + 'static> FromRequest for MaybeJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        // Nothing sent (whatever Content-Type says): the default.
        let empty = length == Some("0") || (length.is_none() && !chunked);
        if empty {
            return Box::pin(std::future::ready(Ok(MaybeJson(T::default()))));
        }
        let json = ValidatedJson::<T>::from_request(req, payload);
        Box::pin(async move { json.await.map(|ValidatedJson(value)| MaybeJson(value)) })
    }
}

/// Parses and validates a body, reporting every field at fault at once: required fields that are
/// missing, values of the wrong type or outside a vocabulary, then the validation rules.
fn parse_all<T: DeserializeOwned + Validate + utoipa::PartialSchema>(
    mut value: serde_json::Value,
) -> Result<T, Vec<FieldError>> {
    let mut errors = missing_required(&T::schema(), &value);
    // Each round finds one value serde cannot take; it is noted and taken out, and the rest is
    // parsed again. Bounded by the number of fields a body can have.
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => {
                if let Err(e) = parsed.validate() {
                    errors.extend(validation_errors(&e));
                }
                if errors.is_empty() {
                    return Ok(parsed);
                }
                break;
            }
            Err(e) => {
                let error = serde_field_error(&e);
                let seen = errors.iter().any(|x| x.field == error.field);
                let removed = !seen && error.code != "required" && remove_path(&mut value, e.path());
                if !seen {
                    errors.push(error);
                }
                if !removed {
                    break;
                }
            }
        }
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    Err(errors)
}

/// Top-level required properties of the body's schema that are absent.
fn missing_required(
    schema: &utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    value: &serde_json::Value,
) -> Vec<FieldError> {
    use utoipa::openapi::{RefOr, schema::Schema};
    let (RefOr::T(Schema::Object(object)), Some(given)) = (schema, value.as_object()) else {
        return Vec::new();
    };
    object
        .required
        .iter()
        .filter(|name| !given.contains_key(name.as_str()))
        .map(|name| FieldError::new(name.clone(), "required", "is required"))
        .collect()
}

/// Takes the value at `path` out of an object in `value`; false when there is nothing to take.
fn remove_path(value: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut cursor = value;
    for segment in parents {
        let next = match segment {
            Segment::Map { key } => cursor.get_mut(key.as_str()),
            Segment::Seq { index } => cursor.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => cursor = next,
            None => return false,
        }
    }
    cursor
        .as_object_mut()
        .is_some_and(|map| map.remove(key.as_str()).is_some())
}

/// JSON does not tell `3` from `3.0`; neither does JSON Schema's `integer`. A whole number
/// written with a fraction part is taken as the integer it is.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Exact: |f| < 2^53, so the conversion loses nothing.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// The path of the first string (or key) holding a NUL byte, which PostgreSQL cannot store.
fn find_nul(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |path: &str, key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() { "body".into() } else { path }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&path, k))
            } else {
                find_nul(v, join(&path, k))
            }
        }),
        _ => None,
    }
}

fn serde_field_error(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let raw = err.inner().to_string();
    let mut field = err.path().to_string();
    let (code, message) = if let Some(rest) = raw.strip_prefix("missing field `") {
        // The path points at the enclosing object; name the missing field itself.
        let name = rest.split('`').next().unwrap_or_default();
        field = if field == "." {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
        ("required", "is required".to_string())
    } else if raw.starts_with("unknown variant") {
        ("unknown_variant", format!("must be one of: {}", quoted_list(&raw)))
    } else if raw.starts_with("unknown field") {
        ("unknown_field", "is not a field of this request".to_string())
    } else if raw.starts_with(NOT_NULLABLE) {
        ("not_nullable", format!("must not be null: it {NOT_NULLABLE}"))
    } else if let Some(found) = raw.strip_prefix("invalid type: ") {
        (
            "invalid_type",
            format!("must be {}, not {}", expected_kind(&raw), found_kind(found)),
        )
    } else if raw.starts_with("invalid value") || raw.starts_with("invalid length") {
        ("invalid_type", format!("must be {}", expected_kind(&raw)))
    } else {
        ("invalid", in_own_words(&raw))
    };
    if field == "." {
        field = "body".into();
    }
    FieldError::new(field, code, message)
}

/// The backquoted names serde lists after "expected one of".
fn quoted_list(raw: &str) -> String {
    raw.split_once("expected")
        .map(|(_, tail)| tail)
        .unwrap_or_default()
        .split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What serde expected, in plain words (never a Rust type name).
fn expected_kind(raw: &str) -> &'static str {
    let expected = raw.rsplit_once("expected ").map(|(_, e)| e).unwrap_or_default();
    if ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer"]
        .iter()
        .any(|t| expected.starts_with(t))
    {
        "a whole number"
    } else if expected.starts_with("f32") || expected.starts_with("f64") || expected.contains("number") {
        "a number"
    } else if expected.contains("bool") {
        "true or false"
    } else if expected.contains("sequence") || expected.contains("array") {
        "a list"
    } else if expected.contains("struct") || expected.contains("map") {
        "an object"
    } else if expected.to_lowercase().contains("uuid") {
        "an id (UUID)"
    } else {
        "text"
    }
}

fn found_kind(found: &str) -> &'static str {
    match found.split([' ', ',']).next().unwrap_or_default() {
        "string" => "text",
        "integer" | "floating" => "a number",
        "boolean" => "true or false",
        "sequence" => "a list",
        "map" => "an object",
        "null" => "null",
        _ => "that",
    }
}

/// Messages of the parsers behind dates, ids and other typed text, in the project's words.
fn in_own_words(raw: &str) -> String {
    let raw = raw.to_lowercase();
    let date_parser = [
        "premature end of input",
        "input contains invalid characters",
        "trailing input",
        "input is out of range",
        "no possible date",
        "bad or unsupported format",
        "input is not enough",
    ];
    if raw.contains("uuid") {
        "must be an id (UUID)".into()
    } else if date_parser.iter().any(|p| raw.contains(p)) {
        "must be a real date written YYYY-MM-DD".into()
    } else {
        "is not a valid value".into()
    }
}

/// Who is calling from where, for the audit log and rate limits.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_ip: Option<IpAddr>,
}

impl RequestMeta {
    pub fn of(req: &HttpRequest) -> Self {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let peer = req.peer_addr().map(|a| a.ip());
        let client_ip = match req.app_data::<web::Data<AppState>>() {
            Some(state) if !state.config.trusted_proxies.is_empty() => {
                peer.map(|peer| client_behind(peer, req.headers(), &state.config.trusted_proxies))
            }
            _ => peer,
        };
        RequestMeta { request_id, client_ip }
    }

    pub fn client_addr(&self) -> Option<String> {
        self.client_ip.map(|ip| ip.to_string())
    }
}

/// The client's address behind trusted proxies: walking `X-Forwarded-For` from the right (each
/// proxy appends the address it received from), the first address that is not a trusted proxy.
/// A client can forge the left of the list, never what the proxies appended; a peer that is not a
/// trusted proxy is the client itself, whatever it claims.
fn client_behind(peer: IpAddr, headers: &header::HeaderMap, proxies: &[crate::config::Cidr]) -> IpAddr {
    let trusted = |ip: IpAddr| proxies.iter().any(|p| p.contains(ip));
    if !trusted(peer) {
        return peer;
    }
    let chain: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in chain.iter().rev() {
        match parse_hop(hop) {
            Ok(ip) if trusted(ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage a client wrote: nothing to its left can be believed either.
            Err(_) => return client,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:443`).
fn parse_hop(hop: &str) -> Result<IpAddr, ()> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Ok(ip);
    }
    hop.parse::<std::net::SocketAddr>().map(|s| s.ip()).map_err(|_| ())
}

impl FromRequest for RequestMeta {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(RequestMeta::of(req)))
    }
}

/// `If-Match` of a conditional write, parsed to the version it names (`None` when absent).
pub struct IfMatch(pub Option<IfMatchValue>);

pub enum IfMatchValue {
    Any,
    Versions(Vec<i32>),
}

impl IfMatch {
    /// For `PATCH`/`PUT` of a versioned record: 428 when the header is absent, 412 unless it is
    /// `*` or names `current`. No update is silently lost.
    pub fn check(&self, current: i32) -> Result<(), ApiError> {
        match &self.0 {
            None => Err(ApiError::precondition_required()),
            Some(_) => self.check_if_sent(current),
        }
    }

    /// For state-changing `POST`s on one record (transitions, close, reopen): honoured when sent.
    pub fn check_if_sent(&self, current: i32) -> Result<(), ApiError> {
        match &self.0 {
            None | Some(IfMatchValue::Any) => Ok(()),
            Some(IfMatchValue::Versions(v)) if v.contains(&current) => Ok(()),
            Some(_) => Err(ApiError::precondition_failed()),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get(header::IF_MATCH) else {
            return std::future::ready(Ok(IfMatch(None)));
        };
        // Bytes that are not visible ASCII can never form a tag: malformed below.
        let text = raw.to_str().map(str::trim).unwrap_or("\u{0}");
        if text.is_empty() {
            // An empty field is an empty list of tags: no precondition, as if it were not sent.
            return std::future::ready(Ok(IfMatch(None)));
        }
        if text == "*" {
            return std::future::ready(Ok(IfMatch(Some(IfMatchValue::Any))));
        }
        let versions: Option<Vec<i32>> = text
            .split(',')
            .map(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                let digits = tag.strip_prefix('"')?.strip_suffix('"')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // A well-formed tag past any version this API issues simply never matches.
                Some(digits.parse().unwrap_or(-1))
            })
            .collect();
        std::future::ready(match versions {
            Some(v) => Ok(IfMatch(Some(IfMatchValue::Versions(v)))),
            None => Err(ApiError::bad_request(
                ErrorCode::MalformedIfMatch,
                "If-Match must be `*` or the ETag you read, quotes included (e.g. \"3\").",
            )
            .into()),
        })
    }
}

/// The strong entity tag of a mutable resource at `version`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// `200 OK` with the resource's `ETag`.
pub fn ok_with_etag<T: serde::Serialize>(version: i32, body: &T) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// `201 Created` with `Location` and `ETag`.
pub fn created_with_etag<T: serde::Serialize>(location: String, version: i32, body: &T) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// For PATCH fields that can be cleared: absent → `None`, `null` → `Some(None)`, a value →
/// `Some(Some(v))`. Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// For PATCH fields that cannot be cleared: absent → `None`, a value → `Some(v)`, and `null` is
/// refused (422 `not_nullable`) rather than silently ignored. Use with
/// `#[serde(default, deserialize_with = "not_null")]` and `#[schema(nullable = false)]`.
pub fn not_null<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    <Option<T> as serde::Deserialize>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| D::Error::custom(NOT_NULLABLE))
}

const NOT_NULLABLE: &str = "cannot be cleared: leave it out to keep its value";

/// Keeps the first occurrence of each value, in order.
pub fn dedup<T: PartialEq>(values: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Optional text as stored: trimmed, and `None` when nothing is left.
pub fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The `assigned_to` filter of a list: `me` or a user id.
pub fn assignee(param: Option<&str>, me: crate::ids::UserId) -> Result<Option<crate::ids::UserId>, ApiError> {
    match param {
        None => Ok(None),
        Some("me") => Ok(Some(me)),
        Some(id) => uuid::Uuid::parse_str(id)
            .map(|id| Some(crate::ids::UserId(id)))
            .map_err(|_| ApiError::bad_request(ErrorCode::InvalidQuery, "assigned_to must be `me` or a user id.")),
    }
}

/// Text that is only whitespace counts as empty (it is trimmed before it is stored).
pub fn not_blank(text: &str) -> Result<(), validator::ValidationError> {
    // An empty string is left to the length rule, so each problem is reported once.
    if !text.is_empty() && text.trim().is_empty() {
        Err(validator::ValidationError::new("blank").with_message("must not be blank".into()))
    } else {
        Ok(())
    }
}

/// A date range given as query parameters (`from`, `to`, either may be left out): 400 when it
/// ends before it starts.
pub fn check_period(from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate>) -> Result<(), ApiError> {
    if from.zip(to).is_some_and(|(from, to)| to < from) {
        return Err(ApiError::bad_request(
            crate::error::ErrorCode::InvalidQuery,
            "`to` must not be before `from`.",
        ));
    }
    Ok(())
}

/// Periods of aggregates for the roles that see aggregates only are whole months (`from` the
/// first of a month, `to` the last day of one): two answers for periods a day apart would
/// otherwise tell, by subtraction, about the few records of that day.
pub fn check_whole_months(from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<(), ApiError> {
    use chrono::Datelike;
    let last_of_month = to.succ_opt().is_none_or(|next| next.day() == 1);
    if from.day() != 1 || !last_of_month {
        return Err(ApiError::bad_request(
            crate::error::ErrorCode::InvalidQuery,
            "Aggregates for your role are given for whole months: `from` the first day of a month, `to` the last day of one (e.g. 2025-01-01 to 2025-06-30).",
        ));
    }
    Ok(())
}

/// Query parameters parsed into `T`; an invalid value is a 400 naming the parameter, in the
/// project's words. Unknown parameters are refused before this (see `openapi::RouteTable`).
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let parsed = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs));
        std::future::ready(parsed.map(Query).map_err(|e| {
            let raw = e.inner().to_string();
            // A missing parameter is reported at the query's root; name the parameter instead.
            let missing = raw
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let name = missing.map_or_else(|| e.path().to_string(), str::to_string);
            let message = if missing.is_some() {
                "is required".to_string()
            } else if raw.starts_with("unknown variant") {
                format!("must be one of: {}", quoted_list(&raw))
            } else if raw.contains("invalid digit") || raw.contains("number too large") {
                "must be a whole number".to_string()
            } else if raw.contains("provided string was not `true` or `false`") {
                "must be true or false".to_string()
            } else {
                in_own_words(&raw)
            };
            ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("The query parameter `{name}` {message}."),
            )
            .with_errors(vec![FieldError::new(name, "invalid", message)])
            .into()
        }))
    }
}
