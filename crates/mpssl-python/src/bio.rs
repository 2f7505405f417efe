//! `SSLObject`: TLS over two of CPython's `ssl.MemoryBIO` objects, for asyncio (issue 11).
//!
//! `SSLContext.wrap_bio(incoming, outgoing, ...)` returns one. It drives the engine's sans-IO
//! [`Session`] directly: ciphertext read from `incoming` goes in, ciphertext the session
//! queues goes to `outgoing`. It behaves as `ssl.SSLObject` does for `asyncio.sslproto`:
//! nothing ever blocks, and the standard library's exceptions say what is missing:
//!
//! * `ssl.SSLWantReadError`: more ciphertext is needed in `incoming` (`SSLWantWriteError` is
//!   never raised: `outgoing` takes everything);
//! * `read()` returns `b''` (or `0` into a buffer) after the peer's close_notify;
//!   `ssl.SSLEOFError` when `incoming` reached EOF (`incoming.write_eof()`) without one;
//! * `ssl.SSLZeroReturnError` for a `write()` after `unwrap()` sent our close_notify;
//! * the peer's certificate failing verification: `ssl.SSLCertVerificationError` (which is
//!   also a `ValueError`) with mpssl's text ([`error::to_py_ssl`]);
//! * any other TLS failure: `ssl.SSLError(code, text)`, an `OSError` with mpssl's code and
//!   Mbed TLS text, as `SSLSocket` raises it.
//!
//! `incoming` is read only as far as the session needs (one record's worth at a time, and
//! only when no plaintext is waiting), so `incoming.pending` stays meaningful for asyncio's
//! flow control. The crypto runs with the GIL released; the BIO calls re-attach.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use mpssl::{Error, ProtocolError, Session};

use crate::buf::{ReadBuf, WriteBuf};
use crate::context::Context;
use crate::error;
use crate::gil;
use crate::peercert;

/// Ciphertext taken from `incoming` at a time: one full TLS record (16 KiB of plaintext plus
/// header and expansion) fits.
const INCOMING_CHUNK: usize = 16 * 1024 + 2048;

/// The most plaintext one `read()` without a buffer returns (it returns what is decrypted,
/// never waits for more).
const READ_CAP: usize = 64 * 1024;

/// Why an `SSLObject` operation stopped; turned into a Python exception with the GIL held.
enum Fail {
    /// The engine failed (mapped by [`error::to_py_ssl`]).
    Engine(Error),
    /// A BIO call raised.
    Python(PyErr),
    /// More ciphertext is needed: `ssl.SSLWantReadError`.
    WantRead,
    /// `write()` after `unwrap()`: `ssl.SSLZeroReturnError`.
    Shutdown,
    /// Used from its own `verify_callback` (the handshake holds the object).
    Reentered,
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Self::Engine(e)
    }
}

impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Self::Python(e)
    }
}

impl Fail {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Self::Engine(e) => error::to_py_ssl(py, e),
            Self::Python(e) => e,
            Self::WantRead => error::ssl_exception(
                py,
                "SSLWantReadError",
                (2, "The operation did not complete (read)"),
            ),
            Self::Shutdown => error::ssl_exception(
                py,
                "SSLZeroReturnError",
                (6, "TLS/SSL connection has been closed (EOF)"),
            ),
            Self::Reentered => PyValueError::new_err(
                "this SSLObject is in use by the current thread: it cannot be used from its own \
                 verify_callback (the handshake is running)",
            ),
        }
    }
}

/// What one attempt to take ciphertext from `incoming` found.
enum Input {
    /// Ciphertext was given to the session.
    Fed,
    /// `incoming` is empty.
    Empty,
    /// `incoming` is empty and at EOF; the session has been told.
    Eof,
}

/// The session and the ciphertext taken from `incoming` that it has not consumed yet.
struct BioState {
    session: Session,
    inbuf: Vec<u8>,
    /// `unwrap()` has queued our close_notify.
    shutdown: bool,
}

/// CPython's `ssl.SSLObject` over mpssl's engine (see the module documentation).
#[pyclass(name = "SSLObject", module = "mpssl", frozen, weakref)]
pub(crate) struct SslObject {
    state: Mutex<BioState>,
    /// The thread holding `state` (0: none), so its own `verify_callback` gets an error
    /// instead of waiting for itself.
    holder: AtomicU64,
    incoming: Py<PyAny>,
    outgoing: Py<PyAny>,
    /// The context (settable, as CPython's: an `sni_callback` may switch it).
    context: Mutex<Py<Context>>,
    server_side: bool,
    server_hostname: Option<String>,
}

/// This thread's number for [`SslObject::holder`] (never 0).
fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NUMBER: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER
        .try_with(|n| *n)
        .unwrap_or_else(|_| NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The state, locked by this thread; clears the holder when dropped.
struct Held<'a> {
    state: MutexGuard<'a, BioState>,
    holder: &'a AtomicU64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.holder.store(0, Ordering::Release);
    }
}

/// `incoming`/`outgoing` must be `ssl.MemoryBIO` objects.
fn check_bio(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<()> {
    let py = obj.py();
    let bio = error::ssl_class(py, "MemoryBIO")?;
    if obj.is_instance(&bio)? {
        return Ok(());
    }
    let name = obj
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    Err(PyTypeError::new_err(format!(
        "{what} must be an ssl.MemoryBIO, not {name}"
    )))
}

impl SslObject {
    /// The current context (see `set_context`).
    pub(crate) fn context_now(&self, py: Python<'_>) -> Py<Context> {
        self.context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone_ref(py)
    }

    /// `SSLContext.wrap_bio`: a new object over `incoming`/`outgoing` for `session`.
    pub(crate) fn new(
        session: Session,
        incoming: &Bound<'_, PyAny>,
        outgoing: &Bound<'_, PyAny>,
        context: Py<Context>,
        server_side: bool,
        server_hostname: Option<String>,
    ) -> PyResult<Self> {
        check_bio(incoming, "incoming")?;
        check_bio(outgoing, "outgoing")?;
        Ok(Self {
            state: Mutex::new(BioState {
                session,
                inbuf: Vec::new(),
                shutdown: false,
            }),
            holder: AtomicU64::new(0),
            incoming: incoming.clone().unbind(),
            outgoing: outgoing.clone().unbind(),
            context: Mutex::new(context),
            server_side,
            server_hostname,
        })
    }

    fn lock(&self) -> Result<Held<'_>, Fail> {
        let me = thread_number();
        if self.holder.load(Ordering::Acquire) == me {
            return Err(Fail::Reentered);
        }
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.holder.store(me, Ordering::Release);
        Ok(Held {
            state,
            holder: &self.holder,
        })
    }

    /// Run `f` on the locked state with the GIL released; BIO calls inside re-attach.
    fn run<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Self, &mut BioState) -> Result<R, Fail> + Send,
    ) -> PyResult<R> {
        let result = gil::detach(py, || {
            let mut held = self.lock()?;
            f(self, &mut held.state)
        });
        result.map_err(|e| e.into_py(py))
    }

    /// Move the ciphertext the session has queued to `outgoing`.
    fn flush(&self, st: &mut BioState) -> Result<(), Fail> {
        if !st.session.wants_write() {
            return Ok(());
        }
        let out = st.session.take_tls()?;
        if out.is_empty() {
            return Ok(());
        }
        gil::attach(|py| {
            let data = PyBytes::new(py, &out);
            gil::call_method1(
                self.outgoing.bind(py),
                pyo3::intern!(py, "write"),
                data.as_any(),
            )
            .map(drop)
        })?;
        Ok(())
    }

    /// Give the session more ciphertext from `incoming` (at most one chunk).
    fn fill(&self, st: &mut BioState) -> Result<Input, Fail> {
        if st.inbuf.is_empty() {
            let (data, eof) = gil::attach(|py| -> PyResult<(Vec<u8>, bool)> {
                let incoming = self.incoming.bind(py);
                let chunk = pyo3::types::PyInt::new(py, INCOMING_CHUNK);
                let data = gil::call_method1(incoming, pyo3::intern!(py, "read"), chunk.as_any())?;
                let data = data.cast_into::<PyBytes>().map_err(PyErr::from)?;
                let bytes = data.as_bytes().to_vec();
                if !bytes.is_empty() {
                    return Ok((bytes, false));
                }
                let eof = incoming.getattr(pyo3::intern!(py, "eof"))?.is_truthy()?;
                Ok((bytes, eof))
            })?;
            if data.is_empty() {
                if !eof {
                    return Ok(Input::Empty);
                }
                let fed = st.session.feed(&[]);
                return match fed {
                    Ok(_) => Ok(Input::Eof),
                    Err(e) => Err(self.failed(st, e)),
                };
            }
            st.inbuf = data;
        }
        match st.session.feed(&st.inbuf) {
            Ok(n) => {
                st.inbuf.drain(..n.min(st.inbuf.len()));
                Ok(Input::Fed)
            }
            Err(e) => Err(self.failed(st, e)),
        }
    }

    /// A fatal error while processing input: the alert rustls queued still goes out.
    fn failed(&self, st: &mut BioState, e: Error) -> Fail {
        if let Err(Fail::Python(raised)) = self.flush(st) {
            return Fail::Python(raised);
        }
        Fail::Engine(e)
    }

    /// Advance the handshake as far as the ciphertext in `incoming` allows.
    fn handshake(&self, st: &mut BioState) -> Result<(), Fail> {
        loop {
            st.session.check()?;
            self.flush(st)?;
            if !st.session.is_handshaking() {
                return Ok(());
            }
            match self.fill(st)? {
                Input::Fed => {}
                Input::Empty => return Err(Fail::WantRead),
                Input::Eof => {
                    let e = st
                        .session
                        .fail(Error::Protocol(ProtocolError::HandshakeEof));
                    return Err(Fail::Engine(e));
                }
            }
        }
    }

    /// Decrypt into `buf`: the count, 0 after the peer's close_notify.
    fn read_into(&self, st: &mut BioState, buf: &mut [u8]) -> Result<usize, Fail> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.handshake(st)?;
        loop {
            match st.session.read_plaintext(buf) {
                Ok(Some(0)) => {
                    self.flush(st)?;
                    if st.session.eof_was_clean() == Some(true) {
                        return Ok(0);
                    }
                    return Err(Fail::Engine(Error::Protocol(ProtocolError::HandshakeEof)));
                }
                Ok(Some(n)) => {
                    self.flush(st)?;
                    return Ok(n);
                }
                Ok(None) => {}
                Err(e) => return Err(self.failed(st, e)),
            }
            match self.fill(st)? {
                Input::Fed | Input::Eof => {}
                Input::Empty => {
                    self.flush(st)?;
                    return Err(Fail::WantRead);
                }
            }
        }
    }

    /// Encrypt all of `data` into `outgoing`.
    fn write_all(&self, st: &mut BioState, data: &[u8]) -> Result<usize, Fail> {
        if st.shutdown {
            return Err(Fail::Shutdown);
        }
        self.handshake(st)?;
        let mut rest = data;
        while !rest.is_empty() {
            let n = st.session.write_plaintext(rest)?;
            rest = &rest[n.min(rest.len())..];
            if n == 0 && !st.session.wants_write() {
                // Nothing taken and nothing queued to make room: cannot happen with rustls's
                // bounded buffer, which `flush` empties; stop rather than spin.
                break;
            }
            self.flush(st)?;
        }
        Ok(data.len() - rest.len())
    }

    /// Send close_notify (once) and wait for the peer's.
    fn shutdown(&self, st: &mut BioState) -> Result<(), Fail> {
        st.session.check()?;
        if st.session.is_handshaking() {
            return Err(Fail::Python(PyValueError::new_err(
                "unwrap() before the handshake completed",
            )));
        }
        if !st.shutdown {
            st.session.send_close_notify();
            st.shutdown = true;
        }
        self.flush(st)?;
        let mut scratch = [0u8; 4096];
        loop {
            // Application data that arrives after our close_notify is discarded.
            match st.session.read_plaintext(&mut scratch) {
                Ok(Some(0)) => {
                    if st.session.eof_was_clean() == Some(true) {
                        return Ok(());
                    }
                    return Err(Fail::Engine(Error::Protocol(ProtocolError::HandshakeEof)));
                }
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => return Err(self.failed(st, e)),
            }
            match self.fill(st)? {
                Input::Fed | Input::Eof => {}
                Input::Empty => return Err(Fail::WantRead),
            }
        }
    }

    /// Read the session's state without I/O.
    fn peek<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Session) -> R + Send,
    ) -> PyResult<R> {
        self.run(py, |_, st| Ok(f(&mut st.session)))
    }
}

#[pymethods]
impl SslObject {
    /// Advance the handshake; `ssl.SSLWantReadError` until it completes.
    fn do_handshake(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |this, st| this.handshake(st))
    }

    /// Read up to `len` bytes of plaintext (as bytes), or into `buffer` (returns the count).
    /// `b''`/0 after the peer's close_notify; `ssl.SSLWantReadError` when more ciphertext is
    /// needed.
    #[pyo3(signature = (len=1024, buffer=None))]
    fn read(
        &self,
        py: Python<'_>,
        len: i64,
        buffer: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(buffer) = buffer.filter(|b| !b.is_none()) {
            let mut target = WriteBuf::extract(buffer, "buffer")?;
            let size = match usize::try_from(len) {
                Ok(n) if n > 0 => n.min(target.len()),
                _ => target.len(),
            };
            let slice = &mut target.as_mut_slice()[..size];
            let n = self.run(py, move |this, st| this.read_into(st, slice))?;
            return Ok(n.into_pyobject(py)?.into_any().unbind());
        }
        let size = usize::try_from(len)
            .map_err(|_| PyValueError::new_err("size should not be negative"))?;
        let mut data = vec![0u8; size.min(READ_CAP)];
        let n = {
            let slice = data.as_mut_slice();
            self.run(py, move |this, st| this.read_into(st, slice))?
        };
        data.truncate(n);
        Ok(PyBytes::new(py, &data).into_any().unbind())
    }

    /// Encrypt all of `data` into `outgoing`; returns `len(data)`.
    #[pyo3(signature = (data, /))]
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let data = ReadBuf::extract(data, "data")?;
        let slice = data.as_slice();
        self.run(py, move |this, st| this.write_all(st, slice))
    }

    /// Send close_notify and complete the TLS shutdown: `ssl.SSLWantReadError` until the
    /// peer's close_notify has arrived, then `None`.
    fn unwrap(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |this, st| this.shutdown(st))
    }

    /// Decrypted bytes waiting to be read.
    fn pending(&self, py: Python<'_>) -> PyResult<usize> {
        self.peek(py, Session::pending)
    }

    /// The peer's certificate: DER bytes with `binary_form=True`, else CPython's dict; `None`
    /// when the peer sent none. Available in every verify mode, as on `SSLSocket`.
    #[pyo3(signature = (binary_form=false))]
    fn getpeercert(&self, py: Python<'_>, binary_form: bool) -> PyResult<Option<Py<PyAny>>> {
        let leaf: Option<Vec<u8>> = self.peek(py, |s| {
            s.peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
        })?;
        match leaf {
            None => Ok(None),
            Some(leaf) => peercert::cert_object(py, &leaf, binary_form).map(Some),
        }
    }

    /// CPython's `(name, version, secret_bits)`, with mpssl's suite name; `None` before the
    /// handshake.
    fn cipher(&self, py: Python<'_>) -> PyResult<Option<(&'static str, &'static str, u32)>> {
        self.peek(py, |s| {
            Some((s.cipher_name()?, s.protocol_version()?, s.cipher_bits()?))
        })
    }

    /// On the server side, after the handshake: the suites the client offered that the
    /// context enables, as on `SSLSocket`; `None` on the client or before the handshake.
    fn shared_ciphers(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let Some(shared) = self.peek(py, |s| s.shared_ciphers())? else {
            return Ok(None);
        };
        Ok(Some(PyList::new(py, shared)?.unbind()))
    }

    /// Always `None`: TLS compression is not supported.
    fn compression(&self) -> Option<String> {
        None
    }

    /// `'TLSv1.3'` or `'TLSv1.2'` once the handshake is done, else `None`.
    fn version(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        self.peek(py, |s| s.protocol_version())
    }

    /// The protocol ALPN selected, or `None` (none offered, or before the handshake).
    fn selected_alpn_protocol(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.peek(py, |s| {
            s.alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
    }

    /// Channel binding data, as on `SSLSocket` (the engine decides): `'tls-exporter'` (RFC
    /// 9266) on TLS 1.3, `None` on TLS 1.2 or before the handshake; `'tls-unique'` (not
    /// available with rustls) and unknown types raise `ValueError`.
    #[pyo3(signature = (cb_type="tls-unique"))]
    fn get_channel_binding(&self, py: Python<'_>, cb_type: &str) -> PyResult<Option<Py<PyBytes>>> {
        let kind = mpssl::ChannelBinding::from_name(cb_type).map_err(|e| error::to_py(py, e))?;
        let value = self
            .peek(py, move |s| s.channel_binding(kind))?
            .map_err(|e| error::to_py(py, e))?;
        Ok(value.map(|v| PyBytes::new(py, &v).unbind()))
    }

    /// The context this object was made by, or the one an `sni_callback` switched to.
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<Context> {
        self.context_now(py)
    }

    /// Switch the context (CPython's `sslobj.context = ctx`): inside an `sni_callback`, the
    /// server then presents that context's certificate; elsewhere only the attribute changes.
    #[setter]
    fn set_context(&self, value: &Bound<'_, Context>) {
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = value.clone().unbind();
    }

    /// True for the server end.
    #[getter]
    fn server_side(&self) -> bool {
        self.server_side
    }

    /// The `server_hostname` given to `wrap_bio`; on the server side, the name the client
    /// sent (SNI) once the handshake has read it.
    #[getter]
    fn server_hostname(&self, py: Python<'_>) -> PyResult<Option<String>> {
        if !self.server_side {
            return Ok(self.server_hostname.clone());
        }
        self.peek(py, |s| s.sni_hostname().map(str::to_owned))
    }

    /// True when the handshake resumed an earlier session.
    #[getter]
    fn session_reused(&self, py: Python<'_>) -> PyResult<bool> {
        self.peek(py, |s| s.session_reused())
    }

    /// Always `None`: sessions are resumed through the context (`session_resumption`), not
    /// through session objects.
    #[getter]
    fn session(&self) -> Option<Py<PyAny>> {
        None
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let side = if self.server_side { "server" } else { "client" };
        let info = self.peek(py, |s| match (s.protocol_version(), s.cipher_name()) {
            (Some(v), Some(c)) => format!("{v} {c}"),
            _ => "handshaking".to_owned(),
        });
        format!(
            "<SSLObject {side} {}>",
            info.unwrap_or_else(|_| "handshaking".to_owned())
        )
    }
}
