//! `cargo xtask bench [FILTER] [--save-baseline NAME | --baseline NAME] [--update-docs]`.
//!
//! Runs every criterion bench of the workspace (`cargo bench --workspace --features
//! auth-core/bench-baselines --bench '*'`: the feature adds the `ring` and OpenSSL PBKDF2
//! baselines, and OpenSSL's headers and pkg-config are installed from Debian's packages when
//! missing), then reads criterion's estimates and writes:
//! - `target/bench/summary.md`: medians per group, the PBKDF2 table with the ratios the goals of
//!   issue 7 are stated in, and with `--baseline` the change of every median (over +5 % is a
//!   regression, and the command fails);
//! - `target/bench/pbkdf2.png`: PBKDF2 cost against iterations per implementation.
//!
//! Both are machine-specific, so they stay under `target/`. `--update-docs` also copies them into
//! `docs/benchmarks.md` (between its `xtask-bench` markers) and `docs/img/pbkdf2.png`.

mod estimates;
mod plot;
mod summary;

use std::fs;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use crate::util::{
    apt_install, cargo, flag_value, has_program, machine, run as run_command, target_dir,
    workspace_root,
};

const DOCS_BEGIN: &str = "<!-- xtask-bench:begin -->";
const DOCS_END: &str = "<!-- xtask-bench:end -->";
/// The feature that adds the `ring` and OpenSSL baselines to `crates/auth-core/benches/core.rs`.
const BASELINES_FEATURE: &str = "auth-core/bench-baselines";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let save = flag_value(args, "--save-baseline");
    let baseline = flag_value(args, "--baseline");
    if save.is_some() && baseline.is_some() {
        bail!("give either --save-baseline NAME or --baseline NAME, not both");
    }
    for (flag, name) in [("--save-baseline", save), ("--baseline", baseline)] {
        if args.iter().any(|a| a == flag) && name.is_none_or(|n| n.starts_with("--")) {
            bail!("{flag} takes a baseline name");
        }
    }
    let update_docs = args.iter().any(|a| a == "--update-docs");
    let filter = positional(args);

    ensure_openssl_dev()?;
    // Criterion's files carry their write time; anything older than this run is not reported.
    let started = SystemTime::now() - Duration::from_secs(2);
    let mut command = cargo();
    // `--bench '*'`: only `[[bench]]` targets (`--benches` would add libs and bins, whose libtest
    // harness refuses criterion's flags). The feature brings in the ring and OpenSSL baselines
    // of auth-core's PBKDF2 bench, which nothing else builds.
    command.args([
        "bench",
        "--workspace",
        "--features",
        BASELINES_FEATURE,
        "--bench",
        "*",
        "--",
    ]);
    command.args(filter);
    if let Some(name) = save {
        command.args(["--save-baseline", name]);
    }
    if let Some(name) = baseline {
        // Lenient: a benchmark added since the baseline was saved is measured, not fatal.
        command.args(["--baseline-lenient", name]);
    }
    run_command(&mut command)?;

    let results = estimates::collect(&target_dir().join("criterion"), started, baseline)?;
    if results.is_empty() {
        bail!("criterion wrote no results (did the filter match any benchmark?)");
    }
    let out_dir = target_dir().join("bench");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let table = summary::pbkdf2_table(&results);
    let plot_path = out_dir.join("pbkdf2.png");
    let plot_note = if table.is_empty() {
        None
    } else {
        let with_text = plot::draw(&table, &plot_path)?;
        eprintln!("xtask: wrote {}", plot_path.display());
        Some(if with_text {
            String::new()
        } else {
            let colours: Vec<String> = plot::legend(&table)
                .into_iter()
                .map(|(name, c)| format!("{name} {}", plot::colour_name(c)))
                .collect();
            format!(
                "(No font found for the plot's text: x is iterations, y is ms, both log scale; {}.)\n\n",
                colours.join(", ")
            )
        })
    };
    let machine = machine();
    let plot_ref = plot_note.as_ref().map(|_| "pbkdf2.png");
    let mut text = summary::markdown(&results, &machine, baseline, plot_ref);
    if let Some(note) = &plot_note {
        text.push_str(note);
    }
    let summary_path = out_dir.join("summary.md");
    fs::write(&summary_path, &text)
        .with_context(|| format!("writing {}", summary_path.display()))?;
    println!("{text}");
    eprintln!("xtask: wrote {}", summary_path.display());

    if update_docs {
        let mut docs_text = summary::markdown(
            &results,
            &machine,
            baseline,
            plot_ref.map(|_| "img/pbkdf2.png"),
        );
        if let Some(note) = &plot_note {
            docs_text.push_str(note);
        }
        update_benchmarks_doc(&docs_text)?;
        if plot_ref.is_some() {
            let img_dir = workspace_root().join("docs").join("img");
            fs::create_dir_all(&img_dir)?;
            fs::copy(&plot_path, img_dir.join("pbkdf2.png")).context("copying the plot")?;
        }
    }

    if let Some(name) = baseline {
        if results.iter().all(|m| m.baseline_median_ns.is_none()) {
            bail!("no results of baseline `{name}` found; run with --save-baseline {name} first");
        }
        let regressions = summary::regressions(&results);
        if !regressions.is_empty() {
            for m in &regressions {
                eprintln!(
                    "regression: {} median {:+.1} % against `{name}`",
                    m.id,
                    m.change().unwrap_or_default() * 100.0
                );
            }
            bail!(
                "{} benchmark(s) regressed by more than {:.0} % against `{name}`",
                regressions.len(),
                summary::REGRESSION * 100.0
            );
        }
    }
    Ok(())
}

/// The `openssl` crate of the OpenSSL baseline builds against the system's libcrypto, found with
/// pkg-config: Debian's `libssl-dev` and `pkg-config`.
fn ensure_openssl_dev() -> Result<()> {
    if has_program("pkg-config", &["--exists", "openssl"]) {
        return Ok(());
    }
    eprintln!(
        "OpenSSL's development files or pkg-config are missing (the OpenSSL baseline needs \
         them); installing them from Debian's packages"
    );
    apt_install(&["libssl-dev", "pkg-config"], "OpenSSL's development files")
}

/// The first argument that is neither a flag nor a flag's value (a criterion filter).
fn positional(args: &[String]) -> Option<&str> {
    crate::util::positional(args, &["--save-baseline", "--baseline"])
}

/// Replaces the generated section of `docs/benchmarks.md`, headings moved one level down.
fn update_benchmarks_doc(summary: &str) -> Result<()> {
    let path = workspace_root().join("docs").join("benchmarks.md");
    let doc = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (Some(begin), Some(end)) = (doc.find(DOCS_BEGIN), doc.find(DOCS_END)) else {
        bail!(
            "{} has no {DOCS_BEGIN} … {DOCS_END} section",
            path.display()
        );
    };
    let body: String = summary
        .lines()
        .filter(|l| !l.starts_with("# "))
        .map(|l| {
            if l.starts_with('#') {
                format!("#{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let updated = format!(
        "{}{DOCS_BEGIN}\n{}{}",
        doc.get(..begin).unwrap_or_default(),
        body.trim_start(),
        doc.get(end..).unwrap_or_default()
    );
    fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: updated {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_filter_is_not_a_baseline_name() {
        assert_eq!(
            positional(&strings(&["--baseline", "main", "pbkdf2"])),
            Some("pbkdf2")
        );
        assert_eq!(positional(&strings(&["--save-baseline", "main"])), None);
        assert_eq!(positional(&strings(&["--update-docs", "jwt"])), Some("jwt"));
    }
}
