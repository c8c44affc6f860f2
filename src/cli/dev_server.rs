//! `dev-server`: the project's in-memory test server on a local port, for trying the CLI and the
//! recorder without PostgreSQL. A stand-in for tests and demos: nothing survives a restart.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use mosaico_bridge::server::{serve, ServerConfig};
use mosaico_bridge::Generation;
use tracing::info;

use super::ConnArgs;

#[derive(Args, Debug)]
pub struct DevServerArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:6726")]
    pub listen: SocketAddr,
}

/// `--generation` picks the protocol to speak (default current); `--api-key` makes it required.
pub async fn run(conn: &ConnArgs, args: DevServerArgs) -> Result<ExitCode> {
    let generation = conn.generation.unwrap_or(Generation::Current);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        generation,
        api_key: conn.api_key.clone(),
        ..Default::default()
    };
    info!(%addr, generation = %generation, "dev server listening (in memory; data is lost on exit)");
    eprintln!(
        "mosaico dev server on grpc://{addr} ({} protocol, in memory). Ctrl-C to stop.",
        generation
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(listener, config, shutdown)
        .await
        .context("dev server failed")?;
    Ok(ExitCode::SUCCESS)
}
