//! The `refresco` command line: a thin layer over the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use refresco::config::{LogFormat, Role, Secret};
use refresco::domain::{HolderType, KeyKind, Mode, Principal};
use refresco::engine::linking::{self, Linker, NewLinkRequest};
use refresco::{tenants, Config};
use tenants_cli::{KeysCommand, OrgsCommand};

mod tenants_cli;

/// The process's allocator. Memory here moves between threads all the time (sqlx runs each
/// SQLite connection on its own thread and hands rows to the runtime's workers); glibc's
/// malloc then contends on its arena locks, which profiles of the read benchmark showed.
/// mimalloc's thread-local heaps free such memory without a shared lock. Its `override`
/// feature routes C's malloc/free to it as well: the bundled SQLite copies every value of every
/// row it hands to sqlx with malloc, and the runtime's threads free them (S4: +16%, same-run
/// A/B in BENCHMARKS.md). Its `no_thp` feature stops mimalloc from asking the kernel for
/// transparent huge pages on its arenas (`madvise`); with them, each 2 MiB an arena touched
/// became resident at once (S3, 10,000 refreshes in flight: 350 MB peak RSS with them, 295
/// without; an idle server: 36 MB, 17 without).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Refresco: self-hosted, Fintoc-compatible on-demand refreshes of bank data.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Optional TOML configuration file (layered under REFRESCO_* variables and flags).
    #[arg(long, global = true, env = "REFRESCO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Database selection, shared by every command that touches the database.
#[derive(Args, Serialize, Default)]
pub struct DbArgs {
    /// Data directory of the embedded SQLite database and the master key.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite database.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API and background work).
    Serve(ServeArgs),
    /// Apply database migrations (needed on PostgreSQL; SQLite migrates on start).
    Migrate(DbArgs),
    /// Manage API keys: create, list, revoke, rotate.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage links.
    #[command(subcommand)]
    Links(LinksCommand),
    /// Print the events of a running server as they happen, and forward them signed to a URL.
    Listen {
        /// Forward each event here (POST, signed with the secret printed at start).
        #[arg(long)]
        forward_to: Option<String>,
        /// Only these event types (comma-separated).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Bank connectors over the connector protocol (`docs/connectors.md`).
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Fire a test event on a running server.
    Trigger {
        /// The event type, e.g. account.refresh_intent.succeeded.
        event_type: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum ConnectorCommand {
    /// Serve the two sandbox banks over the connector protocol.
    ServeSandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        /// The bearer token callers must present.
        #[arg(long, env = "REFRESCO_CONNECTOR_TOKEN", hide_env_values = true)]
        token: String,
        /// Most movements in one page.
        #[arg(long, default_value_t = refresco::connectors::protocol::server::DEFAULT_PAGE_SIZE)]
        page_size: usize,
        /// Extra latency added to every bank call, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Stop serving once standard input reaches its end (or cannot be read). A parent that
        /// keeps the other end of a pipe open then stops this process just by exiting, even
        /// when it is killed: test suites use it so no connector outlives them.
        #[arg(long)]
        exit_with_stdin: bool,
    },
    /// Check that a connector service follows the protocol (exits non-zero if not).
    Check(refresco::connectors::protocol::check::CheckArgs),
    /// Print the protocol as an OpenAPI document.
    Openapi,
}

/// How `listen` and `trigger` reach a running server.
#[derive(Args)]
struct ApiArgs {
    /// The server's base URL.
    #[arg(long, env = "REFRESCO_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A test-mode secret key.
    #[arg(long, env = "REFRESCO_API_KEY", hide_env_values = true)]
    api_key: String,
}

impl ApiArgs {
    fn target(self) -> refresco::devtools::ApiTarget {
        refresco::devtools::ApiTarget {
            base_url: self.url,
            api_key: self.api_key,
        }
    }
}

#[derive(Args, Serialize)]
struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<String>,
    /// Apply pending PostgreSQL migrations before serving.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    migrate: bool,
    /// Which parts to run.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    /// Log format.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    /// An out-of-process connector's URL (repeatable; called with REFRESCO_CONNECTOR_TOKEN).
    #[arg(long = "connector", value_name = "URL")]
    #[serde(rename = "connector_urls", skip_serializing_if = "Vec::is_empty")]
    connectors: Vec<String>,
    #[command(flatten)]
    #[serde(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum LinksCommand {
    /// Connect a sandbox bank directly in the database (test mode) and print the link token.
    Create {
        /// Institution id, e.g. cl_banco_sandbox.
        #[arg(long)]
        institution: String,
        /// Bank username.
        #[arg(long)]
        username: String,
        /// Bank password.
        #[arg(long, env = "REFRESCO_BANK_PASSWORD", hide_env_values = true)]
        password: String,
        /// individual or business.
        #[arg(long, default_value = "individual", value_parser = ["individual", "business"])]
        holder_type: String,
        /// Second factor, for banks that ask for one at login.
        #[arg(long)]
        mfa_code: Option<String>,
        /// Organization name.
        #[arg(long, default_value = tenants::DEFAULT_ORGANIZATION)]
        org: String,
        /// Print the link as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => serve(Config::load(file, &args)?).await,
        Command::Migrate(db) => {
            #[derive(Serialize)]
            struct Overrides<'a> {
                #[serde(flatten)]
                db: &'a DbArgs,
                migrate: bool,
            }
            let config = Config::load(
                file,
                &Overrides {
                    db: &db,
                    migrate: true,
                },
            )?;
            refresco::open_store(&config).await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys(command) => tenants_cli::keys(command, file).await,
        Command::Orgs(command) => tenants_cli::orgs(command, file).await,
        Command::Listen {
            forward_to,
            events,
            api,
        } => listen(forward_to, events, api).await,
        Command::Connector(ConnectorCommand::ServeSandbox {
            listen,
            token,
            page_size,
            latency_ms,
            exit_with_stdin,
        }) => {
            refresco::telemetry::init(LogFormat::Text);
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let registry =
                refresco::connectors::Registry::sandbox(refresco::connectors::SandboxConfig {
                    latency: std::time::Duration::from_millis(latency_ms),
                });
            let stop = CancellationToken::new();
            cancel_on_signal(stop.clone())?;
            println!(
                "serving the sandbox banks on http://{}",
                listener.local_addr()?
            );
            if exit_with_stdin {
                // A thread of its own: a blocking read on the runtime's pool would hold up the
                // runtime's shutdown when a signal stops the server first.
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                    stop.cancel();
                });
            }
            refresco::connectors::protocol::server::serve(
                listener,
                registry,
                Secret::new(token),
                page_size,
                stop,
            )
            .await?;
            Ok(())
        }
        Command::Connector(ConnectorCommand::Openapi) => {
            let doc = refresco::connectors::protocol::openapi::document();
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Connector(ConnectorCommand::Check(args)) => {
            let report = refresco::connectors::protocol::check::run(&args).await;
            print!("{report}");
            anyhow::ensure!(
                report.passed(),
                "the connector does not follow the protocol"
            );
            Ok(())
        }
        Command::Trigger { event_type, api } => {
            let event = refresco::devtools::trigger(&api.target(), &event_type).await?;
            println!("{}", serde_json::to_string_pretty(&event)?);
            Ok(())
        }
        Command::Links(LinksCommand::Create {
            institution,
            username,
            password,
            holder_type,
            mfa_code,
            org,
            json,
            db,
        }) => {
            let config = Config::load(file, &db)?;
            let store = refresco::open_store(&config).await?;
            let keys = refresco::load_master_key(&config)?;
            let organization_id = store.organization_by_name(&org).await?.with_context(|| {
                format!("no organization named {org:?} (see `refresco keys create`)")
            })?;
            let (registry, _) = refresco::load_connectors(&config).await?;
            let linker = Linker {
                store: &store,
                keys: &keys,
                registry: &registry,
                config: &config,
            };
            let principal = Principal {
                organization_id,
                mode: Mode::Test,
                kind: KeyKind::Secret,
            };
            let request = NewLinkRequest {
                institution_id: institution,
                username,
                password: Secret::new(password),
                holder_type: HolderType::parse(&holder_type).context("bad holder type")?,
                mfa_code,
            };
            let created = linking::create_link(&linker, &principal, request)
                .await
                .map_err(|e| anyhow::anyhow!("{}", refresco::error::ApiError::from(e)))?;
            store.close().await;
            if json {
                let out = refresco::api::wire::LinkOut::new(
                    &created.link,
                    Some(&created.accounts),
                    Some(&created.token),
                );
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("link:       {}", created.link.id);
                println!("link token: {}", created.token.expose());
                println!("accounts:   {}", created.accounts.len());
            }
            Ok(())
        }
    }
}

async fn listen(
    forward_to: Option<String>,
    events: Vec<String>,
    api: ApiArgs,
) -> anyhow::Result<()> {
    let mut types = Vec::new();
    for name in events.iter().filter(|e| !e.is_empty()) {
        types.push(
            refresco::domain::EventType::parse(name)
                .with_context(|| format!("unknown event type {name:?}"))?,
        );
    }
    let options = refresco::devtools::ListenOptions::new(forward_to, types);
    let stop = CancellationToken::new();
    cancel_on_signal(stop.clone())?;
    println!("Ready. Forwarded events are signed with {}", options.secret);
    refresco::devtools::listen(&api.target(), &options, stop).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let exporting = refresco::telemetry::init_server(&config);
    let served = serve_until_stopped(config).await;
    // The spans of the last moments (the drain included) are sent before the process ends.
    if let Some(exporting) = exporting {
        exporting.shutdown().await;
    }
    served
}

async fn serve_until_stopped(config: Config) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), role = ?config.role, "starting");
    // The whole configuration (secrets redacted) only when asked for: `RUST_LOG=debug`.
    tracing::debug!(?config, "configuration");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let app = refresco::build(config, listener).await?;
    if let Some(pair) =
        tenants::ensure_default_organization(&app.state().store, &app.state().keys).await?
    {
        let addr = app.local_addr()?;
        println!();
        println!("  Created the default organization with test-mode keys (shown only now):");
        println!("    secret key: {}", pair.secret_key);
        println!("    public key: {}", pair.public_key);
        println!();
        println!(
            "  Try:  curl -H 'Authorization: {}' http://{addr}/v1/links",
            pair.secret_key
        );
        println!();
    }
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone())?;
    app.run(shutdown).await
}

/// Cancels `shutdown` on SIGINT or SIGTERM. The handlers are installed before this returns,
/// so a signal sent as soon as the server says it is serving (a supervisor stopping it at once)
/// shuts it down cleanly instead of meeting the default action, which kills the process.
fn cancel_on_signal(shutdown: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut interrupt =
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutdown requested");
            shutdown.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutdown requested");
            shutdown.cancel();
        }
    });
    Ok(())
}
