//! Command-line interface: global connection flags, one module per command family.

mod cat;
mod catalog;
mod copy;
mod demo;
mod dev_server;
mod explain;
mod export;
mod import;
mod output;
mod play;
mod record;
mod spool;
mod time;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use mosaico_bridge::control::channel::{ConnectOptions, ServerAddr, Tls};
use mosaico_bridge::{Generation, MosaicoClient};
use tracing_subscriber::EnvFilter;

pub const DEFAULT_SERVER: &str = "localhost:6726";
const DEFAULT_TIMEOUT_S: f64 = 10.0;
const DEFAULT_CALL_TIMEOUT_S: f64 = 60.0;

#[derive(Parser, Debug)]
#[command(
    name = "mosaico-bridge",
    // `play --config FILE` puts the file's flags first: later ones (the command line) win.
    args_override_self = true,
    version,
    about = "Record ROS 2 into Mosaico, and inspect, query and copy what a Mosaico server holds"
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the server; shared by every command (shown under their own heading in `--help`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Connection (every command)")]
pub struct ConnArgs {
    /// Server address: HOST[:PORT] or grpc[+tls]://HOST[:PORT] (port 6726 by default)
    /// [default: localhost:6726; `record` takes its config's].
    #[arg(long, global = true, env = "MOSAICO_SERVER")]
    pub server: Option<String>,
    /// API key sent as `mosaico-api-key-token` (current-generation servers).
    #[arg(long, global = true, env = "MOSAICO_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Verify the server's TLS certificate against this CA (PEM); implies TLS.
    #[arg(long, global = true, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// gzip-compress requests (current-generation servers only).
    #[arg(long, global = true)]
    pub gzip: bool,
    /// Seconds to wait for the server to answer when connecting [default: 10; `record` takes its
    /// config's].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Seconds each control call may take once connected (a server that never answers fails the
    /// command instead of hanging it) [default: 60; `record` takes its config's].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub call_timeout: Option<f64>,
    /// Speak this protocol generation instead of detecting it (legacy | current).
    #[arg(long, global = true, value_name = "GEN")]
    pub generation: Option<Generation>,
    /// Data-plane channels (0: one per core) [default: 0; `record` takes its config's].
    #[arg(long, global = true, value_name = "N")]
    pub data_channels: Option<usize>,
}

impl ConnArgs {
    pub fn options(&self) -> Result<ConnectOptions> {
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT_S);
        let call_timeout = self.call_timeout.unwrap_or(DEFAULT_CALL_TIMEOUT_S);
        for (flag, v) in [("--timeout", timeout), ("--call-timeout", call_timeout)] {
            // A year at most: larger values overflow time arithmetic.
            if !(v > 0.0 && v <= 3.2e7) {
                anyhow::bail!(
                    "{flag} must be a positive number of seconds (at most a year), got {v}"
                );
            }
        }
        Ok(ConnectOptions {
            timeout: Duration::from_secs_f64(timeout),
            call_timeout: Duration::from_secs_f64(call_timeout),
            api_key: self.api_key.clone(),
            tls: match &self.tls_ca {
                Some(p) => Tls::CustomCa(p.clone()),
                None => Tls::Auto,
            },
            gzip: self.gzip,
            data_channels: self.data_channels.unwrap_or(0),
            workers: 0,
            generation: self.generation,
        })
    }

    /// The server this command talks to, as the user named it.
    pub fn server_label(&self) -> &str {
        self.server.as_deref().unwrap_or(DEFAULT_SERVER)
    }

    pub async fn connect(&self) -> Result<MosaicoClient> {
        let server = self.server.as_deref().unwrap_or(DEFAULT_SERVER);
        self.connect_to(server, self.api_key.clone()).await
    }

    pub async fn connect_to(&self, server: &str, api_key: Option<String>) -> Result<MosaicoClient> {
        let addr = ServerAddr::parse(server)?;
        let opts = ConnectOptions {
            api_key,
            ..self.options()?
        };
        MosaicoClient::connect_with(&addr, opts)
            .await
            .with_context(|| format!("cannot use the Mosaico server at {addr}"))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List sequences: locked state, size, creation time, topic count.
    Ls(catalog::LsArgs),
    /// Show a sequence (metadata, topics, notifications) or one topic.
    Info(catalog::InfoArgs),
    /// Print a topic's rows as JSON lines.
    Cat(cat::CatArgs),
    /// Delete an unlocked (unfinalized) sequence.
    Rm(catalog::RmArgs),
    /// Query the catalogue by sequence metadata, topic and ontology fields.
    Query(catalog::QueryArgs),
    /// Copy a sequence, within a server or to another one.
    Cp(copy::CpArgs),
    /// Import a rosbag2 MCAP bag into a new sequence.
    Import(import::ImportArgs),
    /// Export a sequence to a rosbag2 bag (MCAP + metadata.yaml) with the recorded QoS.
    Export(export::ExportArgs),
    /// Replay a sequence into ROS 2 on its original timing (`ros2 bag play`'s options and services).
    Play(play::PlayArgs),
    /// Record ROS 2 topics into Mosaico (the recorder node), until SIGINT/SIGTERM.
    Record(record::RecordArgs),
    /// A recorder's spool: list what waits (`ls`), upload it (`upload`), remove a session (`rm`).
    Spool(spool::SpoolArgs),
    /// A synthetic robot (camera, LIDAR, IMU, GPS, TF) recorded into a local dev server, summarised.
    Demo(demo::DemoArgs),
    /// Run the in-memory test server locally (a stand-in for mosaicod, for trying things out).
    DevServer(dev_server::DevServerArgs),
}

/// `default` applies when RUST_LOG is unset.
fn init_tracing(default: &str) {
    // RustDDS logs discovery chatter at info: keep it quiet unless RUST_LOG names it.
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| default.into());
    let spec = if spec.contains("rustdds") {
        spec
    } else {
        // ros2-client warns at every request without a related sample identity, which is how
        // every rmw_cyclonedds client calls (the services read its framing: services.rs).
        format!("{spec},rustdds=error,ros2_client=warn,ros2_client::service::wrappers=error")
    };
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("warn"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(output::LogWriter)
        // Colours only on a terminal: journald and log files get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

pub fn main() -> ExitCode {
    let args = match play::expand_config(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    // The recorder is a long-running node: say what it does by default.
    init_tracing(match cli.command {
        Command::Record(_) | Command::Spool(_) => "warn,mosaico_bridge=info",
        Command::Play(_) => "warn,mosaico_bridge=info",
        _ => "warn",
    });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = cli.conn.server_label().to_string();
    let forced = cli.conn.generation;
    let result = rt.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", explain::explain(&e, &server, forced));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let conn = cli.conn;
    match cli.command {
        Command::Ls(a) => catalog::ls(&conn, a).await,
        Command::Info(a) => catalog::info(&conn, a).await,
        Command::Cat(a) => cat::run(&conn, a).await,
        Command::Rm(a) => catalog::rm(&conn, a).await,
        Command::Query(a) => catalog::query(&conn, a).await,
        Command::Cp(a) => copy::run(&conn, a).await,
        Command::Import(a) => import::run(&conn, a).await,
        Command::Export(a) => export::run(&conn, a).await,
        Command::Play(a) => play::run(&conn, a).await,
        Command::DevServer(a) => dev_server::run(&conn, a).await,
        Command::Record(a) => record::run(&conn, a).await,
        Command::Demo(a) => demo::run(&conn, a).await,
        Command::Spool(a) => spool::run(&conn, a).await,
    }
}
