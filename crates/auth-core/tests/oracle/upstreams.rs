//! An independent model of how upstream servers read a request path, for the invariant "the
//! class keygate decides is the class of the path the upstream receives" (docs/security.md).
//!
//! Shared by the property tests, the `request_path` fuzz target and the gateway's end-to-end
//! tests (each includes this file with `#[path]`), so all three attack the same rule. It is
//! written without `auth_core` on purpose: it must not share keygate's bugs.

/// The Moose default classes (`/ingest`, `/api`, `/admin`; everything else public) of `target`
/// (a path, with or without a query) as three kinds of upstream read it: one that takes the
/// path literally, one that percent-decodes, resolves dot segments, merges slashes and ignores
/// letter case (Express, ASP.NET), and one that first strips `;` parameters from every segment
/// (Tomcat, Jetty, Spring).
pub(crate) fn upstream_classes(target: &str) -> [&'static str; 3] {
    let path = target.split('?').next().unwrap_or_default();
    let literal: Vec<String> = path.split('/').skip(1).map(str::to_owned).collect();
    let express: Vec<String> = resolve(literal.clone())
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let tomcat = resolve(
        literal
            .iter()
            .map(|s| s.split(';').next().unwrap_or_default().to_owned())
            .collect(),
    );
    [class(&literal), class(&express), class(&tomcat)]
}

fn class(segments: &[String]) -> &'static str {
    match segments.first().map(String::as_str) {
        Some("ingest") => "ingest",
        Some("api") => "consumption",
        Some("admin") => "admin",
        _ => "public",
    }
}

/// Decodes every segment, then resolves `.`, `..` and empty segments; a `..` at the root stays
/// at the root, as most servers do.
fn resolve(segments: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for segment in segments {
        let segment = percent_decode(&segment);
        match segment.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let value = (byte == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match value {
            Some(value) => {
                out.push(value);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
