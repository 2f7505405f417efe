//! `micropython/mpssl.h` is written by hand: check it against the Rust side, so the two
//! cannot drift (every constant's value, every exported function and its parameter count).

#![allow(clippy::panic, reason = "test helper: a missing file is a failed test")]

use std::collections::BTreeMap;

use mpssl_micropython::*;

fn read(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `#define MPSSL_X (n)` lines of the header.
fn defines(header: &str) -> BTreeMap<String, i64> {
    header
        .lines()
        .filter_map(|l| l.strip_prefix("#define MPSSL_"))
        .filter_map(|rest| {
            let mut it = rest.split_whitespace();
            let name = it.next()?;
            let value = it.next()?.trim_matches(|c| c == '(' || c == ')');
            Some((format!("MPSSL_{name}"), value.parse().ok()?))
        })
        .collect()
}

/// `name -> parameter count` of `mpssl_*` functions, from C prototypes or Rust `extern "C" fn`s.
fn functions(text: &str, marker: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let flat = text.replace('\n', " ");
    for piece in flat.split(marker).skip(1) {
        let Some(name_end) = piece.find('(') else {
            continue;
        };
        let name = piece[..name_end]
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .trim_start_matches('*');
        if !name.starts_with("mpssl_") {
            continue;
        }
        // The parameter list: up to the matching parenthesis.
        let mut depth = 0;
        let mut params = String::new();
        for c in piece[name_end..].chars() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            if depth >= 1 {
                params.push(c);
            }
        }
        let params = params.trim_start_matches('(').trim();
        // Top-level, non-empty segments (function-pointer types have their own parentheses;
        // rustfmt leaves a trailing comma).
        let mut segments = vec![String::new()];
        let mut d = 0;
        for c in params.chars() {
            match c {
                '(' => d += 1,
                ')' => d -= 1,
                ',' if d == 0 => {
                    segments.push(String::new());
                    continue;
                }
                _ => {}
            }
            if let Some(last) = segments.last_mut() {
                last.push(c);
            }
        }
        let count = segments
            .iter()
            .filter(|s| !s.trim().is_empty() && s.trim() != "void")
            .count();
        out.insert(name.to_owned(), count);
    }
    out
}

#[test]
fn header_constants_match_the_rust_side() {
    let header = read("micropython/mpssl.h");
    let defs = defines(&header);
    let rust: BTreeMap<&str, i64> = [
        ("MPSSL_OK", MPSSL_OK.into()),
        ("MPSSL_WANT_READ", MPSSL_WANT_READ.into()),
        ("MPSSL_WANT_WRITE", MPSSL_WANT_WRITE.into()),
        ("MPSSL_ERROR", MPSSL_ERROR.into()),
        ("MPSSL_NULL_ARG", MPSSL_NULL_ARG.into()),
        ("MPSSL_BAD_ARG", MPSSL_BAD_ARG.into()),
        ("MPSSL_PANIC", MPSSL_PANIC.into()),
        ("MPSSL_IO_OK", MPSSL_IO_OK.into()),
        ("MPSSL_IO_WOULD_BLOCK", MPSSL_IO_WOULD_BLOCK.into()),
        ("MPSSL_IO_RAISED", MPSSL_IO_RAISED.into()),
        ("MPSSL_KIND_OSERROR_ARGS", Kind::OsErrorArgs as i64),
        ("MPSSL_KIND_OSERROR_ERRNO", Kind::OsErrorErrno as i64),
        ("MPSSL_KIND_VALUE_ERROR", Kind::ValueError as i64),
        ("MPSSL_KIND_RAISED", Kind::Raised as i64),
        ("MPSSL_KIND_NO_MEMORY", Kind::NoMemory as i64),
        ("MPSSL_KIND_TYPE_ERROR", Kind::TypeError as i64),
        ("MPSSL_MESSAGE_MAX", MPSSL_MESSAGE_MAX as i64),
    ]
    .into_iter()
    .collect();
    let header_defs: BTreeMap<&str, i64> = defs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(header_defs, rust);
}

#[test]
fn header_functions_match_the_rust_side() {
    let header = functions(&read("micropython/mpssl.h"), "int32_t ");
    let voids = functions(&read("micropython/mpssl.h"), "void ");
    let c: BTreeMap<_, _> = header.into_iter().chain(voids).collect();
    let sources = ["lib.rs", "signer.rs", "psk.rs"]
        .map(|f| read(&format!("crates/mpssl-micropython/src/{f}")))
        .join("\n");
    let rust = functions(&sources, "pub unsafe extern \"C\" fn ");
    assert!(rust.len() >= 20, "{rust:?}");
    assert_eq!(c, rust);
}

#[test]
fn error_struct_layout_matches_the_header() {
    // int32_t kind; int32_t code; size_t len; uint8_t message[MPSSL_MESSAGE_MAX];
    assert_eq!(std::mem::offset_of!(MpsslError, kind), 0);
    assert_eq!(std::mem::offset_of!(MpsslError, code), 4);
    assert_eq!(std::mem::offset_of!(MpsslError, len), 8);
    assert_eq!(
        std::mem::offset_of!(MpsslError, message),
        8 + size_of::<usize>()
    );
}
