//! A TLS client on mpssl: connects, sends one line, prints the reply.
//!
//! ```text
//! cargo run -p mpssl --example client -- HOST PORT [CA.pem] [--insecure]
//! ```
//!
//! With a CA file the server's certificate is verified (`CERT_REQUIRED`: chain, dates and that
//! it names HOST). `--insecure` turns verification off (`CERT_NONE`): the connection is then
//! encrypted but the server is not authenticated. Pairs with the `server` example.

use std::error::Error;
use std::net::TcpStream;
use std::process::ExitCode;

use mpssl::{Protocol, SslContext, VerifyMode};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let insecure = args.iter().any(|a| a == "--insecure");
    args.retain(|a| a != "--insecure");
    let (host, port, ca) = match args.as_slice() {
        [host, port] => (host, port, None),
        [host, port, ca] => (host, port, Some(ca)),
        _ => return Err("usage: client HOST PORT [CA] [--insecure]".into()),
    };

    // Client contexts start in CERT_REQUIRED and need trusted CAs to verify against.
    let mut ctx = SslContext::new(Protocol::Client);
    if let Some(ca) = ca {
        ctx.load_verify_locations(&std::fs::read(ca)?)?;
    }
    if insecure {
        ctx.set_verify_mode(VerifyMode::None);
    }

    let sock = TcpStream::connect((host.as_str(), port.parse::<u16>()?))?;
    // HOST is sent as SNI and checked against the certificate.
    let mut tls = ctx.wrap(sock, Some(host))?;
    tls.handshake()?;
    let session = tls.session();
    println!(
        "connected: {} {}",
        session.protocol_version().unwrap_or("?"),
        session.cipher_name().unwrap_or("?")
    );
    if let Some(info) = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| mpssl::peer::cert_info(leaf))
    {
        println!("server certificate subject: {:?}", info.subject);
    }

    // Blocking socket: write_stream sends everything, read_line waits for a full line.
    tls.write_stream(b"hello from mpssl\n")?;
    let reply = tls.read_line(None)?.unwrap_or_default();
    println!("reply: {}", String::from_utf8_lossy(&reply).trim_end());
    tls.close();
    Ok(())
}
