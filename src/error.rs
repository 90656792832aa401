//! The one error type of the API, rendered as RFC 9457 `application/problem+json`.

use std::borrow::Cow;

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::{StatusCode, header},
};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::middleware::current_request_id;

pub type ApiResult<T> = Result<T, ApiError>;

/// One problem with one field of the request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// Path of the field in the request body or query, e.g. `email` or `counties[2]`.
    pub field: String,
    /// Machine-readable reason, e.g. `required`, `length`, `unknown_variant`, `nul_byte`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// The stable, machine-readable code of every problem the API answers (`Problem.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, strum::AsRefStr, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    AlreadyAssigned,
    AlreadyClosed,
    AlreadyExists,
    AlreadyLinked,
    AlreadyWithdrawn,
    ApprovalDecided,
    ApprovalPending,
    ConcurrentUpdate,
    ConsentRequired,
    ConstraintViolation,
    CorsRefused,
    DatabaseUnavailable,
    DeliveryInFlight,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IntegrityCheckFailed,
    InternalError,
    InvalidBody,
    InvalidCursor,
    InvalidIdempotencyKey,
    InvalidPath,
    InvalidQuery,
    InvalidReference,
    InvalidTransition,
    InvalidValue,
    MalformedBody,
    MalformedIfMatch,
    MethodNotAllowed,
    NoFollowUpDue,
    NotClosed,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    RateLimited,
    ReferralLocked,
    RequestTimeout,
    RequirementUnmet,
    RestorationThresholdUnmet,
    SelfApproval,
    SelfLockout,
    SessionOutcomeRecorded,
    StaleVersion,
    StorageUnavailable,
    TokenExpired,
    TooManyWebhooks,
    Unauthenticated,
    UnknownParameter,
    UnsupportedMediaType,
    ValidationFailed,
    WebhookDisabled,
}

/// RFC 9457 problem details, as every error of the API is rendered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:haki:problem:validation_failed", "title": "Unprocessable Entity", "status": 422,
    "detail": "The request has invalid fields.", "code": "validation_failed",
    "request_id": "0193a1b2-...", "errors": [{"field": "email", "code": "email", "message": "must be an email address"}], "extensions": null
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: ErrorCode,
    /// The `X-Request-Id` of the request, to quote when reporting a problem.
    pub request_id: String,
    /// Every field at fault (empty when the problem is not about fields).
    pub errors: Vec<FieldError>,
    /// Extra machine-readable facts about some errors (e.g. the allowed moves of a transition).
    pub extensions: Option<serde_json::Value>,
}

/// An error answer of the API. Boxed: errors travel through every `Result` of the code base.
#[derive(Debug)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug)]
pub struct ApiErrorInner {
    status: StatusCode,
    code: ErrorCode,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    extensions: Option<serde_json::Value>,
    retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750).
    challenge: Option<&'static str>,
    /// Methods the resource allows, sent as `Allow` with a 405.
    allow: Option<String>,
    /// Logged, never sent.
    source: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl std::ops::Deref for ApiError {
    type Target = ApiErrorInner;
    fn deref(&self) -> &ApiErrorInner {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorInner {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        ApiError(Box::new(ApiErrorInner {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: None,
            retry_after: None,
            challenge: None,
            allow: None,
            source: None,
        }))
    }

    pub fn bad_request(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthenticated(detail: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, detail);
        e.challenge = Some(r#"Bearer realm="haki""#);
        e
    }

    /// A bearer token was sent but is not valid (forged, malformed, revoked).
    pub fn invalid_token(detail: impl Into<Cow<'static, str>>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, detail);
        e.challenge =
            Some(r#"Bearer realm="haki", error="invalid_token", error_description="The access token is not valid""#);
        e
    }

    /// A genuine token past its `exp`: the client should renew it (log in again).
    pub fn token_expired() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::TokenExpired,
            "The access token has expired; log in again for a new one.",
        );
        e.challenge =
            Some(r#"Bearer realm="haki", error="invalid_token", error_description="The access token expired""#);
        e
    }

    /// 405 naming the methods the resource does allow.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("This resource does not support that method; it allows {allow}."),
        );
        e.allow = Some(allow);
        e
    }

    /// 428: a write of a versioned record must say which version it read.
    pub fn precondition_required() -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            ErrorCode::PreconditionRequired,
            "Send If-Match with the ETag you read (e.g. If-Match: \"3\"), so that no change made since is overwritten.",
        )
    }

    /// 403 naming the permission the caller's role lacks (`extensions.permission`); `GET /me`
    /// lists the ones it has.
    pub fn forbidden(role: crate::auth::Role, permission: crate::auth::policy::Permission) -> Self {
        let name: &'static str = permission.into();
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("This needs the `{name}` permission, which the role `{role}` does not have."),
        )
        .with_extensions(serde_json::json!({ "permission": name }))
    }

    /// Missing, or outside the caller's reach: the two are indistinguishable on purpose.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "No such resource.")
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::StaleVersion,
            "The resource changed since you read it (If-Match does not match its ETag); read it again and retry.",
        )
    }

    pub fn unprocessable(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 422 listing the fields at fault.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        Self::unprocessable(ErrorCode::ValidationFailed, "The request has invalid fields.").with_errors(errors)
    }

    pub fn invalid_field(field: &str, code: &str, message: &str) -> Self {
        Self::invalid_fields(vec![FieldError::new(field, code, message)])
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "Too many requests; retry later.",
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn unavailable(source: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DatabaseUnavailable,
            "The database cannot be reached right now; retry shortly.",
        );
        e.source = Some(source.to_string());
        e.retry_after = Some(5);
        e
    }

    pub fn internal(source: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "An unexpected error occurred.",
        );
        e.source = Some(source.to_string());
        e
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_extensions(mut self, extensions: serde_json::Value) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// A unique-constraint conflict (`already_exists`) said in the words of the operation, e.g.
    /// `already_assigned`; any other error is left as it is.
    pub fn or_conflict(self, code: ErrorCode, detail: &'static str) -> Self {
        if self.code == ErrorCode::AlreadyExists {
            ApiError::conflict(code, detail)
        } else {
            self
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:haki:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.to_string(),
            code: self.code,
            request_id: current_request_id(),
            errors: self.errors.clone(),
            extensions: self.extensions.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            if self.status.is_server_error() {
                log::error!("request_id={} {}: {}", current_request_id(), self.code, source);
            }
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(challenge) = self.challenge {
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some(allow) = &self.allow {
            res.insert_header((header::ALLOW, allow.as_str()));
        }
        res.json(self.problem())
    }
}

fn is_data_exception(message: &str) -> bool {
    [
        "out of range",
        "invalid byte sequence",
        "invalid input syntax",
        "value too long",
    ]
    .iter()
    .any(|pattern| message.contains(pattern))
}

/// The messages of the server shutting down, restarting or full (the driver does not carry the
/// SQLSTATE to this layer).
fn is_server_unavailable(message: &str) -> bool {
    [
        "terminating connection due to administrator command",
        "terminating connection due to unexpected postmaster exit",
        "terminating connection because of crash of another server process",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "sorry, too many clients already",
    ]
    .iter()
    .any(|pattern| message.contains(pattern))
}

/// Maps known unique constraints to the field a client sent.
fn unique_constraint_field(constraint: &str) -> Option<&'static str> {
    match constraint {
        "users_email_key" => Some("email"),
        "partners_name_key" => Some("name"),
        _ => None,
    }
}

impl From<DieselError> for ApiError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => ApiError::not_found(),
            // An action whose Idempotency-Key claim was released meanwhile (it ran too long).
            DieselError::RollbackTransaction => ApiError::conflict(
                ErrorCode::IdempotencyInProgress,
                "This request ran too long and its Idempotency-Key was released; nothing was changed. Retry it.",
            ),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    let mut e = ApiError::conflict(
                        ErrorCode::AlreadyExists,
                        "A record with the same unique value already exists.",
                    );
                    if let Some(field) = info.constraint_name().and_then(unique_constraint_field) {
                        e.errors = vec![FieldError::new(field, "taken", "is already taken")];
                    }
                    e
                }
                DatabaseErrorKind::ForeignKeyViolation => {
                    let mut e = ApiError::unprocessable(
                        ErrorCode::InvalidReference,
                        "The request refers to a record that does not exist.",
                    );
                    // PostgreSQL names foreign keys `<table>_<column>_fkey`.
                    let field = info
                        .constraint_name()
                        .zip(info.table_name())
                        .and_then(|(c, t)| c.strip_prefix(t)?.strip_prefix('_')?.strip_suffix("_fkey"));
                    if let Some(field) = field {
                        e.errors = vec![FieldError::new(field, "unknown_reference", "refers to no such record")];
                    }
                    e
                }
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => ApiError::unprocessable(
                    ErrorCode::ConstraintViolation,
                    "The request breaks a rule of the data model.",
                ),
                DatabaseErrorKind::SerializationFailure => ApiError::conflict(
                    ErrorCode::ConcurrentUpdate,
                    "A concurrent change got in the way; retry.",
                ),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    ApiError::unavailable(err.to_string())
                }
                // The server going away under a statement (SQLSTATE 57P01-57P03, 53300): the
                // transaction did not commit; the request may be retried once it is back.
                _ if is_server_unavailable(info.message()) => ApiError::unavailable(err.to_string()),
                // Data exceptions (SQLSTATE class 22): a value PostgreSQL cannot hold, such as a
                // date before 4713 BC or a NUL byte in a query parameter. The client's input.
                _ if is_data_exception(info.message()) => ApiError::unprocessable(
                    ErrorCode::InvalidValue,
                    "A value in the request is outside what can be stored (e.g. a date out of range, a NUL character).",
                ),
                // Logged without PostgreSQL's detail, which can quote the row's values (a
                // survivor's record among them); the table and constraint say where to look.
                _ => ApiError::internal(format!(
                    "{err} (table {:?}, column {:?}, constraint {:?})",
                    info.table_name(),
                    info.column_name(),
                    info.constraint_name()
                )),
            },
            DieselError::BrokenTransactionManager => ApiError::unavailable(err.to_string()),
            _ => ApiError::internal(err),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        ApiError::unavailable(err)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::internal(err)
    }
}

pub fn json_error_handler(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => payload_too_large(),
        JsonPayloadError::ContentType => unsupported_media_type(),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::unprocessable(ErrorCode::InvalidBody, "The body does not have the expected fields.").into()
        }
        _ => ApiError::bad_request(ErrorCode::MalformedBody, "The body is not valid JSON.").into(),
    }
}

pub fn path_error_handler(err: PathError, req: &HttpRequest) -> actix_web::Error {
    let _ = err;
    ApiError::bad_request(
        ErrorCode::InvalidPath,
        format!(
            "The path `{}` is not valid: its id must be a UUID (or, for offences, a code).",
            req.path()
        ),
    )
    .into()
}

pub fn query_error_handler(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(ErrorCode::InvalidQuery, format!("The query string is not valid: {err}")).into()
}

/// A body that stopped arriving (`HAKI_BODY_IDLE_TIMEOUT_SECONDS`).
pub fn body_timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        "The request body stopped arriving; send it again.",
    )
}

/// Whether a body could not be read because it stopped arriving.
pub fn is_body_timeout(err: &actix_web::error::PayloadError) -> bool {
    matches!(err, actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

pub fn payload_too_large() -> actix_web::Error {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "The request body is too large.",
    )
    .into()
}

pub fn unsupported_media_type() -> actix_web::Error {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "Send the body as application/json.",
    )
    .into()
}

/// Turns `validator` errors into field errors, with nested paths (`contact.email`, `items[2].name`).
pub fn validation_errors(errors: &validator::ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect_validation_errors(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect_validation_errors(errors: &validator::ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| default_message(e));
                    out.push(FieldError::new(path.clone(), e.code.to_string(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation_errors(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect_validation_errors(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn default_message(e: &validator::ValidationError) -> String {
    let param = |name: &str| e.params.get(name).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
            (Some(min), None) => format!("length must be at least {min}"),
            (None, Some(max)) => format!("length must be at most {max}"),
            _ => "invalid length".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "out of range".into(),
        },
        "email" => "must be an email address".into(),
        "required" => "is required".into(),
        code => format!("is invalid ({code})"),
    }
}
