//! MicroPython's `ecdsa_sign_callback`: ECDSA handshake signatures made outside mpssl (a secure
//! element whose driver is written in Python, say), on rustls's signing-key extension point.
//!
//! When a context has an [`EcdsaSignCallback`] and its key is an ECDSA key, the key rustls signs
//! with is wrapped: for every handshake signature (a server's TLS 1.3 CertificateVerify or
//! TLS 1.2 ServerKeyExchange, a client's CertificateVerify) the message is hashed with the
//! negotiated scheme's hash (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521) and the
//! callback is called with the private scalar (big-endian, the curve's size) and that hash.
//!
//! * `Ok(Some(der))`: the signature to send, an ASN.1 DER `ECDSA-Sig-Value`. It is checked before
//!   it is sent: longer than the curve's largest DER signature is [`SignError::TooLong`] (the
//!   reference's ECP buffer-too-small error); anything that is not a valid signature of the
//!   message under the certificate's public key is [`SignError::Invalid`] (the reference would
//!   send it and let the peer fail; a local error names the cause). The check is one ECDSA
//!   verification, cheap next to the handshake.
//! * `Ok(None)`: declined; mpssl signs in software with the loaded key.
//! * `Err(payload)`: [`SignError::Failed`] ends the handshake (the reference's ECP bad-input
//!   error), and the payload (a front end's own error) travels with it.
//!
//! RSA and Ed25519 keys are never wrapped: the callback is not called for them.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest::{self, Algorithm as DigestAlgorithm};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair,
};
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use rustls_pki_types::SubjectPublicKeyInfoDer;

/// MicroPython's `ecdsa_sign_callback`: sign a handshake hash with an ECDSA key held elsewhere.
pub trait EcdsaSignCallback: Send + Sync + fmt::Debug {
    /// Sign `hash` (the handshake message's digest) with the private scalar `private_key`
    /// (big-endian). Return the DER `ECDSA-Sig-Value`, `None` to let mpssl sign in software, or
    /// the front end's own error to end the handshake.
    #[allow(clippy::type_complexity)]
    fn sign(
        &self,
        private_key: &[u8],
        hash: &[u8],
    ) -> Result<Option<Vec<u8>>, Arc<dyn std::error::Error + Send + Sync>>;
}

/// Why a handshake signature through the [`EcdsaSignCallback`] failed.
#[derive(Debug, Clone)]
pub enum SignError {
    /// The callback failed (in Python: raised); the payload is the front end's own error.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
    /// The callback returned a signature longer than the curve's largest DER signature.
    TooLong {
        /// The returned length.
        len: usize,
        /// The curve's largest DER `ECDSA-Sig-Value`.
        max: usize,
    },
    /// The callback returned bytes that are not a DER ECDSA signature of the handshake message
    /// under the certificate's public key.
    Invalid,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "the ecdsa_sign_callback failed: {e}"),
            Self::TooLong { len, max } => write!(
                f,
                "the ecdsa_sign_callback returned {len} bytes, longer than the largest DER ECDSA \
                 signature for this curve ({max} bytes)"
            ),
            Self::Invalid => f.write_str(
                "the ecdsa_sign_callback returned bytes that are not a valid DER ECDSA signature \
                 of the handshake hash under the certificate's public key",
            ),
        }
    }
}

impl std::error::Error for SignError {}

impl SignError {
    /// Wrap the error so that it travels through rustls's signer.
    fn into_rustls(self) -> rustls::Error {
        rustls::Error::Other(rustls::OtherError(Arc::new(self)))
    }
}

/// One curve: how to load the key, hash the message and check a signature.
struct Curve {
    signing: &'static EcdsaSigningAlgorithm,
    verification: &'static EcdsaVerificationAlgorithm,
    digest: &'static DigestAlgorithm,
    scheme: SignatureScheme,
    /// `MBEDTLS_ECDSA_MAX_SIG_LEN(bits)`.
    max_der: usize,
}

static CURVES: [Curve; 3] = [
    Curve {
        signing: &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        verification: &signature::ECDSA_P256_SHA256_ASN1,
        digest: &digest::SHA256,
        scheme: SignatureScheme::ECDSA_NISTP256_SHA256,
        max_der: 72,
    },
    Curve {
        signing: &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        verification: &signature::ECDSA_P384_SHA384_ASN1,
        digest: &digest::SHA384,
        scheme: SignatureScheme::ECDSA_NISTP384_SHA384,
        max_der: 104,
    },
    Curve {
        signing: &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        verification: &signature::ECDSA_P521_SHA512_ASN1,
        digest: &digest::SHA512,
        scheme: SignatureScheme::ECDSA_NISTP521_SHA512,
        max_der: 139,
    },
];

/// An ECDSA private key as the callback needs it: the key pair (for the private scalar and the
/// public key a returned signature is checked against) and its curve.
pub struct EcdsaSecret {
    pair: EcdsaKeyPair,
    curve: &'static Curve,
}

impl fmt::Debug for EcdsaSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaSecret")
            .field("scheme", &self.curve.scheme)
            .finish_non_exhaustive()
    }
}

impl EcdsaSecret {
    /// The key of a PKCS#8 or SEC1 DER private key on P-256, P-384 or P-521; `None` for any
    /// other key.
    pub(crate) fn from_der(der: &[u8]) -> Option<Arc<Self>> {
        CURVES.iter().find_map(|curve| {
            EcdsaKeyPair::from_private_key_der(curve.signing, der)
                .ok()
                .map(|pair| Arc::new(Self { pair, curve }))
        })
    }
}

/// `key` with `callback` in front of it when `secret` (the same key's ECDSA form) is known;
/// `key` unchanged otherwise.
pub(crate) fn with_callback(
    key: Arc<dyn SigningKey>,
    secret: Option<&Arc<EcdsaSecret>>,
    callback: Option<&Arc<dyn EcdsaSignCallback>>,
) -> Arc<dyn SigningKey> {
    match (secret, callback) {
        (Some(secret), Some(callback)) if key.algorithm() == SignatureAlgorithm::ECDSA => {
            Arc::new(CallbackKey {
                inner: key,
                secret: secret.clone(),
                callback: callback.clone(),
            })
        }
        _ => key,
    }
}

/// A loaded ECDSA key whose signatures go through the callback first.
#[derive(Debug)]
struct CallbackKey {
    inner: Arc<dyn SigningKey>,
    secret: Arc<EcdsaSecret>,
    callback: Arc<dyn EcdsaSignCallback>,
}

impl SigningKey for CallbackKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let inner = self.inner.choose_scheme(offered)?;
        if inner.scheme() != self.secret.curve.scheme {
            return Some(inner);
        }
        Some(Box::new(CallbackSigner {
            inner,
            secret: self.secret.clone(),
            callback: self.callback.clone(),
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        self.inner.public_key()
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }
}

#[derive(Debug)]
struct CallbackSigner {
    inner: Box<dyn Signer>,
    secret: Arc<EcdsaSecret>,
    callback: Arc<dyn EcdsaSignCallback>,
}

impl Signer for CallbackSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let curve = self.secret.curve;
        let hash = digest::digest(curve.digest, message);
        let scalar =
            self.secret.pair.private_key().as_be_bytes().map_err(|_| {
                rustls::Error::General("cannot export the ECDSA private key".into())
            })?;
        let answer = self
            .callback
            .sign(scalar.as_ref(), hash.as_ref())
            .map_err(|e| SignError::Failed(e).into_rustls())?;
        let Some(der) = answer else {
            return self.inner.sign(message);
        };
        if der.len() > curve.max_der {
            return Err(SignError::TooLong {
                len: der.len(),
                max: curve.max_der,
            }
            .into_rustls());
        }
        signature::UnparsedPublicKey::new(curve.verification, self.secret.pair.public_key())
            .verify(message, &der)
            .map_err(|_| SignError::Invalid.into_rustls())?;
        Ok(der)
    }

    fn scheme(&self) -> SignatureScheme {
        self.inner.scheme()
    }
}

/// The [`SignError`] inside a rustls error from a wrapped signer, if that is what it is.
pub(crate) fn from_rustls(e: &rustls::Error) -> Option<SignError> {
    match e {
        rustls::Error::Other(other) => other.0.downcast_ref::<SignError>().cloned(),
        _ => None,
    }
}
