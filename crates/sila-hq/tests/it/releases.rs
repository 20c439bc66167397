//! Releases of the desktop app (issue 13.2): HQ publishes only a package whose signature
//! verifies against its update key, offers the newest release to a device that runs an older
//! version, serves it in chunks from any offset, shows which version each device runs, and
//! keeps what a device reported about a package it refused. Through the store, the command
//! line's path, and the console's and devices' HTTP endpoints on a real server.

use crate::support::{self, Client, PW, Server};
use chrono::Utc;
use serde_json::Value;
use sila_hq::Hq;
use sila_hq::console::ConsoleRole;
use sila_hq::store::HqStore;
use sila_proto::release::UpdateKey;

const KEY: &str = include_str!("../../../../tests/fixtures/update/test-key.pub");
const OTHER: &str = include_str!("../../../../tests/fixtures/update/other-key.pub");
/// `tauri signer sign`'s signature of [`package`] by the test key.
const SIG: &str = include_str!("../../../../tests/fixtures/update/release-300k.sig");

/// The fixture package (300,000 bytes anyone can remake).
fn package() -> Vec<u8> {
    (0..300_000u64).map(|i| ((i * 7919) % 251) as u8).collect()
}

fn keyed(hq: Hq) -> Hq {
    hq.with_update_key(UpdateKey::decode(KEY).unwrap())
}

#[tokio::test]
async fn only_a_package_signed_with_the_update_key_is_published() {
    let s = Server::start_with(keyed).await;
    let now = Utc::now();
    let code = |r: Result<sila_proto::Release, sila_hq::HqError>| r.unwrap_err().code().as_str();
    // Tampered: one byte changed after signing.
    let mut tampered = package();
    tampered[200_000] ^= 0x40;
    assert_eq!(
        code(s.hq.publish_release(
            "0.2.0",
            &tampered,
            SIG,
            &sila_hq::HqActor::command_line(),
            now
        )),
        "update_bad_signature"
    );
    assert_eq!(
        code(s.hq.publish_release(
            "0.2.0",
            &package(),
            "garbage",
            &sila_hq::HqActor::command_line(),
            now
        )),
        "update_bad_signature_format"
    );
    assert_eq!(
        code(s.hq.publish_release(
            "0.2",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            now
        )),
        "update_bad_version"
    );
    assert!(
        s.hq.releases().unwrap().is_empty(),
        "nothing refused was stored"
    );
    let r =
        s.hq.publish_release(
            "0.2.0",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            now,
        )
        .unwrap();
    assert_eq!(r.size, 300_000);
    assert_eq!(
        code(s.hq.publish_release(
            "0.2.0",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            now
        )),
        "release_exists"
    );
    // Signed by another key than HQ's, or no key configured: refused.
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let other = Hq::open(&db)
        .unwrap()
        .with_update_key(UpdateKey::decode(OTHER).unwrap());
    assert_eq!(
        code(other.publish_release(
            "0.2.0",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            now
        )),
        "update_bad_signature"
    );
    let none = Hq::open(&db).unwrap();
    assert_eq!(
        code(none.publish_release(
            "0.2.0",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            now
        )),
        "no_update_key"
    );
}

#[tokio::test]
async fn a_device_is_offered_only_a_newer_release_and_its_version_is_shown() {
    let s = Server::start_with(keyed).await;
    let (d, _) = support::device(&s.hq, "الأفلاج", Utc::now());
    assert_eq!(s.hq.release_for(&d, Some("0.1.0")).unwrap(), None);
    s.hq.publish_release(
        "0.2.0",
        &package(),
        SIG,
        &sila_hq::HqActor::command_line(),
        Utc::now(),
    )
    .unwrap();
    let offered = s.hq.release_for(&d, Some("0.1.0")).unwrap().unwrap();
    assert_eq!(offered.version, "0.2.0");
    let info = s.hq.devices().unwrap();
    assert_eq!(info[0].app_version.as_deref(), Some("0.1.0"));
    assert_eq!(s.hq.release_for(&d, Some("0.2.0")).unwrap(), None);
    assert_eq!(s.hq.release_for(&d, Some("0.10.0")).unwrap(), None);
    let info = s.hq.devices().unwrap();
    assert_eq!(info[0].app_version.as_deref(), Some("0.10.0"));
    // The package comes back whole from any offsets, chunk by chunk.
    let mut got = Vec::new();
    while got.len() < 300_000 {
        let c =
            s.hq.release_chunk(&d, &offered.sha256, got.len() as i64, 50_000)
                .unwrap();
        assert!(!c.is_empty() && c.len() <= 50_000);
        got.extend(c);
    }
    assert_eq!(got, package());
    assert!(
        s.hq.release_chunk(&d, &offered.sha256, 300_000, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.hq.release_chunk(&d, &offered.sha256, 300_001, 10)
            .unwrap_err()
            .code()
            .as_str(),
        "bad_request"
    );
}

#[tokio::test]
async fn the_console_publishes_a_release_and_shows_each_devices_version_and_report() {
    let s = Server::start_with(keyed).await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let (_, token) = support::device(&s.hq, "الأفلاج", Utc::now());
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    let publish = |body: Vec<u8>, sig: &'static str, csrf: bool| {
        let mut req = c
            .http
            .post(format!("{}/console/api/releases?version=0.2.0", c.url))
            .header("cookie", &c.cookie)
            .header("x-release-signature", sig.trim())
            .body(body);
        if csrf {
            req = req.header("x-csrf-token", &c.csrf);
        }
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(
        publish(package(), SIG, false).await.0,
        403,
        "no CSRF token, no change"
    );
    let mut tampered = package();
    tampered[7] ^= 1;
    let (st, body) = publish(tampered, SIG, true).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (400, Some("update_bad_signature"))
    );
    let (st, body) = publish(package(), SIG, true).await;
    assert_eq!(st, 200, "{body}");
    let (_, list) = c.get("/releases").await;
    assert_eq!(list["releases"][0]["version"], "0.2.0");
    // The device syncs naming its version: the pull answer names the newer release, and the
    // devices page shows the version.
    let http = reqwest::Client::new();
    let pull: Value = http
        .get(format!("{}/v1/pull?after=0&own=0", s.url))
        .bearer_auth(&token)
        .header(sila_proto::PROTOCOL_HEADER, sila_proto::PROTOCOL)
        .header(sila_proto::APP_VERSION_HEADER, "0.1.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pull["release"]["version"], "0.2.0");
    assert_eq!(pull["release"]["size"], 300_000);
    // It refuses the package and says so: the devices page shows it.
    let r = http
        .post(format!("{}/v1/releases/report", s.url))
        .bearer_auth(&token)
        .header(sila_proto::PROTOCOL_HEADER, sila_proto::PROTOCOL)
        .json(&sila_proto::ReleaseReport {
            version: "0.2.0".into(),
            sha256: pull["release"]["sha256"].as_str().unwrap().into(),
            outcome: "update_hash_mismatch".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, devices) = c.get("/devices").await;
    let d = &devices["devices"][0];
    assert_eq!(d["app_version"], "0.1.0");
    assert_eq!(d["update_version"], "0.2.0");
    assert_eq!(d["update_outcome"], "update_hash_mismatch");
    // A report is a code, never free text a device could write into HQ's log.
    let r = http
        .post(format!("{}/v1/releases/report", s.url))
        .bearer_auth(&token)
        .header(sila_proto::PROTOCOL_HEADER, sila_proto::PROTOCOL)
        .json(&serde_json::json!({"version": "0.2.0", "sha256": "x", "outcome": "bad\nline"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (_, audit) = c.get("/audit").await;
    assert!(audit.to_string().contains("release.publish"));
}

#[tokio::test]
async fn a_release_over_the_limit_is_refused_with_a_code_before_its_body_is_read() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start_with(keyed).await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    // The head says one byte over 256 MiB and no byte of the body follows: the answer can only
    // come from the Content-Length.
    let addr = s.url.strip_prefix("http://").unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!(
            "POST /console/api/releases?version=0.2.0 HTTP/1.1\r\nHost: {addr}\r\n\
             Cookie: {}\r\nX-CSRF-Token: {}\r\nX-Release-Signature: {}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            c.cookie,
            c.csrf,
            SIG.trim().replace('\n', ""),
            (256u64 << 20) + 1
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let whole = |a: &[u8]| {
        let Some(end) = a.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&a[..end]).to_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        length.is_some_and(|n| a.len() >= end + 4 + n)
    };
    while !whole(&answer) {
        let n = tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf))
            .await
            .expect("an answer without the body")
            .unwrap();
        assert!(n > 0, "closed without a whole answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer}"));
    assert_eq!(body["code"], "too_large", "{answer}");
    assert_eq!(
        body["message"],
        sila_hq::error::Code::TooLarge.arabic(),
        "{answer}"
    );
    // Nothing was published, and a package within the limit still is.
    let (_, list) = c.get("/releases").await;
    assert_eq!(list["releases"].as_array().map(Vec::len), Some(0), "{list}");
    let r = c
        .http
        .post(format!("{}/console/api/releases?version=0.2.0", c.url))
        .header("cookie", &c.cookie)
        .header("x-csrf-token", &c.csrf)
        .header("x-release-signature", SIG.trim())
        .body(package())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
