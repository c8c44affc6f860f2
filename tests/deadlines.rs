//! A server that accepts TCP and never answers (a hung process, a black-holed proxy) must not hang
//! the client: connecting and the `info` probe end within the connect timeout, and every control
//! call after that within its own deadline, with a typed timeout naming the call and the server.
//! The silent server is a local listener that accepts and then says nothing.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mosaico_bridge::control::channel::{ConnectOptions, ServerAddr};
use mosaico_bridge::{Error, Generation, MosaicoClient};

/// Accepts connections on 127.0.0.1 and holds them open without a byte in reply.
fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let mut held = Vec::new();
        l.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (addr, t)
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_connect_in_time() {
    let (addr, _t) = silent_server();
    let opts = ConnectOptions {
        timeout: Duration::from_millis(1500),
        ..Default::default()
    };
    let t = Instant::now();
    let r = MosaicoClient::connect_with(&ServerAddr::parse(&addr).unwrap(), opts).await;
    let took = t.elapsed();
    let Err(e) = r else {
        panic!("a silent server is not a server")
    };
    assert!(
        took < Duration::from_secs(5),
        "connect gave up after {took:?}, not within its 1.5 s timeout"
    );
    let text = e.to_string();
    assert!(
        matches!(e, Error::Timeout { .. } | Error::Connect { .. }) && text.contains(&addr),
        "the error names the server: {text}"
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_each_call_by_its_deadline() {
    // A real server to connect to, then a silent one behind the same client: the proxy forwards
    // the handshake and then swallows everything.
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let up = uplink_that_goes_silent(h.address()).await;
    let opts = ConnectOptions {
        timeout: Duration::from_secs(5),
        call_timeout: Duration::from_millis(800),
        api_key: h.api_key.clone(),
        ..Default::default()
    };
    let c = MosaicoClient::connect_with(&ServerAddr::parse(&up.address()).unwrap(), opts)
        .await
        .expect("connects while the server answers");
    up.go_silent();
    let t = Instant::now();
    let e = c
        .sequence_create(
            &unique("deadline"),
            serde_json::json!({}),
            mosaico_bridge::OnError::Delete,
        )
        .await
        .expect_err("no answer is not success");
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "the call gave up after {took:?}, its deadline is 0.8 s"
    );
    match &e {
        Error::Timeout { what, .. } => {
            assert!(
                what.contains("sequence_create") && what.contains(&up.address()),
                "names the call and the server: {what}"
            )
        }
        other => panic!("a typed timeout, not {other:?}"),
    }
}

/// A proxy that forwards until `go_silent`, then reads and drops everything without replying.
struct SilentUplink {
    port: u16,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SilentUplink {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    fn go_silent(&self) {
        self.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn uplink_that_goes_silent(target: String) -> SilentUplink {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = silent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let f1 = flag.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !f1.load(Ordering::SeqCst) && sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let f2 = flag.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !f2.load(Ordering::SeqCst) && cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    SilentUplink { port, silent }
}
