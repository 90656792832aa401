//! The object store documents live in, what a file's bytes say it is, and the sweep of objects
//! whose upload never committed.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::TryStreamExt;
use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, path::Path};

use crate::{db::BoxError, db::schema::documents, state::AppState};

/// Objects are stored under this prefix, named by document id (never by a client's file name).
pub const PREFIX: &str = "documents";

pub fn path_of(id: uuid::Uuid) -> Path {
    Path::from(format!("{PREFIX}/{id}"))
}

/// The store `HAKI_DOCUMENT_STORE` names: `s3://bucket[/prefix]` (endpoint, region and
/// credentials from `AWS_*`), otherwise a local directory, created if missing.
pub fn open(setting: &str) -> Result<Arc<dyn ObjectStore>, BoxError> {
    if let Some(rest) = setting.strip_prefix("s3://") {
        let store = AmazonS3Builder::from_env()
            .with_url(setting)
            .build()
            .map_err(|e| format!("HAKI_DOCUMENT_STORE: {e}"))?;
        // A prefix keeps deployments that share a bucket apart.
        return Ok(match rest.split_once('/').map(|(_, p)| p.trim_matches('/')) {
            Some(prefix) if !prefix.is_empty() => Arc::new(object_store::prefix::PrefixStore::new(store, prefix)),
            _ => Arc::new(store),
        });
    }
    let dir = setting.strip_prefix("file://").unwrap_or(setting);
    std::fs::create_dir_all(dir).map_err(|e| format!("HAKI_DOCUMENT_STORE: cannot create {dir}: {e}"))?;
    let dir = std::fs::canonicalize(dir)?;
    Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
}

/// The allowed types, decided from a file's first bytes: PDF, JPEG, PNG, HEIC, DOCX, ODT, plain
/// text (UTF-8 without control characters).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if let Some(kind) = infer::get(head) {
        return match kind.mime_type() {
            "application/pdf" => Some("application/pdf"),
            "image/jpeg" => Some("image/jpeg"),
            "image/png" => Some("image/png"),
            "image/heif" | "image/heic" => Some("image/heic"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            }
            "application/vnd.oasis.opendocument.text" => Some("application/vnd.oasis.opendocument.text"),
            _ => None,
        };
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cut in the middle of a character at the end of what was read: the rest is fine.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let plain = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    (plain && !text.is_empty()).then_some("text/plain")
}

/// An upload not done after this long is abandoned: its object may be swept.
const UPLOAD_DEADLINE_HOURS: i64 = 6;

/// Removes stored objects older than `older_than` that no document names and no upload under way
/// is writing (an upload whose row never committed, e.g. a crash in between); how many.
pub async fn sweep(state: &AppState, older_than: chrono::Duration) -> Result<usize, BoxError> {
    use crate::db::schema::document_uploads;
    let cutoff = chrono::Utc::now() - older_than;
    {
        let mut conn = state.pool.get().await?;
        diesel::delete(document_uploads::table.filter(
            document_uploads::started_at.lt(chrono::Utc::now() - chrono::Duration::hours(UPLOAD_DEADLINE_HOURS)),
        ))
        .execute(&mut conn)
        .await?;
    }
    let objects: Vec<object_store::ObjectMeta> = state
        .documents
        .list(Some(&Path::from(PREFIX)))
        .try_filter(|o| std::future::ready(o.last_modified < cutoff))
        .try_collect()
        .await?;
    let ids: Vec<uuid::Uuid> = objects
        .iter()
        .filter_map(|o| o.location.filename().and_then(|f| f.parse().ok()))
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut conn = state.pool.get().await?;
    let mut known: Vec<uuid::Uuid> = documents::table
        .filter(documents::id.eq_any(&ids))
        .select(documents::id)
        .load(&mut conn)
        .await?;
    known.extend(
        document_uploads::table
            .filter(document_uploads::id.eq_any(&ids))
            .select(document_uploads::id)
            .load::<uuid::Uuid>(&mut conn)
            .await?,
    );
    let mut removed = 0;
    for object in objects {
        let id: Option<uuid::Uuid> = object.location.filename().and_then(|f| f.parse().ok());
        if id.is_some_and(|id| !known.contains(&id)) {
            state.documents.delete(&object.location).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Some("image/jpeg"));
        assert_eq!(
            sniff("Statement of the witness, Kilifi — 3 May\n".as_bytes()),
            Some("text/plain")
        );
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0"), None, "an executable");
        assert_eq!(sniff(b"<html><script>"), None, "markup is not an accepted type");
        assert_eq!(sniff(b"binary\0zero"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&"é".as_bytes()[..1]), None);
    }
}
