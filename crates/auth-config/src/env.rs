//! The environment a configuration is read from: the process's, or a fixed set for tests.

use std::ffi::OsString;
use std::fmt;

/// Environment variables to read. [`Env::process`] reads the real environment at load time;
/// [`Env::from_pairs`] supplies a fixed set, so tests never touch the process environment.
#[derive(Clone, Default)]
pub struct Env(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    Process,
    Fixed(Vec<(OsString, OsString)>),
}

impl Env {
    /// The process environment, read each time a configuration is loaded (so a reload sees changes).
    #[must_use]
    pub fn process() -> Self {
        Self(Source::Process)
    }

    /// A fixed environment. When a name repeats, the last value wins.
    #[must_use]
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Self(Source::Fixed(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }

    /// Every variable whose name is valid UTF-8, sorted by name, last value of a repeated name.
    /// Values stay `OsString`: a relevant variable that is not UTF-8 is a configuration error,
    /// an irrelevant one must not be.
    pub(crate) fn vars(&self) -> Vec<(String, OsString)> {
        let all: Vec<(OsString, OsString)> = match &self.0 {
            Source::Process => std::env::vars_os().collect(),
            Source::Fixed(pairs) => pairs.clone(),
        };
        let mut named: std::collections::BTreeMap<String, OsString> = Default::default();
        for (name, value) in all {
            if let Ok(name) = name.into_string() {
                named.insert(name, value);
            }
        }
        named.into_iter().collect()
    }
}

impl fmt::Debug for Env {
    // Values may be secrets; names are enough to debug with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Process => f.write_str("Env::process()"),
            Source::Fixed(pairs) => f
                .debug_tuple("Env::from_pairs")
                .field(&pairs.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pairs_keep_the_last_value_and_hide_values_in_debug() {
        let env = Env::from_pairs([("A", "1"), ("B", "hunter2"), ("A", "3")]);
        assert_eq!(
            env.vars(),
            vec![
                ("A".to_owned(), "3".into()),
                ("B".to_owned(), "hunter2".into())
            ]
        );
        let debug = format!("{env:?}");
        assert!(debug.contains("\"B\""));
        assert!(!debug.contains("hunter2"));
    }
}
