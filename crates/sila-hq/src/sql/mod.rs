//! HQ's storage operations in SQL, written once for both engines ([`crate::db`]): the
//! transaction the rules run in ([`tx`]), what devices read ([`read`]), what administration and
//! review read ([`admin`]), the console's storage ([`console`]) and its register ([`register`]). No rule lives here: what may
//! be stored is decided in [`crate::rules`].

pub mod admin;
pub mod console;
pub mod read;
pub mod register;
pub mod tx;
