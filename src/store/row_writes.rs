//! Generated rows: statements whose parameters are rows of values (`INSERT … VALUES (…), (…)`,
//! `UPDATE … FROM (VALUES (…), (…))`), built with sqlx's `QueryBuilder::push_values` and
//! written in chunks that both engines accept, and the placeholders each engine is given.

use std::borrow::Cow;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Execute, QueryBuilder};

use super::Dialect;

/// Rows per multi-row statement (`INSERT … VALUES`, `UPDATE … FROM (VALUES …)`): with up to
/// 17 parameters a row, a statement stays far below both engines' limits (SQLite 32,766,
/// PostgreSQL 65,535).
pub(super) const ROWS_PER_INSERT: usize = 256;

/// One row (tuple) of a statement's `VALUES` list, as `QueryBuilder::push_values` hands it
/// out: each `push_bind` adds a parameter to the row, so a row is as wide as the values pushed
/// into it.
pub(super) type Tuple<'b, 'q> = sqlx::query_builder::Separated<'b, 'q, Any, &'static str>;

/// A statement around one list of generated rows: `head VALUES (…), (…) tail`.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowsStatement {
    head: &'static str,
    tail: &'static str,
}

impl RowsStatement {
    /// `head`, the rows, then `tail` (for rows that are a subquery: `… FROM (` and `) AS v …`).
    pub(super) const fn new(head: &'static str, tail: &'static str) -> Self {
        Self { head, tail }
    }

    /// `head` followed by the rows (an `INSERT`).
    pub(super) const fn insert(head: &'static str) -> Self {
        Self::new(head, "")
    }

    /// Appends the statement with `rows` to `builder`, each row's values pushed by `push`.
    fn push_to<'q, T>(
        self,
        builder: &mut QueryBuilder<'q, Any>,
        rows: &'q [T],
        push: &impl Fn(&mut Tuple<'_, 'q>, &'q T),
    ) {
        // PostgreSQL's placeholders are numbered by finding every `?` (see `ParamStyle`).
        debug_assert!(!self.head.contains('?') && !self.tail.contains('?'));
        builder.push(self.head).push(' ');
        builder.push_values(rows, |mut row, value| push(&mut row, value));
        builder.push(' ').push(self.tail);
    }
}

/// Runs `statement` once per [`ROWS_PER_INSERT`] rows, each row's values pushed by `push`.
pub(super) async fn insert_rows<'r, T>(
    conn: &mut AnyConnection,
    statement: RowsStatement,
    rows: &'r [T],
    push: impl Fn(&mut Tuple<'_, 'r>, &'r T),
) -> anyhow::Result<()> {
    write_rows(conn, statement, rows, push).await?;
    Ok(())
}

/// One multi-row statement and its rows, as [`insert_rows`] takes them.
pub(super) struct RowWrite<'r, T, F> {
    statement: RowsStatement,
    rows: &'r [T],
    push: F,
}

impl<'r, T, F> RowWrite<'r, T, F>
where
    F: Fn(&mut Tuple<'_, 'r>, &'r T),
{
    /// `statement` with `rows`, each row's values pushed by `push`. (Made here, not as a
    /// literal, so that `push` is a closure for every borrow of the row.)
    pub(super) fn new(statement: RowsStatement, rows: &'r [T], push: F) -> Self {
        Self {
            statement,
            rows,
            push,
        }
    }

    /// How many rows it writes.
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Runs the statement alone, as [`insert_rows`].
    async fn insert(self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        insert_rows(conn, self.statement, self.rows, self.push).await
    }

    /// Runs the statement alone, as [`write_rows`].
    pub(super) async fn fetch_all(self, conn: &mut AnyConnection) -> anyhow::Result<Vec<AnyRow>> {
        write_rows(conn, self.statement, self.rows, self.push).await
    }

    /// Appends the statement with all its rows to `builder`.
    fn push_to(&self, builder: &mut QueryBuilder<'r, Any>) {
        self.statement.push_to(builder, self.rows, &self.push);
    }

    /// Appends the statement with all its rows to the SQLite `script`, followed by `; `; nothing
    /// when there are no rows.
    pub(super) fn push_to_script(&self, script: &mut QueryBuilder<'r, Any>) {
        if !self.rows.is_empty() {
            self.push_to(script);
            script.push("; ");
        }
    }
}

/// Runs two multi-row statements, the first first. On SQLite, when each fits in one
/// statement, they run as one script: one round trip to the writer thread instead of two
/// (each round trip wakes that thread and then the caller's task; see BENCHMARKS.md, S2).
/// Their parameters are anonymous there, so the second's are bound after the first's.
/// Otherwise one after the other, as [`insert_rows`].
pub(super) async fn insert_rows_together<'r, A, B, FA, FB>(
    conn: &mut AnyConnection,
    first: RowWrite<'r, A, FA>,
    second: RowWrite<'r, B, FB>,
) -> anyhow::Result<()>
where
    FA: Fn(&mut Tuple<'_, 'r>, &'r A),
    FB: Fn(&mut Tuple<'_, 'r>, &'r B),
{
    let one_statement = |rows: usize| (1..=ROWS_PER_INSERT).contains(&rows);
    if ParamStyle::of(conn) != ParamStyle::Anonymous
        || !one_statement(first.rows.len())
        || !one_statement(second.rows.len())
    {
        first.insert(conn).await?;
        return second.insert(conn).await;
    }
    let mut script = QueryBuilder::new("");
    first.push_to(&mut script);
    script.push("; ");
    second.push_to(&mut script);
    script.build().execute(&mut *conn).await?;
    Ok(())
}

/// [`insert_rows`] for statements that return rows (`INSERT … RETURNING`, `UPDATE … FROM
/// (VALUES …) … RETURNING`): every row they return, chunk after chunk.
pub(super) async fn write_rows<'r, T>(
    conn: &mut AnyConnection,
    statement: RowsStatement,
    rows: &'r [T],
    push: impl Fn(&mut Tuple<'_, 'r>, &'r T),
) -> anyhow::Result<Vec<AnyRow>> {
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut builder = QueryBuilder::new("");
        statement.push_to(&mut builder, chunk, &push);
        returned.extend(fetch_all(conn, &mut builder).await?);
    }
    Ok(returned)
}

/// Runs the statement `builder` holds, in the parameter style of `conn`'s engine (see
/// [`ParamStyle::written`]), and returns every row it answers.
async fn fetch_all(
    conn: &mut AnyConnection,
    builder: &mut QueryBuilder<'_, Any>,
) -> sqlx::Result<Vec<AnyRow>> {
    let style = ParamStyle::of(conn);
    let Cow::Owned(sql) = style.written(builder.sql()) else {
        return builder.build().fetch_all(&mut *conn).await;
    };
    let arguments = builder
        .build()
        .take_arguments()
        .map_err(sqlx::Error::Encode)?;
    sqlx::query_with(&sql, arguments.unwrap_or_default())
        .fetch_all(&mut *conn)
        .await
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
    pub(super) fn of(conn: &AnyConnection) -> Self {
        match Dialect::of(conn) {
            Dialect::Sqlite => ParamStyle::Anonymous,
            Dialect::Postgres => ParamStyle::Numbered,
        }
    }

    /// `sql`, built by a `QueryBuilder<Any>`, in this style. sqlx's `QueryBuilder` writes the
    /// `Any` driver's placeholder, `?`, whatever the engine behind the connection (sqlx issue
    /// #3000), and the driver passes the text on as it is: SQLite takes it, and for PostgreSQL
    /// the `?`s are numbered in order, which binds the same arguments. The only `?`s are the
    /// builder's: the statements' own text has none (checked where it is pushed).
    pub(super) fn written(self, sql: &str) -> Cow<'_, str> {
        match self {
            ParamStyle::Anonymous => Cow::Borrowed(sql),
            ParamStyle::Numbered => Cow::Owned(numbered(sql)),
        }
    }
}

/// `sql` with each `?` written `$1, $2, …` in order.
fn numbered(sql: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(sql.len() + sql.len() / 2);
    let mut pieces = sql.split('?');
    out.push_str(pieces.next().unwrap_or_default());
    for (n, piece) in (1..).zip(pieces) {
        let _ = write!(out, "${n}{piece}");
    }
    out
}

/// `anonymous!(SQL)`, for a constant `SQL`: its text with each numbered parameter `$n` made
/// anonymous (`?`), and the `n` of each, in order, both made at compile time. Binding the
/// values in that order binds the same statement (on SQLite, whose driver takes anonymous
/// parameters in order across the statements of a script).
macro_rules! anonymous {
    ($sql:expr) => {{
        use $crate::store::row_writes::{anonymous_len, anonymous_text, param_count, param_order};
        const SQL: &str = $sql;
        const TEXT: [u8; anonymous_len(SQL)] = anonymous_text(SQL);
        const ORDER: [usize; param_count(SQL)] = param_order(SQL);
        let text: &'static str = match ::std::str::from_utf8(&TEXT) {
            Ok(text) => text,
            Err(_) => panic!("a parameter split a character"),
        };
        let order: &'static [usize] = &ORDER;
        (text, order)
    }};
}
pub(super) use anonymous;

/// The first numbered parameter of `sql` at or after `from`: where its `$` is, where its
/// digits end, and its number.
const fn next_param(sql: &[u8], mut from: usize) -> Option<(usize, usize, usize)> {
    while from < sql.len() {
        if sql[from] == b'$' {
            let (mut end, mut n) = (from + 1, 0);
            while end < sql.len() && sql[end].is_ascii_digit() {
                n = n * 10 + (sql[end] - b'0') as usize;
                end += 1;
            }
            if end > from + 1 {
                return Some((from, end, n));
            }
        }
        from += 1;
    }
    None
}

/// How many numbered parameters `sql` has (each occurrence counts).
pub(super) const fn param_count(sql: &str) -> usize {
    let (sql, mut at, mut count) = (sql.as_bytes(), 0, 0);
    while let Some((_, end, _)) = next_param(sql, at) {
        (at, count) = (end, count + 1);
    }
    count
}

/// The number of each numbered parameter of `sql`, in order; `COUNT` is [`param_count`].
pub(super) const fn param_order<const COUNT: usize>(sql: &str) -> [usize; COUNT] {
    let (sql, mut at, mut order, mut i) = (sql.as_bytes(), 0, [0; COUNT], 0);
    while let Some((_, end, n)) = next_param(sql, at) {
        order[i] = n;
        (at, i) = (end, i + 1);
    }
    order
}

/// The length of `sql` with its numbered parameters written `?`.
pub(super) const fn anonymous_len(sql: &str) -> usize {
    let (bytes, mut at, mut len) = (sql.as_bytes(), 0, sql.len());
    while let Some((start, end, _)) = next_param(bytes, at) {
        (at, len) = (end, len - (end - start - 1));
    }
    len
}

/// `sql` with its numbered parameters written `?`; `LEN` is [`anonymous_len`].
pub(super) const fn anonymous_text<const LEN: usize>(sql: &str) -> [u8; LEN] {
    let (sql, mut out, mut read, mut written) = (sql.as_bytes(), [0; LEN], 0, 0);
    loop {
        let (copy_to, param_end) = match next_param(sql, read) {
            Some((start, end, _)) => (start, Some(end)),
            None => (sql.len(), None),
        };
        while read < copy_to {
            out[written] = sql[read];
            (read, written) = (read + 1, written + 1);
        }
        let Some(end) = param_end else { return out };
        out[written] = b'?';
        (read, written) = (end, written + 1);
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

/// `$first, $first+1, …`: `count` numbered parameters for an `IN (…)` list.
pub(super) fn id_list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use sqlx::{Any, QueryBuilder};

    use super::ParamStyle;

    /// The `VALUES` list of `rows` rows of `width` values, as `style` writes it.
    fn rows(style: ParamStyle, rows: usize, width: usize) -> String {
        let mut builder = QueryBuilder::<Any>::new("");
        builder.push_values(0..rows, |mut row, _| {
            for value in 0..width {
                row.push_bind(value as i64);
            }
        });
        let sql = style.written(builder.sql()).into_owned();
        sql.strip_prefix("VALUES ").unwrap_or(&sql).to_owned()
    }

    #[test]
    fn placeholders_number_after_the_fixed_parameters() {
        assert_eq!(super::placeholders(2, 2, 1), "($2, $3), ($4, $5)");
        assert_eq!(super::placeholders(1, 3, 0), "($1, $2, $3)");
        assert_eq!(rows(ParamStyle::Numbered, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(rows(ParamStyle::Anonymous, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn numbered_parameters_become_anonymous_in_the_order_they_appear() {
        let (sql, order) = super::anonymous!("SET a = $10, b = $2 WHERE c = $1 OR d = $10; $x");
        assert_eq!(sql, "SET a = ?, b = ? WHERE c = ? OR d = ?; $x");
        assert_eq!(order, [10, 2, 1, 10]);
    }

    /// Two multi-row statements run together put each row's values in its own table and
    /// columns: as one SQLite script (the second's parameters bound after the first's), and one
    /// after the other when a statement would need more than one chunk of rows.
    #[tokio::test]
    async fn rows_written_together_land_in_their_own_statements() {
        use super::{insert_rows_together, RowWrite, RowsStatement, ROWS_PER_INSERT};
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
            let first = RowWrite::new(
                RowsStatement::insert("INSERT INTO pairs"),
                &pair_rows,
                |row, r| {
                    row.push_bind(r.0.as_str()).push_bind(r.1);
                },
            );
            let second = RowWrite::new(
                RowsStatement::insert("INSERT INTO singles"),
                &single_rows,
                |row, r| {
                    row.push_bind(r.as_str());
                },
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
