//! TLS 1.2 pre-shared-key suites (RFC 4279 plain PSK with the RFC 5487 AES-GCM suites), as
//! MicroPython's Mbed TLS build offers them. rustls has no external PSK, so this module is a
//! small PSK-only TLS 1.2 client and server of its own, on the crypto provider's primitives
//! (rustls's TLS 1.2 PRF and hash, aws-lc-rs's AES-GCM, the provider's random source).
//!
//! Strictly scoped: one full handshake per connection (`ClientHello`, `ServerHello`, optional
//! `ServerKeyExchange` with an identity hint, `ServerHelloDone`, `ClientKeyExchange` with the
//! identity, `ChangeCipherSpec`, `Finished` both ways), extended master secret (RFC 7627) when
//! both ends offer it, the empty `renegotiation_info`/SCSV of RFC 5746 and nothing else: no
//! renegotiation (refused with a `no_renegotiation` warning), no resumption (no session id,
//! no tickets), no compression, no certificates. [`crate::Session`] drives a
//! `PskConnection` exactly as it drives rustls, so every front end gets it unchanged.

use std::fmt;
use std::sync::Arc;

mod conn;
pub(crate) mod keys;
pub(crate) mod messages;
pub(crate) mod record;
#[cfg(test)]
mod tests;

pub(crate) use conn::PskConnection;

/// Longest key accepted (Mbed TLS's `MBEDTLS_PSK_MAX_LEN`, 48 bytes).
pub const MAX_KEY_LEN: usize = 48;
/// Longest identity accepted (the reference's `MBEDTLS_SSL_OUT_CONTENT_LEN`, 4096 bytes).
pub const MAX_IDENTITY_LEN: usize = 4096;

/// A PSK cipher suite mpssl implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PskSuite {
    /// `TLS_PSK_WITH_AES_128_GCM_SHA256` (0x00A8).
    Aes128GcmSha256,
    /// `TLS_PSK_WITH_AES_256_GCM_SHA384` (0x00A9).
    Aes256GcmSha384,
}

impl PskSuite {
    /// Every PSK suite, in default preference order (as the reference lists them).
    pub const ALL: [Self; 2] = [Self::Aes256GcmSha384, Self::Aes128GcmSha256];

    /// The IANA code point.
    pub fn id(self) -> u16 {
        match self {
            Self::Aes128GcmSha256 => 0x00a8,
            Self::Aes256GcmSha384 => 0x00a9,
        }
    }

    /// The suite with code point `id`.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The reference's (dashed) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128GcmSha256 => "TLS-PSK-WITH-AES-128-GCM-SHA256",
            Self::Aes256GcmSha384 => "TLS-PSK-WITH-AES-256-GCM-SHA384",
        }
    }

    /// The suite named `name`, dashed or IANA (underscore) form.
    pub fn from_name(name: &str) -> Option<Self> {
        let dashed = name.replace('_', "-");
        Self::ALL.into_iter().find(|s| s.name() == dashed)
    }

    /// The bulk cipher's key size in bits.
    pub fn bits(self) -> u32 {
        match self {
            Self::Aes128GcmSha256 => 128,
            Self::Aes256GcmSha384 => 256,
        }
    }
}

/// The server's key store: MicroPython's `server_psk_keys` (any object with
/// `.get(identity)`). Called once per handshake with the identity the client sent.
pub trait PskKeyLookup: Send + Sync + fmt::Debug {
    /// The key for `identity`, or `None` to reject the handshake (`unknown_psk_identity`).
    /// A key that is empty or longer than [`MAX_KEY_LEN`] rejects it too.
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>>;
}

/// What one end of a PSK connection knows.
#[derive(Clone)]
pub(crate) enum PskRole {
    /// A client presents `identity` and uses `key`.
    Client { identity: Vec<u8>, key: Vec<u8> },
    /// A server looks the client's identity up; `hint` goes in a ServerKeyExchange when set.
    Server {
        lookup: Arc<dyn PskKeyLookup>,
        hint: Option<Vec<u8>>,
    },
}

impl fmt::Debug for PskRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print keys.
        match self {
            Self::Client { identity, .. } => f
                .debug_struct("Client")
                .field("identity", identity)
                .finish_non_exhaustive(),
            Self::Server { lookup, hint } => f
                .debug_struct("Server")
                .field("lookup", lookup)
                .field("hint", hint)
                .finish(),
        }
    }
}

/// A PSK session's configuration, built from the context.
#[derive(Clone)]
pub(crate) struct PskConfig {
    pub(crate) role: PskRole,
    /// The suites offered (client) or accepted (server), in preference order; not empty.
    pub(crate) suites: Vec<PskSuite>,
    pub(crate) random: &'static dyn rustls::crypto::SecureRandom,
}

impl fmt::Debug for PskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskConfig")
            .field("role", &self.role)
            .field("suites", &self.suites)
            .finish_non_exhaustive()
    }
}
