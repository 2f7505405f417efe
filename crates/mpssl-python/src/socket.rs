//! `SSLSocket`: a TLS stream over a wrapped Python socket, with MicroPython's semantics.
//!
//! Every operation runs with the GIL released and the socket's lock held; the lock is taken
//! only after the GIL is released, so a thread blocked in I/O never holds the GIL while another
//! waits for the lock. Object transports re-attach for each Python call.

use std::os::fd::RawFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use mpssl::stream::{self, Driver};
use mpssl::{Error, Session, TlsStream};

use crate::buf::{ReadBuf, WriteBuf};
use crate::context::Context;
use crate::error;
use crate::gil;
use crate::pysock::{poll_fd, Mode, Transport};

/// `selectors.EVENT_READ` / `EVENT_WRITE`.
const EVENT_READ: u8 = 1;
const EVENT_WRITE: u8 = 2;

struct State {
    stream: TlsStream<Transport>,
    /// The wrapped object has been closed by us.
    sock_closed: bool,
}

/// MicroPython's `SSLSocket`.
#[pyclass(name = "SSLSocket", module = "mpssl", frozen)]
pub(crate) struct SslSocket {
    state: Mutex<State>,
    sock: Py<PyAny>,
    context: Py<Context>,
    server_side: bool,
    server_hostname: Option<String>,
    /// The descriptor of a real socket (fast path), waited on outside the lock.
    fd: Option<RawFd>,
}

/// What a low-level step does when the transport would block.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// Report it (non-blocking socket, or an object that blocks by itself).
    Never,
    /// Wait for the descriptor, until the deadline if any (socket time-out).
    Until(Option<Instant>),
    /// No descriptor to wait on: retry after a millisecond (the reference's handshake loop).
    Spin,
}

/// Runs steps with the socket's lock held, and waits for the transport without it.
struct Locked<'a> {
    socket: &'a SslSocket,
    wait: Wait,
}

impl Driver for Locked<'_> {
    type Io = Transport;

    fn step<R>(
        &mut self,
        op: &mut dyn FnMut(&mut TlsStream<Transport>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        loop {
            let (result, interest) = {
                let mut state = self.socket.lock();
                let result = op(&mut state.stream);
                (result, state.stream.interest())
            };
            match (result, self.wait, self.socket.fd) {
                (Err(Error::WouldBlock), Wait::Until(deadline), Some(fd)) => {
                    poll_fd(fd, interest, deadline).map_err(Error::Io)?;
                }
                (Err(Error::WouldBlock), Wait::Spin, _) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                (other, _, _) => return other,
            }
        }
    }
}

impl SslSocket {
    pub(crate) fn new(
        session: Session,
        transport: Transport,
        sock: Py<PyAny>,
        context: Py<Context>,
        server_side: bool,
        server_hostname: Option<String>,
    ) -> Self {
        let fd = match &transport {
            Transport::Fd(fd) => Some(fd.raw()),
            Transport::Object(_) => None,
        };
        Self {
            state: Mutex::new(State {
                stream: TlsStream::new(session, transport),
                sock_closed: false,
            }),
            sock,
            context,
            server_side,
            server_hostname,
            fd,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How this call waits: from the socket's time-out (`None` blocks, `0.0` never waits, `t`
    /// waits until t seconds from now). `always` waits even on a non-blocking socket.
    fn wait_policy(&self, py: Python<'_>, always: bool) -> PyResult<Wait> {
        if self.fd.is_none() {
            return Ok(if always { Wait::Spin } else { Wait::Never });
        }
        Ok(match Mode::of(self.sock.bind(py))? {
            Mode::NonBlocking if always => Wait::Until(None),
            Mode::NonBlocking => Wait::Never,
            Mode::Blocking => Wait::Until(None),
            Mode::Timeout(t) => Wait::Until(Instant::now().checked_add(t)),
        })
    }

    /// Run `op` with the GIL released, waiting as the socket's mode says.
    fn run<R, F>(&self, py: Python<'_>, always_wait: bool, op: F) -> PyResult<R>
    where
        R: Send,
        F: FnOnce(&mut Locked<'_>) -> Result<R, Error> + Send,
    {
        let wait = self.wait_policy(py, always_wait)?;
        let result = gil::detach(py, || op(&mut Locked { socket: self, wait }));
        result.map_err(|e| error::to_py(py, e))
    }

    /// Serve a read from plaintext that is already decrypted, with the GIL held: no I/O, no
    /// waiting, no time-out lookup. `take` says how many bytes to copy given how many the
    /// first buffered chunk holds (`None`: the slow path must run). Never blocks on the lock.
    fn read_buffered(&self, take: impl FnOnce(&mut Session) -> Option<usize>) -> Option<Vec<u8>> {
        let mut state = self.state.try_lock().ok()?;
        let session = state.stream.session_mut();
        if session.is_handshaking() || session.is_invalid() {
            return None;
        }
        let n = take(session)?;
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match session.read_plaintext(&mut out[got..]) {
                Ok(Some(k)) if k > 0 => got += k,
                _ => break,
            }
        }
        if got == n {
            return Some(out);
        }
        // Not all there after all: give back what was taken, and let the slow path run.
        session.unread(&out[..got]);
        None
    }

    /// Complete the handshake, waiting on the transport even when it is non-blocking (as the
    /// reference's `wrap_socket` does).
    pub(crate) fn handshake_blocking(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, true, |d| d.step(&mut |s| s.handshake()))
    }
}

/// A would-block from a low-level call becomes `None`.
fn none_on_block<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Error::WouldBlock) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A size argument: negative means "no limit".
fn size_arg(n: i64) -> Option<usize> {
    usize::try_from(n).ok()
}

#[pymethods]
impl SslSocket {
    /// Read `n` bytes (blocking: waits for n bytes or EOF); `read()` reads to EOF.
    /// Non-blocking: `None` when nothing is available yet.
    #[pyo3(signature = (n=-1, /), text_signature = "(self, n=-1, /)")]
    fn read(&self, py: Python<'_>, n: i64) -> PyResult<Option<Py<PyBytes>>> {
        if n == 0 {
            return Ok(Some(PyBytes::new(py, b"").unbind()));
        }
        let limit = size_arg(n).unwrap_or(usize::MAX);
        if limit != usize::MAX {
            let fast = self.read_buffered(|s| (s.pending() >= limit).then_some(limit));
            if let Some(data) = fast {
                return Ok(Some(PyBytes::new(py, &data).unbind()));
            }
        }
        let data = self.run(py, false, move |d| stream::read_stream_to_vec(d, limit))?;
        Ok(data.map(|d| PyBytes::new(py, &d).unbind()))
    }

    /// Read into `buf` (up to `nbytes`), waiting for all of it or EOF when blocking.
    #[pyo3(signature = (buf, nbytes=None, /))]
    fn readinto(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        nbytes: Option<i64>,
    ) -> PyResult<Option<usize>> {
        let mut target = WriteBuf::extract(buf, "buf")?;
        let len = match nbytes {
            None => target.len(),
            Some(n) => size_arg(n)
                .ok_or_else(|| PyValueError::new_err("nbytes must not be negative"))?
                .min(target.len()),
        };
        if len == 0 {
            return Ok(Some(0));
        }
        let slice = &mut target.as_mut_slice()[..len];
        self.run(py, false, move |d| stream::read_stream(d, slice))
    }

    /// `readinto`, under CPython's name (it loops, as the reference's does).
    #[pyo3(signature = (buf, nbytes=None, /))]
    fn recv_into(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        nbytes: Option<i64>,
    ) -> PyResult<Option<usize>> {
        self.readinto(py, buf, nbytes)
    }

    /// Read a line (up to and including `\n`, EOF, or `limit` bytes).
    #[pyo3(signature = (limit=-1, /), text_signature = "(self, limit=-1, /)")]
    fn readline(&self, py: Python<'_>, limit: i64) -> PyResult<Option<Py<PyBytes>>> {
        if limit == 0 {
            return Ok(Some(PyBytes::new(py, b"").unbind()));
        }
        let limit = size_arg(limit);
        let max = limit.unwrap_or(usize::MAX);
        if let Some(line) = self.read_buffered(|s| s.buffered_line_len(b'\n', max)) {
            return Ok(Some(PyBytes::new(py, &line).unbind()));
        }
        let line = self.run(py, false, move |d| stream::read_line(d, limit))?;
        Ok(line.map(|l| PyBytes::new(py, &l).unbind()))
    }

    /// One TLS read: returns as soon as any plaintext is available (at most `n` bytes).
    #[pyo3(signature = (n=1024, /))]
    fn recv(&self, py: Python<'_>, n: i64) -> PyResult<Option<Py<PyBytes>>> {
        let n = size_arg(n).ok_or_else(|| PyValueError::new_err("negative buffersize in recv"))?;
        if n == 0 {
            return Ok(Some(PyBytes::new(py, b"").unbind()));
        }
        let cap = n.min(mpssl::MAX_RECORD * 4);
        if let Some(data) = self.read_buffered(|s| Some(s.pending().min(cap)).filter(|k| *k > 0)) {
            return Ok(Some(PyBytes::new(py, &data).unbind()));
        }
        let data = self.run(py, false, move |d| {
            let mut buf = vec![0u8; cap];
            let n = none_on_block(d.step(&mut |s| s.read_some(&mut buf)))?;
            Ok(n.map(|k| {
                buf.truncate(k);
                buf
            }))
        })?;
        Ok(data.map(|d| PyBytes::new(py, &d).unbind()))
    }

    /// Write all of `buf` (returns the count); non-blocking: `None` if nothing could be sent,
    /// else the partial count (repeat with the rest: see `stream::write_stream`).
    #[pyo3(signature = (buf, /))]
    fn write(&self, py: Python<'_>, buf: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        let data = ReadBuf::extract(buf, "buf")?;
        let slice = data.as_slice();
        if slice.is_empty() {
            return Ok(Some(0));
        }
        self.run(py, false, move |d| stream::write_stream(d, slice))
    }

    /// `write`, under CPython's name.
    #[pyo3(signature = (buf, /))]
    fn sendall(&self, py: Python<'_>, buf: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        self.write(py, buf)
    }

    /// One TLS record: at most 16384 bytes of `buf`; returns the count sent.
    #[pyo3(signature = (buf, /))]
    fn send(&self, py: Python<'_>, buf: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        let data = ReadBuf::extract(buf, "buf")?;
        let slice = data.as_slice();
        if slice.is_empty() {
            return Ok(Some(0));
        }
        self.run(py, false, move |d| stream::write_record(d, slice))
    }

    /// Advance the handshake: `True` when complete, `None` if the socket would block.
    fn do_handshake(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        self.run(py, false, |d| {
            none_on_block(d.step(&mut |s| s.handshake()).map(|()| true))
        })
    }

    /// Forward to the wrapped object's `setblocking` and return its result.
    #[pyo3(signature = (flag, /))]
    fn setblocking(&self, py: Python<'_>, flag: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let sock = self.sock.bind(py);
        Ok(gil::call_method1(sock, pyo3::intern!(py, "setblocking"), flag)?.unbind())
    }

    /// Forward to the wrapped object's `settimeout`.
    #[pyo3(signature = (value, /))]
    fn settimeout(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let sock = self.sock.bind(py);
        Ok(gil::call_method1(sock, pyo3::intern!(py, "settimeout"), value)?.unbind())
    }

    /// The wrapped object's `gettimeout()`.
    fn gettimeout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let sock = self.sock.bind(py);
        Ok(gil::call_method0(sock, pyo3::intern!(py, "gettimeout"))?.unbind())
    }

    /// The wrapped socket's file descriptor.
    fn fileno(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let sock = self.sock.bind(py);
        Ok(gil::call_method0(sock, pyo3::intern!(py, "fileno"))?.unbind())
    }

    /// Decrypted bytes readable without touching the socket.
    fn pending(&self, py: Python<'_>) -> usize {
        gil::detach(py, || self.lock().stream.session_mut().pending())
    }

    /// `selectors.EVENT_READ`/`EVENT_WRITE` bits the last unfinished call waits on.
    fn wants(&self, py: Python<'_>) -> u8 {
        let interest = gil::detach(py, || self.lock().stream.interest());
        let mut mask = 0;
        if interest.read {
            mask |= EVENT_READ;
        }
        if interest.write {
            mask |= EVENT_WRITE;
        }
        mask
    }

    /// `(suite, version)`, e.g. `('TLS-AES-256-GCM-SHA384', 'TLSv1.3')`; `None` before the
    /// handshake or after close.
    fn cipher(&self, py: Python<'_>) -> Option<(&'static str, &'static str)> {
        gil::detach(py, || {
            let state = self.lock();
            let session = state.stream.session();
            if session.is_closed() {
                return None;
            }
            Some((session.cipher_name()?, session.protocol_version()?))
        })
    }

    /// `'TLSv1.3'` or `'TLSv1.2'` once the handshake is done.
    fn version(&self, py: Python<'_>) -> Option<&'static str> {
        gil::detach(py, || {
            let state = self.lock();
            let session = state.stream.session();
            if session.is_closed() {
                return None;
            }
            session.protocol_version()
        })
    }

    /// The negotiated key-exchange group, e.g. `'X25519MLKEM768'`.
    fn key_exchange_group(&self, py: Python<'_>) -> Option<String> {
        gil::detach(py, || self.lock().stream.session().key_exchange_group())
    }

    /// The peer's leaf certificate: DER bytes with `binary_form=True`, else CPython's dict.
    /// Available in every verify mode (Difference to CPython: not only after verification).
    #[pyo3(signature = (binary_form=false))]
    fn getpeercert(&self, py: Python<'_>, binary_form: bool) -> PyResult<Option<Py<PyAny>>> {
        let leaf: Option<Vec<u8>> = gil::detach(py, || {
            let state = self.lock();
            state
                .stream
                .session()
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
        });
        let Some(leaf) = leaf else {
            return Ok(None);
        };
        if binary_form {
            return Ok(Some(PyBytes::new(py, &leaf).into_any().unbind()));
        }
        let Some(info) = mpssl::peer::cert_info(&leaf) else {
            return Ok(Some(PyDict::new(py).into_any().unbind()));
        };
        let dict = PyDict::new(py);
        let name = |rdns: &Vec<Vec<(String, String)>>| -> PyResult<Bound<'_, PyTuple>> {
            let items = rdns
                .iter()
                .map(|rdn| PyTuple::new(py, rdn.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, items)
        };
        dict.set_item("subject", name(&info.subject)?)?;
        dict.set_item("issuer", name(&info.issuer)?)?;
        dict.set_item("version", info.version)?;
        dict.set_item("serialNumber", &info.serial_number)?;
        dict.set_item("notBefore", &info.not_before)?;
        dict.set_item("notAfter", &info.not_after)?;
        if !info.subject_alt_name.is_empty() {
            let san = PyTuple::new(
                py,
                info.subject_alt_name
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )?;
            dict.set_item("subjectAltName", san)?;
        }
        Ok(Some(dict.into_any().unbind()))
    }

    /// The peer's certificate chain as DER bytes, leaf first.
    fn get_peer_cert_chain(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let chain: Option<Vec<Vec<u8>>> = gil::detach(py, || {
            let state = self.lock();
            state
                .stream
                .session()
                .peer_certificates()
                .map(|c| c.iter().map(|d| d.to_vec()).collect())
        });
        match chain {
            None => Ok(None),
            Some(chain) => {
                let items: Vec<Bound<'_, PyBytes>> =
                    chain.iter().map(|d| PyBytes::new(py, d)).collect();
                Ok(Some(PyList::new(py, items)?.unbind()))
            }
        }
    }

    /// Send close_notify (once, best effort), then close the wrapped object. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let first = gil::detach(py, || {
            let mut state = self.lock();
            state.stream.close();
            !std::mem::replace(&mut state.sock_closed, true)
        });
        if first {
            let sock = self.sock.bind(py);
            if sock.hasattr("close")? {
                gil::call_method0(sock, pyo3::intern!(py, "close"))?;
            }
        }
        Ok(())
    }

    /// The context this socket was wrapped by.
    #[getter]
    fn context(&self, py: Python<'_>) -> Py<Context> {
        self.context.clone_ref(py)
    }

    /// True when wrapped with `server_side=True`.
    #[getter]
    fn server_side(&self) -> bool {
        self.server_side
    }

    /// The `server_hostname` given to `wrap_socket`.
    #[getter]
    fn server_hostname(&self) -> Option<String> {
        self.server_hostname.clone()
    }

    /// True when the handshake resumed an earlier session.
    #[getter]
    fn session_reused(&self, py: Python<'_>) -> bool {
        gil::detach(py, || self.lock().stream.session().session_reused())
    }

    /// After EOF: `True` for close_notify, `False` for a bare TCP EOF; `None` before EOF.
    #[getter]
    fn eof_was_clean(&self, py: Python<'_>) -> Option<bool> {
        gil::detach(py, || self.lock().stream.session().eof_was_clean())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let side = if self.server_side { "server" } else { "client" };
        gil::detach(py, || {
            let state = self.lock();
            let session = state.stream.session();
            if session.is_closed() {
                return format!("<SSLSocket {side} closed>");
            }
            match (session.protocol_version(), session.cipher_name()) {
                (Some(v), Some(c)) => format!("<SSLSocket {side} {v} {c}>"),
                _ => format!("<SSLSocket {side} handshaking>"),
            }
        })
    }
}

impl SslSocket {
    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        let closed = gil::detach(py, || self.lock().sock_closed);
        if closed {
            return Err(PyOSError::new_err((
                libc::EBADF,
                "the TLS socket is closed",
            )));
        }
        Ok(())
    }
}
