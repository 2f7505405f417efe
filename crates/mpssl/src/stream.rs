//! [`TlsStream`]: drive a [`Session`] over any `Read + Write` transport, with MicroPython's
//! stream semantics (≈ rustls `Stream`/`complete_io` and MicroPython's `py/stream.c`).
//!
//! Blocking or not is the transport's business: a transport that returns
//! `io::ErrorKind::WouldBlock` makes the low-level calls return [`Error::WouldBlock`] and the
//! stream-level calls return `Ok(None)` when nothing moved, as MicroPython returns `None`.

use std::io::{self, Read, Write};

use crate::context::SslContext;
use crate::error::{Error, ProtocolError};
use crate::session::{Session, Until};

/// Most plaintext one low-level write takes: one TLS record.
pub const MAX_RECORD: usize = 16 * 1024;

/// Most plaintext one stream-write step takes: four records, sent with one transport write
/// (one `sendmsg` instead of four for a large write).
pub const WRITE_BATCH: usize = 4 * MAX_RECORD;

/// The directions a stream waits on after a call could not complete (for `select`/`poll`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interest {
    /// Wait until the transport is readable.
    pub read: bool,
    /// Wait until the transport is writable.
    pub write: bool,
}

/// What [`TlsStream::read_buffered`] serves from plaintext already decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffered {
    /// Exactly this many bytes (a `read(n)`).
    Exactly(usize),
    /// A line: up to and including `\n`, or this many bytes.
    Line(usize),
    /// What is there, at most this many bytes, at least one (a `recv(n)`).
    UpTo(usize),
}

/// A TLS connection over a transport `T`.
#[derive(Debug)]
pub struct TlsStream<T> {
    session: Session,
    io: T,
    waiting: Interest,
    /// The last piece a stream write took whose ciphertext the transport had not taken in
    /// full when the call returned: not counted then, counted by the repeat of the write
    /// (with the same data) that finishes sending it, as Mbed TLS's `mbedtls_ssl_write` does.
    unacked: Vec<u8>,
    /// Plaintext given back by a stream read that failed without ending the session (a
    /// time-out), served before anything else so that nothing is lost.
    unread: Vec<u8>,
    /// Where the transport is in the peer's record stream, so that [`TlsStream::unwrap`] can
    /// read record by record.
    records: RecordLimit,
}

impl SslContext {
    /// Start a TLS connection over `io`; the handshake runs on first use or [`TlsStream::handshake`].
    pub fn wrap<T: Read + Write>(
        &self,
        io: T,
        server_hostname: Option<&str>,
    ) -> Result<TlsStream<T>, Error> {
        Ok(TlsStream::new(Session::new(self, server_hostname)?, io))
    }
}

impl<T: Read + Write> TlsStream<T> {
    /// Pair a session with its transport.
    pub fn new(session: Session, io: T) -> Self {
        Self {
            session,
            io,
            waiting: Interest::default(),
            unacked: Vec::new(),
            unread: Vec::new(),
            records: RecordLimit::default(),
        }
    }

    /// The session (negotiated parameters, peer certificates, …).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session, mutably.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport, mutably (reading or writing it directly corrupts the TLS stream).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Give back the transport.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// Decrypted bytes readable without touching the transport (bytes a read gave back, or
    /// else the first decrypted chunk).
    pub fn pending(&mut self) -> usize {
        if !self.unread.is_empty() {
            return self.unread.len();
        }
        self.session.pending()
    }

    /// Give plaintext back: the next reads return `data` first. Used by stream reads that
    /// fail without ending the session (a time-out) after taking some bytes.
    pub fn unread(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut joined = Vec::with_capacity(data.len() + self.unread.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(&self.unread);
        self.unread = joined;
    }

    /// What the last call that could not complete was waiting for, plus writable when
    /// ciphertext is queued. Plaintext already decrypted ([`Session::pending`]) needs no wait.
    pub fn interest(&self) -> Interest {
        Interest {
            read: self.waiting.read,
            write: self.waiting.write || self.session.wants_write(),
        }
    }

    fn blocked(&mut self, read: bool) -> Error {
        self.waiting = Interest { read, write: !read };
        Error::WouldBlock
    }

    /// Send all queued ciphertext.
    fn flush_tls(&mut self) -> Result<(), Error> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut self.io) {
                Ok(_) => {}
                Err(Error::WouldBlock) => return Err(self.blocked(false)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One read from the transport into the session; 0 means transport EOF.
    fn fill(&mut self) -> Result<usize, Error> {
        let mut tracked = Limited {
            inner: &mut self.io,
            limit: &mut self.records,
            stop_at_record_end: false,
        };
        match self.session.read_tls(&mut tracked) {
            Ok(n) => Ok(n),
            Err(Error::WouldBlock) => Err(self.blocked(true)),
            Err(e) => {
                // rustls queued an alert for the peer: send it if the transport takes it now.
                while self.session.wants_write() {
                    if self.session.write_tls(&mut self.io).is_err() {
                        break;
                    }
                }
                Err(e)
            }
        }
    }

    /// Run the handshake until it completes (or the transport would block).
    pub fn handshake(&mut self) -> Result<(), Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        while self.session.is_handshaking() {
            if self.session.wants_write() {
                self.flush_tls()?;
                continue;
            }
            if self.fill()? == 0 && self.session.is_handshaking() {
                return Err(self
                    .session
                    .fail(Error::Protocol(ProtocolError::HandshakeEof)));
            }
        }
        match self.flush_tls() {
            // The handshake is complete; the last flight goes out with the next call.
            Err(Error::WouldBlock) => Ok(()),
            other => other,
        }
    }

    /// One low-level read: plaintext into `buf`, at least one byte unless the stream ended
    /// (`Ok(0)`). Drives the handshake first.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.unread.is_empty() {
            let n = buf.len().min(self.unread.len());
            buf[..n].copy_from_slice(&self.unread[..n]);
            self.unread.drain(..n);
            return Ok(n);
        }
        loop {
            if !self.session.is_handshaking() {
                if let Some(n) = self.session.read_plaintext(buf)? {
                    return Ok(n);
                }
            }
            self.read_step()?;
        }
    }

    /// One low-level write: encrypt and send up to one record of `buf`; returns the plaintext
    /// bytes taken. Drives the handshake first. On a non-blocking transport, nothing is taken
    /// (and [`Error::WouldBlock`] returned) while earlier ciphertext is still queued, so at
    /// most one step's ciphertext waits in memory; what this call took may still be queued
    /// when it returns ([`write_stream`] counts only what has left).
    pub fn write_some(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.write_up_to(buf, MAX_RECORD)
    }

    /// [`TlsStream::write_some`] for up to [`WRITE_BATCH`] bytes: up to four records, handed
    /// to the transport in one vectored write.
    pub fn write_many(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.write_up_to(buf, WRITE_BATCH)
    }

    fn write_up_to(&mut self, buf: &[u8], most: usize) -> Result<usize, Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        self.handshake()?;
        self.flush_tls()?;
        let n = self.session.write_plaintext(&buf[..buf.len().min(most)])?;
        match self.flush_tls() {
            Ok(()) | Err(Error::WouldBlock) => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Send the queued ciphertext ([`Error::WouldBlock`] if the transport cannot take all).
    pub fn send_queued(&mut self) -> Result<(), Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        self.flush_tls()
    }

    /// The repeat of a stream write whose last piece had not left: when `buf` starts with
    /// that piece, finish sending it and return its length. Any other write drops the record
    /// of it (its ciphertext stays queued and goes out first).
    fn settle_unacked(&mut self, buf: &[u8]) -> Result<Option<usize>, Error> {
        if self.unacked.is_empty() {
            return Ok(None);
        }
        if !buf.starts_with(&self.unacked) {
            self.unacked = Vec::new();
            return Ok(None);
        }
        self.send_queued()?;
        Ok(Some(std::mem::take(&mut self.unacked).len()))
    }

    /// Serve a read from plaintext already decrypted, without touching the transport, the
    /// handshake or any error: `make` gets the bytes and builds the result (a front end makes
    /// its bytes object straight from them). Only the first buffered run is looked at (bytes
    /// given back, or one decrypted record). `None` when it does not hold all of `want`: run
    /// the stream read instead (it returns the same bytes, and more).
    pub fn read_buffered<R>(&mut self, want: Buffered, make: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let from_unread = !self.unread.is_empty();
        let chunk = if from_unread {
            if self.session.is_invalid() {
                return None;
            }
            &self.unread[..]
        } else {
            self.session.buffered_chunk()?
        };
        let n = match want {
            Buffered::Exactly(n) if chunk.len() >= n => n,
            Buffered::Exactly(_) => return None,
            Buffered::Line(limit) => {
                let window = &chunk[..chunk.len().min(limit)];
                match window.iter().position(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None if window.len() == limit => limit,
                    None => return None,
                }
            }
            Buffered::UpTo(most) => chunk.len().min(most),
        };
        if n == 0 {
            return None;
        }
        let result = make(&chunk[..n]);
        if from_unread {
            self.unread.drain(..n);
        } else {
            self.session.consume_buffered(n);
        }
        Some(result)
    }

    /// Stream read (MicroPython `read(n)`/`readinto`); see [`read_stream`].
    pub fn read_stream(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        read_stream(self, buf)
    }

    /// Stream read into a new buffer; see [`read_stream_to_vec`].
    pub fn read_stream_to_vec(&mut self, n: usize) -> Result<Option<Vec<u8>>, Error> {
        read_stream_to_vec(self, n)
    }

    /// Stream readline; see [`read_line`].
    pub fn read_line(&mut self, limit: Option<usize>) -> Result<Option<Vec<u8>>, Error> {
        read_line(self, limit)
    }

    /// One readline step: append plaintext to `line` up to and including `\n`, reading the
    /// transport as needed. `Ok(true)` when the line is complete (newline, end of stream, or
    /// `limit` bytes); [`Error::WouldBlock`] when the transport would block, with what arrived
    /// so far kept in `line` for the next call.
    pub fn read_line_some(&mut self, line: &mut Vec<u8>, limit: usize) -> Result<bool, Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        if !self.unread.is_empty() {
            let room = limit.saturating_sub(line.len());
            let window = &self.unread[..self.unread.len().min(room)];
            let (take, found) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (window.len(), false),
            };
            line.extend_from_slice(&window[..take]);
            self.unread.drain(..take);
            if found || line.len() >= limit {
                return Ok(true);
            }
        }
        while line.len() < limit {
            if !self.session.is_handshaking() {
                match self.session.read_plaintext_until(b'\n', line, limit)? {
                    Until::Found | Until::Ended => return Ok(true),
                    Until::Copied => continue,
                    Until::NeedInput => {}
                }
            }
            self.read_step()?;
        }
        Ok(true)
    }

    /// Move the connection forward by one transport read (flushing first).
    fn read_step(&mut self) -> Result<(), Error> {
        if self.session.wants_write() {
            match self.flush_tls() {
                Ok(()) => {}
                // After the handshake, reading need not wait for our writes to drain.
                Err(Error::WouldBlock) if !self.session.is_handshaking() => {}
                Err(e) => return Err(e),
            }
        }
        if self.fill()? == 0 && self.session.is_handshaking() {
            return Err(self
                .session
                .fail(Error::Protocol(ProtocolError::HandshakeEof)));
        }
        Ok(())
    }

    /// Stream write (MicroPython `write`/`sendall`); see [`write_stream`].
    pub fn write_stream(&mut self, buf: &[u8]) -> Result<Option<usize>, Error> {
        write_stream(self, buf)
    }

    /// Send close_notify (best effort, once) and mark the session closed. Idempotent.
    pub fn close(&mut self) {
        if self.session.is_closed() {
            return;
        }
        self.session.send_close_notify();
        // An unfinished handshake is abandoned: its queued messages (a ClientHello on a socket
        // never used) are not sent. After a failure, the queued alert still goes out.
        let abandon = self.session.is_handshaking() && !self.session.is_invalid();
        while !abandon && self.session.wants_write() {
            if self.session.write_tls(&mut self.io).is_err() {
                break;
            }
        }
        self.session.mark_closed();
    }

    /// Read and drop whatever the transport holds already, up to `limit` bytes, until it
    /// would block or ends; for a transport whose reads never wait, just before it is closed.
    ///
    /// A TCP socket closed with unread bytes in its receive queue is reset (RST) instead of
    /// ended (FIN), and a reset makes the peer's kernel drop what its application has not read
    /// yet: our last records and our close_notify. Bytes a peer sent that nobody read (TLS 1.3
    /// session tickets on a connection that only sends, as an FTP upload) would do that.
    pub fn discard_incoming(&mut self, limit: usize) {
        let mut scratch = [0u8; 4096];
        let mut left = limit;
        while left > 0 {
            let want = left.min(scratch.len());
            match self.io.read(&mut scratch[..want]) {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }

    /// Send close_notify (once, best effort) without closing the session: the peer may go on
    /// sending until its own close_notify, and reads still work (a TLS half-close, for
    /// `shutdown(SHUT_WR)`). Nothing is sent before the handshake completed or after a
    /// failure; ciphertext the transport does not take now goes out with the next call.
    pub fn close_write(&mut self) {
        if self.session.is_invalid() || self.session.is_handshaking() {
            return;
        }
        self.session.send_close_notify();
        while self.session.wants_write() {
            if self.session.write_tls(&mut self.io).is_err() {
                break;
            }
        }
    }

    /// CPython's `SSLSocket.unwrap()`: complete the handshake, send close_notify (once), read
    /// until the peer's close_notify, then mark the session closed, leaving the transport to
    /// the caller in the clear. Plaintext that arrives before the peer's close_notify is
    /// discarded, as OpenSSL's `SSL_shutdown` does. A transport EOF without the peer's
    /// close_notify fails with an `UnexpectedEof` I/O error (the connection was not closed
    /// cleanly, so the transport cannot be trusted to be in step). While waiting, the
    /// transport is read one record at a time (every read tracks record boundaries), so bytes
    /// the peer sends in the clear after its close_notify stay in the transport; only a read
    /// made before `unwrap` was called could already have taken them.
    ///
    /// A would-block returns [`Error::WouldBlock`]; call again (nothing is sent twice).
    pub fn unwrap(&mut self) -> Result<(), Error> {
        self.waiting = Interest::default();
        self.session.check()?;
        self.handshake()?;
        self.session.send_close_notify();
        self.flush_tls()?;
        self.unread.clear();
        let mut discard = [0u8; 4096];
        loop {
            match self.session.read_plaintext(&mut discard)? {
                Some(0) => break,
                Some(_) => {}
                None => {
                    // One record at most per read: nothing after the peer's close_notify is
                    // taken from the transport.
                    let mut limited = Limited {
                        inner: &mut self.io,
                        limit: &mut self.records,
                        stop_at_record_end: true,
                    };
                    match self.session.read_tls(&mut limited) {
                        Ok(_) => {}
                        Err(Error::WouldBlock) => return Err(self.blocked(true)),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if self.session.eof_was_clean() != Some(true) {
            let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
            return Err(self.session.fail(Error::Io(eof.into())));
        }
        self.session.mark_closed();
        Ok(())
    }
}

/// Tracks TLS record boundaries in the bytes read, so that a reader can stop at the end of a
/// record (5-byte header, then the body of the length it gives).
#[derive(Debug, Default)]
struct RecordLimit {
    header: [u8; 5],
    header_len: usize,
    body_left: usize,
}

impl RecordLimit {
    /// How many bytes the next read may take without passing the end of the current record.
    fn room(&self) -> usize {
        if self.body_left > 0 {
            self.body_left
        } else {
            self.header.len() - self.header_len
        }
    }

    /// Account for bytes read from the transport (any number of records).
    fn consumed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(bytes.len());
                self.body_left -= take;
                bytes = &bytes[take..];
                continue;
            }
            // `header_len` is below 5 here (reset on reaching 5) and `bytes` is not empty.
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if self.header_len == self.header.len() {
                self.header_len = 0;
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
            }
        }
    }
}

/// A reader that keeps track of record boundaries and, when asked, never reads past the end
/// of the current record.
struct Limited<'a, T> {
    inner: &'a mut T,
    limit: &'a mut RecordLimit,
    stop_at_record_end: bool,
}

impl<T: Read> Read for Limited<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = match self.stop_at_record_end {
            true => self.limit.room().min(buf.len()),
            false => buf.len(),
        };
        let n = self.inner.read(&mut buf[..room])?;
        self.limit.consumed(&buf[..n.min(room)]);
        Ok(n)
    }
}

/// Runs the low-level steps of a [`TlsStream`] for the stream-level loops below.
///
/// A `TlsStream` is its own driver: each step runs directly, and a would-block reaches the
/// loop. A driver that shares the stream between threads can instead take a lock for each
/// step and wait for the transport *outside* the lock, retrying the step, so that a thread
/// blocked in a read does not keep a writer out.
pub trait Driver {
    /// The transport of the driven stream.
    type Io: Read + Write;

    /// Run one low-level step (`read_some`, `write_some`, `read_line_some`, …).
    ///
    /// Return [`Error::WouldBlock`] only when the caller should see it (a non-blocking
    /// socket); a blocking driver waits and retries instead.
    #[allow(
        clippy::type_complexity,
        reason = "an alias would hide the one signature every driver implements"
    )]
    fn step<R>(
        &mut self,
        op: &mut dyn FnMut(&mut TlsStream<Self::Io>) -> Result<R, Error>,
    ) -> Result<R, Error>;
}

impl<T: Read + Write> Driver for TlsStream<T> {
    type Io = T;

    fn step<R>(
        &mut self,
        op: &mut dyn FnMut(&mut TlsStream<T>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        op(self)
    }
}

/// Stream read (MicroPython `read(n)`/`readinto`): fill `buf` completely or up to EOF.
///
/// `Ok(None)` when the transport would block before any byte arrived; after some bytes,
/// would-block returns them. Any other error discards what this call read.
pub fn read_stream<D: Driver>(driver: &mut D, buf: &mut [u8]) -> Result<Option<usize>, Error> {
    let mut got = 0;
    while got < buf.len() {
        match driver.step(&mut |s| s.read_some(&mut buf[got..])) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Error::WouldBlock) if got == 0 => return Ok(None),
            Err(Error::WouldBlock) => break,
            Err(e) => return Err(give_back(driver, &buf[..got], e)),
        }
    }
    Ok(Some(got))
}

/// Stream read into a new buffer: up to `n` bytes, waiting for all of them or EOF
/// (`usize::MAX` reads to EOF). `Ok(None)` when nothing could be read without blocking.
///
/// Memory grows with the data that arrives, not with `n`.
pub fn read_stream_to_vec<D: Driver>(driver: &mut D, n: usize) -> Result<Option<Vec<u8>>, Error> {
    const STEP: usize = 64 * 1024;
    let mut out = Vec::new();
    while out.len() < n {
        let start = out.len();
        out.resize(start + (n - start).min(STEP), 0);
        match driver.step(&mut |s| s.read_some(&mut out[start..])) {
            Ok(0) => {
                out.truncate(start);
                break;
            }
            Ok(k) => out.truncate(start + k),
            Err(Error::WouldBlock) => {
                out.truncate(start);
                if start == 0 {
                    return Ok(None);
                }
                break;
            }
            Err(e) => return Err(give_back(driver, &out[..start], e)),
        }
    }
    Ok(Some(out))
}

/// Stream readline: up to and including `\n`, EOF, or `limit` bytes.
///
/// `Ok(None)` when the transport would block before any byte; a non-blocking transport can
/// return a partial line.
pub fn read_line<D: Driver>(
    driver: &mut D,
    limit: Option<usize>,
) -> Result<Option<Vec<u8>>, Error> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut line = Vec::new();
    match driver.step(&mut |s| s.read_line_some(&mut line, limit)) {
        Ok(_) => Ok(Some(line)),
        Err(Error::WouldBlock) if line.is_empty() => Ok(None),
        Err(Error::WouldBlock) => Ok(Some(line)),
        Err(e) => Err(give_back(driver, &line, e)),
    }
}

/// Run `read` (a [`read_line`] or [`read_stream_to_vec`]) as the next piece of a read whose
/// first `taken` bytes earlier calls returned: on an error that leaves the session usable,
/// `taken` is given back too, so the next read starts at the first byte (a front end that
/// gathers a long read in pieces of its own memory).
pub fn continued<D: Driver, R>(
    driver: &mut D,
    taken: &[u8],
    read: impl FnOnce(&mut D) -> Result<R, Error>,
) -> Result<R, Error> {
    read(driver).map_err(|e| give_back(driver, taken, e))
}

/// A stream read failed after taking `taken`: when the session lives on (a time-out, an
/// interrupted wait), give the bytes back so the next read returns them; else drop them with
/// the session. Returns `e`.
fn give_back<D: Driver>(driver: &mut D, taken: &[u8], e: Error) -> Error {
    if !taken.is_empty() && !e.is_fatal() {
        // The step only touches memory: it cannot block or fail.
        let _ = driver.step(&mut |s| {
            s.unread(taken);
            Ok(())
        });
    }
    e
}

/// Stream write (MicroPython `write`/`sendall`): loop until all of `buf` is sent, in steps of
/// up to four records ([`TlsStream::write_many`]).
///
/// Only bytes whose ciphertext the transport has taken in full are counted. `Ok(None)` when
/// the transport would block before any was; after some, would-block returns the partial
/// count. The next call must start at the first byte not counted, before any other write:
/// a piece that was encrypted but not yet sent is then counted without being sent twice, as
/// Mbed TLS requires after `MBEDTLS_ERR_SSL_WANT_WRITE`.
pub fn write_stream<D: Driver>(driver: &mut D, buf: &[u8]) -> Result<Option<usize>, Error> {
    write_counted(driver, buf, true)
}

/// One record of `buf` (CPython's `send`), counted as [`write_stream`] counts.
pub fn write_record<D: Driver>(driver: &mut D, buf: &[u8]) -> Result<Option<usize>, Error> {
    write_counted(driver, buf, false)
}

fn write_counted<D: Driver>(driver: &mut D, buf: &[u8], all: bool) -> Result<Option<usize>, Error> {
    match driver.step(&mut |s| s.settle_unacked(buf)) {
        Ok(Some(n)) => return Ok(Some(n)),
        Ok(None) => {}
        Err(Error::WouldBlock) => return Ok(None),
        Err(e) => return Err(e),
    }
    let most = if all { WRITE_BATCH } else { MAX_RECORD };
    let mut done = 0;
    let mut last = 0;
    while done < buf.len() {
        match driver.step(&mut |s| s.write_up_to(&buf[done..], most)) {
            Ok(n) => {
                done += n;
                last = n;
                if !all {
                    break;
                }
            }
            Err(Error::WouldBlock) if done == 0 => return Ok(None),
            Err(Error::WouldBlock) => break,
            Err(e) => return Err(e),
        }
    }
    // Every earlier piece left before the next was taken; the last one may still be queued.
    match driver.step(&mut |s| s.send_queued()) {
        Ok(()) => Ok(Some(done)),
        Err(Error::WouldBlock) => {
            let sent = done - last;
            let piece = &buf[sent..done];
            // The step only touches memory: it cannot block or fail.
            let _ = driver.step(&mut |s| {
                s.unacked = piece.to_vec();
                Ok(())
            });
            Ok((sent > 0).then_some(sent))
        }
        Err(e) => Err(e),
    }
}

impl<T: Read + Write> Read for TlsStream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf).map_err(io::Error::from)
    }
}

impl<T: Read + Write> Write for TlsStream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls().map_err(io::Error::from)?;
        self.io.flush()
    }
}
