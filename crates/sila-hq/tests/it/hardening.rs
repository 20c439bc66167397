//! Adversarial tests of the HTTP layer (issue 9, items 6 to 8), each against a real server on
//! port 0 (or the real `sila-hq` binary) over HTTP: sign-in races and lock-outs, over-long input,
//! spent enrolment codes, log forging, half-open and stalled connections, extreme offsets and the
//! attachment's own security policy.

use crate::support::{self, Client, PW, Server, sign_in_status};
use chrono::Utc;
use serde_json::{Value, json};
use sila_hq::Code;
use sila_hq::Hq;
use sila_hq::console::limiter::{ADDRESS_FREE, NAME_FREE};
use sila_hq::console::{ConsoleRole, ConsoleStore};
use sila_hq::server::Timeouts;
use sila_hq::store::{HqError, HqStore};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_are_not_all_checked() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    // Eighty wrong passwords for one account at once: the limiter reserves each attempt's place
    // before its password is checked, so only the free tries are evaluated.
    let race = |name: fn(usize) -> String| {
        let url = s.url.clone();
        async move {
            let tasks: Vec<_> = (0..80)
                .map(|i| {
                    let url = url.clone();
                    tokio::spawn(
                        async move { sign_in_status(&url, &name(i), "wrong-password").await },
                    )
                })
                .collect();
            let mut checked = 0;
            for t in tasks {
                match t.await.unwrap() {
                    (401, Some(c)) if c == "wrong_credentials" => checked += 1,
                    (429, Some(c)) if c == "too_many_attempts" => {}
                    other => panic!("unexpected answer {other:?}"),
                }
            }
            checked
        }
    };
    let checked = race(|_| "admin".to_owned()).await;
    assert!(
        checked <= NAME_FREE as usize,
        "{checked} of 80 parallel wrong passwords for one name were checked"
    );
    // Eighty names at once from one address: the address's free tries, no more.
    let checked = race(|i| format!("guess{i}")).await;
    assert!(
        checked <= ADDRESS_FREE as usize,
        "{checked} of 80 parallel guesses from one address were checked"
    );
}

#[tokio::test]
async fn a_guesser_behind_the_proxy_does_not_lock_out_the_people_behind_it() {
    // Behind a TLS proxy every browser has the proxy's address; here, everyone is 127.0.0.1.
    let s = Server::start().await;
    support::staff(&s.hq, "noura", ConsoleRole::Admin, Utc::now());
    assert_eq!(sign_in_status(&s.url, "noura", PW).await.0, 200);
    // Someone guesses sixty names, once each, from the same address: past the address's free
    // tries, and past the old global limit of fifty failures a minute.
    let mut refused = 0;
    for i in 0..60 {
        match sign_in_status(&s.url, &format!("guess{i}"), "wrong-password").await {
            (401, _) => {}
            (429, Some(c)) if c == "too_many_attempts" => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(refused, 60 - ADDRESS_FREE as usize, "the guesser is held");
    assert_eq!(
        sign_in_status(&s.url, "noura", PW).await,
        (200, None),
        "a person who signed in from here before still can"
    );
}

/// Two `sila-hq serve` on one database (issue 12.4): wrong passwords split across both count
/// as one server's would, for a name and for an address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_split_across_two_servers_on_one_database_still_lock_out() {
    let first = Server::start().await;
    let second = Server::start_on(&first.db).await;
    support::staff(&first.hq, "amal", ConsoleRole::Admin, Utc::now());
    let url = |i: i64| {
        if i % 2 == 0 {
            first.url.clone()
        } else {
            second.url.clone()
        }
    };
    for i in 0..NAME_FREE {
        assert_eq!(
            sign_in_status(&url(i), "amal", "wrong-password").await.0,
            401
        );
    }
    let held = (429, Some("too_many_attempts".to_owned()));
    // Neither server lets the name try again yet, not even with the right password.
    assert_eq!(sign_in_status(&first.url, "amal", PW).await, held);
    assert_eq!(sign_in_status(&second.url, "amal", PW).await, held);
    // Guesses over many names from one address (every request here is 127.0.0.1), split across
    // both: the address's free tries in all, the name's failures above among them.
    let mut refused = 0;
    for i in 0..ADDRESS_FREE + 10 {
        match sign_in_status(&url(i), &format!("guess{i}"), "wrong-password").await {
            (401, _) => {}
            (429, Some(c)) if c == "too_many_attempts" => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(refused, 10 + NAME_FREE);
    // Nothing of it is kept in the clear.
    let rows = first
        .hq
        .query("SELECT key FROM signin_limits", &[])
        .unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let key = r.text(0).unwrap();
        assert!(!key.contains("amal") && !key.contains("guess") && !key.contains("127.0"));
    }
}

#[tokio::test]
async fn over_long_names_and_bodies_are_refused_unread() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let long = "ن".repeat(65);
    for _ in 0..ADDRESS_FREE + 5 {
        assert_eq!(
            sign_in_status(&s.url, &long, "wrong-password").await,
            (400, Some("username_too_long".to_owned()))
        );
    }
    // A 20 MiB name is not read past the first few KiB: the answer comes after 64 KiB of it.
    let addr = s.url.strip_prefix("http://").unwrap();
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(
        format!(
            "POST /console/api/sign-in HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{{\"password\": \"x\", \"username\": \"",
            20 << 20
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&[b'x'; 64 << 10]).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), c.read(&mut buf))
            .await
            .expect("an answer before the body is all sent")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(
        sign_in_status(&s.url, "admin", &"p".repeat(2000)).await,
        (400, Some("password_too_long".to_owned()))
    );
    // None of it was kept or counted: the right password still opens at once.
    assert_eq!(sign_in_status(&s.url, "admin", PW).await.0, 200);
}

/// An HTTP client as a device is: every call names the protocol it speaks.
fn device_http() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        sila_proto::PROTOCOL_HEADER,
        sila_proto::PROTOCOL.to_string().parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_used_enrolment_code_yields_nothing() {
    let s = Server::start().await;
    let http = device_http();
    let code = support::enrol_code(&s.hq, "الأفلاج", Utc::now());
    let device = sila_domain::ids::DeviceId::new_v7().to_string();
    let enrol = || {
        http.post(format!("{}/v1/enroll", s.url))
            .json(&json!({"code": code, "device_id": device, "branch": "الأفلاج"}))
            .send()
    };
    let first: Value = enrol().await.unwrap().json().await.unwrap();
    let token = first["token"].as_str().unwrap().to_owned();
    // The answer was lost: the same device asks again before it synced, and gets the same one.
    let again: Value = enrol().await.unwrap().json().await.unwrap();
    assert_eq!(again["token"].as_str(), Some(token.as_str()));
    // The device syncs with its credential.
    let pull = || {
        http.get(format!("{}/v1/pull?after=0&own=0", s.url))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(pull().await.unwrap().status().as_u16(), 200);
    // From now on the code is spent, even for that device.
    let r = enrol().await.unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], json!("code_used"));
    assert!(
        body.get("token").is_none() && !text.contains(&token),
        "{text}"
    );
    // The credential itself still works.
    assert_eq!(pull().await.unwrap().status().as_u16(), 200);
}

/// The rule behind the HTTP test above, on the store of this run's engine: the credential's
/// first use spends the code; a device given a new code starts afresh with it; the first use is
/// the one kept.
#[test]
fn an_enrolment_code_is_spent_by_its_credentials_first_use() {
    let (_dir, hq, raw) = support::open();
    let t0 = Utc::now();
    let device = sila_domain::ids::DeviceId::new_v7().to_string();
    let req = |code: &str, device: &str| sila_proto::EnrollRequest {
        code: code.into(),
        device_id: device.into(),
        branch: "الأفلاج".into(),
    };
    let code = support::enrol_code(&hq, "الأفلاج", t0);
    let first = hq.enroll(&req(&code, &device), t0).unwrap();
    assert_eq!(
        hq.enroll(&req(&code, &device), t0).unwrap().token,
        first.token,
        "a repeat before any use gets the same credential"
    );
    hq.authenticate(&first.token, t0).unwrap();
    let used_at = || {
        raw.text(
            "SELECT credential_used_at FROM devices WHERE device_id = ?1",
            sila_hq::params![&device],
        )
    };
    let first_use = used_at();
    hq.authenticate(&first.token, t0 + chrono::Duration::minutes(5))
        .unwrap();
    assert_eq!(used_at(), first_use, "the first use is kept");
    assert!(matches!(
        hq.enroll(&req(&code, &device), t0),
        Err(HqError::CodeUsed)
    ));
    let other = sila_domain::ids::DeviceId::new_v7().to_string();
    assert!(matches!(
        hq.enroll(&req(&code, &other), t0),
        Err(HqError::CodeUsed)
    ));
    // The device lost its credential and is given a new code: a new credential, unused, so a
    // repeat of that enrolment works until the device uses it.
    let code2 = support::enrol_code(&hq, "الأفلاج", t0);
    let second = hq.enroll(&req(&code2, &device), t0).unwrap();
    assert_ne!(second.token, first.token);
    assert!(matches!(
        hq.authenticate(&first.token, t0),
        Err(HqError::Unauthorized)
    ));
    assert_eq!(
        hq.enroll(&req(&code2, &device), t0).unwrap().token,
        second.token
    );
    hq.authenticate(&second.token, t0).unwrap();
    assert!(matches!(
        hq.enroll(&req(&code2, &device), t0),
        Err(HqError::CodeUsed)
    ));
    assert!(matches!(
        hq.enroll(&req(&code, &device), t0),
        Err(HqError::CodeUsed)
    ));
}

/// A knowledge-base document with a one-pixel PNG attached: the PNG and its SHA-256 (hex), the
/// address devices and the console read it at.
fn published_png(hq: &Hq) -> (&'static [u8], String) {
    let png = sila_store::demo::PNG_1X1;
    hq.publish_document(
        "دليل",
        "",
        Some((png, "image/png")),
        &sila_hq::HqActor::command_line(),
        Utc::now(),
    )
    .unwrap();
    (
        png,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(png)),
    )
}

#[tokio::test]
async fn download_and_upload_offsets_outside_a_file_are_bad_requests() {
    let s = Server::start().await;
    let token = support::enrol(&s.hq, "الأفلاج", Utc::now()).token;
    let (png, sha) = published_png(&s.hq);
    let http = device_http();
    let get = |offset: String| {
        http.get(format!("{}/v1/attachments/{sha}?offset={offset}", s.url))
            .bearer_auth(&token)
            .send()
    };
    let whole = get("0".into()).await.unwrap();
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), png);
    for offset in [
        i64::MAX,
        i64::MIN,
        -1,
        sila_hq::rules::ops::MAX_ATTACHMENT + 1,
    ] {
        let r = get(offset.to_string()).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "offset {offset}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], json!("bad_request"), "offset {offset}");
    }
    for offset in [i64::MAX, -1] {
        let r = http
            .put(format!("{}/v1/attachments/{sha}?offset={offset}", s.url))
            .bearer_auth(&token)
            .body(vec![0u8; 16])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "upload offset {offset}");
    }
    // The server is fine afterwards.
    assert_eq!(get("0".into()).await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn an_attachment_keeps_its_sandbox_policy() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let (_, sha) = published_png(&s.hq);
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    let r = c.fetch(&format!("/attachments/{sha}")).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-security-policy"], "sandbox");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    // Every other answer keeps the console's own policy.
    let r = c.fetch("/me").await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
}

#[tokio::test]
async fn a_branch_account_never_gets_an_hq_role_at_hq() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    support::enrol_code(&s.hq, "الأفلاج", Utc::now());
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    for roles in [json!(["committee"]), json!(["researcher", "hq_staff"])] {
        let (st, body) = c
            .post(
                "/branch-staff",
                json!({"branch": "الأفلاج", "username": "huda", "display_name": "هدى",
                       "roles": roles, "active": true}),
                true,
            )
            .await;
        assert_eq!((st.as_u16(), body["code"].as_str()), (400, Some("hq_role")));
    }
    let (_, rows) = c.get("/branch-staff").await;
    assert_eq!(rows["rows"], json!([]), "nothing was written");
    let (st, _) = c
        .post(
            "/branch-staff",
            json!({"branch": "الأفلاج", "username": "huda", "display_name": "هدى",
                   "roles": ["researcher"], "active": true}),
            true,
        )
        .await;
    assert_eq!(st.as_u16(), 200);
    // The store refuses it too, whoever calls it.
    let account = sila_domain::staff::StaffAccount {
        id: sila_domain::ids::StaffId::new_v7(),
        username: "amal".into(),
        display_name: "أمل".into(),
        roles: vec![sila_domain::staff::Role::Committee],
        branch: "الأفلاج".into(),
        active: true,
    };
    assert!(matches!(
        s.hq.upsert_branch_staff(&account, &sila_hq::HqActor::command_line(), Utc::now()),
        Err(HqError::Refused(Code::HqRole))
    ));
}

/// A server with short timeouts, so the test waits seconds, not minutes, for what production
/// does in the same way with [`Timeouts::default`].
async fn start_with(
    timeouts: Timeouts,
) -> (
    String,
    Arc<Hq>,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let hq = Arc::new(Hq::open(sila_hq::testing::fresh_db(dir.path())).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let store: Arc<dyn HqStore> = hq.clone();
    tokio::spawn(sila_hq::server::serve_with(
        listener,
        store,
        None,
        async move {
            let _ = rx.await;
        },
        timeouts,
    ));
    (addr, hq, tx, dir)
}

/// Read until the server closes the connection; false if it is still open at the deadline.
async fn closed_by(stream: &mut tokio::net::TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_and_stalled_connections_are_let_go() {
    let timeouts = Timeouts {
        header_read: Duration::from_secs(1),
        body_idle: Duration::from_secs(1),
        request: Duration::from_secs(2),
    };
    let (addr, hq, _stop, _dir) = start_with(timeouts).await;
    let token = support::enrol(&hq, "الأفلاج", Utc::now()).token;
    let mut conns = Vec::new();
    // 300 connections: half say nothing, half stop in the middle of their headers.
    for i in 0..300 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: hq\r\nX-Slow: ")
                .await
                .unwrap();
        }
        conns.push(c);
    }
    // A push stream that stalls half-way through a frame, with a real credential.
    let mut push = tokio::net::TcpStream::connect(&addr).await.unwrap();
    push.write_all(
        format!(
            "POST /v1/push HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {token}\r\n{}: {}\r\n\
             Content-Type: {}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n",
            sila_proto::PROTOCOL_HEADER,
            sila_proto::PROTOCOL,
            sila_proto::PUSH_STREAM
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The start of a zstd frame, and then nothing.
    push.write_all(b"\x28\xb5\x2f\xfd\x00\r\n").await.unwrap();
    // An upload chunk that promises 1000 bytes and sends 10.
    let sha = "0".repeat(64);
    let mut upload = tokio::net::TcpStream::connect(&addr).await.unwrap();
    upload
        .write_all(
            format!(
                "PUT /v1/attachments/{sha}?offset=0 HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {token}\r\n\
                 {}: {}\r\nContent-Length: 1000\r\n\r\n0123456789",
                sila_proto::PROTOCOL_HEADER,
                sila_proto::PROTOCOL
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    conns.push(push);
    conns.push(upload);
    // Each is let go well within a minute (here: the short timeouts above, a few seconds).
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, c) in conns.iter_mut().enumerate() {
        assert!(closed_by(c, deadline).await, "connection {i} is still held");
    }
    // And the server still answers.
    let r = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Production's limits are of the same kind, and well under the 45 s the issue saw held.
    let d = Timeouts::default();
    assert!(d.header_read < Duration::from_secs(45) && d.body_idle < Duration::from_secs(300));
}

#[tokio::test]
async fn enrolment_logs_no_client_text() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sila-hq"))
        .arg("--db")
        .arg(sila_hq::testing::fresh_db(dir.path()))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SILA_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let http = device_http();
    for device_id in [
        "not-a-uuid\nFORGED-LINE level=ERROR admin password reset".to_owned(),
        format!("{}\r\nFORGED-LINE", sila_domain::ids::DeviceId::new_v7()),
        "X".repeat(100_000),
    ] {
        let r = http
            .post(format!("{url}/v1/enroll"))
            .json(&json!({"code": "AAAA-BBBB-CCCC", "device_id": device_id, "branch": "الأفلاج"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
    }
    // A last, well-formed request, so its log line says the others have been written.
    let marker = sila_domain::ids::DeviceId::new_v7().to_string();
    http.post(format!("{url}/v1/enroll"))
        .json(&json!({"code": "AAAA-BBBB-CCCC", "device_id": marker, "branch": "الأفلاج"}))
        .send()
        .await
        .unwrap();
    let mut refusals = 0;
    let mut bytes = 0;
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server logs the refusal")
            .unwrap()
            .expect("the server is running");
        bytes += line.len();
        assert!(
            !line.contains("FORGED") && !line.contains("not-a-uuid") && !line.contains("XXXX"),
            "client text in the log: {line}"
        );
        if line.contains("enrolment refused") {
            refusals += 1;
        }
        if line.contains(&marker) {
            break;
        }
    }
    assert_eq!(refusals, 4);
    assert!(bytes < 4096, "{bytes} bytes of log for four refusals");
    child.kill().await.unwrap();
}
