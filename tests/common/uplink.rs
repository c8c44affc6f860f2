//! An uplink that can be cut: a TCP proxy on 127.0.0.1 in front of a server. `cut()` resets every
//! connection and refuses new ones (as a lost network does) while the server behind keeps its data;
//! `restore()` accepts again on the same port.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Uplink {
    pub port: u16,
    up: watch::Sender<bool>,
    generation: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Uplink {
    /// A proxy to `target` (`127.0.0.1:PORT`) on a free loopback port.
    pub async fn start(target: String) -> Uplink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, up_rx) = watch::channel(true);
        let generation = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        tokio::spawn(accept_loop(
            Some(listener),
            port,
            target,
            up_rx,
            generation.clone(),
            stop.clone(),
        ));
        Uplink {
            port,
            up,
            generation,
            stop,
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every connection is reset and the port refuses new ones.
    pub fn cut(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let _ = self.up.send(false);
    }

    pub fn restore(&self) {
        let _ = self.up.send(true);
    }
}

impl Drop for Uplink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        let _ = self.up.send(false);
    }
}

async fn accept_loop(
    mut listener: Option<TcpListener>,
    port: u16,
    target: String,
    mut up: watch::Receiver<bool>,
    generation: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if !*up.borrow() {
            // Closing the listener makes connects fail at once, like an unreachable host.
            listener = None;
            if up.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => {
                // The port was ours a moment ago: take it back.
                let mut tries = 0;
                loop {
                    match TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => break listener = Some(l),
                        Err(_) if tries < 100 => {
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        }
                        Err(e) => panic!("uplink cannot rebind {port}: {e}"),
                    }
                }
                listener.as_ref().unwrap()
            }
        };
        tokio::select! {
            a = l.accept() => {
                let Ok((client, _)) = a else { continue };
                let target = target.clone();
                let my_gen = generation.load(Ordering::SeqCst);
                let generation = generation.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else { return };
                    pipe(client, server, my_gen, generation).await;
                });
            }
            _ = up.changed() => {}
        }
    }
}

/// Copies both ways until either side closes or the uplink is cut (then both are reset).
async fn pipe(client: TcpStream, server: TcpStream, my_gen: u64, generation: Arc<AtomicU64>) {
    let cut = async {
        while generation.load(Ordering::SeqCst) == my_gen {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::io::copy(&mut cr, &mut sw);
    let down = tokio::io::copy(&mut sr, &mut cw);
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = cut => {
            // Reset rather than close: the peer sees the connection die, not end.
            let c = cw.reunite(cr).ok();
            let s = sw.reunite(sr).ok();
            for s in [c, s].into_iter().flatten() {
                // A zero linger sends a reset at once; it does not block.
                #[allow(deprecated)]
                let _ = s.set_linger(Some(std::time::Duration::ZERO));
                drop(s);
            }
        }
    }
}
