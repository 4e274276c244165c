//! The command line of `cargo xtask load`.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::util::flag_value;

pub(super) const USAGE: &str = "\
usage: cargo xtask load [--quick] [--rounds N] [--time SECS] [--idle-connections N]
                        [--flood-addresses N] [--flood-per-address N]

  --quick                 smoke run: 1 round, 2 s phases, small counts (~1 min after the build)
  --rounds N              interleaved rounds of the speed and flood phases (default 2)
  --time SECS             length of each wrk phase (default 8)
  --idle-connections N    idle keep-alive connections opened to keygate (default 10000)
  --flood-addresses N     source addresses of the memory-bound flood (default 10000)
  --flood-per-address N   bad tokens sent from each of them (default 100)";

/// What one run does; every phase is bounded by these.
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub(super) quick: bool,
    pub(super) rounds: usize,
    /// Length of each wrk phase (and of the floods beside them).
    pub(super) phase: Duration,
    pub(super) idle_connections: usize,
    pub(super) flood_addresses: usize,
    pub(super) flood_per_address: u64,
    /// First uses of fresh `phc` keys measured, unloaded and during the flood (each).
    pub(super) first_uses: usize,
    /// Sequential `POST /auth/token` requests measured, unloaded and during the flood (each).
    pub(super) token_requests: usize,
}

impl Options {
    pub(super) fn parse(args: &[String]) -> Result<Self> {
        const WITH_VALUES: [&str; 5] = [
            "--rounds",
            "--time",
            "--idle-connections",
            "--flood-addresses",
            "--flood-per-address",
        ];
        let mut expect_value = false;
        for arg in args {
            if expect_value {
                expect_value = false;
            } else if WITH_VALUES.contains(&arg.as_str()) {
                expect_value = true;
            } else if arg != "--quick" {
                bail!("unknown argument `{arg}`\n\n{USAGE}");
            }
        }
        let quick = args.iter().any(|a| a == "--quick");
        let number = |name: &str, default: u64| -> Result<u64> {
            match flag_value(args, name) {
                Some(value) => value
                    .parse()
                    .with_context(|| format!("{name} takes a whole number\n\n{USAGE}")),
                None if args.last().is_some_and(|a| a == name) => {
                    bail!("{name} needs a value\n\n{USAGE}")
                }
                None => Ok(default),
            }
        };
        let size = |name: &str, default: u64| -> Result<usize> {
            usize::try_from(number(name, default)?).context("too large")
        };
        let options = if quick {
            Self {
                quick,
                rounds: size("--rounds", 1)?,
                phase: Duration::from_secs(number("--time", 2)?),
                idle_connections: size("--idle-connections", 1_000)?,
                flood_addresses: size("--flood-addresses", 200)?,
                flood_per_address: number("--flood-per-address", 50)?,
                first_uses: 2,
                token_requests: 10,
            }
        } else {
            Self {
                quick,
                rounds: size("--rounds", 2)?,
                phase: Duration::from_secs(number("--time", 8)?),
                idle_connections: size("--idle-connections", 10_000)?,
                flood_addresses: size("--flood-addresses", 10_000)?,
                flood_per_address: number("--flood-per-address", 100)?,
                first_uses: 8,
                token_requests: 50,
            }
        };
        if options.rounds == 0 || options.phase.is_zero() {
            bail!("--rounds and --time must be at least 1");
        }
        Ok(options)
    }

    /// `phc` keys to configure: a fresh one for each first use, unloaded and loaded, plus a few
    /// that are never used (so the last used one is not the last configured).
    pub(super) fn phc_keys(&self) -> usize {
        2 * self.first_uses + if self.quick { 0 } else { 4 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults_quick_mode_and_overrides() {
        let full = Options::parse(&[]).unwrap();
        assert_eq!((full.rounds, full.phase.as_secs()), (2, 8));
        assert_eq!(
            (full.flood_addresses, full.flood_per_address),
            (10_000, 100)
        );
        assert_eq!(full.phc_keys(), 20);
        let quick = Options::parse(&strings(&["--quick", "--time", "3"])).unwrap();
        assert_eq!((quick.rounds, quick.phase.as_secs()), (1, 3));
        assert!(Options::parse(&strings(&["--rounds", "x"])).is_err());
        assert!(Options::parse(&strings(&["--time"])).is_err());
        assert!(Options::parse(&strings(&["--bogus"])).is_err());
        assert!(Options::parse(&strings(&["--rounds", "0"])).is_err());
    }
}
