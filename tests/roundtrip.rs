//! What is written reads back identical: several tags, time windows, the time-merged sequence
//! stream, and metadata — over real Flight on loopback, for each protocol generation.

mod common;

use common::*;
use mosaico_bridge::{OnError, TimeRange, TopicOptions};
use serde_json::json;

#[tokio::test]
async fn topics_read_back_identical() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("roundtrip");
        let seq = c
            .sequence_create(
                &name,
                json!({"robot": "r2", "run": {"n": 7}}),
                OnError::Delete,
            )
            .await
            .unwrap();
        let imu = seq
            .topic_create(
                "/imu",
                TopicOptions::new(tag(&c, "IMU")).metadata(json!({"rate_hz": 100})),
            )
            .await
            .unwrap();
        let cam = seq
            .topic_create("/camera/image_raw", TopicOptions::new(tag(&c, "Image")))
            .await
            .unwrap();
        let imu_in = batch(&schema(&c, "IMU"), &imu_rows(3000, 10_000_000));
        let cam_in = batch(&schema(&c, "Image"), &image_rows(6, 50_000_000, 64, 48));
        // In pieces, as a recorder pushes them.
        for off in (0..imu_in.num_rows()).step_by(250) {
            imu.push_batch(imu_in.slice(off, 250.min(imu_in.num_rows() - off)))
                .await
                .unwrap();
        }
        for off in 0..cam_in.num_rows() {
            cam.push_batch(cam_in.slice(off, 1)).await.unwrap();
        }
        let summary = seq.finalize().await.unwrap();
        assert_eq!(summary.rows(), 3006);

        let h2 = c.sequence_handler(&name).await.unwrap();
        assert_eq!(h2.topics(), ["/camera/image_raw", "/imu"]);
        assert_eq!(h2.info().user_metadata["run"]["n"], 7);
        assert_eq!(h2.info().locked, Some(true));
        let t = c.topic_handler(&name, "/imu").await.unwrap();
        assert_eq!(t.info().ontology_tag, tag(&c, "IMU"));
        assert_eq!(t.info().user_metadata["rate_hz"], 100);
        same_data(
            &collect(t.stream(TimeRange::default()).await.unwrap())
                .await
                .unwrap(),
            &imu_in,
        );
        let t = c.topic_handler(&name, "camera/image_raw").await.unwrap();
        same_data(
            &collect(t.stream(TimeRange::default()).await.unwrap())
                .await
                .unwrap(),
            &cam_in,
        );
    })
    .await;
}

#[tokio::test]
async fn time_windows_are_start_inclusive_end_exclusive() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("window");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let imu = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        imu.push_batch(batch(&schema(&c, "IMU"), &imu_rows(100, 1_000)))
            .await
            .unwrap();
        seq.finalize().await.unwrap();
        let t = c.topic_handler(&name, "/imu").await.unwrap();
        let range = TimeRange {
            start_ns: Some(T0 + 10_000),
            end_ns: Some(T0 + 20_000),
        };
        let got = collect(t.stream(range).await.unwrap()).await.unwrap();
        let ts = got
            .column_by_name("timestamp_ns")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        assert_eq!(ts.len(), 10);
        assert_eq!((ts.value(0), ts.value(9)), (T0 + 10_000, T0 + 19_000));
        let none = TimeRange {
            start_ns: Some(T0 + 1_000_000),
            end_ns: None,
        };
        assert!(
            collect(t.stream(none).await.unwrap()).await.is_none(),
            "a window past the data is empty"
        );
    })
    .await;
}

#[tokio::test]
async fn sequence_stream_merges_topics_by_time() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("merge");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let fast = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        let slow = seq
            .topic_create("/imu_slow", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        fast.push_batch(batch(&schema(&c, "IMU"), &imu_rows(50, 1_000)))
            .await
            .unwrap();
        let mut slow_rows = imu_rows(10, 5_000);
        for r in &mut slow_rows {
            r["timestamp_ns"] = json!(r["timestamp_ns"].as_i64().unwrap() + 500);
        }
        slow.push_batch(batch(&schema(&c, "IMU"), &slow_rows))
            .await
            .unwrap();
        seq.finalize().await.unwrap();

        let mut s = c
            .sequence_handler(&name)
            .await
            .unwrap()
            .stream(None, TimeRange::default())
            .await
            .unwrap();
        let (mut last, mut n, mut slow_seen) = (i64::MIN, 0, 0);
        while let Some(row) = s.next().await {
            let row = row.unwrap();
            assert!(row.timestamp_ns >= last, "rows come in time order");
            last = row.timestamp_ns;
            n += 1;
            if &*row.topic == "/imu_slow" {
                slow_seen += 1;
            }
        }
        assert_eq!((n, slow_seen), (60, 10));
    })
    .await;
}
