//! HQ rows for the console's tests, written straight into HQ's tables (as a push would leave
//! them), on either engine: cases with the JSON fields the console reads, surveys, interactions.
//! And [`Raw`], plain SQL on the test's HQ, for looking inside (and at how the engine would run a
//! query).

use chrono::{Duration, NaiveDate};
use serde_json::json;
use sila_hq::db::{Dialect, Row, Val};
use sila_hq::{Hq, Result, params};
use std::sync::Arc;

/// Plain SQL on an HQ store (`?N` placeholders, on either engine).
pub struct Raw(pub Arc<Hq>);

impl Raw {
    pub fn dialect(&self) -> Dialect {
        self.0.engine().dialect()
    }
    pub fn rows(&self, sql: &str, p: &[Val]) -> Vec<Row> {
        self.0.query(sql, p).unwrap()
    }
    pub fn i64(&self, sql: &str, p: &[Val]) -> i64 {
        self.rows(sql, p)[0].i64(0).unwrap()
    }
    pub fn text(&self, sql: &str, p: &[Val]) -> String {
        self.rows(sql, p)[0].text(0).unwrap()
    }
    pub fn texts(&self, sql: &str, p: &[Val]) -> Vec<String> {
        self.rows(sql, p)
            .iter()
            .map(|r| r.text(0).unwrap())
            .collect()
    }
    pub fn execute(&self, sql: &str, p: &[Val]) -> Result<u64> {
        self.0.execute(sql, p)
    }

    /// How the engine would run `sql`, one line per step. PostgreSQL is told to avoid reading
    /// whole tables, which on a test's few rows it would rightly prefer: the question is whether
    /// an index serves the query at all.
    pub fn plan(&self, sql: &str) -> String {
        let steps: Vec<String> = match self.dialect() {
            Dialect::Sqlite => self
                .rows(&format!("EXPLAIN QUERY PLAN {sql}"), params![])
                .iter()
                .map(|r| r.text(3).unwrap())
                .collect(),
            Dialect::Postgres => {
                sila_hq::db::run(&**self.0.engine(), sila_hq::db::Mode::Read, |c| {
                    c.batch("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")?;
                    c.query(&format!("EXPLAIN {sql}"), params![])
                })
                .unwrap()
                .iter()
                .map(|r| r.text(0).unwrap())
                .collect()
            }
        };
        steps.join("\n")
    }
}

pub struct CaseSeed<'a> {
    pub branch: &'a str,
    pub state: &'a str,
    pub channel: &'a str,
    pub submitted: NaiveDate,
    /// Days from submission to the promise (14 by policy).
    pub decided_after_days: Option<i64>,
    pub outcome: Option<&'a str>,
    pub name: &'a str,
}

impl CaseSeed<'static> {
    /// A case of Al-Aflaj's, come by phone, with the committee since `submitted`, undecided.
    pub fn with_the_committee(submitted: NaiveDate) -> CaseSeed<'static> {
        CaseSeed {
            branch: "الأفلاج",
            state: "in_committee",
            channel: "phone",
            submitted,
            decided_after_days: None,
            outcome: None,
            name: "x",
        }
    }
}

pub fn case(conn: &Raw, n: usize, s: &CaseSeed<'_>) -> String {
    let bid = uuid::Uuid::now_v7().to_string();
    let cid = uuid::Uuid::now_v7().to_string();
    let promised = s.submitted + Duration::days(14);
    let decision = s.decided_after_days.map(|d| {
        json!({"outcome": s.outcome.unwrap_or("approved"), "reasons": "r",
               "decided_by": uuid::Uuid::now_v7().to_string(), "decided_by_name": "لجنة",
               "decided_at": format!("{}T10:00:00Z", s.submitted + Duration::days(d))})
    });
    let b = json!({"id": bid, "name": {"first": "", "father": "", "grandfather": "", "family": "", "as_written": s.name}});
    let c = json!({"id": cid, "number": format!("AFL-X-{n:06}"), "beneficiary_id": bid,
        "support_type": "food_basket", "channel": s.channel, "need": "", "documents": [],
        "state": s.state, "submitted_at": format!("{}T09:00:00Z", s.submitted),
        "promised_reply_date": promised.to_string(), "decision": decision});
    conn.execute(
        "INSERT INTO beneficiaries (id, branch, device_id, data, version, created_at, updated_at) VALUES (?1, ?2, 'd', ?3, 1, 'now', 'now')",
        params![&bid, s.branch, b.to_string()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO cases (id, branch, device_id, beneficiary_id, state, data, version, created_at, updated_at)
         VALUES (?1, ?2, 'd', ?3, ?4, ?5, 1, 'now', 'now')",
        params![&cid, s.branch, &bid, s.state, c.to_string()],
    )
    .unwrap();
    cid
}

pub fn survey(conn: &Raw, branch: &str, channel: &str, overall: i64, on: NaiveDate) {
    let id = uuid::Uuid::now_v7().to_string();
    conn.execute(
        "INSERT INTO records (entity, id, branch, device_id, data) VALUES ('survey', ?1, ?2, 'd', ?3)",
        params![&id, branch, json!({"id": id, "overall": overall, "channel": channel, "answered_on": on.to_string()}).to_string()],
    )
    .unwrap();
}

pub fn interaction(conn: &Raw, branch: &str, channel: &str, purpose: &str, on: NaiveDate) {
    let id = uuid::Uuid::now_v7().to_string();
    conn.execute(
        "INSERT INTO records (entity, id, branch, device_id, data) VALUES ('interaction', ?1, ?2, 'd', ?3)",
        params![&id, branch, json!({"id": id, "purpose": purpose, "channel": channel, "at": format!("{on}T08:00:00Z")}).to_string()],
    )
    .unwrap();
}
