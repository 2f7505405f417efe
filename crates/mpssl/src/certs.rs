//! PEM/DER detection and parsing of certificates and private keys (≈ Mbed TLS `asn1_get_data`).
//!
//! Data containing `-----BEGIN ` is PEM (any number of certificates); anything else is DER
//! (exactly one certificate; trailing bytes after it are ignored, as the reference does).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::SigningKey;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{CertError, Error, KeyError};
use crate::signer::EcdsaSecret;

const PEM_MARKER: &[u8] = b"-----BEGIN ";

/// True when `data` holds PEM text (the `-----BEGIN ` marker before any NUL byte).
pub fn is_pem(data: &[u8]) -> bool {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    data[..end]
        .windows(PEM_MARKER.len())
        .any(|w| w == PEM_MARKER)
}

/// Parse one DER certificate or any number of PEM certificates.
///
/// Fails with [`Error::Cert`] when nothing parses or any PEM certificate is malformed.
pub fn parse_certificates(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    if data.is_empty() {
        return Err(Error::Cert(CertError::Empty));
    }
    let certs = if is_pem(data) {
        let mut certs = Vec::new();
        for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(data) {
            let (kind, der) =
                section.map_err(|e| Error::Cert(CertError::Malformed(format!("bad PEM: {e}"))))?;
            if kind == SectionKind::Certificate {
                certs.push(CertificateDer::from(der));
            }
        }
        if certs.is_empty() {
            return Err(Error::Cert(CertError::NoPemCertificate));
        }
        certs
    } else {
        vec![CertificateDer::from(first_der_element(data)?.to_vec())]
    };
    for cert in &certs {
        check_certificate(cert)?;
    }
    Ok(certs)
}

/// The first complete DER TLV of `data` (trailing bytes are ignored, as Mbed TLS does).
fn first_der_element(data: &[u8]) -> Result<&[u8], Error> {
    let bad = || Error::Cert(CertError::NotDer);
    let (_, header, len) = der_header(data).ok_or_else(bad)?;
    let end = header.checked_add(len).ok_or_else(bad)?;
    data.get(..end).ok_or_else(bad)
}

fn check_certificate(cert: &CertificateDer<'_>) -> Result<(), Error> {
    match x509_parser::parse_x509_certificate(cert) {
        Ok((_, _)) => Ok(()),
        Err(e) => Err(Error::Cert(CertError::Malformed(format!(
            "malformed certificate: {e}"
        )))),
    }
}

/// A private key as loaded: usable for signing, or well-formed but refused by the provider.
#[derive(Debug, Clone)]
pub enum LoadedKey {
    /// The provider can sign with this key; for an ECDSA key (P-256, P-384, P-521), also its
    /// form for an [`EcdsaSignCallback`](crate::EcdsaSignCallback).
    Usable(Arc<dyn SigningKey>, Option<Arc<EcdsaSecret>>),
    /// The key parses, but the provider cannot sign with it: an RSA key of this many bits
    /// (fewer than 2048).
    Unusable {
        /// The RSA modulus size.
        bits: usize,
    },
}

/// Parse a private key (PKCS#8, PKCS#1 RSA, SEC1 EC; PEM or DER; unencrypted).
pub fn parse_private_key(data: &[u8], provider: &CryptoProvider) -> Result<LoadedKey, Error> {
    if data.is_empty() {
        return Err(Error::Key(KeyError::Empty));
    }
    let der = if is_pem(data) {
        if contains(data, b"ENCRYPTED PRIVATE KEY") || contains(data, b"Proc-Type: 4,ENCRYPTED") {
            return Err(Error::Key(KeyError::Encrypted));
        }
        PrivateKeyDer::from_pem_slice(data).map_err(|e| {
            Error::Key(KeyError::Malformed(format!(
                "no usable private key in the PEM data: {e}"
            )))
        })?
    } else {
        if is_encrypted_pkcs8(data) {
            return Err(Error::Key(KeyError::Encrypted));
        }
        PrivateKeyDer::try_from(data.to_vec())
            .map_err(|e| Error::Key(KeyError::Malformed(format!("not a DER private key: {e}"))))?
    };
    let rsa_bits = rsa_modulus_bits(der.secret_der());
    let ecdsa = EcdsaSecret::from_der(der.secret_der());
    match provider.key_provider.load_private_key(der) {
        Ok(key) => Ok(LoadedKey::Usable(key, ecdsa)),
        Err(e) => match rsa_bits {
            Some(bits) if bits < 2048 => Ok(LoadedKey::Unusable { bits }),
            _ => Err(Error::Key(KeyError::Refused(format!(
                "the key was not accepted: {e}"
            )))),
        },
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// True for a DER `EncryptedPrivateKeyInfo` (RFC 5958): SEQUENCE { AlgorithmIdentifier
/// SEQUENCE, OCTET STRING }, where an unencrypted key starts with an INTEGER version.
fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    let Some((0x30, body, _)) = der_next(der) else {
        return false;
    };
    let Some((0x30, _algorithm, rest)) = der_next(body) else {
        return false;
    };
    matches!(der_next(rest), Some((0x04, _, _)))
}

/// Parse a DER header: (tag, header length, content length).
fn der_header(data: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some((tag, 2, usize::from(first)));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..count {
        len = (len << 8) | usize::from(*data.get(2 + i)?);
    }
    Some((tag, 2 + count, len))
}

/// Split `data` into the first TLV's (tag, contents) and the rest.
fn der_next(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (tag, header, len) = der_header(data)?;
    let end = header.checked_add(len)?;
    Some((tag, data.get(header..end)?, data.get(end..)?))
}

const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The modulus size of an RSA key in PKCS#1 or PKCS#8 DER, or `None` if it is not one.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (0x30, body, _) = der_next(der)? else {
        return None;
    };
    let (0x02, _version, rest) = der_next(body)? else {
        return None;
    };
    let (tag, contents, rest) = der_next(rest)?;
    match tag {
        // PKCS#1: the modulus follows the version.
        0x02 => Some(integer_bits(contents)),
        // PKCS#8: AlgorithmIdentifier, then an OCTET STRING holding the PKCS#1 key.
        0x30 => {
            let (0x06, oid, _) = der_next(contents)? else {
                return None;
            };
            if oid != RSA_ENCRYPTION_OID {
                return None;
            }
            let (0x04, inner, _) = der_next(rest)? else {
                return None;
            };
            rsa_modulus_bits(inner)
        }
        _ => None,
    }
}

fn integer_bits(contents: &[u8]) -> usize {
    let trimmed: &[u8] = match contents.iter().position(|&b| b != 0) {
        Some(i) => &contents[i..],
        None => return 0,
    };
    let lead = trimmed
        .first()
        .map_or(0, |b| 8 - b.leading_zeros() as usize);
    (trimmed.len() - 1) * 8 + lead
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_detection_stops_at_nul() {
        assert!(is_pem(b"xx-----BEGIN CERTIFICATE-----"));
        assert!(!is_pem(b"xx\0-----BEGIN CERTIFICATE-----"));
        assert!(!is_pem(b"\x30\x03\x02\x01\x00"));
    }

    #[test]
    fn garbage_is_invalid() {
        assert!(matches!(
            parse_certificates(b"!"),
            Err(Error::Cert(CertError::NotDer))
        ));
        assert!(matches!(
            parse_certificates(b""),
            Err(Error::Cert(CertError::Empty))
        ));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        assert!(matches!(
            parse_private_key(b"!", &provider),
            Err(Error::Key(KeyError::Malformed(_)))
        ));
        assert!(matches!(
            parse_private_key(b"", &provider),
            Err(Error::Key(KeyError::Empty))
        ));
    }

    #[test]
    fn der_with_trailing_bytes_loads_first_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut data = cert.der().to_vec();
        let single = data.len();
        data.extend_from_slice(b"trailing junk");
        let certs = parse_certificates(&data).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].len(), single);
    }

    #[test]
    fn encrypted_pem_key_is_refused_with_reason() {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        match parse_private_key(pem, &provider) {
            Err(Error::Key(KeyError::Encrypted)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn integer_bits_counts_significant_bits() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01]), 1);
        assert_eq!(integer_bits(&[0x00]), 0);
    }
}
