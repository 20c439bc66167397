//! The `sila-hq` command line, built inside the test package so tests can start and kill it.

fn main() -> std::process::ExitCode {
    sila_hq::cli::main()
}
