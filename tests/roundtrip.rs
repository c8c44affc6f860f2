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

/// Writes an IMU and an image topic through `c` and reads them back: the rows are the ones sent.
async fn write_and_read_back(c: &mosaico_bridge::MosaicoClient) {
    let name = unique("wire");
    let seq = c
        .sequence_create(&name, json!({}), OnError::Delete)
        .await
        .unwrap();
    let imu = batch(&schema(c, "IMU"), &imu_rows(200, 1_000));
    let img = batch(&schema(c, "Image"), &image_rows(3, 1_000, 64, 48));
    for (topic, class, b) in [("/imu", "IMU", &imu), ("/camera", "Image", &img)] {
        seq.topic_create(topic, TopicOptions::new(tag(c, class)))
            .await
            .unwrap()
            .push_batch(b.clone())
            .await
            .unwrap();
    }
    seq.finalize().await.unwrap();
    same_data(&read_topic(c, &name, "/imu").await, &imu);
    same_data(&read_topic(c, &name, "/camera").await, &img);
}

/// gzip (`--gzip`): the client compresses what it sends when asked — a current-generation server
/// that does not accept gzip refuses its calls (tonic's decoder is the oracle), one that does
/// stores the same rows — and a legacy server, which refuses gzip (checked with a raw compressed
/// call, on the real mosaicod too), is spoken to uncompressed.
#[tokio::test]
async fn gzip_is_sent_when_asked_and_left_out_for_legacy_servers() {
    use mosaico_bridge::server::ServerConfig;
    use mosaico_bridge::ConnectOptions;
    let gzip = ConnectOptions {
        gzip: true,
        ..Default::default()
    };
    if let Some(addr) = external() {
        not_on_external(
            "gzip against current-generation servers with and without gzip",
            &format!("needs servers configured here; {addr} is external"),
        );
    } else {
        let refusing = local(ServerConfig {
            accept_gzip: false,
            ..Default::default()
        })
        .await;
        let c = refusing.client_with(gzip.clone()).await;
        let e = c
            .sequence_create(&unique("gzip"), json!({}), OnError::Delete)
            .await
            .expect_err("a server without gzip refuses a compressed call");
        assert!(e.to_string().contains("gzip"), "{e}");
        let accepting = local(ServerConfig::default()).await;
        write_and_read_back(&accepting.client_with(gzip.clone()).await).await;
    }
    if let Some(h) = harness(mosaico_bridge::Generation::Legacy).await {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.address()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let raw = arrow_flight::flight_service_client::FlightServiceClient::new(channel);
        let criteria = || arrow_flight::Criteria {
            expression: Default::default(),
        };
        assert!(
            raw.clone().list_flights(criteria()).await.is_ok(),
            "the same call uncompressed is answered"
        );
        let refused = raw
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .list_flights(criteria())
            .await
            .expect_err("a legacy server refuses a gzip-compressed call");
        assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused}");
        assert!(refused.message().contains("gzip"), "{refused}");
        write_and_read_back(&h.client_with(gzip).await).await;
    }
}

/// A CA made here, and a certificate for 127.0.0.1 it signed: (CA PEM, certificate PEM, key PEM).
fn loopback_certificate() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "mosaico_bridge test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// TLS (`grpc+tls://HOST:PORT`, `--tls-ca`): a test server on 127.0.0.1 serving a certificate a CA
/// made in the test signed. rustls is the oracle: with the CA the client connects and round-trips,
/// also from the CLI; without it (system roots) the handshake fails, and so does plain HTTP/2.
#[tokio::test]
async fn tls_with_a_private_ca() {
    use mosaico_bridge::control::channel::{ServerAddr, Tls};
    use mosaico_bridge::server::{ServerConfig, TlsIdentity};
    use mosaico_bridge::ConnectOptions;
    if let Some(addr) = external() {
        not_on_external(
            "TLS with a private CA",
            &format!("needs a server with a certificate made here; {addr} is external"),
        );
        return;
    }
    let (ca_pem, cert_pem, key_pem) = loopback_certificate();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca_pem).unwrap();
    let h = local(ServerConfig {
        tls: Some(TlsIdentity { cert_pem, key_pem }),
        ..Default::default()
    })
    .await;
    let url = format!("grpc+tls://127.0.0.1:{}", h.addr.port);
    let tls_addr = ServerAddr::parse(&url).unwrap();
    let opts = |tls| ConnectOptions {
        tls,
        timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let c = mosaico_bridge::MosaicoClient::connect_with(
        &tls_addr,
        opts(Tls::CustomCa(ca_path.clone())),
    )
    .await
    .expect("TLS with the CA that signed the server's certificate");
    write_and_read_back(&c).await;

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .env_remove("MOSAICO_SERVER")
        .args(["--server", &url, "--tls-ca"])
        .arg(&ca_path)
        .args(["ls", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("wire_"),
        "the CLI lists the sequence"
    );

    let unknown_ca = mosaico_bridge::MosaicoClient::connect_with(&tls_addr, opts(Tls::Auto)).await;
    assert!(
        unknown_ca.is_err(),
        "the system roots do not know the test's CA"
    );
    let plain = ServerAddr::parse(&format!("127.0.0.1:{}", h.addr.port)).unwrap();
    assert!(
        mosaico_bridge::MosaicoClient::connect_with(&plain, opts(Tls::Auto))
            .await
            .is_err(),
        "plain HTTP/2 to a TLS server"
    );
    // The CLI says what to change.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .env_remove("MOSAICO_SERVER")
        .args([
            "--server",
            &format!("127.0.0.1:{}", h.addr.port),
            "--timeout",
            "3",
            "ls",
        ])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.lines()
            .next()
            .unwrap()
            .contains(&format!("use --server {url}")),
        "plain gRPC to a TLS server is explained: {err}"
    );
}
