//! Trusted roots from the operating system, and from a CA directory (`capath`), through the
//! maintained `rustls-native-certs` crate (no hand-written store parsing).
//!
//! [`system_roots`] is what CPython's `load_default_certs()` / `set_default_verify_paths()`
//! load: when `SSL_CERT_FILE` and/or `SSL_CERT_DIR` are set, only the certificates there (as
//! OpenSSL's default verify paths honour them); otherwise the platform's store (on Linux the
//! distribution's bundle that `openssl-probe` finds, e.g. `/etc/ssl/certs/ca-certificates.crt`).
//!
//! [`dir_roots`] reads a `capath` directory: **every** file in it (not recursively) as PEM,
//! whatever its name: the hashed names OpenSSL's `c_rehash` makes (`1a2b3c4d.0`, links to the
//! real files, each read once) and any `*.pem`/`*.crt` alike. Unlike OpenSSL, which looks a
//! hashed name up only when a handshake needs that issuer, the directory is read once, at load
//! time.

use std::path::Path;

use rustls_pki_types::CertificateDer;

use crate::error::Error;

/// The system's trusted roots (see the module doc). A store that cannot be found gives no
/// roots and no error (as CPython: a missing store fails only the verification); unreadable
/// entries of a store that exists are skipped.
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

/// Every PEM certificate of the files in `dir` (see the module doc). A directory that cannot
/// be read is an error (`FileNotFoundError`, `NotADirectoryError`, ...); files in it that are
/// not PEM certificates are skipped.
pub fn dir_roots(dir: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    // rustls-native-certs reports an unreadable directory only among its errors: check first,
    // so the caller gets the OS error.
    std::fs::read_dir(dir)?;
    Ok(rustls_native_certs::load_certs_from_paths(None, Some(dir)).certs)
}
