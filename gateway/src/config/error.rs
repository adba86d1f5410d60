//! The single error type of the configuration loader and the mapping of
//! serde_yaml_ng errors onto it.

use std::fmt;

use super::span::{join_key, SpanMap};

/// Field name used for errors about the document as a whole (syntax errors,
/// an unreadable or empty file).
pub const DOCUMENT: &str = "(document)";

/// A configuration error, located in the source file where possible.
///
/// Displays as `FILE:LINE:COL: FIELD: REASON`, or `FILE: FIELD: REASON` when
/// there is no position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or other origin) the configuration came from.
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Field path such as `ports[1].addresses[0]`, or `(document)`.
    pub field: String,
    /// What is wrong, in words.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(
        file: &str,
        pos: Option<(usize, usize)>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Converts a deserialization error into a [`ConfigError`].
///
/// serde_yaml_ng formats messages as `PATH: MESSAGE at line L column C`
/// (syntax errors: `PROBLEM at line L column C, CONTEXT at line ...`). The
/// path and the positions are taken apart; unknown and missing fields are
/// reported against the field itself.
pub(crate) fn from_yaml_error(origin: &str, err: &serde_yaml_ng::Error, spans: &SpanMap) -> ConfigError {
    let yaml_pos = err.location().map(|l| (l.line(), l.column()));
    let text = strip_positions(&err.to_string());
    let (path, msg) = split_path(&text);

    // A document without any content (empty, or only comments).
    if msg == "EOF while parsing a value" || (spans.is_empty() && msg.starts_with("missing field")) {
        return ConfigError::new(
            origin,
            None,
            DOCUMENT,
            "the configuration is empty (at least `ports` is required)",
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some((name, allowed)) = rest.split_once('`') {
            let field = join_key(path, name);
            let allowed = describe_allowed(allowed);
            let pos = spans.get(&field).or(yaml_pos);
            return ConfigError::new(origin, pos, field, format!("unknown field `{name}`; {allowed}"));
        }
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        if let Some((name, _)) = rest.split_once('`') {
            let field = join_key(path, name);
            // Point at the mapping that lacks the field.
            let pos = if path.is_empty() { yaml_pos } else { spans.locate(path).or(yaml_pos) };
            return ConfigError::new(origin, pos, field, format!("required field `{name}` is missing"));
        }
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        if let Some((name, _)) = rest.split_once('`') {
            let field = join_key(path, name);
            let pos = spans.repeated(&field).or(yaml_pos);
            return ConfigError::new(origin, pos, field, format!("`{name}` is given more than once"));
        }
    }
    let field = if path.is_empty() { DOCUMENT } else { path };
    ConfigError::new(origin, yaml_pos, field, msg)
}

/// Turns serde's `, expected one of `a`, `b`` tail into a readable list.
fn describe_allowed(tail: &str) -> String {
    let names: Vec<&str> = tail.split('`').skip(1).step_by(2).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        "no fields are allowed here".to_string()
    } else {
        format!("allowed fields: {}", names.join(", "))
    }
}

/// Removes every ` at line L column C` and ` at position N` from a message.
fn strip_positions(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        match position_len(after) {
            Some(n) => rest = &after[n..],
            None => {
                out.push_str(" at ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a leading `line L column C` or `position N`, if present.
fn position_len(s: &str) -> Option<usize> {
    fn digits(s: &str) -> usize {
        s.bytes().take_while(u8::is_ascii_digit).count()
    }
    if let Some(r) = s.strip_prefix("line ") {
        let d1 = digits(r);
        let r2 = r[d1..].strip_prefix(" column ")?;
        let d2 = digits(r2);
        (d1 > 0 && d2 > 0).then_some(5 + d1 + 8 + d2)
    } else if let Some(r) = s.strip_prefix("position ") {
        let d = digits(r);
        (d > 0).then_some(9 + d)
    } else {
        None
    }
}

/// Splits `ports[0].mtu: invalid type ...` into path and message. A prefix
/// counts as a path only if it consists of path characters.
fn split_path(text: &str) -> (&str, &str) {
    if let Some((head, tail)) = text.split_once(": ") {
        let is_path =
            !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric() || "_-.[]?".contains(c));
        if is_path {
            return (head, tail);
        }
    }
    ("", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_formats() {
        let e = ConfigError::new("gw.yaml", Some((3, 7)), "eal.memory_mb", "too small");
        assert_eq!(e.to_string(), "gw.yaml:3:7: eal.memory_mb: too small");
        let e = ConfigError::new("gw.yaml", None, DOCUMENT, "cannot read");
        assert_eq!(e.to_string(), "gw.yaml: (document): cannot read");
    }

    #[test]
    fn strips_positions() {
        assert_eq!(
            strip_positions("did not find expected key at line 3 column 5, while parsing a block mapping at line 1 column 1"),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_positions("look at this"), "look at this");
        assert_eq!(strip_positions("bad at position 12"), "bad");
    }

    #[test]
    fn splits_paths() {
        assert_eq!(
            split_path("ports[0].mtu: invalid type: string"),
            ("ports[0].mtu", "invalid type: string")
        );
        assert_eq!(split_path("invalid type: x"), ("", "invalid type: x"));
    }
}
