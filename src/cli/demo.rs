//! `demo`: the recorder end to end with nothing installed. A synthetic robot (camera, LIDAR, IMU,
//! GPS, TF) publishes on an in-process ROS graph, the recorder node records it into the embedded
//! dev server (or `--server`), stops as on SIGTERM, and the sequence is read back and summarised.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use mosaico_bridge::config::RecordConfig;
use mosaico_bridge::demo::{RobotConfig, SyntheticRobot};
use mosaico_bridge::record::node::shutdown_channel;
use mosaico_bridge::record::RecorderNode;
use mosaico_bridge::server::{ServerConfig, TestServer};
use mosaico_bridge::transport::memory::MemoryBus;
use mosaico_bridge::Generation;
use serde_json::json;

use super::output::print_json;
use super::record::print_sessions;
use super::ConnArgs;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seconds to record.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Camera frame size WIDTHxHEIGHT (rgb8).
    #[arg(long, default_value = "640x480")]
    pub camera: String,
    /// Camera rate (Hz).
    #[arg(long, default_value_t = 10.0)]
    pub camera_hz: f64,
    /// IMU rate (Hz).
    #[arg(long, default_value_t = 200.0)]
    pub imu_hz: f64,
    /// Print the recorder's report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Spool directory [default: a new temporary one, removed when everything was committed].
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
}

pub async fn run(conn: &ConnArgs, a: DemoArgs) -> Result<ExitCode> {
    let (width, height) = a
        .camera
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .context("--camera must be WIDTHxHEIGHT, e.g. 640x480")?;
    if !(a.duration > 0.0 && a.duration.is_finite()) {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    let embedded = match &conn.server {
        Some(_) => None,
        None => Some(
            TestServer::start(ServerConfig {
                generation: conn.generation.unwrap_or(Generation::Current),
                api_key: conn.api_key.clone(),
                ..Default::default()
            })
            .await
            .context("cannot start the embedded dev server")?,
        ),
    };
    let server = match (&embedded, &conn.server) {
        (Some(s), _) => s.address(),
        (None, Some(s)) => s.clone(),
        (None, None) => unreachable!("one of them is set"),
    };
    eprintln!(
        "demo: recording a synthetic robot into {} for {:.1} s ...",
        if embedded.is_some() {
            format!("the embedded dev server ({server})")
        } else {
            server.clone()
        },
        a.duration
    );

    let bus = MemoryBus::new();
    let robot = SyntheticRobot::start(
        Arc::new(bus.node("", "robot")),
        RobotConfig {
            camera_hz: a.camera_hz,
            width,
            height,
            imu_hz: a.imu_hz,
            ..Default::default()
        },
    )?;
    let mut cfg = RecordConfig {
        server: server.clone(),
        robot_name: "demo_robot".into(),
        stop_timeout_s: 30.0,
        ..Default::default()
    };
    cfg.api_key = conn.api_key.clone().unwrap_or_default();
    cfg.topics.all = true;
    cfg.topics.exclude = vec!["/diagnostics".into()];
    cfg.sequence.template = "{robot}_{date}_{time}".into();
    cfg.sequence.metadata.insert("demo".into(), json!(true));
    // The demo's own spool: every message goes to disk first, then to the server.
    let spool = a.spool.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("mosaico_bridge_demo_spool_{}", std::process::id()))
    });
    cfg.spool.dir = spool.display().to_string();
    eprintln!(
        "demo: spooling to {} first (as a robot would, for crashes and outages)",
        spool.display()
    );
    let node = RecorderNode::new(cfg, Arc::new(bus.node("", "mosaico_bridge")))?;
    let (stop, shutdown) = shutdown_channel();
    let recorder = tokio::spawn(node.run(shutdown));
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(a.duration)) => {}
        _ = tokio::signal::ctrl_c() => eprintln!("demo: interrupted"),
    }
    // Stop the robot first, then the recorder, as a launch file's shutdown would.
    let published = tokio::task::spawn_blocking(move || robot.stop()).await?;
    let _ = stop.send(()).await;
    let report = recorder.await??;

    if a.json {
        print_json(&json!({"published": published.topics, "recorder": report}))?;
    } else {
        print_sessions(&report, Some(&published.topics))?;
        println!("(published counts include messages sent before the recorder subscribed)");
    }
    let clean = report.clean_shutdown && report.sessions.iter().all(|s| s.state == "finalized");
    if clean {
        // Every part was confirmed by the server: the spool kept nothing.
        let _ = std::fs::remove_dir_all(&spool);
    } else {
        eprintln!("demo: the spool {} keeps what the server did not confirm (`mosaico-bridge spool ls {}`)", spool.display(), spool.display());
    }
    if let Some(s) = embedded {
        // The embedded server holds the data in memory only: read it back before it goes.
        if let Some(seq) = report.sessions.first() {
            let out = tokio::process::Command::new(std::env::current_exe()?)
                .args(["--server", &server, "info", &seq.sequence])
                .status()
                .await;
            if out.map(|st| !st.success()).unwrap_or(true) {
                eprintln!("demo: reading the sequence back failed");
                return Ok(ExitCode::FAILURE);
            }
        }
        s.shutdown().await?;
        eprintln!("demo: done (the embedded server kept the data in memory only; record into a real server with --server HOST:PORT)");
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
