//! The `sila-hq` binary: everything is in `sila_hq::cli`.

fn main() -> std::process::ExitCode {
    sila_hq::cli::main()
}
