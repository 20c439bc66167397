//! HQ's storage operations in SQL, written once for both engines ([`crate::db`]): the
//! transaction the rules run in ([`tx`]), what devices read ([`read`]), what administration and
//! review read ([`admin`]) and the console's storage ([`console`]). No rule lives here: what may
//! be stored is decided in [`crate::rules`].

pub mod admin;
pub mod console;
pub mod read;
pub mod tx;
