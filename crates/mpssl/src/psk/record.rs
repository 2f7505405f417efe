//! TLS 1.2 AES-GCM record protection (RFC 5288 §3, RFC 5246 §6.2.3.3) on aws-lc-rs's AEAD.
//!
//! rustls's own `Tls12AeadAlgorithm` for GCM cannot be used here: its public `AeadKey` only
//! holds 32-byte keys, which AES-128 refuses. The record format is the one the ECDHE-GCM
//! suites use: an 8-byte explicit nonce (our sequence number) before the ciphertext, the
//! 4-byte implicit salt from the key block in front of it, and the additional data
//! `seq_num || type || version || plaintext length`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};

use super::PskSuite;
use crate::error::{Error, ProtocolError};

/// Explicit nonce length.
pub(crate) const EXPLICIT_LEN: usize = 8;
/// GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Implicit salt length.
pub(crate) const SALT_LEN: usize = 4;

/// One direction's key, salt and sequence number.
pub(crate) struct Protection {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
    seq: u64,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protection")
            .field("seq", &self.seq)
            .finish()
    }
}

impl Protection {
    /// Key length of the suite's AES.
    pub(crate) fn key_len(suite: PskSuite) -> usize {
        match suite {
            PskSuite::Aes128GcmSha256 => 16,
            PskSuite::Aes256GcmSha384 => 32,
        }
    }

    /// A direction keyed with `key` (of [`Protection::key_len`]) and `salt`.
    pub(crate) fn new(suite: PskSuite, key: &[u8], salt: &[u8]) -> Result<Self, Error> {
        let alg = match suite {
            PskSuite::Aes128GcmSha256 => &AES_128_GCM,
            PskSuite::Aes256GcmSha384 => &AES_256_GCM,
        };
        let key = UnboundKey::new(alg, key).map_err(|_| internal())?;
        let salt = <[u8; SALT_LEN]>::try_from(salt).map_err(|_| internal())?;
        Ok(Self {
            key: LessSafeKey::new(key),
            salt,
            seq: 0,
        })
    }

    fn next_seq(&mut self) -> Result<u64, Error> {
        let seq = self.seq;
        // A wrapped sequence number would reuse a nonce: refuse (2^64 records never happen).
        self.seq = seq.checked_add(1).ok_or_else(internal)?;
        Ok(seq)
    }

    /// Encrypt `plain` as a record body of content type `typ`.
    pub(crate) fn seal(&mut self, typ: u8, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let seq = self.next_seq()?;
        let explicit = seq.to_be_bytes();
        let len = u16::try_from(plain.len()).map_err(|_| internal())?;
        let aad = aad(seq, typ, len);
        let mut out = Vec::with_capacity(EXPLICIT_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&explicit);
        out.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(&self.salt, &explicit),
                Aad::from(aad),
                &mut out[EXPLICIT_LEN..],
            )
            .map_err(|_| internal())?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypt and authenticate a record body of content type `typ` in place; gives the
    /// plaintext's range in `body`.
    pub(crate) fn open(
        &mut self,
        typ: u8,
        body: &mut [u8],
    ) -> Result<std::ops::Range<usize>, Error> {
        if body.len() < EXPLICIT_LEN + TAG_LEN {
            return Err(Error::Protocol(ProtocolError::BadMac));
        }
        let seq = self.next_seq()?;
        let plain_len = body.len() - EXPLICIT_LEN - TAG_LEN;
        let len = u16::try_from(plain_len).map_err(|_| Error::Protocol(ProtocolError::BadMac))?;
        let (explicit, rest) = body.split_at_mut(EXPLICIT_LEN);
        let aad = aad(seq, typ, len);
        let plain = self
            .key
            .open_in_place(nonce(&self.salt, explicit), Aad::from(aad), rest)
            .map_err(|_| Error::Protocol(ProtocolError::BadMac))?;
        Ok(EXPLICIT_LEN..EXPLICIT_LEN + plain.len())
    }
}

fn aad(seq: u64, typ: u8, len: u16) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = typ;
    aad[9..11].copy_from_slice(&[3, 3]);
    aad[11..].copy_from_slice(&len.to_be_bytes());
    aad
}

fn nonce(salt: &[u8; SALT_LEN], explicit: &[u8]) -> Nonce {
    let mut n = [0u8; 12];
    n[..SALT_LEN].copy_from_slice(salt);
    // `explicit` is EXPLICIT_LEN bytes (split off above or built from a u64).
    for (dst, src) in n[SALT_LEN..].iter_mut().zip(explicit) {
        *dst = *src;
    }
    Nonce::assume_unique_for_key(n)
}

fn internal() -> Error {
    Error::Protocol(ProtocolError::Other(rustls::Error::General(
        "PSK record protection failed".to_owned(),
    )))
}
