//! Errors a user meets, typed and clear: duplicates, missing things, bad names (refused before any
//! action leaves the client), nothing listening, API keys, oversized records.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mosaico_bridge::control::channel::ConnectOptions;
use mosaico_bridge::server::ServerConfig;
use mosaico_bridge::{Error, Generation, MosaicoClient, OnError, TopicOptions};
use serde_json::json;

#[tokio::test]
async fn duplicates_and_missing_resources_are_typed() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("dup");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let e = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
        seq.topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        let e = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
        seq.abort().await.unwrap();
        let missing = unique("missing");
        assert!(matches!(
            c.sequence_handler(&missing).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            c.sequence_delete(&missing).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            c.topic_handler(&missing, "/imu").await,
            Err(Error::NotFound { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn bad_names_never_reach_the_server() {
    // An empty name deleted the whole store on mosaicod (§12a); here it is refused locally. The
    // test server mirrors that wipe, so reaching it would destroy `kept`.
    let h = harness(Generation::Legacy).await;
    let Some(h) = h else { return };
    let c = h.client().await;
    let kept = unique("kept");
    let seq = c
        .sequence_create(&kept, json!({}), OnError::Delete)
        .await
        .unwrap();
    seq.topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
        .await
        .unwrap()
        .push_batch(batch(&schema(&c, "IMU"), &imu_rows(3, 1)))
        .await
        .unwrap();
    seq.finalize().await.unwrap();
    for bad in ["", " ", "/", "a/b", "sp ace", "_lead", "dot.ted"] {
        let e = c.sequence_delete(bad).await.unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
        let e = c
            .sequence_create(bad, json!({}), OnError::Delete)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
    }
    let seq = c
        .sequence_create(&unique("names"), json!({}), OnError::Delete)
        .await
        .unwrap();
    for bad in ["", "/", "a//b", "a/", "cam era", "x/../y"] {
        let e = seq
            .topic_create(bad, TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e}");
    }
    seq.abort().await.unwrap();
    let rows = collect(
        c.topic_handler(&kept, "/imu")
            .await
            .unwrap()
            .stream(Default::default())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        rows.map(|b| b.num_rows()),
        Some(3),
        "finalized data untouched"
    );
}

#[tokio::test]
async fn nothing_listening_fails_within_the_timeout() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = Instant::now();
    let e = MosaicoClient::connect("127.0.0.1", port, Duration::from_millis(800))
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        matches!(e, Error::Connect { .. } | Error::Timeout { .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains(&port.to_string()),
        "the error names the address: {e}"
    );
}

#[tokio::test]
async fn api_keys_are_sent_and_an_auth_error_is_not_a_fallback() {
    let key = "msco_0123456789abcdef0123456789abcdef_0badf00d";
    let Some(h) = harness_with(ServerConfig {
        api_key: Some(key.into()),
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let opts = |k: Option<&str>| ConnectOptions {
        api_key: k.map(str::to_string),
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let e = MosaicoClient::connect_with(&h.addr, opts(None))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Unauthenticated { .. }),
        "a missing key is reported, not taken for a legacy server: {e}"
    );
    let e = MosaicoClient::connect_with(&h.addr, opts(Some("msco_wrong_key")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e}");
    let c = MosaicoClient::connect_with(&h.addr, opts(Some(key)))
        .await
        .unwrap();
    assert_eq!(c.generation(), Generation::Current);
    let name = unique("keyed");
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
    seq.finalize().await.unwrap();
    let rows = collect(
        c.topic_handler(&name, "/imu")
            .await
            .unwrap()
            .stream(Default::default())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        rows.unwrap().num_rows(),
        10,
        "the key also travels with DoPut and DoGet"
    );
}

#[tokio::test]
async fn the_generation_is_detected_and_can_be_forced_only_when_true() {
    each_generation(|h| async move {
        let c = h.client().await;
        assert_eq!(c.generation(), h.generation);
        let forced = MosaicoClient::connect_with(
            &h.addr,
            ConnectOptions {
                generation: Some(Generation::Current),
                ..Default::default()
            },
        )
        .await;
        match h.generation {
            Generation::Current => assert!(forced.is_ok()),
            Generation::Legacy => {
                assert!(matches!(forced, Err(Error::Unsupported(_))), "{forced:?}")
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_record_over_the_message_limit_is_refused_counted_and_noted() {
    let config = ServerConfig {
        max_message_bytes: 4 << 20,
        ..Default::default()
    };
    let Some(h) = harness_with(config).await else {
        return;
    };
    let c = h.client().await;
    let name = unique("toolarge");
    let seq = c
        .sequence_create(&name, json!({}), OnError::Delete)
        .await
        .unwrap();
    let cam = seq
        .topic_create("/cam", TopicOptions::new(tag(&c, "Image")))
        .await
        .unwrap();
    let small = batch(&schema(&c, "Image"), &image_rows(2, 1, 64, 48));
    let huge = batch(&schema(&c, "Image"), &image_rows(1, 1, 1920, 1080));
    cam.push_batch(small.slice(0, 1)).await.unwrap();
    let e = cam.push_batch(huge).await.unwrap_err();
    assert!(matches!(e, Error::RecordTooLarge { .. }), "{e}");
    cam.push_batch(small.slice(1, 1)).await.unwrap();
    let summary = seq.finalize().await.unwrap();
    assert_eq!(
        (summary.topics[0].rows, summary.topics[0].dropped_too_large),
        (2, 1)
    );
    let notes = c
        .topic_handler(&name, "/cam")
        .await
        .unwrap()
        .notifications()
        .await
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.msg.contains("larger than the server's message limit")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_row_that_does_not_fit_the_schema_is_refused_alone() {
    each_generation(|h| async move {
        let c = h.client().await;
        let name = unique("badrow");
        let seq = c
            .sequence_create(&name, json!({}), OnError::Delete)
            .await
            .unwrap();
        let imu = seq
            .topic_create("/imu", TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        imu.push_json(imu_rows(1, 1)[0].clone()).await.unwrap();
        let e = imu
            .push_json(json!({"timestamp_ns": "soon", "acceleration": {"x": "fast"}}))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
        imu.push_json(imu_rows(2, 1)[1].clone()).await.unwrap();
        let summary = seq.finalize().await.unwrap();
        assert_eq!((summary.topics[0].rows, summary.topics[0].rejected), (2, 1));
    })
    .await;
}
