//! Times on the command line (`--since`, `--until`): nanoseconds since the epoch, an RFC 3339
//! instant (`2026-12-03T16:00:00Z`, `2026-12-03T17:00:00.5+01:00`), or a duration before now
//! (`-10m`, `-1h30m`, `-500ms`; units ns, us, ms, s, m, h, d).

/// Parses one time into nanoseconds since the Unix epoch.
pub fn parse(s: &str) -> Result<i64, String> {
    parse_at(s, now_ns())
}

fn now_ns() -> i64 {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .expect("the clock is within i64 nanoseconds")
}

fn parse_at(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    if let Some(d) = s.strip_prefix('-') {
        return duration_ns(d).map(|d| now - d).ok_or_else(|| {
            format!("`{s}` is not a duration before now (e.g. -10m, -1h30m, -500ms)")
        });
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            format!(
                "`{s}` is not a time: give nanoseconds since the epoch, an RFC 3339 time \
                 (2026-12-03T16:00:00Z) or a duration before now (-10m)"
            )
        })
}

/// `1h30m`, `10s`, `250ms` in nanoseconds.
fn duration_ns(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return None,
        };
        let n: f64 = num.parse().ok()?;
        total = total.checked_add((n * scale).round() as i64)?;
        rest = next;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse_at("1700000000000000000", 0),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_at("2023-11-14T22:13:20Z", 0),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_at("2023-11-14T23:13:20.5+01:00", 0),
            Ok(1_700_000_000_500_000_000)
        );
        assert_eq!(parse_at("-10m", 600_000_000_000), Ok(0));
        assert_eq!(parse_at("-1h30m", 5_400_000_000_000), Ok(0));
        assert_eq!(parse_at("-1.5s", 1_500_000_000), Ok(0));
        assert!(parse_at("-10x", 0).is_err() && parse_at("yesterday", 0).is_err());
    }
}
