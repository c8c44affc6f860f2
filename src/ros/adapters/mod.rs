//! ROS 2 messages → Mosaico ontology batches.
//!
//! [`adapter_for`] picks the adapter of a ROS type for a protocol generation; [`adapter_or_raw`]
//! falls back to storing the raw CDR bytes (type name and definition in the topic metadata), so no
//! topic is ever skipped. An [`Adapter`] appends many messages ([`Adapter::push`]: decode + append
//! into column builders) and [`Adapter::finish`]es them into one `RecordBatch` in exactly the
//! ontology schema of its generation (names, order, types, nullability: the schema comes from
//! [`Ontology`], never from here).
//!
//! Mapping rules (the current SDK's adapters, without the old Python bridge's bugs):
//! * `timestamp_ns` = the receive / bag record time given to `push`, or the header stamp when the
//!   topic is recorded by it ([`TimestampSource`]; the topic metadata says which).
//! * The ROS header goes into the data `header` column; on the legacy generation also into the
//!   envelope `message_header` (as the legacy bridge did). The current generation leaves `header`
//!   null when the ROS header is empty (zero stamp and empty frame), as the current SDK does.
//! * Covariances and variances are stored null only when all `+0.0` (ROS's "unknown", what a null
//!   reads back as), including the 36-element one of `*WithCovarianceStamped` (the old bridge
//!   dropped it); anything else — REP 145's leading -1, negative or `-0.0` values — as received,
//!   so replay gives back the bytes. Likewise the other SDK "null" rules apply to their canonical
//!   form only: Imu's "no orientation" (covariance `[-1, 0, …]`, zero quaternion), NavSatFix's
//!   `STATUS_UNKNOWN` with service 0, CameraInfo's 0 × 0 binning.
//! * `sensor_msgs/msg/RegionOfInterest` matched by its ROS 2 name; CompressedImage format strings
//!   normalised to the accepted set (`raw png jpeg tiff h264 hevc`), the first message's string
//!   kept in the topic metadata, as is an Image `is_bigendian` byte the boolean column cannot hold
//!   ([`rows::TopicHints`]: topic-wide values, for replay).
//! * MagneticField → `Magnetometer` in **microtesla** (ROS: tesla; ×1e6, covariance ×1e12) as the
//!   ontology documents; Temperature → **kelvin** (+273.15), each the double within two ulps that
//!   converts back exactly where one exists; FluidPressure → Pa unchanged;
//!   RelativeHumidity → `Humidity` (fraction 0-1) and Illuminance → `Illumination` (lux), this
//!   project's extension tags.

mod columns;
mod family;
pub mod image;
pub mod rows;
mod stamp;
mod table;

pub use stamp::{header_stamp_ns, leading_time_ns, starts_with_header, TimestampSource};

/// Ontology rows → ROS 2 CDR: the inverse of the adapters, for replay and export.
///
/// [`encoder_for`] gives the encoder of a ROS type; [`ros_type_of_tag`] the ROS type of a topic
/// written without ROS metadata (the official SDK, other uploaders). Raw-CDR topics need no
/// encoder: their `data` column is the message as received. What comes back byte-exact is
/// documented per type in the README ("Exporting to rosbag2 bags").
pub mod encode {
    pub use super::family::Encoder;
    pub use super::table::{class_of_tag, encoder_for, ros_type_of_tag};
}

use arrow::array::{Int64Builder, RecordBatch};
use arrow::datatypes::SchemaRef;
use serde_json::{Map, Value};

use crate::handlers::TopicOptions;
use crate::ontology::{Ontology, OntologyType, SerializationFormat};
use crate::protocol::Generation;
use crate::ros::RosError;
pub use image::ImageCompression;

/// The class of raw-CDR topics (tag `RosMessageCdr` on current servers, `ros_message_cdr` on legacy).
pub const RAW_CLASS: &str = "RosMessageCdr";

/// Per-topic conversion choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdapterOptions {
    /// How `sensor_msgs/msg/Image` is stored (default raw).
    pub image: ImageCompression,
    /// Serialization format of image topics (`Image`, `CompressedImage`). Default `default`: the
    /// legacy server compresses `image`-format topics with ZSTD-22, about 3 MB/s of 1080p frames,
    /// against about 290 MB/s for `default`; readers do not care which.
    pub image_format: SerializationFormat,
    /// What `timestamp_ns` holds. `HeaderStamp` applies only to types that start with a
    /// `std_msgs/Header` ([`Adapter::timestamp_source`] tells what was applied).
    pub timestamp: TimestampSource,
}

impl Default for AdapterOptions {
    fn default() -> Self {
        AdapterOptions {
            image: ImageCompression::Raw,
            image_format: SerializationFormat::Default,
            timestamp: TimestampSource::ReceiveTime,
        }
    }
}

/// What is known of a ROS topic, recorded in the Mosaico topic's metadata so replay can restore it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RosTopicInfo {
    /// `pkg/msg/Type`.
    pub ros_type: String,
    /// The message definition; defaults to the built-in one for supported types.
    pub definition: Option<String>,
    /// The publisher's QoS, when known (e.g. rosbag2's `offered_qos_profiles`).
    pub qos: Option<Value>,
}

impl RosTopicInfo {
    pub fn new(ros_type: impl Into<String>) -> Self {
        RosTopicInfo {
            ros_type: ros_type.into(),
            ..Default::default()
        }
    }
}

/// The ROS block of a topic's metadata, merged into `user` (the ROS block wins on conflicts):
/// current generation `{"_ros_": {"msgtype", "msgdef", "qos"?}}` (what the SDK's exporter reads
/// back), legacy `{"ros:msgtype", "ros:msgdef", "ros:qos"?}` (keys its readers hide).
pub fn topic_metadata(generation: Generation, info: &RosTopicInfo, user: Value) -> Value {
    let mut out = match user {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            let mut m = Map::new();
            m.insert("user".into(), other);
            m
        }
    };
    let def = info
        .definition
        .clone()
        .or_else(|| crate::ros::msgs::definition(&info.ros_type).map(str::to_string))
        .unwrap_or_default();
    match generation {
        Generation::Current => {
            let mut ros = match out.remove("_ros_") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            ros.insert("msgtype".into(), Value::String(info.ros_type.clone()));
            ros.insert("msgdef".into(), Value::String(def));
            if let Some(q) = &info.qos {
                ros.insert("qos".into(), q.clone());
            }
            out.insert("_ros_".into(), Value::Object(ros));
        }
        Generation::Legacy => {
            out.insert("ros:msgtype".into(), Value::String(info.ros_type.clone()));
            out.insert("ros:msgdef".into(), Value::String(def));
            if let Some(q) = &info.qos {
                out.insert("ros:qos".into(), q.clone());
            }
        }
    }
    Value::Object(out)
}

/// Adds keys to the ROS block of a topic metadata built by [`topic_metadata`] (the hints are read
/// back by [`rows::TopicHints::from_metadata`]).
fn add_ros_keys(generation: Generation, keys: Vec<(&'static str, Value)>, meta: &mut Value) {
    let Value::Object(m) = meta else { return };
    for (key, v) in keys {
        match generation {
            Generation::Current => {
                if let Some(Value::Object(ros)) = m.get_mut("_ros_") {
                    ros.insert(key.into(), v);
                }
            }
            Generation::Legacy => {
                m.insert(format!("ros:{key}"), v);
            }
        }
    }
}

/// The per-type conversion behind an [`Adapter`].
pub(crate) trait Convert: Send + Sync {
    fn push(&mut self, timestamp_ns: i64, cdr: &[u8]) -> Result<(), RosError>;
    fn push_bytes(&mut self, timestamp_ns: i64, cdr: &bytes::Bytes) -> Result<(), RosError> {
        self.push(timestamp_ns, cdr)
    }
    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, RosError>;
    fn len(&self) -> usize;
    /// Bytes held by large variable-size columns (images, clouds, raw messages).
    fn buffered_bytes(&self) -> usize;
    /// What the topic's metadata must carry beside the rows (see [`rows::TopicHints`]).
    fn hints(&self) -> rows::TopicHints {
        rows::TopicHints::default()
    }
}

/// Converts one ROS topic's messages into batches of one ontology type.
pub struct Adapter {
    ros_type: String,
    generation: Generation,
    ty: &'static OntologyType,
    format: SerializationFormat,
    raw: bool,
    timestamp: TimestampSource,
    /// Messages whose header stamp was zero, stored at their receive time instead.
    unstamped: u64,
    inner: Box<dyn Convert>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("ros_type", &self.ros_type)
            .field("tag", &self.ty.tag)
            .field("rows", &self.inner.len())
            .finish()
    }
}

impl Adapter {
    /// The ROS type this adapter decodes.
    pub fn ros_type(&self) -> &str {
        &self.ros_type
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The ontology tag written (`IMU`, `imu`, `RosMessageCdr`...).
    pub fn tag(&self) -> &str {
        &self.ty.tag
    }

    /// The SDK class name (stable across generations).
    pub fn class(&self) -> &str {
        &self.ty.class
    }

    pub fn schema(&self) -> SchemaRef {
        self.ty.schema.clone()
    }

    /// Whether this is the raw-CDR fallback.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Whether the tag is one of this project's extensions (readable typed through
    /// `python/mosaico_bridge_ontology`).
    pub fn is_extension(&self) -> bool {
        Ontology::for_generation(self.generation)
            .get(&self.ty.tag)
            .is_none()
    }

    pub fn serialization_format(&self) -> SerializationFormat {
        self.format
    }

    /// Decodes one message (raw CDR, encapsulation header included) and appends it. On error nothing
    /// is appended: the caller counts the error and goes on.
    pub fn push(&mut self, timestamp_ns: i64, cdr: &[u8]) -> Result<(), RosError> {
        let ts = self.stamp(timestamp_ns, cdr)?;
        self.inner.push(ts, cdr)
    }

    /// Like [`Adapter::push`] for a message already in [`bytes::Bytes`]: large blobs (image, cloud)
    /// are sliced out of it instead of copied while decoding.
    pub fn push_bytes(&mut self, timestamp_ns: i64, cdr: &bytes::Bytes) -> Result<(), RosError> {
        let ts = self.stamp(timestamp_ns, cdr)?;
        self.inner.push_bytes(ts, cdr)
    }

    fn stamp(&mut self, received_ns: i64, cdr: &[u8]) -> Result<i64, RosError> {
        if self.timestamp != TimestampSource::HeaderStamp {
            return Ok(received_ns);
        }
        Ok(header_stamp_ns(cdr)?.unwrap_or_else(|| {
            self.unstamped += 1;
            received_ns
        }))
    }

    /// What `timestamp_ns` holds for this topic.
    pub fn timestamp_source(&self) -> TimestampSource {
        self.timestamp
    }

    /// Messages stored at their receive time because their header stamp was zero (header-stamp
    /// topics only), since the adapter was made.
    pub fn unstamped(&self) -> u64 {
        self.unstamped
    }

    /// Messages appended since the last [`Adapter::finish`].
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }

    /// Approximate bytes buffered (large columns only), to cut batches by size.
    pub fn buffered_bytes(&self) -> usize {
        self.inner.buffered_bytes()
    }

    /// Everything appended so far as one batch (possibly empty); the adapter is ready for more.
    pub fn finish(&mut self) -> Result<RecordBatch, RosError> {
        self.inner.finish(&self.ty.schema)
    }

    /// Converts a run of messages into one batch: what a processing-pool job does
    /// (`pool.run(move || { let out = adapter.convert(&msgs); (adapter, out) })`). Messages that fail
    /// are left out and reported by index, so the caller can count them and go on.
    pub fn convert(&mut self, msgs: &[(i64, bytes::Bytes)]) -> Converted {
        let mut errors = Vec::new();
        for (i, (ts, m)) in msgs.iter().enumerate() {
            if let Err(e) = self.push_bytes(*ts, m) {
                errors.push((i, e));
            }
        }
        Converted {
            batch: self.finish(),
            errors,
        }
    }

    /// How to create the Mosaico topic: tag, format, schema and metadata (ROS type, definition, QoS,
    /// and the [`rows::TopicHints`] of the messages converted so far: topics are created when
    /// their first batch is written, so a topic-wide value such as a CompressedImage format string
    /// is known by then).
    pub fn topic_options(&self, info: &RosTopicInfo, user_metadata: Value) -> TopicOptions {
        let mut meta = topic_metadata(self.generation, info, user_metadata);
        let mut keys = self.inner.hints().entries();
        keys.push((
            "timestamp_source",
            Value::String(self.timestamp.as_str().into()),
        ));
        add_ros_keys(self.generation, keys, &mut meta);
        TopicOptions::new(self.ty.tag.clone())
            .format(self.format)
            .schema(self.ty.schema.clone())
            .metadata(meta)
    }
}

/// The result of [`Adapter::convert`].
#[derive(Debug)]
pub struct Converted {
    /// The messages that converted (an error here means the batch itself could not be built).
    pub batch: Result<RecordBatch, RosError>,
    /// The messages left out: (index in the input, why).
    pub errors: Vec<(usize, RosError)>,
}

/// The typed adapter of `ros_type` on `generation` with default options, or `None` when the type
/// has no mapping there (use [`adapter_or_raw`] to store it as raw CDR instead).
pub fn adapter_for(ros_type: &str, generation: Generation) -> Option<Adapter> {
    adapter_with(ros_type, generation, &AdapterOptions::default())
}

/// Like [`adapter_for`], with options.
pub fn adapter_with(
    ros_type: &str,
    generation: Generation,
    opts: &AdapterOptions,
) -> Option<Adapter> {
    let (class, inner) = table::build(ros_type, generation, opts)?;
    let ty = Ontology::class_or_extension(generation, class)?;
    let format = match class {
        "Image" | "CompressedImage" => opts.image_format,
        _ => ty.format,
    };
    Some(Adapter {
        ros_type: ros_type.to_string(),
        generation,
        ty,
        format,
        raw: false,
        timestamp: applicable(opts.timestamp, ros_type),
        unstamped: 0,
        inner,
    })
}

/// The typed adapter when there is one, else the raw-CDR adapter: every topic is recorded.
pub fn adapter_or_raw(ros_type: &str, generation: Generation, opts: &AdapterOptions) -> Adapter {
    adapter_with(ros_type, generation, opts).unwrap_or_else(|| {
        let mut a = raw_adapter(ros_type, generation);
        a.timestamp = applicable(opts.timestamp, ros_type);
        a
    })
}

/// `HeaderStamp` falls back to the receive time for types without a leading header.
fn applicable(wanted: TimestampSource, ros_type: &str) -> TimestampSource {
    match wanted {
        TimestampSource::HeaderStamp if !starts_with_header(ros_type) => {
            TimestampSource::ReceiveTime
        }
        other => other,
    }
}

/// Stores messages as they came: the CDR bytes (encapsulation header included) per row.
pub fn raw_adapter(ros_type: &str, generation: Generation) -> Adapter {
    let ty =
        Ontology::class_or_extension(generation, RAW_CLASS).expect("raw class in the extensions");
    Adapter {
        ros_type: ros_type.to_string(),
        generation,
        ty,
        format: ty.format,
        raw: true,
        timestamp: TimestampSource::ReceiveTime,
        unstamped: 0,
        inner: Box::new(family::raw::RawConv::new(generation)),
    }
}

/// Appends `timestamp_ns` values; shared by all conversions.
pub(crate) fn ts_builder() -> Int64Builder {
    Int64Builder::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys_per_generation() {
        let info = RosTopicInfo {
            ros_type: "sensor_msgs/msg/Imu".into(),
            definition: None,
            qos: Some(serde_json::json!({"reliability": "reliable"})),
        };
        let m = topic_metadata(
            Generation::Current,
            &info,
            serde_json::json!({"robot": "r1"}),
        );
        assert_eq!(m["robot"], "r1");
        assert_eq!(m["_ros_"]["msgtype"], "sensor_msgs/msg/Imu");
        assert!(m["_ros_"]["msgdef"]
            .as_str()
            .unwrap()
            .starts_with("std_msgs/Header header"));
        assert_eq!(m["_ros_"]["qos"]["reliability"], "reliable");
        let m = topic_metadata(Generation::Legacy, &info, Value::Null);
        assert_eq!(m["ros:msgtype"], "sensor_msgs/msg/Imu");
        assert!(m["ros:msgdef"]
            .as_str()
            .unwrap()
            .contains("MSG: geometry_msgs/Vector3"));
        assert_eq!(m["ros:qos"]["reliability"], "reliable");
    }
}
