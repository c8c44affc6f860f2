//! ROS 1 message definitions (the `message_definition` of a bag's connection: the type's fields,
//! then each dependency after a `MSG: pkg/Type` line) and the ROS 1 → ROS 2 CDR transcoding they
//! drive, so ROS 1 messages reach the same adapters as ROS 2 ones.
//!
//! The differences bridged, as rosbags' `ros1_to_cdr` does: ROS 1 packs fields without alignment
//! and strings without their NUL, CDR aligns each primitive to its size (from the end of the
//! 4-byte encapsulation header) and counts the NUL; ROS 1 `std_msgs/Header` leads with `seq`, which
//! ROS 2 lacks; `time`/`duration` are two 32-bit words in both (`builtin_interfaces/Time` /
//! `Duration` in ROS 2); a type without fields is one placeholder byte in CDR.

use std::collections::HashMap;

/// Why a definition could not be read or a message could not be transcoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefError {
    #[error("message definition of {ty}: {reason}")]
    Definition { ty: String, reason: String },
    #[error("{0}")]
    Message(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prim {
    /// bool, byte, char, int8, uint8
    B1,
    B2,
    B4,
    B8,
}

impl Prim {
    fn size(self) -> usize {
        match self {
            Prim::B1 => 1,
            Prim::B2 => 2,
            Prim::B4 => 4,
            Prim::B8 => 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Prim(Prim, &'static str),
    Str,
    /// `time` or `duration`: two 32-bit words.
    Time(&'static str),
    Struct(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Arr {
    One,
    Fixed(usize),
    Var,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: Ty,
    arr: Arr,
}

#[derive(Debug, Clone)]
struct Struct {
    /// ROS 1 name, `pkg/Type`.
    name: String,
    fields: Vec<Field>,
    /// Constant lines, as written (comments removed).
    constants: Vec<String>,
    /// ROS 1 `std_msgs/Header`: its leading `uint32 seq` is not in ROS 2.
    drop_seq: bool,
}

/// A connection's message type, compiled for transcoding.
#[derive(Debug, Clone)]
pub struct Ros1Type {
    structs: Vec<Struct>,
    /// The ROS 2 type when it extends the ROS 1 one with trailing fields (`sensor_msgs/Range`
    /// gained `variance`): those fields are appended with their zero values.
    extension: Option<(Box<Ros1Type>, usize)>,
}

/// How a ROS 1 type's wire layout compares with the ROS 2 type of the same name.
#[derive(Debug, Clone, PartialEq)]
pub enum Compat {
    /// The same layout.
    Same,
    /// ROS 2 appends these fields: they are written with zero values.
    Extended(Vec<String>),
    /// Another layout: the CDR is the ROS 1 layout's, which a ROS 2 reader of the type cannot decode.
    Different,
}

const HEADER: &str = "std_msgs/Header";
const SEPARATOR: &str =
    "================================================================================";

/// `sensor_msgs/Imu` → `sensor_msgs/msg/Imu` (names already in ROS 2 form are kept).
pub fn ros2_type_name(ros1: &str) -> String {
    match ros1.split_once('/') {
        Some((pkg, name)) if !name.contains('/') => format!("{pkg}/msg/{name}"),
        _ => ros1.to_string(),
    }
}

fn prim(name: &str) -> Option<Ty> {
    Some(match name {
        "bool" => Ty::Prim(Prim::B1, "bool"),
        "byte" => Ty::Prim(Prim::B1, "byte"),
        "char" => Ty::Prim(Prim::B1, "char"),
        "int8" => Ty::Prim(Prim::B1, "int8"),
        "uint8" => Ty::Prim(Prim::B1, "uint8"),
        "int16" => Ty::Prim(Prim::B2, "int16"),
        "uint16" => Ty::Prim(Prim::B2, "uint16"),
        "int32" => Ty::Prim(Prim::B4, "int32"),
        "uint32" => Ty::Prim(Prim::B4, "uint32"),
        "float32" => Ty::Prim(Prim::B4, "float32"),
        "int64" => Ty::Prim(Prim::B8, "int64"),
        "uint64" => Ty::Prim(Prim::B8, "uint64"),
        "float64" => Ty::Prim(Prim::B8, "float64"),
        "string" => Ty::Str,
        "time" => Ty::Time("builtin_interfaces/Time"),
        "duration" => Ty::Time("builtin_interfaces/Duration"),
        _ => return None,
    })
}

/// One field or constant line of a definition section.
enum Line {
    Field { ty: String, arr: Arr, name: String },
    Constant(String),
}

fn parse_line(raw: &str, ty_name: &str) -> Result<Option<Line>, DefError> {
    let bad = |reason: String| DefError::Definition {
        ty: ty_name.to_string(),
        reason,
    };
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (ty, rest) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad(format!("line `{line}` has no field name")))?;
    let rest = rest.trim_start();
    // `TYPE NAME=VALUE` is a constant; a string constant's value runs to the end of the line.
    let head = rest.split('#').next().unwrap_or("");
    if head.contains('=') {
        let text = if ty == "string" {
            line.to_string()
        } else {
            format!("{ty} {}", head.trim())
        };
        return Ok(Some(Line::Constant(text)));
    }
    let name = head.trim().to_string();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad(format!("line `{line}`: cannot read the field name")));
    }
    let (base, arr) = match ty.split_once('[') {
        None => (ty, Arr::One),
        Some((base, len)) => {
            let len = len
                .strip_suffix(']')
                .ok_or_else(|| bad(format!("line `{line}`: bad array type `{ty}`")))?;
            let arr = if len.is_empty() {
                Arr::Var
            } else {
                Arr::Fixed(
                    len.parse()
                        .map_err(|_| bad(format!("line `{line}`: bad array length `{len}`")))?,
                )
            };
            (base, arr)
        }
    };
    Ok(Some(Line::Field {
        ty: base.to_string(),
        arr,
        name,
    }))
}

/// The full name of a type reference inside `owner`'s definition.
fn resolve(reference: &str, owner: &str) -> String {
    if reference == "Header" {
        return HEADER.to_string();
    }
    if reference.contains('/') {
        return reference.to_string();
    }
    let pkg = owner.split('/').next().unwrap_or("");
    format!("{pkg}/{reference}")
}

impl Ros1Type {
    /// Compiles `ty`'s definition (`pkg/Type` as a ROS 1 connection names it).
    pub fn parse(ty: &str, definition: &str) -> Result<Self, DefError> {
        // Sections: the type itself, then `MSG: dep` blocks.
        let mut sections: HashMap<String, Vec<&str>> = HashMap::new();
        let mut current = ty.to_string();
        sections.insert(current.clone(), Vec::new());
        for line in definition.lines() {
            let t = line.trim();
            if t.starts_with("==") && t.chars().all(|c| c == '=') {
                continue;
            }
            if let Some(dep) = t.strip_prefix("MSG:") {
                current = dep.trim().to_string();
                sections.entry(current.clone()).or_default();
                continue;
            }
            sections.get_mut(&current).expect("section").push(line);
        }
        let mut out = Ros1Type {
            structs: Vec::new(),
            extension: None,
        };
        let mut index = HashMap::new();
        out.compile(ty, &sections, &mut index, &mut Vec::new())?;
        Ok(out)
    }

    fn compile(
        &mut self,
        ty: &str,
        sections: &HashMap<String, Vec<&str>>,
        index: &mut HashMap<String, usize>,
        stack: &mut Vec<String>,
    ) -> Result<usize, DefError> {
        if let Some(&i) = index.get(ty) {
            return Ok(i);
        }
        if stack.iter().any(|s| s == ty) {
            return Err(DefError::Definition {
                ty: ty.to_string(),
                reason: "the type contains itself".into(),
            });
        }
        let lines = sections.get(ty).ok_or_else(|| DefError::Definition {
            ty: stack.first().cloned().unwrap_or_else(|| ty.to_string()),
            reason: format!("no `MSG: {ty}` section for a type it uses"),
        })?;
        stack.push(ty.to_string());
        let mut fields = Vec::new();
        let mut constants = Vec::new();
        for raw in lines {
            match parse_line(raw, ty)? {
                None => {}
                Some(Line::Constant(c)) => constants.push(c),
                Some(Line::Field {
                    ty: base,
                    arr,
                    name,
                }) => {
                    let t = match prim(&base) {
                        Some(t) => t,
                        None => {
                            let full = resolve(&base, ty);
                            Ty::Struct(self.compile(&full, sections, index, stack)?)
                        }
                    };
                    fields.push(Field { name, ty: t, arr });
                }
            }
        }
        stack.pop();
        let drop_seq = ty == HEADER
            && fields.first().is_some_and(|f| {
                f.name == "seq" && f.arr == Arr::One && f.ty == Ty::Prim(Prim::B4, "uint32")
            });
        if drop_seq {
            fields.remove(0);
        }
        self.structs.push(Struct {
            name: ty.to_string(),
            fields,
            constants,
            drop_seq,
        });
        let i = self.structs.len() - 1;
        index.insert(ty.to_string(), i);
        Ok(i)
    }

    fn root(&self) -> usize {
        self.structs.len() - 1
    }

    /// The wire shape of a field: sizes, strings, arrays and nesting, names left out (`time` is
    /// two 32-bit words like `builtin_interfaces/Time`).
    fn field_shape(&self, f: &Field) -> String {
        let arr = match f.arr {
            Arr::One => String::new(),
            Arr::Fixed(n) => format!("[{n}]"),
            Arr::Var => "[]".into(),
        };
        let ty = match &f.ty {
            Ty::Prim(p, _) => p.size().to_string(),
            Ty::Str => "s".into(),
            Ty::Time(_) => "{44}".into(),
            Ty::Struct(j) => self.shape(*j),
        };
        format!("{arr}{ty}")
    }

    fn shape(&self, i: usize) -> String {
        let fields = &self.structs[i].fields;
        if fields.is_empty() {
            return "{1}".into();
        }
        format!(
            "{{{}}}",
            fields
                .iter()
                .map(|f| self.field_shape(f))
                .collect::<String>()
        )
    }

    /// Compares the layout with the ROS 2 definition `ros2` of the same type, and adopts its
    /// trailing extra fields when it only appends some.
    pub fn adopt(&mut self, ros2: &str) -> Compat {
        let own_name = self.structs[self.root()].name.clone();
        let Ok(target) = Ros1Type::parse(&own_name, ros2) else {
            return Compat::Different;
        };
        if self.shape(self.root()) == target.shape(target.root()) {
            return Compat::Same;
        }
        let mine = &self.structs[self.root()].fields;
        let theirs = &target.structs[target.root()].fields;
        let prefix = mine.len() < theirs.len()
            && mine
                .iter()
                .zip(theirs)
                .all(|(a, b)| self.field_shape(a) == target.field_shape(b));
        if !prefix {
            return Compat::Different;
        }
        let n = mine.len();
        let extra = theirs[n..].iter().map(|f| f.name.clone()).collect();
        self.extension = Some((Box::new(target), n));
        Compat::Extended(extra)
    }

    /// The zero value of `f` in CDR.
    fn zero_cdr(&self, f: &Field, out: &mut Vec<u8>) {
        let n = match f.arr {
            Arr::Var => {
                align(out, 4);
                out.extend_from_slice(&0u32.to_le_bytes());
                return;
            }
            Arr::Fixed(n) => n,
            Arr::One => 1,
        };
        for _ in 0..n {
            match &f.ty {
                Ty::Prim(p, _) => {
                    align(out, p.size());
                    out.resize(out.len() + p.size(), 0);
                }
                Ty::Time(_) => {
                    align(out, 4);
                    out.resize(out.len() + 8, 0);
                }
                Ty::Str => {
                    align(out, 4);
                    out.extend_from_slice(&1u32.to_le_bytes());
                    out.push(0);
                }
                Ty::Struct(j) => {
                    let fields = &self.structs[*j].fields;
                    if fields.is_empty() {
                        out.push(0);
                    }
                    for g in fields {
                        self.zero_cdr(g, out);
                    }
                }
            }
        }
    }

    /// ROS 1 serialization → CDR (little endian, encapsulation header included).
    pub fn to_cdr(&self, ros1: &[u8]) -> Result<Vec<u8>, DefError> {
        let mut out = Vec::with_capacity(ros1.len() + ros1.len() / 8 + 16);
        out.extend_from_slice(&[0, 1, 0, 0]);
        let mut r = In { buf: ros1, pos: 0 };
        self.struct_to_cdr(self.root(), &mut r, &mut out)?;
        if let Some((ros2, from)) = &self.extension {
            for f in &ros2.structs[ros2.root()].fields[*from..] {
                ros2.zero_cdr(f, &mut out);
            }
        }
        if r.pos != ros1.len() {
            return Err(DefError::Message(format!(
                "{} bytes left over after the message's {} bytes",
                ros1.len() - r.pos,
                r.pos
            )));
        }
        Ok(out)
    }

    fn struct_to_cdr(&self, i: usize, r: &mut In, out: &mut Vec<u8>) -> Result<(), DefError> {
        let s = &self.structs[i];
        if s.drop_seq {
            r.take(4, "std_msgs/Header seq")?;
        }
        if s.fields.is_empty() {
            out.push(0); // CDR's placeholder member of an empty struct
            return Ok(());
        }
        for f in &s.fields {
            let n = match f.arr {
                Arr::One => {
                    self.value_to_cdr(&f.ty, r, out, &f.name)?;
                    continue;
                }
                Arr::Fixed(n) => n,
                Arr::Var => {
                    let n = r.u32(&f.name)?;
                    align(out, 4);
                    out.extend_from_slice(&n.to_le_bytes());
                    n as usize
                }
            };
            match &f.ty {
                Ty::Prim(p, _) => {
                    let bytes = n
                        .checked_mul(p.size())
                        .ok_or_else(|| DefError::Message(format!("{}: array too long", f.name)))?;
                    if n > 0 {
                        align(out, p.size());
                    }
                    out.extend_from_slice(r.take(bytes, &f.name)?);
                }
                ty => {
                    for _ in 0..n {
                        self.value_to_cdr(ty, r, out, &f.name)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn value_to_cdr(
        &self,
        ty: &Ty,
        r: &mut In,
        out: &mut Vec<u8>,
        field: &str,
    ) -> Result<(), DefError> {
        match ty {
            Ty::Prim(p, _) => {
                align(out, p.size());
                out.extend_from_slice(r.take(p.size(), field)?);
            }
            Ty::Time(_) => {
                align(out, 4);
                out.extend_from_slice(r.take(8, field)?);
            }
            Ty::Str => {
                let n = r.u32(field)? as usize;
                let s = r.take(n, field)?;
                align(out, 4);
                out.extend_from_slice(&(n as u32 + 1).to_le_bytes());
                out.extend_from_slice(s);
                out.push(0);
            }
            Ty::Struct(i) => self.struct_to_cdr(*i, r, out)?,
        }
        Ok(())
    }

    /// The ROS 2 (`ros2msg`) definition of the type: the same fields, `time`/`duration` as
    /// `builtin_interfaces`, the Header without `seq`, dependencies after `MSG:` lines.
    pub fn ros2_definition(&self) -> String {
        let mut out = String::new();
        self.body(self.root(), &mut out);
        // Dependencies in order of first use, then the builtin_interfaces types used.
        let mut seen = vec![false; self.structs.len()];
        let mut order = Vec::new();
        let mut builtins: Vec<&'static str> = Vec::new();
        self.deps(self.root(), &mut seen, &mut order, &mut builtins);
        for i in order {
            out.push_str(&format!("{SEPARATOR}\nMSG: {}\n", self.structs[i].name));
            self.body(i, &mut out);
        }
        for b in builtins {
            out.push_str(&format!(
                "{SEPARATOR}\nMSG: {b}\nint32 sec\nuint32 nanosec\n"
            ));
        }
        out.trim_end().to_string()
    }

    fn deps(
        &self,
        i: usize,
        seen: &mut [bool],
        order: &mut Vec<usize>,
        builtins: &mut Vec<&'static str>,
    ) {
        for f in &self.structs[i].fields {
            match &f.ty {
                Ty::Struct(j) if !seen[*j] => {
                    seen[*j] = true;
                    order.push(*j);
                    self.deps(*j, seen, order, builtins);
                }
                Ty::Time(b) if !builtins.contains(b) => builtins.push(b),
                _ => {}
            }
        }
    }

    fn body(&self, i: usize, out: &mut String) {
        let s = &self.structs[i];
        for c in &s.constants {
            out.push_str(c);
            out.push('\n');
        }
        for f in &s.fields {
            let ty = match &f.ty {
                Ty::Prim(_, name) => (*name).to_string(),
                Ty::Str => "string".into(),
                Ty::Time(b) => (*b).to_string(),
                Ty::Struct(j) => self.structs[*j].name.clone(),
            };
            let arr = match f.arr {
                Arr::One => String::new(),
                Arr::Fixed(n) => format!("[{n}]"),
                Arr::Var => "[]".into(),
            };
            out.push_str(&format!("{ty}{arr} {}\n", f.name));
        }
    }
}

/// Pads `out` so the next value starts at a multiple of `n` after the encapsulation header.
fn align(out: &mut Vec<u8>, n: usize) {
    let pos = out.len() - 4;
    let pad = (n - pos % n) % n;
    out.resize(out.len() + pad, 0);
}

struct In<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> In<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], DefError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(DefError::Message(format!(
                "field `{field}` needs {n} bytes at offset {}, the message has {}",
                self.pos,
                self.buf.len()
            )));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, field: &str) -> Result<u32, DefError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMU_LIKE: &str = "Header header\nfloat64 x # metres\nuint8 A=1\nstring s\n\
        ================================================================================\n\
        MSG: std_msgs/Header\nuint32 seq\ntime stamp\nstring frame_id\n";

    #[test]
    fn header_loses_seq_and_fields_are_aligned() {
        let t = Ros1Type::parse("pkg/Thing", IMU_LIKE).unwrap();
        let mut ros1 = Vec::new();
        ros1.extend_from_slice(&7u32.to_le_bytes()); // seq
        ros1.extend_from_slice(&5u32.to_le_bytes()); // sec
        ros1.extend_from_slice(&9u32.to_le_bytes()); // nsec
        ros1.extend_from_slice(&2u32.to_le_bytes());
        ros1.extend_from_slice(b"ab");
        ros1.extend_from_slice(&1.5f64.to_le_bytes());
        ros1.extend_from_slice(&0u32.to_le_bytes());
        let cdr = t.to_cdr(&ros1).unwrap();
        let mut want = vec![0, 1, 0, 0];
        want.extend_from_slice(&5u32.to_le_bytes());
        want.extend_from_slice(&9u32.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(b"ab\0");
        want.push(0); // to offset 16
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&1u32.to_le_bytes());
        want.push(0);
        assert_eq!(cdr, want);
        assert!(t.to_cdr(&ros1[..10]).is_err(), "a short message is refused");
        assert_eq!(
            t.ros2_definition(),
            "uint8 A=1\nstd_msgs/Header header\nfloat64 x\nstring s\n\
             ================================================================================\n\
             MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n\
             ================================================================================\n\
             MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec"
        );
    }

    /// ROS 2's `sensor_msgs/Range` appends `float32 variance` to ROS 1's.
    #[test]
    fn fields_ros2_appends_are_written_as_zero() {
        let mut t = Ros1Type::parse(
            "sensor_msgs/Range",
            "uint8 ULTRASOUND=0\nHeader header\nuint8 radiation_type\nfloat32 range\n\
             ================================================================================\n\
             MSG: std_msgs/Header\nuint32 seq\ntime stamp\nstring frame_id\n",
        )
        .unwrap();
        let ros2 = crate::ros::msgs::definition("std_msgs/msg/Header").unwrap();
        let same = format!("std_msgs/Header header\nuint8 radiation_type\nfloat32 range\n{SEPARATOR}\nMSG: std_msgs/Header\n{ros2}");
        assert_eq!(t.clone().adopt(&same), Compat::Same);
        let extended = same.replacen("float32 range\n", "float32 range\nfloat32 variance\n", 1);
        assert_eq!(
            t.clone()
                .adopt(&extended.replacen("uint8 radiation_type", "uint16 radiation_type", 1)),
            Compat::Different
        );
        assert_eq!(
            t.adopt(&extended),
            Compat::Extended(vec!["variance".into()])
        );
        let mut ros1 = Vec::new();
        ros1.extend_from_slice(&3u32.to_le_bytes()); // seq
        ros1.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]); // stamp
        ros1.extend_from_slice(&0u32.to_le_bytes()); // frame_id ""
        ros1.push(1); // radiation_type
        ros1.extend_from_slice(&2.5f32.to_le_bytes());
        let mut want = vec![0, 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&[0, 1, 0, 0]); // "" NUL, radiation_type at 13, pad to 16
        want.extend_from_slice(&2.5f32.to_le_bytes());
        want.extend_from_slice(&0f32.to_le_bytes()); // variance
        assert_eq!(t.to_cdr(&ros1).unwrap(), want);
    }

    #[test]
    fn a_missing_dependency_is_named() {
        let e = Ros1Type::parse("pkg/A", "B b\n").unwrap_err();
        assert!(e.to_string().contains("MSG: pkg/B"), "{e}");
    }
}
