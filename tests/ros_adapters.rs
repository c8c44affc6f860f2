//! Every adapter on the golden `rosbags` messages, both generations: the batch has exactly the
//! ontology schema, and each value is the ROS field it maps from (with the documented unit
//! conversions). Garbage is an error, counted by the caller, and leaves the adapter usable.

use std::path::Path;

use arrow::array::RecordBatch;
use mosaico_bridge::ontology::Ontology;
use mosaico_bridge::protocol::Generation;
use mosaico_bridge::ros::msgs::sensor_msgs::Image;
use mosaico_bridge::ros::{
    adapter_for, adapter_or_raw, adapter_with, msgs, AdapterOptions, ImageCompression, RosMessage,
    RosTopicInfo,
};
use mosaico_bridge::SerializationFormat;
use serde_json::{json, Value};

const TS: i64 = 1_700_000_001_000_000_042;

fn fixture(ros_type: &str) -> (Vec<u8>, Value) {
    let stem = ros_type.replace("/msg/", "__");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cdr");
    let cdr = std::fs::read(dir.join(format!("{stem}.cdr"))).unwrap();
    let json =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap())
            .unwrap();
    (cdr, json)
}

fn rows(batch: &RecordBatch) -> Vec<Value> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    w.write(batch).unwrap();
    w.finish().unwrap();
    let v: Value = serde_json::from_slice(&w.into_inner()).unwrap();
    v.as_array().unwrap().clone()
}

/// Converts the golden message of `ros_type` (twice, plus its big-endian twin when there is one).
fn convert(ros_type: &str, gen: Generation) -> (RecordBatch, Value) {
    let (cdr, json) = fixture(ros_type);
    let mut a = adapter_for(ros_type, gen).unwrap_or_else(|| panic!("no adapter for {ros_type}"));
    a.push(TS, &cdr).unwrap();
    a.push(TS + 1, &cdr).unwrap();
    let mut pushed = 2;
    let be = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cdr")
        .join(format!("{}.be.cdr", ros_type.replace("/msg/", "__")));
    if let Ok(be) = std::fs::read(be) {
        a.push(TS + 2, &be).unwrap();
        pushed += 1;
    }
    assert_eq!(a.len(), pushed, "{ros_type}: one row per accepted push");
    // A failed push appends nothing: the count is the test's own, taken before it.
    if a.push(TS, &cdr[..cdr.len() / 2]).is_ok() {
        assert_eq!(
            ros_type, "sensor_msgs/msg/Range",
            "half a message is refused"
        );
        pushed += 1;
    }
    assert_eq!(a.len(), pushed, "{ros_type}: a failed push appends nothing");
    let batch = a.finish().unwrap();
    assert_eq!(batch.num_rows(), pushed);
    let ty = Ontology::class_or_extension(gen, a.class()).unwrap();
    assert_eq!(batch.schema(), ty.schema, "{ros_type} on {gen:?}");
    assert_eq!(a.tag(), ty.tag);
    assert_eq!(a.len(), 0);
    // the adapter is reusable after finish
    a.push(TS, &cdr).unwrap();
    assert_eq!(a.finish().unwrap().num_rows(), 1);
    (batch, json)
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .filter(|p| !p.is_empty())
        .fold(v, |v, p| match p.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[p],
        })
}

fn assert_header(row: &Value, at: &str, want: &Value, gen: Generation) {
    let h = get(row, at);
    match gen {
        Generation::Legacy => {
            assert_eq!(h["stamp"]["sec"], want["stamp"]["sec"], "{at}");
            assert_eq!(h["stamp"]["nanosec"], want["stamp"]["nanosec"], "{at}");
        }
        Generation::Current => {
            assert_eq!(h["timestamp"]["seconds"], want["stamp"]["sec"], "{at}");
            assert_eq!(
                h["timestamp"]["nanoseconds"], want["stamp"]["nanosec"],
                "{at}"
            );
        }
    }
    assert_eq!(h["frame_id"], want["frame_id"], "{at}");
}

/// (column path, fixture path) pairs that must be equal, per ROS type; "" fixture path = whole.
fn mapping(ros_type: &str) -> (&'static str, Vec<(&'static str, &'static str)>) {
    match ros_type {
        "std_msgs/msg/String"
        | "std_msgs/msg/Bool"
        | "std_msgs/msg/Int8"
        | "std_msgs/msg/Int16"
        | "std_msgs/msg/Int32"
        | "std_msgs/msg/Int64"
        | "std_msgs/msg/UInt8"
        | "std_msgs/msg/UInt16"
        | "std_msgs/msg/UInt32"
        | "std_msgs/msg/UInt64"
        | "std_msgs/msg/Float32"
        | "std_msgs/msg/Float64" => ("", vec![("data", "data")]),
        "geometry_msgs/msg/Vector3" | "geometry_msgs/msg/Point" => {
            ("", vec![("x", "x"), ("y", "y"), ("z", "z")])
        }
        "geometry_msgs/msg/Quaternion" => {
            ("", vec![("x", "x"), ("y", "y"), ("z", "z"), ("w", "w")])
        }
        "geometry_msgs/msg/Vector3Stamped" => {
            ("header", vec![("x", "vector.x"), ("z", "vector.z")])
        }
        "geometry_msgs/msg/PointStamped" => ("header", vec![("x", "point.x"), ("z", "point.z")]),
        "geometry_msgs/msg/QuaternionStamped" => {
            ("header", vec![("w", "quaternion.w"), ("x", "quaternion.x")])
        }
        "geometry_msgs/msg/Pose" => (
            "",
            vec![("position", "position"), ("orientation.w", "orientation.w")],
        ),
        "geometry_msgs/msg/PoseStamped" => (
            "header",
            vec![
                ("position.x", "pose.position.x"),
                ("orientation", "pose.orientation"),
            ],
        ),
        "geometry_msgs/msg/PoseWithCovariance" => (
            "",
            vec![("position", "pose.position"), ("covariance", "covariance")],
        ),
        "geometry_msgs/msg/PoseWithCovarianceStamped" => (
            "header",
            vec![
                ("position", "pose.pose.position"),
                ("orientation", "pose.pose.orientation"),
                ("covariance", "pose.covariance"),
            ],
        ),
        "geometry_msgs/msg/Twist" | "geometry_msgs/msg/Accel" => {
            ("", vec![("linear", "linear"), ("angular", "angular")])
        }
        "geometry_msgs/msg/TwistStamped" => (
            "header",
            vec![("linear", "twist.linear"), ("angular", "twist.angular")],
        ),
        "geometry_msgs/msg/TwistWithCovariance" => (
            "",
            vec![("linear", "twist.linear"), ("covariance", "covariance")],
        ),
        "geometry_msgs/msg/TwistWithCovarianceStamped" => (
            "header",
            vec![
                ("angular", "twist.twist.angular"),
                ("covariance", "twist.covariance"),
            ],
        ),
        "geometry_msgs/msg/AccelStamped" => (
            "header",
            vec![("linear", "accel.linear"), ("angular", "accel.angular")],
        ),
        "geometry_msgs/msg/AccelWithCovariance" => (
            "",
            vec![("linear", "accel.linear"), ("covariance", "covariance")],
        ),
        "geometry_msgs/msg/AccelWithCovarianceStamped" => (
            "header",
            vec![
                ("linear", "accel.accel.linear"),
                ("covariance", "accel.covariance"),
            ],
        ),
        "geometry_msgs/msg/Wrench" => ("", vec![("force", "force"), ("torque", "torque")]),
        "geometry_msgs/msg/WrenchStamped" => (
            "header",
            vec![("force", "wrench.force"), ("torque", "wrench.torque")],
        ),
        "geometry_msgs/msg/Transform" => (
            "",
            vec![("translation", "translation"), ("rotation", "rotation")],
        ),
        "geometry_msgs/msg/TransformStamped" => (
            "header",
            vec![
                ("translation", "transform.translation"),
                ("rotation", "transform.rotation"),
                ("target_frame_id", "child_frame_id"),
            ],
        ),
        "tf2_msgs/msg/TFMessage" => (
            "",
            vec![
                (
                    "transforms.0.translation",
                    "transforms.0.transform.translation",
                ),
                ("transforms.1.rotation", "transforms.1.transform.rotation"),
                (
                    "transforms.1.target_frame_id",
                    "transforms.1.child_frame_id",
                ),
            ],
        ),
        "nav_msgs/msg/Odometry" => (
            "header",
            vec![
                ("pose.position", "pose.pose.position"),
                ("pose.orientation", "pose.pose.orientation"),
                ("pose.covariance", "pose.covariance"),
                ("velocity.linear", "twist.twist.linear"),
                ("velocity.angular", "twist.twist.angular"),
                ("velocity.covariance", "twist.covariance"),
                ("target_frame_id", "child_frame_id"),
            ],
        ),
        "sensor_msgs/msg/Imu" => (
            "header",
            vec![
                ("acceleration", "linear_acceleration"),
                ("angular_velocity", "angular_velocity"),
                ("angular_velocity.covariance", "angular_velocity_covariance"),
                ("orientation", "orientation"),
                ("orientation.covariance", "orientation_covariance"),
            ],
        ),
        "sensor_msgs/msg/NavSatFix" => (
            "header",
            vec![
                ("position.x", "latitude"),
                ("position.y", "longitude"),
                ("position.z", "altitude"),
                ("position.covariance", "position_covariance"),
                ("position.covariance_type", "position_covariance_type"),
                ("status", "status"),
            ],
        ),
        "sensor_msgs/msg/Image" => (
            "header",
            vec![
                ("width", "width"),
                ("height", "height"),
                ("stride", "step"),
                ("encoding", "encoding"),
            ],
        ),
        "sensor_msgs/msg/CompressedImage" => ("header", vec![]),
        "sensor_msgs/msg/NavSatStatus" => ("", vec![("status", "status"), ("service", "service")]),
        "sensor_msgs/msg/CameraInfo" => (
            "header",
            vec![
                ("height", "height"),
                ("width", "width"),
                ("distortion_model", "distortion_model"),
                ("distortion_parameters", "d"),
                ("intrinsic_parameters", "k"),
                ("rectification_parameters", "r"),
                ("projection_parameters", "p"),
                ("binning.x", "binning_x"),
                ("binning.y", "binning_y"),
                ("roi.offset.x", "roi.x_offset"),
                ("roi.offset.y", "roi.y_offset"),
                ("roi.height", "roi.height"),
                ("roi.width", "roi.width"),
                ("roi.do_rectify", "roi.do_rectify"),
            ],
        ),
        "sensor_msgs/msg/RegionOfInterest" => (
            "",
            vec![
                ("offset.x", "x_offset"),
                ("offset.y", "y_offset"),
                ("height", "height"),
                ("width", "width"),
                ("do_rectify", "do_rectify"),
            ],
        ),
        "sensor_msgs/msg/JointState" => (
            "header",
            vec![
                ("names", "name"),
                ("positions", "position"),
                ("velocities", "velocity"),
                ("efforts", "effort"),
            ],
        ),
        "sensor_msgs/msg/BatteryState" => (
            "header",
            vec![
                ("voltage", "voltage"),
                ("temperature", "temperature"),
                ("current", "current"),
                ("charge", "charge"),
                ("capacity", "capacity"),
                ("design_capacity", "design_capacity"),
                ("percentage", "percentage"),
                ("power_supply_status", "power_supply_status"),
                ("power_supply_health", "power_supply_health"),
                ("power_supply_technology", "power_supply_technology"),
                ("present", "present"),
                ("cell_voltage", "cell_voltage"),
                ("cell_temperature", "cell_temperature"),
                ("location", "location"),
                ("serial_number", "serial_number"),
            ],
        ),
        "nmea_msgs/msg/Sentence" => ("header", vec![("sentence", "sentence")]),
        "sensor_msgs/msg/MagneticField" => ("header", vec![]),
        "sensor_msgs/msg/PointCloud2" => (
            "header",
            vec![
                ("height", "height"),
                ("width", "width"),
                ("fields", "fields"),
                ("is_bigendian", "is_bigendian"),
                ("point_step", "point_step"),
                ("row_step", "row_step"),
                ("is_dense", "is_dense"),
            ],
        ),
        "sensor_msgs/msg/LaserScan" => (
            "header",
            vec![
                ("angle_min", "angle_min"),
                ("angle_max", "angle_max"),
                ("angle_increment", "angle_increment"),
                ("time_increment", "time_increment"),
                ("scan_time", "scan_time"),
                ("range_min", "range_min"),
                ("range_max", "range_max"),
                ("ranges", "ranges"),
                ("intensities", "intensities"),
            ],
        ),
        "sensor_msgs/msg/Range" => (
            "header",
            vec![
                ("radiation_type", "radiation_type"),
                ("field_of_view", "field_of_view"),
                ("min_range", "min_range"),
                ("max_range", "max_range"),
                ("range", "range"),
                ("variance", "variance"),
            ],
        ),
        "sensor_msgs/msg/Temperature" => ("header", vec![("variance", "variance")]),
        "sensor_msgs/msg/FluidPressure" => (
            "header",
            vec![("value", "fluid_pressure"), ("variance", "variance")],
        ),
        "sensor_msgs/msg/RelativeHumidity" => ("header", vec![("value", "relative_humidity")]),
        "sensor_msgs/msg/Illuminance" => (
            "header",
            vec![("value", "illuminance"), ("variance", "variance")],
        ),
        "sensor_msgs/msg/Joy" => ("header", vec![("axes", "axes"), ("buttons", "buttons")]),
        "std_msgs/msg/Header" => (
            "",
            vec![("frame_id", "frame_id"), ("timestamp.seconds", "stamp.sec")],
        ),
        "builtin_interfaces/msg/Time" | "builtin_interfaces/msg/Duration" => {
            ("", vec![("seconds", "sec"), ("nanoseconds", "nanosec")])
        }
        other => panic!("no expectations for {other}"),
    }
}

/// Numbers compare as f64 bit patterns when both sides are floats (arrow-json prints f32 values
/// with their shortest f32 form, so float32 columns are compared after rounding to f32).
fn same(got: &Value, want: &Value, ctx: &str) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{ctx}.{k} missing in {g:?}"));
                same(gv, wv, &format!("{ctx}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{ctx}");
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                same(a, b, &format!("{ctx}[{i}]"));
            }
        }
        (Value::Number(g), Value::Number(w)) => {
            let (a, b) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                a == b || (a as f32) == (b as f32) && (a - b).abs() <= b.abs() * 1e-6,
                "{ctx}: {a} vs {b}"
            );
        }
        (Value::Number(g), Value::Bool(w)) => assert_eq!(g.as_f64().unwrap() != 0.0, *w, "{ctx}"),
        (Value::Bool(g), Value::Number(w)) => assert_eq!(*g, w.as_f64().unwrap() != 0.0, "{ctx}"),
        (g, w) => assert_eq!(g, w, "{ctx}"),
    }
}

#[test]
fn every_adapter_maps_every_field_on_both_generations() {
    let mut checked = 0;
    for ros_type in msgs::TYPE_NAMES {
        for gen in [Generation::Legacy, Generation::Current] {
            let Some(_) = adapter_for(ros_type, gen) else {
                // only the current-generation-only tags may be missing on legacy
                assert!(
                    gen == Generation::Legacy
                        && matches!(
                            *ros_type,
                            "std_msgs/msg/Header"
                                | "builtin_interfaces/msg/Time"
                                | "builtin_interfaces/msg/Duration"
                        )
                        || *ros_type == "sensor_msgs/msg/PointField",
                    "{ros_type} has no adapter on {gen:?}"
                );
                continue;
            };
            let (batch, want) = convert(ros_type, gen);
            let rows = rows(&batch);
            if std::env::var("SHOW_ROWS").is_ok() {
                println!("{ros_type} {gen:?}: {}", rows[0]);
            }
            let (header, pairs) = mapping(ros_type);
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(row["timestamp_ns"], json!(TS + i as i64), "{ros_type}");
                if !header.is_empty() {
                    assert_header(row, header, &want["header"], gen);
                    if gen == Generation::Legacy {
                        assert_header(row, "message_header", &want["header"], gen);
                    }
                }
                for (col, field) in &pairs {
                    same(
                        get(row, col),
                        get(&want, field),
                        &format!("{ros_type} {gen:?} {col}"),
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn unit_conversions_and_sdk_rules() {
    for gen in [Generation::Legacy, Generation::Current] {
        // tesla → microtesla
        let (b, want) = convert("sensor_msgs/msg/MagneticField", gen);
        let r = &rows(&b)[0];
        // (within the two ulps ingest may move a value so that replay divides back exactly)
        let x = want["magnetic_field"]["x"].as_f64().unwrap();
        let got = r["magnetic_field"]["x"].as_f64().unwrap();
        assert!(
            (got - x * 1e6).abs() <= 2.0 * f64::EPSILON * (x * 1e6).abs(),
            "{got}"
        );
        let c0 = want["magnetic_field_covariance"][0].as_f64().unwrap();
        assert!((r["magnetic_field"]["covariance"][0].as_f64().unwrap() - c0 * 1e12).abs() < 1e-12);
        // celsius → kelvin
        let (b, want) = convert("sensor_msgs/msg/Temperature", gen);
        let k = want["temperature"].as_f64().unwrap() + 273.15;
        let got = rows(&b)[0]["value"].as_f64().unwrap();
        assert!((got - k).abs() <= 2.0 * f64::EPSILON * k.abs(), "{got} K");
        // variance 0 = unknown → null
        let (b, _) = convert("sensor_msgs/msg/RelativeHumidity", gen);
        assert!(rows(&b)[0].get("variance").is_none_or(Value::is_null));
        // IMU: the all-zero acceleration covariance is unknown → null; the others kept
        let (b, _) = convert("sensor_msgs/msg/Imu", gen);
        let r = &rows(&b)[0];
        assert!(r["acceleration"]
            .get("covariance")
            .is_none_or(Value::is_null));
        assert_eq!(
            r["angular_velocity"]["covariance"]
                .as_array()
                .unwrap()
                .len(),
            9
        );
        // CompressedImage format normalised
        let (b, _) = convert("sensor_msgs/msg/CompressedImage", gen);
        assert_eq!(rows(&b)[0]["format"], "jpeg");
        // PoseWithCovarianceStamped keeps its covariance (the old bridge's bug)
        let (b, _) = convert("geometry_msgs/msg/PoseWithCovarianceStamped", gen);
        assert_eq!(rows(&b)[0]["covariance"].as_array().unwrap().len(), 36);
        // TF: no top-level / envelope header, one header per transform
        let (b, want) = convert("tf2_msgs/msg/TFMessage", gen);
        let r = &rows(&b)[0];
        assert!(r.get("message_header").is_none_or(Value::is_null));
        assert_header(
            r,
            "transforms.1.header",
            &want["transforms"][1]["header"],
            gen,
        );
    }
}

#[test]
fn imu_without_orientation_and_empty_header() {
    use msgs::sensor_msgs::Imu;
    let mut m = Imu::from_cdr(&fixture("sensor_msgs/msg/Imu").0).unwrap();
    m.header = Default::default();
    // REP 145's "no estimate" with a leftover quaternion: kept, -1 marker included, so replay
    // gives back the bytes
    m.orientation_covariance.0 = [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let leftover = m.clone();
    // and in its canonical form (zero quaternion): null, as the SDK stores it
    m.orientation = Default::default();
    for gen in [Generation::Legacy, Generation::Current] {
        let mut a = adapter_for(Imu::TYPE_NAME, gen).unwrap();
        a.push(1, &m.to_cdr(Default::default())).unwrap();
        a.push(2, &leftover.to_cdr(Default::default())).unwrap();
        let b = a.finish().unwrap();
        let (r, kept) = (&rows(&b)[0], &rows(&b)[1]);
        assert!(r.get("orientation").is_none_or(Value::is_null));
        assert_eq!(kept["orientation"]["w"], json!(leftover.orientation.w));
        assert_eq!(kept["orientation"]["covariance"][0], json!(-1.0));
        // current: an empty ROS header is no header; legacy always records it
        assert_eq!(
            r.get("header").is_none_or(Value::is_null),
            gen == Generation::Current
        );
    }
}

/// CompressedImage: the column holds the codec (what the SDK's `ImageFormat` takes), the topic
/// metadata the first message's ROS format string, and replay gives that string back to the rows
/// of its codec. The strings are rosbags' golden one (image_transport's spelling) and variants.
#[test]
fn compressed_image_format_string_rides_in_the_topic_metadata() {
    use mosaico_bridge::ros::adapters::encode::encoder_for;
    use mosaico_bridge::ros::adapters::rows::{Flat, TopicHints};
    use msgs::sensor_msgs::CompressedImage;
    let ty = CompressedImage::TYPE_NAME;
    let first = CompressedImage::from_cdr(&fixture(ty).0).unwrap();
    assert_eq!(first.format, "rgb8; jpeg compressed bgr8");
    let with = |f: &str| {
        let mut m = first.clone();
        m.format = f.into();
        m.to_cdr(Default::default())
    };
    // the first; a codec name; another codec's transport string; the first's codec spelt otherwise
    let sent = [
        first.format.as_str(),
        "png",
        "bgr8; png compressed ",
        "jpeg",
    ];
    let replayed = [first.format.as_str(), "png", "png", first.format.as_str()];
    for gen in [Generation::Legacy, Generation::Current] {
        let mut a = adapter_for(ty, gen).unwrap();
        for f in sent {
            a.push(TS, &with(f)).unwrap();
        }
        let batch = a.finish().unwrap();
        let stored: Vec<Value> = rows(&batch).iter().map(|r| r["format"].clone()).collect();
        assert_eq!(
            stored,
            [json!("jpeg"), json!("png"), json!("png"), json!("jpeg")]
        );
        let meta = a
            .topic_options(&RosTopicInfo::new(ty), json!({"site": "lab"}))
            .user_metadata;
        let key = match gen {
            Generation::Current => &meta["_ros_"]["compressed_format"],
            Generation::Legacy => &meta["ros:compressed_format"],
        };
        assert_eq!(key, &json!(first.format), "{gen}: {meta}");
        assert_eq!(meta["site"], "lab");
        let flat = Flat::new(&batch).with_hints(TopicHints::from_metadata(&meta));
        let enc = encoder_for(ty).unwrap();
        for (i, want) in replayed.iter().enumerate() {
            let back = CompressedImage::from_cdr(&enc(&flat.row(i)).unwrap()).unwrap();
            assert_eq!(&back.format, want, "{gen} row {i}");
        }
        assert_eq!(
            enc(&flat.row(0)).unwrap(),
            with(sent[0]),
            "{gen}: byte-exact"
        );
        // without the metadata (topics written before, or by the SDK): the codec name
        let plain = Flat::new(&batch);
        let back = CompressedImage::from_cdr(&enc(&plain.row(0)).unwrap()).unwrap();
        assert_eq!(back.format, "jpeg");
    }
    // a topic whose first string is already a codec name needs no key
    let mut a = adapter_for(ty, Generation::Current).unwrap();
    a.push(TS, &with("png")).unwrap();
    let meta = a
        .topic_options(&RosTopicInfo::new(ty), Value::Null)
        .user_metadata;
    assert!(meta["_ros_"].get("compressed_format").is_none(), "{meta}");
}

/// Image `is_bigendian` is a boolean column: a first message's byte other than 0 or 1 rides in
/// the topic metadata and replays for the `true` rows.
#[test]
fn image_is_bigendian_byte_rides_in_the_topic_metadata() {
    use mosaico_bridge::ros::adapters::encode::encoder_for;
    use mosaico_bridge::ros::adapters::rows::{Flat, TopicHints};
    let (cdr, _) = fixture(Image::TYPE_NAME);
    let first = Image::from_cdr(&cdr).unwrap();
    let with = |b: u8| {
        let mut m = first.clone();
        m.is_bigendian = b;
        m.to_cdr(Default::default())
    };
    for gen in [Generation::Legacy, Generation::Current] {
        let mut a = adapter_for(Image::TYPE_NAME, gen).unwrap();
        for b in [7, 0, 7, 1] {
            a.push(TS, &with(b)).unwrap();
        }
        let batch = a.finish().unwrap();
        let meta = a
            .topic_options(&RosTopicInfo::new(Image::TYPE_NAME), Value::Null)
            .user_metadata;
        let key = match gen {
            Generation::Current => &meta["_ros_"]["is_bigendian"],
            Generation::Legacy => &meta["ros:is_bigendian"],
        };
        assert_eq!(key, &json!(7), "{gen}: {meta}");
        let flat = Flat::new(&batch).with_hints(TopicHints::from_metadata(&meta));
        let enc = encoder_for(Image::TYPE_NAME).unwrap();
        for (i, want) in [7u8, 0, 7, 7].into_iter().enumerate() {
            let back = Image::from_cdr(&enc(&flat.row(i)).unwrap()).unwrap();
            assert_eq!(back.is_bigendian, want, "{gen} row {i}");
        }
        assert_eq!(enc(&flat.row(0)).unwrap(), with(7), "{gen}: byte-exact");
    }
    // 0 or 1 first: no key
    let mut a = adapter_for(Image::TYPE_NAME, Generation::Current).unwrap();
    a.push(TS, &with(1)).unwrap();
    let meta = a
        .topic_options(&RosTopicInfo::new(Image::TYPE_NAME), Value::Null)
        .user_metadata;
    assert!(meta["_ros_"].get("is_bigendian").is_none(), "{meta}");
}

#[test]
fn images_raw_png_and_jpeg() {
    let (cdr, want) = fixture("sensor_msgs/msg/Image");
    let img = Image::from_cdr(&cdr).unwrap();
    for gen in [Generation::Legacy, Generation::Current] {
        // raw by default, in a `default`-format topic
        let mut a = adapter_for(Image::TYPE_NAME, gen).unwrap();
        assert_eq!(a.serialization_format(), SerializationFormat::Default);
        a.push(1, &cdr).unwrap();
        let b = a.finish().unwrap();
        let data = b.column_by_name("data").unwrap();
        let data = data
            .as_any()
            .downcast_ref::<arrow::array::BinaryArray>()
            .unwrap();
        assert_eq!(data.value(0), &img.data[..]);
        assert_eq!(rows(&b)[0]["format"], "raw");
        // png: lossless wide grayscale
        let opts = AdapterOptions {
            image: ImageCompression::Png,
            image_format: SerializationFormat::Image,
            ..Default::default()
        };
        let mut a = adapter_with(Image::TYPE_NAME, gen, &opts).unwrap();
        assert_eq!(a.serialization_format(), SerializationFormat::Image);
        a.push(1, &cdr).unwrap();
        let b = a.finish().unwrap();
        let data = b.column_by_name("data").unwrap();
        let data = data
            .as_any()
            .downcast_ref::<arrow::array::BinaryArray>()
            .unwrap();
        // Oracle: the `image` crate's PNG decoder and the bytes rosbags serialized (the fixture's
        // JSON), not the encoder under test.
        let png = image::load_from_memory_with_format(data.value(0), image::ImageFormat::Png)
            .expect("a PNG that an independent decoder reads");
        assert_eq!(png.color(), image::ColorType::L8, "wide grayscale");
        assert_eq!(
            (png.width(), png.height()),
            (
                want["step"].as_u64().unwrap() as u32,
                want["height"].as_u64().unwrap() as u32
            )
        );
        let want_bytes: Vec<u8> = want["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        assert_eq!(
            png.into_luma8().into_raw(),
            want_bytes,
            "decodes to the ROS bytes"
        );
        assert_eq!(rows(&b)[0]["format"], "png");
        // jpeg: a CompressedImage topic
        let opts = AdapterOptions {
            image: ImageCompression::Jpeg { quality: 80 },
            ..Default::default()
        };
        let mut a = adapter_with(Image::TYPE_NAME, gen, &opts).unwrap();
        assert_eq!(a.class(), "CompressedImage");
        a.push(1, &cdr).unwrap();
        let b = a.finish().unwrap();
        assert_eq!(
            b.schema(),
            Ontology::class_or_extension(gen, "CompressedImage")
                .unwrap()
                .schema
        );
        assert_eq!(rows(&b)[0]["format"], "jpeg");
        // Oracle: the `image` crate's JPEG decoder against the ROS pixels (rows without padding).
        let data = b.column_by_name("data").unwrap();
        let data = data
            .as_any()
            .downcast_ref::<arrow::array::BinaryArray>()
            .unwrap();
        let jpg = image::load_from_memory_with_format(data.value(0), image::ImageFormat::Jpeg)
            .expect("a JPEG that an independent decoder reads")
            .into_rgb8();
        let (w, step) = (
            want["width"].as_u64().unwrap() as usize,
            want["step"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            (jpg.width() as usize, jpg.height()),
            (w, want["height"].as_u64().unwrap() as u32)
        );
        let pixels: Vec<u8> = want_bytes
            .chunks(step)
            .flat_map(|r| r[..w * 3].to_vec())
            .collect();
        let err = jpg
            .as_raw()
            .iter()
            .zip(&pixels)
            .map(|(a, b)| a.abs_diff(*b) as u64)
            .sum::<u64>()
            / pixels.len() as u64;
        assert!(err <= 12, "mean error {err} per channel at quality 80");
    }
}

#[test]
fn unknown_types_are_stored_raw_with_their_metadata() {
    let (cdr, _) = fixture("diagnostic_msgs/msg/KeyValue");
    for gen in [Generation::Legacy, Generation::Current] {
        assert!(adapter_for("diagnostic_msgs/msg/KeyValue", gen).is_none());
        let mut a = adapter_or_raw(
            "diagnostic_msgs/msg/KeyValue",
            gen,
            &AdapterOptions::default(),
        );
        assert!(a.is_raw());
        a.push(5, &cdr).unwrap();
        let b = a.finish().unwrap();
        let data = b.column_by_name("data").unwrap();
        let data = data
            .as_any()
            .downcast_ref::<arrow::array::BinaryArray>()
            .unwrap();
        assert_eq!(data.value(0), &cdr[..]);
        let info = RosTopicInfo {
            ros_type: "diagnostic_msgs/msg/KeyValue".into(),
            definition: Some("string key\nstring value\n".into()),
            qos: Some(json!("- history: 3\n  depth: 0\n")),
        };
        let opts = a.topic_options(&info, json!({"robot": "r1"}));
        assert_eq!(opts.tag, a.tag());
        let m = &opts.user_metadata;
        assert_eq!(m["robot"], "r1");
        match gen {
            Generation::Current => {
                assert_eq!(a.tag(), "RosMessageCdr");
                assert_eq!(m["_ros_"]["msgtype"], "diagnostic_msgs/msg/KeyValue");
                assert_eq!(m["_ros_"]["msgdef"], "string key\nstring value\n");
            }
            Generation::Legacy => {
                assert_eq!(a.tag(), "ros_message_cdr");
                assert_eq!(m["ros:msgtype"], "diagnostic_msgs/msg/KeyValue");
                assert!(m["ros:qos"].is_string());
            }
        }
    }
}

#[test]
fn garbage_is_an_error_and_the_adapter_goes_on() {
    let (cdr, _) = fixture("sensor_msgs/msg/PointCloud2");
    let mut a = adapter_for("sensor_msgs/msg/PointCloud2", Generation::Current).unwrap();
    let mut errors = 0;
    for bad in [
        &b""[..],
        &[0, 1, 0, 0][..],
        &[9, 9, 9, 9, 1, 2, 3][..],
        &cdr[..cdr.len() - 3],
    ] {
        errors += a.push(1, bad).is_err() as usize;
    }
    let mut huge = cdr.clone();
    // the `fields` sequence length (after the header: stamp 8 + frame "lidar" 4+6 → 20, +height/width 8 = 28)
    huge[4 + 28..4 + 32].copy_from_slice(&u32::MAX.to_le_bytes());
    errors += a.push(1, &huge).is_err() as usize;
    assert_eq!(errors, 5);
    a.push(2, &cdr).unwrap();
    assert_eq!(a.finish().unwrap().num_rows(), 1);
}

/// The official SDK (PyPI `mosaicolabs` 0.7, plus `python/mosaico_bridge_ontology` for this project's
/// extensions) reads every current-generation adapter's output as its typed class. Needs
/// the Python peers of `python/requirements-test.txt`, which `scripts/test.sh` installs.
#[test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
fn official_sdk_reads_every_adapter_typed() {
    let python = std::env::var("MOSAICO_TEST_PYTHON")
        .expect("MOSAICO_TEST_PYTHON must name a Python with python/requirements-test.txt installed (scripts/test.sh sets it)");
    let dir = tempfile::tempdir().unwrap();
    let mut written = 0;
    let mut types: Vec<&str> = msgs::TYPE_NAMES.to_vec();
    types.push("diagnostic_msgs/msg/KeyValue");
    for ros_type in types {
        let (cdr, _) = fixture(ros_type);
        let mut a = adapter_or_raw(ros_type, Generation::Current, &AdapterOptions::default());
        if a.is_raw() && ros_type != "diagnostic_msgs/msg/KeyValue" {
            continue;
        }
        a.push(TS, &cdr).unwrap();
        a.push(TS + 1, &cdr).unwrap();
        if !a.is_raw() {
            // and random ones: negative and -0.0 covariances, REP 145 markers kept with their
            // orientation, odd binnings and statuses, NaN and infinities must read typed too
            for (k, m) in roundtrip::random_messages(ros_type, 32, 0x5eed)
                .iter()
                .enumerate()
            {
                // the refusals are documented (an Image dimension over i32::MAX)
                let _ = a.push(TS + 2 + k as i64, m);
            }
        }
        let batch = a.finish().unwrap();
        let path = dir
            .path()
            .join(format!("{}__{}.arrow", a.tag(), ros_type.replace('/', "_")));
        let file = std::fs::File::create(&path).unwrap();
        let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        written += 1;
    }
    let out = std::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_sdk_reads_typed.py"))
        .arg(dir.path())
        .env(
            "PYTHONPATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("python"),
        )
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        written,
        "{text}"
    );
}

fn all_adapters() -> Vec<(String, Generation, AdapterOptions)> {
    let mut out = Vec::new();
    for t in msgs::TYPE_NAMES
        .iter()
        .chain(["diagnostic_msgs/msg/KeyValue"].iter())
    {
        for gen in [Generation::Legacy, Generation::Current] {
            out.push((t.to_string(), gen, AdapterOptions::default()));
        }
    }
    for image in [
        ImageCompression::Png,
        ImageCompression::Jpeg { quality: 50 },
    ] {
        out.push((
            "sensor_msgs/msg/Image".into(),
            Generation::Current,
            AdapterOptions {
                image,
                ..Default::default()
            },
        ));
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, .. Default::default() })]

    /// Mutated golden messages into every adapter: errors or rows, never a panic, and the batch
    /// still builds afterwards (a failed push appends nothing).
    #[test]
    fn mutated_messages_into_every_adapter(seed in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..6),
                                           cut in 0usize..4096) {
        let mut ok = 0usize;
        for (ros_type, gen, opts) in all_adapters() {
            let (cdr, _) = fixture(&ros_type);
            let mut a = adapter_or_raw(&ros_type, gen, &opts);
            let mut bad = cdr.clone();
            for (pos, val) in &seed {
                let i = 4 + pos % (bad.len() - 4).max(1);
                if i < bad.len() {
                    bad[i] = *val;
                }
            }
            bad.truncate(cut.max(4).min(bad.len()));
            // Rows are counted from the push results, not read back from the adapter.
            let accepted = a.push(1, &bad).is_ok() as usize + a.push(2, &cdr).is_ok() as usize;
            ok += accepted;
            let batch = a.finish().unwrap();
            proptest::prop_assert_eq!(batch.num_rows(), accepted, "{} on {:?}", ros_type, gen);
            proptest::prop_assert_eq!(a.len(), 0);
        }
        proptest::prop_assert!(ok > 0);
    }
}

/// Encoders against decoders on random messages: `tests/adapters/roundtrip.rs`.
#[path = "adapters/roundtrip.rs"]
mod roundtrip;

#[test]
fn adapters_are_send() {
    fn is_send<T: Send>() {}
    is_send::<mosaico_bridge::ros::Adapter>();
}

/// Conversion runs in the processing-pool workers: the adapter moves into the job and back.
#[tokio::test]
async fn converts_in_the_processing_pool_and_reports_bad_messages() {
    let pool = mosaico_bridge::processing::ProcessingPool::new(2);
    let (cdr, _) = fixture("sensor_msgs/msg/Image");
    let opts = AdapterOptions {
        image: ImageCompression::Png,
        ..Default::default()
    };
    let mut adapter = adapter_with("sensor_msgs/msg/Image", Generation::Current, &opts).unwrap();
    for round in 0..3 {
        let msgs: Vec<(i64, bytes::Bytes)> = vec![
            (1, cdr.clone().into()),
            (2, bytes::Bytes::from_static(b"\0\x01\0\0garbage")),
            (3, cdr.clone().into()),
        ];
        let (back, out) = pool
            .run(move || {
                let out = adapter.convert(&msgs);
                (adapter, out)
            })
            .await
            .unwrap();
        adapter = back;
        assert_eq!(out.batch.unwrap().num_rows(), 2, "round {round}");
        assert_eq!(out.errors.len(), 1);
        assert_eq!(out.errors[0].0, 1);
    }
}

/// Replay's half of the pinning: every golden `rosbags` message whose type has an encoder comes
/// back byte-identical through adapter → batch → encoder, on both generations.
#[test]
fn golden_messages_encode_back_to_their_bytes() {
    use mosaico_bridge::ros::adapters::encode::encoder_for;
    use mosaico_bridge::ros::adapters::rows::{Flat, TopicHints};
    let mut checked = 0;
    for gen in [Generation::Legacy, Generation::Current] {
        for ty in msgs::TYPE_NAMES {
            let (Some(enc), Some(mut a)) = (encoder_for(ty), adapter_for(ty, gen)) else {
                continue;
            };
            let (cdr, _) = fixture(ty);
            a.push(TS, &cdr).unwrap();
            let batch = a.finish().unwrap();
            // as replay reads the topic: the rows and the metadata the topic was created with
            let meta = a
                .topic_options(&RosTopicInfo::new(*ty), Value::Null)
                .user_metadata;
            let flat = Flat::new(&batch).with_hints(TopicHints::from_metadata(&meta));
            let got = enc(&flat.row(0)).unwrap();
            // the unit conversions too: the golden values have a kelvin / microtesla double that
            // converts back exactly (README, "Exporting to rosbag2 bags")
            assert_eq!(got, cdr, "{ty} on {gen}: encode(decode(cdr)) == cdr");
            checked += 1;
        }
    }
    // every typed type × generation: 58 typed types on current, 55 on legacy (no Header, Time,
    // Duration classes there)
    assert!(
        checked >= 113,
        "only {checked} type × generation pairs have an encoder"
    );
}
