//! Secrets given on stdin, so they stay out of shell history and `ps`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result};

use crate::exit::usage;

/// `value` if given, else one line from stdin (trailing newline removed).
pub(crate) fn value_or_stdin(value: Option<String>, what: &str) -> Result<String> {
    if let Some(value) = value {
        return Ok(value);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("could not read the {what} from stdin"))?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(usage(format!(
            "no {what} given: pass it as an argument or on stdin"
        )));
    }
    Ok(line)
}
