//! Cipher-suite names: the reference's dashed form (`TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256`),
//! the IANA underscore form, and the suites the reference has that rustls refuses to offer.

use rustls::crypto::aws_lc_rs::cipher_suite as cs;
use rustls::SupportedCipherSuite;

use crate::error::{ConfigError, Error};

/// One suite mpssl offers: the rustls suite and its two accepted names.
struct Suite {
    suite: SupportedCipherSuite,
    dashed: &'static str,
    iana: &'static str,
}

/// Every suite mpssl offers, in default preference order (TLS 1.3 first).
static SUITES: &[Suite] = &[
    Suite {
        suite: cs::TLS13_AES_256_GCM_SHA384,
        dashed: "TLS-AES-256-GCM-SHA384",
        iana: "TLS_AES_256_GCM_SHA384",
    },
    Suite {
        suite: cs::TLS13_AES_128_GCM_SHA256,
        dashed: "TLS-AES-128-GCM-SHA256",
        iana: "TLS_AES_128_GCM_SHA256",
    },
    Suite {
        suite: cs::TLS13_CHACHA20_POLY1305_SHA256,
        dashed: "TLS-CHACHA20-POLY1305-SHA256",
        iana: "TLS_CHACHA20_POLY1305_SHA256",
    },
    Suite {
        suite: cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        dashed: "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    },
    Suite {
        suite: cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        dashed: "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    },
    Suite {
        suite: cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        dashed: "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    },
    Suite {
        suite: cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        dashed: "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    },
    Suite {
        suite: cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        dashed: "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    },
    Suite {
        suite: cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        dashed: "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    },
];

/// Suites the reference (Mbed TLS) offers that mpssl does not: CBC modes (padding-oracle
/// history, MAC-then-encrypt), static RSA key exchange (no forward secrecy) and the CBC PSK
/// suites (the AES-GCM PSK suites are the `psk` module's).
pub static UNSUPPORTED_REFERENCE_SUITES: &[&str] = &[
    "TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA384",
    "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384",
    "TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA",
    "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA",
    "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256",
    "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA",
    "TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA",
    "TLS-RSA-WITH-AES-256-GCM-SHA384",
    "TLS-RSA-WITH-AES-256-CBC-SHA256",
    "TLS-RSA-WITH-AES-256-CBC-SHA",
    "TLS-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-RSA-WITH-AES-128-CBC-SHA256",
    "TLS-RSA-WITH-AES-128-CBC-SHA",
    "TLS-PSK-WITH-AES-256-CBC-SHA384",
    "TLS-PSK-WITH-AES-256-CBC-SHA",
    "TLS-PSK-WITH-AES-128-CBC-SHA256",
    "TLS-PSK-WITH-AES-128-CBC-SHA",
];

/// Every suite mpssl can offer, in default preference order.
pub fn default_suites() -> Vec<SupportedCipherSuite> {
    SUITES.iter().map(|s| s.suite).collect()
}

/// The reference-style (dashed) name of a suite.
pub fn suite_name(suite: SupportedCipherSuite) -> &'static str {
    SUITES
        .iter()
        .find(|s| s.suite.suite() == suite.suite())
        .map_or("TLS-UNKNOWN", |s| s.dashed)
}

/// CPython's `(name, protocol, secret bits)` triple for a suite (as `shared_ciphers` lists it),
/// in the reference's naming; `None` for a suite mpssl does not offer.
pub fn suite_triple(suite: rustls::CipherSuite) -> Option<(&'static str, &'static str, u32)> {
    let found = SUITES.iter().find(|s| s.suite.suite() == suite)?;
    let version = match found.suite {
        SupportedCipherSuite::Tls13(_) => "TLSv1.3",
        SupportedCipherSuite::Tls12(_) => "TLSv1.2",
    };
    let bits = if found.dashed.contains("AES-128") {
        128
    } else {
        256
    };
    Some((found.dashed, version, bits))
}

/// Resolve a list of names (dashed or IANA form) into suites, keeping the given order.
///
/// Duplicates are dropped. An empty list, an unknown name, or a name of a suite rustls does not
/// offer is an [`Error::Config`] naming the culprit.
pub fn parse_suite_names<S: AsRef<str>>(names: &[S]) -> Result<Vec<SupportedCipherSuite>, Error> {
    if names.is_empty() {
        return Err(Error::Config(ConfigError::EmptyCipherList));
    }
    let mut out: Vec<SupportedCipherSuite> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_ref();
        let Some(found) = SUITES.iter().find(|s| s.dashed == name || s.iana == name) else {
            let dashed = name.replace('_', "-");
            if UNSUPPORTED_REFERENCE_SUITES.contains(&dashed.as_str()) {
                return Err(Error::Config(ConfigError::UnsupportedCipher(
                    name.to_owned(),
                )));
            }
            return Err(Error::Config(ConfigError::UnknownCipher(name.to_owned())));
        };
        if !out.iter().any(|s| s.suite() == found.suite.suite()) {
            out.push(found.suite);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_name_forms_resolve() {
        let a = parse_suite_names(&["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"]).unwrap();
        let b = parse_suite_names(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]).unwrap();
        assert_eq!(a[0].suite(), b[0].suite());
        assert_eq!(suite_name(a[0]), "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    }

    #[test]
    fn bad_lists_are_bad_config() {
        assert!(matches!(
            parse_suite_names::<&str>(&[]),
            Err(Error::Config(ConfigError::EmptyCipherList))
        ));
        assert!(matches!(
            parse_suite_names(&["BAR"]),
            Err(Error::Config(ConfigError::UnknownCipher(name))) if name == "BAR"
        ));
        assert!(matches!(
            parse_suite_names(&["TLS-RSA-WITH-AES-128-CBC-SHA"]),
            Err(Error::Config(ConfigError::UnsupportedCipher(_)))
        ));
        // Names are case-sensitive, as in the reference.
        assert!(parse_suite_names(&["tls-aes-128-gcm-sha256"]).is_err());
    }

    #[test]
    fn duplicates_are_dropped_and_order_kept() {
        let s = parse_suite_names(&[
            "TLS-AES-128-GCM-SHA256",
            "TLS-AES-256-GCM-SHA384",
            "TLS_AES_128_GCM_SHA256",
        ])
        .unwrap();
        let names: Vec<_> = s.iter().map(|s| suite_name(*s)).collect();
        assert_eq!(names, ["TLS-AES-128-GCM-SHA256", "TLS-AES-256-GCM-SHA384"]);
    }

    #[test]
    fn every_default_suite_has_a_name() {
        for s in default_suites() {
            assert_ne!(suite_name(s), "TLS-UNKNOWN");
        }
    }
}
