//! A minimal blocking HTTP/1.1 GET over `std::net` (feature `std-fetcher`).
//!
//! Plain `http://` only — HTTPS needs a caller-supplied [`UrlFetcher`] with TLS. It connects
//! only to the addresses the policy vetted, applies one deadline to connect, send and receive,
//! refuses bodies over the limit, and does not follow redirects (a redirect could lead past the
//! policy).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::url_policy::{FetchRequest, UrlError, UrlFetcher};

/// Room for the status line and headers on top of the body limit.
const MAX_HEADER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct StdHttpFetcher;

impl UrlFetcher for StdHttpFetcher {
    fn fetch(&self, request: &FetchRequest<'_>) -> Result<String, UrlError> {
        let url = request.url;
        if url.scheme() != "http" {
            return Err(UrlError(format!(
                "StdHttpFetcher speaks plain http only; {url} needs a UrlFetcher with TLS"
            )));
        }
        let deadline = Instant::now() + request.timeout;
        let mut stream = connect(request, deadline)?;
        let host = url.host_str().unwrap_or_default();
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let head = format!(
            "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: gennaker-expressions\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|e| UrlError(format!("Sending the request to {url} failed: {e}")))?;
        let raw = read_limited(
            &mut stream,
            request.max_bytes + MAX_HEADER_BYTES,
            deadline,
            url,
        )?;
        parse_response(&raw, request.max_bytes, url)
    }
}

fn connect(request: &FetchRequest<'_>, deadline: Instant) -> Result<TcpStream, UrlError> {
    let mut last_error = None;
    for address in request.addresses {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(address, remaining) {
            Ok(stream) => {
                let remaining = deadline
                    .saturating_duration_since(Instant::now())
                    .max(std::time::Duration::from_millis(1));
                stream.set_read_timeout(Some(remaining)).ok();
                stream.set_write_timeout(Some(remaining)).ok();
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(UrlError(format!(
        "Could not connect to {}: {}",
        request.url,
        last_error.map_or_else(|| "timed out".to_string(), |e| e.to_string())
    )))
}

fn read_limited(
    stream: &mut TcpStream,
    limit: usize,
    deadline: Instant,
    url: &url::Url,
) -> Result<Vec<u8>, UrlError> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(UrlError(format!("Timed out reading {url}")));
        }
        let read = stream
            .read(&mut buffer)
            .map_err(|e| UrlError(format!("Reading {url} failed: {e}")))?;
        if read == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buffer[..read]);
        if raw.len() > limit {
            return Err(UrlError(format!(
                "Response from {url} exceeds the limit of {limit} bytes"
            )));
        }
    }
}

fn parse_response(raw: &[u8], max_body: usize, url: &url::Url) -> Result<String, UrlError> {
    let malformed = || UrlError(format!("Malformed HTTP response from {url}"));
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(malformed)?;
    let head = std::str::from_utf8(&raw[..header_end]).map_err(|_| malformed())?;
    let status: u16 = head
        .split("\r\n")
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)?;
    if !(200..300).contains(&status) {
        return Err(UrlError(format!(
            "HTTP {status} from {url} (redirects are not followed)"
        )));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let body = &raw[header_end + 4..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(body).ok_or_else(malformed)?
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.get(..length).ok_or_else(malformed)?.to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > max_body {
        return Err(UrlError(format!(
            "Response from {url} exceeds the limit of {max_body} bytes"
        )));
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn decode_chunked(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_policy::{HostResolver, UrlPolicy};
    use std::net::{IpAddr, TcpListener};
    use std::time::Duration;

    struct Loopback;

    impl HostResolver for Loopback {
        fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, UrlError> {
            Ok(vec!["127.0.0.1".parse().unwrap()])
        }
    }

    /// Serves one canned response on a loopback port (the only network this test uses).
    fn serve_once(response: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut socket, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request);
                let _ = socket.write_all(response);
            }
        });
        port
    }

    fn fetch(port: u16, max_bytes: usize) -> Result<String, UrlError> {
        // Loopback is allowed only because this test opens it explicitly.
        let policy = UrlPolicy {
            reject_localhost: false,
            ..UrlPolicy::default()
        };
        let vetted = policy
            .check(
                &format!("http://config.example.com:{port}/v.txt"),
                &Loopback,
            )
            .unwrap();
        StdHttpFetcher.fetch(&FetchRequest {
            url: &vetted.url,
            addresses: &vetted.addresses,
            timeout: Duration::from_secs(5),
            max_bytes,
        })
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let port = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n1.2.3");
        assert_eq!(fetch(port, 1024).unwrap(), "1.2.3");
        let port = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(fetch(port, 1024).unwrap(), "abcde");
    }

    #[test]
    fn refuses_errors_redirects_and_large_bodies() {
        let port = serve_once(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\n\r\n");
        assert!(fetch(port, 1024).is_err());
        let port = serve_once(b"HTTP/1.1 200 OK\r\n\r\n0123456789");
        assert!(fetch(port, 4).is_err());
    }
}
