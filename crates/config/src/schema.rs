//! JSON Schema of pipeline files, for editors (`millstone schema`).

use millstone_core::{Registry, RuntimeSettings};
use serde_json::{json, Value};

/// A JSON Schema (draft 2020-12) describing pipeline files for every registered stage type.
pub fn pipeline_schema(registry: &Registry) -> Value {
    let runtime = serde_json::to_value(schemars::schema_for!(RuntimeSettings)).unwrap_or_default();
    let storage =
        serde_json::to_value(schemars::schema_for!(millstone_storage::StorageSettings)).unwrap_or_default();
    let mut defs = serde_json::Map::new();
    let mut variants = Vec::new();
    for info in registry.iter() {
        let mut schema = info.schema();
        if let Some(stage_defs) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            if let Some(map) = stage_defs.as_object() {
                for (k, v) in map {
                    defs.insert(k.clone(), v.clone());
                }
            }
        }
        let mut properties = schema.get("properties").cloned().unwrap_or_else(|| json!({}));
        let props = properties.as_object_mut().expect("properties is an object");
        props.insert("type".into(), json!({"const": info.type_name, "description": info.summary}));
        props.insert(
            "id".into(),
            json!({"type": "string", "description": "Unique stage id (default `<type>#<index>`)."}),
        );
        props.insert("on_error".into(), json!({"enum": ["fail", "skip", "quarantine"], "description": "What to do when this stage fails on a document."}));
        props.insert(
            "keep_dropped".into(),
            json!({"type": "boolean", "description": "Write dropped documents to <out>/rejects/<id>.jsonl."}),
        );
        let mut required = vec![json!("type")];
        if let Some(r) = schema.get("required").and_then(|r| r.as_array()) {
            required.extend(r.iter().cloned());
        }
        variants.push(json!({
            "if": {"properties": {"type": {"const": info.type_name}}, "required": ["type"]},
            "then": {"type": "object", "properties": properties, "required": required, "additionalProperties": false}
        }));
    }
    let names: Vec<&str> = registry.names();
    if let Some(map) = runtime.get("$defs").and_then(|d| d.as_object()) {
        for (k, v) in map {
            defs.insert(k.clone(), v.clone());
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "millstone pipeline",
        "type": "object",
        "additionalProperties": false,
        "required": ["stages"],
        "properties": {
            "version": {"const": 1},
            "name": {"type": "string"},
            "runtime": {"type": "object", "properties": runtime.get("properties").cloned().unwrap_or_default(), "additionalProperties": false},
            "storage": {"type": "object", "description": storage.get("description").cloned().unwrap_or_default(), "properties": storage.get("properties").cloned().unwrap_or_default(), "additionalProperties": false},
            "stages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": names}},
                    "allOf": variants
                }
            }
        },
        "$defs": defs
    })
}
