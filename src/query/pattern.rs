//! `~` patterns (`Op::Match`): one meaning on both generations. `*` is any run and `?` one
//! character, matched against the whole value; a pattern without either matches as a substring
//! (`camera` = `*camera*`). The current server's `$match` is a whole-value glob and gets
//! `*camera*`; the legacy one's is SQL `LIKE '%text%'`, so it gets the pattern's longest literal
//! piece (a superset) and the answer is narrowed to the exact pattern client-side
//! ([`super::Query::narrow`]). `[`, `]` and `#` are refused: they are globs on one generation and
//! literals on the other.

use crate::error::{Error, Result};
use crate::protocol::Generation;

pub fn check(p: &str) -> Result<()> {
    match p.chars().find(|c| matches!(c, '[' | ']' | '#')) {
        Some(c) => Err(Error::InvalidQuery(format!(
            "pattern `~{p}`: `{c}` has no meaning shared by both server generations; use `*` \
             (any run) and `?` (one character)"
        ))),
        None => Ok(()),
    }
}

/// Whether the pattern is matched against the whole value (it has a wildcard).
pub fn anchored(p: &str) -> bool {
    p.contains(['*', '?'])
}

pub fn matches(p: &str, value: &str) -> bool {
    if anchored(p) {
        crate::server::query::glob(value, p)
    } else {
        value.contains(p)
    }
}

/// What `$match` carries to a server of `g`.
pub fn for_server(p: &str, g: Generation) -> String {
    match g {
        Generation::Current if anchored(p) => p.to_string(),
        Generation::Current => format!("*{p}*"),
        Generation::Legacy => p
            .split(['*', '?'])
            .max_by_key(|piece| piece.len())
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_meaning() {
        assert!(matches("camera", "/front/camera/image"));
        assert!(!matches("/camera*", "/front/camera/image"));
        assert!(matches("/front/*/image", "/front/camera/image"));
        assert!(matches("/imu?", "/imu2") && !matches("/imu?", "/imu"));
        assert_eq!(for_server("camera", Generation::Current), "*camera*");
        assert_eq!(for_server("/f*/image", Generation::Legacy), "/image");
        assert!(check("cam[12]").is_err() && check("run#").is_err());
    }
}
