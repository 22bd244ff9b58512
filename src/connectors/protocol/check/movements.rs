//! Movements: each account's two windows, each fetched twice page by page as the engine
//! would, then the rules of [`invariants`] over what came back.
//!
//! A fetch that did not come back whole (a page failed, or its cursors did not end) is still
//! judged movement by movement (amounts, dates, currency), but not as a set: duplicates,
//! order, stability and the subset rule need every page, and a cursor that loops repeats
//! pages, which would show as duplicates that are not the connector's data.

use serde_json::{json, Value};

use super::invariants;
use super::wire::Wire;
use super::{Check, Run};
use crate::connectors::{DateWindow, FetchContext};

/// The longer window, in days up to and including `today`.
pub(super) const LONG_DAYS: u32 = 90;
/// The shorter window; its movements must all be in the longer one's.
pub(super) const SHORT_DAYS: u32 = 7;
/// Most pages read for one fetch before its cursors count as never ending. Generous: a page
/// of one movement over 90 days of a busy account stays below it.
pub(super) const MAX_PAGES: usize = 1000;

/// Each window is fetched this many times, to compare bank ids between fetches.
const ROUNDS: usize = 2;

/// One fetch of one account's window, as far as it went.
struct Fetch {
    account: usize,
    window: usize,
    round: usize,
    movements: Vec<Value>,
    /// Every page answered and the last one said so.
    complete: bool,
}

/// What went wrong, by check, each line naming the account, window and fetch.
#[derive(Default)]
struct Findings {
    pages: Vec<String>,
    cursors: Vec<String>,
    amounts: Vec<String>,
    unique: Vec<String>,
    in_window: Vec<String>,
    currency: Vec<String>,
    order: Vec<String>,
    stable: Vec<String>,
    subset: Vec<String>,
}

/// Fetches and judges the movements of `accounts` (each as `POST /accounts` returned it, one
/// per bank id), recording every movement check in `run`.
pub(super) async fn check(
    wire: &mut Wire,
    run: &mut Run,
    institution: &str,
    session: &mut Value,
    accounts: &[Value],
    ctx: FetchContext,
) {
    let windows = [
        (
            format!("last {LONG_DAYS} days"),
            DateWindow::last_days(ctx.today, LONG_DAYS),
        ),
        (
            format!("last {SHORT_DAYS} days"),
            DateWindow::last_days(ctx.today, SHORT_DAYS),
        ),
    ];
    let mut findings = Findings::default();
    let mut fetches = Vec::new();
    for (a, account) in accounts.iter().enumerate() {
        for round in 0..ROUNDS {
            for (w, (name, dates)) in windows.iter().enumerate() {
                let place = format!("{}, {name}, fetch {}", name_of(account), round + 1);
                let request = Request {
                    institution,
                    account,
                    window: *dates,
                    ctx,
                    place: &place,
                };
                let (movements, complete) = fetch(wire, session, &request, &mut findings).await;
                fetches.push(Fetch {
                    account: a,
                    window: w,
                    round,
                    movements,
                    complete,
                });
            }
        }
    }
    judge(run, findings, &fetches, accounts, &windows);
}

fn name_of(account: &Value) -> String {
    format!(
        "account {}",
        account
            .get("bank_id")
            .and_then(Value::as_str)
            .unwrap_or("(no bank_id)")
    )
}

/// What one fetch asks for.
struct Request<'a> {
    institution: &'a str,
    account: &'a Value,
    window: DateWindow,
    ctx: FetchContext,
    /// How the report names this fetch.
    place: &'a str,
}

/// Pages through one fetch: the movements, and whether it came back whole.
async fn fetch(
    wire: &mut Wire,
    session: &mut Value,
    request: &Request<'_>,
    findings: &mut Findings,
) -> (Vec<Value>, bool) {
    let place = request.place;
    let mut movements = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    for page in 1..=MAX_PAGES {
        let body = json!({
            "institution_id": request.institution,
            "session": session,
            "account": request.account,
            "window": request.window,
            "context": request.ctx,
            "cursor": cursor,
        });
        let answer = match wire.post_json("movements", &body).await {
            Ok(answer) => answer,
            Err(e) => {
                findings.pages.push(format!("{place}, page {page}: {e}"));
                return (movements, false);
            }
        };
        findings.pages.extend(
            invariants::movements_page(&answer)
                .into_iter()
                .map(|p| format!("{place}, page {page}: {p}")),
        );
        if let Some(renewed) = answer.get("session").filter(|s| !s.is_null()) {
            *session = renewed.clone();
        }
        let Some(list) = answer.get("movements").and_then(Value::as_array) else {
            return (movements, false);
        };
        movements.extend(list.iter().cloned());
        match answer.get("next_cursor") {
            None | Some(Value::Null) => return (movements, true),
            Some(Value::String(next)) => {
                if !seen.insert(next.clone()) {
                    findings.cursors.push(format!(
                        "{place}: page {page} gave the cursor {next:?}, already given"
                    ));
                    return (movements, false);
                }
                cursor = Some(next.clone());
            }
            // Reported with the page's shape; there is no next page to ask for.
            Some(_) => return (movements, false),
        }
    }
    findings.cursors.push(format!(
        "{place}: still no last page after {MAX_PAGES} pages"
    ));
    (movements, false)
}

/// Every movement check over `fetches`, recorded in `run`.
fn judge(
    run: &mut Run,
    mut findings: Findings,
    fetches: &[Fetch],
    accounts: &[Value],
    windows: &[(String, DateWindow); 2],
) {
    let place = |f: &Fetch| {
        format!(
            "{}, {}, fetch {}",
            accounts.get(f.account).map_or_else(String::new, name_of),
            windows[f.window].0,
            f.round + 1
        )
    };
    let within = |place: &str, problems: Vec<String>| {
        problems
            .into_iter()
            .map(|p| format!("{place}: {p}"))
            .collect::<Vec<_>>()
    };
    let mut complete = 0;
    for f in fetches {
        let here = place(f);
        let currency = accounts
            .get(f.account)
            .and_then(|a| a.get("currency"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let movements = &f.movements;
        findings
            .amounts
            .extend(within(&here, invariants::non_integer_amounts(movements)));
        let dates = windows[f.window].1;
        findings
            .in_window
            .extend(within(&here, invariants::outside_window(movements, dates)));
        findings.currency.extend(within(
            &here,
            invariants::foreign_currency(movements, currency),
        ));
        if f.complete {
            complete += 1;
            findings
                .unique
                .extend(within(&here, invariants::duplicate_ids(movements)));
            findings
                .order
                .extend(within(&here, invariants::out_of_order(movements)));
        }
    }
    let whole = |account: usize, window: usize, round: usize| {
        fetches
            .iter()
            .find(|f| f.account == account && f.window == window && f.round == round)
            .filter(|f| f.complete)
    };
    let (mut stable_pairs, mut subset_pairs) = (0, 0);
    for (a, account) in accounts.iter().enumerate() {
        for (w, (name, _)) in windows.iter().enumerate() {
            if let (Some(first), Some(second)) = (whole(a, w, 0), whole(a, w, 1)) {
                stable_pairs += 1;
                let here = format!("{}, {name}", name_of(account));
                findings.stable.extend(within(
                    &here,
                    [
                        invariants::unstable_ids(&first.movements, &second.movements),
                        invariants::changed_movements(&first.movements, &second.movements),
                    ]
                    .concat(),
                ));
            }
        }
        // The first fetches: a second fetch whose ids moved is the stability rule's to report.
        if let (Some(long), Some(short)) = (whole(a, 0, 0), whole(a, 1, 0)) {
            subset_pairs += 1;
            findings.subset.extend(within(
                &name_of(account),
                invariants::not_within(&short.movements, &long.movements),
            ));
        }
    }

    run.record(Check::MovementsPages, findings.pages);
    run.record(Check::MovementsCursors, findings.cursors);
    let none_came = fetches.iter().all(|f| f.movements.is_empty());
    let nothing = format!(
        "not run: no movement came back in the last {LONG_DAYS} days; a test login with \
         movements is needed"
    );
    if none_came {
        // The accounts, pages and cursors are recorded: what is left is judged on movements.
        run.skip_unrecorded(&Check::DATA, &nothing);
        return;
    }
    run.record(Check::IntegerAmounts, findings.amounts);
    run.record(Check::InWindow, findings.in_window);
    run.record(Check::Currency, findings.currency);
    let unfinished = "not run: no fetch came back whole (see movements.pages and \
                      movements.cursors)";
    for (check, problems, judged) in [
        (Check::UniqueIds, findings.unique, complete),
        (Check::NewestFirst, findings.order, complete),
        (Check::StableIds, findings.stable, stable_pairs),
        (Check::WindowSubset, findings.subset, subset_pairs),
    ] {
        if judged == 0 {
            run.skip(check, unfinished);
        } else {
            run.record(check, problems);
        }
    }
}
