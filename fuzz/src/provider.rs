//! A deterministic rustls `CryptoProvider` with **no security at all**, for the fuzz targets
//! only (the idea of rustls's `rustls-fuzzing-provider`, written for rustls 0.23 and mpssl).
//!
//! With real cryptography a replayed or mutated flight never decrypts (both sides pick fresh
//! randomness and key shares), so fuzzing stops at the first encrypted record. Here every
//! input that has the right shape is accepted as if the peer knew the keys:
//!
//! * randomness is a fixed byte pattern (client and server randoms, session IDs, nonces);
//! * one key-exchange group (announced as X25519) whose public key is a fixed 32-byte string
//!   and which agrees on a fixed secret with any non-empty peer share;
//! * hashes and HMACs return fixed outputs, so the key schedule, the Finished messages and the
//!   TLS 1.2 PRF give the same bytes whatever the transcript says;
//! * the "AEAD" does not encrypt: a record is the plaintext (plus the inner content type in
//!   TLS 1.3) followed by a fixed 16-byte tag, and decryption only checks and strips the tag;
//! * any private key loads, signatures are a fixed string, and every signature verifies (in
//!   handshakes and in certificate chains; the rest of certificate validation — names, dates,
//!   issuer/subject chaining, extensions — still runs).
//!
//! The suites keep real IANA identifiers (TLS_AES_128_GCM_SHA256 and
//! TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) so that mpssl's getters name them; the bytes on the
//! wire are nothing like those suites'. Never use this outside `fuzz/`.

use std::sync::Arc;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter,
    MessageEncrypter, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload,
    Tls12AeadAlgorithm, Tls13AeadAlgorithm, UnsupportedOperationError,
};
use rustls::crypto::{
    hash, hmac, tls12, tls13, ActiveKeyExchange, CipherSuiteCommon, CryptoProvider,
    GetRandomFailed, KeyExchangeAlgorithm, KeyProvider, SecureRandom, SharedSecret,
    SupportedKxGroup, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, PrivateKeyDer, SignatureVerificationAlgorithm,
};
use rustls::sign::{Signer, SigningKey};
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, ContentType, Error, NamedGroup, PeerMisbehaved,
    ProtocolVersion, SignatureAlgorithm, SignatureScheme, SupportedCipherSuite, Tls12CipherSuite,
    Tls13CipherSuite,
};

/// The provider with both suites (TLS 1.3 and TLS 1.2).
pub fn provider() -> Arc<CryptoProvider> {
    with_suites(vec![TLS13_SUITE, TLS12_SUITE])
}

/// The provider with only the TLS 1.2 suite (for the TLS 1.2 seeds).
pub fn provider_tls12() -> Arc<CryptoProvider> {
    with_suites(vec![TLS12_SUITE])
}

fn with_suites(cipher_suites: Vec<SupportedCipherSuite>) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites,
        kx_groups: vec![&KxGroup],
        signature_verification_algorithms: VERIFY_ALGORITHMS,
        secure_random: &Fixed,
        key_provider: &Fixed,
    })
}

/// The fixed "public key" both sides send.
pub const KX_SHARE: &[u8; 32] = b"mpssl-fuzz-key-share-32-bytes!!!";
/// The tag that ends every record.
pub const TAG: &[u8; 16] = b"mpssl-fuzz-tag!!";
const SECRET: &[u8] = b"mpssl-fuzz-shared-secret";
const RANDOM: &[u8] = b"mpssl-fuzz-random-";
const HASH: &[u8; 32] = b"mpssl-fuzz-hash-output-32-bytes!";
const HMAC: &[u8; 32] = b"mpssl-fuzz-hmac-output-32-bytes!";
const SIGNATURE: &[u8] = b"mpssl-fuzz-signature";

const TLS13_SUITE: SupportedCipherSuite = SupportedCipherSuite::Tls13(&Tls13CipherSuite {
    common: CipherSuiteCommon {
        suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
        hash_provider: &Hash,
        confidentiality_limit: u64::MAX,
    },
    hkdf_provider: &tls13::HkdfUsingHmac(&Hmac),
    aead_alg: &Aead,
    quic: None,
});

const TLS12_SUITE: SupportedCipherSuite = SupportedCipherSuite::Tls12(&Tls12CipherSuite {
    common: CipherSuiteCommon {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        hash_provider: &Hash,
        confidentiality_limit: u64::MAX,
    },
    prf_provider: &tls12::PrfUsingHmac(&Hmac),
    kx: KeyExchangeAlgorithm::ECDHE,
    sign: &[SignatureScheme::ECDSA_NISTP256_SHA256],
    aead_alg: &Aead,
});

/// Randomness and key loading.
#[derive(Debug)]
struct Fixed;

impl SecureRandom for Fixed {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        for (out, byte) in buf.iter_mut().zip(RANDOM.iter().cycle()) {
            *out = *byte;
        }
        Ok(())
    }
}

impl KeyProvider for Fixed {
    fn load_private_key(&self, _key: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, Error> {
        Ok(Arc::new(Key))
    }
}

/// Every private key: signs with ECDSA P-256/SHA-256 when offered, with [`SIGNATURE`].
#[derive(Debug)]
struct Key;

impl SigningKey for Key {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256)
            .then(|| Box::new(Key) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

impl Signer for Key {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(SIGNATURE.to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }
}

#[derive(Debug)]
struct KxGroup;

impl SupportedKxGroup for KxGroup {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        Ok(Box::new(Kx))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct Kx;

impl ActiveKeyExchange for Kx {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        if peer.is_empty() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(SECRET))
    }

    fn pub_key(&self) -> &[u8] {
        KX_SHARE
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct Hash;

impl hash::Hash for Hash {
    fn start(&self) -> Box<dyn hash::Context> {
        Box::new(Hash)
    }

    fn hash(&self, _data: &[u8]) -> hash::Output {
        hash::Output::new(HASH)
    }

    fn algorithm(&self) -> hash::HashAlgorithm {
        hash::HashAlgorithm::SHA256
    }

    fn output_len(&self) -> usize {
        HASH.len()
    }
}

impl hash::Context for Hash {
    fn fork_finish(&self) -> hash::Output {
        hash::Output::new(HASH)
    }

    fn fork(&self) -> Box<dyn hash::Context> {
        Box::new(Hash)
    }

    fn finish(self: Box<Self>) -> hash::Output {
        hash::Output::new(HASH)
    }

    fn update(&mut self, _data: &[u8]) {}
}

struct Hmac;

impl hmac::Hmac for Hmac {
    fn with_key(&self, _key: &[u8]) -> Box<dyn hmac::Key> {
        Box::new(Hmac)
    }

    fn hash_output_len(&self) -> usize {
        HMAC.len()
    }
}

impl hmac::Key for Hmac {
    fn sign_concat(&self, _first: &[u8], _middle: &[&[u8]], _last: &[u8]) -> hmac::Tag {
        hmac::Tag::new(HMAC)
    }

    fn tag_len(&self) -> usize {
        HMAC.len()
    }
}

struct Aead;

impl Tls13AeadAlgorithm for Aead {
    fn encrypter(&self, _key: AeadKey, _iv: Iv) -> Box<dyn MessageEncrypter> {
        Box::new(Record { tls13: true })
    }

    fn decrypter(&self, _key: AeadKey, _iv: Iv) -> Box<dyn MessageDecrypter> {
        Box::new(Record { tls13: true })
    }

    fn key_len(&self) -> usize {
        16
    }

    fn extract_keys(
        &self,
        _key: AeadKey,
        _iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Err(UnsupportedOperationError)
    }
}

impl Tls12AeadAlgorithm for Aead {
    fn encrypter(&self, _key: AeadKey, _iv: &[u8], _extra: &[u8]) -> Box<dyn MessageEncrypter> {
        Box::new(Record { tls13: false })
    }

    fn decrypter(&self, _key: AeadKey, _iv: &[u8]) -> Box<dyn MessageDecrypter> {
        Box::new(Record { tls13: false })
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape {
            enc_key_len: 16,
            fixed_iv_len: 4,
            explicit_nonce_len: 0,
        }
    }

    fn extract_keys(
        &self,
        _key: AeadKey,
        _iv: &[u8],
        _explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Err(UnsupportedOperationError)
    }
}

/// The record "cipher": plaintext (+ content type in TLS 1.3) + [`TAG`].
struct Record {
    tls13: bool,
}

impl MessageEncrypter for Record {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        _seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let mut payload =
            PrefixedPayload::with_capacity(self.encrypted_payload_len(msg.payload.len()));
        payload.extend_from_chunks(&msg.payload);
        if self.tls13 {
            payload.extend_from_slice(&msg.typ.to_array());
            payload.extend_from_slice(TAG);
            return Ok(OutboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                payload,
            ));
        }
        payload.extend_from_slice(TAG);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + usize::from(self.tls13) + TAG.len()
    }
}

impl MessageDecrypter for Record {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        _seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let len = msg.payload.len();
        if len < TAG.len() || &msg.payload[len - TAG.len()..] != TAG {
            return Err(Error::DecryptError);
        }
        msg.payload.truncate(len - TAG.len());
        if self.tls13 {
            return msg.into_tls13_unpadded_message();
        }
        Ok(msg.into_plain_message())
    }
}

/// Every signature verifies, for each key type the test PKI has.
static VERIFY_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[&P256, &P384, &ED25519, &RSA],
    mapping: &[
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[&P256]),
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[&P384]),
        (SignatureScheme::ED25519, &[&ED25519]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[&RSA]),
    ],
};

static P256: AcceptAll = AcceptAll(alg_id::ECDSA_P256, alg_id::ECDSA_SHA256);
static P384: AcceptAll = AcceptAll(alg_id::ECDSA_P384, alg_id::ECDSA_SHA384);
static ED25519: AcceptAll = AcceptAll(alg_id::ED25519, alg_id::ED25519);
static RSA: AcceptAll = AcceptAll(alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA256);

/// A signature algorithm (public-key and signature algorithm identifiers) whose every
/// signature verifies.
#[derive(Debug)]
struct AcceptAll(AlgorithmIdentifier, AlgorithmIdentifier);

impl SignatureVerificationAlgorithm for AcceptAll {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.0
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.1
    }

    fn verify_signature(
        &self,
        _public_key: &[u8],
        _message: &[u8],
        _signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        Ok(())
    }
}
