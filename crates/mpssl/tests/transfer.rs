//! Application data both ways: small, larger than a record, many records; over sessions in
//! memory, over streams on an in-memory pipe, and over loopback TCP with blocking sockets.

mod common;

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;
use mpssl::{Error, TlsStream, MAX_RECORD};

#[test]
fn small_messages_both_ways() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        send(&mut c, &mut s, b"hello server").unwrap(),
        b"hello server"
    );
    assert_eq!(
        send(&mut s, &mut c, b"hello client").unwrap(),
        b"hello client"
    );
    assert_eq!(c.pending(), 0);
    assert_eq!(s.pending(), 0);
}

#[test]
fn large_transfer_both_ways_tls13_and_tls12() {
    for suites in [None, Some("TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384")] {
        let mut f = fixture();
        if let Some(suite) = suites {
            f.client.set_ciphers(&[suite]).unwrap();
        }
        let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        let data = pattern(200 * 1024 + 17);
        assert!(data.len() > MAX_RECORD);
        assert_eq!(send(&mut c, &mut s, &data).unwrap(), data, "{suites:?}");
        assert_eq!(send(&mut s, &mut c, &data).unwrap(), data, "{suites:?}");
    }
}

#[test]
fn many_small_records_in_one_flight() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    let mut expected = Vec::new();
    for i in 0..1000u32 {
        let msg = format!("record {i};");
        assert_eq!(c.write_plaintext(msg.as_bytes()).unwrap(), msg.len());
        expected.extend_from_slice(msg.as_bytes());
    }
    // All 1000 records arrive in one feed sequence and decrypt in order.
    assert_eq!(transfer(&mut c, &mut s).unwrap(), expected);
}

#[test]
fn plaintext_written_during_handshake_is_sent_after_it() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    // rustls buffers early plaintext until the handshake completes.
    assert_eq!(c.write_plaintext(b"early").unwrap(), 5);
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(transfer(&mut c, &mut s).unwrap(), b"early");
}

#[test]
fn streams_on_a_pipe_carry_large_data_both_ways() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    let data = pattern(100 * 1024);
    // The pipe is unbounded, so a stream write completes at once.
    assert_eq!(c.write_stream(&data).unwrap(), Some(data.len()));
    assert_eq!(read_exactly(&mut s, data.len()), data);
    assert_eq!(s.write_stream(&data).unwrap(), Some(data.len()));
    assert_eq!(read_exactly(&mut c, data.len()), data);
    // Nothing more: would block.
    assert_eq!(c.read_stream(&mut [0u8; 1]).unwrap(), None);
}

#[test]
fn write_some_takes_at_most_one_record() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    let data = pattern(3 * MAX_RECORD);
    assert_eq!(c.write_some(&data).unwrap(), MAX_RECORD);
    let mut buf = vec![0u8; 3 * MAX_RECORD];
    let n = s.read_some(&mut buf).unwrap();
    assert!(n > 0 && n <= MAX_RECORD);
}

#[test]
fn read_to_eof_collects_everything_until_close_notify() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    let data = pattern(40_000);
    assert_eq!(s.write_stream(&data).unwrap(), Some(data.len()));
    s.close();
    assert_eq!(c.read_stream_to_vec(usize::MAX).unwrap(), Some(data));
    assert_eq!(c.session().eof_was_clean(), Some(true));
}

#[test]
fn std_io_traits_work_on_streams() {
    use std::io::{Read, Write};
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.write_all(b"through std::io::Write").unwrap();
    c.flush().unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"through std::io::Write");
    // Would-block surfaces as io::ErrorKind::WouldBlock.
    assert_eq!(
        s.read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn blocking_loopback_tcp_echo() {
    let f = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server_ctx = f.server.clone();
    let server = std::thread::spawn(move || -> Result<usize, Error> {
        let (sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut tls = server_ctx.wrap(sock, None)?;
        let mut total = 0;
        let mut buf = vec![0u8; 8192];
        loop {
            let n = tls.read_some(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n;
            assert_eq!(tls.write_stream(&buf[..n])?, Some(n));
        }
        assert_eq!(tls.session().eof_was_clean(), Some(true));
        tls.close();
        Ok(total)
    });

    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut tls = f.client.wrap(sock, Some("server.test")).unwrap();
    tls.handshake().unwrap();
    assert_eq!(tls.session().protocol_version(), Some("TLSv1.3"));
    let data = pattern(256 * 1024);
    let mut echoed = Vec::new();
    // Write in chunks small enough that the echo never fills both socket buffers.
    for chunk in data.chunks(4096) {
        assert_eq!(tls.write_stream(chunk).unwrap(), Some(chunk.len()));
        let mut buf = vec![0u8; chunk.len()];
        assert_eq!(tls.read_stream(&mut buf).unwrap(), Some(chunk.len()));
        echoed.extend_from_slice(&buf);
    }
    assert_eq!(echoed, data);
    tls.close();
    assert_eq!(server.join().unwrap().unwrap(), data.len());
}

#[test]
fn read_buffered_serves_only_plaintext_already_decrypted() {
    use mpssl::stream::Buffered;

    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    // Nothing decrypted yet: the fast path declines and touches nothing.
    assert_eq!(s.read_buffered(Buffered::UpTo(10), <[u8]>::to_vec), None);
    c.write_stream(b"line1\nline2\nrest").unwrap();
    // One byte through the stream read decrypts the whole record.
    assert_eq!(read_exactly(&mut s, 1), b"l");
    let line = |s: &mut TlsStream<ScriptedIo>, limit| {
        s.read_buffered(Buffered::Line(limit), <[u8]>::to_vec)
    };
    assert_eq!(line(&mut s, usize::MAX).as_deref(), Some(&b"ine1\n"[..]));
    assert_eq!(line(&mut s, 3).as_deref(), Some(&b"lin"[..]));
    assert_eq!(line(&mut s, usize::MAX).as_deref(), Some(&b"e2\n"[..]));
    // "rest" holds no newline and is shorter than the limit: the stream read must run.
    assert_eq!(line(&mut s, usize::MAX), None);
    assert_eq!(s.read_buffered(Buffered::Exactly(5), <[u8]>::to_vec), None);
    assert_eq!(
        s.read_buffered(Buffered::UpTo(2), <[u8]>::to_vec)
            .as_deref(),
        Some(&b"re"[..])
    );
    assert_eq!(
        s.read_buffered(Buffered::Exactly(2), <[u8]>::to_vec)
            .as_deref(),
        Some(&b"st"[..])
    );
    assert_eq!(s.read_buffered(Buffered::UpTo(2), <[u8]>::to_vec), None);
    assert_eq!(s.session_mut().pending(), 0);
}

#[test]
fn read_buffered_serves_given_back_bytes_first_one_run_at_a_time() {
    use mpssl::stream::Buffered;

    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    // Two records, decrypted by one transport read.
    c.write_stream(b"abc").unwrap();
    c.write_stream(b"defgh").unwrap();
    assert_eq!(read_exactly(&mut s, 1), b"a");
    s.unread(b"xy");
    let take = |s: &mut TlsStream<ScriptedIo>, want| s.read_buffered(want, <[u8]>::to_vec);
    assert_eq!(
        take(&mut s, Buffered::Exactly(1)).as_deref(),
        Some(&b"x"[..])
    );
    // Only one run is looked at: the rest of the given-back bytes.
    assert_eq!(take(&mut s, Buffered::Exactly(2)), None);
    assert_eq!(take(&mut s, Buffered::UpTo(5)).as_deref(), Some(&b"y"[..]));
    assert_eq!(
        take(&mut s, Buffered::Exactly(2)).as_deref(),
        Some(&b"bc"[..])
    );
    assert_eq!(take(&mut s, Buffered::Line(9)), None);
    // The stream read returns the rest, in order.
    assert_eq!(read_exactly(&mut s, 5), b"defgh");
}

#[test]
fn bytes_given_back_come_first_for_every_stream_read() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    s.unread(b"ab\ncd");
    assert_eq!(s.pending(), 5);
    assert_eq!(s.read_line(None).unwrap().as_deref(), Some(&b"ab\n"[..]));
    c.write_stream(b"ef\ngh").unwrap();
    // The line starts in the given-back bytes and ends in the next record.
    assert_eq!(s.read_line(None).unwrap().as_deref(), Some(&b"cdef\n"[..]));
    s.unread(b"xy");
    assert_eq!(read_exactly(&mut s, 4), b"xygh");
    assert_eq!(s.pending(), 0);
}
