//! What the load benchmarks read from `wrk`'s report.

/// One wrk run's figures.
#[derive(Debug, Clone, Default)]
pub struct Wrk {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Replies that were not 2xx or 3xx.
    pub non2xx: u64,
    /// "avg / stdev / max" from the latency line.
    pub latency: String,
    /// wrk's "Socket errors" line, if any.
    pub socket_errors: Option<String>,
}

impl Wrk {
    /// Parses wrk's text report (its standard output).
    ///
    /// # Panics
    /// When the report has no request count: wrk did not run properly.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut res = Self::default();
        for line in text.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("Latency") && words.len() >= 4 {
                res.latency = format!("{} / {} / {}", words[1], words[2], words[3]);
            } else if words.get(1) == Some(&"requests") {
                res.requests = words[0].parse().expect("wrk prints the request count as a number");
            } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
                res.non2xx = n.trim().parse().expect("wrk prints the non-2xx count as a number");
            } else if let Some(n) = line.strip_prefix("Requests/sec:") {
                res.rps = n.trim().parse().expect("wrk prints requests per second as a number");
            } else if let Some(e) = line.strip_prefix("Socket errors:") {
                res.socket_errors = Some(e.trim().to_owned());
            }
        }
        assert!(res.requests > 0, "unexpected wrk output: {text}");
        res
    }

    /// Requests per second that got a 2xx reply.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn ok_rps(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.rps * (self.requests - self.non2xx) as f64 / self.requests as f64
    }
}
