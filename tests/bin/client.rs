//! What `sila sync --json` does, built inside the test package so tests can kill it at each
//! commit and acknowledgement point (`SILA_SYNC_FAILPOINT`). Usage: e2e-sila-sync DATA_DIR, with
//! SILA_USER / SILA_PASSWORD set.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args().nth(1).expect("data dir");
    let user = std::env::var("SILA_USER").expect("SILA_USER");
    let password = std::env::var("SILA_PASSWORD").expect("SILA_PASSWORD");
    let mut store = match sila_store::Store::open(std::path::Path::new(&dir), &user, &password) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}", e.code());
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(sila_sync::sync_once(&mut store, &Default::default())) {
        Ok(r) => {
            println!(
                "{}",
                serde_json::json!({"pushed": r.pushed, "pulled": r.pulled, "rejected": r.rejected,
                                   "conflicts": r.conflicts, "pending": r.pending})
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", e.code());
            ExitCode::from(2)
        }
    }
}
