//! Line/column of every key and value in a YAML document, by dotted path (`stages.2.bands`).
//!
//! serde_yaml gives values but no positions; this index comes from yaml-rust2's marked event
//! stream, which is the same YAML 1.2 grammar, so the two agree on what a path means.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// Where a key and its value stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Position of the key (for mapping entries).
    pub key: Option<Pos>,
    /// Position of the value.
    pub value: Pos,
}

/// Positions of all nodes, by dotted path; the root is `""`.
#[derive(Debug, Default, Clone)]
pub struct PositionIndex {
    entries: HashMap<String, Entry>,
}

impl PositionIndex {
    /// Indexes `text`; an unparsable document gives an empty index (serde_yaml reports the error).
    pub fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return PositionIndex::default();
        }
        PositionIndex { entries: builder.entries }
    }

    /// The entry at `path`, if the document has one.
    pub fn get(&self, path: &str) -> Option<Entry> {
        self.entries.get(path).copied()
    }

    /// Position of the key at `path`, or of the value, or of the nearest ancestor that exists
    /// (for an ancestor that is a stage, its `type:` key).
    pub fn key_or_nearest(&self, path: &str) -> Option<Pos> {
        if let Some(e) = self.entries.get(path) {
            return Some(e.key.unwrap_or(e.value));
        }
        let mut p = path;
        loop {
            p = p.rfind('.').map_or("", |i| &p[..i]);
            let type_key = if p.is_empty() { "type".to_string() } else { format!("{p}.type") };
            if let Some(key) = self.entries.get(&type_key).and_then(|e| e.key) {
                return Some(key);
            }
            if let Some(e) = self.entries.get(p) {
                return Some(e.key.unwrap_or(e.value));
            }
            if p.is_empty() {
                return None;
            }
        }
    }

    /// Position of the value at `path`, or of the nearest ancestor that exists.
    pub fn value_or_nearest(&self, path: &str) -> Option<Pos> {
        match self.entries.get(path) {
            Some(e) => Some(e.value),
            None => self.key_or_nearest(path),
        }
    }
}

enum Frame {
    Map { path: String, pending_key: Option<(String, Pos)> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    entries: HashMap<String, Entry>,
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

fn pos(mark: Marker) -> Pos {
    Pos { line: mark.line(), col: mark.col() + 1 }
}

impl Builder {
    /// Called at the start of a node; returns its path, or `None` if the node is a mapping key.
    fn node_start(&mut self, mark: Marker, scalar: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => {
                self.entries.insert(String::new(), Entry { key: None, value: pos(mark) });
                Some(String::new())
            }
            Some(Frame::Seq { path, next }) => {
                let p = join(path, &next.to_string());
                *next += 1;
                self.entries.insert(p.clone(), Entry { key: None, value: pos(mark) });
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                None => {
                    *pending_key = Some((scalar.unwrap_or("?").to_string(), pos(mark)));
                    None
                }
                Some((key, key_pos)) => {
                    let p = join(path, &key);
                    self.entries.insert(p.clone(), Entry { key: Some(key_pos), value: pos(mark) });
                    Some(p)
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                self.node_start(mark, Some(&value));
            }
            Event::Alias(_) => {
                self.node_start(mark, None);
            }
            Event::MappingStart(..) => {
                let path = self.node_start(mark, None).unwrap_or_default();
                self.stack.push(Frame::Map { path, pending_key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.node_start(mark, None).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_keys_and_values() {
        let text = "version: 1\nstages:\n  - type: a.b\n    bands: 3\n  - {type: c.d, x: 1}\n";
        let idx = PositionIndex::build(text);
        assert_eq!(idx.get("version").unwrap().key, Some(Pos { line: 1, col: 1 }));
        assert_eq!(idx.get("stages.0.type").unwrap().value, Pos { line: 3, col: 11 });
        assert_eq!(idx.get("stages.0.bands").unwrap().key, Some(Pos { line: 4, col: 5 }));
        assert_eq!(idx.get("stages.1.x").unwrap().key, Some(Pos { line: 5, col: 17 }));
        assert_eq!(idx.key_or_nearest("stages.0.missing"), Some(Pos { line: 3, col: 5 }));
    }
}
