//! The HTTP/1.1 wire format the load generator needs: requests as bytes, and the framing of a
//! response (status line, `Content-Length`, chunked bodies, `Connection: close`). Nothing else
//! of HTTP: the generator only counts status codes and keeps connections alive.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};

/// A request as it goes on the wire.
pub(super) fn request(
    method: &str,
    path: &str,
    host: SocketAddr,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
        text.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// `GET path` with `Authorization: Bearer token` (or none).
pub(super) fn get(path: &str, host: SocketAddr, token: Option<&str>) -> Vec<u8> {
    match token {
        Some(token) => request(
            "GET",
            path,
            host,
            &[("Authorization", &format!("Bearer {token}"))],
            b"",
        ),
        None => request("GET", path, host, &[], b""),
    }
}

/// `POST /auth/token` with `{"projectId", "projectKey"}`.
pub(super) fn token_request(host: SocketAddr, project_id: &str, project_key: &str) -> Vec<u8> {
    let body = serde_json::json!({ "projectId": project_id, "projectKey": project_key });
    request(
        "POST",
        "/auth/token",
        host,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// `Content-Length` bytes (0 for statuses without a body).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body runs until the server closes.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) body: Body,
    /// The server will close the connection after this response.
    pub(super) close: bool,
}

/// The head at the start of `buf` and its length, or `None` while it is incomplete.
pub(super) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            bail!("a response head over 64 KiB");
        }
        return Ok(None);
    };
    let text = String::from_utf8_lossy(buf.get(..end).unwrap_or_default());
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1 response: {status_line:?}");
    }
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no status code in {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().context("a bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Length(0)
    } else if chunked {
        Body::Chunked
    } else if let Some(length) = length {
        Body::Length(length)
    } else {
        close = true;
        Body::UntilClose
    };
    Ok(Some((
        Head {
            status,
            body,
            close,
        },
        end + 4,
    )))
}

/// The length of the complete chunked body (with its trailer) at the start of `buf`, or `None`
/// while it is incomplete.
pub(super) fn chunked_len(buf: &[u8]) -> Result<Option<usize>> {
    let mut pos = 0;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(rest.get(..line_end).unwrap_or_default());
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("a bad chunk size {size_text:?}"))?;
        pos += line_end + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            let trailer = buf.get(pos..).unwrap_or_default();
            if trailer.starts_with(b"\r\n") {
                return Ok(Some(pos + 2));
            }
            return Ok(find(trailer, b"\r\n\r\n").map(|end| pos + end + 4));
        }
        pos += size + 2;
        if pos > buf.len() {
            return Ok(None);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    #[test]
    fn requests_carry_host_headers_and_length() {
        let bytes = get("/api/x", host(), Some("abc"));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nAuthorization: Bearer abc\r\n\r\n"
        );
        let post = String::from_utf8(token_request(host(), "p", "k")).unwrap();
        assert!(post.starts_with("POST /auth/token HTTP/1.1\r\n"));
        assert!(post.contains("Content-Length: 34\r\n"));
        assert!(post.ends_with("\r\n\r\n{\"projectId\":\"p\",\"projectKey\":\"k\"}"));
    }

    #[test]
    fn heads_are_framed_by_length_chunks_or_close() {
        let raw =
            b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 5\r\nretry-after: 1\r\n\r\nhello";
        let (head, len) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 429);
        assert_eq!(head.body, Body::Length(5));
        assert!(!head.close);
        assert_eq!(&raw[len..], b"hello");

        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let (head, _) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.body, Body::Chunked);
        assert!(head.close);

        let (head, _) = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.body, Body::UntilClose);
        assert!(head.close);

        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"SSH-2.0-x\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies_end_at_the_last_chunk_and_trailer() {
        assert_eq!(chunked_len(b"2\r\nok\r\n0\r\n\r\nNEXT").unwrap(), Some(12));
        assert_eq!(
            chunked_len(b"2;x=y\r\nok\r\n0\r\nA: b\r\n\r\n").unwrap(),
            Some(22)
        );
        assert_eq!(chunked_len(b"2\r\nok\r\n0\r\n").unwrap(), None);
        assert_eq!(chunked_len(b"10\r\nshort").unwrap(), None);
        assert!(chunked_len(b"zz\r\n").is_err());
    }
}
