//! identity-store-sqlite integration tests (one binary).
//!
//! Some tests re-execute this binary as a child process (see
//! `support::spawn_child`): a writer killed with SIGKILL, two processes
//! sharing one file.

mod basics;
mod cancel;
mod crash;
mod durability;
mod multiprocess;
mod support;
