//! Argon2id password hashing, run off the async workers (it is deliberately slow).

use std::sync::LazyLock;

use actix_web::web;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_LEN: u64 = 12;
pub const MAX_PASSWORD_LEN: u64 = 256;

/// Passwords long enough to pass the length rule that guessing lists still try first.
const COMMON: &[&str] = &[
    "passwordpassword",
    "password1234",
    "password12345",
    "password123456",
    "passw0rd1234",
    "p@ssw0rd1234",
    "iloveyou1234",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiopasdf",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "abcdefghijkl",
    "abcd12345678",
    "abc123abc123",
    "welcome12345",
    "welcome123456",
    "letmein12345",
    "administrator",
    "administrator1",
    "changeme1234",
    "football1234",
    "baseball1234",
    "superman1234",
    "trustno1trustno1",
    "monkey123456",
    "dragon123456",
    "sunshine1234",
    "princess1234",
    "mombasa12345",
    "kenya1234567",
    "nairobi12345",
    "haki12345678",
    "hakipassword",
    "haki password",
];

/// Refuses a password a guessing list would try early: one repeated character, a run of
/// consecutive keys or digits, or one of the common long passwords.
pub fn not_common(password: &str) -> Result<(), validator::ValidationError> {
    // Too short is the length rule's to say; long enough only with spaces around it is not.
    if (password.chars().count() as u64) < MIN_PASSWORD_LEN {
        return Ok(());
    }
    let p = password.trim().to_lowercase();
    let chars: Vec<char> = p.chars().collect();
    if (chars.len() as u64) < MIN_PASSWORD_LEN {
        return Err(validator::ValidationError::new("common_password")
            .with_message("must have at least 12 characters besides spaces around them".into()));
    }
    let repeated = chars.windows(2).all(|w| w[0] == w[1]);
    // Runs along the keyboard or the alphabet, and counting digits (123456789012…).
    let runs = [
        "qwertyuiopasdfghjklzxcvbnm",
        "abcdefghijklmnopqrstuvwxyz",
        "zyxwvutsrqponmlkjihgfedcba",
    ];
    let sequence = runs.iter().any(|run| run.contains(p.as_str()))
        || is_cycle_of(&p, "1234567890")
        || is_cycle_of(&p, "0987654321");
    if repeated || sequence || COMMON.contains(&p.as_str()) {
        return Err(validator::ValidationError::new("common_password")
            .with_message("is too easy to guess: choose a longer phrase of unrelated words".into()));
    }
    Ok(())
}

/// Whether `p` is `pattern` repeated from its start (123456789012…).
fn is_cycle_of(p: &str, pattern: &str) -> bool {
    p.chars().zip(pattern.chars().cycle()).all(|(a, b)| a == b)
}

pub fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password.as_bytes())?.to_string())
}

pub fn verify_blocking(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that compute password hashes: one per core, and the only threads that do. Each
/// hash takes Argon2's 19 MiB and a core for its whole run, so more at once would not finish
/// sooner, only hold more memory; and since an allocator keeps what a thread freed for that
/// thread's next use, hashes spread over the blocking pool's threads each left their 19 MiB
/// behind: a burst of 16 sign-ins on 2 cores kept 1.7 GB resident (bench/REPORT.md of 3172c46),
/// still 630 MB with one hash per core at a time. On their own threads the same few blocks
/// serve every hash (docs/performance.md, "Memory").
static HASHERS: LazyLock<Option<std::sync::mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let mut started = 0;
    for n in 0..cores {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("haki-password-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(err) => log::error!("could not start a password hashing thread: {err}"),
        }
    }
    (started > 0).then_some(jobs)
});

/// Runs a password hash on one of [`HASHERS`] (on the blocking pool if none could start).
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let Some(hashers) = HASHERS.as_ref() else {
        return Ok(web::block(work).await?);
    };
    let (answer, answered) = tokio::sync::oneshot::channel();
    hashers
        .send(Box::new(move || {
            let _ = answer.send(work());
        }))
        .map_err(|_| ApiError::internal("the password hashing threads stopped"))?;
    answered
        .await
        .map_err(|_| ApiError::internal("a password hash did not complete"))
}

pub async fn hash(password: String) -> ApiResult<String> {
    hashing(move || hash_blocking(&password))
        .await?
        .map_err(ApiError::internal)
}

pub async fn verify(password: String, hash: String) -> ApiResult<bool> {
    hashing(move || verify_blocking(&password, &hash)).await
}

/// A hash no password matches, verified against when the email is unknown so that unknown
/// accounts and wrong passwords take the same time.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("decoy password that matches nothing").unwrap_or_default());

pub async fn verify_decoy(password: String) -> ApiResult<()> {
    hashing(move || {
        verify_blocking(&password, &DECOY_HASH);
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::not_common;

    #[test]
    fn guessable_passwords_are_refused() {
        for p in [
            "passwordpassword",
            "Password1234",
            "123456789012",
            "aaaaaaaaaaaa",
            "qwertyuiopasdf",
            "abcdefghijkl",
        ] {
            assert!(not_common(p).is_err(), "{p}");
        }
        for p in [
            "a long passphrase here",
            "correct horse battery staple",
            "haki demo password",
        ] {
            assert!(not_common(p).is_ok(), "{p}");
        }
    }
}
