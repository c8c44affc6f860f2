//! Which topics a recording takes: exact names, include patterns or everything, minus exclusions.

use regex::Regex;

use super::TopicSelection;

#[derive(Debug, Clone)]
pub struct TopicMatcher {
    all: bool,
    names: Vec<String>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

/// Patterns match whole topic names, like rosbag2's `--regex`.
fn anchored(key: &str, list: &[String]) -> Result<Vec<Regex>, (String, String)> {
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                (
                    format!("{key}[{i}]"),
                    format!("bad regular expression `{p}`: {e}"),
                )
            })
        })
        .collect()
}

impl TopicSelection {
    /// Compiles the patterns; an error names the list entry (`include[2]`) and says why.
    pub fn compile(&self) -> Result<TopicMatcher, (String, String)> {
        for (i, n) in self.names.iter().enumerate() {
            crate::names::topic_name(n).map_err(|e| (format!("names[{i}]"), e.to_string()))?;
        }
        Ok(TopicMatcher {
            all: self.all,
            names: self
                .names
                .iter()
                .map(|n| crate::names::display_topic(n))
                .collect(),
            include: anchored("include", &self.include)?,
            exclude: anchored("exclude", &self.exclude)?,
        })
    }
}

impl TopicMatcher {
    pub fn matches(&self, topic: &str) -> bool {
        let selected = self.all
            || self.names.iter().any(|n| n == topic)
            || self.include.iter().any(|r| r.is_match(topic));
        selected && !self.exclude.iter().any(|r| r.is_match(topic))
    }

    /// Topics named exactly: the recorder subscribes to them even before a publisher appears.
    pub fn exact_names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(all: bool, names: &[&str], include: &[&str], exclude: &[&str]) -> TopicSelection {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        TopicSelection {
            all,
            names: v(names),
            include: v(include),
            exclude: v(exclude),
        }
    }

    #[test]
    fn names_patterns_and_exclusions() {
        let m = sel(false, &["/imu"], &["/camera/.*"], &[".*/compressed"])
            .compile()
            .unwrap();
        assert!(m.matches("/imu"));
        assert!(m.matches("/camera/image_raw"));
        assert!(!m.matches("/camera/image_raw/compressed"));
        assert!(!m.matches("/imu2"), "patterns and names match whole names");
        let all = sel(true, &[], &[], &["/rosout"]).compile().unwrap();
        assert!(all.matches("/anything") && !all.matches("/rosout"));
    }

    #[test]
    fn errors_name_the_entry() {
        let e = sel(false, &[], &["ok", "(unclosed"], &[])
            .compile()
            .unwrap_err();
        assert_eq!(e.0, "include[1]");
        let e = sel(false, &["bad name"], &[], &[]).compile().unwrap_err();
        assert_eq!(e.0, "names[0]");
    }
}
