//! `refresco keys …` and `refresco orgs …`: organizations and API keys, straight in the
//! database (no server needed), as an operator does them on the box.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;

use refresco::domain::{ApiKeyId, Mode, Timestamp};
use refresco::store::{ApiKeyRecord, Store};
use refresco::{tenants, Config};

use crate::DbArgs;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a secret/public key pair (and the organization, if new).
    Create {
        /// Organization name.
        #[arg(long, default_value = tenants::DEFAULT_ORGANIZATION)]
        org: String,
        /// Mode of the keys.
        #[arg(long, default_value = "test", value_parser = ["test", "live"])]
        mode: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List an organization's keys (their hints, never the keys).
    List {
        /// Organization name.
        #[arg(long, default_value = tenants::DEFAULT_ORGANIZATION)]
        org: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a key: it stops working at once (within a minute in other running processes).
    Revoke {
        /// The key's id (`key_…`, from `keys list`).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Rotate a key: print its replacement; the old key keeps working for the overlap.
    Rotate {
        /// The key's id (`key_…`, from `keys list`).
        id: String,
        /// How long the old key keeps working ("24h", "30m", "0s").
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: std::time::Duration,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum OrgsCommand {
    /// Create an organization (then `keys create --org NAME`).
    Create {
        /// Its unique name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the organizations.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

async fn open(file: Option<&Path>, db: &DbArgs) -> anyhow::Result<(Config, Store)> {
    let config = Config::load(file, db)?;
    let store = refresco::open_store(&config).await?;
    Ok((config, store))
}

fn print_key(key: &ApiKeyRecord) {
    let state = match (key.revoked_at, key.expires_at) {
        (Some(at), _) => format!("revoked {}", at.to_wire()),
        (None, Some(end)) if end.millis() <= Timestamp::now().millis() => {
            format!("expired {}", end.to_wire())
        }
        (None, Some(end)) => format!("works until {}", end.to_wire()),
        (None, None) => "active".to_owned(),
    };
    println!("{}  {}  {}  {state}", key.id, key.mode.as_str(), key.hint);
}

/// Runs a `keys` subcommand.
pub async fn keys(command: KeysCommand, file: Option<&Path>) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            org,
            mode,
            json,
            db,
        } => {
            let (config, store) = open(file, &db).await?;
            let mode = Mode::parse(&mode).context("mode must be test or live")?;
            let keys = refresco::load_master_key(&config)?;
            let pair = tenants::create_key_pair(&store, &keys, &org, mode).await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string(&pair)?);
            } else {
                println!("organization: {org} ({})", pair.organization_id);
                println!("secret key:   {}", pair.secret_key);
                println!("public key:   {}", pair.public_key);
            }
        }
        KeysCommand::List { org, db } => {
            let (_, store) = open(file, &db).await?;
            let id = store
                .organization_by_name(&org)
                .await?
                .with_context(|| format!("no organization named {org:?}"))?;
            for key in store.list_keys(&id).await? {
                print_key(&key);
            }
            store.close().await;
        }
        KeysCommand::Revoke { id, db } => {
            let (_, store) = open(file, &db).await?;
            let parsed = ApiKeyId::parse(&id).context("a key id looks like key_…")?;
            let key = store
                .revoke_key(&parsed)
                .await?
                .with_context(|| format!("no key {id}"))?;
            store.close().await;
            print_key(&key);
        }
        KeysCommand::Rotate { id, overlap, db } => {
            let (config, store) = open(file, &db).await?;
            let parsed = ApiKeyId::parse(&id).context("a key id looks like key_…")?;
            let keys = refresco::load_master_key(&config)?;
            let rotated = tenants::rotate_key(&store, &keys, &parsed, overlap).await?;
            store.close().await;
            print_key(&rotated.old);
            print_key(&rotated.new);
            println!("new key: {}", rotated.key);
        }
    }
    Ok(())
}

/// Runs an `orgs` subcommand.
pub async fn orgs(command: OrgsCommand, file: Option<&Path>) -> anyhow::Result<()> {
    match command {
        OrgsCommand::Create { name, db } => {
            let (_, store) = open(file, &db).await?;
            let org = store
                .create_organization(name.trim())
                .await?
                .with_context(|| format!("an organization named {name:?} exists"))?;
            store.close().await;
            println!("{}  {}", org.id, org.name);
        }
        OrgsCommand::List { db } => {
            let (_, store) = open(file, &db).await?;
            for org in store.list_organizations().await? {
                println!("{}  {}  {}", org.id, org.name, org.created_at.to_wire());
            }
            store.close().await;
        }
    }
    Ok(())
}
