//! Arbitrary bytes, split into names at `:`, `,`, spaces and NULs, into the cipher-name parser
//! and `SslContext::set_ciphers`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::{ciphers, Protocol, SslContext};

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

    let mut ctx = SslContext::new(Protocol::Client);
    let set = ctx.set_ciphers(&names);
    assert_eq!(set.is_ok(), parsed.is_ok());
    if set.is_ok() {
        assert!(!ctx.ciphers().is_empty());
    }
});
