//! Core's `SplitHostPort`, for `-rpcconnect`, `-rpcbind`, `-bind` and
//! friends.

/// Core's `SplitHostPort`: `host`, `host:port`, `[v6]:port` or a bare IPv6
/// address. Returns `None` for an invalid (or zero) port.
#[must_use]
pub fn split_host_port(input: &str, default_port: u16) -> Option<(String, u16)> {
    let mut host = input;
    let mut port = default_port;
    let mut valid = true;
    if let Some(colon) = input.rfind(':') {
        let bracketed = input.starts_with('[') && colon > 0 && input.as_bytes()[colon - 1] == b']';
        let multi_colon = colon != 0 && input[..colon].contains(':');
        if colon == 0 || bracketed || !multi_colon {
            valid = false;
            let digits = &input[colon + 1..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(n) = digits.parse::<u16>() {
                    host = &input[..colon];
                    port = n;
                    valid = n != 0;
                }
            }
        }
    }
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    valid.then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_like_core() {
        assert_eq!(split_host_port("127.0.0.1", 5), Some(("127.0.0.1".into(), 5)));
        assert_eq!(split_host_port("127.0.0.1:7", 5), Some(("127.0.0.1".into(), 7)));
        assert_eq!(split_host_port("[::1]:7", 5), Some(("::1".into(), 7)));
        assert_eq!(split_host_port("::1", 5), Some(("::1".into(), 5)));
        assert_eq!(split_host_port("[::1]", 5), Some(("::1".into(), 5)));
        for bad in ["127.0.0.1:notaport", "127.0.0.1:0", "[::1]:notaport", "127.0.0.1:65536", ":x", "unix:/x"] {
            assert_eq!(split_host_port(bad, 5), None, "{bad}");
        }
    }
}
