//! Histogram samples are drained into their summaries whether or not anyone scrapes
//! `/admin/metrics`, so a gateway nobody scrapes holds a bounded number of them
//! (docs/security.md, "every limit has a default").
//!
//! One test in this file: the recorder is global to the process.
// A failed set-up is a failed test.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::thread::sleep;
use std::time::Duration;

use cap::Cap;
use server_middleware::telemetry::JWT_DURATION_SECONDS;
use server_middleware::{METRICS_UPKEEP_INTERVAL, install_prometheus_recorder};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const BATCHES: usize = 40;
const SAMPLES_PER_BATCH: usize = 100_000;

#[test]
fn histogram_samples_are_drained_without_a_scrape() {
    let _handle = install_prometheus_recorder().unwrap();
    let histogram = metrics::histogram!(JWT_DURATION_SECONDS);
    histogram.record(0.001);
    let before = ALLOCATOR.allocated();

    // 4 M samples over about 4 s, as a flood of uncached JWT checks would record them. Kept
    // until a scrape, they hold about 16 bytes each: 65.5 MB in all, without the upkeep.
    for _ in 0..BATCHES {
        for _ in 0..SAMPLES_PER_BATCH {
            histogram.record(0.001);
        }
        sleep(Duration::from_millis(100));
    }
    // Two more upkeeps: the last batch drained, and the blocks it freed reclaimed.
    for _ in 0..2 {
        histogram.record(0.001);
        sleep(METRICS_UPKEEP_INTERVAL + Duration::from_millis(200));
    }

    let held = ALLOCATOR.allocated().saturating_sub(before);
    let recorded = BATCHES * SAMPLES_PER_BATCH;
    assert!(
        held < recorded,
        "{held} bytes still held after {recorded} samples: they were not drained"
    );
}
