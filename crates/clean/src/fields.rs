//! `clean.fields`: renames, selects and drops metadata fields — to keep only what the next step
//! (a Parquet schema, a training loader) expects, or to rename tags between tools' conventions.
//! Keys are top-level metadata keys, as written (a key holding dots is one key). In order:
//! `rename` first, then `select` (keep only these, after renaming), then `drop`.
//!
//! ```yaml
//! type: clean.fields
//! rename: { lang_score: language_score }
//! select: [url, lang, language_score, tokens]
//! ```

use std::collections::BTreeMap;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Emit, FieldError, Map, MapStage, Stage, StageConfig, StageError,
    StageKind,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.fields`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FieldsConfig {
    /// New names of metadata keys (`old: new`); a key already holding the new name is replaced.
    pub rename: BTreeMap<String, String>,
    /// Keep only these keys (after renaming); absent: keep all.
    pub select: Option<Vec<String>>,
    /// Remove these keys.
    pub drop: Vec<String>,
}

impl StageConfig for FieldsConfig {
    const TYPE: &'static str = "clean.fields";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str = "Rename, select and drop metadata fields";
    const EXAMPLE: &'static str = "type: clean.fields\nrename: { site: source }\nselect: [source, url]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.rename.is_empty() && self.select.is_none() && self.drop.is_empty() {
            errors.push(FieldError::new("rename", "give `rename`, `select` and/or `drop`"));
        }
        let mut targets: Vec<&String> = self.rename.values().collect();
        targets.sort();
        if let Some(twice) = targets.windows(2).find(|w| w[0] == w[1]) {
            errors.push(FieldError::new("rename", format!("two keys are renamed to `{}`", twice[0])));
        }
        if let Some(select) = &self.select {
            for key in &self.drop {
                if select.contains(key) {
                    errors.push(FieldError::new("drop", format!("`{key}` is both selected and dropped")));
                }
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(MapStage(Fields { config: self.clone() })))
    }
}

/// The `clean.fields` map.
pub struct Fields {
    config: FieldsConfig,
}

impl Map for Fields {
    fn map(&self, mut doc: Document, _out: &mut Emit) -> Result<Document, StageError> {
        let c = &self.config;
        if !c.rename.is_empty() {
            let moved: Vec<(String, serde_json::Value)> = c
                .rename
                .iter()
                .filter_map(|(old, new)| doc.meta.remove(old).map(|value| (new.clone(), value)))
                .collect();
            doc.meta.extend(moved);
        }
        if let Some(select) = &c.select {
            doc.meta.retain(|key, _| select.iter().any(|s| s == key));
        }
        for key in &c.drop {
            doc.meta.remove(key);
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(config: FieldsConfig, doc: Document) -> Document {
        config.validate().unwrap();
        let Stage::Transform(t) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        let mut out = Emit::new(false);
        t.apply(doc, &mut out).unwrap();
        out.kept()[0].clone()
    }

    fn doc() -> Document {
        Document::new("d", "text").with_meta("a", 1).with_meta("b", 2).with_meta("c", 3).with_meta("x.y", 4)
    }

    #[test]
    fn renames_then_selects_then_drops() {
        let config = FieldsConfig {
            rename: BTreeMap::from([("a".into(), "alpha".into()), ("b".into(), "c".into())]),
            select: Some(vec!["alpha".into(), "c".into(), "x.y".into()]),
            drop: vec![],
        };
        let out = apply(config, doc());
        let keys: Vec<&str> = out.meta.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 3);
        assert_eq!((out.meta["alpha"].as_i64(), out.meta["c"].as_i64()), (Some(1), Some(2)));
        assert_eq!(out.text, "text");
        let dropped =
            apply(FieldsConfig { drop: vec!["x.y".into(), "a".into()], ..Default::default() }, doc());
        let keys: Vec<&str> = dropped.meta.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 2);
        assert!(dropped.meta.contains_key("b") && dropped.meta.contains_key("c"));
    }

    #[test]
    fn conflicting_or_empty_settings_are_config_errors() {
        assert!(FieldsConfig::default().validate().is_err());
        let twice = FieldsConfig {
            rename: BTreeMap::from([("a".into(), "z".into()), ("b".into(), "z".into())]),
            ..Default::default()
        };
        assert!(twice.validate().unwrap_err()[0].message.contains("`z`"));
        let both =
            FieldsConfig { select: Some(vec!["a".into()]), drop: vec!["a".into()], ..Default::default() };
        assert!(both.validate().is_err());
    }
}
