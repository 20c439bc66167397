//! sila-hq's integration tests: the HQ console's storage against a real SQLite file in a temp
//! folder, and its HTTP layer on a real server on port 0. Time is passed in.

mod console;
mod seed;
