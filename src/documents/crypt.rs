//! Streaming encryption of a document: AES-256-GCM over 64 KiB chunks (the STREAM construction:
//! each chunk's nonce is a random prefix, the chunk's number and a last-chunk flag), so that a file
//! is encrypted and decrypted a chunk at a time, never held whole, and chunks cannot be dropped,
//! reordered or cut off without detection. Every chunk is bound to its document's id.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// Ciphertext bytes per full chunk.
pub const SEALED_CHUNK: usize = CHUNK + TAG;
const MAGIC: &[u8; 4] = b"HKD1";
const PREFIX: usize = 7;
/// Bytes before the first chunk: the format's mark and the nonce prefix.
pub const HEADER: usize = MAGIC.len() + PREFIX;

#[derive(Debug, thiserror::Error)]
#[error("the stored document does not decrypt: tampered, truncated or not this document's")]
pub struct Corrupt;

fn nonce(prefix: &[u8; PREFIX], counter: u32, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut bytes = [0u8; 12];
    bytes[..PREFIX].copy_from_slice(prefix);
    bytes[PREFIX..11].copy_from_slice(&counter.to_be_bytes());
    bytes[11] = u8::from(last);
    Nonce::from(bytes)
}

/// Encrypts a document chunk by chunk.
pub struct Sealer {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    counter: u32,
    aad: Vec<u8>,
}

impl Sealer {
    /// A sealer under a fresh data `key`; also returns the header to store first.
    pub fn new(key: &[u8; 32], document: &[u8]) -> (Self, Vec<u8>) {
        let prefix: [u8; PREFIX] = rand::random();
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        (
            Sealer {
                cipher: Aes256Gcm::new(key.into()),
                prefix,
                counter: 0,
                aad: document.to_vec(),
            },
            header,
        )
    }

    /// Seals the next chunk (`CHUNK` bytes, or fewer for the last one).
    pub fn seal(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, Corrupt> {
        let n = nonce(&self.prefix, self.counter, last);
        self.counter = self.counter.checked_add(1).ok_or(Corrupt)?;
        self.cipher
            .encrypt(
                &n,
                Payload {
                    msg: chunk,
                    aad: &self.aad,
                },
            )
            .map_err(|_| Corrupt)
    }
}

/// Decrypts a stored document chunk by chunk, knowing from its recorded size which chunk is last.
pub struct Opener {
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    counter: u32,
    chunks: u64,
    aad: Vec<u8>,
}

impl Opener {
    /// An opener for a document of `size` plaintext bytes whose stored form starts with `header`.
    pub fn new(key: &[u8; 32], document: &[u8], header: &[u8], size: u64) -> Result<Self, Corrupt> {
        if header.len() != HEADER || &header[..MAGIC.len()] != MAGIC {
            return Err(Corrupt);
        }
        let prefix: [u8; PREFIX] = header[MAGIC.len()..].try_into().map_err(|_| Corrupt)?;
        Ok(Opener {
            cipher: Aes256Gcm::new(key.into()),
            prefix,
            counter: 0,
            chunks: size.div_ceil(CHUNK as u64).max(1),
            aad: document.to_vec(),
        })
    }

    /// Stored bytes of the whole document (header and chunks).
    pub fn stored_size(size: u64) -> u64 {
        let chunks = size.div_ceil(CHUNK as u64).max(1);
        HEADER as u64 + size + chunks * TAG as u64
    }

    /// Opens the next sealed chunk.
    pub fn open(&mut self, sealed: &[u8]) -> Result<Vec<u8>, Corrupt> {
        if u64::from(self.counter) >= self.chunks {
            return Err(Corrupt);
        }
        let last = u64::from(self.counter) + 1 == self.chunks;
        let n = nonce(&self.prefix, self.counter, last);
        self.counter += 1;
        self.cipher
            .decrypt(
                &n,
                Payload {
                    msg: sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| Corrupt)
    }

    /// How many chunks were opened.
    pub fn opened(&self) -> u64 {
        u64::from(self.counter)
    }

    /// Whether every chunk was opened.
    pub fn finished(&self) -> bool {
        u64::from(self.counter) == self.chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(key: &[u8; 32], doc: &[u8], plain: &[u8]) -> Vec<u8> {
        let (mut sealer, mut out) = Sealer::new(key, doc);
        let chunks: Vec<&[u8]> = if plain.is_empty() {
            vec![&[][..]]
        } else {
            plain.chunks(CHUNK).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            out.extend(sealer.seal(c, i + 1 == chunks.len()).unwrap());
        }
        out
    }

    fn open_all(key: &[u8; 32], doc: &[u8], stored: &[u8], size: u64) -> Result<Vec<u8>, Corrupt> {
        let mut opener = Opener::new(key, doc, &stored[..HEADER], size)?;
        let mut out = Vec::new();
        for c in stored[HEADER..].chunks(SEALED_CHUNK) {
            out.extend(opener.open(c)?);
        }
        if !opener.finished() {
            return Err(Corrupt);
        }
        Ok(out)
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let key = [3u8; 32];
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let stored = seal_all(&key, b"doc-1", &plain);
            assert_eq!(stored.len() as u64, Opener::stored_size(size as u64));
            assert_eq!(open_all(&key, b"doc-1", &stored, size as u64).unwrap(), plain);
            // Another document's id, another key, a flipped bit: refused.
            assert!(open_all(&key, b"doc-2", &stored, size as u64).is_err());
            assert!(open_all(&[4u8; 32], b"doc-1", &stored, size as u64).is_err());
            let mut flipped = stored.clone();
            let at = flipped.len() - 1;
            flipped[at] ^= 1;
            assert!(open_all(&key, b"doc-1", &flipped, size as u64).is_err());
        }
        // Cut off after a whole chunk: the first chunk was not sealed as the last one.
        let plain = vec![7u8; 2 * CHUNK];
        let stored = seal_all(&key, b"d", &plain);
        let cut = &stored[..HEADER + SEALED_CHUNK];
        assert!(open_all(&key, b"d", cut, CHUNK as u64).is_err());
    }
}
