//! `sila-hq`: the headquarters command line (design.md, "Interfaces"). A thin shell over the
//! `sila_hq` library: parse arguments, open the store, call it, print.
//!
//! Exit codes: 0 success, 2 an error (printed as a code and a message, never personal data).

use crate::store::{HqActor, HqStore, Resolution};
use crate::{Failpoint, Hq};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "sila-hq", version, about = "Sila (صلة) headquarters server")]
struct Cli {
    /// The HQ database: the path of an SQLite file, or a PostgreSQL URL
    /// (`postgres://user:password@host:port/database`).
    #[arg(long, global = true, env = "SILA_HQ_DB", default_value = "sila-hq.db")]
    db: String,
    /// Keep attachments' bytes as files in this folder instead of in the database (every server
    /// must see the same folder; back it up beside the database).
    #[arg(long, global = true, env = "SILA_HQ_FILES")]
    files: Option<PathBuf>,
    /// The public key releases of the desktop app must be signed with: the `.pub` file
    /// `tauri signer generate` wrote (the key the apps are built with). Without it nothing can be
    /// published (`publish-release`, the console).
    #[arg(long, global = true, env = "SILA_HQ_UPDATE_KEY")]
    update_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backups {
    Copies,
    Continuous,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HQ server.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8740")]
        listen: String,
        /// Log as JSON lines (for a log collector) instead of text.
        #[arg(long)]
        json_logs: bool,
        /// How HQ's database is backed up: `copies` (`sila-hq backup`, the default: devices
        /// keep what they sent after the last copy, to send it again after a restore) or
        /// `continuous` (PostgreSQL with WAL archiving: a restore never goes back past an
        /// acknowledgement, so devices keep nothing once it is acknowledged).
        #[arg(long, value_enum, default_value_t = Backups::Copies)]
        backups: Backups,
        /// Where HQ puts the backups it takes by itself (the same copies as `sila-hq backup`).
        /// Default: a `backups` folder beside the SQLite file; on PostgreSQL none, so no
        /// backups are taken unless a folder is given.
        #[arg(long)]
        backup_dir: Option<PathBuf>,
        /// How often HQ backs itself up (`30s`, `15m`, `6h`, `7d`); `0` never.
        #[arg(long, default_value = "24h", value_parser = crate::backup::parse_period)]
        backup_every: std::time::Duration,
        /// How many of its backups HQ keeps in the folder: older ones are deleted once a newer
        /// one is whole.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..))]
        backup_keep: u16,
    },
    /// Copy HQ's database into FILE while it serves (SQLite's online backup, or `pg_dump` of
    /// PostgreSQL), and record that the copy holds each device's operations up to now. Restore
    /// by serving the copy (SQLite) or `pg_restore` into an empty database; branches then send
    /// again what they did after the copy.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a one-time device enrolment code for a branch.
    EnrollCode {
        #[arg(long)]
        branch: String,
        /// How long the code stays valid.
        #[arg(long, default_value_t = 72)]
        ttl_hours: i64,
    },
    /// Counts per branch.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Candidate duplicates across every branch, certain ones first, then by score.
    Duplicates {
        #[arg(long)]
        json: bool,
        /// At most this many pairs.
        #[arg(long, default_value_t = usize::MAX)]
        limit: usize,
    },
    /// List enrolled devices.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Refuse every further sync call of a device (its unsent data stays on the device).
    RevokeDevice {
        #[arg(long)]
        device: String,
    },
    /// Order a device to re-download everything at its next sync.
    Resync {
        #[arg(long)]
        device: String,
    },
    /// Record a committee decision (approve, reject, reopen, …) on a case.
    Decide {
        #[arg(long)]
        case: String,
        #[arg(long)]
        transition: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Edits that collided, for a person to resolve.
    Conflicts {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        all: bool,
    },
    /// Resolve a conflict: keep HQ's value or take the branch's.
    Resolve {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        take_branch: bool,
    },
    /// Create an HQ console account (the first administrator, or any staff member). The user
    /// name comes from SILA_USER and the password from SILA_PASSWORD (or a prompt), never from
    /// arguments.
    AddStaff {
        /// Roles: reviewer, committee, admin (repeat or separate with commas).
        #[arg(long = "role", value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// The name shown to others (defaults to the user name).
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// Move a whole HQ store into an empty database (an SQLite file up to PostgreSQL):
    /// devices and their credentials, feed positions, attachments, merges, conflicts, console
    /// staff, audit, knowledge base. Branches sync on without enrolling again. Prints the rows
    /// copied per table; the copy is checked against them before it is committed.
    MigrateStore {
        /// The store to copy (an SQLite file or a PostgreSQL URL); it is only read.
        #[arg(long)]
        from: String,
        /// The empty database to copy into.
        #[arg(long)]
        to: String,
    },
    /// Publish a release of the desktop app: devices learn of it at their next sync, download it
    /// and offer it to the person signed in. Refused unless SIG (the `.sig` file
    /// `tauri signer sign` wrote) verifies PKG against the update key (--update-key).
    PublishRelease {
        /// MAJOR.MINOR.PATCH, newer than what devices run.
        #[arg(long)]
        version: String,
        /// The package (the .deb the bundler made).
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        signature: PathBuf,
    },
    /// Published releases, newest first, with how many devices run each.
    Releases {
        #[arg(long)]
        json: bool,
    },
    /// Publish a knowledge-base document to every branch.
    PublishDoc {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long, default_value = "application/pdf")]
        mime: String,
    },
}

/// The whole `sila-hq` command line (the binary only calls this, so tests can run the very same
/// program from their own binaries).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e
                .downcast_ref::<crate::HqError>()
                .map(|h| h.code().as_str())
                .unwrap_or("error");
            eprintln!("error ({code}): {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::MigrateStore { from, to } = &cli.command {
        // Progress on stderr, table by table (a grown store takes minutes); the counts on stdout.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("SILA_LOG")
                    .unwrap_or_else(|_| "info".into()),
            )
            .init();
        let source = crate::db::open(from).context("opening the store to copy")?;
        let target = crate::db::open(to).context("opening the target database")?;
        for (table, n) in crate::db::copy::copy(&*source, &*target)? {
            println!("{table}\t{n}");
        }
        return Ok(());
    }
    if let Command::Backup { out } = &cli.command {
        let r = crate::backup::backup(&cli.db, out, chrono::Utc::now())?;
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let mut store = Hq::open(&cli.db).context("opening the HQ database")?;
    if let Some(path) = &cli.update_key {
        let text = std::fs::read_to_string(path).context("reading the update key")?;
        let key = sila_proto::release::UpdateKey::decode(&text)
            .map_err(crate::HqError::Release)
            .context("reading the update key")?;
        store = store.with_update_key(key);
    }
    if let Some(dir) = &cli.files {
        store = store.with_files(crate::files::Files::folder(dir)?);
    }
    let now = chrono::Utc::now();
    match cli.command {
        Command::Serve {
            listen,
            json_logs,
            backups,
            backup_dir,
            backup_every,
            backup_keep,
        } => {
            let store = store.with_continuous_backups(backups == Backups::Continuous);
            let postgres = cli.db.starts_with("postgres://") || cli.db.starts_with("postgresql://");
            let backup_dir = backup_dir.or_else(|| {
                (!postgres).then(|| {
                    std::path::Path::new(&cli.db)
                        .parent()
                        .unwrap_or(std::path::Path::new(""))
                        .join("backups")
                })
            });
            let schedule =
                backup_dir
                    .filter(|_| !backup_every.is_zero())
                    .map(|dir| crate::backup::Schedule {
                        dir,
                        every: backup_every,
                        keep: usize::from(backup_keep),
                    });
            let filter = tracing_subscriber::EnvFilter::try_from_env("SILA_LOG")
                .unwrap_or_else(|_| "info".into());
            if json_logs {
                tracing_subscriber::fmt()
                    .json()
                    .with_env_filter(filter)
                    .init();
            } else {
                tracing_subscriber::fmt().with_env_filter(filter).init();
            }
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen).await?;
                // Tests and scripts read the bound address (port 0 picks a free one).
                println!("listening on http://{}", listener.local_addr()?);
                tracing::info!(addr = %listener.local_addr()?, "sila-hq serving");
                if let Some(plan) = schedule {
                    tracing::info!(
                        every_seconds = plan.every.as_secs(),
                        keep = plan.keep,
                        "HQ backs itself up"
                    );
                    tokio::spawn(crate::backup::run_schedule(
                        cli.db.clone(),
                        store.engine().clone(),
                        plan,
                    ));
                }
                let store: Arc<dyn HqStore> = Arc::new(store);
                crate::serve(listener, store, Failpoint::from_env(), shutdown_signal()).await?;
                tracing::info!("sila-hq stopped");
                anyhow::Ok(())
            })?;
        }
        Command::PublishRelease {
            version,
            file,
            signature,
        } => {
            let package = std::fs::read(&file).context("reading the package")?;
            let signature = std::fs::read_to_string(&signature).context("reading the signature")?;
            let r = store.publish_release(
                &version,
                &package,
                &signature,
                &HqActor::command_line(),
                now,
            )?;
            println!("{}\t{}\t{}", r.version, r.size, r.sha256);
        }
        Command::Releases { json } => {
            let list = store.releases()?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for r in &list {
                    println!(
                        "{}\t{}\t{}\t{}",
                        r.version, r.size, r.published_at, r.devices
                    );
                }
            }
        }
        Command::EnrollCode { branch, ttl_hours } => {
            let code = store.create_enrol_code(
                &branch,
                chrono::Duration::hours(ttl_hours),
                &HqActor::command_line(),
                now,
            )?;
            println!("{code}");
        }
        Command::Stats { json } => {
            let s = store.stats()?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                for b in &s.branches {
                    println!("{}\t{}\t{}", b.name, b.beneficiaries, b.cases);
                }
                println!("total\t{}\t{}", s.beneficiaries, s.cases);
            }
        }
        Command::Duplicates { json, limit } => {
            let pairs = store.duplicate_candidates(limit)?;
            if json {
                // design.md "Interfaces": each side is {id, branch, national_id, full_name}.
                let side = |p: &crate::store::DuplicatePerson| {
                    serde_json::json!({"id": p.id, "branch": p.branch,
                        "national_id": p.national_id, "full_name": p.full_name})
                };
                let out: Vec<serde_json::Value> = pairs
                    .iter()
                    .map(|d| {
                        serde_json::json!({"a": side(&d.a), "b": side(&d.b), "score": d.score,
                            "certain": d.certain, "reasons": d.reasons})
                    })
                    .collect();
                println!("{}", serde_json::to_string(&out)?);
            } else {
                for d in &pairs {
                    println!(
                        "{}\t{}\t{:.3}\t{}\t{}",
                        d.a.id,
                        d.b.id,
                        d.score,
                        if d.certain { "certain" } else { "candidate" },
                        d.reasons.join(",")
                    );
                }
            }
        }
        Command::Devices { json } => {
            let d = store.devices()?;
            if json {
                println!("{}", serde_json::to_string(&d)?);
            } else {
                for d in d {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        d.device_id,
                        d.branch,
                        d.last_seq,
                        if d.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        d.app_version.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        Command::RevokeDevice { device } => {
            store.revoke_device(&device, &HqActor::command_line(), now)?
        }
        Command::Resync { device } => store.order_resync(&device)?,
        Command::Decide {
            case,
            transition,
            note,
        } => {
            let t = sila_domain::case::Transition::from_code(&transition)
                .context("unknown transition")?;
            let actor = HqActor {
                staff_id: sila_domain::ids::StaffId::new_v7(),
                display_name: "لجنة البحث".into(),
            };
            let e = store.decide(&case, t, &note, &actor, now)?;
            println!("{}", serde_json::to_string(&e)?);
        }
        Command::Conflicts { json, all } => {
            let c = store.conflicts(!all)?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                for c in c {
                    println!("{}\t{}\t{}\t{}", c.id, c.entity, c.field, c.reason);
                }
            }
        }
        Command::Resolve { id, take_branch } => store.resolve_conflict(
            id,
            if take_branch {
                Resolution::TakeBranch
            } else {
                Resolution::KeepHq
            },
            &HqActor::command_line(),
            now,
        )?,
        Command::AddStaff {
            roles,
            display_name,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    crate::console::ConsoleRole::from_code(r.trim())
                        .with_context(|| "unknown role (reviewer, committee, admin)")
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let username = match std::env::var("SILA_USER") {
                Ok(u) if !u.trim().is_empty() => u,
                _ => {
                    eprint!("user name: ");
                    let mut u = String::new();
                    std::io::stdin().read_line(&mut u)?;
                    u.trim().to_owned()
                }
            };
            let password = match std::env::var("SILA_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => rpassword::prompt_password("password: ")?,
            };
            let staff = crate::console::ConsoleStore::add_console_staff(
                &store,
                &username,
                &display_name,
                &password,
                &roles,
                &HqActor::command_line(),
                now,
            )?;
            println!("{}", serde_json::to_string(&staff)?);
        }
        Command::MigrateStore { .. } | Command::Backup { .. } => {
            unreachable!("handled before the store is opened")
        }
        Command::PublishDoc {
            title,
            body,
            file,
            mime,
        } => {
            let bytes = file.map(std::fs::read).transpose()?;
            let id = store.publish_document(
                &title,
                &body,
                bytes.as_deref().map(|b| (b, mime.as_str())),
                &HqActor::command_line(),
                now,
            )?;
            println!("{id}");
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in hand, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: finishing requests in hand");
}
