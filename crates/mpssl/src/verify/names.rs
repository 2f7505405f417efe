//! Host names: which name a client checks the server's certificate against, and whether the
//! certificate is valid for it.
//!
//! The verdict comes from rustls-webpki (`EndEntityCert::verify_is_valid_for_subject_name`:
//! subjectAltName DNS names with RFC 6125 wildcards, and IP addresses). Only the subject CN
//! fallback is matched here, and only when the certificate has **no** subjectAltName extension
//! at all, whatever it would hold (Mbed TLS's rule: an e-mail-only SAN disables the CN too).
//!
//! "No host name" and "the empty host name" are their own [`PeerName`] variants, never encoded
//! as a special address: a client that really connects to `0.0.0.0` is checked for that IP.

use std::net::IpAddr;

use rustls_pki_types::{CertificateDer, ServerName};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME;

use super::mode::VerifyFlags;

/// The name a client session checks the server's certificate against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PeerName {
    /// No `server_hostname` (and every server session): no SNI, no name check; under
    /// `CERT_REQUIRED` a client fails with the reference's "host name required" error.
    Absent,
    /// `server_hostname=""`: as the reference, accepted, no SNI, and it matches no certificate.
    Empty,
    /// A DNS name or IP address: sent as SNI (DNS names only) and checked.
    Given(ServerName<'static>),
}

/// Which kind of [`PeerName`] a client configuration's verifier is built for (rustls hands the
/// verifier only a `ServerName`, so the kind is a property of the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// [`PeerName::Given`]: the name rustls passes is the one to check.
    Given,
    /// [`PeerName::Absent`].
    Absent,
    /// [`PeerName::Empty`].
    Empty,
}

impl PeerName {
    /// The rule of the configuration that serves this name.
    pub(crate) fn rule(&self) -> NameRule {
        match self {
            Self::Absent => NameRule::Absent,
            Self::Empty => NameRule::Empty,
            Self::Given(_) => NameRule::Given,
        }
    }

    /// The `ServerName` rustls is given. rustls needs one even without a name; an IP address
    /// makes it send no SNI. The placeholder is never checked: the configuration serving
    /// [`NameRule::Absent`] / [`NameRule::Empty`] knows there is no name, and keeps its own
    /// resumption store, so the placeholder never meets a real `0.0.0.0`.
    pub(crate) fn for_rustls(&self) -> ServerName<'static> {
        match self {
            Self::Given(name) => name.clone(),
            Self::Absent | Self::Empty => ServerName::IpAddress(IpAddr::from([0u8; 4]).into()),
        }
    }

    /// The peer name a verifier of `rule` sees when rustls passes `server_name`.
    pub(crate) fn from_rule(rule: NameRule, server_name: &ServerName<'_>) -> Self {
        match rule {
            NameRule::Given => Self::Given(server_name.to_owned()),
            NameRule::Absent => Self::Absent,
            NameRule::Empty => Self::Empty,
        }
    }
}

/// `CN_MISMATCH` when `leaf` is not valid for `name` (nothing for [`PeerName::Absent`]).
pub(crate) fn name_flags(
    leaf: &CertificateDer<'_>,
    parsed: &X509Certificate<'_>,
    name: &PeerName,
    check_common_name: bool,
) -> VerifyFlags {
    let valid = match name {
        PeerName::Absent => true,
        PeerName::Empty => false,
        PeerName::Given(name) => {
            let by_san = webpki::EndEntityCert::try_from(leaf)
                .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(name).is_ok());
            by_san || (check_common_name && !has_san_extension(parsed) && cn_matches(parsed, name))
        }
    };
    if valid {
        VerifyFlags::default()
    } else {
        VerifyFlags::CN_MISMATCH
    }
}

/// True when the certificate has a subjectAltName extension, whatever it holds (even one
/// that does not parse).
fn has_san_extension(cert: &X509Certificate<'_>) -> bool {
    cert.extensions()
        .iter()
        .any(|ext| ext.oid == OID_X509_EXT_SUBJECT_ALT_NAME)
}

/// The CN fallback: a subject common name equal to the DNS name (RFC 6125 wildcards) or to
/// the IP address.
fn cn_matches(cert: &X509Certificate<'_>, name: &ServerName<'_>) -> bool {
    let mut common_names = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok());
    match name {
        ServerName::IpAddress(ip) => {
            let ip = IpAddr::from(*ip);
            common_names.any(|cn| cn.parse::<IpAddr>().ok() == Some(ip))
        }
        ServerName::DnsName(host) => common_names.any(|cn| dns_matches(cn, host.as_ref())),
        _ => false,
    }
}

/// RFC 6125 §6.4 matching of one common name against the reference host name.
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_placeholder_is_not_a_name() {
        let real = PeerName::Given(ServerName::try_from("0.0.0.0").unwrap());
        // Same bytes for rustls (no SNI either way), but a different kind of name.
        assert_eq!(real.for_rustls(), PeerName::Absent.for_rustls());
        assert_ne!(real, PeerName::Absent);
        assert_eq!(real.rule(), NameRule::Given);
        assert_ne!(PeerName::Absent.rule(), PeerName::Empty.rule());
    }
}
