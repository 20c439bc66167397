//! sila-hq's integration tests: the HQ console's storage against a real store (an SQLite file in
//! a temp folder, or with `SILA_TEST_DB=postgres` a fresh database on a throw-away PostgreSQL
//! cluster), and its HTTP layer on a real server on port 0. Time is passed in.

mod console;
mod hardening;
mod register;
mod releases;
mod seed;
