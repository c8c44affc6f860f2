//! CDR (OMG XCDR1, "plain CDR") as ROS 2 puts it on the wire: a 4-byte encapsulation header
//! (`00 01 00 00` little endian, `00 00 00 00` big endian), then the message, every primitive aligned
//! to its own size (8 for 64-bit types) **relative to the first byte after the header**.
//!
//! The reader never panics and never allocates more than the input can justify: every length is
//! checked against the bytes left before anything is reserved, so malformed, truncated or oversized
//! input yields a [`RosError`]. The writer is its exact inverse (used by replay and by the tests).

use bytes::Bytes;

use super::RosError;

/// Size of the encapsulation header every ROS 2 serialized message starts with.
pub const ENCAPSULATION_HEADER_LEN: usize = 4;

/// Byte order of a CDR stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endian {
    #[default]
    Little,
    Big,
}

impl Endian {
    /// The encapsulation header that announces this byte order (plain CDR, no options).
    pub fn header(self) -> [u8; 4] {
        match self {
            Endian::Little => [0, 1, 0, 0],
            Endian::Big => [0, 0, 0, 0],
        }
    }

    /// Reads the encapsulation header. Only plain CDR (XCDR1, kinds 0x0000/0x0001) is accepted:
    /// parameter lists and XCDR2 encapsulations are refused with a typed error.
    pub fn from_header(data: &[u8]) -> Result<Endian, RosError> {
        if data.len() < ENCAPSULATION_HEADER_LEN {
            return Err(RosError::MissingHeader { len: data.len() });
        }
        match u16::from_be_bytes([data[0], data[1]]) {
            0x0000 => Ok(Endian::Big),
            0x0001 => Ok(Endian::Little),
            kind => Err(RosError::UnsupportedEncapsulation { kind }),
        }
    }
}

/// A bounds-checked cursor over one serialized message.
#[derive(Debug, Clone)]
pub struct CdrReader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
    /// When the message came as [`Bytes`], `uint8[]` blobs are sliced from it without a copy.
    owner: Option<&'a Bytes>,
}

macro_rules! read_prim {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[inline]
        pub fn $name(&mut self) -> Result<$t, RosError> {
            const N: usize = std::mem::size_of::<$t>();
            self.align(N)?;
            let b = self.take(N)?;
            let a: [u8; N] = b.try_into().map_err(|_| self.truncated(N))?;
            Ok(if self.little { <$t>::from_le_bytes(a) } else { <$t>::from_be_bytes(a) })
        }
    )*};
}

impl<'a> CdrReader<'a> {
    /// A reader over `data`, which starts with the 4-byte encapsulation header.
    pub fn new(data: &'a [u8]) -> Result<Self, RosError> {
        let endian = Endian::from_header(data)?;
        Ok(CdrReader {
            buf: &data[ENCAPSULATION_HEADER_LEN..],
            pos: 0,
            little: endian == Endian::Little,
            owner: None,
        })
    }

    /// Like [`CdrReader::new`], but byte blobs (`uint8[]`) share `data`'s memory instead of copying.
    pub fn from_bytes(data: &'a Bytes) -> Result<Self, RosError> {
        let mut r = Self::new(data)?;
        r.owner = Some(data);
        Ok(r)
    }

    /// A reader over a payload *without* encapsulation header (what a DDS decoder hands over).
    pub fn from_payload(payload: &'a [u8], endian: Endian) -> Self {
        CdrReader {
            buf: payload,
            pos: 0,
            little: endian == Endian::Little,
            owner: None,
        }
    }

    pub fn endian(&self) -> Endian {
        if self.little {
            Endian::Little
        } else {
            Endian::Big
        }
    }

    /// Offset in the payload (after the encapsulation header).
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn truncated(&self, needed: usize) -> RosError {
        RosError::Truncated {
            offset: self.pos,
            needed,
            remaining: self.remaining(),
        }
    }

    /// Skips the padding that brings the position to a multiple of `n`.
    #[inline]
    pub fn align(&mut self, n: usize) -> Result<(), RosError> {
        let pad = (n - self.pos % n) % n;
        if pad > self.remaining() {
            return Err(self.truncated(pad));
        }
        self.pos += pad;
        Ok(())
    }

    /// The next `n` bytes, unaligned.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RosError> {
        if n > self.remaining() {
            return Err(self.truncated(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    read_prim!(read_u16: u16, read_i16: i16, read_u32: u32, read_i32: i32, read_u64: u64, read_i64: i64, read_f32: f32, read_f64: f64);

    #[inline]
    pub fn read_u8(&mut self) -> Result<u8, RosError> {
        Ok(self.take(1)?[0])
    }

    #[inline]
    pub fn read_i8(&mut self) -> Result<i8, RosError> {
        Ok(self.take(1)?[0] as i8)
    }

    /// Any non-zero byte is `true` (as rosbags and the DDS implementations read it).
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool, RosError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// A sequence's element count, refused when `count × min_element_size` exceeds the bytes left
    /// (so no allocation is ever larger than the input justifies).
    #[inline]
    pub fn read_len(&mut self, min_element_size: usize) -> Result<usize, RosError> {
        let offset = self.pos;
        let n = self.read_u32()? as usize;
        match n.checked_mul(min_element_size.max(1)) {
            Some(need) if need <= self.remaining() => Ok(n),
            _ => Err(RosError::LengthOverflow {
                offset,
                len: n,
                remaining: self.remaining(),
            }),
        }
    }

    /// A ROS `string`: u32 length including the terminating NUL, the bytes, the NUL. A zero length
    /// (written by some DDS implementations for "") reads as empty. Must be UTF-8.
    pub fn read_string(&mut self) -> Result<String, RosError> {
        let offset = self.pos;
        let n = self.read_len(1)?;
        let b = self.take(n)?;
        let b = match b.split_last() {
            Some((0, s)) => s,
            Some(_) => {
                return Err(RosError::InvalidString {
                    offset,
                    reason: "missing NUL terminator",
                })
            }
            None => b,
        };
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(RosError::InvalidString {
                offset,
                reason: "not UTF-8",
            }),
        }
    }

    /// A `uint8[]` / `byte[]` sequence, zero-copy when the reader was made with [`Self::from_bytes`].
    pub fn read_blob(&mut self) -> Result<Bytes, RosError> {
        let n = self.read_len(1)?;
        self.read_fixed_blob(n)
    }

    /// A `uint8[N]` array.
    pub fn read_fixed_blob(&mut self, n: usize) -> Result<Bytes, RosError> {
        let start = self.pos;
        let b = self.take(n)?;
        Ok(match self.owner {
            Some(owner) => {
                owner.slice(ENCAPSULATION_HEADER_LEN + start..ENCAPSULATION_HEADER_LEN + start + n)
            }
            None => Bytes::copy_from_slice(b),
        })
    }
}

/// Serializes one message; [`CdrWriter::finish`] returns the bytes, encapsulation header included.
#[derive(Debug, Clone)]
pub struct CdrWriter {
    buf: Vec<u8>,
    little: bool,
}

macro_rules! write_prim {
    ($($name:ident: $t:ty),* $(,)?) => {$(
        #[inline]
        pub fn $name(&mut self, v: $t) {
            self.align(std::mem::size_of::<$t>());
            if self.little {
                self.buf.extend_from_slice(&v.to_le_bytes());
            } else {
                self.buf.extend_from_slice(&v.to_be_bytes());
            }
        }
    )*};
}

impl Default for CdrWriter {
    fn default() -> Self {
        Self::new(Endian::Little)
    }
}

impl CdrWriter {
    pub fn new(endian: Endian) -> Self {
        Self::with_capacity(endian, 64)
    }

    pub fn with_capacity(endian: Endian, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + ENCAPSULATION_HEADER_LEN);
        buf.extend_from_slice(&endian.header());
        CdrWriter {
            buf,
            little: endian == Endian::Little,
        }
    }

    /// Pads with zeros to a multiple of `n` relative to the payload start.
    #[inline]
    pub fn align(&mut self, n: usize) {
        let pos = self.buf.len() - ENCAPSULATION_HEADER_LEN;
        let pad = (n - pos % n) % n;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    write_prim!(write_u16: u16, write_i16: i16, write_u32: u32, write_i32: i32, write_u64: u64, write_i64: i64, write_f32: f32, write_f64: f64);

    #[inline]
    pub fn write_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    #[inline]
    pub fn write_i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }

    #[inline]
    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    /// A sequence length. Panics only if a collection holds more than `u32::MAX` elements, which
    /// CDR cannot represent.
    #[inline]
    pub fn write_len(&mut self, n: usize) {
        self.write_u32(u32::try_from(n).expect("CDR sequences hold at most u32::MAX elements"));
    }

    pub fn write_string(&mut self, s: &str) {
        self.write_len(s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn write_blob(&mut self, b: &[u8]) {
        self.write_len(b.len());
        self.buf.extend_from_slice(b);
    }

    pub fn write_raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() <= ENCAPSULATION_HEADER_LEN
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A value that has a CDR representation. `MIN_SIZE` is a lower bound of its encoded size, used to
/// refuse sequence lengths that the remaining input cannot hold.
pub trait CdrCodec: Sized {
    const MIN_SIZE: usize;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError>;
    fn write(&self, w: &mut CdrWriter);
}

macro_rules! codec_prim {
    ($($t:ty: $r:ident, $w:ident);* $(;)?) => {$(
        impl CdrCodec for $t {
            const MIN_SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
                r.$r()
            }
            #[inline]
            fn write(&self, w: &mut CdrWriter) {
                w.$w(*self)
            }
        }
    )*};
}

codec_prim! {
    u8: read_u8, write_u8; i8: read_i8, write_i8; bool: read_bool, write_bool;
    u16: read_u16, write_u16; i16: read_i16, write_i16;
    u32: read_u32, write_u32; i32: read_i32, write_i32;
    u64: read_u64, write_u64; i64: read_i64, write_i64;
    f32: read_f32, write_f32; f64: read_f64, write_f64;
}

impl CdrCodec for String {
    const MIN_SIZE: usize = 4;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
        r.read_string()
    }
    fn write(&self, w: &mut CdrWriter) {
        w.write_string(self)
    }
}

/// `uint8[]` as one blob.
impl CdrCodec for Bytes {
    const MIN_SIZE: usize = 4;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
        r.read_blob()
    }
    fn write(&self, w: &mut CdrWriter) {
        w.write_blob(self)
    }
}

impl<T: CdrCodec> CdrCodec for Vec<T> {
    const MIN_SIZE: usize = 4;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
        let n = r.read_len(T::MIN_SIZE)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(T::read(r)?);
        }
        Ok(v)
    }
    fn write(&self, w: &mut CdrWriter) {
        w.write_len(self.len());
        for x in self {
            x.write(w);
        }
    }
}

/// A ROS fixed-size array `T[N]` (no length on the wire).
#[derive(Clone, Copy, PartialEq)]
pub struct Array<T, const N: usize>(pub [T; N]);

impl<T: Copy + Default, const N: usize> Default for Array<T, N> {
    fn default() -> Self {
        Array([T::default(); N])
    }
}

impl<T: std::fmt::Debug, const N: usize> std::fmt::Debug for Array<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<T, const N: usize> std::ops::Deref for Array<T, N> {
    type Target = [T; N];
    fn deref(&self) -> &[T; N] {
        &self.0
    }
}

impl<T, const N: usize> std::ops::DerefMut for Array<T, N> {
    fn deref_mut(&mut self) -> &mut [T; N] {
        &mut self.0
    }
}

impl<T, const N: usize> From<[T; N]> for Array<T, N> {
    fn from(a: [T; N]) -> Self {
        Array(a)
    }
}

impl<T: serde::Serialize, const N: usize> serde::Serialize for Array<T, N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(N))?;
        for x in &self.0 {
            seq.serialize_element(x)?;
        }
        seq.end()
    }
}

impl<T: CdrCodec + Copy + Default, const N: usize> CdrCodec for Array<T, N> {
    const MIN_SIZE: usize = N * T::MIN_SIZE;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
        let mut a = [T::default(); N];
        for x in a.iter_mut() {
            *x = T::read(r)?;
        }
        Ok(Array(a))
    }
    fn write(&self, w: &mut CdrWriter) {
        for x in &self.0 {
            x.write(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_relative_to_the_payload() {
        let mut w = CdrWriter::new(Endian::Little);
        w.write_u8(7);
        w.write_f64(1.5);
        w.write_string("ab");
        w.write_u16(3);
        let b = w.finish();
        assert_eq!(&b[..4], &[0, 1, 0, 0]);
        assert_eq!(b.len(), 4 + 8 + 8 + 4 + 3 + 1 + 2);
        let mut r = CdrReader::new(&b).unwrap();
        assert_eq!(r.read_u8().unwrap(), 7);
        assert_eq!(r.read_f64().unwrap(), 1.5);
        assert_eq!(r.read_string().unwrap(), "ab");
        assert_eq!(r.read_u16().unwrap(), 3);
        assert_eq!(r.remaining(), 0);
        assert!(matches!(r.read_u8(), Err(RosError::Truncated { .. })));
    }

    #[test]
    fn big_endian_round_trip() {
        let mut w = CdrWriter::new(Endian::Big);
        w.write_i32(-2);
        w.write_f32(0.5);
        let b = w.finish();
        assert_eq!(&b[..8], &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe]);
        let mut r = CdrReader::new(&b).unwrap();
        assert_eq!(r.endian(), Endian::Big);
        assert_eq!(r.read_i32().unwrap(), -2);
        assert_eq!(r.read_f32().unwrap(), 0.5);
    }

    #[test]
    fn refuses_oversized_lengths_and_bad_headers() {
        let b = [0u8, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f, 1, 2];
        let mut r = CdrReader::new(&b).unwrap();
        assert!(matches!(
            Vec::<f64>::read(&mut r),
            Err(RosError::LengthOverflow {
                len: 0x7fff_ffff,
                ..
            })
        ));
        let mut r = CdrReader::new(&b).unwrap();
        assert!(matches!(
            r.read_string(),
            Err(RosError::LengthOverflow { .. })
        ));
        assert!(matches!(
            CdrReader::new(&[0, 1]),
            Err(RosError::MissingHeader { len: 2 })
        ));
        assert!(matches!(
            CdrReader::new(&[0, 7, 0, 0]),
            Err(RosError::UnsupportedEncapsulation { kind: 7 })
        ));
        let b = [0u8, 1, 0, 0, 2, 0, 0, 0, b'a', b'b'];
        assert!(matches!(
            CdrReader::new(&b).unwrap().read_string(),
            Err(RosError::InvalidString { .. })
        ));
    }

    #[test]
    fn blobs_share_memory_when_possible() {
        let mut w = CdrWriter::new(Endian::Little);
        w.write_blob(&[1, 2, 3]);
        let b = Bytes::from(w.finish());
        let mut r = CdrReader::from_bytes(&b).unwrap();
        let blob = r.read_blob().unwrap();
        assert_eq!(&blob[..], &[1, 2, 3]);
        assert_eq!(blob.as_ptr(), b[8..].as_ptr());
    }
}
