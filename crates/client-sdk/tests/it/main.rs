//! client-sdk over real HTTP, against axum servers started in the tests on 127.0.0.1.

// Test code: a panic is a failed test (clippy.toml allows these only inside #[test] fns).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod concurrency;
mod e2e;
mod expiry;
mod failures;
mod retry;
mod support;
