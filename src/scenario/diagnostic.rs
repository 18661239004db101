//! Scenario sources and the errors that point into them.

use std::collections::BTreeMap;
use std::fmt;

use super::plan::Location;
use crate::suggest;

/// Scenario files by path (relative to the scenarios folder, `/`-separated):
/// the built-in set is embedded in the binary; `--scenarios DIR` adds or
/// replaces files. Keeping sources in memory keeps planning I/O-free.
#[derive(Debug, Clone, Default)]
pub struct SourceSet {
    files: BTreeMap<String, String>,
    /// Where each file came from, for messages (`embedded:` or a real path).
    origins: BTreeMap<String, String>,
}

impl SourceSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the file at `path`; `origin` is how messages name it.
    pub fn insert(
        &mut self,
        path: impl Into<String>,
        origin: impl Into<String>,
        text: impl Into<String>,
    ) {
        let path = path.into();
        self.origins.insert(path.clone(), origin.into());
        self.files.insert(path, text.into());
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The name messages use for `path`.
    pub fn display_name<'a>(&'a self, path: &'a str) -> &'a str {
        self.origins.get(path).map(String::as_str).unwrap_or(path)
    }

    /// Line and column (1-based, columns in characters) of a byte offset.
    pub fn location(&self, path: &str, offset: usize) -> Location {
        let text = self.get(path).unwrap_or_default();
        let (line, column) = line_col(text, offset);
        Location {
            file: self.display_name(path).to_owned(),
            line,
            column,
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A problem in a scenario file, with where it is and the offending line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    /// The source line the location points into.
    pub line_text: String,
}

impl Diagnostic {
    pub fn at(location: &Location, sources: &SourceSet, message: String) -> Self {
        // Find the text of that line through the original path.
        let line_text = sources
            .paths()
            .find(|p| sources.display_name(p) == location.file)
            .and_then(|p| sources.get(p))
            .and_then(|t| t.lines().nth(location.line.saturating_sub(1)))
            .unwrap_or_default()
            .to_owned();
        Self {
            location: location.clone(),
            message,
            line_text,
        }
    }

    /// From a TOML parse error, adding "did you mean" to unknown-field errors.
    pub fn from_toml(path: &str, text: &str, err: &toml::de::Error) -> Self {
        let offset = err.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = line_col(text, offset);
        let mut message = err.message().trim().to_owned();
        if let Some(hint) = unknown_field_hint(&message) {
            message.push_str(&hint);
        }
        Self {
            location: Location {
                file: path.to_owned(),
                line,
                column,
            },
            message,
            line_text: text.lines().nth(line - 1).unwrap_or_default().to_owned(),
        }
    }
}

/// serde says "unknown field `x`, expected one of `a`, `b`"; suggest the
/// nearest of the expected names.
fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (given, expected) = rest.split_once('`')?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    suggest::nearest(given, names.iter().copied()).map(|s| format!(" (did you mean `{s}`?)"))
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "  --> {}", self.location)?;
        if !self.line_text.is_empty() {
            let n = self.location.line.to_string();
            let pad = " ".repeat(n.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{n} | {}", self.line_text)?;
            writeln!(
                f,
                "{pad} | {}^",
                " ".repeat(self.location.column.saturating_sub(1))
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn unknown_field_gets_a_suggestion() {
        let hint = unknown_field_hint("unknown field `stauts`, expected one of `status`, `header`");
        assert_eq!(hint.as_deref(), Some(" (did you mean `status`?)"));
    }
}
