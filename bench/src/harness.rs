//! Starting Refresco in this process for one scenario: a temporary data directory (SQLite, and
//! the master key either way), or a fresh database on a PostgreSQL server that is dropped when
//! the scenario ends. Seeding happens between [`Prepared`] (built, not serving) and
//! [`Prepared::serve`], so the worker and the dispatcher only start on a seeded database.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use refresco::api::AppState;
use refresco::config::Secret;
use refresco::crypto::random_token;
use refresco::domain::{LinkId, LinkToken, Mode, OrganizationId};
use refresco::engine::linking::SealedCredentials;
use refresco::store::seeding::SeedLink;
use refresco::tenants::{self, KeyPair};
use refresco::{App, Config};

/// Where a scenario's database lives.
#[derive(Clone, Debug)]
pub enum Target {
    /// A temporary SQLite data directory.
    Sqlite,
    /// A fresh database on this server (the URL names any database the user may connect to).
    Postgres {
        /// The server, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
        admin_url: String,
    },
}

impl Target {
    /// `sqlite` or `postgres`.
    pub fn label(&self) -> &'static str {
        match self {
            Target::Sqlite => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }
}

/// A database created for one scenario and dropped by [`FreshDatabase::drop_now`] (or, if the
/// scenario fails half-way, when the value is dropped).
struct FreshDatabase {
    admin_url: String,
    name: String,
    dropped: bool,
}

impl FreshDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<(Self, String)> {
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("connecting to the PostgreSQL server of --database-url")?;
        let name = format!("refresco_bench_{}", random_token(10).to_lowercase());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .context("creating the benchmark database")?;
        let mut url = url::Url::parse(admin_url).context("--database-url is not a URL")?;
        url.set_path(&format!("/{name}"));
        let database = FreshDatabase {
            admin_url: admin_url.to_owned(),
            name,
            dropped: false,
        };
        Ok((database, url.to_string()))
    }

    async fn drop_now(&mut self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        self.dropped = true;
        Ok(())
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // No async drop: a helper thread with its own runtime drops the database.
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A built application that is not serving yet, with test-mode keys of organization "bench".
pub struct Prepared {
    app: App,
    /// Shared state: store, keys, configuration.
    pub state: AppState,
    /// The organization's keys.
    pub keys: KeyPair,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    dir: tempfile::TempDir,
    database: Option<FreshDatabase>,
}

/// A serving application.
pub struct Server {
    /// The organization's keys.
    pub keys: KeyPair,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
    database: Option<FreshDatabase>,
}

/// Builds Refresco on `target` with the benchmark's base configuration, adjusted by `adjust`.
pub async fn prepare(
    target: &Target,
    work_dir: Option<&PathBuf>,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<Prepared> {
    let dir = match work_dir {
        Some(parent) => tempfile::Builder::new()
            .prefix("refresco-bench-")
            .tempdir_in(parent)?,
        None => tempfile::Builder::new()
            .prefix("refresco-bench-")
            .tempdir()?,
    };
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        migrate: true,
        // The scenarios measure the server's throughput, not the organization's rate limit.
        api_rate_limit_per_sec: 0,
        widget_rate_limit: 0,
        ..Config::default()
    };
    let database = match target {
        Target::Sqlite => None,
        Target::Postgres { admin_url } => {
            let (database, url) = FreshDatabase::create(admin_url).await?;
            config.database_url = Some(Secret::new(url));
            Some(database)
        }
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let app = refresco::build(config, listener).await?;
    let state = app.state().clone();
    let keys = tenants::create_key_pair(&state.store, &state.keys, "bench", Mode::Test).await?;
    let base = format!("http://{}", app.local_addr()?);
    Ok(Prepared {
        app,
        state,
        keys,
        base,
        dir,
        database,
    })
}

impl Prepared {
    /// The organization the keys belong to.
    pub fn organization_id(&self) -> OrganizationId {
        OrganizationId::parse(&self.keys.organization_id).expect("our own organization id")
    }

    /// Creates a sandbox link through the engine (as `POST /v1/links` does), runs its first
    /// history to the end, and returns its id: the template seeded links copy.
    pub async fn template_link(&self, password: &str) -> anyhow::Result<LinkId> {
        let principal = refresco::domain::Principal {
            organization_id: self.organization_id(),
            mode: Mode::Test,
            kind: refresco::domain::KeyKind::Secret,
        };
        let request = refresco::engine::linking::NewLinkRequest {
            institution_id: "cl_banco_sandbox".into(),
            username: "41614850-3".into(),
            password: Secret::new(password),
            holder_type: refresco::domain::HolderType::Individual,
            mfa_code: None,
        };
        let created =
            refresco::engine::linking::create_link(&self.state.linking(), &principal, request)
                .await
                .map_err(|e| anyhow::anyhow!("creating the template link: {e}"))?;
        // The movements come with the first history. This process may run no worker (role
        // api), so it runs one round itself; when a worker runs, it may have claimed the job
        // first, and the loop waits for it.
        let first_history = created
            .first_history
            .ok_or_else(|| anyhow::anyhow!("a link created without its first history"))?;
        let worker = refresco::engine::worker::Worker::new(self.state.engine.clone());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            worker.run_once().await?;
            let intent = self
                .state
                .store
                .refresh_intent_by_id(&first_history)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the template's first history vanished"))?;
            match intent.status {
                refresco::domain::IntentStatus::Created => {}
                refresco::domain::IntentStatus::Succeeded => break,
                other => anyhow::bail!("the template's first history ended {}", other.as_str()),
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the template's first history did not end"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(created.link.id)
    }

    /// Seeds `count` copies of `template` whose bank password is `password`; returns their
    /// link tokens (in seeding order).
    pub async fn seed_links(
        &self,
        template: &LinkId,
        password: &str,
        count: usize,
    ) -> anyhow::Result<Vec<String>> {
        let keys = &self.state.keys;
        let mut tokens = Vec::with_capacity(count);
        let mut links = Vec::with_capacity(count);
        for _ in 0..count {
            let id = LinkId::generate();
            let token = LinkToken::generate(&id);
            let credentials = serde_json::to_vec(&SealedCredentials {
                username: "41614850-3".into(),
                password: password.into(),
            })?;
            links.push(SeedLink {
                token_hash: keys.hash_token(token.expose()),
                sealed_credentials: keys.seal(id.as_str(), &credentials),
                id,
            });
            tokens.push(token.expose().to_owned());
        }
        self.state.store.seeding().links(template, &links).await?;
        Ok(tokens)
    }

    /// Starts serving (and, with role `all`, the worker and the dispatcher).
    pub fn serve(self) -> Server {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(self.app.run(shutdown.clone()));
        Server {
            keys: self.keys,
            base: self.base,
            shutdown,
            task: Some(task),
            _dir: self.dir,
            database: self.database,
        }
    }
}

/// Builds `POST /v1/refresh_intents` requests, the n-th on the n-th seeded link (each link is
/// used once: a link has one refresh in progress at a time).
#[derive(Clone)]
pub struct CreateRequests {
    client: reqwest::Client,
    url: String,
    key: String,
    tokens: std::sync::Arc<Vec<String>>,
    idempotency_keys: bool,
}

impl CreateRequests {
    /// How many links there are to create on.
    pub fn links(&self) -> usize {
        self.tokens.len()
    }

    /// The same requests, each with a new random `Idempotency-Key`, as the official Python
    /// and Node clients send every POST.
    pub fn with_idempotency_keys(mut self) -> Self {
        self.idempotency_keys = true;
        self
    }

    /// The create request for the n-th link (without a link token past the last one, which
    /// the server refuses).
    pub fn nth(&self, n: u64) -> reqwest::RequestBuilder {
        let token = usize::try_from(n).ok().and_then(|n| self.tokens.get(n));
        let request = self
            .client
            .post(&self.url)
            .header("Authorization", &self.key)
            .json(&json!({ "link_token": token }));
        if self.idempotency_keys {
            request.header("Idempotency-Key", random_uuid())
        } else {
            request
        }
    }
}

/// A random (version 4) UUID, as the official clients make their idempotency keys.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Server {
    /// Create requests over `tokens`, sent with `client`.
    pub fn create_requests(
        &self,
        client: &reqwest::Client,
        tokens: std::sync::Arc<Vec<String>>,
    ) -> CreateRequests {
        CreateRequests {
            client: client.clone(),
            url: format!("{}/v1/refresh_intents", self.base),
            key: self.keys.secret_key.clone(),
            tokens,
            idempotency_keys: false,
        }
    }

    /// Creates a webhook endpoint through the API; returns its id and secret.
    pub async fn create_endpoint(
        &self,
        client: &reqwest::Client,
        url: &str,
        events: &[&str],
    ) -> anyhow::Result<(String, String)> {
        let answer: Value = client
            .post(format!("{}/v1/webhook_endpoints", self.base))
            .header("Authorization", &self.keys.secret_key)
            .json(&json!({"url": url, "enabled_events": events}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |name: &str| {
            answer[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("endpoint answer without {name}: {answer}"))
        };
        Ok((field("id")?, field("secret")?))
    }

    /// Stops serving (the worker drains), closes the database, drops a PostgreSQL database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.context("server task")??;
        }
        if let Some(database) = &mut self.database {
            database.drop_now().await?;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The ids of the links the seeded `tokens` open.
pub fn link_ids(tokens: &[String]) -> Vec<LinkId> {
    tokens
        .iter()
        .filter_map(|t| LinkToken::parse(t).map(|t| t.link_id().clone()))
        .collect()
}

/// An HTTP client for load: HTTP/1.1 to loopback, keeping up to `connections` idle
/// connections, so `connections` tasks each holding one request in flight use exactly that many.
pub fn load_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
