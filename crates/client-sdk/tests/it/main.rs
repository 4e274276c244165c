//! client-sdk over real HTTP, against axum servers started in the tests on 127.0.0.1, and the
//! token cache on its own (`token_cache`).

// Test code: a panic is a failed test (clippy.toml allows these only inside #[test] fns).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod concurrency;
mod e2e;
mod expiry;
mod failures;
mod retry;
mod support;
mod token_cache;
