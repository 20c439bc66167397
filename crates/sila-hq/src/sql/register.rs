//! The register's storage in shared SQL (`migrations/hq/0010_register.sql` and its PostgreSQL
//! twin): the search terms of every beneficiary, kept with the record; the register's pages,
//! searched as a branch searches (`arabic::name_tokens` to find, `arabic::search_score` to rank);
//! a person's file; complaints and suggestions with their answer's status; survey scores.

use crate::db::{Conn, Row, Val};
use crate::error::{Code, StorageError};
use crate::params;
use crate::sql::console::display_name;
use crate::store::register::*;
use crate::{HqError, Result};
use chrono::NaiveDate;
use serde_json::{Value, json};
use sila_domain::task::{AnswerStatus, Task, TaskKind};
use sila_domain::{arabic, phone};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// How many name candidates are ranked per search at most (as at a branch).
const CANDIDATES: usize = 400;
/// The largest page.
const MAX_PAGE: usize = 200;
/// Meta key: the terms of the people stored before migration hq/0010 (hq-postgres/0004) were written.
const INDEXED: &str = "register_terms";

/// The search terms of a beneficiary record: its name's tokens (as written and in four parts),
/// `m:` + its national-format mobile reversed, `f:` + its file number.
pub fn terms(data: &Value) -> BTreeSet<String> {
    let name = &data["name"];
    let mut out: BTreeSet<String> = arabic::name_tokens(&display_name(data))
        .into_iter()
        .collect();
    for part in ["first", "father", "grandfather", "family"] {
        out.extend(arabic::name_tokens(name[part].as_str().unwrap_or("")));
    }
    if let Some(m) = data["mobile"]
        .as_str()
        .and_then(|m| phone::Mobile::parse(m).ok())
    {
        out.insert(format!(
            "m:{}",
            m.national().chars().rev().collect::<String>()
        ));
    }
    if let Some(f) = data["file_number"]
        .as_str()
        .filter(|f| !f.trim().is_empty())
    {
        out.insert(format!("f:{}", f.trim().to_uppercase()));
    }
    out
}

/// Write the search terms of the beneficiary `id` (after its row was inserted or changed).
/// A person's search terms, replacing the ones they had (`new`: they had none).
pub fn index_person(c: &mut dyn Conn, id: &str, data: &Value, new: bool) -> Result<()> {
    // No statement's answer is read: they travel with the next one that waits (the person is
    // found by ID inside them instead of being asked for first).
    if !new {
        c.execute_later(
            "DELETE FROM register_terms WHERE rid = (SELECT rid FROM beneficiaries WHERE id = ?1)",
            params![id],
        )?;
    }
    let terms: Vec<String> = terms(data).into_iter().collect();
    for chunk in terms.chunks(400) {
        let mut sql = String::from(
            "INSERT INTO register_terms (term, rid) SELECT t.column1, b.rid FROM (VALUES ",
        );
        let mut args: Vec<Val> = Vec::with_capacity(chunk.len() + 1);
        args.push(id.into());
        for (i, t) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(CAST(?{} AS TEXT))", i + 2));
            args.push(t.into());
        }
        sql.push_str(") AS t, beneficiaries b WHERE b.id = ?1");
        c.execute_later(&sql, &args)?;
    }
    Ok(())
}

fn insert_terms(c: &mut dyn Conn, pairs: Vec<(String, i64)>) -> Result<()> {
    for chunk in pairs.chunks(400) {
        let mut sql = String::from("INSERT INTO register_terms (term, rid) VALUES ");
        let mut args: Vec<Val> = Vec::with_capacity(chunk.len() * 2);
        for (i, (t, rid)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2));
            args.push(t.into());
            args.push((*rid).into());
        }
        c.exec(&sql, &args)?;
    }
    Ok(())
}

/// Once per store: the terms of the people it held before the register existed (SQL alone
/// cannot compute them). Later people get theirs as they are stored.
pub fn index_existing(c: &mut dyn Conn) -> Result<()> {
    if crate::sql::meta_or_init(c, INDEXED, || "0".into())? == "1" {
        return Ok(());
    }
    let mut pairs = Vec::new();
    c.query_each(
        "SELECT rid, data FROM beneficiaries WHERE rid NOT IN (SELECT rid FROM register_terms)",
        params![],
        &mut |r| {
            let rid = r.i64(0)?;
            let data: Value = r.json(1)?;
            pairs.extend(terms(&data).into_iter().map(|t| (t, rid)));
            Ok(())
        },
    )?;
    insert_terms(c, pairs)?;
    c.exec(
        "UPDATE meta SET value = '1' WHERE key = ?1",
        params![INDEXED],
    )?;
    Ok(())
}

/// The first text after every text that starts with `prefix` (its last character moved one up),
/// so a prefix is the half-open range [prefix, end) on both engines (PostgreSQL's column is
/// `COLLATE "C"`: code point order, like SQLite's).
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut n = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&n) {
            n = 0xE000;
        }
        if let Some(next) = char::from_u32(n) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only the last code point: nothing is after it, and no term starts with it either.
    String::from(char::MAX)
}

fn row_of(id: String, branch: String, data: &Value, case_id: Option<String>) -> RegisterRow {
    let s = |k: &str| {
        data[k]
            .as_str()
            .map(str::to_owned)
            .filter(|s| !s.is_empty())
    };
    RegisterRow {
        id,
        branch,
        name: display_name(data),
        national_id: s("national_id"),
        mobile: data["mobile"]
            .as_str()
            .and_then(|m| phone::Mobile::parse(m).ok())
            .map(|m| m.national()),
        file_number: s("file_number"),
        city: s("city").unwrap_or_default(),
        birth_date: s("birth_date"),
        case_id,
    }
}

/// A ranked candidate: score, then the row.
type Hit = (f64, RegisterRow);

/// How many terms a token's range is sized up to, to choose the range a search walks.
const SIZED_UP_TO: usize = 10_000;

/// What a name search knows of one token before it reads people.
struct Sized {
    /// How many entries its prefix range holds, up to [`SIZED_UP_TO`] (not counted when the
    /// search has one token: there is no range to choose).
    size: i64,
    /// Whether any term is longer than the token with it as a prefix. If not, its prefix range
    /// is exactly its whole token's entries, which the terms' primary key holds in the order of
    /// the people's row numbers.
    longer: bool,
}

/// The texts a lookup is for, as the one row of a subquery `k` (`k.v1`, `k.v2`, … for `args` in
/// order) that the statement reads them from, so that PostgreSQL plans it once. PostgreSQL plans
/// a prepared statement for the values it is given until a plan made without them looks no
/// dearer; for a value its statistics call rare (a mobile's last digits, a case or file number,
/// a name) that never happens, and every search was planned again: 0.1–0.2 ms of planning for
/// 0.04 ms of work at 1M people (`EXPLAIN ANALYZE EXECUTE` after seven runs). The planner does
/// not look into a subquery with a `LIMIT`, so the plan it makes first has no values in it and
/// is kept. SQLite reads the row, then the same indexes as with parameters.
fn values_row(args: &[Val]) -> String {
    let cols: Vec<String> = (1..=args.len())
        .map(|i| format!("CAST(?{i} AS TEXT) AS v{i}"))
        .collect();
    format!("(SELECT {} LIMIT 1) k", cols.join(", "))
}

/// The statement that sizes `tokens` (see [`Sized`]): one row, a few index seeks.
fn size_sql(tokens: &[String], count: bool) -> (String, Vec<Val>) {
    let mut args: Vec<Val> = Vec::new();
    let mut cols = Vec::new();
    for t in tokens {
        args.push(t.into());
        args.push(prefix_end(t).into());
        let (from, to) = (args.len() - 1, args.len());
        cols.push(if count {
            format!(
                "(SELECT count(*) FROM (SELECT 1 FROM register_terms WHERE term >= ?{from} AND term < ?{to} LIMIT {SIZED_UP_TO}) s)"
            )
        } else {
            String::from("0")
        });
        cols.push(format!(
            "(SELECT count(*) FROM (SELECT 1 FROM register_terms WHERE term > ?{from} AND term < ?{to} LIMIT 1) l)"
        ));
    }
    (format!("SELECT {}", cols.join(", ")), args)
}

/// The answer of [`size_sql`] for `n` tokens.
fn sized(rows: &[Row], n: usize) -> Result<Vec<Sized>> {
    let r = rows
        .first()
        .ok_or_else(|| HqError::Storage(StorageError::new("no row")))?;
    (0..n)
        .map(|i| {
            Ok(Sized {
                size: r.i64(2 * i)?,
                longer: r.i64(2 * i + 1)? > 0,
            })
        })
        .collect()
}

/// One pass of a name search: the people whose terms hold every token, whole or (when
/// `prefix`) as a prefix, reading the people in the order of `tokens[walk]`'s range.
#[derive(Clone, Copy)]
struct NamePass<'a> {
    tokens: &'a [String],
    walk: usize,
    prefix: bool,
    branch: Option<&'a str>,
}

impl NamePass<'_> {
    /// The condition on `alias.term` that matches token `t` in this pass, its texts read from
    /// [`values_row`]'s `k`.
    fn test(&self, alias: &str, t: &str, args: &mut Vec<Val>) -> String {
        if self.prefix {
            args.push(t.into());
            args.push(prefix_end(t).into());
            format!(
                "{alias}.term >= k.v{} AND {alias}.term < k.v{}",
                args.len() - 1,
                args.len()
            )
        } else {
            args.push(t.into());
            format!("{alias}.term = k.v{}", args.len())
        }
    }

    /// The walk (see [`by_name`]): the walked token's range of the terms' primary key, each
    /// other token one seek per person walked (`per_row`, [`crate::db::Dialect::per_row`], keeps
    /// it so on PostgreSQL), the person by row number once every token matched; planned once
    /// ([`values_row`]).
    fn walk_sql(&self, per_row: &str) -> (String, Vec<Val>) {
        let mut args: Vec<Val> = Vec::new();
        let mut cond = self.test("t", &self.tokens[self.walk], &mut args);
        for (i, t) in self.tokens.iter().enumerate() {
            if i != self.walk {
                let other = self.test("o", t, &mut args);
                cond.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM register_terms o WHERE o.rid = t.rid AND {other}{per_row})"
                ));
            }
        }
        cond.push_str(" AND b.merged_into IS NULL");
        if let Some(b) = self.branch {
            args.push(b.into());
            cond.push_str(&format!(" AND b.branch = k.v{}", args.len()));
        }
        (
            format!(
                "SELECT b.id, b.branch, b.data
                 FROM {} CROSS JOIN register_terms t JOIN beneficiaries b ON b.rid = t.rid
                 WHERE {cond} LIMIT {CANDIDATES}",
                values_row(&args)
            ),
            args,
        )
    }

    /// The intersection (see [`by_name`]) of the people after row number `after`. Every token
    /// is one term here, whose entries the terms' primary key holds in the people's order, as
    /// `beneficiaries_branch_rid` holds a branch's: lists in one order. SQLite walks them as
    /// [`NamePass::walk_sql`] does (`CROSS JOIN` keeps the order written); PostgreSQL may merge
    /// them. The people are read once the page of row numbers is cut: one merged into another
    /// comes back without its record (`b.id` NULL), and is passed over.
    fn merge_sql(&self, after: i64) -> (String, Vec<Val>) {
        let mut args: Vec<Val> = vec![after.into(), self.tokens[self.walk].as_str().into()];
        let mut from = String::from("register_terms t");
        let mut cond = String::from("t.term = ?2 AND t.rid > ?1");
        for (i, t) in self.tokens.iter().enumerate() {
            if i != self.walk {
                args.push(t.into());
                from.push_str(&format!(" CROSS JOIN register_terms o{i}"));
                cond.push_str(&format!(
                    " AND o{i}.term = ?{} AND o{i}.rid = t.rid",
                    args.len()
                ));
            }
        }
        if let Some(b) = self.branch {
            args.push(b.into());
            from.push_str(" CROSS JOIN beneficiaries p");
            cond.push_str(&format!(
                " AND p.branch = ?{} AND p.rid = t.rid",
                args.len()
            ));
        }
        (
            format!(
                "SELECT m.rid, b.id, b.branch, b.data
                 FROM (SELECT t.rid AS rid FROM {from} WHERE {cond} ORDER BY t.rid LIMIT {CANDIDATES}) m
                 LEFT JOIN beneficiaries b ON b.rid = m.rid AND b.merged_into IS NULL"
            ),
            args,
        )
    }

    /// Rank a person found (once: a second pass finds the first's people again).
    fn hit(
        &self,
        id: String,
        branch: String,
        data: &Value,
        seen: &mut HashSet<String>,
        hits: &mut Vec<Hit>,
    ) {
        if seen.insert(id.clone()) {
            let key = arabic::name_key(&display_name(data));
            hits.push((
                arabic::search_score(self.tokens, &key),
                row_of(id, branch, data, None),
            ));
        }
    }

    /// The people of [`NamePass::walk_sql`]'s answer; how many the engine answered.
    fn walked(
        &self,
        rows: &[Row],
        seen: &mut HashSet<String>,
        hits: &mut Vec<Hit>,
    ) -> Result<usize> {
        for r in rows {
            self.hit(r.text(0)?, r.text(1)?, &r.json(2)?, seen, hits);
        }
        Ok(rows.len())
    }
}

/// People whose terms hold every token of `pass`, until [`CANDIDATES`] are found; returns how
/// many were found (at most [`CANDIDATES`]). Both ways read the people in the order of the
/// walked token's range and stop at the candidates: an intersection of the whole ranges read
/// every range whole (at 1M people, a common first name, father's name and family name are
/// 400,000 entries, where a search stops after about 50,000 of them).
/// - The walk ([`NamePass::walk_sql`]): the range of the smallest token in the terms' primary
///   key, each person's other tokens checked by one seek each in `register_terms_rid`.
/// - With `merge` (every token one term and every range large), the intersection
///   ([`NamePass::merge_sql`]): the same walk on SQLite; on PostgreSQL a merge of the lists,
///   each read in order, where a seek per person walked costs several times a step along an
///   index (at 1M people, a full name of three common tokens took 64 ms walked against
///   SQLite's 28). Only for large ranges: a merge reads every list up to the last person
///   found, so a rare token beside common ones is walked.
fn by_name(
    c: &mut dyn Conn,
    pass: &NamePass<'_>,
    merge: bool,
    seen: &mut HashSet<String>,
    hits: &mut Vec<Hit>,
) -> Result<usize> {
    if !merge {
        let (sql, args) = pass.walk_sql(c.dialect().per_row());
        return pass.walked(&c.query(&sql, &args)?, seen, hits);
    }
    let (mut found, mut after) = (0, i64::MIN);
    loop {
        let (sql, args) = pass.merge_sql(after);
        let rows = c.query(&sql, &args)?;
        for r in &rows {
            after = after.max(r.i64(0)?);
            if found < CANDIDATES
                && let Some(id) = r.opt_text(1)?
            {
                found += 1;
                pass.hit(id, r.text(2)?, &r.json(3)?, seen, hits);
            }
        }
        // A full page of which some were merged away: the next page holds the rest.
        if rows.len() < CANDIDATES || found >= CANDIDATES {
            return Ok(found);
        }
    }
}

/// People by digits: a national ID or its beginning, a mobile in any form or its last digits.
/// The two lookups are independent, so they travel together (one round trip). The mobile's is
/// planned once ([`values_row`]); the ID's is read in the index's order, which a plan from
/// `k` would sort first, and costs PostgreSQL little to plan (one table).
fn by_digits(
    c: &mut dyn Conn,
    digits: &str,
    branch: Option<&str>,
    seen: &mut HashSet<String>,
    hits: &mut Vec<Hit>,
) -> Result<()> {
    let mut id_args: Vec<Val> = vec![digits.into(), CANDIDATES.into()];
    let bcond = match branch {
        Some(b) => {
            id_args.push(b.into());
            " AND branch = ?3"
        }
        None => "",
    };
    let by_id = format!(
        "SELECT id, branch, data, national_id FROM beneficiaries
         WHERE national_id >= ?1 AND national_id < ?1 || ':' AND merged_into IS NULL{bcond}
         ORDER BY national_id LIMIT ?2"
    );
    let national = phone::Mobile::parse(digits).map(|m| m.national()).ok();
    let tail: String = national
        .as_deref()
        .unwrap_or(digits)
        .chars()
        .rev()
        .collect();
    let from = format!("m:{tail}");
    let mut mobile_args: Vec<Val> = vec![from.clone().into(), prefix_end(&from).into()];
    let bcond = match branch {
        Some(b) => {
            mobile_args.push(b.into());
            " AND b.branch = k.v3"
        }
        None => "",
    };
    let by_mobile = format!(
        "SELECT b.id, b.branch, b.data
         FROM {} CROSS JOIN register_terms t JOIN beneficiaries b ON b.rid = t.rid
         WHERE t.term >= k.v1 AND t.term < k.v2 AND b.merged_into IS NULL{bcond} LIMIT {CANDIDATES}",
        values_row(&mobile_args)
    );
    let (ids, mobiles) = c.query_two((&by_id, &id_args), (&by_mobile, &mobile_args))?;
    for r in ids {
        let id = r.text(0)?;
        if seen.insert(id.clone()) {
            let exact = r.opt_text(3)?.as_deref() == Some(digits);
            hits.push((
                if exact { 10.0 } else { 5.0 },
                row_of(id, r.text(1)?, &r.json(2)?, None),
            ));
        }
    }
    for r in mobiles {
        let id = r.text(0)?;
        if seen.insert(id.clone()) {
            hits.push((
                if national.is_some() { 9.0 } else { 4.0 },
                row_of(id, r.text(1)?, &r.json(2)?, None),
            ));
        }
    }
    Ok(())
}

/// A case number (as on the receipt) or a file number: the person it belongs to. One
/// statement, planned once ([`values_row`]): the case's person first, then the file number's.
fn by_number(c: &mut dyn Conn, q: &str, branch: Option<&str>, hits: &mut Vec<Hit>) -> Result<()> {
    let number = q.trim().to_uppercase();
    let mut args: Vec<Val> = vec![number.as_str().into(), format!("f:{number}").into()];
    let bcond = match branch {
        Some(b) => {
            args.push(b.into());
            " AND b.branch = k.v3"
        }
        None => "",
    };
    let k = values_row(&args);
    let rows = c.query(
        &format!(
            "SELECT 0 AS n, b.id, b.branch, b.data, c.id
             FROM {k} CROSS JOIN cases c JOIN beneficiaries b ON b.id = c.beneficiary_id
             WHERE c.c_number = k.v1{bcond}
             UNION ALL
             SELECT 1 AS n, b.id, b.branch, b.data, NULL
             FROM {k} CROSS JOIN register_terms t JOIN beneficiaries b ON b.rid = t.rid
             WHERE t.term = k.v2{bcond}
             ORDER BY n"
        ),
        &args,
    )?;
    for r in rows {
        hits.push((
            20.0,
            row_of(r.text(1)?, r.text(2)?, &r.json(3)?, r.opt_text(4)?),
        ));
    }
    Ok(())
}

/// Every candidate answering `q`, best first (bounded by [`CANDIDATES`] per way of finding).
fn ranked(c: &mut dyn Conn, q: &str, branch: Option<&str>) -> Result<Vec<RegisterRow>> {
    let tokens: Vec<String> = arabic::name_tokens(q)
        .into_iter()
        .filter(|t| t.chars().any(|c| c.is_alphabetic()))
        .collect();
    let digits = phone::digits_for_search(q);
    let mut hits: Vec<Hit> = Vec::new();
    let mut seen = HashSet::new();
    let looks_like_number = q.contains('-') && !arabic::contains_arabic(q);
    if looks_like_number {
        by_number(c, q, branch, &mut hits)?;
        seen.extend(hits.iter().map(|h| h.1.id.clone()));
    }
    if !tokens.is_empty() && !looks_like_number {
        // Prefixes first: when they are fewer than the candidates ranked, they hold every
        // whole-token match too and one pass is enough. When there are more, the whole-token
        // matches are fetched as well, so none is crowded out by a longer name (ranking puts
        // them first).
        //
        // Both walk the smallest token's range; the second is left out when no token is the
        // prefix of a longer term (then the two passes find the same people).
        let mut pass = NamePass {
            tokens: &tokens,
            walk: 0,
            prefix: true,
            branch,
        };
        let (found, longer) = if tokens.len() == 1 {
            // One token: no range to choose, so none is counted, and whether a longer term
            // exists is asked with the first pass (one round trip).
            let (size, size_args) = size_sql(&tokens, false);
            let (walk, walk_args) = pass.walk_sql(c.dialect().per_row());
            let (sizes, rows) = c.query_two((&size, &size_args), (&walk, &walk_args))?;
            let longer = sized(&sizes, 1)?[0].longer;
            (pass.walked(&rows, &mut seen, &mut hits)?, longer)
        } else {
            let (size, size_args) = size_sql(&tokens, true);
            let sizes = sized(&c.query(&size, &size_args)?, tokens.len())?;
            pass.walk = (0..tokens.len())
                .min_by_key(|&i| (sizes[i].size, std::cmp::Reverse(tokens[i].chars().count())))
                .unwrap_or(0);
            let longer = sizes.iter().any(|s| s.longer);
            let merge = !longer && sizes.iter().all(|s| s.size >= SIZED_UP_TO as i64);
            (by_name(c, &pass, merge, &mut seen, &mut hits)?, longer)
        };
        if found >= CANDIDATES && longer {
            let whole = NamePass {
                prefix: false,
                ..pass
            };
            by_name(c, &whole, false, &mut seen, &mut hits)?;
        }
        // Digits typed beside a name narrow it: an ID beginning or a mobile ending.
        if digits.len() >= 3 {
            let rev: String = digits.chars().rev().collect();
            hits.retain(|(_, h)| {
                h.national_id
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&digits))
                    || h.mobile
                        .as_deref()
                        .is_some_and(|m| m.chars().rev().collect::<String>().starts_with(&rev))
            });
        }
    } else if tokens.is_empty() && digits.len() >= 3 {
        by_digits(c, &digits, branch, &mut seen, &mut hits)?;
    }
    hits.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| a.1.name.cmp(&b.1.name))
            .then_with(|| a.1.id.cmp(&b.1.id))
    });
    Ok(hits.into_iter().map(|(_, r)| r).collect())
}

/// One page of the register: the search's ranked candidates by offset, or, with no query, every
/// person in the order HQ received them by a keyset on `rid`.
pub fn register(c: &mut dyn Conn, q: &RegisterQuery) -> Result<RegisterPage> {
    let branch = q.branch.as_deref().filter(|b| !b.is_empty());
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let text = q.q.trim();
    if text.chars().count() > 200 {
        return Err(HqError::BadRequest("query"));
    }
    if !text.is_empty() {
        let offset: usize = match q.after.as_deref() {
            Some(a) => a.parse().map_err(|_| HqError::Refused(Code::BadFilter))?,
            None => 0,
        };
        let all = ranked(c, text, branch)?;
        let total = all.len() as i64;
        let rows: Vec<RegisterRow> = all.into_iter().skip(offset).take(limit).collect();
        let next =
            (offset + rows.len() < total as usize).then(|| (offset + rows.len()).to_string());
        return Ok(RegisterPage {
            rows,
            next,
            total,
            capped: total >= CANDIDATES as i64,
        });
    }
    let after: i64 = match q.after.as_deref() {
        Some(a) => a.parse().map_err(|_| HqError::Refused(Code::BadFilter))?,
        None => 0,
    };
    let mut args: Vec<Val> = vec![after.into(), (limit + 1).into()];
    let mut cond = String::from("rid > ?1 AND merged_into IS NULL");
    if let Some(b) = branch {
        args.push(b.into());
        cond.push_str(" AND branch = ?3");
    }
    // The total from the register's count table (kept by trigger with the people:
    // migrations/hq/0016), not a count of every person; sent with the page (one round trip).
    let (count_cond, count_args): (&str, Vec<Val>) = match branch {
        Some(b) => (" WHERE branch = ?1", vec![b.into()]),
        None => ("", vec![]),
    };
    let page_sql = format!(
        "SELECT rid, id, branch, data FROM beneficiaries WHERE {cond} ORDER BY rid LIMIT ?2"
    );
    let count_sql =
        format!("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM register_counts{count_cond}");
    let (raw, totals) = c.query_two((&page_sql, &args), (&count_sql, &count_args))?;
    let more = raw.len() > limit;
    let mut rows = Vec::with_capacity(limit);
    let mut last = 0;
    for r in raw.into_iter().take(limit) {
        last = r.i64(0)?;
        rows.push(row_of(r.text(1)?, r.text(2)?, &r.json(3)?, None));
    }
    let total = match totals.first() {
        Some(r) => r.i64(0)?,
        None => 0,
    };
    Ok(RegisterPage {
        rows,
        next: more.then(|| last.to_string()),
        total,
        capped: false,
    })
}

/// The people a register export holds: those answering the query, or everyone (at most `max`).
pub fn register_export(
    c: &mut dyn Conn,
    q: &RegisterQuery,
    max: usize,
) -> Result<Vec<(String, sila_domain::beneficiary::Beneficiary)>> {
    let branch = q.branch.as_deref().filter(|b| !b.is_empty());
    let mut out = Vec::new();
    let mut push = |branch: String, data: Value| {
        // A record HQ holds was checked when it came; one that no longer reads is left out
        // rather than failing the whole export.
        if let Ok(b) = serde_json::from_value(data) {
            out.push((branch, b));
        }
    };
    if !q.q.trim().is_empty() {
        // The ranked people's records, each a lookup by key, all in one round trip.
        let ids: Vec<Vec<Val>> = ranked(c, q.q.trim(), branch)?
            .into_iter()
            .take(max)
            .map(|r| vec![r.id.into()])
            .collect();
        for rows in c.query_many("SELECT branch, data FROM beneficiaries WHERE id = ?1", &ids)? {
            if let Some(r) = rows.first() {
                push(r.text(0)?, r.json(1)?);
            }
        }
        return Ok(out);
    }
    let (cond, args): (&str, Vec<Val>) = match branch {
        Some(b) => (" AND branch = ?2", vec![max.into(), b.into()]),
        None => ("", vec![max.into()]),
    };
    c.query_each(
        &format!(
            "SELECT branch, data FROM beneficiaries WHERE merged_into IS NULL{cond} ORDER BY rid LIMIT ?1"
        ),
        &args,
        &mut |r| {
            push(r.text(0)?, r.json(1)?);
            Ok(())
        },
    )?;
    Ok(out)
}

/// Staff of some branches by ID → name shown.
fn staff_names(c: &mut dyn Conn, branches: &BTreeSet<String>) -> Result<BTreeMap<String, String>> {
    let keys: Vec<Vec<Val>> = branches.iter().map(|b| vec![b.into()]).collect();
    staff_map(
        c.query_many(
            "SELECT id, data FROM records WHERE entity = 'staff' AND branch = ?1 LIMIT 2000",
            &keys,
        )?
        .iter()
        .flatten(),
    )
}

/// Staff records (id, data) → the name each shows.
fn staff_map<'r>(rows: impl IntoIterator<Item = &'r Row>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(r.text(0)?, staff_name(&r.json(1)?));
    }
    Ok(out)
}

fn staff_name(data: &Value) -> String {
    data["display_name"].as_str().unwrap_or("").to_owned()
}

fn status_code(s: AnswerStatus) -> &'static str {
    match s {
        AnswerStatus::Open => "open",
        AnswerStatus::Overdue => "overdue",
        AnswerStatus::OnTime => "on_time",
        AnswerStatus::Late => "late",
    }
}

fn voice_row(
    branch: String,
    t: &Task,
    today: NaiveDate,
    staff: &BTreeMap<String, String>,
) -> VoiceRow {
    VoiceRow {
        task_id: t.id.to_string(),
        branch,
        kind: if t.kind == TaskKind::Complaint {
            "complaint".into()
        } else {
            "suggestion".into()
        },
        channel: t
            .channel
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        status: status_code(t.answer_status(today)).into(),
        due_on: t.due_on.to_string(),
        done_at: t.done_at.map(|d| d.to_rfc3339()),
        owner: t
            .assignee
            .map(|a| staff.get(&a.to_string()).cloned().unwrap_or_default()),
        role: t.role.code().to_owned(),
        beneficiary_id: t.beneficiary_id.map(|b| b.to_string()),
        beneficiary_name: None,
        note: t.note.clone(),
    }
}

/// A person's whole file. Everything in it is found from the person's id alone, so it is asked
/// together: one round trip on PostgreSQL (it was five, and one more per case for its surveys).
pub fn person_file(c: &mut dyn Conn, id: &str, today: NaiveDate) -> Result<Option<PersonFile>> {
    let rid = c.dialect().records_rid();
    // A case's surveys in the order the records were written, the newest case's first.
    let surveys_sql = format!(
        "SELECT r.data FROM (SELECT id, rid FROM cases WHERE beneficiary_id = ?1 ORDER BY rid DESC LIMIT 200) k
         JOIN records r ON r.entity = 'survey' AND r.r_case = k.id
         ORDER BY k.rid DESC, r.{rid}"
    );
    let [person, cases, interactions, surveys, staff, tasks]: [Vec<Row>; 6] = c
        .query_together(&[
            (
                "SELECT branch, data, version, merged_into FROM beneficiaries WHERE id = ?1",
                params![id],
            ),
            (
                "SELECT id, state, data FROM cases WHERE beneficiary_id = ?1 ORDER BY rid DESC LIMIT 200",
                params![id],
            ),
            (
                "SELECT data FROM records WHERE entity = 'interaction' AND r_beneficiary = ?1 LIMIT 1000",
                params![id],
            ),
            (&surveys_sql, params![id]),
            (
                "SELECT id, data FROM records
                 WHERE entity = 'staff' AND branch = (SELECT branch FROM beneficiaries WHERE id = ?1)
                 LIMIT 2000",
                params![id],
            ),
            (
                "SELECT data FROM records WHERE entity = 'task' AND r_beneficiary = ?1 LIMIT 1000",
                params![id],
            ),
        ])?
        .try_into()
        .expect("six queries, six answers");
    let Some(r) = person.first() else {
        return Ok(None);
    };
    let (branch, record, version, merged_into) =
        (r.text(0)?, r.json(1)?, r.i64(2)?, r.opt_text(3)?);
    let cases = cases
        .iter()
        .map(|r| -> Result<Value> {
            let d = r.json(2)?;
            Ok(json!({
                "id": r.text(0)?,
                "state": r.text(1)?,
                "number": d.get("number"),
                "support_type": d.get("support_type"),
                "channel": d.get("channel"),
                "submitted_at": d.get("submitted_at"),
                "promised_reply_date": d.get("promised_reply_date"),
                "outcome": d.pointer("/decision/outcome"),
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut interactions = interactions
        .iter()
        .map(|r| r.json(0))
        .collect::<Result<Vec<_>>>()?;
    interactions.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
    let surveys = surveys
        .iter()
        .map(|r| r.json(0))
        .collect::<Result<Vec<_>>>()?;
    let staff = staff_map(&staff)?;
    let mut voice = Vec::new();
    for r in &tasks {
        if let Ok(t) = serde_json::from_value::<Task>(r.json(0)?)
            && matches!(t.kind, TaskKind::Complaint | TaskKind::Suggestion)
        {
            voice.push(voice_row(branch.clone(), &t, today, &staff));
        }
    }
    Ok(Some(PersonFile {
        record,
        branch,
        version,
        merged_into,
        cases,
        interactions,
        surveys,
        voice,
        staff,
    }))
}

/// Complaints and suggestions: their counts per branch, kind and status (from voice_counts),
/// and one page of them in the status's order (overdue, open, late, on time, then the due
/// date), read from voice_facts' index with each row's task, person and assignee by key. Both
/// tables are kept by trigger with the tasks (migrations/hq/0016). The counts and the page are
/// asked together: one round trip on PostgreSQL (it was five).
pub fn voice(c: &mut dyn Conn, f: &VoiceFilter, today: NaiveDate) -> Result<VoicePage> {
    let branch = f.branch.as_deref().filter(|b| !b.is_empty());
    let kind = f.kind.as_deref().filter(|k| !k.is_empty());
    let status = f.status.as_deref().filter(|s| !s.is_empty());
    if kind.is_some_and(|k| !["complaint", "suggestion"].contains(&k))
        || status.is_some_and(|s| !["open", "overdue", "on_time", "late", "waiting"].contains(&s))
    {
        return Err(HqError::Refused(Code::BadFilter));
    }
    let today_s = today.format("%Y-%m-%d").to_string();
    // The counts, summed in SQL per branch, kind and status (`answered` as voice_facts has it,
    // and 3 for not yet answered past its due day: overdue, as `Task::answer_status` says), so
    // a few dozen rows come back and not one per due day.
    let mut count_args: Vec<Val> = vec![today_s.clone().into()];
    let bcond = match branch {
        Some(b) => {
            count_args.push(b.into());
            " WHERE branch = ?2"
        }
        None => "",
    };
    let count_sql = format!(
        "SELECT branch, kind, CASE WHEN answered = 0 AND due_on < ?1 THEN 3 ELSE answered END,
                CAST(sum(n) AS BIGINT)
         FROM voice_counts{bcond} GROUP BY 1, 2, 3"
    );
    // The page: only the conditions in use are written, each a range of the index's order.
    let mut args: Vec<Val> = Vec::new();
    let mut cond = String::from("1 = 1");
    if let Some(b) = branch {
        args.push(b.into());
        cond.push_str(&format!(" AND branch = ?{}", args.len()));
    }
    if let Some(k) = kind {
        args.push(k.into());
        cond.push_str(&format!(" AND kind = ?{}", args.len()));
    }
    match status {
        None => {}
        Some("waiting") => cond.push_str(" AND answered = 0"),
        Some("on_time") => cond.push_str(" AND answered = 2"),
        Some("late") => cond.push_str(" AND answered = 1"),
        Some(s) => {
            args.push(today_s.clone().into());
            let op = if s == "overdue" { "<" } else { ">=" };
            cond.push_str(&format!(
                " AND answered = 0 AND due_on {op} ?{}",
                args.len()
            ));
        }
    }
    // The limit is written in the statement, so the plan PostgreSQL keeps for it is the index
    // walk (`Dialect::kept_plans`).
    let limit = f.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    args.push(f.offset.unwrap_or(0).into());
    // Each page row with its task, its person and its assignee's staff record, each a lookup by
    // key per row of the page.
    let assignee = c.dialect().json_text("t.data", "assignee");
    let page_sql = format!(
        "SELECT p.branch, t.data,
                (SELECT b.data FROM beneficiaries b WHERE b.id = t.r_beneficiary),
                (SELECT s.data FROM records s WHERE s.entity = 'staff' AND s.id = {assignee})
         FROM (SELECT id, branch, answered, due_on FROM voice_facts WHERE {cond}
               ORDER BY answered, due_on, id LIMIT {limit} OFFSET ?{}) p
         JOIN records t ON t.entity = 'task' AND t.id = p.id
         ORDER BY p.answered, p.due_on, p.id",
        args.len()
    );
    if let Some(kept) = c.dialect().kept_plans() {
        c.batch_later(kept)?;
    }
    let (counted, page) = c.query_two((&count_sql, &count_args), (&page_sql, &args))?;
    let mut counts: BTreeMap<(String, String), VoiceCounts> = BTreeMap::new();
    let mut total = 0;
    for r in &counted {
        let (b, k, n) = (r.text(0)?, r.text(1)?, r.i64(3)?);
        let code = match r.i64(2)? {
            0 => "open",
            1 => "late",
            2 => "on_time",
            _ => "overdue",
        };
        for key in [b, String::new()] {
            let e = counts
                .entry((key.clone(), k.clone()))
                .or_insert_with(|| VoiceCounts {
                    key,
                    kind: k.clone(),
                    ..Default::default()
                });
            match code {
                "open" => e.open += n,
                "overdue" => e.overdue += n,
                "on_time" => e.on_time += n,
                _ => e.late += n,
            }
        }
        let status_ok = match status {
            None => true,
            Some("waiting") => matches!(code, "open" | "overdue"),
            Some(s) => code == s,
        };
        if status_ok && kind.is_none_or(|want| want == k) {
            total += n;
        }
    }
    let mut rows = Vec::with_capacity(page.len());
    for r in &page {
        let Ok(t) = serde_json::from_value::<Task>(r.json(1)?) else {
            continue;
        };
        // The assignee's name, when their staff record is at HQ.
        let mut staff = BTreeMap::new();
        if let (Some(a), Some(s)) = (t.assignee, r.opt_text(3)?) {
            staff.insert(a.to_string(), staff_name(&serde_json::from_str(&s)?));
        }
        let mut row = voice_row(r.text(0)?, &t, today, &staff);
        if row.beneficiary_id.is_some()
            && let Some(b) = r.opt_text(2)?
        {
            row.beneficiary_name = Some(display_name(&serde_json::from_str(&b)?));
        }
        rows.push(row);
    }
    // Totals (key "") last, after the branches in name order.
    let mut counts: Vec<VoiceCounts> = counts.into_values().collect();
    counts.sort_by_key(|v| (v.key.is_empty(), v.key.clone(), v.kind.clone()));
    Ok(VoicePage {
        counts,
        rows,
        total,
    })
}

/// One complaint or suggestion: the task with its person and the two contacts it names, and
/// the staff of its branch, asked together (one round trip on PostgreSQL; it was five).
pub fn voice_item(c: &mut dyn Conn, task_id: &str, today: NaiveDate) -> Result<Option<VoiceItem>> {
    let d = c.dialect();
    let (asked, answer) = (
        d.json_text("t.data", "interaction_id"),
        d.json_text("t.data", "answer_id"),
    );
    let item_sql = format!(
        "SELECT t.branch, t.data,
                (SELECT b.data FROM beneficiaries b WHERE b.id = t.r_beneficiary),
                (SELECT i.data FROM records i WHERE i.entity = 'interaction' AND i.id = {asked}),
                (SELECT i.data FROM records i WHERE i.entity = 'interaction' AND i.id = {answer})
         FROM records t WHERE t.entity = 'task' AND t.id = ?1"
    );
    let (item, staff) = c.query_two(
        (&item_sql, params![task_id]),
        (
            "SELECT id, data FROM records
             WHERE entity = 'staff' AND branch = (SELECT branch FROM records WHERE entity = 'task' AND id = ?1)
             LIMIT 2000",
            params![task_id],
        ),
    )?;
    let Some(r) = item.first() else {
        return Ok(None);
    };
    let Ok(t) = serde_json::from_value::<Task>(r.json(1)?) else {
        return Ok(None);
    };
    if !matches!(t.kind, TaskKind::Complaint | TaskKind::Suggestion) {
        return Ok(None);
    }
    let staff = staff_map(&staff)?;
    let mut row = voice_row(r.text(0)?, &t, today, &staff);
    if row.beneficiary_id.is_some()
        && let Some(b) = r.opt_text(2)?
    {
        row.beneficiary_name = Some(display_name(&serde_json::from_str(&b)?));
    }
    let json = |i: usize| -> Result<Option<Value>> {
        r.opt_text(i)?
            .map(|s| serde_json::from_str(&s).map_err(Into::into))
            .transpose()
    };
    // A contact is shown only when the task names it (as when it was looked up by the ID).
    let contact = if t.interaction_id.is_some() {
        json(3)?
    } else {
        None
    };
    let answer = if t.answer_id.is_some() {
        json(4)?
    } else {
        None
    };
    Ok(Some(VoiceItem {
        row,
        contact,
        answer,
        staff,
    }))
}

#[derive(Default, Clone)]
struct Sums {
    n: i64,
    s: [i64; 4],
    counted: [i64; 4],
}

impl Sums {
    fn add(&mut self, n: i64, scores: &[Option<i64>; 4]) {
        self.n += n;
        for (i, v) in scores.iter().enumerate() {
            if let Some(v) = v.filter(|v| (1..=5).contains(v)) {
                self.s[i] += n * v;
                self.counted[i] += n;
            }
        }
    }
    fn row(&self, key: String, label: Option<String>) -> ScoreRow {
        let mean = |i: usize| {
            (self.counted[i] > 0)
                .then(|| (self.s[i] as f64 / self.counted[i] as f64 * 100.0).round() / 100.0)
        };
        ScoreRow {
            key,
            label,
            n: self.n,
            overall: mean(0),
            speed: mean(1),
            courtesy: mean(2),
            clarity: mean(3),
        }
    }
}

pub fn survey_scores(c: &mut dyn Conn, f: &ScoreFilter) -> Result<SurveyScores> {
    let mut cond = String::from("1 = 1");
    let mut args: Vec<Val> = Vec::new();
    if let Some(b) = f.branch.as_deref().filter(|b| !b.is_empty()) {
        args.push(b.into());
        cond.push_str(&format!(" AND branch = ?{}", args.len()));
    }
    if let Some(ch) = f.channel.as_deref().filter(|b| !b.is_empty()) {
        args.push(ch.into());
        cond.push_str(&format!(" AND channel = ?{}", args.len()));
    }
    let mut total = Sums::default();
    let mut dims: [BTreeMap<String, Sums>; 4] = Default::default();
    let mut distribution: BTreeMap<String, [i64; 5]> = QUESTIONS
        .iter()
        .map(|q| ((*q).to_owned(), [0; 5]))
        .collect();
    c.query_each(
        &format!(
            "SELECT branch, channel, service, employee, overall, speed, courtesy, clarity, count(*)
             FROM survey_facts WHERE {cond} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
        ),
        &args,
        &mut |r| {
            let keys = [
                r.text(0)?,
                r.opt_text(1)?.unwrap_or_default(),
                r.opt_text(2)?.unwrap_or_default(),
                r.opt_text(3)?.unwrap_or_default(),
            ];
            let scores = [r.opt_i64(4)?, r.opt_i64(5)?, r.opt_i64(6)?, r.opt_i64(7)?];
            let n = r.i64(8)?;
            total.add(n, &scores);
            for (d, k) in dims.iter_mut().zip(keys) {
                d.entry(k).or_default().add(n, &scores);
            }
            for (q, v) in QUESTIONS.iter().zip(scores) {
                if let Some(v) = v.filter(|v| (1..=5).contains(v)) {
                    distribution.get_mut(*q).expect("every question")[(v - 1) as usize] += n;
                }
            }
            Ok(())
        },
    )?;
    let branches: BTreeSet<String> = dims[0].keys().cloned().collect();
    let staff = staff_names(c, &branches)?;
    let [by_branch, by_channel, by_service, by_employee] = dims;
    let rows = |m: BTreeMap<String, Sums>, named: bool| -> Vec<ScoreRow> {
        m.into_iter()
            .map(|(k, s)| {
                let label = named.then(|| staff.get(&k).cloned()).flatten();
                s.row(k, label)
            })
            .collect()
    };
    Ok(SurveyScores {
        total: total.row(String::new(), None),
        distribution,
        by_branch: rows(by_branch, false),
        by_channel: rows(by_channel, false),
        by_service: rows(by_service, false),
        by_employee: rows(by_employee, true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_a_half_open_range() {
        assert_eq!(prefix_end("محم"), "محن");
        assert_eq!(prefix_end("m:76"), "m:77");
        assert!(*"محمد" < *prefix_end("محم") && "محمد" >= "محم");
    }

    #[test]
    fn terms_hold_name_tokens_the_mobile_reversed_and_the_file_number() {
        let t = terms(
            &json!({"name": {"first": "عبد الله", "father": "", "grandfather": "",
            "family": "آل سعود", "as_written": ""}, "mobile": "+966501234567", "file_number": "afl-x-f00001"}),
        );
        assert!(t.contains("عبدالله") && t.contains("السعود"), "{t:?}");
        assert!(t.contains("m:7654321050"), "{t:?}");
        assert!(t.contains("f:AFL-X-F00001"), "{t:?}");
    }
}
