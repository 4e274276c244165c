//! URL rules: what a base URL may be, how paths join it, and which URLs may get its token.

use reqwest::Url;

/// An absolute `http(s)` URL without credentials, query or fragment, its path ending in `/`
/// so that relative paths extend it instead of replacing its last segment.
pub(crate) fn parse_base_url(input: &str) -> Result<Url, String> {
    let mut url = parse_endpoint_url(input)?;
    if url.query().is_some() {
        return Err("the base URL must not have a query".to_owned());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// An absolute `http(s)` URL without credentials or fragment.
pub(crate) fn parse_endpoint_url(input: &str) -> Result<Url, String> {
    // Messages never echo the input: it may carry credentials or a signed query.
    let url = Url::parse(input).map_err(|e| format!("the URL is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the URL's scheme is {:?}, not http or https",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not contain credentials; configure them separately".to_owned());
    }
    if url.fragment().is_some() {
        return Err("the URL must not have a fragment".to_owned());
    }
    Ok(url)
}

/// `path` (leading slashes ignored) under `base`; refuses anything that would leave it.
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, String> {
    let url = base
        .join(path.trim_start_matches('/'))
        .map_err(|e| format!("the path is not valid ({e})"))?;
    if is_within(base, &url) {
        Ok(url)
    } else {
        Err("the path leaves the base URL".to_owned())
    }
}

/// Same origin as `base`, and a path at or below its path.
pub(crate) fn is_within(base: &Url, url: &Url) -> bool {
    url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.path().starts_with(base.path())
}

/// `scheme://host:port/path`, without the query (which may carry secrets).
pub(crate) fn redacted(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_get_a_trailing_slash() {
        let base = parse_base_url("http://127.0.0.1:8080/v1").unwrap();
        assert_eq!(base.as_str(), "http://127.0.0.1:8080/v1/");
        assert_eq!(
            join(&base, "/api/items?x=1").unwrap().as_str(),
            "http://127.0.0.1:8080/v1/api/items?x=1"
        );
        assert_eq!(
            join(&base, "auth/token").unwrap().as_str(),
            "http://127.0.0.1:8080/v1/auth/token"
        );
    }

    #[test]
    fn paths_cannot_leave_the_base_url() {
        let base = parse_base_url("https://api.example.com/v1/").unwrap();
        for path in [
            "https://evil.example/x",
            "//evil.example/x",
            "../admin",
            "http://api.example.com/v1/x",
        ] {
            match join(&base, path) {
                Ok(url) => assert!(is_within(&base, &url), "{path} -> {url}"),
                Err(e) => assert!(e.contains("leaves the base URL"), "{path}: {e}"),
            }
        }
        assert!(join(&base, "../admin").is_err());
        assert!(join(&base, "https://evil.example/x").is_err());
        assert_eq!(
            join(&base, "//evil.example/x").unwrap().as_str(),
            "https://api.example.com/v1/evil.example/x"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for input in [
            "api.example.com",
            "/v1",
            "ftp://api.example.com",
            "https://user:pw@api.example.com",
            "https://api.example.com/?k=v",
            "https://api.example.com/#f",
        ] {
            let error = parse_base_url(input).unwrap_err();
            assert!(!error.contains("pw@"), "{error}");
        }
    }

    #[test]
    fn redaction_drops_the_query() {
        let url = Url::parse("https://app.example.com/api/token?sig=secret").unwrap();
        assert_eq!(redacted(&url), "https://app.example.com/api/token");
    }
}
