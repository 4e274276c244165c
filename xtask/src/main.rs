//! `cargo xtask`: the project's maintenance commands (rust-analyzer style, no shell scripts).
//!
//! ```text
//! cargo xtask test [--cases N]                 unit, integration, doc and property tests
//! cargo xtask ci                               fmt --check, clippy -D warnings, test, fuzz smoke
//! cargo xtask browser [--require-components]   only the browser client's tests (also part of test)
//! cargo xtask fuzz [TARGET] [--time SECS]      fuzz campaigns (cargo-fuzz, nightly)
//! cargo xtask bench [--save-baseline N | --baseline N]   criterion benches + summary + plot
//! cargo xtask load [--quick] [--rounds N] [--time SECS]   load test of `keygate serve` vs nginx
//! ```

mod bench;
mod browser;
mod ci;
mod fuzz;
mod load;
mod util;

use anyhow::{Result, bail};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map_or(("help", &[][..]), |(c, r)| (c.as_str(), r));
    match command {
        "test" => ci::test(rest),
        "ci" => ci::ci(rest),
        "browser" => browser::test(if rest.iter().any(|a| a == "--require-components") {
            util::Components::Required
        } else {
            util::Components::SkipMissing
        }),
        "fuzz" => fuzz::run(rest),
        "bench" => bench::run(rest),
        "load" => load::run(rest),
        "help" | "--help" | "-h" => {
            println!("{}", HELP.trim());
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{}", HELP.trim()),
    }
}

const HELP: &str = "
usage: cargo xtask <command>

  test [--cases N]                     unit, integration, doc and property tests (N proptest cases)
  ci                                   fmt --check, clippy -D warnings, test, fuzz smoke
  browser [--require-components]       only the browser client's tests (node, headless Chromium)
  fuzz [TARGET] [--time SECS]          run fuzz targets (all by default)
  bench [--save-baseline N|--baseline N]  criterion benchmarks, summary and plot
  load [--quick] [--rounds N] [--time SECS] [--idle-connections N]
       [--flood-addresses N] [--flood-per-address N]
                                       load test of `keygate serve` (release) against nginx,
                                       with floods; writes target/load/summary.md
";
