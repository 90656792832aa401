//! Argon2id password hashing, run off the async workers (it is deliberately slow).

use std::sync::LazyLock;

use actix_web::web;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: u64 = 12;
pub const MAX_PASSWORD_LEN: u64 = 256;

pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password.as_bytes())?.to_string())
}

pub fn verify_blocking(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

pub async fn hash(password: String) -> ApiResult<String> {
    web::block(move || hash_blocking(&password))
        .await?
        .map_err(ApiError::internal)
}

pub async fn verify(password: String, hash: String) -> ApiResult<bool> {
    Ok(web::block(move || verify_blocking(&password, &hash)).await?)
}

/// A hash no password matches, verified against when the email is unknown so that unknown
/// accounts and wrong passwords take the same time.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("decoy password that matches nothing").unwrap_or_default());

pub async fn verify_decoy(password: String) -> ApiResult<()> {
    web::block(move || {
        verify_blocking(&password, &DECOY_HASH);
    })
    .await?;
    Ok(())
}
