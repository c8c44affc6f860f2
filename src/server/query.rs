//! The `query` action: catalogue filters on sequences and topics, and data filters evaluated over
//! the stored batches, with each generation's operator rules and quirks (reference §6).

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use serde_json::{json, Map, Value};

use super::store::*;
use crate::protocol::Generation;

fn bad(msg: impl std::fmt::Display) -> Fault {
    Fault::internal(format!("marshal error :: deserialization error :: {msg}"))
}

fn unsupported(op: &str, field: &str) -> Fault {
    Fault::internal(format!(
        "query error :: unsupported operation `{op}` on field `{field}`"
    ))
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(Value),
    Neq(Value),
    Lt(Value),
    Leq(Value),
    Gt(Value),
    Geq(Value),
    Between(Value, Value),
    Outside(Value, Value),
    In(Vec<Value>),
    Match(String),
    Ex,
    Nex,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Eq(_) => "$eq",
            Op::Neq(_) => "$neq",
            Op::Lt(_) => "$lt",
            Op::Leq(_) => "$leq",
            Op::Gt(_) => "$gt",
            Op::Geq(_) => "$geq",
            Op::Between(..) => "$between",
            Op::Outside(..) => "$outside",
            Op::In(_) => "$in",
            Op::Match(_) => "$match",
            Op::Ex => "$ex",
            Op::Nex => "$nex",
        }
    }

    fn parse(v: &Value, generation: Generation) -> Outcome<Op> {
        if let Value::String(s) = v {
            return match s.as_str() {
                "$ex" => Ok(Op::Ex),
                "$nex" => Ok(Op::Nex),
                o => Err(bad(format!("unknown operator `{o}`"))),
            };
        }
        let m = v
            .as_object()
            .ok_or_else(|| bad(format!("expected an operator object, got {v}")))?;
        if m.len() != 1 {
            return Err(bad(format!(
                "expected exactly one operator, got {}",
                m.len()
            )));
        }
        let (k, x) = m.iter().next().expect("one entry");
        let pair = |x: &Value| -> Outcome<(Value, Value)> {
            match x.as_array().map(Vec::as_slice) {
                Some([a, b]) => {
                    if let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) {
                        if a > b {
                            return Err(Fault::internal("query error :: empty range"));
                        }
                    }
                    Ok((a.clone(), b.clone()))
                }
                _ => Err(bad(format!("`{k}` takes [min, max]"))),
            }
        };
        Ok(match k.as_str() {
            "$eq" => Op::Eq(x.clone()),
            "$neq" => Op::Neq(x.clone()),
            "$lt" => Op::Lt(x.clone()),
            "$leq" => Op::Leq(x.clone()),
            "$gt" => Op::Gt(x.clone()),
            "$geq" => Op::Geq(x.clone()),
            "$between" => {
                let (a, b) = pair(x)?;
                Op::Between(a, b)
            }
            "$outside" if generation == Generation::Current => {
                let (a, b) = pair(x)?;
                Op::Outside(a, b)
            }
            "$in" => Op::In(
                x.as_array()
                    .cloned()
                    .ok_or_else(|| bad("`$in` takes a list"))?,
            ),
            "$match" => Op::Match(
                x.as_str()
                    .ok_or_else(|| bad("`$match` takes a string"))?
                    .to_string(),
            ),
            "$ex" => Op::Ex,
            "$nex" => Op::Nex,
            o => return Err(bad(format!("unknown operator `{o}`"))),
        })
    }
}

/// SQL `LIKE '%text%'` with the text's own `%` and `_` acting as wildcards (mosaicod escapes nothing).
fn like_contains(hay: &str, text: &str) -> bool {
    fn m(h: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => h.is_empty(),
            Some(('%', rest)) => (0..=h.len()).any(|i| m(&h[i..], rest)),
            Some(('_', rest)) => !h.is_empty() && m(&h[1..], rest),
            Some((c, rest)) => h.first() == Some(c) && m(&h[1..], rest),
        }
    }
    let p: Vec<char> = format!("%{text}%").chars().collect();
    m(&hay.chars().collect::<Vec<_>>(), &p)
}

/// The current server's glob: `*`, `?`, `[...]`, `#` (a digit); no wildcard means equality.
pub(crate) fn glob(hay: &str, pat: &str) -> bool {
    fn m(h: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => h.is_empty(),
            Some(('*', rest)) => (0..=h.len()).any(|i| m(&h[i..], rest)),
            Some(('?', rest)) => !h.is_empty() && m(&h[1..], rest),
            Some(('#', rest)) => h.first().is_some_and(|c| c.is_ascii_digit()) && m(&h[1..], rest),
            Some(('[', rest)) => {
                let Some(end) = rest.iter().position(|c| *c == ']') else {
                    return h.first() == Some(&'[') && m(&h[1..], rest);
                };
                let (set, after) = (&rest[..end], &rest[end + 1..]);
                let Some(c) = h.first() else { return false };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= (set[i]..=set[i + 2]).contains(c);
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit && m(&h[1..], after)
            }
            Some((c, rest)) => h.first() == Some(c) && m(&h[1..], rest),
        }
    }
    m(
        &hay.chars().collect::<Vec<_>>(),
        &pat.chars().collect::<Vec<_>>(),
    )
}

fn cmp_values(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Applies `op` to a catalogue value (`None`: the key is absent).
fn test(op: &Op, v: Option<&Value>, generation: Generation) -> bool {
    use std::cmp::Ordering::*;
    let c = |x: &Value| v.and_then(|v| cmp_values(v, x));
    match op {
        Op::Ex => v.is_some_and(|v| !v.is_null()),
        Op::Nex => v.is_none_or(Value::is_null),
        Op::Eq(x) => c(x) == Some(Equal),
        Op::Neq(x) => matches!(c(x), Some(Less | Greater)),
        Op::Lt(x) => c(x) == Some(Less),
        Op::Leq(x) => matches!(c(x), Some(Less | Equal)),
        Op::Gt(x) => c(x) == Some(Greater),
        Op::Geq(x) => matches!(c(x), Some(Greater | Equal)),
        Op::Between(a, b) => {
            matches!(c(a), Some(Greater | Equal)) && matches!(c(b), Some(Less | Equal))
        }
        Op::Outside(a, b) => c(a) == Some(Less) || c(b) == Some(Greater),
        Op::In(items) => items.iter().any(|x| c(x) == Some(Equal)),
        Op::Match(p) => match v.and_then(Value::as_str) {
            Some(s) if generation == Generation::Legacy => like_contains(s, p),
            Some(s) => glob(s, p),
            None => false,
        },
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Text,
    Time,
    Metadata,
    Data,
}

fn allowed(op: &Op, field: Field, generation: Generation, name: &str) -> Outcome<()> {
    let o = op.name();
    let ok = match (field, generation) {
        (Field::Text, Generation::Legacy) => {
            matches!(o, "$eq" | "$neq" | "$in" | "$match" | "$ex" | "$nex")
        }
        (Field::Text, Generation::Current) => {
            matches!(o, "$eq" | "$neq" | "$in" | "$match" | "$ex" | "$nex")
        }
        (Field::Time, Generation::Legacy) => !matches!(o, "$in" | "$match"),
        (Field::Time, Generation::Current) => o != "$match",
        (Field::Metadata, Generation::Legacy) => !matches!(o, "$in" | "$match"),
        (Field::Metadata, Generation::Current) => true,
        (Field::Data, Generation::Legacy) => {
            matches!(o, "$lt" | "$leq" | "$gt" | "$geq" | "$between" | "$eq")
        }
        (Field::Data, Generation::Current) => !matches!(o, "$match" | "$ex" | "$nex" | "$in"),
    };
    if !ok {
        return Err(unsupported(o, name));
    }
    Ok(())
}

/// Reads the value a clause tests from a (sequence, topic) pair.
type Getter = Box<dyn Fn(&Sequence, &Topic) -> Option<Value>>;

/// One catalogue clause: which value of a (sequence, topic) pair it tests.
struct Clause {
    get: Getter,
    op: Op,
}

fn metadata_path(v: &Value, dotted: &str) -> Option<Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k)).cloned()
}

fn section(
    out: &mut Vec<Clause>,
    sec: Option<&Value>,
    is_topic: bool,
    generation: Generation,
    store: &mut Store,
) -> Outcome<()> {
    let Some(sec) = sec else { return Ok(()) };
    let sec = sec
        .as_object()
        .ok_or_else(|| bad("a section must be an object"))?;
    let time_key = if generation == Generation::Legacy {
        "created_timestamp"
    } else {
        "created_at_ns"
    };
    for (k, v) in sec {
        if k == "user_metadata" {
            let m = v
                .as_object()
                .ok_or_else(|| bad("`user_metadata` must be an object"))?;
            for (path, opv) in m {
                let op = Op::parse(opv, generation)?;
                dies_on_empty_in(&op, generation, store)?;
                allowed(&op, Field::Metadata, generation, path)?;
                let path = path.clone();
                out.push(Clause {
                    get: Box::new(move |s, t| {
                        metadata_path(
                            if is_topic {
                                &t.user_metadata
                            } else {
                                &s.user_metadata
                            },
                            &path,
                        )
                    }),
                    op,
                });
            }
            continue;
        }
        let op = Op::parse(v, generation)?;
        dies_on_empty_in(&op, generation, store)?;
        let legacy = generation == Generation::Legacy;
        let get: Getter = match (k.as_str(), is_topic) {
            ("name", false) => Box::new(|s, _| Some(json!(s.name))),
            ("name", true) => Box::new(|s, t| {
                Some(json!(format!(
                    "/{}",
                    t.locator[s.name.len()..].trim_start_matches('/')
                )))
            }),
            ("ontology_tag", true) => Box::new(|_, t| Some(json!(t.tag))),
            ("serialization_format", true) => Box::new(|_, t| Some(json!(t.format.as_str()))),
            (k, topic) if k == time_key => {
                allowed(&op, Field::Time, generation, k)?;
                let scale = if legacy { 1_000_000 } else { 1 };
                out.push(Clause {
                    get: Box::new(move |s, t| {
                        Some(json!(
                            if topic { t.created_ns } else { s.created_ns } / scale
                        ))
                    }),
                    op,
                });
                continue;
            }
            _ => continue, // unknown keys are ignored, as on mosaicod
        };
        allowed(&op, Field::Text, generation, k)?;
        out.push(Clause { get, op });
    }
    Ok(())
}

/// mosaicod indexes `items[0]` unchecked and aborts the process on an empty `$in` (§12.17).
fn dies_on_empty_in(op: &Op, generation: Generation, store: &mut Store) -> Outcome<()> {
    if let Op::In(items) = op {
        if items.is_empty() {
            if generation == Generation::Legacy {
                store.dead = true;
                return Err(Fault::Dead);
            }
            return Err(Fault::internal(
                "query error :: `$in` needs at least one value",
            ));
        }
    }
    Ok(())
}

/// A leaf column of a batch by dotted path through structs.
fn leaf(batch: &arrow::array::RecordBatch, path: &str) -> Option<ArrayRef> {
    let mut parts = path.split('.');
    let mut col = batch.column_by_name(parts.next()?)?.clone();
    for p in parts {
        let s = col.as_struct_opt()?;
        col = s.column_by_name(p)?.clone();
    }
    Some(col)
}

enum Leaf {
    Num(Float64Array),
    Text(StringArray),
}

fn leaf_values(col: &ArrayRef) -> Option<Leaf> {
    match col.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(Leaf::Text(
            cast(col, &DataType::Utf8).ok()?.as_string::<i32>().clone(),
        )),
        dt if dt.is_numeric() || *dt == DataType::Boolean => {
            let c = if *dt == DataType::Boolean {
                cast(&cast(col, &DataType::UInt8).ok()?, &DataType::Float64)
            } else {
                cast(col, &DataType::Float64)
            };
            Some(Leaf::Num(
                c.ok()?
                    .as_primitive::<arrow::datatypes::Float64Type>()
                    .clone(),
            ))
        }
        _ => None,
    }
}

fn row_value(l: &Leaf, i: usize) -> Option<Value> {
    match l {
        Leaf::Num(a) => a.is_valid(i).then(|| json!(a.value(i))),
        Leaf::Text(a) => a.is_valid(i).then(|| json!(a.value(i))),
    }
}

/// Whether some row of `t` satisfies every `(path, op)` together.
fn topic_matches(t: &Topic, exprs: &[(String, Op)], generation: Generation) -> bool {
    if !t.has_data() {
        return false;
    }
    // Legacy $eq pre-selects on chunk statistics: min >= v and max <= v, i.e. a constant column.
    if generation == Generation::Legacy {
        for (path, op) in exprs {
            if let Op::Eq(v) = op {
                let vals: Vec<Option<Value>> = t
                    .batches
                    .iter()
                    .filter_map(|b| {
                        leaf(b, path)
                            .and_then(|c| leaf_values(&c))
                            .map(|l| (0..b.num_rows()).map(move |i| row_value(&l, i)))
                    })
                    .flatten()
                    .collect();
                if !vals.iter().all(|x| {
                    x.as_ref()
                        .is_some_and(|x| cmp_values(x, v) == Some(std::cmp::Ordering::Equal))
                }) {
                    return false;
                }
            }
        }
    }
    t.batches.iter().any(|b| {
        let cols: Option<Vec<(Leaf, &Op)>> = exprs
            .iter()
            .map(|(path, op)| leaf(b, path).and_then(|c| leaf_values(&c)).map(|l| (l, op)))
            .collect();
        let Some(cols) = cols else { return false };
        (0..b.num_rows()).any(|i| {
            cols.iter()
                .all(|(l, op)| test(op, row_value(l, i).as_ref(), generation))
        })
    })
}

pub fn run(store: &mut Store, generation: Generation, raw: &[u8]) -> Outcome<Option<Value>> {
    let q: Value = serde_json::from_slice(raw).map_err(bad)?;
    let q = q
        .as_object()
        .ok_or_else(|| bad("a query is a JSON object"))?
        .clone();
    let mut clauses = Vec::new();
    section(&mut clauses, q.get("sequence"), false, generation, store)?;
    section(&mut clauses, q.get("topic"), true, generation, store)?;
    let mut groups: BTreeMap<String, Vec<(String, Op)>> = BTreeMap::new();
    if let Some(o) = q.get("ontology") {
        let o: &Map<String, Value> = o
            .as_object()
            .ok_or_else(|| bad("`ontology` must be an object"))?;
        for (k, v) in o {
            let op = Op::parse(v, generation)?;
            allowed(&op, Field::Data, generation, k)?;
            let (tag, path) = k
                .split_once('.')
                .ok_or_else(|| bad(format!("ontology key `{k}` needs <tag>.<field>")))?;
            groups
                .entry(tag.to_string())
                .or_default()
                .push((path.to_string(), op));
        }
    }
    // mosaicod binds the wrong values when topic filters follow a sequence metadata filter (its
    // placeholders are numbered from a shared, stale counter): such queries match nothing there.
    let seq_meta = q
        .get("sequence")
        .and_then(|s| s.get("user_metadata"))
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty());
    let topic_filter = q.get("topic").and_then(Value::as_object).is_some_and(|t| {
        t.iter().any(|(k, v)| match k.as_str() {
            "user_metadata" => v.as_object().is_some_and(|m| !m.is_empty()),
            "name" | "ontology_tag" | "serialization_format" | "created_timestamp" => true,
            _ => false,
        })
    });
    if generation == Generation::Legacy && seq_meta && topic_filter {
        return Ok(Some(json!({"items": []})));
    }
    let candidates: Vec<&Topic> = store
        .topics
        .values()
        .filter(|t| {
            let Some(s) = store.sequences.get(&t.sequence) else {
                return false;
            };
            clauses
                .iter()
                .all(|c| test(&c.op, (c.get)(s, t).as_ref(), generation))
        })
        .collect();
    let restricted = !clauses.is_empty();
    let hits: BTreeMap<String, BTreeSet<(String, String)>> = if groups.is_empty() {
        if !restricted {
            BTreeMap::new() // an empty query matches nothing
        } else {
            group(candidates.iter().copied())
        }
    } else {
        let pool: Vec<&Topic> = if restricted {
            candidates
        } else {
            store.topics.values().collect()
        };
        let mut merged: Option<BTreeMap<String, BTreeSet<(String, String)>>> = None;
        for (tag, exprs) in &groups {
            let found = group(
                pool.iter()
                    .copied()
                    .filter(|t| &t.tag == tag && topic_matches(t, exprs, generation)),
            );
            merged = Some(match merged {
                None => found,
                Some(prev) => prev
                    .into_iter()
                    .filter_map(|(s, mut ts)| {
                        found.get(&s).map(|more| {
                            ts.extend(more.iter().cloned());
                            (s, ts)
                        })
                    })
                    .collect(),
            });
        }
        merged.unwrap_or_default()
    };
    let items: Vec<Value> = hits
        .into_iter()
        .map(|(s, ts)| {
            let topics: Vec<Value> = ts
                .into_iter()
                .map(|(l, tag)| {
                    if generation == Generation::Legacy {
                        json!(l)
                    } else {
                        json!({"locator": l, "ontology_tag": tag})
                    }
                })
                .collect();
            json!({"sequence": s, "topics": topics})
        })
        .collect();
    Ok(Some(json!({"items": items})))
}

fn group<'a>(
    topics: impl Iterator<Item = &'a Topic>,
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for t in topics {
        out.entry(t.sequence.clone())
            .or_default()
            .insert((t.locator.clone(), t.tag.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_match_is_an_unescaped_like_and_current_a_glob() {
        assert!(like_contains("front_imu", "imu"));
        assert!(like_contains("front_imu", "f_ont"), "`_` is a wildcard");
        assert!(!like_contains("front", "back"));
        assert!(glob("run_42", "run_*"));
        assert!(glob("run_42", "run_##"));
        assert!(glob("run_b", "run_[a-c]"));
        assert!(!glob("run_42", "run"), "no wildcard: equality");
    }

    #[test]
    fn empty_in_kills_a_legacy_server() {
        let mut s = Store::new();
        let r = run(
            &mut s,
            Generation::Legacy,
            br#"{"sequence":{"name":{"$in":[]}}}"#,
        );
        assert_eq!(r, Err(Fault::Dead));
        assert!(s.dead);
    }

    #[test]
    fn operators_are_checked_per_field() {
        let mut s = Store::new();
        let e = run(
            &mut s,
            Generation::Legacy,
            br#"{"sequence":{"name":{"$lt":"a"}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, Fault::Internal(m) if m.contains("unsupported operation")));
        let e = run(
            &mut s,
            Generation::Legacy,
            br#"{"ontology":{"imu.acceleration.x":{"$neq":1}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, Fault::Internal(m) if m.contains("unsupported operation")));
        let e = run(
            &mut s,
            Generation::Legacy,
            br#"{"sequence":{"name":{"$eq":"a","$neq":"b"}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, Fault::Internal(m) if m.starts_with("marshal error")));
        assert_eq!(
            run(&mut s, Generation::Legacy, b"{}").unwrap(),
            Some(json!({"items": []}))
        );
    }
}
