//! A streaming pass over a whole `moose.config.toml`: checks its TOML syntax and finds the byte
//! ranges of keygate's own sections, without building the document.
//!
//! `moose.config.toml` holds Moose's own sections (`[clickhouse_config]`, ...), which can be
//! large; a parsed `toml` document costs about 26 times the text. Here `toml_parser` (the lexer
//! and event parser `toml` is built on) runs over the tokens a batch at a time, and every key and
//! scalar is decoded and dropped, so memory does not grow with the sections keygate ignores.
//! Only the ranges this pass returns are then parsed into a document (see `file.rs`).
//!
//! Batches end at a newline outside any array or inline table, where a TOML document may be
//! split into independent runs of statements, so the first syntax error found is the one the
//! whole document has. Not checked outside keygate's sections: repeated keys and tables (they
//! need the whole document, which is what this pass avoids keeping).

use std::borrow::Cow;

use toml_parser::decoder::Encoding;
use toml_parser::decoder::ScalarKind;
use toml_parser::lexer::{Token, TokenKind};
use toml_parser::parser::{EventReceiver, RecursionGuard, ValidateWhitespace};
use toml_parser::{ErrorSink, Expected, ParseError, Raw, Source, Span};

use crate::catalog::SECTIONS;

/// Tokens parsed at a time (a batch grows past it only up to the next top-level newline).
const BATCH_TOKENS: usize = 8 * 1024;
/// Nesting allowed in values, as the `toml` crate allows.
const MAX_NESTING: u32 = 80;

/// A TOML syntax error: the byte offset it points at and the parser's description (which never
/// quotes the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: Option<usize>,
    pub(crate) message: String,
}

/// Checks the syntax of all of `text` and returns the byte ranges, in file order, that belong to
/// keygate's top-level sections: each `[section]`/`[[section...]]` header with everything up to
/// the next header, and each root-level statement (`jwt.issuer = ...`, `jwt = { ... }`) whose
/// first key names one.
pub(crate) fn keygate_ranges(text: &str) -> Result<Vec<std::ops::Range<usize>>, SyntaxError> {
    let source = Source::new(text);
    let mut ranges = Ranges::new(text);
    let mut first_error: Option<ParseError> = None;
    {
        let mut whitespace = ValidateWhitespace::new(&mut ranges, source);
        let mut receiver = RecursionGuard::new(&mut whitespace, MAX_NESTING);
        let mut batch: Vec<Token> = Vec::with_capacity(BATCH_TOKENS + 64);
        let mut depth = 0usize;
        for token in source.lex() {
            match token.kind() {
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            let boundary = token.kind() == TokenKind::Newline && depth == 0;
            let end = token.kind() == TokenKind::Eof;
            batch.push(token);
            if (boundary && batch.len() >= BATCH_TOKENS) || end {
                toml_parser::parser::parse_document(&batch, &mut receiver, &mut first_error);
                batch.clear();
                if first_error.is_some() {
                    break;
                }
            }
        }
    }
    match first_error {
        Some(error) => Err(SyntaxError {
            offset: error.unexpected().map(|span| span.start()),
            message: describe(&error),
        }),
        None => Ok(ranges.finish()),
    }
}

/// The message `toml` gives a parse error: its description and what was expected.
fn describe(error: &ParseError) -> String {
    let mut message = error.description().to_owned();
    if let Some(expected) = error.expected() {
        message.push_str(", expected ");
        if expected.is_empty() {
            message.push_str("nothing");
        }
        for (i, expected) in expected.iter().enumerate() {
            if i != 0 {
                message.push_str(", ");
            }
            match expected {
                Expected::Literal("\n") => message.push_str("newline"),
                Expected::Literal("`") => message.push_str("'`'"),
                Expected::Literal(literal) if literal.chars().all(|c| c.is_ascii_control()) => {
                    message.push('`');
                    message.extend(literal.escape_debug());
                    message.push('`');
                }
                Expected::Literal(literal) => {
                    message.push('`');
                    message.push_str(literal);
                    message.push('`');
                }
                Expected::Description(description) => message.push_str(description),
                _ => message.push_str("etc"),
            }
        }
    }
    message
}

/// Where the parser is, as far as finding sections goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between root-level statements (before the first header).
    Root,
    /// In a root-level key/value statement starting at `start`; `keygate` once its first key
    /// is known.
    RootStatement { start: usize, keygate: bool },
    /// In a header that opened at `start`, before its first key.
    HeaderStart { start: usize },
    /// Inside a section opened by a header at `start`, up to the next header.
    Section { start: usize, keygate: bool },
}

/// The event receiver: decodes (and so validates) every key and scalar and records ranges.
struct Ranges<'i> {
    text: &'i str,
    state: State,
    /// Arrays and inline tables open around the current event.
    nesting: usize,
    ranges: Vec<std::ops::Range<usize>>,
}

impl<'i> Ranges<'i> {
    fn new(text: &'i str) -> Self {
        Self {
            text,
            state: State::Root,
            nesting: 0,
            ranges: Vec::new(),
        }
    }

    fn raw(&self, span: Span, encoding: Option<Encoding>) -> Raw<'i> {
        let text = self.text.get(span.start()..span.end()).unwrap_or_default();
        Raw::new_unchecked(text, encoding, span)
    }

    fn push(&mut self, start: usize, end: usize, keygate: bool) {
        if keygate && start < end {
            self.ranges.push(start..end);
        }
    }

    /// A header starts at `start`: the running section ends there.
    fn header(&mut self, start: usize) {
        if let State::Section {
            start: from,
            keygate,
        } = self.state
        {
            self.push(from, start, keygate);
        }
        self.state = State::HeaderStart { start };
    }

    fn finish(mut self) -> Vec<std::ops::Range<usize>> {
        let end = self.text.len();
        match self.state {
            State::Section { start, keygate } | State::RootStatement { start, keygate } => {
                self.push(start, end, keygate);
            }
            State::Root | State::HeaderStart { .. } => {}
        }
        self.ranges
    }
}

impl EventReceiver for Ranges<'_> {
    fn std_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header(span.start());
    }

    fn array_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header(span.start());
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.nesting += 1;
        true
    }

    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.nesting += 1;
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        let mut key = Cow::Borrowed("");
        self.raw(span, encoding).decode_key(&mut key, error);
        let is_section = || SECTIONS.contains(&key.as_ref());
        match self.state {
            State::Root if self.nesting == 0 => {
                self.state = State::RootStatement {
                    start: span.start(),
                    keygate: is_section(),
                };
            }
            State::HeaderStart { start } => {
                self.state = State::Section {
                    start,
                    keygate: is_section(),
                };
            }
            _ => {}
        }
    }

    fn scalar(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        let mut value = Cow::Borrowed("");
        let kind = self.raw(span, encoding).decode_scalar(&mut value, error);
        // The one check `toml` makes after decoding a scalar.
        if kind == ScalarKind::DateTime
            && let Err(e) = value.parse::<toml_datetime::Datetime>()
        {
            error.report_error(ParseError::new(e.to_string()).with_unexpected(span));
        }
    }

    fn newline(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        if let State::RootStatement { start, keygate } = self.state
            && self.nesting == 0
        {
            self.push(start, span.end(), keygate);
            self.state = State::Root;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> Vec<&str> {
        keygate_ranges(text)
            .unwrap()
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn finds_keygate_sections_in_every_form() {
        let text = "title = \"moose\"\njwt.issuer = \"i\" # c\n\"jwt\".audience = \"a\"\n\
                    cache = { max_entries = [\n 1,\n] }\n\n[clickhouse_config]\nhost = \"h\"\n\
                    [jwt . x]\ny = 1\n  [[token_issuer.projects]]\nid = \"p\"\n['server']\nlisten = \"x\"\n\
                    [features]\na = [1, 2]\n[cache]";
        assert_eq!(
            sections(text),
            vec![
                "jwt.issuer = \"i\" # c\n",
                "\"jwt\".audience = \"a\"\n",
                "cache = { max_entries = [\n 1,\n] }\n",
                "[jwt . x]\ny = 1\n  ",
                "[[token_issuer.projects]]\nid = \"p\"\n",
                "['server']\nlisten = \"x\"\n",
                "[cache]",
            ]
        );
    }

    #[test]
    fn errors_and_messages_agree_with_the_toml_crate() {
        for text in [
            "[jwt]\nissuer = \"x\"\nsecret = hunter2-not-quoted\n",
            "[clickhouse_config]\nhost = \"h\"\nport = 12ab\n",
            "x = [1, 2\n",
            "[a\nb = 1\n",
            "x = 1979-13-27\n",
            "a = \"\\q\"\n",
            "k = 1 2\n",
            "[features]\nx = \"bad \\q escape\"\n",
            "[features]\nx = 1979-13-27\n",
            "a = [1,\n2\n",
            "x = { a = 1\n",
            "# \u{0007} bell in a comment\n",
        ] {
            let ours = keygate_ranges(text).unwrap_err();
            let theirs = toml::de::DeTable::parse(text).unwrap_err();
            assert_eq!(ours.message, theirs.message().trim(), "{text:?}");
            assert_eq!(ours.offset, theirs.span().map(|s| s.start), "{text:?}");
        }
    }

    #[test]
    fn large_ignored_sections_are_scanned_in_batches() {
        let mut text = String::from("[jwt]\nissuer = \"i\"\n[clickhouse_config]\n");
        for i in 0..20_000 {
            text.push_str(&format!("k{i} = [{i}, \"v\"]\n"));
        }
        text.push_str("[server]\nlisten = \"x\"\n");
        assert_eq!(
            sections(&text),
            vec!["[jwt]\nissuer = \"i\"\n", "[server]\nlisten = \"x\"\n"]
        );
        text.push_str("late = error here\n");
        let err = keygate_ranges(&text).unwrap_err();
        let line = text[..err.offset.unwrap()].matches('\n').count() + 1;
        assert_eq!(line, text.lines().count());
    }
}
