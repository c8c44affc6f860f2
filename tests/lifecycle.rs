//! Locking and error policies as mosaicod enforces them: streams commit on a clean end and lock,
//! a broken stream leaves its topic unlocked and empty, finalize refuses unlocked topics, finalized
//! sequences refuse delete, and Delete / Report / drop do what they promise.

mod common;

use std::time::Duration;

use common::*;
use mosaico_bridge::protocol::Target;
use mosaico_bridge::{Error, Generation, OnError, TopicOptions, WriterState};
use serde_json::json;

#[tokio::test]
async fn finalized_sequences_refuse_delete_and_unfinalized_ones_go() {
    each_generation(|h| async move {
        let c = h.client().await;
        let done = unique("locked");
        let seq = imu_sequence(&c, &done, OnError::Delete).await;
        seq.finalize().await.unwrap();
        assert!(seq.finalize().await.is_ok(), "finalize is idempotent");
        assert!(
            matches!(seq.abort().await, Err(Error::Closed(_))),
            "a finalized writer cannot be aborted"
        );
        let e = c.sequence_delete(&done).await.unwrap_err();
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        assert!(c.sequence_handler(&done).await.is_ok(), "still there");

        let open = unique("unlocked");
        let seq = imu_sequence(&c, &open, OnError::Report).await;
        seq.topic("/imu").await.unwrap().finish().await.unwrap();
        assert!(
            c.sequence_handler(&open).await.is_ok(),
            "the unlocked sequence is there before the abort"
        );
        seq.abort().await.unwrap();
        assert!(
            matches!(c.sequence_handler(&open).await, Err(Error::NotFound { .. })),
            "abort removes the sequence"
        );
        if h.generation == Generation::Legacy {
            // An unlocked sequence can be deleted by name (a sequence of its own: the abort above
            // must be what removed `open`).
            let other = unique("unlocked_delete");
            let seq = imu_sequence(&c, &other, OnError::Report).await;
            seq.topic("/imu").await.unwrap().finish().await.unwrap();
            assert!(c.sequence_handler(&other).await.is_ok());
            c.sequence_delete(&other).await.unwrap();
            assert!(matches!(
                c.sequence_handler(&other).await,
                Err(Error::NotFound { .. })
            ));
        }
    })
    .await;
}

#[tokio::test]
async fn a_broken_stream_leaves_its_topic_unlocked_and_empty() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("broken");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Report)
            .await
            .unwrap();
        let imu = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        let ok = seq
            .topic_create("/ok", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        imu.push_batch(batch(&schema(&c, "IMU"), &imu_rows(100, 1)))
            .await
            .unwrap();
        ok.push_batch(batch(&schema(&c, "IMU"), &imu_rows(100, 1)))
            .await
            .unwrap();
        imu.flush().await.unwrap();
        imu.cancel().await; // discarded (the server refuses the stream), not ended: nothing is committed
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = c.topic_handler(&name, "/imu").await.unwrap();
        // Never committed, on any server: the topic stays unlocked and (below) blocks finalize,
        // and empty: the server refused the stream before any end of stream (a reset alone is
        // not enough on mosaicod; tests/cancel.rs measures it).
        assert_eq!(t.info().locked, Some(false));
        assert!(
            t.info().row_count.unwrap_or(0) == 0 && t.info().chunks.unwrap_or(0) == 0,
            "{:?}",
            t.info()
        );

        // Finalize cannot succeed with a lost topic: the Report policy keeps what arrived and says so.
        let e = seq.finalize().await.unwrap_err();
        assert!(e.to_string().contains("/imu"), "{e}");
        assert_eq!(seq.state().await, WriterState::Reported);
        let notes = c.notifications(Target::Sequence, &name).await.unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.kind == "error" && n.msg.contains("/imu")),
            "{notes:?}"
        );
        let kept = c.topic_handler(&name, "/ok").await.unwrap();
        assert_eq!(
            kept.info().locked,
            Some(true),
            "the healthy topic was committed"
        );
    })
    .await;
}

#[tokio::test]
async fn finalize_refuses_a_topic_whose_stream_never_ended() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("unended");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let _raw = seq
            .topic_create_raw("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        let e = seq.finalize().await.unwrap_err();
        assert!(matches!(e, Error::TopicUnlocked { .. }), "{e}");
        assert_eq!(
            seq.state().await,
            WriterState::Discarded,
            "policy delete applied"
        );
        assert!(matches!(
            c.sequence_handler(&name).await,
            Err(Error::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn report_keeps_what_arrived_and_records_the_error() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("report");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Report)
            .await
            .unwrap();
        let imu = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        imu.push_batch(batch(&schema(&c, "IMU"), &imu_rows(42, 1)))
            .await
            .unwrap();
        assert_eq!(
            seq.fail("lidar driver crashed").await.unwrap(),
            WriterState::Reported
        );
        let s = c.sequence_handler(&name).await.unwrap();
        let notes = s.notifications().await.unwrap();
        assert!(
            notes.iter().any(|n| n.msg.contains("lidar driver crashed")),
            "{notes:?}"
        );
        // Legacy leaves the sequence unlocked (deletable later); current finalizes the session, as the SDK does.
        assert_eq!(s.info().locked, Some(h.generation == Generation::Current));
        let rows = collect(
            s.topic("/imu")
                .await
                .unwrap()
                .stream(Default::default())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(rows.num_rows(), 42);
    })
    .await;
}

#[tokio::test]
async fn a_writer_dropped_without_finalize_applies_its_policy() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("dropped");
        {
            let seq = c
                .sequence_create(&name, json!({}), OnError::Delete)
                .await
                .unwrap();
            let imu = seq
                .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
                .await
                .unwrap();
            imu.push_batch(batch(&schema(&c, "IMU"), &imu_rows(10, 1)))
                .await
                .unwrap();
        }
        for _ in 0..100 {
            if matches!(c.sequence_handler(&name).await, Err(Error::NotFound { .. })) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the dropped writer's sequence `{name}` was not discarded");
    })
    .await;
}
