//! Helpers shared by the ABI tests: an in-memory wire behind the I/O callbacks, error
//! structs, throw-away certificates.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::VecDeque;
use std::ffi::c_void;

use mpssl_micropython::*;

/// One direction of an in-memory connection per endpoint.
#[derive(Default)]
pub(crate) struct Wire {
    pub(crate) inbound: VecDeque<u8>,
    pub(crate) outbound: VecDeque<u8>,
    /// Make the next read report "raised" (as if the stream raised an exception).
    pub(crate) raise_on_read: bool,
    /// A bogus result code for the next read.
    pub(crate) bogus_read: Option<i32>,
}

pub(crate) extern "C" fn wire_read(
    user: *mut c_void,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> i32 {
    let wire = unsafe { &mut *user.cast::<Wire>() };
    if wire.raise_on_read {
        return MPSSL_IO_RAISED;
    }
    if let Some(rc) = wire.bogus_read.take() {
        return rc;
    }
    if wire.inbound.is_empty() {
        return MPSSL_IO_WOULD_BLOCK;
    }
    let n = len.min(wire.inbound.len());
    let out = unsafe { std::slice::from_raw_parts_mut(buf, n) };
    for b in out.iter_mut() {
        *b = wire.inbound.pop_front().unwrap_or(0);
    }
    unsafe { *out_n = n };
    MPSSL_IO_OK
}

pub(crate) extern "C" fn wire_write(
    user: *mut c_void,
    buf: *const u8,
    len: usize,
    out_n: *mut usize,
) -> i32 {
    let wire = unsafe { &mut *user.cast::<Wire>() };
    let data = unsafe { std::slice::from_raw_parts(buf, len) };
    wire.outbound.extend(data);
    unsafe { *out_n = len };
    MPSSL_IO_OK
}

/// Verify callback: `ctx_user` points to the i64 result to return; `i64::MIN` = "raise".
pub(crate) fn new_error() -> MpsslError {
    MpsslError {
        kind: 0,
        code: 0,
        len: 0,
        message: [0; MPSSL_MESSAGE_MAX],
    }
}

pub(crate) fn message(e: &MpsslError) -> String {
    String::from_utf8_lossy(&e.message[..e.len]).into_owned()
}

pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

pub(crate) fn cert(name: &str) -> Cert {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    Cert {
        der: cert.der().to_vec(),
        key: key.serialize_der(),
    }
}
