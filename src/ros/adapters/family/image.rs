//! Image (`sensor_msgs/Image`, stored raw or PNG; or JPEG, which makes it a CompressedImage) and
//! CompressedImage (`sensor_msgs/CompressedImage`).

use std::sync::Arc;

use arrow::array::{BinaryBuilder, BooleanBuilder, Int32Builder, StringBuilder};

use super::{cdr_sized, check_room, conv, finish_binary, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{binary_len, Columns, HeaderB};
use crate::ros::adapters::image::{jpeg, png_wide_grayscale, ImageCompression};
use crate::ros::adapters::rows::{Row, TopicHints};
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::msgs::std_msgs::Header;
use crate::ros::msgs::RosMessage;
use crate::ros::RosError;

/// Image.
struct ImageF {
    mode: ImageCompression,
    header: HeaderB,
    data: BinaryBuilder,
    format: StringBuilder,
    width: Int32Builder,
    height: Int32Builder,
    stride: Int32Builder,
    encoding: StringBuilder,
    bigendian: BooleanBuilder,
    /// The topic's first `is_bigendian` byte: the column is a boolean, the topic metadata keeps a
    /// byte other than 0 or 1 ([`TopicHints::is_bigendian`]).
    first_bigendian: Option<u8>,
    /// Whether a byte that will not replay as received was reported.
    warned: bool,
}

fn i32_of(v: u32, what: &str) -> Result<i32, RosError> {
    i32::try_from(v).map_err(|_| RosError::InvalidMessage {
        ros_type: sm::Image::TYPE_NAME,
        detail: format!("{what} {v} too large"),
    })
}

impl ImageF {
    fn push(&mut self, m: &sm::Image) -> Result<(), RosError> {
        let (w, h, s) = (
            i32_of(m.width, "width")?,
            i32_of(m.height, "height")?,
            i32_of(m.step, "step")?,
        );
        let png;
        let (data, format): (&[u8], &str) = match self.mode {
            ImageCompression::Png => {
                png = png_wide_grayscale(m)?;
                (&png, "png")
            }
            _ => (&m.data, "raw"),
        };
        check_room(&self.data, data.len())?;
        self.header.push(Some(&m.header));
        self.data.append_value(data);
        self.format.append_value(format);
        self.width.append_value(w);
        self.height.append_value(h);
        self.stride.append_value(s);
        self.encoding.append_value(&m.encoding);
        self.bigendian.append_value(m.is_bigendian != 0);
        self.note_bigendian(m.is_bigendian);
        Ok(())
    }

    /// Notes a message's `is_bigendian` byte, and says once per topic when one will not replay as
    /// received: the topic metadata keeps the first message's byte, when it is neither 0 nor 1.
    fn note_bigendian(&mut self, b: u8) {
        let first = *self.first_bigendian.get_or_insert(b);
        // what encode_image will make of the row
        let replayed = match b {
            0 => 0,
            _ if first > 1 => first,
            _ => 1,
        };
        if b != replayed && !self.warned {
            self.warned = true;
            tracing::warn!(
                "Image is_bigendian {b} (a flag, 0 or 1) differs from the topic's first, {first}: \
                 stored as true, it will replay as {replayed} (the topic keeps one such byte, its \
                 first message's)"
            );
        }
    }
}

impl Family for ImageF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("data", finish_binary(&mut self.data));
        cols.put("format", Arc::new(self.format.finish()));
        cols.put("width", Arc::new(self.width.finish()));
        cols.put("height", Arc::new(self.height.finish()));
        cols.put("stride", Arc::new(self.stride.finish()));
        cols.put("encoding", Arc::new(self.encoding.finish()));
        cols.put("is_bigendian", Arc::new(self.bigendian.finish()));
    }
    fn bytes(&self) -> usize {
        binary_len(&self.data)
    }
    fn hints(&self) -> TopicHints {
        TopicHints {
            // 0 and 1 are what the boolean reads back as
            is_bigendian: self.first_bigendian.filter(|&b| b > 1),
            ..TopicHints::default()
        }
    }
}

/// CompressedImage (also `Image` topics compressed to JPEG).
struct CompressedF {
    quality: u8,
    header: HeaderB,
    data: BinaryBuilder,
    format: StringBuilder,
    /// The ROS format string of the topic's first message and its codec: the column keeps only
    /// the codec, the topic metadata the string ([`TopicHints::compressed_format`]).
    first_format: Option<(String, &'static str)>,
    /// Whether a message that will not replay its format string as received was reported.
    warned: bool,
}

impl CompressedF {
    fn new(gen: Generation, quality: u8) -> Self {
        CompressedF {
            quality,
            header: HeaderB::new(gen),
            data: BinaryBuilder::new(),
            format: StringBuilder::new(),
            first_format: None,
            warned: false,
        }
    }

    /// Notes a message's ROS format string (stored as `codec`), and says once per topic when one
    /// will not replay as received: the topic metadata holds the first message's string only.
    fn note_format(&mut self, ros_format: &str, codec: &'static str) {
        let (first, first_codec) = self
            .first_format
            .get_or_insert_with(|| (ros_format.to_string(), codec));
        // what encode_compressed_image will make of the row
        let replayed = if *first_codec == codec {
            first.as_str()
        } else {
            codec
        };
        if replayed != ros_format && !self.warned {
            self.warned = true;
            tracing::warn!(
                "CompressedImage format {ros_format:?} differs from the topic's first, {first:?}: \
                 stored as `{codec}`, it will replay as {replayed:?} (the topic keeps one format \
                 string, its first message's)"
            );
        }
    }

    fn push(&mut self, h: &Header, data: &[u8], format: &str) -> Result<(), RosError> {
        check_room(&self.data, data.len())?;
        self.header.push(Some(h));
        self.data.append_value(data);
        self.format.append_value(format);
        Ok(())
    }
}

/// The ROS `format` string → the ontology's codec set (`raw png jpeg tiff h264 hevc`), as the
/// current SDK parses it: `"jpeg"`; `"rgb8; jpeg compressed bgr8"` → `jpeg`; `"16UC1;
/// compressedDepth png"` → `png`; empty → `png`; anything else → `raw`. `jpg` is spelled `jpeg`
/// (the only spelling both generations accept).
pub fn normalize_compressed_format(ros_format: &str) -> &'static str {
    let parts: Vec<&str> = ros_format.split_whitespace().collect();
    let codec = match parts.as_slice() {
        [] => return "png",
        [one] => *one,
        _ => {
            let depth = parts.iter().position(|p| *p == "compressedDepth");
            let color = parts.iter().position(|p| *p == "compressed");
            match (depth, color) {
                (Some(i), None) => parts.get(i + 1).copied().unwrap_or("png"),
                (None, Some(i)) => parts
                    .get(i.wrapping_sub(1))
                    .copied()
                    .filter(|_| i > 0)
                    .unwrap_or("png"),
                _ => "raw",
            }
        }
    };
    match codec.trim_end_matches(';').to_ascii_lowercase().as_str() {
        "png" => "png",
        "jpeg" | "jpg" => "jpeg",
        "tiff" | "tif" => "tiff",
        "h264" => "h264",
        "hevc" | "h265" => "hevc",
        _ => "raw",
    }
}

/// Whether the topic-wide format string `hint` stands for the stored codec `stored`.
fn hint_applies(hint: &str, stored: &str) -> bool {
    normalize_compressed_format(hint) == stored
}

impl Family for CompressedF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("data", finish_binary(&mut self.data));
        cols.put("format", Arc::new(self.format.finish()));
    }
    fn bytes(&self) -> usize {
        binary_len(&self.data)
    }
    fn hints(&self) -> TopicHints {
        // only a string the codec column does not already spell
        let format = self
            .first_format
            .as_ref()
            .filter(|(f, codec)| f != codec)
            .map(|(f, _)| f.clone());
        TopicHints {
            compressed_format: format,
            ..TopicHints::default()
        }
    }
}

/// The decoder of `sensor_msgs/Image` stored as `mode`: (ontology class, conversion).
pub(crate) fn image(gen: Generation, mode: ImageCompression) -> (&'static str, Box<dyn Convert>) {
    let hb = || HeaderB::new(gen);
    match mode {
        ImageCompression::Jpeg { quality } => (
            "CompressedImage",
            conv::<sm::Image, _>(
                gen,
                CompressedF::new(gen, quality),
                |m, f| {
                    let j = jpeg(m, f.quality)?;
                    f.push(&m.header, &j, "jpeg")
                },
                |m| Some(&m.header),
            ),
        ),
        mode => (
            "Image",
            conv::<sm::Image, _>(
                gen,
                ImageF {
                    mode,
                    header: hb(),
                    data: BinaryBuilder::new(),
                    format: StringBuilder::new(),
                    width: Int32Builder::new(),
                    height: Int32Builder::new(),
                    stride: Int32Builder::new(),
                    encoding: StringBuilder::new(),
                    bigendian: BooleanBuilder::new(),
                    first_bigendian: None,
                    warned: false,
                },
                |m, f| f.push(m),
                |m| Some(&m.header),
            ),
        ),
    }
}

pub(crate) fn compressed_image(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::CompressedImage, _>(
        gen,
        CompressedF::new(gen, 0),
        |m, f| {
            let codec = normalize_compressed_format(&m.format);
            f.push(&m.header, &m.data, codec)?;
            f.note_format(&m.format, codec);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_image(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let format = r.string("format");
    if !(format.is_empty() || format == "raw") {
        return Err(format!(
            "the frame is stored compressed ({format}); replay it as sensor_msgs/msg/CompressedImage with --type TOPIC=sensor_msgs/msg/CompressedImage"
        ));
    }
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::Image {
            header: r.header("header"),
            height: r.u32("height"),
            width: r.u32("width"),
            encoding: r.string("encoding"),
            // true is the topic's byte when its metadata keeps one other than 1
            is_bigendian: if r.bool("is_bigendian") {
                r.hints().is_bigendian.unwrap_or(1)
            } else {
                0
            },
            step: r.u32("stride"),
            data,
        },
        blob,
    )
}

pub(crate) fn encode_compressed_image(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let stored = r.string("format");
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::CompressedImage {
            header: r.header("header"),
            // the topic's ROS format string where it stands for the stored codec
            format: match &r.hints().compressed_format {
                Some(hint) if hint_applies(hint, &stored) => hint.clone(),
                _ => stored,
            },
            data,
        },
        blob,
    )
}

#[cfg(test)]
mod tests {
    use super::normalize_compressed_format as n;

    #[test]
    fn compressed_formats() {
        assert_eq!(n("jpeg"), "jpeg");
        assert_eq!(n("jpg"), "jpeg");
        assert_eq!(n("PNG"), "png");
        assert_eq!(n(""), "png");
        assert_eq!(n("rgb8; jpeg compressed bgr8"), "jpeg");
        assert_eq!(n("bgr8; png compressed "), "png");
        assert_eq!(n("16UC1; compressedDepth png"), "png");
        assert_eq!(n("32FC1; compressedDepth rvl"), "raw");
        assert_eq!(n("h264"), "h264");
        assert_eq!(n("weird stuff here"), "raw");
    }
}
