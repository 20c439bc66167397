//! `sila`: the branch command line. Administrators script it and tests drive it, so its commands,
//! JSON shapes and exit codes change only by addition (design.md, "Interfaces").
//!
//! A thin shell: parse arguments, read credentials from `SILA_USER`/`SILA_PASSWORD` (or a prompt,
//! never from arguments), call the store, print. Exit codes: 0 success, 1 a negative answer
//! (`check-id` of an invalid ID), 2 an error. Errors print a code and an Arabic message; they never
//! contain a beneficiary's name, ID or phone.

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use sila_domain::national_id::NationalId;
use sila_store::import::ImportProgress;
use sila_store::{Store, StoreError};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sila",
    version,
    about = "Sila (صلة): the branch case store of a charity"
)]
struct Cli {
    /// The store's folder. Defaults to the platform data directory.
    #[arg(long, global = true, env = "SILA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the branch store and its first administrator (credentials from SILA_USER / SILA_PASSWORD).
    Init {
        #[arg(long)]
        branch: String,
        /// The administrator's name as shown to others (defaults to the user name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Check a Saudi national ID or iqama number. Exit 0 valid, 1 invalid.
    CheckId {
        /// Whatever was typed, even text that starts with a hyphen ("-123456789" is an invalid
        /// ID, not an unknown option).
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Import a CSV or XLSX beneficiary sheet.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Search beneficiaries by any spelling of a name, a national ID, or a mobile or its last digits.
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Export beneficiaries and cases.
    Export {
        #[arg(long, value_enum)]
        format: Format,
        #[arg(long)]
        out: PathBuf,
    },
    /// Add realistic synthetic beneficiaries and cases (for demos and benchmarks).
    DemoData {
        #[arg(long)]
        beneficiaries: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Counts of beneficiaries, cases and changes not yet sent to headquarters.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Bind this store to headquarters with a one-time enrolment code (administrators).
    Enroll {
        /// HQ's address, e.g. https://hq.example.org
        #[arg(long)]
        hq: String,
        #[arg(long)]
        code: String,
    },
    /// Push local changes to headquarters and pull what it decided, now.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// Write an encrypted, consistent copy of the store to a file (administrators). It is opened
    /// later, by `restore`, with a staff member's password.
    Backup {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Bring a backup back on this machine, into an empty data folder (credentials of a staff
    /// member whose account is in the backup).
    Restore {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the store without its free space (administrators; close the desktop app first).
    Compact {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Xlsx,
}

/// An error as the command line reports it.
struct Failure {
    code: String,
    message: String,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure {
            code: e.code().into(),
            message: e.arabic_message(),
        }
    }
}

fn data_dir(cli: &Option<PathBuf>) -> PathBuf {
    cli.clone().unwrap_or_else(|| {
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("sila")
    })
}

/// Credentials come from the environment or a prompt; never from arguments (they would show in `ps`).
fn credentials() -> Result<(String, String), Failure> {
    let user = match std::env::var("SILA_USER") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            if !std::io::stdin().is_terminal() {
                return Err(Failure {
                    code: "credentials_missing".into(),
                    message: "حدد اسم المستخدم في SILA_USER وكلمة المرور في SILA_PASSWORD".into(),
                });
            }
            eprint!("اسم المستخدم: ");
            let _ = std::io::stderr().flush();
            let mut s = String::new();
            std::io::stdin().read_line(&mut s).map_err(|_| Failure {
                code: "credentials_missing".into(),
                message: "تعذرت قراءة اسم المستخدم".into(),
            })?;
            s.trim().to_owned()
        }
    };
    let password = match std::env::var("SILA_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => rpassword::prompt_password("كلمة المرور: ").map_err(|_| Failure {
            code: "credentials_missing".into(),
            message: "حدد كلمة المرور في SILA_PASSWORD".into(),
        })?,
    };
    Ok((user, password))
}

fn open(dir: &std::path::Path) -> Result<Store, Failure> {
    let (user, password) = credentials()?;
    Ok(Store::open(dir, &user, &password)?)
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string(v).expect("json"));
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let dir = data_dir(&cli.data_dir);
    match cli.command {
        Command::Init {
            branch,
            display_name,
        } => {
            let (user, password) = credentials()?;
            let name = display_name.unwrap_or_else(|| user.clone());
            let store = Store::init(&dir, &branch, &user, &name, &password, Default::default())?;
            eprintln!(
                "أنشئت قاعدة بيانات فرع «{}» في {}",
                store.session().branch,
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckId { id, json } => {
            let result = NationalId::parse(&id);
            if json {
                print_json(&match &result {
                    Ok(n) => json!({"valid": true, "kind": n.kind(), "reason": null}),
                    Err(e) => {
                        json!({"valid": false, "kind": null, "reason": e.code(), "message": e.arabic_message()})
                    }
                });
            } else {
                match &result {
                    Ok(n) => println!(
                        "صالح: {}",
                        match n.kind() {
                            sila_domain::national_id::IdKind::Citizen => "هوية وطنية (مواطن)",
                            sila_domain::national_id::IdKind::Resident => "إقامة (مقيم)",
                        }
                    ),
                    Err(e) => println!("غير صالح: {} ({})", e.arabic_message(), e.code()),
                }
            }
            Ok(if result.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Import { file, json } => {
            let mut store = open(&dir)?;
            let show = std::io::stderr().is_terminal() || !json;
            let mut last = std::time::Instant::now();
            let report = store.import_file(&file, &mut |p| {
                if !show || last.elapsed().as_millis() < 200 {
                    return;
                }
                last = std::time::Instant::now();
                match p {
                    ImportProgress::Reading { rows } => {
                        eprint!("\rقراءة الملف: {rows} صف          ")
                    }
                    ImportProgress::Saving { done, total } => {
                        eprint!("\rالحفظ: {done} من {total}          ")
                    }
                }
            })?;
            if show {
                eprintln!();
            }
            if json {
                print_json(&serde_json::to_value(&report).expect("report"));
            } else {
                println!(
                    "أضيف: {}، حُدّث: {}، بلا تغيير: {}، مرفوض: {}",
                    report.imported,
                    report.updated,
                    report.unchanged,
                    report.rejected.len()
                );
                for r in &report.rejected {
                    println!(
                        "  الصف {} — {}: {} ({})",
                        r.row, r.column, r.message, r.code
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { query, limit, json } => {
            let store = open(&dir)?;
            let hits = store.search(&query, limit)?;
            if json {
                print_json(&serde_json::to_value(&hits).expect("hits"));
            } else if hits.is_empty() {
                println!("لا توجد نتائج");
            } else {
                for h in hits {
                    println!(
                        "{}\t{}\t{}\t{}",
                        h.full_name,
                        h.national_id.unwrap_or_else(|| "-".into()),
                        h.phone.unwrap_or_else(|| "-".into()),
                        h.id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { format, out } => {
            let mut store = open(&dir)?;
            let format = match format {
                Format::Csv => sila_store::exporting::ExportFormat::Csv,
                Format::Xlsx => sila_store::exporting::ExportFormat::Xlsx,
            };
            for p in store.export(format, &out)? {
                eprintln!("كُتب {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoData {
            beneficiaries,
            seed,
        } => {
            let mut store = open(&dir)?;
            let report = store.generate_demo(beneficiaries, seed, &mut |done, total| {
                eprint!("\rبيانات تجريبية: {done} من {total}          ");
            })?;
            eprintln!();
            println!("أضيف {} مستفيد و{} طلب", report.beneficiaries, report.cases);
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { json } => {
            let store = open(&dir)?;
            let s = store.stats()?;
            if json {
                print_json(&serde_json::to_value(s).expect("stats"));
            } else {
                println!(
                    "المستفيدون: {}\nالطلبات: {}\nتغييرات لم ترسل للمقر: {}",
                    s.beneficiaries, s.cases, s.pending_changes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compact { json } => {
            let mut store = open(&dir)?;
            let report = store.compact(&mut |written, total| {
                if !json {
                    eprint!(
                        "\rضغط قاعدة البيانات: {} من {} م.ب          ",
                        written / 1_000_000,
                        total / 1_000_000
                    );
                }
            })?;
            if json {
                print_json(&serde_json::to_value(report).expect("report"));
            } else {
                eprintln!();
                println!(
                    "حجم قاعدة البيانات: {:.1} م.ب ← {:.1} م.ب",
                    report.before_bytes as f64 / 1e6,
                    report.after_bytes as f64 / 1e6
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll { hq, code } => {
            let mut store = open(&dir)?;
            runtime()?.block_on(sila_sync::enroll(
                &mut store,
                &hq,
                &code,
                &Default::default(),
            ))?;
            eprintln!("رُبط هذا الجهاز بالمقر");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out, json } => {
            let store = open(&dir)?;
            let r = store.backup(&out)?;
            if json {
                print_json(&json!({
                    "bytes": r.bytes, "beneficiaries": r.beneficiaries, "cases": r.cases,
                    "pending_changes": r.pending_changes,
                }));
            } else {
                println!(
                    "حُفظت نسخة احتياطية مشفرة ({} بايت): {} مستفيد، {} طلب، {} تغيير لم يُرسل بعد.",
                    r.bytes, r.beneficiaries, r.cases, r.pending_changes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, json } => {
            let (user, password) = credentials()?;
            let store = Store::restore(&file, &dir, &user, &password)?;
            let stats = store.stats()?;
            if json {
                print_json(&json!({
                    "beneficiaries": stats.beneficiaries, "cases": stats.cases,
                    "pending_changes": stats.pending_changes,
                }));
            } else {
                println!(
                    "استُعيدت النسخة: {} مستفيد، {} طلب. ستُرسل التغييرات التي لم تصل المقر عند المزامنة التالية.",
                    stats.beneficiaries, stats.cases
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { json } => {
            let mut store = open(&dir)?;
            let r = runtime()?.block_on(sila_sync::sync_once(&mut store, &Default::default()))?;
            if json {
                print_json(&json!({
                    "pushed": r.pushed, "pulled": r.pulled, "rejected": r.rejected,
                    "conflicts": r.conflicts, "pending": r.pending,
                    "sent_again": r.sent_again, "lost": r.lost,
                }));
            } else {
                println!(
                    "أُرسل: {}، استُلم: {}، مرفوض: {}، تعارضات: {}، بانتظار الإرسال: {}",
                    r.pushed, r.pulled, r.rejected, r.conflicts, r.pending
                );
            }
            // Said whatever the format: work HQ lost in a restore that this device could not
            // send again must be entered again by hand.
            let lost = store.sync_state()?.lost_at_hq;
            if lost > 0 {
                eprintln!(
                    "تنبيه: فقد المقر {lost} تغييراً من هذا الجهاز حين استُعيد من نسخة احتياطية قديمة، ولا يمكن إرسالها من جديد. أعد إدخالها يدوياً؛ شاشة المزامنة في التطبيق تسرد كلاً منها."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl From<sila_sync::SyncError> for Failure {
    fn from(e: sila_sync::SyncError) -> Self {
        Failure {
            code: e.code(),
            message: e.arabic_message(),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| Failure {
            code: "runtime".into(),
            message: "تعذر بدء المزامنة".into(),
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = matches!(
        &cli.command,
        Command::CheckId { json: true, .. }
            | Command::Import { json: true, .. }
            | Command::Search { json: true, .. }
            | Command::Stats { json: true, .. }
            | Command::Sync { json: true, .. }
            | Command::Backup { json: true, .. }
            | Command::Restore { json: true, .. }
            | Command::Compact { json: true, .. }
    );
    match run(cli) {
        Ok(code) => code,
        Err(f) => {
            if json {
                eprintln!(
                    "{}",
                    json!({"error": {"code": f.code, "message": f.message}})
                );
            } else {
                eprintln!("خطأ: {} ({})", f.message, f.code);
            }
            ExitCode::from(2)
        }
    }
}
