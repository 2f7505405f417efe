//! The peer certificate in CPython's `getpeercert()` shape, parsed with x509-parser.

use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

/// A certificate's fields as CPython's `SSLSocket.getpeercert()` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Relative distinguished names, each a list of (attribute name, value).
    pub subject: Vec<Vec<(String, String)>>,
    /// The issuer's distinguished name, in the same shape.
    pub issuer: Vec<Vec<(String, String)>>,
    /// X.509 version (3 for v3).
    pub version: u32,
    /// Serial number in upper-case hex.
    pub serial_number: String,
    /// Start of validity, as `"Nov 27 00:00:00 2026 GMT"`.
    pub not_before: String,
    /// End of validity, same format.
    pub not_after: String,
    /// subjectAltName entries as (`"DNS"` | `"IP Address"` | `"email"` | `"URI"`, value).
    pub subject_alt_name: Vec<(String, String)>,
}

/// Parse a DER certificate; `None` when it does not parse.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => san.push(("DNS".to_owned(), (*d).to_owned())),
                GeneralName::RFC822Name(e) => san.push(("email".to_owned(), (*e).to_owned())),
                GeneralName::URI(u) => san.push(("URI".to_owned(), (*u).to_owned())),
                GeneralName::IPAddress(ip) => san.push(("IP Address".to_owned(), ip_text(ip))),
                _ => {}
            }
        }
    }
    Some(CertInfo {
        subject: name_parts(cert.subject()),
        issuer: name_parts(cert.issuer()),
        version: cert.version().0 + 1,
        serial_number: cert.raw_serial_as_string().replace(':', "").to_uppercase(),
        not_before: openssl_time(cert.validity().not_before.timestamp()),
        not_after: openssl_time(cert.validity().not_after.timestamp()),
        subject_alt_name: san,
    })
}

fn name_parts(name: &X509Name<'_>) -> Vec<Vec<(String, String)>> {
    name.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type().to_id_string();
                    let key = long_name(&oid).map_or(oid, str::to_owned);
                    let value = attr.as_str().map_or_else(
                        |_| {
                            attr.attr_value()
                                .data
                                .iter()
                                .map(|b| format!("{b:02X}"))
                                .collect()
                        },
                        str::to_owned,
                    );
                    (key, value)
                })
                .collect()
        })
        .collect()
}

/// OpenSSL's long names for the usual attribute types.
fn long_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "commonName",
        "2.5.4.6" => "countryName",
        "2.5.4.7" => "localityName",
        "2.5.4.8" => "stateOrProvinceName",
        "2.5.4.10" => "organizationName",
        "2.5.4.11" => "organizationalUnitName",
        "2.5.4.5" => "serialNumber",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "domainComponent",
        _ => return None,
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            // CPython prints IPv6 SANs in full, upper-case, colon-separated 16-bit groups.
            octets
                .chunks(2)
                .map(|p| format!("{:X}", u16::from_be_bytes([p[0], p[1]])))
                .collect::<Vec<_>>()
                .join(":")
        }
        _ => bytes.iter().map(|b| format!("{b:02X}")).collect(),
    }
}

/// Format a Unix time as OpenSSL's `ASN1_TIME_print` does: `"Nov  7 00:00:00 2026 GMT"`.
fn openssl_time(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"???");
    format!(
        "{month_name} {day:>2} {:02}:{:02}:{:02} {year} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_matches_openssl() {
        assert_eq!(openssl_time(0), "Jan  1 00:00:00 1970 GMT");
        assert_eq!(openssl_time(1_795_747_662), "Nov 27 02:47:42 2026 GMT");
        assert_eq!(openssl_time(951_782_400), "Feb 29 00:00:00 2000 GMT");
    }

    #[test]
    fn ip_text_forms() {
        assert_eq!(ip_text(&[127, 0, 0, 1]), "127.0.0.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6), "0:0:0:0:0:0:0:1");
    }
}
