//! What a cancelled or broken upload leaves on the server, judged by the server's own answers
//! (topic info, DoGet, finalize, delete): never a committed or readable partial topic, and the
//! Delete policy leaves nothing behind, not even a stray data file that a later topic of the same
//! name would read back.
//!
//! Against the real mosaicod (`MOSAICO_TEST_SERVER`) this is the measurement: mosaicod's tonic
//! hands it a cancelled (RST_STREAM CANCEL) request stream as a clean end of stream, and it reads
//! a topic's data by listing the topic's folder, catalog or not. Each case runs several rounds,
//! since what the server does with a reset depends on timing.

mod common;
#[path = "common/uplink.rs"]
mod uplink;

use std::time::Duration;

use common::*;
use mosaico_bridge::{Error, MosaicoClient, OnError, TopicOptions, WriterState};
use serde_json::json;
use uplink::Uplink;

const ROUNDS: usize = 8;
const ROWS: usize = 200;

/// The rows DoGet returns for a topic, or the server's refusal.
async fn readable(c: &MosaicoClient, sequence: &str, topic: &str) -> Result<usize, String> {
    let h = c
        .topic_handler(sequence, topic)
        .await
        .map_err(|e| e.to_string())?;
    let mut s = h
        .stream(Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = 0;
    while let Some(b) = futures::StreamExt::next(&mut s).await {
        rows += b.map_err(|e| e.to_string())?.num_rows();
    }
    Ok(rows)
}

/// Nothing of `topic` may be committed or readable: unlocked, no chunk, no row through DoGet.
async fn nothing_committed(c: &MosaicoClient, sequence: &str, topic: &str, case: &str) {
    let info = c
        .topic_handler(sequence, topic)
        .await
        .unwrap()
        .info()
        .clone();
    let read = readable(c, sequence, topic).await;
    eprintln!(
        "measured ({case}) {sequence}{topic}: locked {:?}, chunks {:?}, rows {:?}, bytes {:?}; DoGet {:?}",
        info.locked, info.chunks, info.row_count, info.total_size_bytes, read
    );
    assert_eq!(info.locked, Some(false), "{case}: {topic} was committed");
    assert_eq!(
        info.chunks.unwrap_or(0),
        0,
        "{case}: {topic} holds chunks: {info:?}"
    );
    assert!(
        matches!(read, Err(_) | Ok(0)),
        "{case}: DoGet reads {read:?} rows of the discarded {topic}"
    );
}

/// The sequence `name` is gone, and a new sequence of the same name whose `/imu` receives no rows
/// reads back nothing: no file of the discarded one survived in the store (mosaicod's DoGet reads
/// every data file in the topic's folder).
async fn really_deleted(c: &MosaicoClient, name: &str, case: &str) {
    let mut gone = false;
    for _ in 0..100 {
        if matches!(c.sequence_handler(name).await, Err(Error::NotFound { .. })) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "{case}: `{name}` was not deleted");
    // Give a server that still finishes the cancelled stream the time to do its worst.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = c
        .sequence_create(name, json!({}), OnError::Delete)
        .await
        .unwrap();
    again
        .topic_create("/imu", TopicOptions::new(tag(c, "IMU")))
        .await
        .unwrap();
    let other = again
        .topic_create("/other", TopicOptions::new(tag(c, "IMU")))
        .await
        .unwrap();
    other
        .push_batch(batch(&schema(c, "IMU"), &imu_rows(3, 1)))
        .await
        .unwrap();
    again.finalize().await.unwrap();
    let read = readable(c, name, "/imu").await;
    eprintln!("measured ({case}) {name}/imu created again, empty: DoGet {read:?}");
    assert!(
        matches!(read, Err(_) | Ok(0)),
        "{case}: the new, empty `{name}/imu` reads {read:?} rows left by the deleted one"
    );
    assert_eq!(readable(c, name, "/other").await, Ok(3));
}

#[tokio::test]
async fn a_cancelled_topic_is_never_committed() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("cancelled");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let kept = seq
            .topic_create("/kept", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        kept.push_batch(batch(&schema(&c, "IMU"), &imu_rows(7, 1)))
            .await
            .unwrap();
        kept.finish().await.unwrap();
        for i in 0..ROUNDS {
            let t = seq
                .topic_create(&format!("/imu{i}"), TopicOptions::new(tag(&c, "IMU")))
                .await
                .unwrap();
            t.push_batch(batch(&schema(&c, "IMU"), &imu_rows(ROWS, 1)))
                .await
                .unwrap();
            t.flush().await.unwrap();
            if i % 2 == 1 {
                // Let the batch reach the server before the cancel.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            t.cancel().await;
            assert!(
                t.finish().await.is_err(),
                "a cancelled topic does not finish"
            );
        }
        // A server that still finishes a cancelled stream does it in this time.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..ROUNDS {
            nothing_committed(&c, &name, &format!("/imu{i}"), "cancel").await;
        }
        assert_eq!(readable(&c, &name, "/kept").await, Ok(7));

        // The cancelled topics were never committed, so the sequence cannot be finalized...
        let e = seq.finalize().await.unwrap_err();
        assert!(e.to_string().contains("/imu0"), "{e}");
        // ...and the Delete policy removed all of it.
        assert_eq!(seq.state().await, WriterState::Discarded);
        really_deleted(&c, &name, "cancel, then finalize with policy delete").await;
    })
    .await;
}

#[tokio::test]
async fn the_delete_policy_leaves_nothing_behind() {
    each_generation(|h| async move {
        let c = h.client().await;
        for round in 0..ROUNDS {
            let name = unique("deleted");
            let seq = c
                .sequence_create(&name, json!({}), OnError::Delete)
                .await
                .unwrap();
            let t = seq
                .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
                .await
                .unwrap();
            t.push_batch(batch(&schema(&c, "IMU"), &imu_rows(ROWS, 1)))
                .await
                .unwrap();
            t.flush().await.unwrap();
            if round % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(
                seq.fail("the input died").await.unwrap(),
                WriterState::Discarded
            );
            really_deleted(&c, &name, "policy delete").await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_aborted_writer_task_leaves_nothing_behind() {
    each_generation(|h| async move {
        let c = h.client().await;
        for round in 0..ROUNDS {
            let name = unique("aborted");
            let (sent_tx, sent_rx) = tokio::sync::oneshot::channel();
            let task = tokio::spawn({
                let (c, name) = (c.clone(), name.clone());
                async move {
                    let seq = c
                        .sequence_create(&name, json!({}), OnError::Delete)
                        .await
                        .unwrap();
                    let t = seq
                        .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
                        .await
                        .unwrap();
                    t.push_batch(batch(&schema(&c, "IMU"), &imu_rows(ROWS, 1)))
                        .await
                        .unwrap();
                    t.flush().await.unwrap();
                    let _ = sent_tx.send(());
                    futures::future::pending::<()>().await;
                    drop(seq);
                }
            });
            sent_rx.await.unwrap();
            if round % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The writer is dropped mid-stream, as when its owner panics or is cancelled.
            task.abort();
            assert!(task.await.unwrap_err().is_cancelled());
            really_deleted(&c, &name, "writer task aborted").await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_cut_connection_never_commits() {
    each_generation(|h| async move {
        let direct = h.client().await;
        for round in 0..ROUNDS / 2 {
            let uplink = Uplink::start(h.address()).await;
            let addr =
                mosaico_bridge::control::channel::ServerAddr::parse(&uplink.address()).unwrap();
            let c = MosaicoClient::connect_with(
                &addr,
                mosaico_bridge::control::channel::ConnectOptions {
                    api_key: h.api_key.clone(),
                    timeout: Duration::from_secs(10),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let name = unique("cut");
            let seq = c
                .sequence_create(&name, json!({}), OnError::Delete)
                .await
                .unwrap();
            let t = seq
                .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
                .await
                .unwrap();
            t.push_batch(batch(&schema(&c, "IMU"), &imu_rows(ROWS, 1)))
                .await
                .unwrap();
            t.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(if round % 2 == 1 { 200 } else { 20 })).await;
            uplink.cut();
            tokio::time::sleep(Duration::from_millis(300)).await;
            nothing_committed(&direct, &name, "/imu", "connection cut").await;
            assert!(t.finish().await.is_err(), "a cut stream does not finish");

            // Once the network is back, finalize fails on the lost topic and Delete cleans up.
            uplink.restore();
            assert!(seq.finalize().await.is_err());
            assert_eq!(seq.state().await, WriterState::Discarded);
            really_deleted(&direct, &name, "connection cut, then policy delete").await;
        }
    })
    .await;
}

/// How the stream of a raw DoPut ends, after its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawEnd {
    /// The call is dropped while the request stream is still open: RST_STREAM(CANCEL) only.
    Reset,
    /// The request stream ends, and the call is dropped a moment later: END_STREAM, then the
    /// reset (what this client did to cancel before it had the discard marker).
    EndThenReset,
    /// A FlightData without an IPC header follows the batches, and the stream stays open: the
    /// client's discard marker.
    Marker,
}

/// A raw DoPut of `ROWS` rows to a new topic `topic` of `seq`, ended as `end` (`delay_ms` after
/// the end of stream, for `EndThenReset`). The server's answer, if any came.
async fn raw_put(
    seq: &mosaico_bridge::SequenceWriter,
    c: &MosaicoClient,
    topic: &str,
    end: RawEnd,
    delay_ms: u64,
) -> Option<Result<(), tonic::Status>> {
    use futures::StreamExt;
    let raw = seq
        .topic_create_raw(topic, TopicOptions::new(tag(c, "IMU")))
        .await
        .unwrap();
    let b = batch(&raw.schema, &imu_rows(ROWS, 1));
    let mut encoded: Vec<_> = arrow_flight::encode::FlightDataEncoderBuilder::new()
        .with_schema(raw.schema.clone())
        .with_flight_descriptor(Some(raw.descriptor.clone()))
        .build(futures::stream::iter([Ok(b)]))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    if end == RawEnd::Marker {
        encoded.push(arrow_flight::FlightData {
            app_metadata: "discard".into(),
            ..Default::default()
        });
    }
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    let request = futures::stream::iter(encoded).chain(
        futures::stream::once(async move {
            let _ = sent_tx.send(());
            match end {
                RawEnd::Reset | RawEnd::Marker => futures::future::pending().await,
                RawEnd::EndThenReset => None,
            }
        })
        .filter_map(futures::future::ready),
    );
    let mut client = raw.client.clone();
    let mut call = tokio::spawn(async move {
        let mut s = client.do_put(request).await?.into_inner();
        while s.message().await?.is_some() {}
        Ok::<(), tonic::Status>(())
    });
    sent_rx.await.unwrap();
    match end {
        RawEnd::Marker => Some(
            tokio::time::timeout(Duration::from_secs(10), &mut call)
                .await
                .expect("the server answers the discard marker")
                .unwrap(),
        ),
        RawEnd::Reset | RawEnd::EndThenReset => {
            // Let the batch (and the end) reach the server first; with an end of stream, how long
            // the reset comes after it decides how far the server gets.
            tokio::time::sleep(Duration::from_millis(match end {
                RawEnd::Reset => 100,
                _ => delay_ms,
            }))
            .await;
            call.abort();
            let _ = call.await;
            None
        }
    }
}

/// The protocol facts behind the discard marker, on the server itself: a DoPut that a client
/// resets is not discarded (tonic hands the server the reset as an end of stream, and mosaicod
/// writes the data until hyper drops it: the counts are printed as `measured`), while one that
/// carries a FlightData without an IPC header is refused on it, at once, and leaves nothing.
#[tokio::test]
async fn a_reset_is_no_discard_but_the_marker_is() {
    each_generation(|h| async move {
        let c = h.client().await;
        for end in [RawEnd::Marker, RawEnd::Reset, RawEnd::EndThenReset] {
            let name = unique("reset");
            let seq = c
                .sequence_create(&name, json!({}), OnError::Delete)
                .await
                .unwrap();
            for i in 0..ROUNDS {
                let topic = format!("/t{i}");
                let answer = raw_put(&seq, &c, &topic, end, i as u64 * 2).await;
                if end == RawEnd::Marker {
                    let e = answer.unwrap().expect_err("the marker is refused");
                    eprintln!("measured (marker): the server answered {:?}: {}", e.code(), e.message());
                }
            }
            // Time for a server that goes on with a reset stream to get as far as it will.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (mut locked, mut with_chunks, mut readable_rows) = (0, 0, 0);
            for i in 0..ROUNDS {
                let topic = format!("/t{i}");
                if end == RawEnd::Marker {
                    nothing_committed(&c, &name, &topic, "discard marker").await;
                    continue;
                }
                let info = c.topic_handler(&name, &topic).await.unwrap().info().clone();
                let read = readable(&c, &name, &topic).await;
                locked += usize::from(info.locked == Some(true));
                with_chunks += usize::from(info.chunks.unwrap_or(0) > 0);
                readable_rows += usize::from(matches!(read, Ok(n) if n > 0));
                if h.server.is_some() && end == RawEnd::Reset {
                    // The test server mirrors mosaicod's outcome that matters: data, unlocked.
                    assert_eq!(info.locked, Some(false), "{info:?}");
                    assert_eq!(read, Ok(ROWS), "{info:?}");
                }
            }
            if end != RawEnd::Marker {
                eprintln!(
                    "measured ({end:?}, {} server): of {ROUNDS} topics, {locked} locked, {with_chunks} with chunks, {readable_rows} readable by DoGet",
                    if h.server.is_some() { "test" } else { "external" }
                );
            }
            seq.abort().await.unwrap();
        }
    })
    .await;
}
