//! A TLS echo server on mpssl: echoes each line a client sends, one connection at a time.
//!
//! ```text
//! cargo run -p mpssl --example server -- CERT.pem KEY.pem 8443
//! ```
//!
//! CERT may hold a chain (leaf first); both files may be PEM or DER. Try it with the
//! `client` example, or `openssl s_client -connect 127.0.0.1:8443`. The committed test PKI has
//! a certificate for `localhost`/`127.0.0.1`:
//!
//! ```text
//! cargo run -p mpssl --example server -- \
//!     testdata/ecdsa-p256/server.chain.pem testdata/ecdsa-p256/server.key.pem 8443
//! cargo run -p mpssl --example client -- localhost 8443 testdata/ecdsa-p256/ca.pem
//! ```

use std::error::Error;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;

use mpssl::{Protocol, SslContext, TlsStream};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cert, key, port] = args.as_slice() else {
        return Err("usage: server CERT KEY PORT".into());
    };

    // The context holds the certificate and key; every connection shares it.
    let mut ctx = SslContext::new(Protocol::Server);
    ctx.load_cert_chain(&std::fs::read(cert)?, &std::fs::read(key)?)?;

    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>()?))?;
    println!("listening on {}", listener.local_addr()?);
    for sock in listener.incoming() {
        let sock = sock?;
        let peer = sock.peer_addr()?;
        // A failed connection is reported and the server goes on.
        match serve(&ctx, sock) {
            Ok(lines) => println!("{peer}: {lines} line(s) echoed"),
            Err(e) => println!("{peer}: {e}"),
        }
    }
    Ok(())
}

/// Echo lines until the client closes; returns how many were echoed.
fn serve(ctx: &SslContext, sock: TcpStream) -> Result<usize, mpssl::Error> {
    // A blocking socket makes every stream call wait, as a blocking MicroPython socket does.
    let mut tls: TlsStream<TcpStream> = ctx.wrap(sock, None)?;
    tls.handshake()?;
    let session = tls.session();
    println!(
        "handshake done: {} {}",
        session.protocol_version().unwrap_or("?"),
        session.cipher_name().unwrap_or("?")
    );
    let mut lines = 0;
    // `read_line` returns `Some(empty)` at the end of the stream (never `None` when blocking).
    while let Some(line) = tls.read_line(Some(64 * 1024))? {
        if line.is_empty() {
            break;
        }
        tls.write_stream(&line)?;
        lines += 1;
    }
    // Sends close_notify, so the client sees a clean end of stream.
    tls.close();
    Ok(lines)
}
