//! Generated rows: statements whose parameters are rows of values (`INSERT … VALUES {rows}`,
//! `UPDATE … FROM (VALUES {rows})`), written in chunks that both engines accept, and the
//! placeholders each engine is given for them.

use super::rows::AnyQuery;
use super::Dialect;

/// Rows per multi-row statement (`INSERT … VALUES`, `UPDATE … FROM (VALUES …)`): with up to
/// 17 parameters a row, a statement stays far below both engines' limits (SQLite 32,766,
/// PostgreSQL 65,535).
pub(super) const ROWS_PER_INSERT: usize = 256;

/// Runs `statement` once per [`ROWS_PER_INSERT`] rows, with `{rows}` in it standing for
/// that many tuples of `width` parameters, which `bind` fills one row at a time.
pub(super) async fn insert_rows<T>(
    conn: &mut sqlx::AnyConnection,
    statement: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> anyhow::Result<()> {
    write_rows(conn, statement, width, rows, bind).await?;
    Ok(())
}

/// One multi-row statement and its rows, as [`insert_rows`] takes them.
pub(super) struct RowWrite<'r, T, F> {
    statement: &'r str,
    width: usize,
    rows: &'r [T],
    bind: F,
}

impl<'r, T, F> RowWrite<'r, T, F>
where
    F: for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
{
    /// `statement` with `{rows}` standing for `rows`, each `width` parameters that `bind`
    /// fills. (Made here, not as a literal, so that `bind` is a closure for every lifetime.)
    pub(super) fn new(statement: &'r str, width: usize, rows: &'r [T], bind: F) -> Self {
        Self {
            statement,
            width,
            rows,
            bind,
        }
    }

    /// Runs the statement alone, as [`insert_rows`].
    async fn insert(self, conn: &mut sqlx::AnyConnection) -> anyhow::Result<()> {
        insert_rows(conn, self.statement, self.width, self.rows, self.bind).await
    }

    /// The statement for all its rows at once, in `style`.
    fn sql(&self, style: ParamStyle) -> String {
        filled(self.statement, style, self.rows.len(), self.width)
    }
}

/// `statement` with its `{rows}` replaced by `rows` tuples of `width` parameters in `style`.
pub(super) fn filled(statement: &str, style: ParamStyle, rows: usize, width: usize) -> String {
    statement.replace("{rows}", &style.rows(rows, width))
}

/// Runs two multi-row statements, the first first. On SQLite, when each fits in one
/// statement, they run as one script: one round trip to the writer thread instead of two
/// (each round trip wakes that thread and then the caller's task; see BENCHMARKS.md, S2).
/// Their parameters are anonymous there, so the second's are bound after the first's.
/// Otherwise one after the other, as [`insert_rows`].
pub(super) async fn insert_rows_together<A, B, FA, FB>(
    conn: &mut sqlx::AnyConnection,
    first: RowWrite<'_, A, FA>,
    second: RowWrite<'_, B, FB>,
) -> anyhow::Result<()>
where
    FA: for<'q> Fn(AnyQuery<'q>, &'q A) -> AnyQuery<'q>,
    FB: for<'q> Fn(AnyQuery<'q>, &'q B) -> AnyQuery<'q>,
{
    let one_statement = |rows: usize| (1..=ROWS_PER_INSERT).contains(&rows);
    let style = ParamStyle::of(conn);
    if style != ParamStyle::Anonymous
        || !one_statement(first.rows.len())
        || !one_statement(second.rows.len())
    {
        first.insert(conn).await?;
        return second.insert(conn).await;
    }
    let script = format!("{}; {}", first.sql(style), second.sql(style));
    let mut query = sqlx::query(&script);
    for row in first.rows {
        query = (first.bind)(query, row);
    }
    for row in second.rows {
        query = (second.bind)(query, row);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// [`insert_rows`] for statements that return rows (`INSERT … RETURNING`, `UPDATE … FROM
/// (VALUES {rows}) … RETURNING`): every row they return, chunk after chunk.
pub(super) async fn write_rows<T>(
    conn: &mut sqlx::AnyConnection,
    statement: &str,
    width: usize,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> anyhow::Result<Vec<sqlx::any::AnyRow>> {
    let style = ParamStyle::of(conn);
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = filled(statement, style, chunk.len(), width);
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = bind(query, row);
        }
        returned.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(returned)
}

/// How a statement whose only parameters are generated rows writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParamStyle {
    /// `$1, $2, …`: PostgreSQL's only syntax.
    Numbered,
    /// `?, ?, …`, bound in order: on SQLite. For every numbered parameter it binds, sqlx asks
    /// SQLite for the parameter's name, which SQLite finds by walking the statement's list
    /// of names, so binding `n` numbered parameters takes `n²/2` steps: the 1,250 of one
    /// refresh's 50 movements took ~1.5 ms of the one writer, a fifth of S2's CPU. Anonymous
    /// parameters have no names to walk.
    Anonymous,
}

impl ParamStyle {
    /// The style for `conn`'s engine.
    pub(super) fn of(conn: &sqlx::AnyConnection) -> Self {
        match Dialect::of(conn) {
            Dialect::Sqlite => ParamStyle::Anonymous,
            Dialect::Postgres => ParamStyle::Numbered,
        }
    }

    /// `(…), (…)`: `rows` tuples of `width` parameters, the statement's only parameters.
    pub(super) fn rows(self, rows: usize, width: usize) -> String {
        match self {
            ParamStyle::Numbered => placeholders(rows, width, 0),
            ParamStyle::Anonymous => {
                let row = format!("({})", vec!["?"; width].join(", "));
                vec![row; rows].join(", ")
            }
        }
    }
}

/// `($a, $b, $c), (…)`: `rows` tuples of `width` numbered parameters, numbered after the
/// statement's `fixed` leading parameters.
pub(super) fn placeholders(rows: usize, width: usize, fixed: usize) -> String {
    let mut out = String::with_capacity(rows * width * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..width {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(fixed + 1 + row * width + col).to_string());
        }
        out.push(')');
    }
    out
}

/// `sql` with each numbered parameter `$n` made anonymous (`?`), and the `n` of each, in
/// order: binding the values in that order binds the same statement (on SQLite, whose
/// driver takes anonymous parameters in order across the statements of a script).
pub(super) fn anonymous(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - at - 1);
        match rest[at + 1..at + 1 + digits].parse() {
            Ok(n) => {
                out.push('?');
                order.push(n);
            }
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    (out, order)
}

/// `$first, $first+1, …`: `count` numbered parameters for an `IN (…)` list.
pub(super) fn id_list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_after_the_fixed_parameters() {
        assert_eq!(super::placeholders(2, 2, 1), "($2, $3), ($4, $5)");
        assert_eq!(super::placeholders(1, 3, 0), "($1, $2, $3)");
        assert_eq!(super::ParamStyle::Numbered.rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(super::ParamStyle::Anonymous.rows(2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn numbered_parameters_become_anonymous_in_the_order_they_appear() {
        let (sql, order) = super::anonymous("SET a = $10, b = $2 WHERE c = $1 OR d = $10; $x");
        assert_eq!(sql, "SET a = ?, b = ? WHERE c = ? OR d = ?; $x");
        assert_eq!(order, [10, 2, 1, 10]);
    }

    /// Two multi-row statements run together put each row's values in its own table and
    /// columns: as one SQLite script (the second's parameters bound after the first's), and one
    /// after the other when a statement would need more than one chunk of rows.
    #[tokio::test]
    async fn rows_written_together_land_in_their_own_statements() {
        use super::{insert_rows_together, RowWrite, ROWS_PER_INSERT};
        let (_dir, store) = super::super::sqlite::temp_store().await;
        let mut conn = store.write.acquire().await.unwrap();
        sqlx::query("CREATE TABLE pairs (a TEXT, b INTEGER); CREATE TABLE singles (c TEXT)")
            .execute(&mut *conn)
            .await
            .unwrap();
        for (pairs, singles) in [(2, 3), (1, ROWS_PER_INSERT + 1)] {
            sqlx::query("DELETE FROM pairs; DELETE FROM singles")
                .execute(&mut *conn)
                .await
                .unwrap();
            let pair_rows: Vec<(String, i64)> = (0..pairs).map(|i| (format!("p{i}"), i)).collect();
            let single_rows: Vec<String> = (0..singles).map(|i| format!("s{i}")).collect();
            let first = RowWrite::new("INSERT INTO pairs VALUES {rows}", 2, &pair_rows, |q, r| {
                q.bind(r.0.as_str()).bind(r.1)
            });
            let second = RowWrite::new(
                "INSERT INTO singles VALUES {rows}",
                1,
                &single_rows,
                |q, r| q.bind(r.as_str()),
            );
            insert_rows_together(&mut conn, first, second)
                .await
                .unwrap();
            let stored_pairs: Vec<(String, i64)> =
                sqlx::query_as("SELECT a, b FROM pairs ORDER BY b")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(stored_pairs, pair_rows);
            let stored_singles: Vec<String> =
                sqlx::query_scalar("SELECT c FROM singles ORDER BY rowid")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(stored_singles, single_rows);
        }
    }
}
