//! `haki backup DIR` and `haki restore DIR`: the database (a `pg_dump` archive) and the document
//! store's objects, which are already encrypted. Never the keys: without `HAKI_DATA_KEY` (and
//! `HAKI_JWT_SECRET` for the sessions) a backup's identities and documents cannot be read, so the
//! keys are kept apart from the backups, in the secret store (docs/deploying.md).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use futures_util::TryStreamExt;
use object_store::{ObjectStore, PutPayload, path::Path as ObjectPath};

use crate::db::BoxError;

/// The database archive's name inside a backup directory.
pub const DATABASE_FILE: &str = "database.dump";
/// The document objects' folder inside a backup directory.
pub const DOCUMENTS_DIR: &str = "documents";

/// Writes `dir/database.dump` (custom format, without owners and grants, so it restores under
/// any role; `haki migrate` grants the service's role again) and a copy of every object of the
/// document store under `dir/documents/`. Returns how many objects were copied.
pub async fn backup(database_url: &str, store: Arc<dyn ObjectStore>, dir: &Path) -> Result<usize, BoxError> {
    // Readable by the operator only: the archive holds case files, password hashes and the audit
    // log.
    private_dir(dir)?;
    let archive = dir.join(DATABASE_FILE);
    let mut dump = pg_tool("pg_dump", database_url)?;
    dump.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
        .arg(&archive);
    run(dump)?;
    std::fs::set_permissions(&archive, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    // Objects are copied after the dump: a document committed in between has its object in the
    // copy (harmless); one whose row is in the dump has its object too, as files are written
    // before their rows commit and are removed only by the sweep of uncommitted uploads.
    private_dir(&dir.join(DOCUMENTS_DIR))?;
    let target = object_store::local::LocalFileSystem::new_with_prefix(ensure_dir(&dir.join(DOCUMENTS_DIR))?)?;
    copy_objects(store.as_ref(), &target).await
}

/// Restores a backup made by [`backup`] into an empty database and the configured document
/// store. Returns how many objects were copied.
pub async fn restore(database_url: &str, store: Arc<dyn ObjectStore>, dir: &Path) -> Result<usize, BoxError> {
    let archive = dir.join(DATABASE_FILE);
    if !archive.is_file() {
        return Err(format!("{} is not a backup: {DATABASE_FILE} is missing", dir.display()).into());
    }
    let mut restore = pg_tool("pg_restore", database_url)?;
    restore
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
        ])
        .arg(&archive);
    run(restore)?;
    let source = object_store::local::LocalFileSystem::new_with_prefix(ensure_dir(&dir.join(DOCUMENTS_DIR))?)?;
    copy_objects(&source, store.as_ref()).await
}

/// Creates `dir` (and its parents) if missing, and makes it the owner's alone (0700).
fn private_dir(dir: &Path) -> Result<(), BoxError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn ensure_dir(dir: &Path) -> Result<PathBuf, BoxError> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(std::fs::canonicalize(dir)?)
}

async fn copy_objects(from: &dyn ObjectStore, to: &dyn ObjectStore) -> Result<usize, BoxError> {
    let objects: Vec<_> = from.list(None).try_collect().await?;
    for meta in &objects {
        let bytes = from.get(&meta.location).await?.bytes().await?;
        to.put(&ObjectPath::from(meta.location.as_ref()), PutPayload::from(bytes))
            .await?;
    }
    Ok(objects.len())
}

/// `pg_dump`/`pg_restore` for `database_url`: from `PATH`, else the newest of
/// `/usr/lib/postgresql/*/bin`. The password goes in the environment, not on the command line
/// where other users of the machine could read it.
fn pg_tool(name: &str, database_url: &str) -> Result<Command, BoxError> {
    let mut url = url::Url::parse(database_url).map_err(|e| format!("DATABASE_URL: {e}"))?;
    if url.query_pairs().any(|(k, _)| k == "password") {
        return Err(
            "DATABASE_URL: give the password before the host (postgres://user:password@host/db), not as ?password="
                .into(),
        );
    }
    let password = url.password().map(percent_decode);
    url.set_password(None)
        .map_err(|()| "DATABASE_URL: a postgres://user:password@host/db URL is expected")?;
    let mut command = Command::new(find_tool(name));
    command.arg("--dbname").arg(url.as_str());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    Ok(command)
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("p={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn find_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if let Some(found) = on_path {
        return found;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let tool = entry.path().join("bin").join(name);
            tool.is_file().then_some((version, tool))
        })
        .collect();
    versions.sort();
    versions.pop().map_or_else(|| PathBuf::from(name), |(_, tool)| tool)
}

fn run(mut command: Command) -> Result<(), BoxError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {program}: {e} (install the PostgreSQL client tools)"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim()).into())
    }
}
