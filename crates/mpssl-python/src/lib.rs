//! The PyO3 binding of mpssl: the private extension module `mpssl._mpssl`.
//!
//! Only argument conversion (`buf.rs`), the Python-socket adapter (`pysock.rs`), the error
//! mapping (`error.rs`) and module wiring live here; TLS logic is in the `mpssl` crate.
#![deny(clippy::undocumented_unsafe_blocks)]
// The buffer protocol and the file-descriptor fast path need `unsafe`; every block says why
// it is sound.
#![allow(unsafe_code)]

mod bio;
mod buf;
mod context;
mod error;
mod gil;
mod peercert;
mod psk;
mod pysock;
mod signer;
mod socket;

use pyo3::prelude::*;

/// rustls allocates a fresh buffer for every record it decrypts; glibc's allocator returns
/// such memory to the kernel and faults it back in, record after record. mimalloc keeps it.
/// This allocator serves only the Rust code of this extension, not the Python process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// MicroPython's `tls` module, natively.
#[pymodule(gil_used = false)]
mod _mpssl {
    #[pymodule_export]
    use crate::bio::SslObject;
    #[pymodule_export]
    use crate::context::Context;
    #[pymodule_export]
    use crate::socket::_install_sockio;
    #[pymodule_export]
    use crate::socket::SslSocket;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("RUSTLS_VERSION", mpssl::RUSTLS_VERSION)?;
        m.add("PROTOCOL_TLS_CLIENT", mpssl::Protocol::Client.as_int())?;
        m.add("PROTOCOL_TLS_SERVER", mpssl::Protocol::Server.as_int())?;
        m.add("PROTOCOL_DTLS_CLIENT", mpssl::Protocol::DtlsClient.as_int())?;
        m.add("PROTOCOL_DTLS_SERVER", mpssl::Protocol::DtlsServer.as_int())?;
        m.add("CERT_NONE", mpssl::VerifyMode::None.as_int())?;
        m.add("CERT_OPTIONAL", mpssl::VerifyMode::Optional.as_int())?;
        m.add("CERT_REQUIRED", mpssl::VerifyMode::Required.as_int())?;
        Ok(())
    }
}
