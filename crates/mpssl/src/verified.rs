//! A context's memory of the certificate chains it has verified.
//!
//! A client reconnecting to a server, or a server seeing a client again, is shown the same
//! chain for the same name every time, and checking it again costs a signature verification
//! per certificate (in the engine benchmark, the client's chain check is about a quarter of a
//! whole TLS 1.3 handshake's CPU, both ends included). Chromium's certificate verifier caches
//! results for the same reason.
//!
//! Only complete successes are remembered: `CERT_REQUIRED`, no verify callback (a callback sees
//! every chain), no reason of any kind found. The key is the exact bytes of every presented
//! certificate, the name checked and the direction; a hit still checks the time against the
//! validity of every certificate of the verified path, trust anchor included. The handshake
//! signature, which proves that the peer holds the certificate's key, is verified on every
//! handshake whatever this cache holds. Changing a context builds new configurations, with
//! empty caches.

use std::collections::HashMap;
use std::sync::Mutex;

use rustls_pki_types::CertificateDer;

use crate::verify::names::PeerName;

/// Most chains remembered per configuration.
const CAPACITY: usize = 16;

/// Chains verified by one configuration's checker.
#[derive(Debug, Default)]
pub(crate) struct VerifiedChains {
    entries: Mutex<HashMap<Vec<u8>, Window>>,
}

/// The seconds since the epoch (both ends included) when every certificate of a verified path
/// is within its dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) from: i64,
    pub(crate) until: i64,
}

impl Window {
    /// The window of a path (DER certificates); `None` if one of them cannot be parsed.
    pub(crate) fn of_path(path: &[Vec<u8>]) -> Option<Self> {
        let mut window = Self {
            from: i64::MIN,
            until: i64::MAX,
        };
        for der in path {
            let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
            window.from = window.from.max(cert.validity().not_before.timestamp());
            window.until = window.until.min(cert.validity().not_after.timestamp());
        }
        Some(window)
    }

    fn contains(self, now: i64) -> bool {
        self.from <= now && now <= self.until
    }
}

/// What a verification was asked: the key of a remembered success.
pub(crate) fn key(
    direction: u8,
    name: &PeerName,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Vec<u8> {
    // The kind of name is part of the question: no name, the empty name and a name.
    let (kind, name) = match name {
        PeerName::Absent => (0u8, String::new()),
        PeerName::Empty => (1u8, String::new()),
        PeerName::Given(name) => (2u8, name.to_str().into_owned()),
    };
    let fields = || {
        [name.as_bytes(), leaf.as_ref()]
            .into_iter()
            .chain(intermediates.iter().map(|c| c.as_ref()))
    };
    let mut key = Vec::with_capacity(1 + fields().map(|f| 8 + f.len()).sum::<usize>());
    key.push(direction);
    key.push(kind);
    // Length prefixes keep the fields apart: no two different questions share a key.
    for field in fields() {
        key.extend_from_slice(&(field.len() as u64).to_be_bytes());
        key.extend_from_slice(field);
    }
    key
}

impl VerifiedChains {
    /// True when `key` was verified and `now` is within the path's dates.
    pub(crate) fn holds(&self, key: &[u8], now: i64) -> bool {
        match self.entries.lock() {
            Ok(entries) => entries.get(key).is_some_and(|w| w.contains(now)),
            Err(_) => false,
        }
    }

    /// Remember a success; when full, the entry that expires first makes room (any choice
    /// would do: a miss only costs a full verification).
    pub(crate) fn remember(&self, key: Vec<u8>, window: Window) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            let evict = entries
                .iter()
                .min_by_key(|(_, w)| w.until)
                .map(|(k, _)| k.clone());
            if let Some(k) = evict {
                entries.remove(&k);
            }
        }
        entries.insert(key, window);
    }

    /// Number of chains remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::ServerName;

    fn cert(bytes: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from(bytes.to_vec())
    }

    #[test]
    fn keys_keep_fields_apart() {
        let given = |n: &str| PeerName::Given(ServerName::try_from(n.to_owned()).unwrap());
        let name = given("a.test");
        let k = key(0, &name, &cert(b"leaf"), &[cert(b"int")]);
        assert_ne!(k, key(1, &name, &cert(b"leaf"), &[cert(b"int")]));
        assert_ne!(k, key(0, &given("b.test"), &cert(b"leaf"), &[cert(b"int")]));
        assert_ne!(
            k,
            key(0, &PeerName::Absent, &cert(b"leaf"), &[cert(b"int")])
        );
        assert_ne!(k, key(0, &name, &cert(b"lea"), &[cert(b"fint")]));
        assert_ne!(k, key(0, &name, &cert(b"leaf"), &[]));
        assert_eq!(k, key(0, &name, &cert(b"leaf"), &[cert(b"int")]));
        // No name, the empty name and a real 0.0.0.0 are three questions.
        let absent = key(0, &PeerName::Absent, &cert(b"leaf"), &[]);
        let empty = key(0, &PeerName::Empty, &cert(b"leaf"), &[]);
        let zeros = key(0, &given("0.0.0.0"), &cert(b"leaf"), &[]);
        assert_ne!(absent, empty);
        assert_ne!(absent, zeros);
        assert_ne!(empty, zeros);
    }

    #[test]
    fn a_hit_needs_the_time_inside_the_window() {
        let chains = VerifiedChains::default();
        chains.remember(
            b"k".to_vec(),
            Window {
                from: 100,
                until: 200,
            },
        );
        assert!(chains.holds(b"k", 100));
        assert!(chains.holds(b"k", 200));
        assert!(!chains.holds(b"k", 99));
        assert!(!chains.holds(b"k", 201));
        assert!(!chains.holds(b"other", 150));
    }

    #[test]
    fn capacity_is_bounded() {
        let chains = VerifiedChains::default();
        for i in 0..(3 * CAPACITY as i64) {
            chains.remember(i.to_be_bytes().to_vec(), Window { from: 0, until: i });
        }
        assert_eq!(chains.len(), CAPACITY);
        // The entries that expire first made room.
        let last = 3 * CAPACITY as i64 - 1;
        assert!(chains.holds(&last.to_be_bytes(), 0));
        assert!(!chains.holds(&0i64.to_be_bytes(), 0));
    }
}
