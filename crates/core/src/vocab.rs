//! The option vocabulary every stage shares, so one idea has one name across the toolkit.
//!
//! * [`FieldRef`]: every option that names a field of a document (`text`, `id`, `meta.site`).
//! * [`OnMatch`]: what a stage does with what it finds (`drop`, `remove`, `annotate`, `split`);
//!   each stage declares which of them it supports in [`crate::StageConfig::ON_MATCH`].
//!
//! The table of shared option names (`path`/`paths`, `fields`, `compression_level`, `report`,
//! byte sizes) is in ARCHITECTURE.md.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::document::Document;

/// A field of a document: its `text`, its `id`, or a metadata key (`meta.site`, `meta.url`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// The document text.
    Text,
    /// The document id.
    Id,
    /// A metadata field, by key.
    Meta(String),
}

impl FieldRef {
    /// A metadata field.
    pub fn meta(key: impl Into<String>) -> Self {
        FieldRef::Meta(key.into())
    }

    /// Parses `text`, `id` or `meta.<key>`.
    pub fn parse(given: &str) -> Result<Self, String> {
        match given {
            "text" => Ok(FieldRef::Text),
            "id" => Ok(FieldRef::Id),
            _ => match given.strip_prefix("meta.") {
                Some(key) if !key.is_empty() => Ok(FieldRef::Meta(key.to_string())),
                _ => Err(format!(
                    "expected `text`, `id` or `meta.<key>`, found `{given}` (did you mean `meta.{given}`?)"
                )),
            },
        }
    }

    /// The field's value in `doc` as text (metadata that is not a string as JSON); `None` when
    /// the document has no such metadata field.
    pub fn get<'a>(&self, doc: &'a Document) -> Option<Cow<'a, str>> {
        match self {
            FieldRef::Text => Some(Cow::Borrowed(&doc.text)),
            FieldRef::Id => Some(Cow::Borrowed(&doc.id)),
            FieldRef::Meta(key) => doc.meta_text(key),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Text => f.write_str("text"),
            FieldRef::Id => f.write_str("id"),
            FieldRef::Meta(key) => write!(f, "meta.{key}"),
        }
    }
}

impl Serialize for FieldRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FieldRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let given = String::deserialize(d)?;
        FieldRef::parse(&given).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for FieldRef {
    fn schema_name() -> Cow<'static, str> {
        "FieldRef".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(text|id|meta\\..+)$",
            "description": "A document field: text, id, or meta.<key>."
        })
    }
}

/// What a stage does with what it finds: the value of every stage's `on_match` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnMatch {
    /// Drop the document, with the stage's drop reason.
    Drop,
    /// Cut the matched spans out of the text; the document goes on.
    Remove,
    /// Change nothing: record the findings as spans and metadata.
    Annotate,
    /// Emit one document per matched segment.
    Split,
}

/// `drop`: what a filter does unless told to `annotate`.
impl Default for OnMatch {
    fn default() -> Self {
        OnMatch::Drop
    }
}

impl OnMatch {
    /// Every value, in documentation order.
    pub const ALL: [OnMatch; 4] = [OnMatch::Drop, OnMatch::Remove, OnMatch::Annotate, OnMatch::Split];
    /// What stages that find spans in a text support (boilerplate, repeated segments).
    pub const SPANS: &'static [OnMatch] = &[OnMatch::Remove, OnMatch::Annotate];
    /// What stages that judge whole documents support (near-duplicate clusters).
    pub const DOCUMENTS: &'static [OnMatch] = &[OnMatch::Drop, OnMatch::Annotate];
    /// What segmenters support.
    pub const SEGMENTS: &'static [OnMatch] = &[OnMatch::Annotate, OnMatch::Split];

    /// `drop`, as a serde default (`#[serde(default = "OnMatch::default_drop")]`).
    pub fn default_drop() -> Self {
        OnMatch::Drop
    }
    /// `remove`, as a serde default.
    pub fn default_remove() -> Self {
        OnMatch::Remove
    }
    /// `annotate`, as a serde default.
    pub fn default_annotate() -> Self {
        OnMatch::Annotate
    }

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnMatch::Drop => "drop",
            OnMatch::Remove => "remove",
            OnMatch::Annotate => "annotate",
            OnMatch::Split => "split",
        }
    }

    /// What the value means, for `describe` and the schema.
    pub fn meaning(self) -> &'static str {
        match self {
            OnMatch::Drop => "drop the document, with the stage's drop reason",
            OnMatch::Remove => "cut the matched spans out of the text; the document goes on",
            OnMatch::Annotate => "change nothing; record the findings as spans and metadata",
            OnMatch::Split => "emit one document per segment",
        }
    }
}

impl fmt::Display for OnMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_refs_parse_and_print() {
        for given in ["text", "id", "meta.site", "meta.a.b"] {
            assert_eq!(FieldRef::parse(given).unwrap().to_string(), given);
        }
        let err = FieldRef::parse("site").unwrap_err();
        assert!(err.contains("meta.site"), "{err}");
        assert!(FieldRef::parse("meta.").is_err());
        let doc = Document::new("d1", "hello").with_meta("site", "x.org").with_meta("n", 3);
        assert_eq!(FieldRef::Text.get(&doc).as_deref(), Some("hello"));
        assert_eq!(FieldRef::Id.get(&doc).as_deref(), Some("d1"));
        assert_eq!(FieldRef::meta("site").get(&doc).as_deref(), Some("x.org"));
        assert_eq!(FieldRef::meta("n").get(&doc).as_deref(), Some("3"));
        assert_eq!(FieldRef::meta("absent").get(&doc), None);
    }
}
