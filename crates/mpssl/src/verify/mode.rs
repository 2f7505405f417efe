//! The verify mode (`CERT_*`) and the verdict flags, with Mbed TLS's bit values.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};
use std::sync::Arc;

/// How much the peer's certificate is checked (MicroPython's `CERT_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerifyMode {
    /// `CERT_NONE` (0): no identity check. Handshake signatures are still verified.
    None,
    /// `CERT_OPTIONAL` (1): checked, failures do not stop the handshake and are reported by
    /// `Session::verify_result`; a server asks for a client certificate but accepts none.
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

#[cfg(test)]
mod tests {
    use super::*;

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
