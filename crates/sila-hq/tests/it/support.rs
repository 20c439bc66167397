//! What HQ's integration tests share: a fixed clock, a fresh HQ on the run's engine, console
//! accounts and enrolled devices made as the command line makes them, and a real server on port 0
//! with a console client that signs in and sends the CSRF token.

use crate::seed::Raw;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sila_hq::console::{ConsoleRole, ConsoleStaff, ConsoleStore};
use sila_hq::store::{Device, HqStore};
use sila_hq::{Hq, HqActor};
use std::sync::Arc;

/// Every test account's password (long enough for the policy).
pub const PW: &str = "long-enough-password";

/// The tests' "now" where the store is called with a time (the HTTP tests use the clock).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

pub fn today() -> NaiveDate {
    now().date_naive()
}

/// A fresh HQ on the engine of this run (`SILA_TEST_DB`).
pub fn open() -> (tempfile::TempDir, Arc<Hq>, Raw) {
    let dir = tempfile::tempdir().unwrap();
    let hq = Arc::new(Hq::open(sila_hq::testing::fresh_db(dir.path())).unwrap());
    let raw = Raw(hq.clone());
    (dir, hq, raw)
}

/// A console account with one role and [`PW`], made at `at` as `sila-hq staff add` makes one.
pub fn staff(hq: &Hq, username: &str, role: ConsoleRole, at: DateTime<Utc>) -> ConsoleStaff {
    hq.add_console_staff(username, "", PW, &[role], &HqActor::command_line(), at)
        .unwrap()
}

/// A one-hour enrolment code for `branch`, made at `at` as `sila-hq enrol-code` makes one.
pub fn enrol_code(hq: &Hq, branch: &str, at: DateTime<Utc>) -> String {
    hq.create_enrol_code(
        branch,
        chrono::Duration::hours(1),
        &HqActor::command_line(),
        at,
    )
    .unwrap()
}

/// A new device of `branch` enrolled at `at` with a fresh code: its ID and credential.
pub fn enrol(hq: &Hq, branch: &str, at: DateTime<Utc>) -> sila_proto::EnrollResponse {
    hq.enroll(
        &sila_proto::EnrollRequest {
            code: enrol_code(hq, branch, at),
            device_id: sila_domain::ids::DeviceId::new_v7().to_string(),
            branch: branch.into(),
        },
        at,
    )
    .unwrap()
}

/// A device of `branch` enrolled at `at`, as HQ knows it once its credential is used, and the
/// credential.
pub fn device(hq: &Hq, branch: &str, at: DateTime<Utc>) -> (Device, String) {
    let r = enrol(hq, branch, at);
    (hq.authenticate(&r.token, at).unwrap(), r.token)
}

// ---- HTTP ----

pub struct Server {
    pub url: String,
    /// What `--db` takes: its database.
    pub db: String,
    pub hq: Arc<Hq>,
    pub raw: Raw,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|hq| hq).await
    }

    /// A server on an HQ store set up by `f` (an update key, …).
    pub async fn start_with(f: impl FnOnce(Hq) -> Hq) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = sila_hq::testing::fresh_db(dir.path());
        Server::serve(f(Hq::open(&db).unwrap()), db, dir).await
    }

    /// Another server on the database of one already started (as a second `sila-hq serve`).
    pub async fn start_on(db: &str) -> Server {
        let hq = Hq::open(db).unwrap();
        Server::serve(hq, db.to_owned(), tempfile::tempdir().unwrap()).await
    }

    async fn serve(hq: Hq, db: String, dir: tempfile::TempDir) -> Server {
        let hq = Arc::new(hq);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let store: Arc<dyn HqStore> = hq.clone();
        tokio::spawn(sila_hq::serve(listener, store, None, async move {
            let _ = rx.await;
        }));
        Server {
            url,
            db,
            hq: hq.clone(),
            raw: Raw(hq.clone()),
            stop: Some(tx),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub cookie: String,
    pub csrf: String,
}

impl Client {
    pub async fn sign_in(
        url: &str,
        user: &str,
        password: &str,
    ) -> (reqwest::StatusCode, Value, Option<Client>) {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{url}/console/api/sign-in"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = r.json().await.unwrap();
        let client = cookie.map(|c| Client {
            http,
            url: url.to_owned(),
            cookie: c.split(';').next().unwrap().to_owned(),
            csrf: body["csrf"].as_str().unwrap_or("").to_owned(),
        });
        if let Some(c) = &client {
            assert!(c.cookie.starts_with("sila_hq_session="));
        }
        (status, body, client)
    }

    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let r = self.fetch(path).await;
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// A GET of the API as a whole answer (a download's bytes, its headers).
    pub async fn fetch(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/console/api{path}", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value, csrf: bool) -> (reqwest::StatusCode, Value) {
        let mut req = self
            .http
            .post(format!("{}/console/api{path}", self.url))
            .header("cookie", &self.cookie)
            .json(&body);
        if csrf {
            req = req.header("x-csrf-token", &self.csrf);
        }
        let r = req.send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

/// A sign-in's status and refusal code (`None` when it is not refused).
pub async fn sign_in_status(url: &str, user: &str, password: &str) -> (u16, Option<String>) {
    let (st, body, _) = Client::sign_in(url, user, password).await;
    (st.as_u16(), body["code"].as_str().map(str::to_owned))
}
