//! End-to-end tests of sync: branch stores, the real sync client and a real HQ server over HTTP.
//! One integration-test binary for the workspace's cross-component tests.

mod branch;
mod duplicates;
mod files;
mod harness;
mod hostile;
mod join;
mod moving_up;
mod proxy;
mod restore;
mod servers;
mod staff_access;
mod sync_faults;
mod sync_protocol;
mod sync_random;
mod updates;
