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

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidatedJson<T> {
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
                } else {
                    ApiError::bad_request(ErrorCode::MalformedBody, "The request body could not be read.").into()
                }
            })?;
            let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(ErrorCode::MalformedBody, format!("The body is not valid JSON: {e}"))
            })?;
            whole_numbers_as_integers(&mut value);
            if let Some(field) = find_nul(&value, String::new()) {
                return Err(
                    ApiError::invalid_field(&field, "nul_byte", "must not contain NUL (\\u0000) characters").into(),
                );
            }
            let parsed: T = serde_path_to_error::deserialize(value)
                .map_err(|e| ApiError::invalid_fields(vec![serde_field_error(&e)]))?;
            parsed
                .validate()
                .map_err(|e| ApiError::invalid_fields(validation_errors(&e)))?;
            Ok(ValidatedJson(parsed))
        })
    }
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
    let message = err.inner().to_string();
    let mut field = err.path().to_string();
    let code = if message.starts_with("missing field") {
        // The path points at the enclosing object; name the missing field itself.
        let name = message.split('`').nth(1).unwrap_or_default();
        field = if field == "." {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
        "required"
    } else if message.starts_with("unknown variant") {
        "unknown_variant"
    } else if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid"
    };
    if field == "." {
        field = "body".into();
    }
    // serde's message ends with " at line X column Y" only for text input; ours is a parsed value.
    FieldError::new(field, code, message)
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
        let trust_forwarded = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.config.trust_forwarded_for);
        let client_ip = if trust_forwarded {
            req.connection_info().realip_remote_addr().and_then(|a| {
                a.parse::<IpAddr>()
                    .ok()
                    .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
            })
        } else {
            req.peer_addr().map(|a| a.ip())
        };
        RequestMeta { request_id, client_ip }
    }

    pub fn client_addr(&self) -> Option<String> {
        self.client_ip.map(|ip| ip.to_string())
    }
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
        let value = req.headers().get(header::IF_MATCH).map(|raw| {
            let text = raw.to_str().unwrap_or_default().trim();
            if text == "*" {
                IfMatchValue::Any
            } else {
                // Unparseable tags simply never match.
                IfMatchValue::Versions(
                    text.split(',')
                        .filter_map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').parse().ok())
                        .collect(),
                )
            }
        });
        std::future::ready(Ok(IfMatch(value)))
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
