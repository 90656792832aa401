//! Documents of cases and survivors (P3 and PRC forms, statements, charge sheets, court orders,
//! judgments, consent forms, school reports…). Need-to-know is the parent record's: whoever
//! reaches the case or the survivor reaches its documents, and those who may change it may add
//! and change them; a document marked identifying is for those who may read identities only.
//! Files are streamed in and out, encrypted with a data key of their own (wrapped by the service
//! key), and their SHA-256, recorded at upload, is checked before any byte is served.

pub mod crypt;
pub mod store;

use actix_multipart::{Field, Multipart};
use actix_web::{HttpResponse, get, http::header, patch, post, web, web::Bytes};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{ObjectStore, WriteMultipart};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use validator::Validate;

use crate::{
    audit::AuditEvent,
    auth::{AuthUser, Role, policy},
    db::{
        pagination::{Page, PageParams},
        schema::documents,
    },
    error::{ApiError, ApiResult, ErrorCode, FieldError, Problem},
    extract::{IfMatch, ValidatedJson, created_with_etag, ok_with_etag},
    ids::{CaseId, DocumentId, SurvivorId, UserId},
    state::AppState,
    survivors::vault::Sealed,
    text_enum,
};

text_enum! {
    /// What a document is.
    pub enum DocumentKind {
        /// The police medical examination form (P3).
        P3Form,
        /// The post-rape care form.
        PrcForm,
        WitnessStatement,
        ChargeSheet,
        CourtOrder,
        Judgment,
        MedicalReport,
        ConsentForm,
        SchoolReport,
        Photo,
        Other,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: DocumentId,
    pub case_id: Option<CaseId>,
    pub survivor_id: Option<SurvivorId>,
    pub kind: DocumentKind,
    pub title: String,
    pub document_date: NaiveDate,
    pub identifying: bool,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub key_id: String,
    pub key_nonce: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub uploaded_by: UserId,
    pub archived_at: Option<DateTime<Utc>>,
    pub archived_by: Option<UserId>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<UserId>,
}

/// A document's description (its file is at `GET /documents/{id}/content`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    pub id: DocumentId,
    /// The case it belongs to (or `null`: a survivor's).
    pub case_id: Option<CaseId>,
    /// The survivor it belongs to (or `null`: a case's).
    pub survivor_id: Option<SurvivorId>,
    pub kind: DocumentKind,
    pub title: String,
    /// The date the document bears.
    pub document_date: NaiveDate,
    /// Whether it identifies the survivor (then only those who may read identities reach it).
    pub identifying: bool,
    /// The type its bytes showed at upload.
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the file, hex: recorded at upload, checked before every download.
    pub sha256: String,
    pub uploaded_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was archived (then it is out of lists; admins still reach it).
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i32,
}

impl From<DocumentRow> for Document {
    fn from(r: DocumentRow) -> Self {
        Document {
            id: r.id,
            case_id: r.case_id,
            survivor_id: r.survivor_id,
            kind: r.kind,
            title: r.title,
            document_date: r.document_date,
            identifying: r.identifying,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: hex::encode(&r.sha256),
            uploaded_by: r.uploaded_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived_at: r.archived_at,
            version: r.version,
        }
    }
}

/// An upload: the file and what it is (`multipart/form-data`; other fields are refused).
#[derive(Debug, ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadDocument {
    kind: DocumentKind,
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// The date the document bears (not in the future).
    document_date: NaiveDate,
    /// Whether it identifies the survivor.
    identifying: bool,
    /// The file: PDF, JPEG, PNG, HEIC, DOCX, ODT or plain text, as its bytes show (not its name
    /// or declared type), up to `HAKI_DOCUMENT_MAX_BYTES` (25 MB).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateDocument {
    pub kind: Option<DocumentKind>,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    pub document_date: Option<NaiveDate>,
    pub identifying: Option<bool>,
}

/// The record a document belongs to.
#[derive(Clone, Copy)]
pub enum Parent {
    Case(CaseId),
    Survivor(SurvivorId),
}

impl Parent {
    fn of(row: &DocumentRow) -> Parent {
        match (row.case_id, row.survivor_id) {
            (Some(case), _) => Parent::Case(case),
            (None, Some(survivor)) => Parent::Survivor(survivor),
            (None, None) => unreachable!("the database requires one parent"),
        }
    }

    /// The audit entry's resource: the parent, so that every access shows in its access log.
    fn resource(self) -> (&'static str, String) {
        match self {
            Parent::Case(id) => ("case", id.to_string()),
            Parent::Survivor(id) => ("survivor", id.to_string()),
        }
    }

    /// 404 unless the caller reaches the parent record.
    async fn ensure_visible(self, conn: &mut AsyncPgConnection, user: &AuthUser) -> ApiResult<()> {
        match self {
            Parent::Case(id) => crate::cases::ensure_visible(conn, user, id).await,
            Parent::Survivor(id) => crate::survivors::ensure_visible(conn, user, id).await,
        }
    }

    /// 404 unless the caller reaches the parent record, 403 unless they may change it.
    async fn ensure_changeable(self, conn: &mut AsyncPgConnection, user: &AuthUser) -> ApiResult<()> {
        match self {
            Parent::Case(id) => crate::cases::ensure_changeable(conn, user, id).await,
            Parent::Survivor(id) => {
                crate::survivors::ensure_restoration(conn, user, id).await?;
                policy::require(user, policy::Permission::ChangeRestoration)
            }
        }
    }
}

/// 404 unless the caller reaches the record the document belongs to (for the replay of an
/// idempotent request on it).
pub async fn ensure_parent_visible(conn: &mut AsyncPgConnection, user: &AuthUser, id: DocumentId) -> ApiResult<()> {
    let row = find(conn, id).await?;
    Parent::of(&row).ensure_visible(conn, user).await
}

async fn find(conn: &mut AsyncPgConnection, id: DocumentId) -> ApiResult<DocumentRow> {
    documents::table
        .find(id)
        .select(DocumentRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(ApiError::not_found)
}

fn may_read_identity(user: &AuthUser) -> bool {
    policy::allows(user.role, policy::Permission::ReadIdentity)
}

/// The document, if the caller may read it: the parent within reach, an identifying document
/// only with the right to read identities (403 naming it), an archived one only for admins.
async fn readable(conn: &mut AsyncPgConnection, user: &AuthUser, id: DocumentId) -> ApiResult<DocumentRow> {
    let row = find(conn, id).await?;
    Parent::of(&row).ensure_visible(conn, user).await?;
    if row.archived_at.is_some() && user.role != Role::Admin {
        return Err(ApiError::not_found());
    }
    if row.identifying {
        policy::require(user, policy::Permission::ReadIdentity)?;
    }
    Ok(row)
}

fn binding(id: DocumentId) -> Vec<u8> {
    SEALED_KEYS.binding(id.0)
}

/// The document's data key, unwrapped with the service key.
fn data_key(state: &AppState, row: &DocumentRow) -> ApiResult<[u8; 32]> {
    let key = state
        .vault
        .open_bound(
            &binding(row.id),
            &Sealed {
                key_id: row.key_id.clone(),
                nonce: row.key_nonce.clone(),
                ciphertext: row.wrapped_key.clone(),
            },
        )
        .map_err(ApiError::internal)?;
    key.try_into()
        .map_err(|_| ApiError::internal("a data key is not 32 bytes"))
}

async fn list(state: &AppState, user: &AuthUser, parent: Parent, page: &PageParams) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let mut conn = state.conn().await?;
    parent.ensure_visible(&mut conn, user).await?;
    let mut query = documents::table
        .filter(documents::archived_at.is_null())
        .select(DocumentRow::as_select())
        .into_boxed();
    query = match parent {
        Parent::Case(id) => query.filter(documents::case_id.eq(id)),
        Parent::Survivor(id) => query.filter(documents::survivor_id.eq(id)),
    };
    if !may_read_identity(user) {
        query = query.filter(documents::identifying.eq(false));
    }
    if let Some(after) = page.after::<DocumentId>()? {
        query = query.filter(documents::id.lt(after));
    }
    let rows: Vec<DocumentRow> = query
        .order(documents::id.desc())
        .limit(limit + 1)
        .load(&mut conn)
        .await?;
    let listed: Vec<DocumentId> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|d| d.id)
        .collect();
    let (kind_of, parent_id) = parent.resource();
    AuditEvent::by(user, "document.list", kind_of, parent_id)
        .details(json!({"documents": listed}))
        .record(&conn)
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id, Document::from)))
}

/// The documents of a case, newest first (archived ones left out; identifying ones only for
/// those who may read identities).
#[utoipa::path(
    tag = "documents",
    operation_id = "list_case_documents",
    params(("id" = CaseId, Path), PageParams),
    responses((status = 200, body = Page<Document>))
)]
#[get("/cases/{id}/documents")]
pub async fn list_case_documents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    list(&state, &user, Parent::Case(id.into_inner()), &page).await
}

/// The documents of a survivor, newest first (archived ones left out; identifying ones only for
/// those who may read identities).
#[utoipa::path(
    tag = "documents",
    operation_id = "list_survivor_documents",
    params(("id" = SurvivorId, Path), PageParams),
    responses((status = 200, body = Page<Document>))
)]
#[get("/survivors/{id}/documents")]
pub async fn list_survivor_documents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    list(&state, &user, Parent::Survivor(id.into_inner()), &page).await
}

/// Add a document to a case (those who may change the case).
#[utoipa::path(
    tag = "documents",
    operation_id = "upload_case_document",
    params(("id" = CaseId, Path)),
    request_body(content = UploadDocument, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Document, headers(("Location" = String), ("ETag" = String))),
        (status = 413, description = "The file is larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The file's bytes are not of an accepted type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/cases/{id}/documents")]
pub async fn upload_case_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CaseId>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    upload(&state, &user, Parent::Case(id.into_inner()), &req, payload).await
}

/// Add a document to a survivor's file (those who work on her restoration).
#[utoipa::path(
    tag = "documents",
    operation_id = "upload_survivor_document",
    params(("id" = SurvivorId, Path)),
    request_body(content = UploadDocument, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Document, headers(("Location" = String), ("ETag" = String))),
        (status = 413, description = "The file is larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The file's bytes are not of an accepted type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/survivors/{id}/documents")]
pub async fn upload_survivor_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<SurvivorId>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    upload(&state, &user, Parent::Survivor(id.into_inner()), &req, payload).await
}

/// What an upload's file turned out to be.
struct Stored {
    size: u64,
    sha256: Vec<u8>,
    content_type: &'static str,
}

fn malformed<E: std::fmt::Display + 'static>(e: E) -> ApiError {
    if let Some(actix_multipart::MultipartError::Payload(payload)) =
        (&e as &dyn std::any::Any).downcast_ref::<actix_multipart::MultipartError>()
        && crate::error::is_body_timeout(payload)
    {
        return crate::error::body_timed_out();
    }
    ApiError::bad_request(
        ErrorCode::MalformedBody,
        format!("The multipart/form-data body could not be read: {e}"),
    )
}

/// The request body, cut off past `limit` bytes (the multipart reader would otherwise buffer a
/// part's headers without bound); `over` says it was.
fn limited(
    payload: web::Payload,
    limit: u64,
    over: std::rc::Rc<std::cell::Cell<bool>>,
) -> impl Stream<Item = Result<Bytes, actix_web::error::PayloadError>> {
    let mut seen: u64 = 0;
    payload.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            over.set(true);
            return Err(actix_web::error::PayloadError::Overflow);
        }
        Ok(chunk)
    })
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("The file is larger than {max} bytes (HAKI_DOCUMENT_MAX_BYTES)."),
    )
}

async fn upload(
    state: &AppState,
    user: &AuthUser,
    parent: Parent,
    req: &actix_web::HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    use crate::db::schema::document_uploads;
    let id = DocumentId::new();
    {
        let mut conn = state.conn().await?;
        parent.ensure_changeable(&mut conn, user).await?;
        // Marked as under way before anything is stored, so that the sweep leaves it alone.
        diesel::insert_into(document_uploads::table)
            .values(document_uploads::id.eq(id.0))
            .execute(&mut conn)
            .await?;
    }
    // No connection is held while the file streams in.
    let max = state.config.document_max_bytes;
    let over = std::rc::Rc::new(std::cell::Cell::new(false));
    let payload = Multipart::new(req.headers(), limited(payload, max + 64 * 1024, over.clone()));
    let path = store::path_of(id.0);
    let key: [u8; 32] = rand::random();
    let mut stored: Option<Stored> = None;
    let outcome = receive(state, id, &key, payload, &mut stored).await;
    let result = match outcome {
        Ok(fields) => record(state, user, parent, id, &key, fields, stored.as_ref()).await,
        Err(_) if over.get() => Err(too_large(max)),
        Err(err) => Err(err),
    };
    if result.is_err() {
        // Nothing of a failed upload stays behind (should this fail too, the sweep removes it).
        if stored.is_some()
            && let Err(e) = state.documents.delete(&path).await
        {
            log::warn!("could not remove the object of a failed upload: {e}");
        }
        if let Ok(mut conn) = state.conn().await {
            let _ = diesel::delete(document_uploads::table.find(id.0))
                .execute(&mut conn)
                .await;
        }
    }
    result
}

#[derive(Default)]
struct Fields {
    kind: Option<String>,
    title: Option<String>,
    document_date: Option<String>,
    identifying: Option<String>,
}

/// Reads the form: the text fields, and the file streamed into the store (`stored` says when it
/// is there, so that a later failure removes it).
async fn receive(
    state: &AppState,
    id: DocumentId,
    key: &[u8; 32],
    mut payload: Multipart,
    stored: &mut Option<Stored>,
) -> ApiResult<Fields> {
    let mut fields = Fields::default();
    while let Some(field) = payload.try_next().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let slot = match name.as_str() {
            "file" => {
                if stored.is_some() {
                    return Err(ApiError::invalid_field(
                        "file",
                        "duplicate",
                        "send one file per document",
                    ));
                }
                *stored = Some(store_file(state, id, key, field).await?);
                continue;
            }
            "kind" => &mut fields.kind,
            "title" => &mut fields.title,
            "document_date" => &mut fields.document_date,
            "identifying" => &mut fields.identifying,
            other => {
                return Err(ApiError::invalid_field(
                    other,
                    "unknown_field",
                    "is not a field of an upload (kind, title, document_date, identifying, file)",
                ));
            }
        };
        if slot.is_some() {
            return Err(ApiError::invalid_field(&name, "duplicate", "is given more than once"));
        }
        *slot = Some(text_field(&name, field).await?);
    }
    Ok(fields)
}

async fn text_field(name: &str, mut field: Field) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(malformed)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > 1000 {
            return Err(ApiError::invalid_field(name, "length", "must be at most 1000 bytes"));
        }
    }
    String::from_utf8(bytes).map_err(|_| ApiError::invalid_field(name, "utf8", "must be UTF-8 text"))
}

/// Streams the file into the store, encrypted, hashing and sizing it, its type decided by its
/// first bytes; on any failure the partial upload is aborted (no object is left).
async fn store_file(state: &AppState, id: DocumentId, key: &[u8; 32], field: Field) -> ApiResult<Stored> {
    put_encrypted(&*state.documents, state.config.document_max_bytes, id, key, field).await
}

/// Streams `body` into `store`, encrypted under `key`, hashing and sizing it, its type decided
/// by its first bytes; on any failure the partial upload is aborted (no object is left).
async fn put_encrypted<S, E>(
    store: &dyn ObjectStore,
    max: u64,
    id: DocumentId,
    key: &[u8; 32],
    body: S,
) -> ApiResult<Stored>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display + 'static,
{
    const SNIFF: usize = 8 * 1024;
    let mut field = std::pin::pin!(body);
    let upload = store
        .put_multipart(&store::path_of(id.0))
        .await
        .map_err(ApiError::internal)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
    let (mut sealer, header) = crypt::Sealer::new(key, &binding(id));
    writer.write(&header);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF);
    let mut content_type: Option<&'static str> = None;
    let mut pending: Vec<u8> = Vec::with_capacity(2 * crypt::CHUNK);
    let streamed: ApiResult<()> = async {
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            size += chunk.len() as u64;
            if size > max {
                return Err(too_large(max));
            }
            hasher.update(&chunk);
            if content_type.is_none() {
                let take = (SNIFF - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if head.len() == SNIFF {
                    content_type = Some(store::sniff(&head).ok_or_else(unsupported)?);
                }
            }
            pending.extend_from_slice(&chunk);
            // Keep the last chunk back: it is sealed as the last one.
            while pending.len() > crypt::CHUNK {
                let rest = pending.split_off(crypt::CHUNK);
                let sealed = sealer.seal(&pending, false).map_err(ApiError::internal)?;
                writer.write(&sealed);
                pending = rest;
                writer.wait_for_capacity(2).await.map_err(ApiError::internal)?;
            }
        }
        if size == 0 {
            return Err(ApiError::invalid_field("file", "empty", "is empty"));
        }
        if content_type.is_none() {
            content_type = Some(store::sniff(&head).ok_or_else(unsupported)?);
        }
        let sealed = sealer.seal(&pending, true).map_err(ApiError::internal)?;
        writer.write(&sealed);
        Ok(())
    }
    .await;
    match streamed {
        Ok(()) => {
            writer.finish().await.map_err(ApiError::internal)?;
            Ok(Stored {
                size,
                sha256: hasher.finalize().to_vec(),
                content_type: content_type.unwrap_or("application/octet-stream"),
            })
        }
        Err(err) => {
            if let Err(e) = writer.abort().await {
                log::warn!("could not abort a failed upload: {e}");
            }
            Err(err)
        }
    }
}

fn unsupported() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "The file is not of an accepted type (PDF, JPEG, PNG, HEIC, DOCX, ODT or plain text), as its bytes show.",
    )
}

/// The form's text fields, checked.
fn metadata(fields: Fields, stored: Option<&Stored>) -> ApiResult<(DocumentKind, String, NaiveDate, bool)> {
    let mut errors = Vec::new();
    let kind = match fields.kind.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new("kind", "required", "is required"));
            None
        }
        Some(k) => k.parse::<DocumentKind>().ok().or_else(|| {
            errors.push(FieldError::new("kind", "unknown", "is not a kind of document"));
            None
        }),
    };
    let title = match fields.title.as_deref().map(str::trim) {
        Some(t) if (1..=200).contains(&t.chars().count()) && !t.contains('\0') => Some(t.to_string()),
        _ => {
            errors.push(FieldError::new("title", "length", "must be 1 to 200 characters"));
            None
        }
    };
    let date = match fields.document_date.as_deref().map(str::trim) {
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) if date <= crate::vocab::today() => Some(date),
            Ok(_) => {
                errors.push(FieldError::new("document_date", "future", "must not be in the future"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("document_date", "date", "must be a date, YYYY-MM-DD"));
                None
            }
        },
        None => {
            errors.push(FieldError::new("document_date", "required", "is required"));
            None
        }
    };
    let identifying = match fields.identifying.as_deref().map(str::trim) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => {
            errors.push(FieldError::new("identifying", "boolean", "must be true or false"));
            None
        }
    };
    if stored.is_none() {
        errors.push(FieldError::new("file", "required", "is required"));
    }
    match (kind, title, date, identifying) {
        (Some(k), Some(t), Some(d), Some(i)) if errors.is_empty() => Ok((k, t, d, i)),
        _ => Err(ApiError::invalid_fields(errors)),
    }
}

async fn record(
    state: &AppState,
    user: &AuthUser,
    parent: Parent,
    id: DocumentId,
    key: &[u8; 32],
    fields: Fields,
    stored: Option<&Stored>,
) -> ApiResult<HttpResponse> {
    let (kind, title, document_date, identifying) = metadata(fields, stored)?;
    let stored = stored.ok_or_else(|| ApiError::invalid_field("file", "required", "is required"))?;
    let wrapped = state.vault.seal_bound(&binding(id), key).map_err(ApiError::internal)?;
    let now = Utc::now();
    let row = DocumentRow {
        id,
        case_id: match parent {
            Parent::Case(c) => Some(c),
            Parent::Survivor(_) => None,
        },
        survivor_id: match parent {
            Parent::Survivor(s) => Some(s),
            Parent::Case(_) => None,
        },
        kind,
        title,
        document_date,
        identifying,
        content_type: stored.content_type.to_string(),
        size_bytes: i64::try_from(stored.size).map_err(ApiError::internal)?,
        sha256: stored.sha256.clone(),
        key_id: wrapped.key_id,
        key_nonce: wrapped.nonce,
        wrapped_key: wrapped.ciphertext,
        uploaded_by: user.id,
        archived_at: None,
        archived_by: None,
        version: 1,
        created_at: now,
        updated_at: now,
        updated_by: Some(user.id),
    };
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            // The parent may have moved out of reach while the file streamed in.
            parent.ensure_changeable(conn, user).await?;
            let row: DocumentRow = diesel::insert_into(documents::table)
                .values(&row)
                .returning(DocumentRow::as_returning())
                .get_result(conn)
                .await?;
            diesel::delete(crate::db::schema::document_uploads::table.find(row.id.0))
                .execute(conn)
                .await?;
            let (kind_of, parent_id) = parent.resource();
            AuditEvent::by(user, "document.upload", kind_of, parent_id)
                .details(
                    json!({"document_id": row.id, "kind": row.kind, "size_bytes": row.size_bytes,
                    "sha256": hex::encode(&row.sha256), "identifying": row.identifying}),
                )
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(created_with_etag(
        format!("/api/v1/documents/{}", row.id),
        row.version,
        &Document::from(row),
    ))
}

/// What `import` files a document as.
pub struct Import<'a> {
    pub parent: Parent,
    pub kind: DocumentKind,
    pub title: &'a str,
    pub document_date: NaiveDate,
    pub identifying: bool,
    pub uploaded_by: UserId,
}

/// Files a document from the server itself (the demo dataset): stored and recorded as an upload
/// would be, audited as the operator's act.
pub async fn import(
    conn: &mut AsyncPgConnection,
    store: &dyn ObjectStore,
    vault: &crate::survivors::vault::Vault,
    what: Import<'_>,
    bytes: Vec<u8>,
) -> Result<DocumentId, crate::db::BoxError> {
    let id = DocumentId::new();
    let key: [u8; 32] = rand::random();
    let body = futures_util::stream::once(std::future::ready(Ok::<_, std::convert::Infallible>(Bytes::from(
        bytes,
    ))));
    let stored = put_encrypted(store, u64::MAX, id, &key, body)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let wrapped = vault.seal_bound(&binding(id), &key)?;
    let now = Utc::now();
    let (case_id, survivor_id) = match what.parent {
        Parent::Case(c) => (Some(c), None),
        Parent::Survivor(s) => (None, Some(s)),
    };
    diesel::insert_into(documents::table)
        .values(&DocumentRow {
            id,
            case_id,
            survivor_id,
            kind: what.kind,
            title: what.title.to_string(),
            document_date: what.document_date,
            identifying: what.identifying,
            content_type: stored.content_type.to_string(),
            size_bytes: i64::try_from(stored.size)?,
            sha256: stored.sha256,
            key_id: wrapped.key_id,
            key_nonce: wrapped.nonce,
            wrapped_key: wrapped.ciphertext,
            uploaded_by: what.uploaded_by,
            archived_at: None,
            archived_by: None,
            version: 1,
            created_at: now,
            updated_at: now,
            updated_by: Some(what.uploaded_by),
        })
        .execute(conn)
        .await?;
    let (kind_of, parent_id) = what.parent.resource();
    AuditEvent::operator("document.upload", kind_of, parent_id)
        .details(json!({"document_id": id}))
        .record(conn)
        .await?;
    Ok(id)
}

/// A document's description.
#[utoipa::path(
    tag = "documents",
    operation_id = "get_document",
    params(("id" = DocumentId, Path)),
    responses((status = 200, body = Document, headers(("ETag" = String))))
)]
#[get("/documents/{id}")]
pub async fn get_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.conn().await?;
    let row = readable(&mut conn, &user, id.into_inner()).await?;
    let (kind_of, parent_id) = Parent::of(&row).resource();
    AuditEvent::by(&user, "document.read", kind_of, parent_id)
        .details(json!({"document_id": row.id}))
        .record(&conn)
        .await?;
    Ok(ok_with_etag(row.version, &Document::from(row)))
}

/// Correct a document's description (those who may change its record; `If-Match` required).
#[utoipa::path(
    tag = "documents",
    operation_id = "update_document",
    params(("id" = DocumentId, Path), ("If-Match" = String, Header, description = "The document's ETag")),
    request_body = UpdateDocument,
    responses((status = 200, body = Document, headers(("ETag" = String))))
)]
#[patch("/documents/{id}")]
pub async fn update_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateDocument>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    if let Some(date) = input.document_date
        && date > crate::vocab::today()
    {
        return Err(ApiError::invalid_field(
            "document_date",
            "future",
            "must not be in the future",
        ));
    }
    let title = match input.title.as_deref().map(str::trim) {
        Some("") => {
            return Err(ApiError::invalid_field(
                "title",
                "length",
                "must be 1 to 200 characters",
            ));
        }
        other => other.map(str::to_string),
    };
    let mut conn = state.conn().await?;
    let row = conn
        .transaction(async |conn| {
            let current = readable(conn, &user, id).await?;
            Parent::of(&current).ensure_changeable(conn, &user).await?;
            let current: DocumentRow = documents::table
                .find(id)
                .select(DocumentRow::as_select())
                .for_update()
                .first(conn)
                .await?;
            if_match.check(current.version)?;
            let row: DocumentRow = diesel::update(documents::table.find(id))
                .set((
                    input.kind.map(|k| documents::kind.eq(k)),
                    title.clone().map(|t| documents::title.eq(t)),
                    input.document_date.map(|d| documents::document_date.eq(d)),
                    input.identifying.map(|i| documents::identifying.eq(i)),
                    documents::version.eq(documents::version + 1),
                    documents::updated_by.eq(user.id),
                ))
                .returning(DocumentRow::as_returning())
                .get_result(conn)
                .await?;
            let (kind_of, parent_id) = Parent::of(&row).resource();
            AuditEvent::by(&user, "document.update", kind_of, parent_id)
                .details(json!({"document_id": row.id, "version": row.version, "identifying": row.identifying}))
                .record(conn)
                .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
    Ok(ok_with_etag(row.version, &Document::from(row)))
}

/// Archive a document (those who may change its record, identifying or not): it drops out of
/// lists; admins still reach it. Nothing is deleted; archiving it again changes nothing.
#[utoipa::path(
    tag = "documents",
    operation_id = "archive_document",
    params(("id" = DocumentId, Path)),
    responses((status = 204, description = "Archived"))
)]
#[post("/documents/{id}/archive")]
pub async fn archive_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    conn.transaction(async |conn| {
        let current = find(conn, id).await?;
        Parent::of(&current).ensure_changeable(conn, &user).await?;
        let current: DocumentRow = documents::table
            .find(id)
            .select(DocumentRow::as_select())
            .for_update()
            .first(conn)
            .await?;
        if current.archived_at.is_some() {
            return Ok(());
        }
        let row: DocumentRow = diesel::update(documents::table.find(id))
            .set((
                documents::archived_at.eq(Utc::now()),
                documents::archived_by.eq(user.id),
                documents::version.eq(documents::version + 1),
                documents::updated_by.eq(user.id),
            ))
            .returning(DocumentRow::as_returning())
            .get_result(conn)
            .await?;
        let (kind_of, parent_id) = Parent::of(&row).resource();
        AuditEvent::by(&user, "document.archive", kind_of, parent_id)
            .details(json!({"document_id": row.id}))
            .record(conn)
            .await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct FileContent(Vec<u8>);

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("the document store could not be read: {0}")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Corrupt(#[from] crypt::Corrupt),
    #[error("the file does not match the SHA-256 recorded at upload")]
    Mismatch,
}

/// The document's plaintext, decrypted a chunk at a time; fails on a chunk that does not
/// authenticate and, at the end, when the SHA-256 differs from the one recorded.
fn plaintext(
    stored: BoxStream<'static, object_store::Result<Bytes>>,
    key: [u8; 32],
    row: &DocumentRow,
) -> impl Stream<Item = Result<Bytes, ReadError>> + use<> {
    struct Reading {
        stored: BoxStream<'static, object_store::Result<Bytes>>,
        buffer: Vec<u8>,
        opener: Option<crypt::Opener>,
        hasher: Sha256,
        key: [u8; 32],
        id: DocumentId,
        size: u64,
        expected: Vec<u8>,
    }
    async fn take(r: &mut Reading, n: usize) -> Result<Vec<u8>, ReadError> {
        while r.buffer.len() < n {
            match r.stored.next().await {
                Some(bytes) => r.buffer.extend_from_slice(&bytes?),
                None => break,
            }
        }
        if r.buffer.len() < n {
            return Err(crypt::Corrupt.into());
        }
        let rest = r.buffer.split_off(n);
        Ok(std::mem::replace(&mut r.buffer, rest))
    }
    let reading = Reading {
        stored,
        buffer: Vec::new(),
        opener: None,
        hasher: Sha256::new(),
        key,
        id: row.id,
        size: u64::try_from(row.size_bytes).unwrap_or(0),
        expected: row.sha256.clone(),
    };
    futures_util::stream::try_unfold(reading, |mut r| async move {
        if r.opener.is_none() {
            let header = take(&mut r, crypt::HEADER).await?;
            r.opener = Some(crypt::Opener::new(&r.key, &binding(r.id), &header, r.size)?);
        }
        let Some(opener) = r.opener.as_mut() else {
            return Err(crypt::Corrupt.into());
        };
        if opener.finished() {
            // Nothing may follow the last chunk.
            if !r.buffer.is_empty() {
                return Err(crypt::Corrupt.into());
            }
            while let Some(more) = r.stored.next().await {
                if !more?.is_empty() {
                    return Err(crypt::Corrupt.into());
                }
            }
            if r.hasher.clone().finalize()[..] != r.expected[..] {
                return Err(ReadError::Mismatch);
            }
            return Ok(None);
        }
        let sealed = {
            // A full chunk, or what is left of the last one.
            let opened_so_far = opener.opened();
            let remaining = r.size - opened_so_far * crypt::CHUNK as u64;
            let plain = remaining.min(crypt::CHUNK as u64) as usize;
            take(&mut r, plain + crypt::SEALED_CHUNK - crypt::CHUNK).await?
        };
        let Some(opener) = r.opener.as_mut() else {
            return Err(crypt::Corrupt.into());
        };
        let plain = opener.open(&sealed)?;
        r.hasher.update(&plain);
        Ok(Some((Bytes::from(plain), r)))
    })
}

async fn open_stored(
    state: &AppState,
    row: &DocumentRow,
) -> Result<BoxStream<'static, object_store::Result<Bytes>>, ReadError> {
    Ok(state.documents.get(&store::path_of(row.id.0)).await?.into_stream())
}

/// The file. Its SHA-256 is checked against the one recorded at upload before a byte is sent: a
/// file that does not match is refused (409 `integrity_check_failed`), never served. Every
/// download is audited and shows in the record's access log.
#[utoipa::path(
    tag = "documents",
    operation_id = "download_document",
    params(("id" = DocumentId, Path)),
    responses(
        (status = 200, description = "The file, as an attachment, with the type its bytes showed at upload",
            content(
                (FileContent = "application/pdf"),
                (FileContent = "image/jpeg"),
                (FileContent = "image/png"),
                (FileContent = "image/heic"),
                (FileContent = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (FileContent = "application/vnd.oasis.opendocument.text"),
                (FileContent = "text/plain"),
            ),
            headers(("Content-Disposition" = String), ("X-Content-Type-Options" = String), ("Cache-Control" = String))),
        (status = 409, description = "The stored file does not match its recorded SHA-256, or is gone (chain of custody): withheld", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The document store cannot be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/documents/{id}/content")]
pub async fn download_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
) -> ApiResult<HttpResponse> {
    let row = {
        let mut conn = state.conn().await?;
        readable(&mut conn, &user, id.into_inner()).await?
    };
    let key = data_key(&state, &row)?;
    let (kind_of, parent_id) = Parent::of(&row).resource();
    // First the whole file is checked, then it is streamed again to the client.
    let checked: Result<(), ReadError> = async {
        let mut verify = std::pin::pin!(plaintext(open_stored(&state, &row).await?, key, &row));
        while verify.try_next().await?.is_some() {}
        Ok(())
    }
    .await;
    if let Err(ReadError::Store(err)) = &checked
        && !matches!(err, object_store::Error::NotFound { .. })
    {
        // The store could not be read: not a sign of tampering; retry later.
        log::error!("the document store could not be read: {err}");
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            "The document store cannot be reached; retry later.",
        ));
    }
    let conn = state.conn().await?;
    if let Err(err) = checked {
        log::error!("document {} failed its integrity check: {err}", row.id);
        AuditEvent::by(&user, "document.integrity_failed", kind_of, &parent_id)
            .details(json!({"document_id": row.id, "error": err.to_string()}))
            .record(&conn)
            .await?;
        return Err(ApiError::conflict(
            ErrorCode::IntegrityCheckFailed,
            "The stored file does not match the fingerprint recorded at upload; it is withheld. \
             Report it to an administrator.",
        ));
    }
    AuditEvent::by(&user, "document.download", kind_of, &parent_id)
        .details(json!({"document_id": row.id, "sha256": hex::encode(&row.sha256)}))
        .record(&conn)
        .await?;
    drop(conn);
    let stream = open_stored(&state, &row).await.map_err(ApiError::internal)?;
    let body = plaintext(stream, key, &row).map_err(|e| {
        log::error!("a document stream failed after its check: {e}");
        std::io::Error::other(e)
    });
    let extension = match row.content_type.as_str() {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/heic" => "heic",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.oasis.opendocument.text" => "odt",
        _ => "txt",
    };
    Ok(HttpResponse::Ok()
        .content_type(row.content_type.as_str())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"document-{}.{extension}\"", row.id),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(u64::try_from(row.size_bytes).unwrap_or(0))
        .streaming(body))
}

/// Where each document's data key is kept, wrapped by the vault (rewrapped by
/// `vault::reseal_stale` after a rotation; the files are not rewritten).
pub const SEALED_KEYS: crate::survivors::vault::SealedColumns = crate::survivors::vault::SealedColumns {
    table: "documents",
    id: "id",
    key_id: "key_id",
    nonce: "key_nonce",
    ciphertext: "wrapped_key",
    binding_prefix: b"document:",
};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_case_documents)
        .service(upload_case_document)
        .service(list_survivor_documents)
        .service(upload_survivor_document)
        .service(get_document)
        .service(update_document)
        .service(archive_document)
        .service(download_document);
}
