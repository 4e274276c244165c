//! Exit codes and error reporting: plain sentences, never a backtrace.

use std::fmt;
use std::process::ExitCode;

/// What a successful command concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the answer is "no" (no match, invalid token).
    Negative,
}

/// An error that is the user's to fix (bad flag value, bad configuration): exit code 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for a usage error with a message.
pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Prints the error (if any) and maps the result to the process exit code.
pub(crate) fn report(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(error) => {
            eprintln!("keygate: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

/// 2 for usage and configuration errors, 1 for everything else (network, refused requests).
fn exit_code(error: &anyhow::Error) -> u8 {
    let is_usage = error.chain().any(|cause| {
        cause.is::<UsageError>() || cause.is::<auth_core::jwt::KeyError>() || is_config_error(cause)
    });
    if is_usage { 2 } else { 1 }
}

fn is_config_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause.is::<auth_config::ConfigError>()
        || cause.is::<server_middleware::StateError>()
        || cause.is::<server_middleware::IssuerError>()
        || cause.is::<auth_core::apikey::StoredKeyError>()
        || cause.is::<auth_core::apikey::GenerateError>()
}

/// A panic is a bug, not a user error: say so in one line, without a backtrace.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!(
            "keygate: internal error{}; please report it",
            location.unwrap_or_default()
        );
    }));
}
