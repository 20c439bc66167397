//! Beneficiary search as a desk types it: any spelling of a name (hamza forms, ta marbuta, alef
//! maqsura, diacritics, tatweel, "عبد الله"/"عبدالله", "آل"), a national ID or its beginning, a
//! mobile in any form or its last digits, a file number as the branch gives them ("AFL-K3F-F00001",
//! any letter case), Arabic-Indic digits anywhere. Best matches first.
//!
//! Names are matched on a key normalised in Rust (`arabic::name_tokens`) and indexed with FTS5;
//! query tokens are quoted before they reach FTS5, so a query is never FTS syntax. Ranking happens
//! here, over a bounded candidate set, because FTS5's bm25 over a very common first name costs
//! tens of milliseconds at 100k rows and says nothing a name-aware score does not.

use crate::Store;
use crate::error::Result;
use serde::Serialize;
use sila_domain::{arabic, phone};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub id: String,
    pub national_id: Option<String>,
    pub full_name: String,
    pub phone: Option<String>,
    pub branch: String,
    #[serde(skip)]
    pub score: f64,
}

/// How many name candidates are ranked per query at most.
const CANDIDATES: usize = 400;

fn fts_query(tokens: &[String], prefix: bool) -> String {
    tokens
        .iter()
        .map(|t| {
            format!(
                "\"{}\"{}",
                t.replace('"', "\"\""),
                if prefix { "*" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl Store {
    /// Search beneficiaries (merged-away records excluded). `limit` of 0 means 20.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let limit = if limit == 0 { 20 } else { limit.min(500) };
        if let Ok(file_number) = sila_domain::beneficiary::parse_file_number(query) {
            return self.search_file_number(&file_number, limit);
        }
        let tokens: Vec<String> = arabic::name_tokens(query)
            .into_iter()
            .filter(|t| t.chars().any(|c| c.is_alphabetic()))
            .collect();
        let digits = phone::digits_for_search(query);
        let mut hits: Vec<SearchHit> = Vec::new();

        if tokens.is_empty() {
            if digits.len() < 3 {
                return Ok(hits);
            }
            self.search_digits(&digits, limit, &mut hits)?;
            hits.truncate(limit);
            return Ok(hits);
        }

        let mut seen = std::collections::HashSet::new();
        for prefix in [false, true] {
            if hits.len() >= CANDIDATES {
                break;
            }
            let mut stmt = self.conn.prepare_cached(
                "SELECT b.id, b.national_id, b.full_name, b.phone, b.branch, b.name_key
                 FROM beneficiary_fts f JOIN beneficiaries b ON b.rid = f.rowid
                 WHERE beneficiary_fts MATCH ?1 AND b.merged_into IS NULL LIMIT ?2",
            )?;
            let mut rows = stmt.query(rusqlite::params![
                fts_query(&tokens, prefix),
                CANDIDATES as i64
            ])?;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                if !seen.insert(id.clone()) {
                    continue;
                }
                let key: String = r.get(5)?;
                hits.push(SearchHit {
                    id,
                    national_id: r.get(1)?,
                    full_name: r.get(2)?,
                    phone: r.get(3)?,
                    branch: r.get(4)?,
                    score: arabic::search_score(&tokens, &key),
                });
            }
        }
        // Digits typed beside a name narrow it: an ID beginning or a phone ending.
        if digits.len() >= 3 {
            let rev: String = digits.chars().rev().collect();
            hits.retain(|h| {
                h.national_id
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&digits))
                    || h.phone.as_deref().is_some_and(|p| {
                        let national: String = phone::digits_for_search(p).chars().rev().collect();
                        national.starts_with(&rev)
                    })
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.full_name.cmp(&b.full_name))
        });
        hits.truncate(limit);
        Ok(hits)
    }

    /// The person a file number was given to (a merged-away registration keeps its number but is
    /// not found by it).
    fn search_file_number(&self, file_number: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, national_id, full_name, phone, branch FROM beneficiaries
             WHERE file_number = ?1 AND merged_into IS NULL LIMIT ?2",
        )?;
        let hits = stmt
            .query_map(rusqlite::params![file_number, limit as i64], |r| {
                Ok(SearchHit {
                    id: r.get(0)?,
                    national_id: r.get(1)?,
                    full_name: r.get(2)?,
                    phone: r.get(3)?,
                    branch: r.get(4)?,
                    score: 10.0,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(hits)
    }

    fn search_digits(&self, digits: &str, limit: usize, hits: &mut Vec<SearchHit>) -> Result<()> {
        let mut push = |r: &rusqlite::Row<'_>, score: f64| -> rusqlite::Result<()> {
            let id: String = r.get(0)?;
            if !hits.iter().any(|h| h.id == id) {
                hits.push(SearchHit {
                    id,
                    national_id: r.get(1)?,
                    full_name: r.get(2)?,
                    phone: r.get(3)?,
                    branch: r.get(4)?,
                    score,
                });
            }
            Ok(())
        };
        // A national ID, or its beginning (range scan on the unique index).
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, national_id, full_name, phone, branch FROM beneficiaries
                 WHERE national_id >= ?1 AND national_id < ?1 || ':' AND merged_into IS NULL
                 ORDER BY national_id LIMIT ?2",
            )?;
            let mut rows = stmt.query(rusqlite::params![digits, limit as i64])?;
            while let Some(r) = rows.next()? {
                let exact = r.get::<_, Option<String>>(1)?.as_deref() == Some(digits);
                push(r, if exact { 10.0 } else { 5.0 })?;
            }
        }
        // A whole mobile in any form, or its last digits: national-format digits reversed.
        let national = phone::Mobile::parse(digits).map(|m| m.national()).ok();
        let tail: String = national
            .as_deref()
            .unwrap_or(digits)
            .chars()
            .rev()
            .collect();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, national_id, full_name, phone, branch FROM beneficiaries
                 WHERE phone_rev >= ?1 AND phone_rev < ?1 || ':' AND merged_into IS NULL
                 ORDER BY phone_rev LIMIT ?2",
            )?;
            let mut rows = stmt.query(rusqlite::params![tail, limit as i64])?;
            while let Some(r) = rows.next()? {
                push(r, if national.is_some() { 9.0 } else { 4.0 })?;
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_quotes_tokens_so_queries_are_never_syntax() {
        assert_eq!(
            fts_query(&["a\"b".into(), "OR".into()], true),
            "\"a\"\"b\"* AND \"OR\"*"
        );
    }
}
