//! `SSLSocket`: a TLS stream over a wrapped Python socket, with MicroPython's semantics.
//!
//! Every operation runs with the GIL released and the socket's lock held; the lock is taken
//! only after the GIL is released, so a thread blocked in I/O never holds the GIL while another
//! waits for the lock. Object transports re-attach for each Python call.
//!
//! Each call on a real socket first checks that the wrapped socket object is still open, and
//! a call that waits does so on its own checked duplicate of the descriptor (issue 9, defect
//! 1): after `sock.close()` the calls fail with `EBADF`, and a waiting call never reaches
//! whatever socket got the old number (see `pysock::FdSocket`).

use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyModule, PyTuple};

use mpssl::stream::{self, Buffered, Driver};
use mpssl::{Error, Session, TlsStream};

use crate::buf::{self, BigBuf, StreamData, WriteBuf};
use crate::context::Context;
use crate::error;
use crate::gil;
use crate::peercert;
use crate::pysock::{self, poll_fd, Identity, Mode, Transport};

/// The piece a long `read()`/`readline()` reads at a time (a longer one goes into a `BigBuf`).
const READ_PIECE: usize = 1 << 20;

/// Most bytes `close()` reads and drops from the descriptor before closing it.
const DISCARD_ON_CLOSE: usize = 1 << 20;

/// `selectors.EVENT_READ` / `EVENT_WRITE`.
const EVENT_READ: u8 = 1;
const EVENT_WRITE: u8 = 2;

struct State {
    stream: TlsStream<Transport>,
    /// The wrapped object has been closed by us.
    sock_closed: bool,
}

/// MicroPython's `SSLSocket`.
#[pyclass(name = "SSLSocket", module = "mpssl", frozen, weakref)]
pub(crate) struct SslSocket {
    state: Mutex<State>,
    /// The thread holding `state` through [`SslSocket::lock`] (0: none), so that a call from
    /// that same thread (a `verify_callback` touching its own socket) fails instead of
    /// waiting for itself forever (issue 9, defect 6).
    holder: AtomicU64,
    sock: Py<PyAny>,
    /// The context: the one wrapped by, or one an `sni_callback` set (`sslsocket.context =`);
    /// its own lock, so the callback can set it while the handshake holds `state`.
    context: Mutex<Py<Context>>,
    server_side: bool,
    server_hostname: Option<String>,
    /// The identity of a real socket driven by descriptor (waited on with `poll`).
    identity: Option<Identity>,
    /// Files from `makefile()` still open (CPython's `socket._io_refs`): `close()` waits for
    /// the last one.
    io_refs: AtomicUsize,
    /// `close()` was called (CPython's `socket._closed`); done when `io_refs` reaches 0.
    close_requested: AtomicBool,
}

/// The pure-Python helpers of the CPython socket API (`mpssl._sockio`), installed by the
/// `mpssl` package when it is imported.
static SOCKIO: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Install `mpssl._sockio` (called once by `mpssl/__init__.py`).
#[pyfunction]
pub(crate) fn _install_sockio(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let _ = SOCKIO.set(py, module.clone().unbind());
    Ok(())
}

/// `mpssl._sockio.<name>(a, b)`.
fn sockio_call<'py>(
    py: Python<'py>,
    name: &Bound<'py, pyo3::types::PyString>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let module = SOCKIO
        .get(py)
        .ok_or_else(|| PyRuntimeError::new_err("import mpssl before using this method"))?;
    let function = module.bind(py).getattr(name)?;
    gil::call2(&function, a, b)
}

/// This thread's number for [`SslSocket::holder`] (never 0).
fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NUMBER: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    // During thread teardown the thread-local may be gone: a fresh number is unique too.
    NUMBER
        .try_with(|n| *n)
        .unwrap_or_else(|_| NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The socket's state, locked by this thread.
struct Guard<'a> {
    state: MutexGuard<'a, State>,
    holder: &'a AtomicU64,
}

impl Deref for Guard<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Cleared before the mutex is released (fields drop after this body).
        self.holder.store(0, Ordering::Release);
    }
}

/// The error for a call made by the thread that already holds the socket (from inside its
/// own handshake, i.e. from its `verify_callback`).
fn reentered() -> Error {
    Error::Io(
        error::carry(
            io::ErrorKind::Deadlock,
            PyOSError::new_err((
                libc::EDEADLK,
                "this SSLSocket is in use by the current thread: it cannot be used from its own \
                 verify_callback (the handshake is running); use it after the handshake",
            )),
        )
        .into(),
    )
}

/// `OSError(EBADF)`: the wrapped socket was closed.
fn closed_descriptor() -> Error {
    Error::Io(io::Error::from_raw_os_error(libc::EBADF).into())
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
    /// The wrapped socket's descriptor, found open when the call started.
    fd: Option<RawFd>,
    /// The call's own duplicate of it, taken (and checked) before the call first waits.
    held: Option<OwnedFd>,
}

impl Driver for Locked<'_> {
    type Io = Transport;

    fn step<R>(
        &mut self,
        op: &mut dyn FnMut(&mut TlsStream<Transport>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        loop {
            let (result, interest, timer) = {
                let mut state = self.socket.lock()?;
                let fd = self.held.as_ref().map(AsRawFd::as_raw_fd).or(self.fd);
                state.stream.get_mut().install(fd);
                let result = op(&mut state.stream);
                state.stream.get_mut().install(None);
                // A DTLS session's next retransmission: wait no longer than that.
                let timer = state
                    .stream
                    .session()
                    .next_timeout()
                    .and_then(|t| Instant::now().checked_add(t));
                (result, state.stream.interest(), timer)
            };
            match (result, self.wait) {
                (Err(Error::WouldBlock), Wait::Until(deadline)) => {
                    // Wait (and go on) on our own duplicate, open while we hold it.
                    if self.held.is_none() {
                        let (Some(fd), Some(identity)) = (self.fd, self.socket.identity) else {
                            return Err(closed_descriptor());
                        };
                        self.held = Some(
                            pysock::dup_checked(fd, identity).map_err(|e| Error::Io(e.into()))?,
                        );
                    }
                    let fd = self.held.as_ref().map_or(-1, AsRawFd::as_raw_fd);
                    let until = match (deadline, timer) {
                        (Some(d), Some(t)) => Some(d.min(t)),
                        (d, None) => d,
                        (None, t) => t,
                    };
                    match poll_fd(fd, interest, until) {
                        Ok(()) => {}
                        // The DTLS timer, not the socket's time-out: run the step again (it
                        // retransmits).
                        Err(e)
                            if e.kind() == io::ErrorKind::TimedOut
                                && timer.is_some()
                                && deadline.is_none_or(|d| Instant::now() < d) => {}
                        Err(e) => return Err(Error::Io(e.into())),
                    }
                }
                (Err(Error::WouldBlock), Wait::Spin) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                (other, _) => return other,
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
        let identity = match &transport {
            Transport::Fd(socket) => Some(socket.identity()),
            Transport::Object(_) => None,
        };
        Self {
            state: Mutex::new(State {
                stream: TlsStream::new(session, transport),
                sock_closed: false,
            }),
            holder: AtomicU64::new(0),
            sock,
            context: Mutex::new(context),
            server_side,
            server_hostname,
            identity,
            io_refs: AtomicUsize::new(0),
            close_requested: AtomicBool::new(false),
        }
    }

    /// Lock the state; a thread that already holds it gets an error instead of a deadlock.
    fn lock(&self) -> Result<Guard<'_>, Error> {
        let me = thread_number();
        if self.holder.load(Ordering::Acquire) == me {
            return Err(reentered());
        }
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.holder.store(me, Ordering::Release);
        Ok(Guard {
            state,
            holder: &self.holder,
        })
    }

    /// [`SslSocket::lock`] with the GIL released, then `f` on the state.
    fn with_state<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State) -> R + Send,
    ) -> PyResult<R> {
        gil::detach(py, || self.lock().map(|mut state| f(&mut state)))
            .map_err(|e| error::to_py(py, e))
    }

    /// Start a call on a real socket: `EBADF` once the application closed the wrapped socket
    /// itself (`sock.close()`), else its descriptor, found open with the GIL held.
    fn enter(&self, py: Python<'_>) -> PyResult<Option<RawFd>> {
        if self.identity.is_none() {
            return Ok(None);
        }
        let fd: i64 =
            gil::call_method0(self.sock.bind(py), pyo3::intern!(py, "fileno"))?.extract()?;
        match RawFd::try_from(fd) {
            Ok(fd) if fd >= 0 => Ok(Some(fd)),
            _ => Err(error::to_py(py, closed_descriptor())),
        }
    }

    /// How this call waits: from the socket's time-out (`None` blocks, `0.0` never waits, `t`
    /// waits until t seconds from now). `always` waits even on a non-blocking socket.
    fn wait_policy(&self, py: Python<'_>, always: bool) -> PyResult<Wait> {
        if self.identity.is_none() {
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
        let fd = self.enter(py)?;
        let wait = self.wait_policy(py, always_wait)?;
        let result = gil::detach(py, || {
            op(&mut Locked {
                socket: self,
                wait,
                fd,
                held: None,
            })
        });
        result.map_err(|e| error::to_py(py, e))
    }

    /// Serve a read from plaintext already decrypted ([`TlsStream::read_buffered`]) with the
    /// GIL held: no I/O, no waiting, no time-out lookup; the bytes object is made from the
    /// plaintext in place. `None`: the full read must run. Never waits for the lock.
    ///
    /// The wrapped socket is not checked here (a `fileno()` call would cost as much as the
    /// read itself): these bytes came from the wrapped connection, and no descriptor is used.
    fn read_buffered<'py>(&self, py: Python<'py>, want: Buffered) -> Option<Bound<'py, PyBytes>> {
        let mut state = self.state.try_lock().ok()?;
        state
            .stream
            .read_buffered(want, |data| PyBytes::new(py, data))
    }

    /// A stream read of up to `max` bytes in pieces of at most [`READ_PIECE`]: `read(d, n)`
    /// reads one piece of up to `n` bytes, `ends(piece, n)` says the read is complete. A read
    /// longer than one piece is gathered in a [`BigBuf`], so the peak memory stays near the
    /// data's size (issue 9, defect 7); a time-out gives every piece back. `None`: would block
    /// before any byte; a would-block later returns what arrived.
    fn gather<'py, F>(
        &self,
        py: Python<'py>,
        max: usize,
        read: F,
        ends: impl Fn(&[u8], usize) -> bool,
    ) -> PyResult<Option<Bound<'py, PyBytes>>>
    where
        F: Fn(&mut Locked<'_>, usize) -> Result<Option<Vec<u8>>, Error> + Sync,
    {
        let step = max.min(READ_PIECE);
        let read = &read;
        let Some(first) = self.run(py, false, move |d| read(d, step))? else {
            return Ok(None);
        };
        if ends(&first, step) || first.len() >= max {
            return Ok(Some(PyBytes::new(py, &first)));
        }
        let mut all = BigBuf::new();
        all.extend(&first)?;
        drop(first);
        while all.len() < max {
            let step = (max - all.len()).min(READ_PIECE);
            let taken = all.as_slice();
            let piece = self.run(py, false, move |d| {
                stream::continued(d, taken, |d| read(d, step))
            })?;
            let Some(piece) = piece else { break };
            all.extend(&piece)?;
            if ends(&piece, step) {
                break;
            }
        }
        Ok(Some(all.into_bytes(py)?))
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
            if let Some(data) = self.read_buffered(py, Buffered::Exactly(limit)) {
                return Ok(Some(data.unbind()));
            }
        }
        let ends = |piece: &[u8], asked: usize| piece.len() < asked;
        let read = |d: &mut Locked<'_>, step| stream::read_stream_to_vec(d, step);
        Ok(self.gather(py, limit, read, ends)?.map(Bound::unbind))
    }

    /// Read into `buf` (up to `nbytes`; negative: all of `buf`, as MicroPython's `size_t`),
    /// waiting for all of it or EOF when blocking.
    #[pyo3(signature = (buf, nbytes=None, /))]
    fn readinto(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        nbytes: Option<i64>,
    ) -> PyResult<Option<usize>> {
        let mut target = WriteBuf::extract(buf, "buf")?;
        let len = match nbytes.map(size_arg) {
            Some(Some(n)) => n.min(target.len()),
            // None, or negative (a huge size_t in MicroPython): the whole buffer.
            _ => target.len(),
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
        let max = size_arg(limit).unwrap_or(usize::MAX);
        if let Some(line) = self.read_buffered(py, Buffered::Line(max)) {
            return Ok(Some(line.unbind()));
        }
        let ends = |piece: &[u8], asked: usize| piece.len() < asked || piece.ends_with(b"\n");
        let read = |d: &mut Locked<'_>, step| stream::read_line(d, Some(step));
        Ok(self.gather(py, max, read, ends)?.map(Bound::unbind))
    }

    /// One TLS read: returns as soon as any plaintext is available (at most `n` bytes).
    #[pyo3(signature = (n=1024, /))]
    fn recv(&self, py: Python<'_>, n: i64) -> PyResult<Option<Py<PyBytes>>> {
        let n = size_arg(n).ok_or_else(|| PyValueError::new_err("negative buffersize in recv"))?;
        if n == 0 {
            return Ok(Some(PyBytes::new(py, b"").unbind()));
        }
        let cap = n.min(mpssl::MAX_RECORD * 4);
        if let Some(data) = self.read_buffered(py, Buffered::UpTo(cap)) {
            return Ok(Some(data.unbind()));
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
    ///
    /// MicroPython's forms: `write(buf, n)` writes at most `n` bytes, `write(buf, off, n)`
    /// starts at `off`; a `str` is written as its UTF-8 encoding.
    #[pyo3(signature = (buf, off_or_n=None, n=None, /))]
    fn write(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        off_or_n: Option<&Bound<'_, PyAny>>,
        n: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<usize>> {
        let data = StreamData::extract(buf, "buf")?;
        let slice = buf::window(data.as_slice(), off_or_n, n)?;
        if slice.is_empty() {
            return Ok(Some(0));
        }
        self.run(py, false, move |d| stream::write_stream(d, slice))
    }

    /// `write`, under CPython's name.
    #[pyo3(signature = (buf, off_or_n=None, n=None, /))]
    fn sendall(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        off_or_n: Option<&Bound<'_, PyAny>>,
        n: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<usize>> {
        self.write(py, buf, off_or_n, n)
    }

    /// One TLS record: at most 16384 bytes of `buf`; returns the count sent. Takes the same
    /// forms as `write`.
    #[pyo3(signature = (buf, off_or_n=None, n=None, /))]
    fn send(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        off_or_n: Option<&Bound<'_, PyAny>>,
        n: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<usize>> {
        let data = StreamData::extract(buf, "buf")?;
        let slice = buf::window(data.as_slice(), off_or_n, n)?;
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
        Ok(gil::call_method1(self.sock.bind(py), pyo3::intern!(py, "setblocking"), flag)?.unbind())
    }

    /// Forward to the wrapped object's `settimeout`.
    #[pyo3(signature = (value, /))]
    fn settimeout(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        Ok(gil::call_method1(self.sock.bind(py), pyo3::intern!(py, "settimeout"), value)?.unbind())
    }

    /// The wrapped object's `gettimeout()`.
    fn gettimeout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(gil::call_method0(self.sock.bind(py), pyo3::intern!(py, "gettimeout"))?.unbind())
    }

    /// The wrapped socket's file descriptor.
    fn fileno(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(gil::call_method0(self.sock.bind(py), pyo3::intern!(py, "fileno"))?.unbind())
    }

    /// Decrypted bytes readable without touching the socket.
    fn pending(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_state(py, |state| state.stream.pending())
    }

    /// `selectors.EVENT_READ`/`EVENT_WRITE` bits the last unfinished call waits on.
    fn wants(&self, py: Python<'_>) -> PyResult<u8> {
        let interest = self.with_state(py, |state| state.stream.interest())?;
        let mut mask = 0;
        if interest.read {
            mask |= EVENT_READ;
        }
        if interest.write {
            mask |= EVENT_WRITE;
        }
        Ok(mask)
    }

    /// `(suite, version)`, e.g. `('TLS-AES-256-GCM-SHA384', 'TLSv1.3')`; `None` before the
    /// handshake or after close.
    fn cipher(&self, py: Python<'_>) -> PyResult<Option<(&'static str, &'static str)>> {
        self.with_state(py, |state| {
            let session = state.stream.session();
            if session.is_closed() {
                return None;
            }
            Some((session.cipher_name()?, session.protocol_version()?))
        })
    }

    /// `'TLSv1.3'` or `'TLSv1.2'` once the handshake is done.
    fn version(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        self.with_state(py, |state| {
            let session = state.stream.session();
            if session.is_closed() {
                return None;
            }
            session.protocol_version()
        })
    }

    /// The negotiated key-exchange group, e.g. `'X25519MLKEM768'`.
    fn key_exchange_group(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.with_state(py, |state| state.stream.session().key_exchange_group())
    }

    /// The peer's leaf certificate: DER bytes with `binary_form=True`, else CPython's dict.
    /// Available in every verify mode (Difference to CPython: not only after verification).
    #[pyo3(signature = (binary_form=false))]
    fn getpeercert(&self, py: Python<'_>, binary_form: bool) -> PyResult<Option<Py<PyAny>>> {
        let leaf: Option<Vec<u8>> = self.with_state(py, |state| {
            state
                .stream
                .session()
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
        })?;
        let Some(leaf) = leaf else {
            return Ok(None);
        };
        peercert::cert_object(py, &leaf, binary_form).map(Some)
    }

    /// The peer's certificate chain as DER bytes, leaf first.
    fn get_peer_cert_chain(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let chain: Option<Vec<Vec<u8>>> = self.with_state(py, |state| {
            state
                .stream
                .session()
                .peer_certificates()
                .map(|c| c.iter().map(|d| d.to_vec()).collect())
        })?;
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
    /// When the application already closed the wrapped socket, nothing is sent. While files
    /// from `makefile()` are open, this waits for the last of them to close (as CPython's
    /// socket does), which then closes the connection.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.close_requested.store(true, Ordering::SeqCst);
        if self.io_refs.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        self.close_now(py)
    }

    /// CPython's `socket.makefile`: a file object over this socket (binary with `"b"` in
    /// `mode`, else text; buffered unless `buffering=0`). Reads return what one TLS read
    /// gives, so a line or a response can be read without waiting for a full buffer.
    /// `close()` on the socket takes effect when the last such file is closed.
    #[pyo3(signature = (mode="r", buffering=None, *, encoding=None, errors=None, newline=None))]
    fn makefile(
        slf: &Bound<'_, Self>,
        mode: &str,
        buffering: Option<i64>,
        encoding: Option<String>,
        errors: Option<String>,
        newline: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        slf.get().check_open(py)?;
        let options = (mode, buffering, encoding, errors, newline).into_pyobject(py)?;
        let file = sockio_call(
            py,
            pyo3::intern!(py, "makefile"),
            slf.as_any(),
            options.as_any(),
        )?;
        slf.get().io_refs.fetch_add(1, Ordering::SeqCst);
        Ok(file.unbind())
    }

    /// Called by a `makefile()` file when it closes (CPython's name).
    fn _decref_socketios(&self, py: Python<'_>) -> PyResult<()> {
        let _ = self
            .io_refs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if self.close_requested.load(Ordering::SeqCst) && self.io_refs.load(Ordering::SeqCst) == 0 {
            return self.close_now(py);
        }
        Ok(())
    }

    /// CPython's `unwrap()`: send close_notify, wait for the peer's, and return the wrapped
    /// socket, now in the clear. Plaintext the peer sends before its close_notify is
    /// discarded. This `SSLSocket`'s TLS I/O then raises `OSError(EBADF)`; its `close()`
    /// closes the returned socket (in CPython they are one object). Non-blocking: `None`
    /// until done (call again).
    fn unwrap(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let done = self.run(py, false, |d| none_on_block(d.step(&mut |s| s.unwrap())))?;
        if done.is_none() {
            return Ok(None);
        }
        Ok(Some(self.sock.clone_ref(py)))
    }

    /// CPython's `sendfile(file, offset=0, count=None)`: send a binary file's bytes from
    /// `offset` (all, or `count`), with `send`; returns the count sent and leaves the file's
    /// position after the last byte sent. The socket must be blocking or have a time-out.
    #[pyo3(signature = (file, offset=0, count=None))]
    fn sendfile(
        slf: &Bound<'_, Self>,
        file: &Bound<'_, PyAny>,
        offset: i64,
        count: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let args = (file, offset, count).into_pyobject(py)?;
        Ok(sockio_call(
            py,
            pyo3::intern!(py, "sendfile"),
            slf.as_any(),
            args.as_any(),
        )?
        .unbind())
    }

    /// CPython's `shutdown(how)`: for `SHUT_WR` and `SHUT_RDWR`, send close_notify first
    /// (once, best effort; reads still work after `SHUT_WR`), then shut the wrapped socket down.
    #[pyo3(signature = (how, /))]
    fn shutdown(&self, py: Python<'_>, how: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let how_value: i64 = how.extract()?;
        if how_value == i64::from(libc::SHUT_WR) || how_value == i64::from(libc::SHUT_RDWR) {
            let fd = self.enter(py)?;
            self.with_state(py, |state| {
                state.stream.get_mut().install(fd);
                state.stream.close_write();
                state.stream.get_mut().install(None);
            })?;
        }
        Ok(gil::call_method1(self.sock.bind(py), pyo3::intern!(py, "shutdown"), how)?.unbind())
    }

    /// The wrapped socket's `getpeername()`.
    fn getpeername(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        Ok(gil::call_method0(self.sock.bind(py), pyo3::intern!(py, "getpeername"))?.unbind())
    }

    /// The wrapped socket's `getsockname()`.
    fn getsockname(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        Ok(gil::call_method0(self.sock.bind(py), pyo3::intern!(py, "getsockname"))?.unbind())
    }

    /// CPython's `session`: always `None` (sessions resume through the context, keyed by
    /// server name); `wrap_socket(session=None)` accepts it back.
    #[getter]
    fn session(&self) -> Option<Py<PyAny>> {
        None
    }
    /// The context this socket was wrapped by, or the one an `sni_callback` switched to.
    #[getter]
    fn get_context(&self, py: Python<'_>) -> Py<Context> {
        self.context_now(py)
    }

    /// Switch the context (CPython's `sslsocket.context = ctx`): inside an `sni_callback`, the
    /// server then presents that context's certificate; elsewhere only the attribute changes.
    #[setter]
    fn set_context(&self, value: &Bound<'_, Context>) {
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = value.clone().unbind();
    }

    /// True when wrapped with `server_side=True`.
    #[getter]
    fn server_side(&self) -> bool {
        self.server_side
    }

    /// The `server_hostname` given to `wrap_socket`; on the server side, the name the client
    /// sent (SNI) once the handshake has read it.
    #[getter]
    fn server_hostname(&self, py: Python<'_>) -> PyResult<Option<String>> {
        if !self.server_side {
            return Ok(self.server_hostname.clone());
        }
        self.with_state(py, |state| {
            state.stream.session().sni_hostname().map(str::to_owned)
        })
    }

    /// True when the handshake resumed an earlier session.
    #[getter]
    fn session_reused(&self, py: Python<'_>) -> PyResult<bool> {
        self.with_state(py, |state| state.stream.session().session_reused())
    }

    /// After EOF: `True` for close_notify, `False` for a bare TCP EOF; `None` before EOF.
    #[getter]
    fn eof_was_clean(&self, py: Python<'_>) -> PyResult<Option<bool>> {
        self.with_state(py, |state| state.stream.session().eof_was_clean())
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
            let Ok(state) = self.lock() else {
                // Called from its own verify_callback: the handshake is running.
                return format!("<SSLSocket {side} handshaking>");
            };
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

    /// Whether the peer's certificate chain verified (Mbed TLS's
    /// `mbedtls_ssl_get_verify_result`): `0` when it did, the `MBEDTLS_X509_BADCERT_*` bits of
    /// every reason when not, `None` before the handshake completed or when the peer sent no
    /// certificate. Decided by the engine (`Session::verify_result`).
    fn verify_result(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        self.with_state(py, |state| {
            state.stream.session().verify_result().map(|f| f.bits())
        })
    }

    /// The ALPN protocol agreed in the handshake (str), `None` when none was or before the
    /// handshake completed.
    fn selected_alpn_protocol(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.with_state(py, |state| {
            state
                .stream
                .session()
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
    }

    /// On the server side, after the handshake: the suites the client offered that the
    /// context enables, as `(name, protocol, secret_bits)` tuples; `None` on the client side
    /// and before the handshake.
    fn shared_ciphers(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let Some(shared) = self.with_state(py, |state| state.stream.session().shared_ciphers())?
        else {
            return Ok(None);
        };
        Ok(Some(PyList::new(py, shared)?.unbind()))
    }

    /// `'tls-exporter'` (RFC 9266): 32 bytes on a TLS 1.3 connection, `None` on TLS 1.2 or
    /// before the handshake. `'tls-unique'` (not available with rustls) and any other type
    /// raise `ValueError`.
    #[pyo3(signature = (cb_type="tls-unique"))]
    fn get_channel_binding(&self, py: Python<'_>, cb_type: &str) -> PyResult<Option<Py<PyBytes>>> {
        let kind = mpssl::ChannelBinding::from_name(cb_type).map_err(|e| error::to_py(py, e))?;
        let value = self
            .with_state(py, |state| state.stream.session().channel_binding(kind))?
            .map_err(|e| error::to_py(py, e))?;
        Ok(value.map(|v| PyBytes::new(py, &v).unbind()))
    }
}

impl SslSocket {
    /// The current context (see `set_context`).
    pub(crate) fn context_now(&self, py: Python<'_>) -> Py<Context> {
        self.context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone_ref(py)
    }

    /// The real close: send close_notify (once, best effort), then close the wrapped object.
    fn close_now(&self, py: Python<'_>) -> PyResult<()> {
        let fd = self.enter(py).ok().flatten();
        let drain = self.identity.is_some();
        let first = self.with_state(py, |state| {
            state.stream.get_mut().install(fd);
            state.stream.close();
            if drain && !state.sock_closed {
                // Descriptor reads never wait: drop what the peer already sent, so that the
                // close ends the connection (FIN) instead of resetting it (see the method).
                state.stream.discard_incoming(DISCARD_ON_CLOSE);
            }
            state.stream.get_mut().install(None);
            !std::mem::replace(&mut state.sock_closed, true)
        })?;
        if first {
            let sock = self.sock.bind(py);
            if sock.hasattr("close")? {
                gil::call_method0(sock, pyo3::intern!(py, "close"))?;
            }
        }
        Ok(())
    }

    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        let closed = self.with_state(py, |state| state.sock_closed)?;
        if closed {
            return Err(PyOSError::new_err((
                libc::EBADF,
                "the TLS socket is closed",
            )));
        }
        Ok(())
    }
}
