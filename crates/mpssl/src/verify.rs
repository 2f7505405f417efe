//! Verification policy: `CERT_NONE` / `CERT_OPTIONAL` / `CERT_REQUIRED`, Mbed TLS-style verdicts.
//!
//! The verdict of a failed check is a set of [`VerifyFlags`] with Mbed TLS's bit values, so the
//! binding can print exactly the reference's text. Chain building is rustls-webpki's; dates and
//! host names are checked here, separately, so that several reasons can be reported at once as
//! the reference does (expired *and* wrong name *and* untrusted).
//!
//! What weakens verification (`CERT_NONE`, `CERT_OPTIONAL`) goes through [`crate::danger`].

use std::fmt;
use std::net::IpAddr;
use std::ops::{BitOr, BitOrAssign};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::danger;
use crate::error::{CallbackAbort, CertError, Error, Marker};
use crate::verified::{self, VerifiedChains, Window};

/// How much the peer's certificate is checked (MicroPython's `CERT_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyMode {
    /// `CERT_NONE` (0): no identity check. Handshake signatures are still verified.
    None,
    /// `CERT_OPTIONAL` (1): checked, failures ignored; a server asks for a client certificate
    /// but accepts none.
    Optional,
    /// `CERT_REQUIRED` (2): chain, dates and host name must verify; a server demands a client
    /// certificate.
    Required,
}

impl VerifyMode {
    /// The `CERT_*` constant's value.
    pub fn as_int(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Optional => 1,
            Self::Required => 2,
        }
    }

    /// The mode for a `CERT_*` value, or `None` when the value is not one of the three.
    pub fn from_int(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::None),
            1 => Some(Self::Optional),
            2 => Some(Self::Required),
            _ => None,
        }
    }
}

/// Reasons a certificate failed verification, with Mbed TLS's `MBEDTLS_X509_BADCERT_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VerifyFlags(u32);

impl VerifyFlags {
    /// The certificate validity has expired.
    pub const EXPIRED: Self = Self(0x01);
    /// The host name matches neither a subjectAltName nor (where allowed) the common name.
    pub const CN_MISMATCH: Self = Self(0x04);
    /// The chain does not lead to a trusted CA (or a signature in it is wrong).
    pub const NOT_TRUSTED: Self = Self(0x08);
    /// Something else is wrong with the certificate.
    pub const OTHER: Self = Self(0x0100);
    /// The certificate validity starts in the future.
    pub const FUTURE: Self = Self(0x0200);
    /// The extended key usage does not allow this use (serverAuth / clientAuth).
    pub const EXT_KEY_USAGE: Self = Self(0x1000);
    /// The certificate is signed with an unacceptable algorithm.
    pub const BAD_MD: Self = Self(0x4000);
    /// The certificate's key is unacceptable (bad curve, RSA too short).
    pub const BAD_KEY: Self = Self(0x01_0000);

    /// The raw Mbed TLS flag bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Flags from raw Mbed TLS bits.
    pub fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// True when no check failed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every flag of `other` is set here.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Report this verdict through rustls, so that rustls sends the right alert.
    pub(crate) fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            Arc::new(self),
        )))
    }
}

impl BitOr for VerifyFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for VerifyFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for VerifyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: &[(VerifyFlags, &str)] = &[
            (VerifyFlags::EXPIRED, "expired"),
            (VerifyFlags::CN_MISMATCH, "host name mismatch"),
            (VerifyFlags::NOT_TRUSTED, "not trusted"),
            (VerifyFlags::OTHER, "other"),
            (VerifyFlags::FUTURE, "not yet valid"),
            (VerifyFlags::EXT_KEY_USAGE, "extended key usage"),
            (VerifyFlags::BAD_MD, "unacceptable signature algorithm"),
            (VerifyFlags::BAD_KEY, "unacceptable key"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(*flag) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            write!(f, "flags {:#x}", self.0)?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyFlags {}

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
    /// Add certificates to the store.
    pub fn add(&mut self, certs: Vec<CertificateDer<'static>>) -> Result<(), Error> {
        for cert in certs {
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| Error::Cert(CertError::NotTrustAnchor(e.to_string())))?
                .to_owned();
            self.anchors.push(anchor);
            self.ders.push(cert);
        }
        Ok(())
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
enum Usage {
    Server,
    Client,
}

/// The certificate checks shared by both directions.
#[derive(Debug)]
pub(crate) struct Checker {
    trust: Arc<TrustStore>,
    algs: WebPkiSupportedAlgorithms,
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

    /// Check the peer's certificate as `mode` requires: run the verify callback over the
    /// chain (top down) in `CERT_OPTIONAL`/`CERT_REQUIRED`, then, in `CERT_REQUIRED`, fail
    /// with every reason found. `name` is `Err(())` for a client that gave an empty name.
    fn check(
        &self,
        mode: VerifyMode,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: Option<&ServerName<'_>>,
        now: UnixTime,
        usage: Usage,
    ) -> Result<(), rustls::Error> {
        if mode == VerifyMode::None {
            return Ok(());
        }
        if mode == VerifyMode::Optional && self.callback.is_none() {
            return Ok(());
        }
        if mode == VerifyMode::Required && self.trust.is_empty() {
            return Err(Marker::CaChainRequired.into_rustls());
        }
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
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

    /// Every reason `leaf` (with `intermediates`) fails for `usage` at `now_secs` and for `name`,
    /// and the chain: the verified path when there is one, else the presented certificates
    /// ordered by issuer, topped by a trusted issuer when one is known.
    fn assess(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: Option<&ServerName<'_>>,
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
        if rsa_too_small(&parsed) {
            flags |= VerifyFlags::BAD_KEY;
        }
        let self_signed_and_trusted =
            parsed.subject() == parsed.issuer() && self.trust.contains(leaf);
        if !self_signed_and_trusted {
            flags |= self.chain_flags(leaf, &parsed, intermediates, now_secs, usage, &mut chain);
        }
        match name {
            Some(name) if is_empty_name(name) => flags |= VerifyFlags::CN_MISMATCH,
            Some(name) if !name_matches(&parsed, name, self.check_common_name) => {
                flags |= VerifyFlags::CN_MISMATCH;
            }
            _ => {}
        }
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
                let flags = match e {
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
                // A weak key above the leaf is the reason its signature could not be checked.
                let weak_issuer = chain.iter().skip(1).any(|der| {
                    x509_parser::parse_x509_certificate(der).is_ok_and(|(_, c)| rsa_too_small(&c))
                });
                return if weak_issuer {
                    flags | VerifyFlags::BAD_KEY
                } else {
                    flags
                };
            }
        };
        let mut flags = VerifyFlags::default();
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
        if let Some(root) = root {
            chain.push(root.to_vec());
            flags |= root_flags(root, depth, now_secs);
        }
        flags
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
    fn tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs);
        self.signature_result(cert, result)
    }

    /// Verify a TLS 1.3 handshake signature (in every verify mode: proof of key possession).
    fn tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs);
        self.signature_result(cert, result)
    }

    fn signature_result(
        &self,
        cert: &CertificateDer<'_>,
        result: Result<HandshakeSignatureValid, rustls::Error>,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        result.map_err(|e| {
            // rustls cannot verify signatures by short RSA keys: say so, not "bad signature".
            let weak =
                x509_parser::parse_x509_certificate(cert).is_ok_and(|(_, c)| rsa_too_small(&c));
            if weak {
                VerifyFlags::BAD_KEY.into_rustls()
            } else {
                e
            }
        })
    }
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

/// True for an RSA key shorter than [`MIN_RSA_BITS`].
fn rsa_too_small(cert: &X509Certificate<'_>) -> bool {
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size() < MIN_RSA_BITS,
        _ => false,
    }
}

/// What webpki does not check on the trust anchor itself, Mbed TLS does: its dates, that it
/// is a CA (basicConstraints CA:TRUE on a v3 certificate), its path length limit (`below`
/// intermediates under it), and its key strength.
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
    if rsa_too_small(&cert) {
        flags |= VerifyFlags::BAD_KEY | VerifyFlags::NOT_TRUSTED;
    }
    flags
}

/// Host name matching: SAN DNS names (RFC 6125 wildcards in the leftmost label only,
/// case-insensitive), SAN IP addresses, and the subject CN only when the certificate has no
/// SAN DNS/IP entries and `check_common_name` is set (what Mbed TLS does).
fn name_matches(
    cert: &X509Certificate<'_>,
    name: &ServerName<'_>,
    check_common_name: bool,
) -> bool {
    let mut dns: Vec<&str> = Vec::new();
    let mut ips: Vec<&[u8]> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for general in &san.value.general_names {
            match general {
                GeneralName::DNSName(d) => dns.push(d),
                GeneralName::IPAddress(ip) => ips.push(ip),
                _ => {}
            }
        }
    }
    let has_san = !dns.is_empty() || !ips.is_empty();
    let common_names = || {
        cert.subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .collect::<Vec<_>>()
    };
    match name {
        ServerName::IpAddress(ip) => {
            let ip = IpAddr::from(*ip);
            let octets: Vec<u8> = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            if ips.contains(&octets.as_slice()) {
                return true;
            }
            !has_san
                && check_common_name
                && common_names()
                    .iter()
                    .any(|cn| cn.parse::<IpAddr>().ok() == Some(ip))
        }
        ServerName::DnsName(host) => {
            let host = host.as_ref();
            if dns.iter().any(|pattern| dns_matches(pattern, host)) {
                return true;
            }
            !has_san && check_common_name && common_names().iter().any(|cn| dns_matches(cn, host))
        }
        _ => false,
    }
}

/// RFC 6125 §6.4 matching of one presented identifier against the reference host name.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    let Some(rest) = pattern.strip_prefix("*.") else {
        // No wildcard (partial wildcards such as `f*.example.com` are not honoured).
        return !pattern.contains('*') && pattern == host;
    };
    if rest.contains('*') || !rest.contains('.') {
        // `*.*.example.com` and `*.com` are refused.
        return false;
    }
    match host.split_once('.') {
        Some((first, host_rest)) => !first.is_empty() && host_rest == rest,
        None => false,
    }
}

/// The context's verifier of server certificates (used by clients).
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    pub(crate) mode: VerifyMode,
    pub(crate) checker: Checker,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let name = (!is_no_name(server_name)).then_some(server_name);
        self.checker.check(
            self.mode,
            end_entity,
            intermediates,
            name,
            now,
            Usage::Server,
        )?;
        match self.mode {
            VerifyMode::Required if name.is_none() => Err(Marker::HostnameRequired.into_rustls()),
            VerifyMode::Required => Ok(ServerCertVerified::assertion()),
            VerifyMode::Optional | VerifyMode::None => Ok(danger::skip_server_identity_check()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker.tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.checker.algs.supported_schemes()
    }
}

/// The context's verifier of client certificates (used by servers).
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    pub(crate) mode: VerifyMode,
    pub(crate) checker: Checker,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.mode != VerifyMode::None
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mode == VerifyMode::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.checker.check(
            self.mode,
            end_entity,
            intermediates,
            None,
            now,
            Usage::Client,
        )?;
        match self.mode {
            VerifyMode::Required => Ok(ClientCertVerified::assertion()),
            VerifyMode::Optional | VerifyMode::None => Ok(danger::skip_client_identity_check()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker.tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.checker.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.checker.algs.supported_schemes()
    }
}

/// The server name a client session uses when the caller gave none.
///
/// rustls needs a `ServerName`; an IP address makes it send no SNI, as the reference does
/// without `server_hostname`. The verifier recognises it and refuses to treat it as a name.
pub(crate) fn no_name() -> ServerName<'static> {
    ServerName::IpAddress(IpAddr::from([0u8, 0, 0, 0]).into())
}

fn is_no_name(name: &ServerName<'_>) -> bool {
    *name == no_name()
}

/// The server name a client session uses for `server_hostname=""`: like the reference, the
/// empty name is accepted, sends no SNI, and matches no certificate.
pub(crate) fn empty_name() -> ServerName<'static> {
    ServerName::IpAddress(IpAddr::from([0u16; 8]).into())
}

fn is_empty_name(name: &ServerName<'_>) -> bool {
    *name == empty_name()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let check = |mode, name: &ServerName<'_>| {
            checker.check(mode, &leaf, &[], Some(name), now, Usage::Server)
        };
        assert!(check(VerifyMode::Required, &bad).is_err());
        assert!(check(VerifyMode::Optional, &good).is_ok());
        assert_eq!(checker.verified.len(), 0);
        assert!(check(VerifyMode::Required, &good).is_ok());
        assert_eq!(checker.verified.len(), 1);
        // Served from memory, and only for the same question.
        assert!(check(VerifyMode::Required, &good).is_ok());
        assert_eq!(checker.verified.len(), 1);
        assert!(check(VerifyMode::Required, &bad).is_err());
        let key = verified::key(Usage::Server as u8, Some(&good), &leaf, &[]);
        let now_secs = i64::try_from(now.as_secs()).unwrap();
        assert!(checker.verified.holds(&key, now_secs));
        // Not after the leaf's dates.
        assert!(!checker.verified.holds(&key, i64::MAX));
    }

    #[test]
    fn wildcards_follow_rfc6125() {
        assert!(dns_matches("*.example.com", "a.example.com"));
        assert!(dns_matches("*.Example.COM", "A.example.com."));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("*.*.example.com", "a.b.example.com"));
        assert!(dns_matches("micropython.local", "MicroPython.Local"));
        assert!(!dns_matches("", ""));
    }

    #[test]
    fn verify_mode_round_trips() {
        for v in 0..3 {
            assert_eq!(VerifyMode::from_int(v).map(VerifyMode::as_int), Some(v));
        }
        assert_eq!(VerifyMode::from_int(5), None);
        assert_eq!(VerifyMode::from_int(-1), None);
    }

    #[test]
    fn flags_display_lists_reasons() {
        let f = VerifyFlags::EXPIRED | VerifyFlags::NOT_TRUSTED;
        assert_eq!(f.to_string(), "expired, not trusted");
        assert_eq!(f.bits(), 0x09);
    }
}
