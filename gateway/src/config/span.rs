//! Maps field paths such as `ports[1].addresses[0]` to the line and column
//! where they appear in the YAML source.
//!
//! The map is built from yaml-rust2's marked event stream. A mapping entry is
//! located at its key; a sequence element at the start of the element. Lines
//! and columns are 1-based.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Line and column (both 1-based) of every field path found in a document.
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    spans: HashMap<String, (usize, usize)>,
    /// Position of the second occurrence of a repeated mapping key.
    repeats: HashMap<String, (usize, usize)>,
}

impl SpanMap {
    /// Builds the map for `text`. A document that does not parse yields the
    /// paths seen before the syntax error (possibly none).
    pub fn build(text: &str) -> SpanMap {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        // A syntax error is reported by the deserializer; keep what we have.
        let _ = parser.load(&mut builder, false);
        SpanMap { spans: builder.spans, repeats: builder.repeats }
    }

    /// Exact position of `path`, if it occurs in the document.
    pub fn get(&self, path: &str) -> Option<(usize, usize)> {
        self.spans.get(path).copied()
    }

    /// Position of the second occurrence of the mapping key `path`, if the
    /// key is repeated.
    pub fn repeated(&self, path: &str) -> Option<(usize, usize)> {
        self.repeats.get(path).copied()
    }

    /// Position of `path` or, when it is absent (a defaulted field), of its
    /// nearest enclosing path that is present.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut current = path;
        loop {
            if let Some(pos) = self.get(current) {
                return Some(pos);
            }
            current = parent_path(current)?;
        }
    }

    /// Number of recorded paths.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when no path was recorded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// `ports[1].addresses[0]` -> `ports[1].addresses` -> `ports[1]` -> `ports`
/// -> `None`.
pub fn parent_path(path: &str) -> Option<&str> {
    let cut = if path.ends_with(']') { path.rfind('[')? } else { path.rfind('.')? };
    Some(&path[..cut]).filter(|p| !p.is_empty())
}

/// Joins a parent path and a mapping key the way serde_yaml_ng prints paths.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Joins a parent path and a sequence index.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

enum Frame {
    Map {
        path: String,
        /// `None` while waiting for a key; `Some(key path)` while waiting for
        /// the value of that key. An unusable (complex) key gives `Some(None)`.
        pending: Option<Option<String>>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    spans: HashMap<String, (usize, usize)>,
    repeats: HashMap<String, (usize, usize)>,
    /// Depth of complex keys (mappings/sequences used as keys) being skipped.
    in_complex_key: usize,
}

impl Builder {
    fn record(&mut self, path: &str, mark: Marker) {
        if path.is_empty() {
            return;
        }
        // yaml-rust2 columns are 0-based.
        self.spans.entry(path.to_string()).or_insert((mark.line(), mark.col() + 1));
    }

    /// Called when a node begins. Returns the path of that node (`None` for
    /// a node that is a complex key or lies inside one).
    fn node_start(&mut self, mark: Marker, scalar: Option<&str>) -> Option<String> {
        if self.in_complex_key > 0 {
            return None;
        }
        let (path, is_key) = match self.stack.last_mut() {
            None => (Some(String::new()), false),
            Some(Frame::Seq { path, next }) => {
                let p = join_index(path, *next);
                *next += 1;
                (Some(p), false)
            }
            Some(Frame::Map { path, pending }) => match pending {
                None => {
                    // This node is a key.
                    let key_path = scalar.map(|k| join_key(path, k));
                    (key_path, true)
                }
                Some(value_path) => (value_path.clone(), false),
            },
        };
        if is_key {
            if let Some(p) = &path {
                if self.spans.contains_key(p.as_str()) {
                    self.repeats.entry(p.clone()).or_insert((mark.line(), mark.col() + 1));
                }
                self.record(p, mark);
                // yaml-rust2 marks a block mapping after its first key, so a
                // mapping starts no later than its first key.
                if let Some(Frame::Map { path: map_path, .. }) = self.stack.last() {
                    let pos = (mark.line(), mark.col() + 1);
                    if let Some(start) = self.spans.get_mut(map_path.as_str()) {
                        *start = (*start).min(pos);
                    }
                }
            }
            return path;
        }
        if let Some(p) = &path {
            self.record(p, mark);
        }
        path
    }

    /// Called when a node ends, to advance the parent's state.
    fn node_end(&mut self, key_path: Option<String>) {
        if self.in_complex_key > 0 {
            return;
        }
        if let Some(Frame::Map { pending, .. }) = self.stack.last_mut() {
            *pending = match pending {
                None => Some(key_path),
                Some(_) => None,
            };
        }
    }

    fn is_key_position(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { pending: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                let path = self.node_start(mark, Some(&value));
                self.node_end(path);
            }
            Event::Alias(_) => {
                let path = self.node_start(mark, None);
                self.node_end(path);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if self.in_complex_key > 0 {
                    self.in_complex_key += 1;
                    return;
                }
                if self.is_key_position() {
                    // A mapping or sequence used as a key: skip it entirely.
                    self.in_complex_key = 1;
                    return;
                }
                let path = self.node_start(mark, None).unwrap_or_default();
                let frame = if matches!(ev, Event::MappingStart(..)) {
                    Frame::Map { path, pending: None }
                } else {
                    Frame::Seq { path, next: 0 }
                };
                self.stack.push(frame);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if self.in_complex_key > 0 {
                    self.in_complex_key -= 1;
                    if self.in_complex_key == 0 {
                        // The complex key is complete; its value follows.
                        self.node_end(None);
                    }
                    return;
                }
                let frame = self.stack.pop();
                let path = match frame {
                    Some(Frame::Map { path, .. }) | Some(Frame::Seq { path, .. }) => Some(path),
                    None => None,
                };
                self.node_end(path);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_positions() {
        let text = "\
eal:
  memory_mb: 128
ports:
  - name: lan
    addresses: [\"192.0.2.1/24\", \"2001:db8:1::1/64\"]
  - name: wan
    addresses:
      - 198.51.100.1/24
routes:
  - { prefix: 203.0.113.0/24, via: 198.51.100.2 }
";
        let spans = SpanMap::build(text);
        assert_eq!(spans.get("eal"), Some((1, 1)));
        assert_eq!(spans.get("eal.memory_mb"), Some((2, 3)));
        assert_eq!(spans.get("ports"), Some((3, 1)));
        assert_eq!(spans.get("ports[0]"), Some((4, 5)));
        assert_eq!(spans.get("ports[0].name"), Some((4, 5)));
        assert_eq!(spans.get("ports[0].addresses"), Some((5, 5)));
        assert_eq!(spans.get("ports[0].addresses[1]"), Some((5, 33)));
        assert_eq!(spans.get("ports[1].name"), Some((6, 5)));
        assert_eq!(spans.get("ports[1].addresses[0]"), Some((8, 9)));
        assert_eq!(spans.get("routes[0].via"), Some((10, 31)));
        assert_eq!(spans.get("routes[1]"), None);
        assert_eq!(spans.locate("ports[1].mtu"), Some((6, 5)));
    }

    #[test]
    fn parent_paths() {
        assert_eq!(parent_path("ports[1].addresses[0]"), Some("ports[1].addresses"));
        assert_eq!(parent_path("ports[1].addresses"), Some("ports[1]"));
        assert_eq!(parent_path("ports[1]"), Some("ports"));
        assert_eq!(parent_path("ports"), None);
        assert_eq!(parent_path("eal.memory_mb"), Some("eal"));
    }

    #[test]
    fn complex_keys_and_broken_documents_do_not_panic() {
        let spans = SpanMap::build("? [a, b]\n: 1\nc: 2\n");
        assert_eq!(spans.get("c"), Some((3, 1)));
        let spans = SpanMap::build("a: 1\nb: 2\na: 3\n");
        assert_eq!(spans.get("a"), Some((1, 1)));
        assert_eq!(spans.repeated("a"), Some((3, 1)));
        assert_eq!(spans.repeated("b"), None);
        let spans = SpanMap::build("a: 1\nb: [\n");
        assert_eq!(spans.get("a"), Some((1, 1)));
    }
}
