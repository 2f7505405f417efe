//! Non-blocking progress of [`mpssl::TlsStream`] over scripted in-memory transports: would-block
//! results, poll interest, a handshake spread over many calls, refused and short writes,
//! `read_line`, and time-outs that leave the connection usable.

mod common;

use std::io;

use common::*;
use mpssl::{Error, Interest, MAX_RECORD};

#[test]
fn read_before_any_data_returns_none_and_wants_read() {
    let f = fixture();
    let (mut c, _s) = stream_pair(&f.client, &f.server, Some("server.test"));
    let mut buf = [0u8; 16];
    assert_eq!(c.read_stream(&mut buf).unwrap(), None);
    assert_eq!(
        c.interest(),
        Interest {
            read: true,
            write: false
        }
    );
    assert!(c.session().is_handshaking());
    // The ClientHello went out: the server side of the pipe has bytes to read.
    assert!(!c.get_ref().tx.borrow().data.is_empty());
    // The low-level calls report would-block as an error value that is not fatal.
    let err = c.read_some(&mut buf).unwrap_err();
    assert!(matches!(err, Error::WouldBlock));
    assert!(!err.is_fatal());
    assert_eq!(c.read_line(None).unwrap(), None);
    assert_eq!(c.read_stream_to_vec(usize::MAX).unwrap(), None);
}

#[test]
fn handshake_progresses_across_repeated_calls() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    let mut buf = [0u8; 16];
    let mut rounds = 0;
    // Drive both ends only through reads that would block, as an event loop does.
    while c.session().is_handshaking() || s.session().is_handshaking() {
        rounds += 1;
        assert!(rounds < 16, "handshake did not progress");
        assert_eq!(s.read_stream(&mut buf).unwrap(), None);
        assert!(s.interest().read);
        assert_eq!(c.read_stream(&mut buf).unwrap(), None);
        assert!(c.interest().read);
    }
    assert!(rounds >= 2, "a TLS handshake needs more than one exchange");
    assert_eq!(c.session().protocol_version(), Some("TLSv1.3"));
    // And data now flows.
    assert_eq!(c.write_stream(b"after").unwrap(), Some(5));
    assert_eq!(s.read_stream(&mut buf[..5]).unwrap(), Some(5));
    assert_eq!(&buf[..5], b"after");
}

#[test]
fn handshake_call_reports_would_block_then_completes() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    assert!(matches!(c.handshake(), Err(Error::WouldBlock)));
    assert!(matches!(s.handshake(), Err(Error::WouldBlock)));
    let rounds = pump_handshake(&mut c, &mut s).unwrap();
    assert!(rounds >= 1);
    // Idempotent once done.
    c.handshake().unwrap();
    s.handshake().unwrap();
}

#[test]
fn handshake_over_a_byte_at_a_time_transport() {
    // The server's transport accepts one byte per write: the handshake still completes.
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    s.get_ref().tx.borrow_mut().capacity = Some(1);
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 20_000, "no progress");
        let cs = step(c.handshake()).unwrap();
        let ss = step(s.handshake()).unwrap();
        if cs && ss && !c.session().is_handshaking() && !s.session().is_handshaking() {
            break;
        }
        if !ss {
            // The server waits on writes whenever its one-byte window is full.
            let i = s.interest();
            assert!(i.read || i.write);
        }
    }
    assert!(
        rounds > 100,
        "the one-byte window must have forced many calls ({rounds})"
    );
}

#[test]
fn write_stream_returns_none_while_the_transport_refuses_writes() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().refuse_writes(true);
    // The record is encrypted and queued, but not counted: it has not left.
    assert_eq!(c.write_stream(b"first").unwrap(), None);
    assert!(
        c.interest().write,
        "queued ciphertext makes the stream wait on writable"
    );
    // Repeating the write (the same data, as Mbed TLS requires) takes nothing new.
    assert_eq!(c.write_stream(b"first").unwrap(), None);
    assert!(matches!(c.write_some(b"first"), Err(Error::WouldBlock)));
    assert_eq!(
        c.interest(),
        Interest {
            read: false,
            write: true
        }
    );
    let mut buf = [0u8; 16];
    assert_eq!(
        s.read_stream(&mut buf).unwrap(),
        None,
        "nothing reached the server"
    );

    c.get_ref().refuse_writes(false);
    // The repeat sends the queued record and counts it, without encrypting it again.
    assert_eq!(c.write_stream(b"first").unwrap(), Some(5));
    assert_eq!(c.write_stream(b"second").unwrap(), Some(6));
    assert!(!c.interest().write);
    assert_eq!(read_exactly(&mut s, 11), b"firstsecond");
}

#[test]
fn write_stream_returns_a_partial_count_on_a_full_transport() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().tx.borrow_mut().capacity = Some(MAX_RECORD / 2);
    let data = pattern(5 * MAX_RECORD);
    let mut sent = 0;
    let mut received = Vec::new();
    let mut partial_seen = false;
    let mut buf = vec![0u8; 8192];
    for _ in 0..1000 {
        if sent == data.len() {
            break;
        }
        match c.write_stream(&data[sent..]).unwrap() {
            Some(n) => {
                assert!(n > 0);
                if sent + n < data.len() {
                    partial_seen = true;
                }
                sent += n;
            }
            None => assert!(c.interest().write),
        }
        // The reader drains the pipe, which makes room.
        while let Some(n) = s.read_stream(&mut buf).unwrap() {
            received.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
    }
    assert!(partial_seen, "a full transport must give a short write");
    assert_eq!(sent, data.len());
    // Flush what is still queued and read the rest.
    for _ in 0..100 {
        if received.len() == data.len() {
            break;
        }
        if let Err(e) = io::Write::flush(&mut c) {
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        }
        while let Some(n) = s.read_stream(&mut buf).unwrap() {
            received.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
    }
    assert_eq!(received, data);
}

#[test]
fn read_stream_returns_what_arrived_before_would_block() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.write_stream(b"abc").unwrap(), Some(3));
    let mut buf = [0u8; 10];
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(3));
    assert_eq!(&buf[..3], b"abc");
    assert_eq!(c.read_stream(&mut buf).unwrap(), None);
    assert_eq!(
        c.interest(),
        Interest {
            read: true,
            write: false
        }
    );
}

#[test]
fn read_line_full_partial_and_limited() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        s.write_stream(b"line one\nline two\npart").unwrap(),
        Some(22)
    );
    assert_eq!(c.read_line(None).unwrap().unwrap(), b"line one\n");
    assert_eq!(c.read_line(Some(4)).unwrap().unwrap(), b"line");
    assert_eq!(c.read_line(None).unwrap().unwrap(), b" two\n");
    // Would block after a partial line: the partial line is returned.
    assert_eq!(c.read_line(None).unwrap().unwrap(), b"part");
    assert_eq!(c.read_line(None).unwrap(), None);
    assert!(c.interest().read);
    // A line split across records is joined.
    assert_eq!(s.write_stream(b"ial").unwrap(), Some(3));
    assert_eq!(s.write_stream(b" and more\nnext\n").unwrap(), Some(15));
    assert_eq!(c.read_line(None).unwrap().unwrap(), b"ial and more\n");
    assert_eq!(c.read_line(Some(100)).unwrap().unwrap(), b"next\n");
    // At the end of the stream: an empty line.
    s.close();
    assert_eq!(c.read_line(None).unwrap().unwrap(), b"");
    assert_eq!(c.session().eof_was_clean(), Some(true));
}

#[test]
fn read_line_drives_the_handshake() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    assert_eq!(c.read_line(None).unwrap(), None);
    assert_eq!(s.read_line(None).unwrap(), None);
    assert_eq!(c.read_line(None).unwrap(), None);
    assert_eq!(s.read_line(None).unwrap(), None);
    assert!(!c.session().is_handshaking());
    assert!(!s.session().is_handshaking());
    assert_eq!(c.write_stream(b"hello\n").unwrap(), Some(6));
    assert_eq!(s.read_line(None).unwrap().unwrap(), b"hello\n");
}

#[test]
fn pending_counts_decrypted_bytes() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.write_stream(b"0123456789").unwrap(), Some(10));
    let mut buf = [0u8; 4];
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(4));
    assert_eq!(c.session_mut().pending(), 6);
    // Decrypted data needs no transport wait.
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(4));
    assert_eq!(c.session_mut().pending(), 2);
}

#[test]
fn timeout_is_reported_and_the_connection_stays_usable() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().rx.borrow_mut().fail_next_read = Some(io::ErrorKind::TimedOut);
    let mut buf = [0u8; 5];
    match c.read_stream(&mut buf) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
        other => panic!("expected a time-out, got {other:?}"),
    }
    assert_eq!(s.write_stream(b"later").unwrap(), Some(5));
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(5));
    assert_eq!(&buf, b"later");
}

#[test]
fn transport_error_is_fatal_and_sticky() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().rx.borrow_mut().fail_next_read = Some(io::ErrorKind::ConnectionReset);
    let mut buf = [0u8; 5];
    for _ in 0..2 {
        match c.read_stream(&mut buf) {
            Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
            other => panic!("expected a reset, got {other:?}"),
        }
    }
    assert!(matches!(c.write_stream(b"x"), Err(Error::Io(_))));
    assert!(c.session().is_invalid());
}

#[test]
fn a_bad_record_after_good_ones_fails_after_they_are_read() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    let writer = s.get_ref().clone();
    let data = vec![1u8; 2 * MAX_RECORD];
    assert_eq!(s.write_stream(&data).unwrap(), Some(data.len()));
    let mut wire = writer.take_outgoing();
    // Corrupt the last byte of the second record's tag.
    let last = wire.len() - 1;
    wire[last] ^= 0xff;
    c.get_ref().push_incoming(&wire);
    let mut buf = vec![0u8; MAX_RECORD];
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(MAX_RECORD));
    let err = c.read_stream(&mut buf).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
}

#[test]
fn a_large_stream_write_goes_out_four_records_per_transport_write() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    let writer = c.get_ref().clone();
    let data = pattern(8 * MAX_RECORD);
    let writes_before = writer.calls().1;
    assert_eq!(c.write_stream(&data).unwrap(), Some(data.len()));
    // Eight records in two vectored writes of four (ScriptedIo counts write_vectored calls).
    assert_eq!(writer.calls().1 - writes_before, 2);
    assert_eq!(read_exactly(&mut s, data.len()), data);
    // One low-level write is still one record (`send`).
    assert_eq!(c.write_some(&data).unwrap(), MAX_RECORD);
}

#[test]
fn every_byte_counted_as_written_has_left_for_the_transport() {
    // A non-blocking writer that stops after its last counted write must not leave any of it
    // queued: the reader gets exactly what was counted, with no further call by the writer.
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().tx.borrow_mut().capacity = Some(MAX_RECORD + MAX_RECORD / 3);
    let data = pattern(12 * MAX_RECORD + 123);
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut nones = 0;
    for _ in 0..10_000 {
        if sent == data.len() {
            break;
        }
        match c.write_stream(&data[sent..]).unwrap() {
            Some(n) => sent += n,
            None => nones += 1,
        }
        while let Some(n) = s.read_stream(&mut buf).unwrap() {
            received.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
        // Everything counted has reached the reader (more may have: it is counted on the
        // repeat); the writer owes nothing it has counted.
        assert!(
            received.len() >= sent,
            "counted bytes left queued in the writer: {sent} counted, {} arrived",
            received.len()
        );
    }
    assert_eq!(sent, data.len());
    assert!(nones > 0, "the small transport must make some writes wait");
    assert_eq!(received, data);
}

#[test]
fn a_different_write_is_not_credited_with_a_queued_piece() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().refuse_writes(true);
    assert_eq!(c.write_stream(b"first").unwrap(), None);
    c.get_ref().refuse_writes(false);
    // Not a repeat: the queued piece goes out first, then this write is encrypted and counted.
    assert_eq!(c.write_stream(b"other").unwrap(), Some(5));
    assert_eq!(read_exactly(&mut s, 10), b"firstother");
    // A later write starting with the same bytes is not mistaken for the repeat either.
    assert_eq!(c.write_stream(b"first!").unwrap(), Some(6));
    assert_eq!(read_exactly(&mut s, 6), b"first!");
}
