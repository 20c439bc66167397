//! The command bodies against a real store in a temporary folder, with no window around them.

use crate::api;
use crate::dto::*;
use crate::state::Desk;
use std::time::Duration;

/// A real PNG (1×1) and the start of a PDF: the store only accepts images and PDFs.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];
const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

fn desk() -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path().join("store"), Duration::from_secs(600), None);
    api::first_run(
        &desk,
        FirstRunInput {
            branch: "الأفلاج".into(),
            username: "admin".into(),
            display_name: "نورة العتيبي".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    (dir, desk)
}

pub(crate) fn sign_in(
    desk: &Desk,
    username: &str,
    password: &str,
) -> Result<SessionInfo, ApiError> {
    api::sign_in(
        desk,
        SignInInput {
            username: username.into(),
            password: password.into(),
        },
    )
}

pub(crate) fn full_draft(desk: &Desk) -> IntakeDraft {
    let id_scan = api::upload(desk, PNG.to_vec()).unwrap().sha256;
    let card = api::upload(desk, PDF.to_vec()).unwrap().sha256;
    let signature = api::upload(desk, PNG.to_vec()).unwrap().sha256;
    IntakeDraft {
        step: 7,
        channel: "interview".into(),
        reason: "طلب سلة غذائية".into(),
        identity: IdentityForm {
            first: "محمد".into(),
            father: "عبدالله".into(),
            grandfather: "سعد".into(),
            family: "الدوسري".into(),
            national_id: "1000000008".into(),
            mobile: "0551234567".into(),
            birth_date: "1410/05/12".into(),
            ..Default::default()
        },
        household: ["فاطمة", "عبدالرحمن", "سارة"]
            .iter()
            .zip(["spouse", "son", "daughter"])
            .map(|(n, r)| MemberForm {
                name: n.to_string(),
                relation: r.into(),
                ..Default::default()
            })
            .collect(),
        support_type: "food_basket".into(),
        need: "سلة غذائية شهرية".into(),
        documents: vec![
            DocumentForm {
                code: "national_id".into(),
                attachment: Some(id_scan),
                seen_in_original: true,
                ..Default::default()
            },
            DocumentForm {
                code: "family_card".into(),
                attachment: Some(card),
                seen_in_original: true,
                ..Default::default()
            },
        ],
        signature_kind: "drawn".into(),
        signature_attachment: Some(signature),
        ..Default::default()
    }
}

#[test]
fn an_intake_goes_from_draft_to_committee() {
    let (_dir, desk) = desk();
    let draft = full_draft(&desk);
    for step in 0..8 {
        assert_eq!(
            api::validate_intake(&desk, draft.clone(), step)
                .unwrap()
                .len(),
            0,
            "step {step}"
        );
    }
    let id = api::save_intake_draft(&desk, None, draft.clone()).unwrap();
    assert_eq!(api::intake_draft(&desk, id.clone()).unwrap(), draft);
    let receipt = api::submit_intake(&desk, id.clone()).unwrap();
    assert!(
        receipt.case_number.ends_with("-000001"),
        "{}",
        receipt.case_number
    );
    assert!(!receipt.promised_reply_date.is_empty());
    assert_eq!(
        api::intake_draft(&desk, id).unwrap_err().code,
        "not_found",
        "the draft is gone once submitted"
    );
    assert!(api::intake_drafts(&desk).unwrap().is_empty());

    // Found again under another spelling.
    let hits = api::search(&desk, "محمد عبد الله الدوسرى".into(), 10).unwrap();
    assert_eq!(
        hits.first().map(|h| h.national_id.clone()),
        Some(Some("1000000008".into()))
    );

    let file = api::case_file(&desk, receipt.case_id.clone()).unwrap();
    assert_eq!(file.case.state, "submitted");
    assert_eq!(file.beneficiary.household.len(), 3);
    let codes: Vec<&str> = file.actions.iter().map(|a| a.code.as_str()).collect();
    assert!(codes.contains(&"refer_to_research"), "{codes:?}");
    assert!(!codes.contains(&"approve"), "decisions are HQ's: {codes:?}");

    let t = |tr: &str, note: &str| {
        api::transition(
            &desk,
            TransitionInput {
                case_id: receipt.case_id.clone(),
                transition: tr.into(),
                note: note.into(),
            },
        )
    };
    let refused = t("refer_to_research", "").unwrap_err();
    assert_eq!(refused.code, "note_required");
    assert_eq!(refused.fields[0].field, "note");
    t("refer_to_research", "يحتاج زيارة").unwrap();
    api::research_report(
        &desk,
        ReportInput {
            case_id: receipt.case_id.clone(),
            text: "زيارة منزلية".into(),
            recommendation: "القبول".into(),
        },
    )
    .unwrap();
    t("research_done", "").unwrap();
    t("send_to_committee", "").unwrap();
    let file = api::case_file(&desk, receipt.case_id.clone()).unwrap();
    assert_eq!(file.case.state, "in_committee");
    let kinds: Vec<&str> = file.timeline.iter().map(|e| e.code.as_str()).collect();
    for k in [
        "submit",
        "refer_to_research",
        "research_report",
        "send_to_committee",
        "inquiry",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }

    let page = api::cases_page(
        &desk,
        CaseQuery {
            state: Some("in_committee".into()),
            promise: Some("on_track".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.rows[0].promise.as_deref(), Some("on_track"));
}

/// A request returned as incomplete carries the note that returned it, and what its checklist
/// still lacks, until it is resubmitted.
#[test]
fn a_returned_request_carries_its_note_and_what_it_lacks_until_resubmitted() {
    let (_dir, desk) = desk();
    let draft = api::save_intake_draft(&desk, None, full_draft(&desk)).unwrap();
    let case_id = api::submit_intake(&desk, draft).unwrap().case_id;
    let file = || api::case_file(&desk, case_id.clone()).unwrap();
    let t = |tr: &str, note: &str| {
        api::transition(
            &desk,
            TransitionInput {
                case_id: case_id.clone(),
                transition: tr.into(),
                note: note.into(),
            },
        )
        .unwrap()
    };
    assert_eq!(file().returned.map(|r| r.note), None);
    t(
        "return_incomplete",
        "صورة سجل الأسرة غير واضحة، أرفق صورة أوضح",
    );
    let returned = file().returned.expect("the return's note");
    assert_eq!(returned.note, "صورة سجل الأسرة غير واضحة، أرفق صورة أوضح");
    assert_eq!(returned.actor, "نورة العتيبي");
    assert!(returned.missing.is_empty(), "{:?}", returned.missing);
    api::mark_document_seen(&desk, case_id.clone(), "family_card".into(), false).unwrap();
    assert_eq!(file().returned.unwrap().missing, ["family_card"]);
    api::mark_document_seen(&desk, case_id.clone(), "family_card".into(), true).unwrap();
    t("resubmit", "");
    assert_eq!(file().case.state, "submitted");
    assert_eq!(
        file().returned.map(|r| r.note),
        None,
        "gone once resubmitted"
    );
}

#[test]
fn submission_problems_come_back_per_field_and_create_nothing() {
    let (_dir, desk) = desk();
    let mut draft = full_draft(&desk);
    draft.identity.id_expiry = "2001-01-01".into();
    draft.identity.national_id = "1000000009".into();
    let id = api::save_intake_draft(&desk, None, draft).unwrap();
    let e = api::submit_intake(&desk, id.clone()).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    assert!(fields.contains(&"identity.national_id"), "{fields:?}");
    assert!(fields.contains(&"identity.id_expiry"), "{fields:?}");
    assert!(e.fields.iter().all(|f| !f.message.is_empty()));
    assert_eq!(api::home(&desk).unwrap().beneficiaries, 0);
    assert!(
        api::intake_draft(&desk, id).is_ok(),
        "the draft stays to be fixed"
    );
}

/// The wizard's steps and the submission find the same problems, with the domain's codes: one
/// rule (`Intake::problems`), asked a step at a time or all at once.
#[test]
fn the_wizard_and_the_submission_report_the_same_problems() {
    let (_dir, desk) = desk();
    let mut draft = full_draft(&desk);
    draft.need = " ".into();
    draft.documents[0].seen_in_original = false;
    draft.documents[1].attachment = None;
    draft.signature_attachment = None;
    let problems = |step: u8| -> Vec<(String, String)> {
        api::validate_intake(&desk, draft.clone(), step)
            .unwrap()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    };
    let pair = |f: &str, c: &str| (f.to_owned(), c.to_owned());
    assert_eq!(problems(4), [pair("need", "need_missing")]);
    assert_eq!(
        problems(5),
        [
            pair("documents.national_id", "document_not_seen"),
            pair("documents.family_card", "document_missing")
        ]
    );
    assert_eq!(problems(6), [pair("signature", "declaration_missing")]);
    let every: Vec<(String, String)> = [4, 5, 6].into_iter().flat_map(problems).collect();

    let id = api::save_intake_draft(&desk, None, draft.clone()).unwrap();
    let e = api::submit_intake(&desk, id.clone()).unwrap_err();
    let refused: Vec<(String, String)> = e.fields.into_iter().map(|p| (p.field, p.code)).collect();
    assert_eq!(refused, every);
    assert_eq!(api::intake_draft(&desk, id).unwrap(), draft);
    assert_eq!(api::home(&desk).unwrap().cases, 0);
}

/// Compaction swaps the store's file under a running app: the sync worker is stopped for it and
/// comes back on the new file, and the desk goes on where it was.
#[test]
fn an_administrator_compacts_the_store_while_the_app_runs() {
    let (_dir, desk) = desk();
    let id = api::save_intake_draft(&desk, None, full_draft(&desk)).unwrap();
    api::submit_intake(&desk, id).unwrap();
    assert!(desk.sync_live().is_some());

    let done = api::compact_store(&desk).unwrap();

    assert!(done.after_bytes > 0 && done.after_bytes <= done.before_bytes);
    assert!(api::compact_progress(&desk).unwrap().is_none());
    assert!(desk.sync_live().is_some(), "the sync worker runs again");
    assert_eq!(api::home(&desk).unwrap().cases, 1);
    assert_eq!(api::search(&desk, "الدوسري".into(), 10).unwrap().len(), 1);
    // And it writes to the new file: a draft saved now is there to read back.
    let id = api::save_intake_draft(&desk, None, full_draft(&desk)).unwrap();
    assert!(api::intake_draft(&desk, id).is_ok());
}

#[test]
fn signing_out_and_idling_lock_the_store() {
    let (_dir, desk) = desk();
    assert!(api::app_status(&desk).unwrap().session.is_some());
    api::sign_out(&desk).unwrap();
    assert_eq!(api::home(&desk).unwrap_err().code, "locked");
    let e = sign_in(&desk, "admin", "wrong-password").unwrap_err();
    assert_eq!(e.code, "wrong_password");
    sign_in(&desk, "admin", "sila-pass-1234").unwrap();
    assert!(api::home(&desk).is_ok());

    let idle = Desk::new(desk.dir.clone(), Duration::ZERO, None);
    sign_in(&idle, "admin", "sila-pass-1234").unwrap();
    assert!(idle.lock_if_idle());
    assert_eq!(api::home(&idle).unwrap_err().code, "locked");
}

#[test]
fn each_person_has_their_own_drafts_several_at_once() {
    let (_dir, desk) = desk();
    api::add_staff(
        &desk,
        StaffInput {
            username: "sara".into(),
            display_name: "سارة الحربي".into(),
            roles: vec!["representative".into()],
            password: "sara-pass-1234".into(),
        },
    )
    .unwrap();
    // Two applicants at once: the first is interrupted by the second.
    let mut first = IntakeDraft {
        step: 2,
        channel: "interview".into(),
        ..Default::default()
    };
    first.identity.first = "خالد".into();
    first.identity.family = "القحطاني".into();
    let a = api::save_intake_draft(&desk, None, first.clone()).unwrap();
    let b = api::save_intake_draft(
        &desk,
        None,
        IntakeDraft {
            query: "منيرة".into(),
            step: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(a, b);
    first.identity.national_id = "2000000002".into();
    api::save_intake_draft(&desk, Some(a.clone()), first.clone()).unwrap();
    let home = api::home(&desk).unwrap();
    let names: Vec<(&str, &str, u8)> = home
        .drafts
        .iter()
        .map(|d| (d.name.as_str(), d.query.as_str(), d.step))
        .collect();
    assert_eq!(names, [("خالد القحطاني", "", 2), ("", "منيرة", 1)]);

    // Another account on the same laptop sees none of them, and cannot open or overwrite one.
    sign_in(&desk, "sara", "sara-pass-1234").unwrap();
    assert!(api::home(&desk).unwrap().drafts.is_empty());
    assert_eq!(
        api::intake_draft(&desk, a.clone()).unwrap_err().code,
        "not_found"
    );
    assert_eq!(
        api::save_intake_draft(&desk, Some(a.clone()), IntakeDraft::default())
            .unwrap_err()
            .code,
        "not_found"
    );
    assert_eq!(
        api::submit_intake(&desk, a.clone()).unwrap_err().code,
        "not_found"
    );

    // They survive signing out; a discard can be undone; a hand-over moves one to a colleague.
    sign_in(&desk, "admin", "sila-pass-1234").unwrap();
    assert_eq!(api::intake_draft(&desk, a.clone()).unwrap(), first);
    api::discard_intake_draft(&desk, b.clone()).unwrap();
    assert_eq!(api::intake_drafts(&desk).unwrap().len(), 1);
    api::restore_intake_draft(&desk, b.clone()).unwrap();
    assert_eq!(api::intake_drafts(&desk).unwrap().len(), 2);
    assert!(
        api::colleagues(&desk)
            .unwrap()
            .iter()
            .any(|c| c.username == "sara")
    );
    api::hand_over_draft(&desk, a.clone(), "sara".into()).unwrap();
    assert_eq!(api::intake_drafts(&desk).unwrap().len(), 1);
    sign_in(&desk, "sara", "sara-pass-1234").unwrap();
    let hers = api::intake_drafts(&desk).unwrap();
    assert_eq!(hers.len(), 1);
    assert_eq!(hers[0].id, a);
    assert_eq!(hers[0].handed_by.as_deref(), Some("نورة العتيبي"));
    assert_eq!(api::intake_draft(&desk, a).unwrap(), first);
}

#[test]
fn administrators_manage_staff_and_the_knowledge_base() {
    let (_dir, desk) = desk();
    api::add_staff(
        &desk,
        StaffInput {
            username: "sara".into(),
            display_name: "سارة".into(),
            roles: vec!["researcher".into()],
            password: "short".into(),
        },
    )
    .map(|_| ())
    .expect_err("a short password is refused");
    api::add_staff(
        &desk,
        StaffInput {
            username: "sara".into(),
            display_name: "سارة".into(),
            roles: vec!["researcher".into()],
            password: "researcher-1234".into(),
        },
    )
    .unwrap();
    api::set_staff_roles(
        &desk,
        "sara".into(),
        vec!["researcher".into(), "representative".into()],
    )
    .unwrap();
    // The Staff screen offers the branch roles only, and HQ roles are refused however they come.
    let offered: Vec<String> = api::catalog(&desk)
        .unwrap()
        .roles
        .into_iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(offered, ["representative", "researcher", "admin"]);
    for hq in ["committee", "hq_staff"] {
        let e = api::set_staff_roles(&desk, "sara".into(), vec!["researcher".into(), hq.into()])
            .unwrap_err();
        assert_eq!(
            (e.fields[0].field.as_str(), e.fields[0].code.as_str()),
            ("roles", "hq_role")
        );
        let e = api::add_staff(
            &desk,
            StaffInput {
                username: format!("{hq}-member"),
                display_name: "عضو".into(),
                roles: vec![hq.into()],
                password: "committee-1234".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.fields[0].code, "hq_role");
    }
    api::reset_password(&desk, "sara".into(), "another-pass-99".into()).unwrap();
    api::set_staff_active(&desk, "sara".into(), false, None).unwrap();
    let staff = api::staff(&desk).unwrap();
    let sara = staff.iter().find(|s| s.username == "sara").unwrap();
    assert!(!sara.active);
    assert_eq!(sara.roles.len(), 2);

    api::add_kb_document(
        &desk,
        KbInput {
            title: "دليل البحث الاجتماعي".into(),
            body: "خطوات الزيارة المنزلية".into(),
            attachment: None,
        },
    )
    .unwrap();
    assert_eq!(api::kb_documents(&desk).unwrap().len(), 1);
}

// ---- background sync against the real HQ server on port 0 ----

pub(crate) mod sync_with_hq {
    use super::*;
    use crate::sync::SyncConfig;
    use sila_hq::HqActor;
    use sila_hq::store::HqStore;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Instant;

    /// A real `sila-hq` server (the library the binary runs) on 127.0.0.1, on its own runtime.
    pub(crate) struct Hq {
        rt: tokio::runtime::Runtime,
        pub(crate) store: Arc<sila_hq::Hq>,
        addr: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
        _dir: tempfile::TempDir,
    }

    impl Hq {
        pub(crate) fn start() -> Hq {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(sila_hq::Hq::open(dir.path().join("hq.db")).unwrap());
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let addr = listener.local_addr().unwrap();
            let mut hq = Hq {
                rt,
                store,
                addr,
                stop: None,
                task: None,
                _dir: dir,
            };
            hq.serve(listener);
            hq
        }

        fn serve(&mut self, listener: tokio::net::TcpListener) {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let store: Arc<dyn HqStore> = self.store.clone();
            self.task = Some(
                self.rt
                    .spawn(sila_hq::serve(listener, store, None, async move {
                        let _ = rx.await;
                    })),
            );
            self.stop = Some(tx);
        }

        /// Take HQ off the network (graceful: the request in hand is finished).
        pub(crate) fn down(&mut self) {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
            if let Some(t) = self.task.take() {
                self.rt.block_on(t).unwrap().unwrap();
            }
        }

        /// Back on the same address, as when the link returns.
        pub(crate) fn up(&mut self) {
            let listener = self
                .rt
                .block_on(tokio::net::TcpListener::bind(self.addr))
                .unwrap();
            self.serve(listener);
        }

        pub(crate) fn url(&self) -> String {
            format!("http://{}", self.addr)
        }

        pub(crate) fn cases(&self) -> Vec<(String, String)> {
            self.store.case_states("الأفلاج").unwrap()
        }

        /// Publish the test fixture (tests/fixtures/update) as release 0.2.0, as
        /// `sila-hq publish-release` would: the same database, opened with the update key.
        pub(crate) fn publish_fixture_release(&self) {
            let key = sila_sync::proto::release::UpdateKey::decode(UPDATE_KEY).unwrap();
            let package: Vec<u8> = (0..300_000u64).map(|i| ((i * 7919) % 251) as u8).collect();
            sila_hq::Hq::open(self._dir.path().join("hq.db"))
                .unwrap()
                .with_update_key(key)
                .publish_release(
                    "0.2.0",
                    &package,
                    UPDATE_SIG,
                    &sila_hq::HqActor::command_line(),
                    chrono::Utc::now(),
                )
                .unwrap();
        }
    }

    const UPDATE_KEY: &str = include_str!("../../tests/fixtures/update/test-key.pub");
    const OTHER_KEY: &str = include_str!("../../tests/fixtures/update/other-key.pub");
    const UPDATE_SIG: &str = include_str!("../../tests/fixtures/update/release-300k.sig");

    /// An enrolled desk whose app is version 0.1.0 and carries `key`.
    fn desk_with_updates(hq: &Hq, key: &str) -> (tempfile::TempDir, Desk) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SyncConfig {
            updates: Some(crate::sync::Updates {
                version: "0.1.0".into(),
                dir: dir.path().join("store/updates"),
                key: sila_sync::proto::release::UpdateKey::decode(key).ok(),
            }),
            ..quick()
        };
        let desk = Desk::new(dir.path().join("store"), Duration::from_secs(600), None)
            .with_sync_config(cfg)
            .with_version("0.1.0".into());
        api::first_run(
            &desk,
            FirstRunInput {
                branch: "الأفلاج".into(),
                username: "admin".into(),
                display_name: "نورة العتيبي".into(),
                password: "sila-pass-1234".into(),
            },
        )
        .unwrap();
        let code = hq
            .store
            .create_enrol_code(
                "الأفلاج",
                chrono::Duration::hours(1),
                &sila_hq::HqActor::command_line(),
                chrono::Utc::now(),
            )
            .unwrap();
        api::enroll(
            &desk,
            EnrollInput {
                hq_url: hq.url(),
                code,
            },
        )
        .unwrap();
        (dir, desk)
    }

    #[test]
    fn a_release_hq_offers_is_fetched_in_the_background_and_offered_once_checked() {
        let hq = Hq::start();
        hq.publish_fixture_release();
        let (dir, desk) = desk_with_updates(&hq, UPDATE_KEY);
        eventually("the release checked and ready", || {
            api::sync_status(&desk)
                .unwrap()
                .update
                .is_some_and(|u| u.state == "ready")
        });
        let u = api::sync_status(&desk).unwrap().update.unwrap();
        assert_eq!((u.version.as_str(), u.size), ("0.2.0", 300_000));
        let kept: Vec<_> = std::fs::read_dir(dir.path().join("store/updates"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].starts_with("sila-0.2.0-") && kept[0].ends_with(".deb"));
        // HQ shows the version this device runs.
        eventually("the version at HQ", || {
            hq.store.devices().unwrap()[0].app_version.as_deref() == Some("0.1.0")
        });
        assert_eq!(
            api::app_status(&desk).unwrap().version,
            "0.1.0",
            "the app says which version it is"
        );
    }

    #[test]
    fn a_release_signed_with_another_key_is_refused_in_arabic_and_reported() {
        let hq = Hq::start();
        hq.publish_fixture_release();
        let (dir, desk) = desk_with_updates(&hq, OTHER_KEY);
        eventually("the release refused", || {
            api::sync_status(&desk)
                .unwrap()
                .update
                .is_some_and(|u| u.state == "refused")
        });
        let u = api::sync_status(&desk).unwrap().update.unwrap();
        assert_eq!(u.error_code.as_deref(), Some("update_bad_signature"));
        assert!(u.error.unwrap().contains("توقيعه غير صحيح"));
        let left = std::fs::read_dir(dir.path().join("store/updates"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "nothing of a refused package is kept");
        eventually("the refusal at HQ", || {
            hq.store.devices().unwrap()[0].update_outcome.as_deref() == Some("update_bad_signature")
        });
        let e = api::install_update(&desk).unwrap_err();
        assert_eq!(e.code, "update_not_ready");
    }

    impl Drop for Hq {
        fn drop(&mut self) {
            self.down();
        }
    }

    /// Poll `f` until it holds; the deadline is generous (this checks behaviour, not speed).
    pub(crate) fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }

    pub(crate) fn quick() -> SyncConfig {
        SyncConfig {
            scheduler: sila_sync::SchedulerConfig {
                probe_min: Duration::from_millis(100),
                probe_max: Duration::from_millis(800),
                periodic: Duration::from_secs(600),
                after_save: Duration::from_millis(200),
            },
            first_delay: Duration::ZERO,
            updates: None,
        }
    }

    pub(crate) fn signed_in_desk() -> (tempfile::TempDir, Desk) {
        let dir = tempfile::tempdir().unwrap();
        let desk = Desk::new(dir.path().join("store"), Duration::from_secs(600), None)
            .with_sync_config(quick());
        api::first_run(
            &desk,
            FirstRunInput {
                branch: "الأفلاج".into(),
                username: "admin".into(),
                display_name: "نورة العتيبي".into(),
                password: "sila-pass-1234".into(),
            },
        )
        .unwrap();
        (dir, desk)
    }

    /// Work HQ lost in a restore from an old backup, which this laptop had let go of once HQ's
    /// backups held it, stays an alert on the home screen's sync area (with the count).
    #[test]
    fn work_hq_lost_in_a_restore_is_an_alert_in_the_sync_area() {
        let (_dir, desk) = signed_in_desk();
        assert_eq!(api::sync_status(&desk).unwrap().lost_at_hq, 0);
        let lost = desk
            .with_store(|s| {
                s.generate_demo(2, 3, &mut |_, _| {})?;
                let ops = sila_store::outbox::pending(s.conn(), 0, 10_000)?;
                let last = ops.last().map(|o| o.seq).unwrap_or(0);
                let sent: Vec<_> = ops.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
                s.record_push(&sent, last, &[])?;
                let at = |acked, backed, epoch: &str| sila_store::sync::HqStanding {
                    acked_through: acked,
                    backed_up_through: backed,
                    epoch: Some(epoch.into()),
                    epoch_head: 0,
                };
                s.hq_standing(&at(last, last, "e1"))?;
                Ok(s.hq_standing(&at(1, 0, "e2"))?.lost)
            })
            .unwrap();
        assert!(lost > 0);
        assert_eq!(api::sync_status(&desk).unwrap().lost_at_hq, lost as i64);
    }

    #[test]
    fn enrolled_from_the_app_it_syncs_in_the_background_on_saves_and_on_reconnect() {
        let mut hq = Hq::start();
        let (_dir, desk) = signed_in_desk();

        // Not enrolled: said so, and an administrator may enrol.
        let st = api::sync_status(&desk).unwrap();
        assert_eq!(st.state, "not_enrolled");
        assert!(st.can_enroll);

        // Field errors for a bad address and a wrong code, in Arabic, beside their fields.
        let e = api::enroll(
            &desk,
            EnrollInput {
                hq_url: "hq".into(),
                code: "".into(),
            },
        )
        .unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["hq_url", "code"]);
        let e = api::enroll(
            &desk,
            EnrollInput {
                hq_url: hq.url(),
                code: "AAAA-BBBB-CCCC".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "code_invalid");
        assert_eq!(e.fields[0].field, "code");
        assert_eq!(api::sync_status(&desk).unwrap().state, "not_enrolled");

        // Enrol with HQ's one-time code; the first pass runs by itself.
        let code = hq
            .store
            .create_enrol_code(
                "الأفلاج",
                chrono::Duration::hours(1),
                &sila_hq::HqActor::command_line(),
                chrono::Utc::now(),
            )
            .unwrap();
        let st = api::enroll(
            &desk,
            EnrollInput {
                hq_url: format!("{}/", hq.url()),
                code: code.to_lowercase(),
            },
        )
        .unwrap();
        assert!(st.enrolled);
        assert!(!st.can_enroll);
        eventually("the first pass", || {
            let s = api::sync_status(&desk).unwrap();
            s.state == "online" && s.last_sync.is_some() && s.pending_changes == 0
        });

        // A save is pushed soon after, with nobody pressing anything.
        let draft = full_draft(&desk);
        let id = api::save_intake_draft(&desk, None, draft).unwrap();
        let receipt = api::submit_intake(&desk, id).unwrap();
        eventually("the new case at HQ", || {
            hq.cases().iter().any(|(id, _)| *id == receipt.case_id)
        });
        eventually("nothing waiting", || {
            api::sync_status(&desk).unwrap().pending_changes == 0
        });

        // HQ goes away: the worker finds out, says so in Arabic, and backs off.
        hq.down();
        api::transition(
            &desk,
            TransitionInput {
                case_id: receipt.case_id.clone(),
                transition: "send_to_committee".into(),
                note: String::new(),
            },
        )
        .unwrap();
        let st = api::sync_now(&desk).unwrap();
        assert!(st.pending_changes > 0);
        eventually("offline", || {
            let s = api::sync_status(&desk).unwrap();
            s.state == "offline"
                && s.error_code.as_deref() == Some("network")
                && s.error
                    .as_deref()
                    .is_some_and(|m| m.contains("تعذر الاتصال بالمقر"))
                && s.pending_changes > 0
        });

        // The link returns: the next probe finds HQ and the waiting change goes, unasked.
        hq.up();
        eventually("the case in committee at HQ", || {
            hq.cases()
                .iter()
                .any(|(id, st)| *id == receipt.case_id && st == "in_committee")
        });
        eventually("back online", || {
            let s = api::sync_status(&desk).unwrap();
            s.state == "online" && s.error.is_none() && s.pending_changes == 0
        });

        // HQ's decision comes back on "sync now".
        hq.store
            .decide(
                &receipt.case_id,
                sila_domain::case::Transition::Approve,
                "",
                &HqActor {
                    staff_id: sila_domain::ids::StaffId::new_v7(),
                    display_name: "لجنة البحث".into(),
                },
                chrono::Utc::now(),
            )
            .unwrap();
        api::sync_now(&desk).unwrap();
        eventually("the decision at the branch", || {
            api::case_file(&desk, receipt.case_id.clone())
                .unwrap()
                .case
                .state
                == "approved"
        });

        // Sign-out stops the worker (its connection and key go with it).
        assert!(desk.sync_live().is_some());
        api::sign_out(&desk).unwrap();
        assert!(desk.sync_live().is_none());
        assert_eq!(api::sync_status(&desk).unwrap_err().code, "locked");

        // Signing in again starts it again, and it reports the store's enrolment at once.
        sign_in(&desk, "admin", "sila-pass-1234").unwrap();
        let st = api::sync_status(&desk).unwrap();
        assert!(st.enrolled);
        assert_ne!(st.state, "not_enrolled");
        eventually("online after sign-in", || {
            api::sync_status(&desk).unwrap().state == "online"
        });
    }

    #[test]
    fn the_idle_lock_stops_the_worker() {
        let dir = tempfile::tempdir().unwrap();
        let desk =
            Desk::new(dir.path().join("store"), Duration::ZERO, None).with_sync_config(quick());
        api::first_run(
            &desk,
            FirstRunInput {
                branch: "الأفلاج".into(),
                username: "admin".into(),
                display_name: "نورة العتيبي".into(),
                password: "sila-pass-1234".into(),
            },
        )
        .unwrap();
        assert!(desk.sync_live().is_some());
        assert!(desk.lock_if_idle());
        assert!(desk.sync_live().is_none());
        assert!(!desk.signed_in());
    }

    #[test]
    fn only_an_administrator_enrols() {
        let (_dir, desk) = signed_in_desk();
        api::add_staff(
            &desk,
            StaffInput {
                username: "rep".into(),
                display_name: "مندوب".into(),
                password: "rep-pass-1234".into(),
                roles: vec!["representative".into()],
            },
        )
        .unwrap();
        api::sign_out(&desk).unwrap();
        sign_in(&desk, "rep", "rep-pass-1234").unwrap();
        assert!(!api::sync_status(&desk).unwrap().can_enroll);
        let e = api::enroll(
            &desk,
            EnrollInput {
                hq_url: "http://127.0.0.1:9".into(),
                code: "AAAA-BBBB-CCCC".into(),
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "forbidden");
    }

    #[test]
    fn sign_in_leaves_the_rule_tasks_to_the_worker_which_brings_them_up_to_date() {
        let (_dir, desk) = signed_in_desk();
        // A case submitted twelve days ago: its promised reply (14 days) is two days away, inside
        // the reminder window, but nothing has looked at it since submission.
        desk.with_store(|s| {
            s.set_clock(Arc::new(|| chrono::Utc::now() - chrono::Duration::days(12)));
            Ok(())
        })
        .unwrap();
        let draft = full_draft(&desk);
        let id = api::save_intake_draft(&desk, None, draft).unwrap();
        api::submit_intake(&desk, id).unwrap();
        let promise_near = |desk: &Desk| {
            api::home(desk)
                .unwrap()
                .tasks
                .iter()
                .any(|t| t.kind == "promise_near")
        };
        assert!(!promise_near(&desk), "not near on the day it was submitted");

        api::sign_out(&desk).unwrap();
        sign_in(&desk, "admin", "sila-pass-1234").unwrap();
        eventually("the worker's promised-date task", || promise_near(&desk));
        assert!(
            api::sync_status(&desk).unwrap().data_version > 0,
            "the home screen is told to reload"
        );
    }

    #[test]
    fn an_account_made_at_hq_comes_down_by_sync_and_signs_in_once_an_administrator_sets_it_up_here()
    {
        use sila_hq::ConsoleStore;
        let hq = Hq::start();
        let (_dir, desk) = signed_in_desk();
        let code = hq
            .store
            .create_enrol_code(
                "الأفلاج",
                chrono::Duration::hours(1),
                &sila_hq::HqActor::command_line(),
                chrono::Utc::now(),
            )
            .unwrap();
        api::enroll(
            &desk,
            EnrollInput {
                hq_url: hq.url(),
                code,
            },
        )
        .unwrap();
        // HQ's administrator makes a researcher's account for this branch.
        hq.store
            .upsert_branch_staff(
                &sila_domain::staff::StaffAccount {
                    id: sila_domain::ids::StaffId::new_v7(),
                    username: "huda".into(),
                    display_name: "هدى الشمري".into(),
                    roles: vec![sila_domain::staff::Role::Researcher],
                    branch: "الأفلاج".into(),
                    active: true,
                },
                &sila_hq::HqActor::command_line(),
                chrono::Utc::now(),
            )
            .unwrap();
        api::sync_now(&desk).unwrap();
        eventually("the account at the branch", || {
            api::staff(&desk)
                .unwrap()
                .iter()
                .any(|s| s.username == "huda")
        });
        let huda = |desk: &Desk| {
            api::staff(desk)
                .unwrap()
                .into_iter()
                .find(|s| s.username == "huda")
                .unwrap()
        };
        assert!(
            !huda(&desk).can_sign_in_here,
            "no key for it on this device yet"
        );
        assert!(
            api::staff(&desk)
                .unwrap()
                .iter()
                .any(|s| s.username == "admin" && s.can_sign_in_here)
        );

        // Not yet: the device has no way to open the store for her.
        api::sign_out(&desk).unwrap();
        let e = sign_in(&desk, "huda", "huda-pass-1234").unwrap_err();
        assert_eq!(e.code, "wrong_password");

        // The branch administrator sets her first password on this device.
        sign_in(&desk, "admin", "sila-pass-1234").unwrap();
        api::reset_password(&desk, "huda".into(), "huda-pass-1234".into()).unwrap();
        assert!(huda(&desk).can_sign_in_here);
        api::sign_out(&desk).unwrap();
        let me = sign_in(&desk, "huda", "huda-pass-1234").unwrap();
        assert_eq!(me.roles, ["researcher"]);
    }
}
