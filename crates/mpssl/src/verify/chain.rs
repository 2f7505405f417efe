//! Chain checks: the trust store, the verify callback, and the [`Checker`] that finds every
//! reason a peer's chain fails (dates, trust, key usage, key strength, host name).
//!
//! Chain building is rustls-webpki's; dates, the trust anchor itself, key strength and the
//! extendedKeyUsage of a pinned (trusted self-signed) leaf are checked here, separately, so
//! that several reasons can be reported at once as the reference does.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::DigitallySignedStruct;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::certificate::X509Certificate;

use super::mode::{VerifyFlags, VerifyMode};
use super::names::{self, PeerName};
use crate::error::{CallbackAbort, CertError, Error, Marker};
use crate::verified::{self, VerifiedChains, Window};

/// MicroPython's `verify_callback`: called for each certificate of the peer's chain, from the
/// top (the trusted root, when found) down to the leaf at depth 0, in `CERT_OPTIONAL` and
/// `CERT_REQUIRED` modes. An error aborts the handshake, even under `CERT_OPTIONAL`.
pub trait VerifyCallback: Send + Sync + fmt::Debug {
    /// Inspect one certificate (DER) at `depth`.
    fn verify(&self, cert: &[u8], depth: usize) -> Result<(), CallbackAbort>;
}

/// The trusted CA certificates of a context.
#[derive(Debug, Default, Clone)]
pub struct TrustStore {
    ders: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustStore {
    /// Add certificates to the store; one already in it is skipped (urllib3 and requests load
    /// the same CA bundle again for every connection).
    pub fn add(&mut self, certs: Vec<CertificateDer<'static>>) -> Result<(), Error> {
        for cert in certs {
            if self.contains(&cert) {
                continue;
            }
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| Error::Cert(CertError::NotTrustAnchor(e.to_string())))?
                .to_owned();
            self.anchors.push(anchor);
            self.ders.push(cert);
        }
        Ok(())
    }

    /// Add the certificates that can be trust anchors and skip the others (a system store
    /// may hold some that rustls-webpki refuses); returns how many were added.
    pub fn add_parsable(&mut self, certs: Vec<CertificateDer<'static>>) -> usize {
        let mut added = 0;
        for cert in certs {
            if self.contains(&cert) {
                continue;
            }
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) {
                self.anchors.push(anchor.to_owned());
                self.ders.push(cert);
                added += 1;
            }
        }
        added
    }

    /// Number of trusted certificates.
    pub fn len(&self) -> usize {
        self.ders.len()
    }

    /// True when nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.ders.is_empty()
    }

    fn contains(&self, cert: &CertificateDer<'_>) -> bool {
        self.ders.iter().any(|d| d.as_ref() == cert.as_ref())
    }

    /// A trusted certificate whose subject is `issuer` (raw DER of the name).
    fn issuer_of(&self, issuer: &[u8]) -> Option<&CertificateDer<'static>> {
        self.ders.iter().find(|d| {
            x509_parser::parse_x509_certificate(d)
                .is_ok_and(|(_, c)| c.subject().as_raw() == issuer)
        })
    }
}

/// Which side's certificate is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    /// A server's certificate (extendedKeyUsage serverAuth), checked by a client.
    Server,
    /// A client's certificate (extendedKeyUsage clientAuth), checked by a server.
    Client,
}

/// The certificate checks shared by both directions.
#[derive(Debug)]
pub(crate) struct Checker {
    trust: Arc<TrustStore>,
    pub(crate) algs: WebPkiSupportedAlgorithms,
    check_common_name: bool,
    callback: Option<Arc<dyn VerifyCallback>>,
    /// Chains that passed every check here before (see [`crate::verified`]).
    verified: VerifiedChains,
}

/// The verdict on a peer's chain, and the chain as verified (leaf first) for the callback.
struct Assessment {
    flags: VerifyFlags,
    chain: Vec<Vec<u8>>,
}

/// RSA keys below this many bits are refused (`BAD_KEY`), as rustls cannot verify them.
const MIN_RSA_BITS: usize = 2048;

impl Checker {
    pub(crate) fn new(
        trust: Arc<TrustStore>,
        algs: WebPkiSupportedAlgorithms,
        check_common_name: bool,
        callback: Option<Arc<dyn VerifyCallback>>,
    ) -> Self {
        Self {
            trust,
            algs,
            check_common_name,
            callback,
            verified: VerifiedChains::default(),
        }
    }

    /// Check the peer's certificate during the handshake as `mode` requires: run the verify
    /// callback over the chain (top down) in `CERT_OPTIONAL`/`CERT_REQUIRED`, then, in
    /// `CERT_REQUIRED`, fail with every reason found. Under `CERT_OPTIONAL` without a callback
    /// nothing here needs the verdict: the session asks [`Checker::verdict`] when the
    /// application does.
    pub(crate) fn check(
        &self,
        mode: VerifyMode,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &PeerName,
        now: UnixTime,
        usage: Usage,
    ) -> Result<(), rustls::Error> {
        if mode == VerifyMode::None || (mode == VerifyMode::Optional && self.callback.is_none()) {
            return Ok(());
        }
        if mode == VerifyMode::Required && self.trust.is_empty() {
            return Err(Marker::CaChainRequired.into_rustls());
        }
        let now_secs = unix_secs(now);
        // Only a complete success without a callback is remembered, and only then looked up.
        let remembered = (mode == VerifyMode::Required && self.callback.is_none())
            .then(|| verified::key(usage as u8, name, leaf, intermediates));
        if let Some(key) = &remembered {
            if self.verified.holds(key, now_secs) {
                return Ok(());
            }
        }
        let assessment = self.assess(leaf, intermediates, name, now_secs, usage);
        if let Some(callback) = &self.callback {
            for (depth, cert) in assessment.chain.iter().enumerate().rev() {
                callback.verify(cert, depth).map_err(|abort| {
                    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                        rustls::OtherError(Arc::new(abort)),
                    ))
                })?;
            }
        }
        if mode == VerifyMode::Required && !assessment.flags.is_empty() {
            return Err(assessment.flags.into_rustls());
        }
        // `remembered` is only set under CERT_REQUIRED, where any flag returned above.
        if let Some(key) = remembered {
            if let Some(window) = Window::of_path(&assessment.chain) {
                self.verified.remember(key, window);
            }
        }
        Ok(())
    }

    /// Every reason the peer's chain fails at `now`, as Mbed TLS's verify result: empty when
    /// it verifies. Runs no callback and consults no memory.
    pub(crate) fn verdict(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &PeerName,
        now: UnixTime,
        usage: Usage,
    ) -> VerifyFlags {
        self.assess(leaf, intermediates, name, unix_secs(now), usage)
            .flags
    }

    /// Every reason `leaf` (with `intermediates`) fails for `usage` at `now_secs` and for `name`,
    /// and the chain: the verified path when there is one, else the presented certificates
    /// ordered by issuer, topped by a trusted issuer when one is known.
    fn assess(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &PeerName,
        now_secs: i64,
        usage: Usage,
    ) -> Assessment {
        let mut chain = vec![leaf.to_vec()];
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(leaf) else {
            return Assessment {
                flags: VerifyFlags::NOT_TRUSTED | VerifyFlags::OTHER,
                chain,
            };
        };
        let mut flags = date_flags(&parsed, now_secs);
        let pinned = parsed.subject() == parsed.issuer() && self.trust.contains(leaf);
        if pinned {
            // webpki is not asked about a trusted self-signed leaf (it refuses CA:TRUE ones,
            // which the reference accepts), so its key usage is checked here.
            flags |= pinned_eku_flags(&parsed, usage);
        } else {
            flags |= self.chain_flags(leaf, &parsed, intermediates, now_secs, usage, &mut chain);
        }
        flags |= key_flags(&parsed, &chain);
        flags |= names::name_flags(leaf, &parsed, name, self.check_common_name);
        Assessment { flags, chain }
    }

    /// Build and check the path from `leaf` to a trust anchor, extending `chain` with it.
    fn chain_flags(
        &self,
        leaf: &CertificateDer<'_>,
        parsed: &X509Certificate<'_>,
        intermediates: &[CertificateDer<'_>],
        now_secs: i64,
        usage: Usage,
        chain: &mut Vec<Vec<u8>>,
    ) -> VerifyFlags {
        use webpki::Error as W;
        let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
            return VerifyFlags::NOT_TRUSTED | VerifyFlags::OTHER;
        };
        // Check the path at a time inside the leaf's validity, so that a date problem of the
        // leaf (flagged separately) does not hide whether the chain is trusted.
        let not_before = parsed.validity().not_before.timestamp();
        let not_after = parsed.validity().not_after.timestamp();
        let at = now_secs.clamp(not_before.min(not_after), not_after);
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(at).unwrap_or(0),
        ));
        let key_usage = match usage {
            Usage::Server => webpki::KeyUsage::server_auth(),
            Usage::Client => webpki::KeyUsage::client_auth(),
        };
        let result = cert.verify_for_usage(
            self.algs.all,
            &self.trust.anchors,
            intermediates,
            at,
            key_usage,
            None,
            None,
        );
        let path = match result {
            Ok(path) => path,
            Err(e) => {
                self.order_presented(parsed, intermediates, chain);
                return match e {
                    W::CertExpired { .. } => VerifyFlags::EXPIRED,
                    W::CertNotValidYet { .. } => VerifyFlags::FUTURE,
                    W::RequiredEkuNotFoundContext(_) => VerifyFlags::EXT_KEY_USAGE,
                    W::UnsupportedSignatureAlgorithmContext(_)
                    | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
                        VerifyFlags::BAD_MD | VerifyFlags::NOT_TRUSTED
                    }
                    // webpki refuses a CA certificate as the peer's own; Mbed TLS accepts one
                    // whose issuer is trusted. Untrusted when no issuer is known at all.
                    W::CaUsedAsEndEntity if chain.len() > 1 => VerifyFlags::OTHER,
                    _ => VerifyFlags::NOT_TRUSTED,
                };
            }
        };
        let mut depth = 0usize;
        for issuer in path.intermediate_certificates() {
            chain.push(issuer.der().to_vec());
            depth += 1;
        }
        let anchor = path.anchor();
        let root = self
            .trust
            .anchors
            .iter()
            .zip(&self.trust.ders)
            .find_map(|(a, der)| {
                (a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info)
                    .then_some(der)
            });
        match root {
            Some(root) => {
                chain.push(root.to_vec());
                root_flags(root, depth, now_secs)
            }
            None => VerifyFlags::default(),
        }
    }

    /// The presented certificates in issuer order from the leaf up, then a trusted issuer of
    /// the topmost one, for the verify callback when no path was verified.
    fn order_presented(
        &self,
        leaf: &X509Certificate<'_>,
        intermediates: &[CertificateDer<'_>],
        chain: &mut Vec<Vec<u8>>,
    ) {
        let parsed: Vec<_> = intermediates
            .iter()
            .filter_map(|d| Some((d, x509_parser::parse_x509_certificate(d).ok()?.1)))
            .collect();
        let mut used = vec![false; parsed.len()];
        let mut issuer = leaf.issuer().as_raw().to_vec();
        let mut self_signed = leaf.subject() == leaf.issuer();
        while !self_signed {
            let next = parsed
                .iter()
                .enumerate()
                .find(|(i, (_, c))| !used[*i] && c.subject().as_raw() == issuer.as_slice());
            let Some((i, (der, cert))) = next else {
                break;
            };
            used[i] = true;
            chain.push(der.to_vec());
            issuer = cert.issuer().as_raw().to_vec();
            self_signed = cert.subject() == cert.issuer();
        }
        if !self_signed {
            if let Some(root) = self.trust.issuer_of(&issuer) {
                chain.push(root.to_vec());
            }
        }
    }

    /// Verify a TLS 1.2 handshake signature (in every verify mode: proof of key possession).
    pub(crate) fn tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs);
        signature_result(cert, result)
    }

    /// Verify a TLS 1.3 handshake signature (in every verify mode: proof of key possession).
    pub(crate) fn tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs);
        signature_result(cert, result)
    }

    /// Chains remembered (tests).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.verified.len()
    }
}

fn unix_secs(now: UnixTime) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

/// A handshake signature that failed because the certificate's key is too weak for rustls
/// says so ("unacceptable key"), not "bad signature".
fn signature_result(
    cert: &CertificateDer<'_>,
    result: Result<HandshakeSignatureValid, rustls::Error>,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    result.map_err(|e| {
        if key_is_weak(cert.as_ref()) {
            VerifyFlags::BAD_KEY.into_rustls()
        } else {
            e
        }
    })
}

/// EXPIRED / FUTURE for a certificate at `now_secs`.
fn date_flags(cert: &X509Certificate<'_>, now_secs: i64) -> VerifyFlags {
    let mut flags = VerifyFlags::default();
    if now_secs > cert.validity().not_after.timestamp() {
        flags |= VerifyFlags::EXPIRED;
    }
    if now_secs < cert.validity().not_before.timestamp() {
        flags |= VerifyFlags::FUTURE;
    }
    flags
}

/// The one place key strength is judged: true for an RSA key shorter than [`MIN_RSA_BITS`]
/// (rustls cannot verify its signatures). A certificate that does not parse is not "weak".
fn key_is_weak(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    parsed_key_is_weak(&cert)
}

/// [`key_is_weak`] for a certificate already parsed.
fn parsed_key_is_weak(cert: &X509Certificate<'_>) -> bool {
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size() < MIN_RSA_BITS,
        _ => false,
    }
}

/// `BAD_KEY` for a weak key anywhere in `chain` (leaf first, `leaf` its first certificate
/// already parsed); a weak key above the leaf also means nothing it signed could be checked
/// (`NOT_TRUSTED`).
fn key_flags(leaf: &X509Certificate<'_>, chain: &[Vec<u8>]) -> VerifyFlags {
    let mut flags = VerifyFlags::default();
    for (depth, der) in chain.iter().enumerate() {
        let weak = match depth {
            0 => parsed_key_is_weak(leaf),
            _ => key_is_weak(der),
        };
        if weak {
            flags |= VerifyFlags::BAD_KEY;
            if depth > 0 {
                flags |= VerifyFlags::NOT_TRUSTED;
            }
        }
    }
    flags
}

/// `EXT_KEY_USAGE` when a pinned leaf's extendedKeyUsage extension does not allow `usage`.
/// As Mbed TLS (`mbedtls_x509_crt_check_extended_key_usage`): no extension allows every use,
/// and anyExtendedKeyUsage allows every use; an extension that does not parse allows none.
fn pinned_eku_flags(cert: &X509Certificate<'_>, usage: Usage) -> VerifyFlags {
    let allowed = match cert.extended_key_usage() {
        Ok(None) => true,
        Ok(Some(eku)) => {
            eku.value.any
                || match usage {
                    Usage::Server => eku.value.server_auth,
                    Usage::Client => eku.value.client_auth,
                }
        }
        Err(_) => false,
    };
    if allowed {
        VerifyFlags::default()
    } else {
        VerifyFlags::EXT_KEY_USAGE
    }
}

/// What webpki does not check on the trust anchor itself, Mbed TLS does: its dates, that it
/// is a CA (basicConstraints CA:TRUE on a v3 certificate) and its path length limit (`below`
/// intermediates under it). Its key strength is judged with the whole chain ([`key_flags`]).
fn root_flags(root: &CertificateDer<'_>, below: usize, now_secs: i64) -> VerifyFlags {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(root) else {
        return VerifyFlags::NOT_TRUSTED;
    };
    let mut flags = date_flags(&cert, now_secs);
    match cert.basic_constraints() {
        Ok(Some(bc)) => {
            let too_deep = bc
                .value
                .path_len_constraint
                .is_some_and(|limit| usize::try_from(limit).is_ok_and(|limit| below > limit));
            if !bc.value.ca || too_deep {
                flags |= VerifyFlags::NOT_TRUSTED;
            }
        }
        // Version 1 certificates predate extensions and may act as CAs (as in Mbed TLS).
        Ok(None) if cert.version().0 < 2 => {}
        _ => flags |= VerifyFlags::NOT_TRUSTED,
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::ServerName;

    /// A CA and a leaf for `name` signed by it, DER.
    fn ca_and_leaf(name: &str) -> (Vec<u8>, Vec<u8>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        (ca_cert.der().to_vec(), leaf.der().to_vec())
    }

    #[test]
    fn a_success_is_remembered_and_a_failure_is_not() {
        let (ca, leaf) = ca_and_leaf("server.test");
        let mut trust = TrustStore::default();
        trust.add(vec![CertificateDer::from(ca)]).unwrap();
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        let checker = Checker::new(Arc::new(trust), algs, false, None);
        let leaf = CertificateDer::from(leaf);
        let good = ServerName::try_from("server.test").unwrap();
        let bad = ServerName::try_from("other.test").unwrap();
        let now = UnixTime::now();
        let check = |mode, name: &ServerName<'static>| {
            let name = PeerName::Given(name.clone());
            checker.check(mode, &leaf, &[], &name, now, Usage::Server)
        };
        assert!(check(VerifyMode::Required, &bad).is_err());
        assert!(check(VerifyMode::Optional, &good).is_ok());
        assert_eq!(checker.remembered(), 0);
        assert!(check(VerifyMode::Required, &good).is_ok());
        assert_eq!(checker.remembered(), 1);
        // Served from memory, and only for the same question.
        assert!(check(VerifyMode::Required, &good).is_ok());
        assert_eq!(checker.remembered(), 1);
        assert!(check(VerifyMode::Required, &bad).is_err());
        let key = verified::key(Usage::Server as u8, &PeerName::Given(good), &leaf, &[]);
        let now_secs = unix_secs(now);
        assert!(checker.verified.holds(&key, now_secs));
        // Not after the leaf's dates.
        assert!(!checker.verified.holds(&key, i64::MAX));
        // The verdict is computed afresh, whatever the memory holds.
        let name = PeerName::Given(bad);
        let flags = checker.verdict(&leaf, &[], &name, now, Usage::Server);
        assert_eq!(flags, VerifyFlags::CN_MISMATCH);
    }
}
