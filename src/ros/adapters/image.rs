//! Optional image compression (CPU-bound: run it in the processing-plane workers, which the adapters
//! are made for: an [`super::Adapter`] is `Send` and converts a whole batch in one call).
//!
//! * PNG keeps the `Image` type and is lossless for every encoding: the SDK's "wide grayscale" form,
//!   the raw buffer (`height × step` bytes, padding included) as an 8-bit grey PNG of width `step`.
//! * JPEG is lossy and only for 8-bit colour or mono encodings; it turns the topic into a
//!   `CompressedImage` (format `jpeg`), the type the SDK decodes JPEG from.

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

use crate::ros::msgs::sensor_msgs::Image;
use crate::ros::RosError;

/// How `sensor_msgs/Image` topics are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageCompression {
    /// The ROS buffer as is (`Image`, format `raw`): no CPU cost.
    #[default]
    Raw,
    /// Lossless PNG (`Image`, format `png`, wide grayscale).
    Png,
    /// Lossy JPEG at the given quality (1-100) (`CompressedImage`, format `jpeg`).
    Jpeg { quality: u8 },
}

fn frame(img: &Image) -> Result<&[u8], RosError> {
    if img.width == 0 || img.height == 0 || img.step == 0 {
        return Err(RosError::Image(format!(
            "empty image {}×{} (step {})",
            img.width, img.height, img.step
        )));
    }
    let need = img.step as usize * img.height as usize;
    img.data
        .get(..need)
        .ok_or_else(|| RosError::InvalidMessage {
            ros_type: "sensor_msgs/msg/Image",
            detail: format!(
                "{} data bytes for step {} × height {}",
                img.data.len(),
                img.step,
                img.height
            ),
        })
}

/// The SDK's PNG form: decoding it yields the original `height × step` bytes exactly.
pub fn png_wide_grayscale(img: &Image) -> Result<Bytes, RosError> {
    let data = frame(img)?;
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    // `Up` (same byte of the row above): rows are `step` bytes of interleaved channels, so `Sub`
    // would predict red from the previous blue and not compress at all (measured on a 1080p rgb8
    // frame: Sub ratio 1.00 at 283 MB/s, Up 1.86 at 659 MB/s; Default level ~20 MB/s for 1.87).
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Up)
        .write_image(data, img.step, img.height, ExtendedColorType::L8)
        .map_err(|e| RosError::Image(e.to_string()))?;
    Ok(out.into())
}

/// JPEG of the picture itself (rows unpadded, BGR swapped to RGB, alpha dropped).
pub fn jpeg(img: &Image, quality: u8) -> Result<Bytes, RosError> {
    let data = frame(img)?;
    let (src_px, color, order): (usize, ExtendedColorType, [usize; 3]) = match img.encoding.as_str()
    {
        "rgb8" | "8UC3" => (3, ExtendedColorType::Rgb8, [0, 1, 2]),
        "bgr8" => (3, ExtendedColorType::Rgb8, [2, 1, 0]),
        "rgba8" | "8UC4" => (4, ExtendedColorType::Rgb8, [0, 1, 2]),
        "bgra8" => (4, ExtendedColorType::Rgb8, [2, 1, 0]),
        "mono8" | "8UC1" => (1, ExtendedColorType::L8, [0, 0, 0]),
        other => {
            return Err(RosError::Image(format!(
                "JPEG needs an 8-bit colour or mono encoding, not `{other}`"
            )))
        }
    };
    let (w, h, step) = (img.width as usize, img.height as usize, img.step as usize);
    if w * src_px > step {
        return Err(RosError::Image(format!(
            "step {step} is smaller than width {w} × {src_px} bytes"
        )));
    }
    let dst_px = if color == ExtendedColorType::L8 { 1 } else { 3 };
    let mut px = Vec::with_capacity(w * h * dst_px);
    for row in data.chunks_exact(step).take(h) {
        let row = &row[..w * src_px];
        if dst_px == 1 || src_px == 3 && order == [0, 1, 2] {
            px.extend_from_slice(row);
        } else {
            for p in row.chunks_exact(src_px) {
                px.extend_from_slice(&[p[order[0]], p[order[1]], p[order[2]]]);
            }
        }
    }
    let mut out = Vec::with_capacity(px.len() / 8 + 1024);
    JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
        .write_image(&px, img.width, img.height, color)
        .map_err(|e| RosError::Image(e.to_string()))?;
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_decodes_to_the_exact_rows_and_compresses_a_camera_like_frame() {
        // A gradient with sensor noise, rows padded (step > 3 × width).
        let (w, h, step) = (320u32, 120u32, 320 * 3 + 8);
        let mut s = 7u32;
        let data: Vec<u8> = (0..step * h)
            .map(|i| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (((i % step) / 12 + i / step) as u8).wrapping_add((s >> 29) as u8)
            })
            .collect();
        let frame = Image {
            height: h,
            width: w,
            encoding: "rgb8".into(),
            step,
            data: data.clone().into(),
            ..Default::default()
        };
        let png = png_wide_grayscale(&frame).unwrap();
        let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .into_luma8();
        assert_eq!((decoded.width(), decoded.height()), (step, h));
        assert_eq!(decoded.into_raw(), data, "lossless, padding included");
        assert!(
            png.len() * 3 < data.len() * 2,
            "{} of {} bytes",
            png.len(),
            data.len()
        );
    }

    fn img(encoding: &str, w: u32, h: u32, step: u32) -> Image {
        Image {
            height: h,
            width: w,
            encoding: encoding.into(),
            step,
            data: (0..step * h)
                .map(|i| (i * 7) as u8)
                .collect::<Vec<_>>()
                .into(),
            ..Default::default()
        }
    }

    #[test]
    fn png_round_trips_the_raw_buffer() {
        let i = img("rgb8", 5, 4, 17);
        let png = png_wide_grayscale(&i).unwrap();
        let back = image::load_from_memory(&png).unwrap().into_luma8();
        assert_eq!((back.width(), back.height()), (17, 4));
        assert_eq!(back.into_raw(), i.data.to_vec());
    }

    #[test]
    fn jpeg_encodes_colour_and_refuses_others() {
        let j = jpeg(&img("bgr8", 16, 8, 50), 90).unwrap();
        let back = image::load_from_memory(&j).unwrap();
        assert_eq!((back.width(), back.height()), (16, 8));
        assert!(jpeg(&img("32FC1", 4, 4, 16), 90).is_err());
        let mut short = img("rgb8", 4, 4, 12);
        short.data = short.data.slice(..10);
        assert!(matches!(
            jpeg(&short, 90),
            Err(RosError::InvalidMessage { .. })
        ));
    }
}
