//! Administration (the administrator's pages): devices and enrolment, releases, HQ's accounts,
//! the branches' accounts and the knowledge base.

pub(crate) mod branch_staff;
pub(crate) mod devices;
pub(crate) mod kb;
pub(crate) mod releases;
pub(crate) mod staff;
