//! Entry points of the fuzz targets (`fuzz/`, run by `scripts/fuzz.sh` with cargo fuzz) and of
//! `tests/fuzz_regressions.rs`, which replays the committed corpus and every crash reproducer
//! through the same functions on stable Rust.
//!
//! Each function takes arbitrary bytes and must return, whatever they hold: a panic (or a
//! sanitizer report) is a bug in the library. Where the library promises a property (a message it
//! re-encodes decodes again, a configuration it prints loads back), the entry point asserts it, so
//! a broken promise is a crash too. Not a stable API: thin wrappers over the real code paths.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::ros::adapters::rows::Flat;
use crate::ros::adapters::{adapter_with, raw_adapter, AdapterOptions};
use crate::ros::msgs::{decode_to_json, reencode, TYPE_NAMES};
use crate::{Generation, SerializationFormat};

/// A fuzz entry point: any bytes, no panic.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` call it.
pub const TARGETS: &[(&str, Target)] = &[
    ("cdr", cdr),
    ("mcap", mcap),
    ("config", config),
    ("server_reply", server_reply),
    ("do_get", do_get),
];

const GENERATIONS: [Generation; 2] = [Generation::Legacy, Generation::Current];

/// The image options a selector picks (raw, PNG, JPEG at two qualities).
fn image_options(sel: usize) -> AdapterOptions {
    use crate::ros::adapters::ImageCompression as C;
    AdapterOptions {
        image: match sel % 4 {
            0 => C::Raw,
            1 => C::Png,
            2 => C::Jpeg { quality: 90 },
            _ => C::Jpeg { quality: 1 },
        },
        image_format: SerializationFormat::Default,
        ..AdapterOptions::default()
    }
}

/// `data` re-encoded as `ros_type` must decode again to the same bytes.
fn assert_reencodes(ros_type: &str, cdr: &[u8], what: &str) {
    let once = match reencode(ros_type, cdr) {
        Some(Ok(b)) => b,
        Some(Err(e)) => panic!("{ros_type}: {what} does not decode: {e}"),
        None => return,
    };
    let twice = reencode(ros_type, &once)
        .expect("a known type")
        .unwrap_or_else(|e| panic!("{ros_type}: re-encoded {what} does not decode: {e}"));
    assert_eq!(once, twice, "{ros_type}: re-encoding {what} is not stable");
}

/// The CDR decoder of every ROS type the bridge knows (`ros::msgs::TYPE_NAMES`) and its adapters.
///
/// `data[0]` picks the type (`% TYPE_NAMES.len()`) and the image options (`/ TYPE_NAMES.len()`);
/// the rest is one serialized message, encapsulation header included. It is decoded (to JSON, and
/// re-encoded: decode ∘ encode must be stable), pushed through the typed adapter of each
/// generation and the raw one, and every typed row is encoded back to CDR as replay does, which
/// must decode again.
pub fn cdr(data: &[u8]) {
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let ty = TYPE_NAMES[sel as usize % TYPE_NAMES.len()];
    let opts = image_options(sel as usize / TYPE_NAMES.len());
    let msg = Bytes::copy_from_slice(msg);
    let _ = decode_to_json(ty, &msg);
    if let Some(Ok(_)) = reencode(ty, &msg) {
        assert_reencodes(ty, &msg, "the message");
    }
    for gen in GENERATIONS {
        if let Some(mut a) = adapter_with(ty, gen, &opts) {
            let _ = a.push(1, &msg);
            let _ = a.push_bytes(2, &msg);
            let batch = a
                .finish()
                .unwrap_or_else(|e| panic!("{ty} on {gen}: finish: {e}"));
            // A JPEG-compressed Image is stored (and replays) as a CompressedImage.
            let back = match a.class() {
                "CompressedImage" => "sensor_msgs/msg/CompressedImage",
                _ => ty,
            };
            let Some(enc) = crate::ros::adapters::encode::encoder_for(back) else {
                panic!("{ty} is typed on {gen} and {back} has no encoder");
            };
            let flat = Flat::new(&batch);
            for i in 0..flat.rows() {
                if let Ok(out) = enc(&flat.row(i)) {
                    assert_reencodes(back, &out, "a replayed row");
                }
            }
        }
        let mut raw = raw_adapter(ty, gen);
        let _ = raw.push_bytes(3, &msg);
        raw.finish()
            .unwrap_or_else(|e| panic!("raw {ty} on {gen}: finish: {e}"));
    }
}

/// `data` as a file the library can open by path (an anonymous memory file on Linux).
struct MemFile {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl MemFile {
    fn new(data: &[u8]) -> std::io::Result<MemFile> {
        use std::io::Write;
        #[cfg(target_os = "linux")]
        let (mut file, path) = {
            use std::os::fd::{AsRawFd, FromRawFd};
            // SAFETY: memfd_create takes a NUL-terminated name; a valid fd is owned by the File.
            let fd = unsafe { libc::memfd_create(c"mosaico-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let file = unsafe { std::fs::File::from_raw_fd(fd) };
            let path = format!("/proc/self/fd/{}", file.as_raw_fd()).into();
            (file, path)
        };
        #[cfg(not(target_os = "linux"))]
        let (mut file, path) = {
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "mosaico-fuzz-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            (std::fs::File::create(&path)?, path)
        };
        file.write_all(data)?;
        Ok(MemFile { file, path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        #[cfg(not(target_os = "linux"))]
        let _ = std::fs::remove_file(&self.path);
    }
}

/// MCAP import: `data` as a bag segment, read as `import` reads it (the summary for the message
/// count, the recorder's segment facts, then every message in file order with the tolerant
/// reader, which ends a cut or torn file at its last complete record) with each channel's QoS.
/// (The messages' conversion is the `cdr` target's.)
pub fn mcap(data: &[u8]) {
    use crate::bag::reader::{End, Sealed};
    let Ok(file) = MemFile::new(data) else {
        return;
    };
    let _ = crate::import::bag_info(file.path());
    let _ = crate::bag::reader::segment_facts(file.path());
    let Ok(mut reader) = crate::bag::SegmentReader::open(file.path(), Box::new(Sealed)) else {
        return;
    };
    let mut channels = std::collections::HashSet::new();
    while let Some(m) = reader.next_message() {
        let Ok(m) = m else { return };
        if channels.insert(m.channel.id) {
            let _ = m.channel.offered();
        }
    }
    assert!(
        reader.end().is_some(),
        "the reader ended without saying how"
    );
    if let Some(End::Cut {
        readable_bytes,
        file_bytes,
        ..
    }) = reader.end()
    {
        assert!(
            readable_bytes <= file_bytes,
            "{readable_bytes} readable of {file_bytes}"
        );
    }
}

/// Configuration parsing: `data` as the text of a record configuration (ROS parameter YAML or a
/// plain mapping) and, line by line, as play parameters (`--rate`, `--clock`, `--remap`, the
/// regexes, a QoS overrides file). A configuration that loads must print (`--print-config`) as one that loads
/// back equal, and accept an empty set of command-line overrides.
pub fn config(data: &[u8]) {
    use crate::config::{Overrides, RecordConfig, SequenceTemplate};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = RecordConfig::from_yaml(text, "fuzz") {
        let printed = cfg
            .to_ros_yaml()
            .unwrap_or_else(|e| panic!("a loaded configuration does not print: {e}"));
        let back = RecordConfig::from_yaml(&printed, "printed")
            .unwrap_or_else(|e| panic!("the printed configuration does not load: {e}\n{printed}"));
        assert_eq!(back, cfg, "the printed configuration loads differently");
        let mut c = cfg.clone();
        c.apply(Overrides::default())
            .unwrap_or_else(|e| panic!("no overrides refused: {e}"));
        let t = SequenceTemplate::parse(&cfg.sequence.template).expect("validated");
        let name = t.render(text, text, chrono::DateTime::UNIX_EPOCH, u32::MAX);
        if !name.is_empty() {
            let _ = crate::names::sequence_name(&name);
        }
        for o in cfg.overrides.values() {
            let _ = cfg.override_for(&o.topic);
        }
    }
    let _ = crate::play::options::parse_qos_overrides(text, "fuzz");
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = crate::play::options::parse_remaps(&lines);
    for l in lines.iter().take(16) {
        let _ = l.parse::<crate::play::timeline::Rate>();
        if let Ok(hz) = l.trim().parse::<f64>() {
            let _ = crate::play::player::clock_period(hz);
        }
        if let Ok(re) = crate::play::Selection::pattern("--regex", l) {
            let _ = re.is_match(text);
        }
        let _ = crate::control::ServerAddr::parse(l);
        let _ = crate::names::topic_name(l);
        let _ = crate::names::split_locator(l);
    }
}

/// The DoAction kinds whose replies the client decodes.
const ACTION_KINDS: &[&str] = &[
    "info",
    "sequence_create",
    "session_create",
    "topic_create",
    "query",
    "sequence_system_info",
    "topic_system_info",
    "sequence_notify_list",
    "sequence_notification_list",
];

/// The `server_reply` selector byte of a DoAction reply of `kind` (for seeding the corpus).
pub fn action_selector(kind: &str) -> Option<u8> {
    let i = ACTION_KINDS.iter().position(|k| *k == kind)?;
    u8::try_from(i * 2).ok()
}

/// The `do_get` selector byte of a topic stored typed as `ros_type` (for seeding the corpus).
pub fn do_get_selector(ros_type: &str) -> Option<u8> {
    let i = replay_types().iter().position(|(_, t)| *t == ros_type)?;
    u8::try_from(i).ok().filter(|i| *i < 0x80)
}

/// The client's decoding of server replies. `data[0]` even: the rest is DoAction result bodies
/// (split at `0x1e`), JSON envelopes for the action `ACTION_KINDS[data[0] / 2]`, whose response
/// goes through every decoder of both generations (server info, session and topic keys,
/// notifications, query items, system info). Odd: the rest is a `FlightInfo` (protobuf), decoded
/// as both generations' sequence and topic info and read plan.
pub fn server_reply(data: &[u8]) {
    use crate::protocol::{current, detect, legacy, Protocol};
    use arrow_flight::FlightInfo;
    use prost::Message;
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        let kind = ACTION_KINDS[(sel as usize / 2) % ACTION_KINDS.len()];
        let bodies: Vec<Bytes> = rest
            .split(|b| *b == 0x1e)
            .map(Bytes::copy_from_slice)
            .collect();
        let _ = crate::control::plane::parse_paged_reply(kind, &bodies);
        let Ok(reply) = crate::control::plane::parse_action_reply(kind, &bodies) else {
            return;
        };
        if let Some(v) = &reply {
            let _ = detect::parse_info(v);
        }
        let _ = legacy::session_from_reply("s", reply.clone());
        let _ = current::session_from_reply("s", reply.clone());
        let _ = legacy::topic_key_from_reply("s/t", reply.clone());
        let _ = current::topic_key_from_reply("s/t", reply.clone());
        let _ = legacy::notifications_from_reply(kind, reply.as_ref());
        let _ = current::notifications_from_reply(kind, reply.as_ref());
        let _ = legacy::Legacy.parse_query_reply(reply.clone());
        let _ = current::Current.parse_query_reply(reply.clone());
        let _ = legacy::sequence_info_from("s", &FlightInfo::default(), reply.clone());
        let _ = legacy::topic_info_from("s/t", reply, None);
    } else {
        let Ok(info) = FlightInfo::decode(rest) else {
            return;
        };
        let sys = Some(json!({"chunks_number": 1, "is_locked": true}));
        let _ = legacy::sequence_info_from("s", &info, sys.clone());
        let _ = legacy::topic_info_from("s/t", sys, Some(&info));
        let _ = current::sequence_info_from(&info);
        // The locators the endpoints name, as a client asking for them would.
        let locators: Vec<String> = info
            .endpoint
            .iter()
            .take(8)
            .filter_map(|ep| serde_json::from_slice::<Value>(&ep.app_metadata).ok())
            .filter_map(|v| v.get("resource_locator")?.as_str().map(str::to_string))
            .chain(["s/t".to_string()])
            .collect();
        for l in &locators {
            let _ = current::topic_info_from(&info, l.trim_start_matches('/'));
            let _ = current::read_plan_from(&info, l.trim_start_matches('/'));
        }
    }
}

/// The (ontology tag, ROS type) pairs a DoGet reply is read back as: every typed ROS type of the
/// adapter table under the tag its current-generation adapter writes, and raw CDR.
fn replay_types() -> &'static [(String, &'static str)] {
    static T: std::sync::OnceLock<Vec<(String, &'static str)>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut v: Vec<(String, &'static str)> = TYPE_NAMES
            .iter()
            .filter_map(|ty| {
                adapter_with(ty, Generation::Current, &AdapterOptions::default())
                    .map(|a| (a.tag().to_string(), *ty))
            })
            .collect();
        v.push((
            raw_adapter("x/msg/Y", Generation::Current)
                .tag()
                .to_string(),
            "x/msg/Y",
        ));
        v
    })
}

/// Splits `data` into FlightData messages: each `u32 LE` header length, header (IPC message
/// flatbuffer), `u32 LE` body length, body; a truncated frame ends the stream.
fn flight_frames(mut data: &[u8]) -> Vec<arrow_flight::FlightData> {
    fn take<'a>(d: &mut &'a [u8]) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(d.get(..4)?.try_into().ok()?) as usize;
        let b = d.get(4..4 + n)?;
        *d = &d[4 + n..];
        Some(b)
    }
    let mut out = Vec::new();
    while out.len() < 64 {
        let Some(h) = take(&mut data) else { break };
        let body = take(&mut data).unwrap_or_default();
        out.push(arrow_flight::FlightData {
            data_header: Bytes::copy_from_slice(h),
            data_body: Bytes::copy_from_slice(body),
            ..Default::default()
        });
    }
    out
}

/// Encodes `frames` as [`do_get`] reads them (for seeding the corpus).
pub fn frame_flight_data(frames: &[arrow_flight::FlightData]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        for part in [&f.data_header, &f.data_body] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// DoGet replies read back as rows: `data[0]` picks the topic's stored type (tag and ROS type, see
/// [`replay_types`]) and whether its ROS type comes from the metadata; `data[1]` the client-side
/// window (0: none); the rest is FlightData frames ([`flight_frames`]). The stream is decoded as a
/// topic stream (views made plain, window applied), merged as a sequence stream, and every row is
/// encoded to CDR as `play` and `export` do; what encodes must decode as its ROS type.
pub fn do_get(data: &[u8]) {
    use crate::handlers::SequenceStream;
    use crate::protocol::{TimeRange, TopicInfo};
    let [sel, win, rest @ ..] = data else {
        return;
    };
    let types = replay_types();
    let (tag, ros_type) = &types[*sel as usize % types.len()];
    let user_metadata = if sel & 0x80 != 0 {
        json!({"_ros_": {"msgtype": ros_type}})
    } else {
        Value::Null
    };
    let info = TopicInfo {
        sequence: "s".into(),
        topic: "/t".into(),
        locator: "s/t".into(),
        ontology_tag: tag.clone(),
        serialization_format: SerializationFormat::Default,
        user_metadata,
        locked: None,
        total_size_bytes: None,
        chunks: None,
        row_count: None,
        interval: None,
        created: None,
    };
    let Ok(topic) = crate::play::resolve_topic(&info, &BTreeMap::new()) else {
        return;
    };
    let window = match win {
        0 => None,
        w => Some(TimeRange {
            start_ns: (w & 1 != 0).then_some(i64::from(*w) * 1_000),
            end_ns: (w & 2 != 0).then_some(i64::from(*w) * 1_000_000),
        }),
    };
    let frames = flight_frames(rest);
    let flight = futures::stream::iter(frames.into_iter().map(Ok)).boxed();
    let stream = crate::data::get::TopicStream::from_flight_data("s/t", vec![flight], window);
    let mut merged = SequenceStream::new(vec![("/t".into(), stream)]);
    futures::executor::block_on(async {
        let mut flat: Option<Flat> = None;
        while let Some(row) = merged.next().await {
            let Ok(row) = row else { break };
            if row.row == 0 || flat.is_none() {
                flat = Some(Flat::new(&row.batch).with_hints(topic.hints.clone()));
            }
            let f = flat.as_ref().expect("set above");
            if let Ok(cdr) = topic.encode_row(f, row.row) {
                if matches!(topic.kind, crate::play::TopicKind::Typed(_)) {
                    assert_reencodes(&topic.ros_type, &cdr, "a DoGet row");
                }
            }
        }
    });
}
