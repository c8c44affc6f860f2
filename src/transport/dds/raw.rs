//! Raw-CDR adapters for RustDDS: samples cross the DDS boundary as bytes, never as typed values.
//!
//! RustDDS splits the 4-byte encapsulation header (representation identifier + options) off the
//! payload before decoding and adds it back after encoding. The bridge's boundary is "CDR with its
//! header" (what rcl's serialized messages are), so the reader side puts the header back and the
//! writer side strips it. Decoding costs one copy of the payload (~1 ms for a 6 MB image), against
//! ~28 ms for serde-driven deserialization byte by byte.

use std::convert::Infallible;

use bytes::Bytes;
use rustdds::no_key::{Decode, DefaultDecoder, DeserializerAdapter, SerializerAdapter};
use rustdds::RepresentationIdentifier;

/// Length of the encapsulation header.
pub const HEADER_LEN: usize = 4;

/// A received sample: serialized CDR with its encapsulation header restored.
#[derive(Debug, Clone)]
pub struct RawCdr(pub Bytes);

/// Plain and XTypes CDR in both byte orders: what a ROS 2 type can arrive as. Which one it is
/// stays visible in the restored header, and the bridge's decoder judges it.
static RECEIVED_ENCODINGS: [RepresentationIdentifier; 8] = [
    RepresentationIdentifier::CDR_LE,
    RepresentationIdentifier::CDR_BE,
    RepresentationIdentifier::CDR2_LE,
    RepresentationIdentifier::CDR2_BE,
    RepresentationIdentifier::XCDR2_LE,
    RepresentationIdentifier::XCDR2_BE,
    RepresentationIdentifier::D_CDR2_LE,
    RepresentationIdentifier::D_CDR2_BE,
];

/// Reader adapter producing [`RawCdr`].
pub struct RawCdrAdapter;

/// The decoder behind [`RawCdrAdapter`]: copies the payload behind a rebuilt header.
#[derive(Clone, Copy)]
pub struct RawCdrDecoder;

impl DeserializerAdapter<RawCdr> for RawCdrAdapter {
    type Error = Infallible;
    type Decoded = RawCdr;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        &RECEIVED_ENCODINGS
    }

    fn transform_decoded(decoded: RawCdr) -> RawCdr {
        decoded
    }
}

impl DefaultDecoder<RawCdr> for RawCdrAdapter {
    type Decoder = RawCdrDecoder;
    const DECODER: RawCdrDecoder = RawCdrDecoder;
}

impl<'de> Decode<'de, RawCdr> for RawCdrDecoder {
    type Error = Infallible;

    fn decode_bytes(
        self,
        payload: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> Result<RawCdr, Infallible> {
        Ok(RawCdr(with_header(encoding, payload)))
    }
}

/// Puts back the header RustDDS took off. RustDDS does not pass on its options bytes, which count
/// the trailing alignment padding (XTypes 1.3, 7.6.3.1.2): RTPS carries unfragmented payloads in
/// whole 4-byte words, so a message whose CDR length is not a multiple of 4 may arrive with up to
/// 3 zero bytes after it, indistinguishable here from data. CDR decoders ignore trailing bytes; the options
/// are rebuilt as zero.
pub fn with_header(encoding: RepresentationIdentifier, payload: &[u8]) -> Bytes {
    let mut cdr = Vec::with_capacity(HEADER_LEN + payload.len());
    cdr.extend_from_slice(&encoding.to_bytes());
    cdr.extend_from_slice(&[0, 0]);
    cdr.extend_from_slice(payload);
    Bytes::from(cdr)
}

/// A sample to write: the CDR payload after its encapsulation header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrBody(pub Bytes);

/// Writer adapter for little-endian plain CDR, the encoding of every ROS 2 RMW on every
/// platform ROS 2 supports. RustDDS fixes a writer's representation per adapter type, so
/// [`split_header`] refuses other encodings instead of mislabelling them.
pub struct CdrLeWriterAdapter;

impl SerializerAdapter<CdrBody> for CdrLeWriterAdapter {
    type Error = Infallible;

    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::CDR_LE
    }

    fn to_bytes(value: &CdrBody) -> Result<Bytes, Infallible> {
        Ok(value.0.clone())
    }
}

/// Why a message cannot be written by a [`CdrLeWriterAdapter`] writer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the message is {0} bytes, shorter than the 4-byte CDR encapsulation header")]
    Short(usize),
    #[error(
        "encapsulation {0:02x?} is not little-endian plain CDR (00 01), the only one this writer sends"
    )]
    Unsupported([u8; 2]),
}

/// Checks the header of `cdr` and returns the payload after it, copied once for RustDDS.
pub fn split_header(cdr: &[u8]) -> Result<CdrBody, HeaderError> {
    if cdr.len() < HEADER_LEN {
        return Err(HeaderError::Short(cdr.len()));
    }
    let id = [cdr[0], cdr[1]];
    if id != RepresentationIdentifier::CDR_LE.to_bytes() {
        return Err(HeaderError::Unsupported(id));
    }
    Ok(CdrBody(Bytes::copy_from_slice(&cdr[HEADER_LEN..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_restored_and_stripped() {
        let cdr = with_header(RepresentationIdentifier::CDR_LE, b"\x03\0\0\0ab\0");
        assert_eq!(&cdr[..], b"\0\x01\0\0\x03\0\0\0ab\0");
        assert_eq!(&split_header(&cdr).unwrap().0[..], b"\x03\0\0\0ab\0");
        assert_eq!(split_header(b"\0\x01"), Err(HeaderError::Short(2)));
        assert_eq!(
            split_header(b"\0\0\0\0x"),
            Err(HeaderError::Unsupported([0, 0]))
        );
        let decoded = RawCdrAdapter::from_bytes(b"xyz", RepresentationIdentifier::CDR_BE).unwrap();
        assert_eq!(&decoded.0[..], b"\0\0\0\0xyz");
    }
}
