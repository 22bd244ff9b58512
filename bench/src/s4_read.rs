//! S4: reading movements. Seeds `movements` movements (2,500 per account: three a day over
//! 2.3 years, one in 50 pending) on copies of a sandbox link, then reads full pages of
//! `per_page=300` (confirmed movements, the default filter) of pseudo-random accounts and pages.
//! Each answer is checked: 200, and `X-Total-Count` equal to the account's confirmed movements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::{self, load_client, Target};
use super::load::closed_loop;
use super::{BenchArgs, ScenarioResult};
use refresco::domain::Timestamp;

const PER_PAGE: u64 = 300;

/// Runs S4.
pub async fn run(args: &BenchArgs, target: &Target) -> anyhow::Result<ScenarioResult> {
    let total = args.pick(args.movements, 5_000_000, 20_000);
    let per_account: u64 = if args.smoke { 1_000 } else { 2_500 };
    let connections = args.pick(args.connections, 8, 4);
    let duration = args.duration_or(Duration::from_secs(20), Duration::from_secs(1));
    let mut result = ScenarioResult::new("s4", "read movement pages", target.label());
    result.param("movements_per_account", per_account);
    result.param("per_page", PER_PAGE);
    result.param("connections", connections);
    result.param("duration_s", duration.as_secs_f64());

    let prepared = harness::prepare(target, args.work_dir.as_ref(), |_| {}).await?;
    let store = prepared.state.store.clone();
    result.database = store.seeding().database_version().await?;
    let template = prepared.template_link("jonsnow").await?;
    let template_accounts = store
        .seeding()
        .accounts_of(std::slice::from_ref(&template))
        .await?
        .len()
        .max(1);
    let accounts_needed = total.div_ceil(per_account);
    let links = usize::try_from(accounts_needed.div_ceil(template_accounts as u64))?;

    let seeding = Instant::now();
    store.seeding().begin().await?;
    let tokens = prepared.seed_links(&template, "jonsnow", links).await?;
    let accounts = store
        .seeding()
        .accounts_of(&harness::link_ids(&tokens))
        .await?;
    let today = Timestamp::start_of(chrono::Utc::now().date_naive()).millis();
    store
        .seeding()
        .movements(&accounts, per_account, today)
        .await?;
    store.seeding().finish().await?;
    let seed_time = seeding.elapsed();
    let seeded = store.seeding().counts().await?.movements;
    result.param("accounts", accounts.len());
    result.figure("movements in the database", seeded as f64, "");
    result.figure("seed time", seed_time.as_secs_f64(), "s");
    result.figure(
        "seed rate",
        (accounts.len() as f64 * per_account as f64) / seed_time.as_secs_f64().max(1e-9),
        "movements/s",
    );

    // Each account: its link token; pages are full pages of confirmed movements.
    let confirmed = (0..per_account).filter(|n| n % 50 != 7).count() as u64;
    let full_pages = (confirmed / PER_PAGE).max(1);
    let mut targets = Vec::with_capacity(accounts.len());
    let per_link = accounts.len() / tokens.len().max(1);
    for (i, account) in accounts.iter().enumerate() {
        let token = &tokens[(i / per_link.max(1)).min(tokens.len() - 1)];
        targets.push((account.as_str().to_owned(), token.clone()));
    }
    let targets = Arc::new(targets);
    let server = prepared.serve();
    let client = load_client(connections)?;
    let base = server.base.clone();
    let key = server.keys.secret_key.clone();
    let verify_items = args.smoke;
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reads = {
        let (client, targets, bytes) = (client.clone(), targets.clone(), bytes.clone());
        closed_loop(connections, duration, None, move |i| {
            // A fixed pseudo-random walk over accounts and pages: the same on every run.
            let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            let (account, token) =
                &targets[usize::try_from(mixed % targets.len() as u64).unwrap_or(0)];
            let page = 1 + (mixed / 7) % full_pages;
            let request = client
                .get(format!("{base}/v1/accounts/{account}/movements"))
                .query(&[
                    ("link_token", token.as_str()),
                    ("per_page", "300"),
                    ("page", &page.to_string()),
                ])
                .header("Authorization", &key);
            let bytes = bytes.clone();
            async move { read_page(request, confirmed, verify_items, &bytes).await }
        })
        .await?
    };

    result.figure("page throughput", reads.ok_per_second(), "pages/s");
    result.figure("page p50", reads.quantile_ms(0.5), "ms");
    result.figure("page p99", reads.quantile_ms(0.99), "ms");
    result.figure("page p99.9", reads.quantile_ms(0.999), "ms");
    let megabytes = bytes.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6;
    result.figure(
        "bytes served",
        megabytes / reads.elapsed.as_secs_f64().max(1e-9),
        "MB/s",
    );
    result.check(reads.error_count() == 0, || {
        format!("read errors: {}", reads.error_summary())
    });
    result.check(reads.ok > 0, || "no page was read".into());
    result.check(seeded >= i64::try_from(total)?, || {
        format!("{seeded} movements seeded, wanted {total}")
    });
    if !args.smoke {
        let p99 = reads.quantile_ms(0.99);
        result.target("page p99", "<= 10 ms", format!("{p99:.2} ms"), p99 <= 10.0);
    }
    server.stop().await?;
    Ok(result)
}

/// Reads one page; ok when it is a 200 with the expected total (and, when `verify_items`, 300
/// movements).
async fn read_page(
    request: reqwest::RequestBuilder,
    confirmed: u64,
    verify_items: bool,
    bytes: &std::sync::atomic::AtomicU64,
) -> Result<(), String> {
    let response = request.send().await.map_err(|_| "transport".to_owned())?;
    let status = response.status().as_u16();
    let total = response
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = response.bytes().await.map_err(|_| "body".to_owned())?;
    bytes.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    if status != 200 {
        return Err(format!("status {status}"));
    }
    if total != Some(confirmed) {
        return Err(format!("X-Total-Count {total:?}, expected {confirmed}"));
    }
    if verify_items {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|_| "not a JSON array".to_owned())?;
        if items.len() as u64 != PER_PAGE {
            return Err(format!("{} movements in a page", items.len()));
        }
    }
    Ok(())
}
