//! The identity vault's cipher: AES-256-GCM, a fresh random nonce per write, the survivor id as
//! associated data (a ciphertext moved to another survivor does not decrypt), and key ids so that
//! rotated-out keys still decrypt until every row is re-encrypted.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Generate, Payload},
};
use sha2::{Digest, Sha256};

use crate::ids::SurvivorId;

pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no configured key has id {0}")]
    UnknownKey(String),
    #[error("the ciphertext does not decrypt (tampered, or bound to another record)")]
    Corrupt,
}

pub struct Vault {
    current: (String, Aes256Gcm),
    previous: Vec<(String, Aes256Gcm)>,
}

fn key_id(key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

fn cipher(key: &[u8; 32]) -> (String, Aes256Gcm) {
    (key_id(key), Aes256Gcm::new(key.into()))
}

impl Vault {
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Vault {
            current: cipher(current),
            previous: previous.iter().map(cipher).collect(),
        }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.0
    }

    pub fn seal(&self, survivor: SurvivorId, plaintext: &[u8]) -> Result<Sealed, VaultError> {
        self.seal_bound(survivor.0.as_bytes(), plaintext)
    }

    pub fn open(&self, survivor: SurvivorId, sealed: &Sealed) -> Result<Vec<u8>, VaultError> {
        self.open_bound(survivor.0.as_bytes(), sealed)
    }

    /// Encrypts `plaintext` bound to `record` (associated data: it does not decrypt for another).
    pub fn seal_bound(&self, record: &[u8], plaintext: &[u8]) -> Result<Sealed, VaultError> {
        let nonce = Nonce::generate();
        let ciphertext = self
            .current
            .1
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: record,
                },
            )
            .map_err(|_| VaultError::Corrupt)?;
        Ok(Sealed {
            key_id: self.current.0.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Seals again under the current key what `sealed` holds (after a key rotation).
    pub fn reseal_bound(&self, record: &[u8], sealed: Sealed) -> Result<Sealed, VaultError> {
        let plain = self.open_bound(record, &sealed)?;
        self.seal_bound(record, &plain)
    }

    pub fn open_bound(&self, record: &[u8], sealed: &Sealed) -> Result<Vec<u8>, VaultError> {
        let cipher = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|(id, _)| *id == sealed.key_id)
            .map(|(_, c)| c)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        let nonce = Nonce::try_from(sealed.nonce.as_slice()).map_err(|_| VaultError::Corrupt)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: record,
                },
            )
            .map_err(|_| VaultError::Corrupt)
    }
}

/// Where a table keeps values sealed by the vault: its id column, the three columns of a
/// [`Sealed`], and the prefix of the binding (associated data) each value is sealed under (the
/// prefix, then the id's bytes).
pub struct SealedColumns {
    pub table: &'static str,
    pub id: &'static str,
    pub key_id: &'static str,
    pub nonce: &'static str,
    pub ciphertext: &'static str,
    pub binding_prefix: &'static [u8],
}

impl SealedColumns {
    /// The binding of the value of the row `id`.
    pub fn binding(&self, id: uuid::Uuid) -> Vec<u8> {
        [self.binding_prefix, id.as_bytes()].concat()
    }
}

/// Survivors' identifying details.
pub const IDENTITIES: SealedColumns = SealedColumns {
    table: "survivor_identities",
    id: "survivor_id",
    key_id: "key_id",
    nonce: "nonce",
    ciphertext: "ciphertext",
    binding_prefix: b"",
};

/// Re-seals under the current key every value of `at` still under an older one (after a
/// rotation of `HAKI_DATA_KEY`; `haki reencrypt-identities`), the rows locked until the caller's
/// transaction ends, so a concurrent write waits instead of being overwritten. Returns how many.
pub async fn reseal_stale(
    conn: &mut diesel_async::AsyncPgConnection,
    vault: &Vault,
    at: &SealedColumns,
) -> Result<usize, crate::db::BoxError> {
    use diesel::sql_types::{Bytea, Text, Uuid};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = Text)]
        key_id: String,
        #[diesel(sql_type = Bytea)]
        nonce: Vec<u8>,
        #[diesel(sql_type = Bytea)]
        ciphertext: Vec<u8>,
    }
    // The identifiers are this crate's constants, never input.
    let SealedColumns {
        table,
        id,
        key_id,
        nonce,
        ciphertext,
        ..
    } = at;
    let stale: Vec<Row> = diesel::sql_query(format!(
        "SELECT {id} AS id, {key_id} AS key_id, {nonce} AS nonce, {ciphertext} AS ciphertext
         FROM {table} WHERE {key_id} <> $1 FOR UPDATE"
    ))
    .bind::<Text, _>(vault.current_key_id())
    .load(conn)
    .await?;
    for row in &stale {
        let fresh = vault.reseal_bound(
            &at.binding(row.id),
            Sealed {
                key_id: row.key_id.clone(),
                nonce: row.nonce.clone(),
                ciphertext: row.ciphertext.clone(),
            },
        )?;
        diesel::sql_query(format!(
            "UPDATE {table} SET {key_id} = $1, {nonce} = $2, {ciphertext} = $3 WHERE {id} = $4"
        ))
        .bind::<Text, _>(&fresh.key_id)
        .bind::<Bytea, _>(&fresh.nonce)
        .bind::<Bytea, _>(&fresh.ciphertext)
        .bind::<Uuid, _>(row.id)
        .execute(conn)
        .await?;
    }
    Ok(stale.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_binding_and_rotation() {
        let old = Vault::new(&[7; 32], &[]);
        let a = SurvivorId::new();
        let sealed = old.seal(a, b"Jane Doe").unwrap();
        assert_eq!(old.open(a, &sealed).unwrap(), b"Jane Doe");
        assert!(!sealed.ciphertext.windows(8).any(|w| w == b"Jane Doe"));
        // Bound to its survivor.
        assert!(matches!(old.open(SurvivorId::new(), &sealed), Err(VaultError::Corrupt)));
        // After rotation the old key still opens old rows; without it they are unreadable.
        let rotated = Vault::new(&[9; 32], &[[7; 32]]);
        assert_eq!(rotated.open(a, &sealed).unwrap(), b"Jane Doe");
        assert_ne!(rotated.seal(a, b"x").unwrap().key_id, sealed.key_id);
        assert!(matches!(
            Vault::new(&[9; 32], &[]).open(a, &sealed),
            Err(VaultError::UnknownKey(_))
        ));
    }
}
