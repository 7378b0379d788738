//! `millstone describe`: a stage's fields (required first, then as declared) with their type,
//! default (or "required") and every allowed value, its drop reasons and its example, all read
//! from the registry, so the text cannot drift from the code.

use std::fmt::Write;

use millstone_core::StageInfo;
use serde_json::Value;

/// One field as `describe` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDoc {
    /// The YAML key.
    pub name: String,
    /// The value type in words (`integer`, `list of string`, `byte size`, `field`).
    pub type_name: String,
    /// `required`, or the default as YAML (`none` when the field is simply absent).
    pub default: String,
    /// The allowed values of an enum field, with their meaning.
    pub values: Vec<(String, String)>,
    /// What the field does.
    pub description: String,
    /// Whether the field must be given.
    pub required: bool,
}

/// The fields of a stage, required ones first, each group in declaration order. `preset`
/// resolves preset-dependent defaults (`--preset news`); without it the stage's own default
/// preset is used.
pub fn fields(info: &StageInfo, preset: Option<&str>) -> Result<Vec<FieldDoc>, String> {
    let fields = info.fields();
    let has_preset = fields.iter().any(|(name, _)| name == "preset");
    let seed = match preset {
        Some(p) if has_preset => serde_json::json!({ "preset": p }),
        Some(_) => return Err(format!("`{}` has no presets", info.type_name)),
        None => serde_json::json!({}),
    };
    // A stage with required fields cannot be built from `{}`; then nothing is resolved.
    let resolved = info.resolved(&seed);
    if preset.is_some() {
        resolved.as_ref().map_err(|e| format!("preset: {e}"))?;
    }
    let resolved = resolved.unwrap_or_default();
    let preset_name = resolved.get("preset").map(yaml);
    let mut docs: Vec<FieldDoc> = fields
        .into_iter()
        .map(|(name, schema)| {
            let required = schema.get("required").and_then(Value::as_bool).unwrap_or(false);
            let default = match (schema.get("default"), resolved.get(&name)) {
                (_, Some(value)) if name == "preset" => yaml(value),
                (_, Some(value)) => match &preset_name {
                    Some(p) => format!("{} (preset {p})", yaml(value)),
                    None => format!("{} (derived)", yaml(value)),
                },
                (Some(Value::Null), _) | (None, _) if !required => "none".to_string(),
                (Some(value), _) => yaml(value),
                (None, _) => "required".to_string(),
            };
            FieldDoc {
                type_name: type_name(&schema),
                values: enum_values(&schema),
                description: schema.get("description").and_then(Value::as_str).unwrap_or("").to_string(),
                default,
                required,
                name,
            }
        })
        .collect();
    docs.sort_by_key(|d| !d.required);
    Ok(docs)
}

/// The whole `describe` text.
pub fn render(info: &StageInfo, preset: Option<&str>) -> Result<String, String> {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})\n  {}\n", info.type_name, info.kind.as_str(), info.summary);
    let _ = writeln!(s, "fields (required first, then as declared):");
    for field in fields(info, preset)? {
        let default =
            if field.required { "(required)".to_string() } else { format!("[default: {}]", field.default) };
        let _ = writeln!(s, "  {}  {}  {default}", field.name, field.type_name);
        if !field.description.is_empty() {
            let _ = writeln!(s, "      {}", field.description);
        }
        let width = field.values.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
        for (value, meaning) in &field.values {
            let _ = writeln!(s, "        {value:<width$}  {meaning}");
        }
    }
    let _ = writeln!(
        s,
        "  (runner keys, every stage: id, on_error: fail | skip | quarantine, keep_dropped: bool)"
    );
    if !info.drop_reasons.is_empty() {
        let _ = writeln!(s, "\ndrop reasons:");
        for (code, meaning) in info.drop_reasons {
            let _ = writeln!(s, "  {code}: {meaning}");
        }
    }
    if !info.renamed.is_empty() {
        let renamed: Vec<String> = info.renamed.iter().map(|(old, new)| format!("{old} -> {new}")).collect();
        let _ = writeln!(s, "\nrenamed fields: {}", renamed.join(", "));
    }
    let example: Vec<String> = info.example.lines().map(|l| format!("  {l}")).collect();
    let _ = write!(s, "\nexample:\n{}", example.join("\n"));
    Ok(s)
}

/// A JSON value as it would be written in YAML (strings without quotes where that is safe).
fn yaml(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains([':', '#', '{', '[', '"']) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn type_name(schema: &Value) -> String {
    match schema.get("x-type").and_then(Value::as_str) {
        Some("ByteSize") => return "byte size (4096, 64KiB, 8MiB, 1GiB)".into(),
        Some("FieldRef") => return "field (text | id | meta.<key>)".into(),
        _ => {}
    }
    if !enum_values(schema).is_empty() {
        return if schema.get("items").is_some() { "list of".into() } else { "one of".into() };
    }
    let mut types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        for key in ["anyOf", "oneOf"] {
            for sub in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
                let name = type_name(sub);
                if !name.is_empty() && name != "null" {
                    types.push(name);
                }
            }
        }
    }
    types.retain(|t| t != "null");
    types.dedup();
    let items = schema.get("items").map(type_name).unwrap_or_default();
    types
        .into_iter()
        .map(|t| if t == "array" && !items.is_empty() { format!("list of {items}") } else { t })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Allowed values of an enum field (through `Option`, `oneOf` and `anyOf`).
fn enum_values(schema: &Value) -> Vec<(String, String)> {
    let meaning = |v: &Value| v.get("description").and_then(Value::as_str).unwrap_or("").to_string();
    let mut values = Vec::new();
    if let Some(list) = schema.get("enum").and_then(Value::as_array) {
        values.extend(list.iter().filter(|v| !v.is_null()).map(|v| (yaml(v), String::new())));
    }
    if let Some(c) = schema.get("const").filter(|c| !c.is_null()) {
        values.push((yaml(c), meaning(schema)));
    }
    for key in ["oneOf", "anyOf"] {
        for sub in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            values.extend(enum_values(sub));
        }
    }
    if let Some(items) = schema.get("items") {
        values.extend(enum_values(items));
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of every registered stage shows a default or "required", and every value of
    /// every enum field is listed.
    #[test]
    fn describe_answers_every_question_for_every_stage() {
        let registry = crate::builtin_registry();
        for info in registry.iter() {
            let text = render(info, None).unwrap();
            let docs = fields(info, None).unwrap();
            assert!(!docs.is_empty() || info.type_name == "clean.normalize_whitespace", "{}", info.type_name);
            let first_optional = docs.iter().position(|d| !d.required).unwrap_or(docs.len());
            assert!(
                docs[first_optional..].iter().all(|d| !d.required),
                "{}: required fields first",
                info.type_name
            );
            for doc in &docs {
                let line = text
                    .lines()
                    .find(|l| l.starts_with(&format!("  {}  ", doc.name)))
                    .unwrap_or_else(|| panic!("{}: no line for `{}`", info.type_name, doc.name));
                assert!(
                    line.contains("(required)") || line.contains("[default: "),
                    "{}: `{}` shows neither a default nor required: {line}",
                    info.type_name,
                    doc.name
                );
                assert!(!doc.type_name.is_empty(), "{}: `{}` has no type", info.type_name, doc.name);
                assert!(!doc.description.is_empty(), "{}: `{}` has no description", info.type_name, doc.name);
                assert!(
                    !doc.description.contains("```"),
                    "{}: `{}` description has code",
                    info.type_name,
                    doc.name
                );
                for (value, _) in &doc.values {
                    assert!(
                        text.lines().any(|l| l.trim_start().starts_with(value.as_str())),
                        "{}: value `{value}` of `{}` not listed",
                        info.type_name,
                        doc.name
                    );
                }
            }
        }
    }

    #[test]
    fn enum_fields_list_their_values_and_defaults() {
        let registry = crate::builtin_registry();
        let unicode = fields(registry.get("clean.normalize_unicode").unwrap(), None).unwrap();
        let form = unicode.iter().find(|f| f.name == "form").unwrap();
        assert!(form.values.len() >= 2, "{form:?}");
        assert_ne!(form.default, "none");
        let minhash = fields(registry.get("dedup.minhash").unwrap(), None).unwrap();
        let on_match = minhash.iter().find(|f| f.name == "on_match").unwrap();
        let values: Vec<&str> = on_match.values.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(values, ["drop", "annotate"]);
        assert_eq!(on_match.default, "drop");
    }

    #[test]
    fn presets_print_their_resolved_values() {
        let registry = crate::builtin_registry();
        let info = registry.get("dedup.minhash").unwrap();
        let news = fields(info, Some("news")).unwrap();
        let web = fields(info, None).unwrap();
        let get =
            |docs: &[FieldDoc], name: &str| docs.iter().find(|d| d.name == name).unwrap().default.clone();
        assert_eq!(get(&news, "permutations"), "256 (preset news)");
        assert_eq!(get(&news, "ngram"), "3 (preset news)");
        assert_eq!(get(&web, "permutations"), "112 (preset web)");
        assert_eq!(get(&web, "bands"), "14 (preset web)");
        assert!(fields(info, Some("nonsense")).is_err());
        assert!(fields(registry.get("dedup.exact").unwrap(), Some("news")).is_err());
    }
}
