//! Raw query bodies (`query --raw`): sent as given, after checking every key. The server ignores
//! keys it does not know, so a typo would silently match everything the rest allows.

use serde_json::{Map, Value};

use super::check::closest;
use crate::error::{Error, Result};
use crate::names;
use crate::protocol::Generation;

fn created_key(g: Generation) -> &'static str {
    match g {
        Generation::Legacy => "created_timestamp",
        Generation::Current => "created_at_ns",
    }
}

fn operators(g: Generation) -> &'static [&'static str] {
    match g {
        Generation::Legacy => &[
            "$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$in", "$match", "$ex", "$nex",
        ],
        Generation::Current => &[
            "$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$outside", "$in", "$match",
        ],
    }
}

fn unknown(path: &str, key: &str, allowed: &[&str], g: Generation) -> Error {
    let other = match g {
        Generation::Legacy => Generation::Current,
        Generation::Current => Generation::Legacy,
    };
    let hint = if key == created_key(other) {
        format!(
            "; `{key}` is the {other} generation's key: a {g} server takes `{}`{}",
            created_key(g),
            match g {
                Generation::Legacy => " (milliseconds)",
                Generation::Current => " (nanoseconds)",
            }
        )
    } else if operators(other).contains(&key) {
        format!("; `{key}` is not supported by a {g} server")
    } else {
        match closest(key, allowed.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!("; expected one of {}", allowed.join(", ")),
        }
    };
    Error::InvalidQuery(format!("raw query: unknown key `{path}{key}`{hint}"))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        Error::InvalidQuery(format!("raw query: `{path}` must be an object, got {v}"))
    })
}

/// One comparison: an object with exactly one operator (legacy also takes `"$ex"` / `"$nex"`).
fn op(v: &Value, path: &str, g: Generation) -> Result<()> {
    if g == Generation::Legacy && matches!(v.as_str(), Some("$ex" | "$nex")) {
        return Ok(());
    }
    let m = object(v, path)?;
    if m.len() != 1 {
        return Err(Error::InvalidQuery(format!(
            "raw query: `{path}` must hold exactly one operator, got {v}"
        )));
    }
    let (k, arg) = m.iter().next().expect("one key");
    if !operators(g).contains(&k.as_str()) {
        return Err(unknown(&format!("{path}."), k, operators(g), g));
    }
    if k == "$in" && arg.as_array().is_some_and(|a| a.is_empty()) {
        return Err(Error::InvalidQuery(format!(
            "raw query: {path}: `$in` needs at least one value"
        )));
    }
    Ok(())
}

fn keyed_ops(v: &Value, path: &str, g: Generation) -> Result<()> {
    for (k, child) in object(v, path)? {
        names::query_key(k)?;
        op(child, &format!("{path}.{k}"), g)?;
    }
    Ok(())
}

fn section(v: &Value, path: &str, fields: &[&str], g: Generation) -> Result<()> {
    for (k, child) in object(v, path)? {
        if !fields.contains(&k.as_str()) {
            return Err(unknown(&format!("{path}."), k, fields, g));
        }
        if k == "user_metadata" {
            keyed_ops(child, &format!("{path}.{k}"), g)?;
        } else {
            op(child, &format!("{path}.{k}"), g)?;
        }
    }
    Ok(())
}

pub fn check(raw: &Value, g: Generation) -> Result<()> {
    let created = created_key(g);
    let top = object(raw, "(top level)")?;
    if top.is_empty() {
        return Err(Error::InvalidQuery(
            "an empty query matches nothing on the server: give at least one filter".into(),
        ));
    }
    for (k, v) in top {
        match k.as_str() {
            "sequence" => section(v, k, &["name", created, "user_metadata"], g)?,
            "topic" => section(
                v,
                k,
                &[
                    "name",
                    created,
                    "ontology_tag",
                    "serialization_format",
                    "user_metadata",
                ],
                g,
            )?,
            "ontology" => keyed_ops(v, k, g)?,
            _ => return Err(unknown("", k, &["sequence", "topic", "ontology"], g)),
        }
    }
    Ok(())
}
