//! The TLS 1.2 key schedule for the PSK suites (RFC 5246 §5, §6.3, §7.4.9; RFC 4279 §2;
//! RFC 7627 §4), on the provider's PRF and hash.

use rustls::crypto::aws_lc_rs::cipher_suite as cs;
use rustls::crypto::hash::Hash;
use rustls::crypto::tls12::Prf;
use rustls::SupportedCipherSuite;

use super::PskSuite;
use crate::error::{Error, ProtocolError};

/// Length of the master secret.
pub(crate) const MASTER_LEN: usize = 48;
/// Length of `verify_data` in Finished.
pub(crate) const VERIFY_LEN: usize = 12;

/// The PRF and hash of a suite, borrowed from the provider's ECDHE suite with the same hash.
#[derive(Clone, Copy)]
pub(crate) struct Schedule {
    prf: &'static dyn Prf,
    hash: &'static dyn Hash,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schedule")
    }
}

impl Schedule {
    /// The PRF (P_SHA256 or P_SHA384) and transcript hash of `suite`.
    pub(crate) fn for_suite(suite: PskSuite) -> Result<Self, Error> {
        // The aws-lc-rs provider's TLS 1.2 GCM suites use the PRF of their hash, as the PSK
        // suites of RFC 5487 do: SHA-256 for AES-128-GCM, SHA-384 for AES-256-GCM.
        let donor = match suite {
            PskSuite::Aes128GcmSha256 => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            PskSuite::Aes256GcmSha384 => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        };
        match donor {
            SupportedCipherSuite::Tls12(s) => Ok(Self {
                prf: s.prf_provider,
                hash: s.common.hash_provider,
            }),
            SupportedCipherSuite::Tls13(_) => Err(internal("no TLS 1.2 PRF in the provider")),
        }
    }

    /// `PRF(secret, label, seed)` into `out`.
    pub(crate) fn prf(&self, out: &mut [u8], secret: &[u8], label: &[u8], seed: &[u8]) {
        self.prf.for_secret(out, secret, label, seed);
    }

    /// The hash of `data` (the handshake transcript).
    pub(crate) fn hash(&self, data: &[u8]) -> Vec<u8> {
        self.hash.hash(data).as_ref().to_vec()
    }

    /// The master secret: RFC 7627's `extended master secret` over the session hash when
    /// `ems`, else RFC 5246's `master secret` over the two randoms.
    pub(crate) fn master_secret(
        &self,
        premaster: &[u8],
        ems_transcript: Option<&[u8]>,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
    ) -> [u8; MASTER_LEN] {
        let mut out = [0u8; MASTER_LEN];
        match ems_transcript {
            Some(transcript) => {
                let session_hash = self.hash(transcript);
                self.prf(
                    &mut out,
                    premaster,
                    b"extended master secret",
                    &session_hash,
                );
            }
            None => {
                let seed = [client_random.as_slice(), server_random.as_slice()].concat();
                self.prf(&mut out, premaster, b"master secret", &seed);
            }
        }
        out
    }

    /// The key block (RFC 5246 §6.3): `len` bytes of `PRF(master, "key expansion",
    /// server_random + client_random)`.
    pub(crate) fn key_block(
        &self,
        master: &[u8; MASTER_LEN],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        len: usize,
    ) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let seed = [server_random.as_slice(), client_random.as_slice()].concat();
        self.prf(&mut out, master, b"key expansion", &seed);
        out
    }

    /// Finished `verify_data` for the transcript so far (RFC 5246 §7.4.9).
    pub(crate) fn verify_data(
        &self,
        master: &[u8; MASTER_LEN],
        client: bool,
        transcript: &[u8],
    ) -> [u8; VERIFY_LEN] {
        let label: &[u8] = if client {
            b"client finished"
        } else {
            b"server finished"
        };
        let mut out = [0u8; VERIFY_LEN];
        self.prf(&mut out, master, label, &self.hash(transcript));
        out
    }
}

/// The premaster secret of plain PSK (RFC 4279 §2): `uint16 N, N zero bytes, uint16 N, psk`.
///
/// `psk` is at most [`super::MAX_KEY_LEN`] bytes (checked where keys come in), so `N` fits.
pub(crate) fn premaster(psk: &[u8]) -> Vec<u8> {
    let n = u16::try_from(psk.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(4 + 2 * psk.len());
    out.extend_from_slice(&n.to_be_bytes());
    out.resize(2 + psk.len(), 0);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(psk);
    out
}

fn internal(why: &'static str) -> Error {
    Error::Protocol(ProtocolError::Other(rustls::Error::General(why.to_owned())))
}
