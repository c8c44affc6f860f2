//! The compact schema notation of the protocol references, parsed into Arrow and rendered back.
//!
//! `name: type!` is non-nullable, `name: type?` nullable; types are primitives (`int64`, `double`,
//! `string`, `binary`, ...), `struct{...}`, `list<item:T?>`, `fixed_size_list<item:T?>[N]`, or a
//! macro defined as `NAME = type` (e.g. `V3`). Keeping the schemas as text in this notation makes
//! the reference documents' appendices the single source of truth.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields};

#[derive(Debug, thiserror::Error)]
#[error("schema notation error at `{at}`: {msg}")]
pub struct NotationError {
    pub at: String,
    pub msg: String,
}

fn err(at: &str, msg: impl Into<String>) -> NotationError {
    NotationError { at: at.chars().take(60).collect(), msg: msg.into() }
}

/// Named type macros (`HDR`, `V3`, ...), expanded on use so definitions may come in any order.
#[derive(Debug, Default, Clone)]
pub struct Macros {
    defs: HashMap<String, String>,
}

impl Macros {
    pub fn define(&mut self, name: &str, body: &str) {
        self.defs.insert(name.trim().to_string(), body.trim().to_string());
    }

    pub fn parse_type(&self, text: &str) -> Result<DataType, NotationError> {
        let mut p = Parser { s: text.trim(), pos: 0, macros: self, depth: 0 };
        let t = p.data_type()?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(err(&p.s[p.pos..], "trailing characters"));
        }
        Ok(t)
    }

    /// Parses one `name: type!|?` column.
    pub fn parse_field(&self, text: &str) -> Result<Field, NotationError> {
        let mut p = Parser { s: text.trim(), pos: 0, macros: self, depth: 0 };
        let f = p.field()?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(err(&p.s[p.pos..], "trailing characters"));
        }
        Ok(f)
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    macros: &'a Macros,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn ws(&mut self) {
        while self.rest().starts_with(' ') {
            self.pos += 1;
        }
    }
    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, tok: &str) -> Result<(), NotationError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(err(self.rest(), format!("expected `{tok}`")))
        }
    }
    fn ident(&mut self) -> Result<&'a str, NotationError> {
        self.ws();
        let r = self.rest();
        let n = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(r.len());
        if n == 0 {
            return Err(err(r, "expected a name"));
        }
        self.pos += n;
        Ok(&r[..n])
    }
    fn nullability(&mut self) -> Result<bool, NotationError> {
        if self.eat("!") {
            Ok(false)
        } else if self.eat("?") {
            Ok(true)
        } else {
            Err(err(self.rest(), "expected `!` (non-null) or `?` (nullable)"))
        }
    }
    fn field(&mut self) -> Result<Field, NotationError> {
        let name = self.ident()?;
        self.expect(":")?;
        let dt = self.data_type()?;
        let nullable = self.nullability()?;
        Ok(Field::new(name, dt, nullable))
    }
    fn data_type(&mut self) -> Result<DataType, NotationError> {
        let name = self.ident()?;
        Ok(match name {
            "bool" => DataType::Boolean,
            "int8" => DataType::Int8,
            "int16" => DataType::Int16,
            "int32" => DataType::Int32,
            "int64" => DataType::Int64,
            "uint8" => DataType::UInt8,
            "uint16" => DataType::UInt16,
            "uint32" => DataType::UInt32,
            "uint64" => DataType::UInt64,
            "halffloat" => DataType::Float16,
            "float" => DataType::Float32,
            "double" => DataType::Float64,
            "string" => DataType::Utf8,
            "large_string" => DataType::LargeUtf8,
            "binary" => DataType::Binary,
            "large_binary" => DataType::LargeBinary,
            "struct" => {
                self.expect("{")?;
                let mut fields = Vec::new();
                if !self.eat("}") {
                    loop {
                        fields.push(self.field()?);
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                DataType::Struct(Fields::from(fields))
            }
            "list" | "fixed_size_list" => {
                self.expect("<")?;
                let item = self.field()?;
                self.expect(">")?;
                let item = Arc::new(item);
                if name == "list" {
                    DataType::List(item)
                } else {
                    self.expect("[")?;
                    self.ws();
                    let r = self.rest();
                    let n = r.find(']').ok_or_else(|| err(r, "expected `]`"))?;
                    let size: i32 = r[..n].trim().parse().map_err(|_| err(r, "bad list size"))?;
                    self.pos += n + 1;
                    DataType::FixedSizeList(item, size)
                }
            }
            other => {
                let body = self.macros.defs.get(other).ok_or_else(|| err(other, "unknown type or macro"))?;
                if self.depth > 16 {
                    return Err(err(other, "macro recursion"));
                }
                let mut sub = Parser { s: body, pos: 0, macros: self.macros, depth: self.depth + 1 };
                sub.data_type()?
            }
        })
    }
}

/// Renders a type exactly as pyarrow's `str(type)` does (used to compare with the official SDK).
pub fn pyarrow_type(dt: &DataType) -> String {
    fn field(f: &Field) -> String {
        format!("{}: {}{}", f.name(), pyarrow_type(f.data_type()), if f.is_nullable() { "" } else { " not null" })
    }
    match dt {
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float16 => "halffloat".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Utf8 => "string".into(),
        DataType::LargeUtf8 => "large_string".into(),
        DataType::Utf8View => "string_view".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::BinaryView => "binary_view".into(),
        DataType::Struct(fs) => {
            format!("struct<{}>", fs.iter().map(|f| field(f)).collect::<Vec<_>>().join(", "))
        }
        DataType::List(f) => format!("list<{}>", field(f)),
        DataType::LargeList(f) => format!("large_list<{}>", field(f)),
        DataType::FixedSizeList(f, n) => format!("fixed_size_list<{}>[{n}]", field(f)),
        other => format!("{other:?}"),
    }
}

/// Renders a column as `name: type` in pyarrow's schema notation.
pub fn pyarrow_field(f: &Field) -> String {
    format!("{}: {}{}", f.name(), pyarrow_type(f.data_type()), if f.is_nullable() { "" } else { " not null" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_types_and_macros() {
        let mut m = Macros::default();
        m.define("HDR", "struct{timestamp: TIME?, frame_id: string?}");
        m.define("TIME", "struct{seconds: int32!, nanoseconds: uint32!}");
        let f = m.parse_field("cells: list<item:struct{header: HDR?, x: double?}?>!").unwrap();
        assert!(!f.is_nullable());
        assert_eq!(
            pyarrow_field(&f),
            "cells: list<item: struct<header: struct<timestamp: struct<seconds: int32 not null, nanoseconds: uint32 not null>, frame_id: string>, x: double>> not null"
        );
        let f = m.parse_field("k: fixed_size_list<item:double?>[9]!").unwrap();
        assert_eq!(pyarrow_field(&f), "k: fixed_size_list<item: double>[9] not null");
    }

    #[test]
    fn rejects_malformed_text() {
        let m = Macros::default();
        assert!(m.parse_field("x: double").is_err());
        assert!(m.parse_field("x: nosuch!").is_err());
        assert!(m.parse_field("x: struct{a: int8!!").is_err());
        assert!(m.parse_field("x: list<item:double?>! junk").is_err());
    }
}
