//! # mpssl-micropython: the mpssl engine behind a C ABI
//!
//! The C front end (`micropython/modtls_mpssl.c`, MicroPython's `tls` module) owns the
//! sockets and the MicroPython objects; this crate owns the TLS state. The shape follows
//! rustls-ffi: opaque handles, integer result codes, I/O through callbacks the C side
//! supplies (which read and write the wrapped stream with `mp_get_stream`).
//!
//! Rules every function here keeps:
//! * no panic unwinds into C: each body runs under `catch_unwind` and a panic becomes
//!   [`MPSSL_PANIC`];
//! * null or bad arguments give [`MPSSL_NULL_ARG`] / [`MPSSL_BAD_ARG`], never a crash;
//! * a closed socket answers every call with an error (`OSError(EBADF)`), until freed;
//! * no MicroPython exception crosses a Rust frame: the C callbacks catch exceptions with
//!   `nlr_push`, keep them, and return [`MPSSL_IO_RAISED`] (I/O) or non-zero (verify); the
//!   Rust side reports [`report::Kind::Raised`] and the C side re-raises after Rust returned;
//! * no thread cancellation unwinds through a Rust frame either (see [`guard`]).
//! * a failed allocation does not abort: it is served from a reserve and the call fails with
//!   `OSError(ENOMEM)`; a socket then frees its TLS state and stays failed (see [`oom`]).
//!
//! The header is `micropython/mpssl.h`; `tests/header.rs` checks it against this file.
// The C ABI needs raw pointers; every unsafe block says why it is sound.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::Cell;
use std::ffi::c_void;
use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use mpssl::{
    ArgumentError, CallbackAbort, Error, Protocol, Session, SslContext, TlsStream, VerifyCallback,
    VerifyMode,
};

pub mod oom;
pub mod psk;
pub mod report;
pub mod signer;

pub use report::{report, Kind};

/// Success.
pub const MPSSL_OK: i32 = 0;
/// The call could not complete: wait until the wrapped stream is readable, then repeat it.
pub const MPSSL_WANT_READ: i32 = 1;
/// The call could not complete: wait until the wrapped stream is writable, then repeat it.
pub const MPSSL_WANT_WRITE: i32 = 2;
/// The call failed; `*err` says how to raise it.
pub const MPSSL_ERROR: i32 = -1;
/// A required pointer argument was null.
pub const MPSSL_NULL_ARG: i32 = -2;
/// An argument has a value the ABI does not accept.
pub const MPSSL_BAD_ARG: i32 = -3;
/// The engine panicked (a bug); the handle must not be used again except to free it.
pub const MPSSL_PANIC: i32 = -4;

/// I/O callback result: the bytes moved are in `*out_n`.
pub const MPSSL_IO_OK: i32 = 0;
/// I/O callback result: the stream would block.
pub const MPSSL_IO_WOULD_BLOCK: i32 = -1;
/// I/O callback result: the stream raised a MicroPython exception, which the C side kept.
pub const MPSSL_IO_RAISED: i32 = -2;

/// Size of [`MpsslError::message`], NUL included.
pub const MPSSL_MESSAGE_MAX: usize = 512;

/// How to raise a failed call (filled when a call returns [`MPSSL_ERROR`]).
#[repr(C)]
#[derive(Debug)]
pub struct MpsslError {
    /// A [`Kind`] value (1..=5); 0 when nothing failed.
    pub kind: i32,
    /// The error code (negative Mbed TLS code or positive errno).
    pub code: i32,
    /// Bytes of `message` in use (without the NUL).
    pub len: usize,
    /// The message, NUL-terminated, truncated to fit.
    pub message: [u8; MPSSL_MESSAGE_MAX],
}

/// Reads up to `len` bytes of the wrapped stream into `buf`; stores the count in `*out_n`
/// (0 = end of stream). Returns [`MPSSL_IO_OK`], [`MPSSL_IO_WOULD_BLOCK`],
/// [`MPSSL_IO_RAISED`] or a positive errno. Must not raise.
pub type MpsslReadCb =
    extern "C" fn(user: *mut c_void, buf: *mut u8, len: usize, out_n: *mut usize) -> i32;
/// Writes up to `len` bytes of `buf` to the wrapped stream; as [`MpsslReadCb`].
pub type MpsslWriteCb =
    extern "C" fn(user: *mut c_void, buf: *const u8, len: usize, out_n: *mut usize) -> i32;
/// The verify callback: inspect the certificate `der` at `depth`. Returns 0 when the
/// callback returned (its result, 0 = accept, in `*result`), non-zero when it raised (the C
/// side keeps the exception, per socket `sock_user`). Must not raise.
pub type MpsslVerifyCb = extern "C" fn(
    ctx_user: *mut c_void,
    sock_user: *mut c_void,
    der: *const u8,
    len: usize,
    depth: i32,
    result: *mut i64,
) -> i32;

/// An `SSLContext`: configuration shared by the sockets wrapped with it.
#[derive(Debug)]
pub struct MpsslContext {
    inner: Mutex<SslContext>,
}

/// An `SSLSocket`: one TLS connection over a C-side stream.
#[derive(Debug)]
pub struct MpsslSocket {
    /// `None` once an allocation failed during a call on it: its TLS state was freed then, and
    /// every later call fails with `OSError(ENOMEM)` (sticky, as any fatal error).
    inner: Mutex<Option<TlsStream<CStream>>>,
    user: usize,
}

/// The wrapped stream, seen through the C callbacks.
struct CStream {
    read: MpsslReadCb,
    write: MpsslWriteCb,
    user: usize,
    /// Where the records of one vectored write are joined (kept to reuse its allocation).
    joined: Vec<u8>,
    /// DTLS: each write is one datagram, so a vectored write is never joined.
    datagram: bool,
}

impl std::fmt::Debug for CStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CStream").field("user", &self.user).finish()
    }
}

fn io_result(rc: i32, n: usize, len: usize) -> io::Result<usize> {
    match rc {
        MPSSL_IO_OK => Ok(n.min(len)),
        MPSSL_IO_WOULD_BLOCK => Err(io::ErrorKind::WouldBlock.into()),
        MPSSL_IO_RAISED => Err(io::Error::other(report::Raised)),
        e if e > 0 => Err(io::Error::from_raw_os_error(e)),
        e => Err(io::Error::other(format!("bad I/O callback result {e}"))),
    }
}

impl Read for CStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if oom::failed() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut n = 0usize;
        let rc = (self.read)(
            self.user as *mut c_void,
            buf.as_mut_ptr(),
            buf.len(),
            &mut n,
        );
        io_result(rc, n, buf.len())
    }
}

/// The most bytes of small records [`CStream`] joins into one stream write (the buffer is kept
/// per socket, so it stays small).
const JOIN_LIMIT: usize = 4096;

impl Write for CStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if oom::failed() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut n = 0usize;
        let rc = (self.write)(self.user as *mut c_void, buf.as_ptr(), buf.len(), &mut n);
        io_result(rc, n, buf.len())
    }

    /// One stream write for a flight of small records: rustls hands over ChangeCipherSpec +
    /// Finished (+ tickets, + the first application data) at once, and one write sends them in
    /// one segment instead of one segment, and one wake-up of the peer, per record. Records are
    /// joined while the total stays within [`JOIN_LIMIT`]; full-size records go one per write,
    /// without a copy, as before. Over DTLS each piece is a datagram of its own: only the
    /// first is written.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut pieces = bufs.iter().filter(|b| !b.is_empty()).peekable();
        let Some(first) = pieces.next() else {
            return Ok(0);
        };
        if self.datagram
            || pieces
                .peek()
                .is_none_or(|next| first.len() + next.len() > JOIN_LIMIT)
        {
            return self.write(first);
        }
        let mut joined = std::mem::take(&mut self.joined);
        joined.clear();
        joined.extend_from_slice(first);
        while let Some(next) = pieces.next_if(|b| joined.len() + b.len() <= JOIN_LIMIT) {
            joined.extend_from_slice(next);
        }
        let result = self.write(&joined);
        self.joined = joined;
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// The C socket object of the call in progress on this thread (for the verify callback).
    static CURRENT_SOCK: Cell<usize> = const { Cell::new(0) };
}

/// The C verify callback, as the engine's [`VerifyCallback`].
struct CVerify {
    cb: MpsslVerifyCb,
    user: usize,
}

impl std::fmt::Debug for CVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CVerify").field("user", &self.user).finish()
    }
}

impl VerifyCallback for CVerify {
    fn verify(&self, cert: &[u8], chain_depth: usize) -> Result<(), CallbackAbort> {
        let sock = CURRENT_SOCK.with(Cell::get);
        let mut result = 0i64;
        let depth = i32::try_from(chain_depth).unwrap_or(i32::MAX);
        let raised = (self.cb)(
            self.user as *mut c_void,
            sock as *mut c_void,
            cert.as_ptr(),
            cert.len(),
            depth,
            &mut result,
        );
        if raised != 0 {
            return Err(CallbackAbort::Failed(Arc::new(report::Raised)));
        }
        match result {
            0 => Ok(()),
            code => Err(CallbackAbort::Code {
                code,
                depth: chain_depth,
            }),
        }
    }
}

/// Run `f`, turning a panic into [`MPSSL_PANIC`]: every `extern "C"` body runs under it.
///
/// It is also where allocation failure is noticed: see [`guard_oom`] and [`oom`].
///
/// Thread cancellation is held off meanwhile. MicroPython's unix port ends the threads still
/// running at exit with `pthread_cancel`; a cancellation acted on at a cancellation point
/// inside an I/O callback (`recv`, `poll`) would be a forced unwind through our frames, and
/// `catch_unwind` aborts the process on it (`FATAL: exception not rethrown`). With
/// cancellation disabled while any Rust frame of ours is on the stack, a pending request acts
/// at the thread's next cancellation point in C, after we returned (or never, if the process
/// exits first).
pub fn guard(f: impl FnOnce() -> i32) -> i32 {
    guard_oom(f).0
}

/// [`guard`], also telling whether an allocation failed during `f` (it was then served from
/// the reserve, see [`oom`]); the caller turns that into [`Kind::NoMemory`].
pub fn guard_oom(f: impl FnOnce() -> i32) -> (i32, bool) {
    let _hold = cancel::Hold::new();
    oom::watch(|| catch_unwind(AssertUnwindSafe(f)).unwrap_or(MPSSL_PANIC))
}

/// [`guard`] for a call with an error out-parameter: when an allocation failed during `f`,
/// the call fails with `OSError(ENOMEM)` whatever `f` returned.
///
fn guard_err(
    mut err: Option<&mut MpsslError>,
    f: impl FnOnce(Option<&mut MpsslError>) -> i32,
) -> i32 {
    let (rc, failed) = guard_oom(|| f(err.as_deref_mut()));
    if failed {
        return no_memory(err);
    }
    rc
}

/// Fill `*err` (if not null) as `OSError(ENOMEM)` and return [`MPSSL_ERROR`]. Allocates
/// nothing.
fn no_memory(err: Option<&mut MpsslError>) -> i32 {
    if let Some(err) = err {
        err.kind = Kind::NoMemory as i32;
        err.code = ENOMEM;
        err.len = 0;
        err.message[0] = 0;
    }
    MPSSL_ERROR
}

/// `ENOMEM` (MicroPython's `MP_ENOMEM`), as [`report`] gives for an out-of-memory error.
const ENOMEM: i32 = 12;

/// POSIX thread cancellation, held off for the life of a [`cancel::Hold`].
mod cancel {
    #[cfg(target_os = "linux")]
    mod sys {
        use std::ffi::c_int;

        /// `PTHREAD_CANCEL_DISABLE` in glibc and musl (`PTHREAD_CANCEL_ENABLE` is 0).
        pub(super) const DISABLE: c_int = 1;

        extern "C" {
            pub(super) fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int;
        }
    }

    /// Cancellation disabled until dropped; the previous state is restored (so nesting works).
    pub(crate) struct Hold {
        #[cfg(target_os = "linux")]
        previous: std::ffi::c_int,
    }

    impl Hold {
        #[cfg(target_os = "linux")]
        pub(crate) fn new() -> Self {
            let mut previous = 0;
            // SAFETY: pthread_setcancelstate only reads `state` and writes the calling thread's
            // previous state into `previous`, a valid local. It cannot fail for a valid state.
            unsafe { sys::pthread_setcancelstate(sys::DISABLE, &mut previous) };
            Self { previous }
        }

        #[cfg(not(target_os = "linux"))]
        pub(crate) fn new() -> Self {
            Self {}
        }
    }

    impl Drop for Hold {
        fn drop(&mut self) {
            #[cfg(target_os = "linux")]
            // SAFETY: restores the state saved by `new` on this same thread (a Hold never leaves
            // the stack frame of `guard`); a null `old` pointer is allowed by POSIX.
            unsafe {
                sys::pthread_setcancelstate(self.previous, std::ptr::null_mut())
            };
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Fill `*err` (if not null) from `e` and return [`MPSSL_ERROR`].
fn fail(err: Option<&mut MpsslError>, e: &Error) -> i32 {
    if let Some(err) = err {
        let (kind, code, message) = report(e);
        err.kind = kind as i32;
        err.code = code;
        let bytes = message.as_bytes();
        let n = bytes.len().min(MPSSL_MESSAGE_MAX - 1);
        err.message[..n].copy_from_slice(&bytes[..n]);
        err.message[n] = 0;
        err.len = n;
    }
    MPSSL_ERROR
}

/// Turn a C `(ptr, len)` into a slice; null with length 0 is the empty slice.
///
/// # Safety
/// `ptr` must be null or valid for reads of `len` bytes for `'a`.
unsafe fn slice<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[][..]);
    }
    // SAFETY: non-null and, by the caller's contract, valid for `len` bytes.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The error out-parameter, as an optional reference.
///
/// # Safety
/// `err` must be null or point to a writable `MpsslError`.
unsafe fn err_ref<'a>(err: *mut MpsslError) -> Option<&'a mut MpsslError> {
    // SAFETY: null or valid and writable, by the caller's contract.
    unsafe { err.as_mut() }
}

/// Create a context for `protocol`: MicroPython's `PROTOCOL_*` bit field, decided by the engine
/// (`PROTOCOL_TLS_CLIENT` 0, `PROTOCOL_TLS_SERVER` 1, `PROTOCOL_DTLS_CLIENT` 2,
/// `PROTOCOL_DTLS_SERVER` 3).
///
/// # Safety
/// `out` must be null or writable; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_new(
    protocol: i32,
    out: *mut *mut MpsslContext,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        if out.is_null() {
            return MPSSL_NULL_ARG;
        }
        let protocol = match Protocol::from_bits(i64::from(protocol)) {
            Ok(protocol) => protocol,
            Err(e) => return fail(err, &e),
        };
        let ctx = Box::new(MpsslContext {
            inner: Mutex::new(SslContext::new(protocol)),
        });
        if oom::failed() {
            // Made on reserve memory: give it back; `guard_err` reports ENOMEM.
            drop(ctx);
            return MPSSL_ERROR;
        }
        // SAFETY: `out` is non-null and writable by the caller's contract.
        unsafe { *out = Box::into_raw(ctx) };
        MPSSL_OK
    })
}

/// Free a context (null is ignored). Sockets made from it stay usable.
///
/// # Safety
/// `ctx` must be null or a pointer from [`mpssl_context_new`] not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_free(ctx: *mut MpsslContext) {
    let _ = guard(|| {
        if !ctx.is_null() {
            // SAFETY: from `Box::into_raw` and not freed yet (caller's contract).
            drop(unsafe { Box::from_raw(ctx) });
        }
        MPSSL_OK
    });
}

/// Borrow a context handle.
///
/// # Safety
/// `ctx` must be null or a live pointer from [`mpssl_context_new`].
unsafe fn ctx_ref<'a>(ctx: *const MpsslContext) -> Option<&'a MpsslContext> {
    // SAFETY: null or live (caller's contract).
    unsafe { ctx.as_ref() }
}

/// The context's verify mode (`CERT_NONE` 0, `CERT_OPTIONAL` 1, `CERT_REQUIRED` 2), or a
/// negative result code.
///
/// # Safety
/// `ctx` must be null or live.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_verify_mode(ctx: *const MpsslContext) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        match lock(&ctx.inner).verify_mode() {
            VerifyMode::None => 0,
            VerifyMode::Optional => 1,
            VerifyMode::Required => 2,
        }
    })
}

/// Set the verify mode; the engine refuses values other than 0, 1, 2 with an error.
///
/// # Safety
/// `ctx` must be null or live; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_verify_mode(
    ctx: *const MpsslContext,
    mode: i64,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let ctx = unsafe { ctx_ref(ctx) };
        let Some(ctx) = ctx else {
            return MPSSL_NULL_ARG;
        };
        match lock(&ctx.inner).set_verify_mode_value(mode) {
            Ok(()) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// Install (`cb` non-null) or remove (`cb` null) the verify callback; `user` is passed back
/// as `ctx_user`. Applies to sockets wrapped afterwards.
///
/// # Safety
/// `ctx` must be null or live; `cb` must stay callable with `user` while sockets use it.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_verify_callback(
    ctx: *const MpsslContext,
    cb: Option<MpsslVerifyCb>,
    user: *mut c_void,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        let callback = cb.map(|cb| {
            Arc::new(CVerify {
                cb,
                user: user as usize,
            }) as Arc<dyn VerifyCallback>
        });
        lock(&ctx.inner).set_verify_callback(callback);
        MPSSL_OK
    })
}

/// Load the own certificate chain and private key (PEM or DER each).
///
/// # Safety
/// `ctx` null or live; each buffer null with length 0, or valid for its length; `err` null
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_load_cert_chain(
    ctx: *const MpsslContext,
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract (all four helpers).
        let (ctx, cert, key) =
            unsafe { (ctx_ref(ctx), slice(cert, cert_len), slice(key, key_len)) };
        let (Some(ctx), Some(cert), Some(key)) = (ctx, cert, key) else {
            return MPSSL_NULL_ARG;
        };
        match lock(&ctx.inner).load_cert_chain(cert, key) {
            Ok(()) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// Parse a private key without loading it: the first half of
/// [`mpssl_context_load_cert_chain`], for a front end that must report a bad key before it
/// even converts the certificate argument (the reference's order, decided by the engine).
///
/// # Safety
/// `ctx` null or live; `key` null with length 0, or valid for `key_len`; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_check_key(
    ctx: *const MpsslContext,
    key: *const u8,
    key_len: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let (ctx, key) = unsafe { (ctx_ref(ctx), slice(key, key_len)) };
        let (Some(ctx), Some(key)) = (ctx, key) else {
            return MPSSL_NULL_ARG;
        };
        match lock(&ctx.inner).parse_private_key(key) {
            Ok(_) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// Add trusted CA certificates (PEM or DER).
///
/// # Safety
/// As [`mpssl_context_load_cert_chain`].
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_load_verify_locations(
    ctx: *const MpsslContext,
    cadata: *const u8,
    len: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let (ctx, data) = unsafe { (ctx_ref(ctx), slice(cadata, len)) };
        let (Some(ctx), Some(data)) = (ctx, data) else {
            return MPSSL_NULL_ARG;
        };
        match lock(&ctx.inner).load_verify_locations(data) {
            Ok(()) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// Restrict the context to `count` suites, given as `names[i]` of `lens[i]` bytes.
///
/// # Safety
/// `ctx` null or live; `names` and `lens` null or valid for `count` entries, each name valid
/// for its length; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_set_ciphers(
    ctx: *const MpsslContext,
    names: *const *const u8,
    lens: *const usize,
    count: usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let ctx = unsafe { ctx_ref(ctx) };
        let Some(ctx) = ctx else {
            return MPSSL_NULL_ARG;
        };
        let mut list = Vec::with_capacity(count);
        if count > 0 {
            if names.is_null() || lens.is_null() {
                return MPSSL_NULL_ARG;
            }
            // SAFETY: both arrays hold `count` entries (caller's contract).
            let (ptrs, lens) = unsafe {
                (
                    std::slice::from_raw_parts(names, count),
                    std::slice::from_raw_parts(lens, count),
                )
            };
            for (&p, &n) in ptrs.iter().zip(lens) {
                // SAFETY: each name is valid for its length (caller's contract).
                let Some(bytes) = (unsafe { slice(p, n) }) else {
                    return MPSSL_NULL_ARG;
                };
                list.push(String::from_utf8_lossy(bytes).into_owned());
            }
        }
        match lock(&ctx.inner).set_ciphers(&list) {
            Ok(()) => MPSSL_OK,
            Err(e) => fail(err, &e),
        }
    })
}

/// The name of the context's `index`-th enabled suite: `*name` points to `*len` bytes of
/// static storage (not NUL-terminated). [`MPSSL_BAD_ARG`] past the end.
///
/// # Safety
/// `ctx` null or live; `name` and `len` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_context_cipher(
    ctx: *const MpsslContext,
    index: usize,
    name: *mut *const u8,
    len: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded contract.
        let Some(ctx) = (unsafe { ctx_ref(ctx) }) else {
            return MPSSL_NULL_ARG;
        };
        if name.is_null() || len.is_null() {
            return MPSSL_NULL_ARG;
        }
        let Some(suite) = lock(&ctx.inner).ciphers().get(index).copied() else {
            return MPSSL_BAD_ARG;
        };
        // SAFETY: both non-null and writable (caller's contract); the name is 'static.
        unsafe {
            *name = suite.as_ptr();
            *len = suite.len();
        }
        MPSSL_OK
    })
}

/// Wrap a stream: a new TLS socket over the C callbacks `read`/`write` with `user` (also the
/// `sock_user` of the verify callback). `hostname` null means no `server_hostname`.
///
/// # Safety
/// `ctx` null or live; `hostname` null or valid for `hostname_len` bytes; the callbacks must
/// stay callable with `user` until the socket is freed; `out` null or writable; `err` null
/// or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "a flat C signature")]
pub unsafe extern "C" fn mpssl_socket_new(
    ctx: *const MpsslContext,
    hostname: *const u8,
    hostname_len: usize,
    server_side: bool,
    read: Option<MpsslReadCb>,
    write: Option<MpsslWriteCb>,
    user: *mut c_void,
    out: *mut *mut MpsslSocket,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract; no client_id.
    unsafe {
        mpssl_socket_new_with_client_id(
            ctx,
            hostname,
            hostname_len,
            std::ptr::null(),
            0,
            server_side,
            read,
            write,
            user,
            out,
            err,
        )
    }
}

/// [`mpssl_socket_new`] with a DTLS server's `client_id` (the peer's transport address, any
/// bytes): null means none, which a DTLS server refuses (`MBEDTLS_ERR_SSL_BAD_INPUT_DATA`,
/// after the host name rule, as the reference); other contexts ignore it. Over a DTLS
/// context each `read` must return one whole datagram and each `write` sends one.
///
/// # Safety
/// As [`mpssl_socket_new`]; `client_id` null or valid for `client_id_len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "a flat C signature")]
pub unsafe extern "C" fn mpssl_socket_new_with_client_id(
    ctx: *const MpsslContext,
    hostname: *const u8,
    hostname_len: usize,
    client_id: *const u8,
    client_id_len: usize,
    server_side: bool,
    read: Option<MpsslReadCb>,
    write: Option<MpsslWriteCb>,
    user: *mut c_void,
    out: *mut *mut MpsslSocket,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: `err` null or writable (caller's contract).
    let err = unsafe { err_ref(err) };
    guard_err(err, |err| {
        // SAFETY: forwarded contract.
        let ctx = unsafe { ctx_ref(ctx) };
        let (Some(ctx), Some(read), Some(write)) = (ctx, read, write) else {
            return MPSSL_NULL_ARG;
        };
        if out.is_null() {
            return MPSSL_NULL_ARG;
        }
        let client_id = if client_id.is_null() {
            None
        } else {
            // SAFETY: non-null, valid for `client_id_len` bytes (caller's contract).
            let Some(bytes) = (unsafe { slice(client_id, client_id_len) }) else {
                return MPSSL_NULL_ARG;
            };
            Some(bytes)
        };
        let name = if hostname.is_null() {
            None
        } else {
            // SAFETY: non-null, valid for `hostname_len` bytes (caller's contract).
            let Some(bytes) = (unsafe { slice(hostname, hostname_len) }) else {
                return MPSSL_NULL_ARG;
            };
            match std::str::from_utf8(bytes) {
                Ok(s) => Some(s.to_owned()),
                Err(_) => {
                    return fail(
                        err,
                        &Error::Argument(ArgumentError::InvalidHostname(
                            String::from_utf8_lossy(bytes).into_owned(),
                        )),
                    );
                }
            }
        };
        let context = lock(&ctx.inner);
        let protocol = match context.wrap_role(server_side, name.as_deref()) {
            Ok(p) => p,
            Err(e) => return fail(err, &e),
        };
        let session = match Session::with_client_id(&context, name.as_deref(), client_id) {
            Ok(s) => s,
            Err(e) => return fail(err, &e),
        };
        drop(context);
        let io = CStream {
            joined: Vec::new(),
            datagram: protocol.is_dtls(),
            read,
            write,
            user: user as usize,
        };
        let sock = Box::new(MpsslSocket {
            inner: Mutex::new(Some(TlsStream::new(session, io))),
            user: user as usize,
        });
        if oom::failed() {
            // Made on reserve memory: give it back; `guard_err` reports ENOMEM.
            drop(sock);
            return MPSSL_ERROR;
        }
        // SAFETY: `out` non-null and writable (caller's contract).
        unsafe { *out = Box::into_raw(sock) };
        MPSSL_OK
    })
}

/// Free a socket and all its memory (null is ignored). Does not send anything.
///
/// # Safety
/// `sock` null or a pointer from [`mpssl_socket_new`] not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_free(sock: *mut MpsslSocket) {
    let _ = guard(|| {
        if !sock.is_null() {
            // SAFETY: from `Box::into_raw`, not freed yet (caller's contract).
            drop(unsafe { Box::from_raw(sock) });
        }
        MPSSL_OK
    });
}

/// Run `op` on a live socket with the verify callback's `sock_user` set.
///
/// When an allocation fails during `op` (see [`oom`]), the socket's TLS state is freed and the
/// socket fails for good: this call and every later one return `no_memory_rc`, with `*err`
/// (if not null) filled as `OSError(ENOMEM)` when that is [`MPSSL_ERROR`].
///
/// # Safety
/// `sock` null or live.
unsafe fn with_sock(
    sock: *const MpsslSocket,
    mut err: Option<&mut MpsslError>,
    no_memory_rc: i32,
    op: impl FnOnce(&mut TlsStream<CStream>, Option<&mut MpsslError>) -> i32,
) -> i32 {
    let (rc, failed) = guard_oom(|| {
        // SAFETY: null or live (caller's contract).
        let Some(sock) = (unsafe { sock.as_ref() }) else {
            return MPSSL_NULL_ARG;
        };
        let mut slot = lock(&sock.inner);
        let Some(stream) = slot.as_mut() else {
            return out_of_memory(err.as_deref_mut(), no_memory_rc);
        };
        let previous = CURRENT_SOCK.with(|c| c.replace(sock.user));
        let rc = op(stream, err.as_deref_mut());
        CURRENT_SOCK.with(|c| c.set(previous));
        if oom::failed() {
            // Free the TLS state now (giving the reserve back); freeing allocates nothing.
            *slot = None;
        }
        rc
    });
    if failed {
        return out_of_memory(err, no_memory_rc);
    }
    rc
}

/// `rc`, after filling `*err` as `OSError(ENOMEM)` when `rc` is [`MPSSL_ERROR`].
fn out_of_memory(err: Option<&mut MpsslError>, rc: i32) -> i32 {
    if rc == MPSSL_ERROR {
        no_memory(err)
    } else {
        rc
    }
}

/// A would-block as the direction to wait for.
fn want(stream: &TlsStream<CStream>) -> i32 {
    if stream.interest().read {
        MPSSL_WANT_READ
    } else {
        MPSSL_WANT_WRITE
    }
}

/// Run (or continue) the handshake: [`MPSSL_OK`] when complete, `MPSSL_WANT_*` when the
/// stream would block.
///
/// # Safety
/// `sock` null or live; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_handshake(
    sock: *const MpsslSocket,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract.
    let err = unsafe { err_ref(err) };
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, err, MPSSL_ERROR, |s, err| match s.handshake() {
            Ok(()) => MPSSL_OK,
            Err(Error::WouldBlock) => want(s),
            Err(e) => fail(err, &e),
        })
    }
}

/// One low-level read of plaintext into `buf` (driving the handshake first): `*out_n`
/// bytes, 0 at the end of the stream.
///
/// # Safety
/// `sock` null or live; `buf` valid for writes of `len` bytes (or null with 0); `out_n`
/// writable; `err` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_read(
    sock: *const MpsslSocket,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract.
    let err = unsafe { err_ref(err) };
    if out_n.is_null() || (buf.is_null() && len > 0) {
        return MPSSL_NULL_ARG;
    }
    let buf: &mut [u8] = if buf.is_null() {
        &mut []
    } else {
        // SAFETY: non-null and valid for `len` writable bytes (caller's contract).
        unsafe { std::slice::from_raw_parts_mut(buf, len) }
    };
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, err, MPSSL_ERROR, |s, err| match s.read_some(buf) {
            Ok(n) => {
                // SAFETY: checked non-null above; writable by contract.
                *out_n = n;
                MPSSL_OK
            }
            Err(Error::WouldBlock) => want(s),
            Err(e) => fail(err, &e),
        })
    }
}

/// One low-level write of up to one record of `buf`: `*out_n` bytes counted as sent (the
/// repeat of a write whose ciphertext had not left counts it then, as Mbed TLS).
///
/// # Safety
/// As [`mpssl_socket_read`], with `buf` valid for reads.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_write(
    sock: *const MpsslSocket,
    buf: *const u8,
    len: usize,
    out_n: *mut usize,
    err: *mut MpsslError,
) -> i32 {
    // SAFETY: forwarded contract.
    let (err, data) = unsafe { (err_ref(err), slice(buf, len)) };
    let Some(data) = data else {
        return MPSSL_NULL_ARG;
    };
    if out_n.is_null() {
        return MPSSL_NULL_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(
            sock,
            err,
            MPSSL_ERROR,
            |s, err| match mpssl::stream::write_record(s, data) {
                Ok(Some(n)) => {
                    // SAFETY: checked non-null above; writable by contract.
                    *out_n = n;
                    MPSSL_OK
                }
                Ok(None) | Err(Error::WouldBlock) => want(s),
                Err(e) => fail(err, &e),
            },
        )
    }
}

/// Poll helper: bit 0 = decrypted plaintext is waiting (readable without the stream), bit 1
/// = the last call waits for readability, bit 2 = for writability, bit 3 = the socket is
/// closed or failed (`MP_STREAM_POLL_NVAL`).
///
/// # Safety
/// `sock` null or live.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_poll_state(sock: *const MpsslSocket) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, None, 8, |s, _| {
            let interest = s.interest();
            let session = s.session_mut();
            let mut state = 0;
            if session.is_invalid() {
                return 8;
            }
            if !session.is_handshaking() && session.pending() > 0 {
                state |= 1;
            }
            if interest.read {
                state |= 2;
            }
            if interest.write {
                state |= 4;
            }
            state
        })
    }
}

/// Close: send close_notify (best effort, once) and end the session; later calls fail with
/// `OSError(EBADF)`. Memory is released by [`mpssl_socket_free`].
///
/// # Safety
/// `sock` null or live.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_close(sock: *const MpsslSocket) -> i32 {
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, None, MPSSL_OK, |s, _| {
            s.close();
            MPSSL_OK
        })
    }
}

/// The negotiated suite and protocol version as static text (`*suite`/`*suite_len`,
/// `*version`/`*version_len`); [`MPSSL_BAD_ARG`] before the handshake completed.
///
/// # Safety
/// `sock` null or live; the four out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_cipher(
    sock: *const MpsslSocket,
    suite: *mut *const u8,
    suite_len: *mut usize,
    version: *mut *const u8,
    version_len: *mut usize,
) -> i32 {
    if suite.is_null() || suite_len.is_null() || version.is_null() || version_len.is_null() {
        return MPSSL_NULL_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, None, MPSSL_BAD_ARG, |s, _| {
            let session = s.session();
            let (Some(name), Some(ver)) = (session.cipher_name(), session.protocol_version())
            else {
                return MPSSL_BAD_ARG;
            };
            // SAFETY: all four checked non-null above, writable by contract; 'static text.
            *suite = name.as_ptr();
            *suite_len = name.len();
            *version = ver.as_ptr();
            *version_len = ver.len();
            MPSSL_OK
        })
    }
}

/// Copy the peer's certificate (DER) into `buf`: `*len` is its size. With `buf` null or
/// too small, only `*len` is set and [`MPSSL_BAD_ARG`] returned (call again with room);
/// `*len` = 0 and [`MPSSL_OK`] when the peer sent none.
///
/// # Safety
/// `sock` null or live; `buf` null or valid for writes of `cap` bytes; `len` writable.
#[no_mangle]
pub unsafe extern "C" fn mpssl_socket_peer_cert(
    sock: *const MpsslSocket,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> i32 {
    if len.is_null() {
        return MPSSL_NULL_ARG;
    }
    // SAFETY: forwarded contract.
    unsafe {
        with_sock(sock, None, MPSSL_BAD_ARG, |s, _| {
            let der = match s.session().peer_certificates().and_then(|c| c.first()) {
                Some(c) => c.as_ref(),
                None => &[][..],
            };
            // SAFETY: checked non-null above; writable by contract.
            *len = der.len();
            if der.is_empty() {
                return MPSSL_OK;
            }
            if buf.is_null() || cap < der.len() {
                return MPSSL_BAD_ARG;
            }
            // SAFETY: `buf` valid for `cap` >= `der.len()` bytes; distinct from `der`.
            std::ptr::copy_nonoverlapping(der.as_ptr(), buf, der.len());
            MPSSL_OK
        })
    }
}
