//! Sequence names from a template: `{robot}_{date}_{time}` → `r2_20261122_183012`.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Robot,
    Host,
    Date,
    Time,
    Counter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceTemplate(Vec<Piece>);

/// Keeps a value inside the sequence-name alphabet.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl SequenceTemplate {
    pub fn parse(t: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = t;
        while let Some(i) = rest.find('{') {
            if i > 0 {
                pieces.push(Piece::Text(rest[..i].to_string()));
            }
            let end = rest[i..]
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in `{t}`"))?
                + i;
            pieces.push(match &rest[i + 1..end] {
                "robot" => Piece::Robot,
                "host" => Piece::Host,
                "date" => Piece::Date,
                "time" => Piece::Time,
                "counter" => Piece::Counter,
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (use robot, host, date, time, counter)"
                    ))
                }
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if pieces.is_empty() {
            return Err("the template is empty".into());
        }
        let probe = SequenceTemplate(pieces);
        let sample = probe.render("robot", "host", DateTime::<Utc>::UNIX_EPOCH, 1);
        crate::names::sequence_name(&sample)
            .map_err(|e| format!("renders names like `{sample}`, which are invalid: {e}"))?;
        Ok(probe)
    }

    pub fn render(&self, robot: &str, host: &str, at: DateTime<Utc>, counter: u32) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => clean(t),
                Piece::Robot => clean(robot),
                Piece::Host => clean(host),
                Piece::Date => at.format("%Y%m%d").to_string(),
                Piece::Time => at.format("%H%M%S").to_string(),
                Piece::Counter => counter.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn renders_valid_names() {
        let t = SequenceTemplate::parse("{robot}_{date}_{time}_{counter}").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 18, 30, 12).unwrap();
        assert_eq!(t.render("r2.d2", "h", at, 3), "r2_d2_20261122_183012_3");
    }

    #[test]
    fn refuses_unknown_placeholders_and_bad_names() {
        assert!(SequenceTemplate::parse("{robt}")
            .unwrap_err()
            .contains("unknown placeholder `{robt}`"));
        assert!(SequenceTemplate::parse("_{robot}")
            .unwrap_err()
            .contains("invalid"));
        assert!(SequenceTemplate::parse("{date")
            .unwrap_err()
            .contains("unclosed"));
    }
}
