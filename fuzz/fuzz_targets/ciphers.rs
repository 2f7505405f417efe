//! Arbitrary bytes, split into names at `:`, `,`, spaces and NULs, into the cipher-name parser
//! and `SslContext::set_ciphers`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::{ciphers, Protocol, PskSuite, SslContext};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let names: Vec<&str> = text.split([':', ',', ' ', '\0']).collect();
    let parsed = ciphers::parse_suite_names(&names);
    if let Ok(suites) = &parsed {
        assert!(
            !suites.is_empty(),
            "an accepted list enables at least one suite"
        );
        for suite in suites {
            let _ = ciphers::suite_name(*suite);
        }
    }
    // One name, unsplit, too (names with separators in them must be refused, not panic).
    let _ = ciphers::parse_suite_names(&[text.as_ref()]);

    // `set_ciphers` also takes the two TLS 1.2 PSK suites' names (the engine's own PSK
    // handshake), which the rustls suite parser does not know: the rest must parse, and a list
    // of PSK names alone is accepted.
    let (psk, others): (Vec<&str>, Vec<&str>) = names
        .iter()
        .copied()
        .partition(|n| PskSuite::from_name(n).is_some());
    let expected = (others.is_empty() && !psk.is_empty())
        || ciphers::parse_suite_names(&others).is_ok();
    let mut ctx = SslContext::new(Protocol::Client);
    let set = ctx.set_ciphers(&names);
    assert_eq!(set.is_ok(), expected);
    if set.is_ok() {
        assert!(!ctx.ciphers().is_empty());
    }
});
