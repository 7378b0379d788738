//! Stage configuration types and the registry that maps `type:` names to them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::error::{BuildError, Error, FieldError};
use crate::stage::{Stage, StageKind};
use crate::vocab::OnMatch;

/// What a stage's `build` may know about the run it is built for.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The stage's id in the pipeline (`dedup.minhash#3` or the user's `id:`).
    pub stage_id: String,
    /// Directory for run outputs (`runtime.out_dir`): rejects, quarantine, reports.
    pub out_dir: PathBuf,
    /// Whether existing outputs may be replaced.
    pub overwrite: bool,
    /// Worker threads the run will use.
    pub threads: usize,
    /// `(i, n)` when the run processes shard set i of n; sinks put `i` into `{shard}` in paths.
    pub shard: Option<(usize, usize)>,
    /// The run is task `i` of `n` of a distributed step: an output path without `{shard}` gets
    /// `.<i>-of-<n>` before its extension, so the tasks of a step never share a file.
    pub part_names: bool,
}

impl BuildContext {
    /// A context for tests and library use: out dir `out`, no overwrite protection, 1 thread.
    pub fn for_tests() -> Self {
        BuildContext {
            stage_id: "test".into(),
            out_dir: "out".into(),
            overwrite: true,
            threads: 1,
            shard: None,
            part_names: false,
        }
    }
    /// Resolves a configured output path: `{shard}` becomes the shard number (`00000` when the
    /// run is not sharded); relative paths stay relative to the working directory.
    ///
    /// In a task of a distributed step ([`BuildContext::part_names`]) a path without `{shard}`
    /// gets the task's part before its first extension: `out/docs.jsonl.zst` becomes
    /// `out/docs.00002-of-00008.jsonl.zst`.
    pub fn output_path(&self, path: &Path) -> PathBuf {
        let text = path.to_string_lossy();
        if let (true, Some((i, n)), false) = (self.part_names, self.shard, text.contains("{shard}")) {
            return part_path(path, i, n);
        }
        let shard = format!("{:05}", self.shard.map_or(0, |(i, _)| i));
        PathBuf::from(text.replace("{shard}", &shard))
    }
}

/// `path` with `.<i>-of-<n>` (five digits each) before the first extension of its file name.
pub fn part_path(path: &Path, i: usize, n: usize) -> PathBuf {
    let name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, extension) = match name.find('.').filter(|&dot| dot > 0) {
        Some(dot) => name.split_at(dot),
        None => (name.as_str(), ""),
    };
    path.with_file_name(format!("{stem}.{i:05}-of-{n:05}{extension}"))
}

/// A stage's YAML configuration: validated, then built into a runtime [`Stage`].
///
/// Implementors use `#[serde(deny_unknown_fields)]`; the config crate checks every unknown key
/// itself (against the JSON schema) so that all of them are reported at once.
pub trait StageConfig: DeserializeOwned + JsonSchema + Debug + Send + Sync + 'static {
    /// The `type:` name, `group.name`; the group is the crate (`ingest`, `clean`, `dedup`...).
    const TYPE: &'static str;
    /// Which kind of stage `build` returns.
    const KIND: StageKind;
    /// One line for `millstone stages`.
    const SUMMARY: &'static str;
    /// A YAML example of the stage entry; a registry-wide test parses and builds every one.
    const EXAMPLE: &'static str;
    /// Drop reasons the stage can give, with their meaning.
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[];
    /// The `on_match` values the stage supports (empty: it has no `on_match` field). The
    /// registry checks the configured value against this list and shows it in the schema.
    const ON_MATCH: &'static [OnMatch] = &[];
    /// Field names this stage used to have, with their new names (`("action", "on_match")`);
    /// an old name is an error whose help names the new one.
    const RENAMED: &'static [(&'static str, &'static str)] = &[];
    /// Checks field values; pure, no I/O. Every problem is returned, not just the first.
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
    /// Builds the runtime stage. Must not write files: sinks create outputs when they first write.
    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError>;
    /// The values the stage will really use for fields whose default depends on other fields
    /// (a preset, derived LSH parameters), by field name; `describe --preset` prints them. Pure.
    fn resolved(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
    /// What `millstone validate` should tell about this configuration (memory it will take,
    /// parameters it derived). Pure.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A problem found while turning a stage's configuration into a stage.
#[derive(Debug)]
pub enum ConfigProblem {
    /// A value has the wrong type or form; `path` is the dotted key path inside the stage.
    Deserialize {
        /// Dotted path inside the stage (`bands`, `keeper.field`); empty for the stage itself.
        path: String,
        /// The deserializer's message.
        message: String,
    },
    /// `validate()` rejected a field.
    Field(FieldError),
    /// `build()` failed.
    Build(BuildError),
}

type BuildFn = fn(&serde_json::Value, &BuildContext) -> Result<Stage, Vec<ConfigProblem>>;
type NotesFn = fn(&serde_json::Value) -> Vec<String>;
type ResolvedFn = fn(&serde_json::Value) -> Result<serde_json::Map<String, serde_json::Value>, String>;

/// Everything the runner and the CLI know about a registered stage type.
#[derive(Clone)]
pub struct StageInfo {
    /// `group.name`.
    pub type_name: &'static str,
    /// Stage kind.
    pub kind: StageKind,
    /// One-line summary.
    pub summary: &'static str,
    /// YAML example.
    pub example: &'static str,
    /// Drop reason codes and meanings.
    pub drop_reasons: &'static [(&'static str, &'static str)],
    /// Supported `on_match` values.
    pub on_match: &'static [OnMatch],
    /// Old field names and their new names.
    pub renamed: &'static [(&'static str, &'static str)],
    schema: fn() -> serde_json::Value,
    build: BuildFn,
    notes: NotesFn,
    resolved: ResolvedFn,
}

impl Debug for StageInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageInfo").field("type_name", &self.type_name).finish_non_exhaustive()
    }
}

impl StageInfo {
    fn of<C: StageConfig>() -> Self {
        StageInfo {
            type_name: C::TYPE,
            kind: C::KIND,
            summary: C::SUMMARY,
            example: C::EXAMPLE,
            drop_reasons: C::DROP_REASONS,
            on_match: C::ON_MATCH,
            renamed: C::RENAMED,
            schema: schema_of::<C>,
            build: build_from_value::<C>,
            resolved: |fields| {
                serde_json::from_value::<C>(fields.clone()).map(|c| c.resolved()).map_err(|e| e.to_string())
            },
            notes: |fields| {
                serde_json::from_value::<C>(fields.clone()).map(|c| c.notes()).unwrap_or_default()
            },
        }
    }

    /// The JSON schema of the stage's own fields (without runner-owned keys).
    pub fn schema(&self) -> serde_json::Value {
        (self.schema)()
    }

    /// Names of the fields the stage accepts, in declaration order.
    pub fn field_names(&self) -> Vec<String> {
        self.fields().into_iter().map(|(name, _)| name).collect()
    }

    /// The field schemas of the stage in declaration order, with `$ref`s to enums resolved and
    /// flattened groups (shared option blocks) inlined.
    pub fn fields(&self) -> Vec<(String, serde_json::Value)> {
        let schema = self.schema();
        let mut out: Vec<(String, serde_json::Value)> = Vec::new();
        collect_fields(&schema, &schema, &mut out);
        let required = required_fields(&schema);
        for (name, field) in &mut out {
            if let Some(map) = field.as_object_mut() {
                map.insert("required".into(), required.contains(name).into());
            }
        }
        out
    }

    /// The values the stage resolves from `fields` (e.g. `{"preset": "news"}`) for fields whose
    /// default depends on other fields; an error if `fields` do not deserialize.
    pub fn resolved(
        &self,
        fields: &serde_json::Value,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        (self.resolved)(fields)
    }

    /// The stage's notes for `millstone validate` (empty if the fields do not deserialize).
    pub fn notes(&self, fields: &serde_json::Value) -> Vec<String> {
        (self.notes)(fields)
    }

    /// Deserializes, validates and builds the stage from its fields (runner keys removed).
    pub fn build(&self, fields: &serde_json::Value, cx: &BuildContext) -> Result<Stage, Vec<ConfigProblem>> {
        (self.build)(fields, cx)
    }
}

/// The stage's JSON schema, with `on_match` restricted to the values the stage supports.
fn schema_of<C: StageConfig>() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(C)).unwrap_or_default();
    if !C::ON_MATCH.is_empty() {
        if let Some(field) = schema.get_mut("properties").and_then(|p| p.get_mut("on_match")) {
            let default = field.get("default").cloned();
            let one_of: Vec<serde_json::Value> = C::ON_MATCH
                .iter()
                .map(|v| serde_json::json!({"const": v.as_str(), "description": v.meaning()}))
                .collect();
            let mut patched = serde_json::json!({
                "description": "What the stage does with what it finds.",
                "oneOf": one_of,
            });
            if let Some(default) = default {
                patched["default"] = default;
            }
            *field = patched;
        }
    }
    prose_descriptions(&mut schema);
    schema
}

/// Rustdoc markup in doc comments (code blocks, intra-doc links) is not prose: descriptions keep
/// the sentences and the `code spans`, without fences and link brackets.
fn prose_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(s) if key == "description" => *s = prose(s),
                    other => prose_descriptions(other),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter_mut().for_each(prose_descriptions),
        _ => {}
    }
}

fn prose(doc: &str) -> String {
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push(line);
        }
    }
    let text = out.join(" ");
    let mut prose = String::with_capacity(text.len());
    let mut rest = text.as_str();
    // `[`Name`]` and `[`Name`](path)` become `Name`.
    while let Some(start) = rest.find("[`") {
        let Some(close) = rest[start..].find("`]") else { break };
        prose.push_str(&rest[..start]);
        prose.push_str(&rest[start + 1..start + close + 1]);
        rest = &rest[start + close + 2..];
        if rest.starts_with('(') {
            if let Some(end) = rest.find(')') {
                rest = &rest[end + 1..];
            }
        }
    }
    prose.push_str(rest);
    prose.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn required_fields(schema: &serde_json::Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn resolve<'a>(root: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    match schema.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).unwrap_or(schema),
        None => schema,
    }
}

fn collect_fields(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    out: &mut Vec<(String, serde_json::Value)>,
) {
    let schema = resolve(root, schema);
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        for (name, field) in props {
            if out.iter().any(|(n, _)| n == name) {
                continue;
            }
            let mut field = field.clone();
            inline_refs(root, &mut field, 0);
            out.push((name.clone(), field));
        }
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = schema.get(combinator).and_then(|v| v.as_array()) {
            for sub in list {
                collect_fields(root, sub, out);
            }
        }
    }
}

/// Replaces `$ref`s by their definitions (keeping sibling keys such as `default`).
fn inline_refs(root: &serde_json::Value, value: &mut serde_json::Value, depth: usize) {
    if depth > 8 {
        return;
    }
    if let Some(map) = value.as_object_mut() {
        let target = map.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.strip_prefix("#/$defs/"));
        if let Some(target) = target.map(str::to_string) {
            if let Some(def) = root.get("$defs").and_then(|d| d.get(&target)).and_then(|d| d.as_object()) {
                map.remove("$ref");
                map.insert("x-type".into(), target.into());
                for (k, v) in def {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        for v in map.values_mut() {
            inline_refs(root, v, depth + 1);
        }
    } else if let Some(list) = value.as_array_mut() {
        for v in list {
            inline_refs(root, v, depth + 1);
        }
    }
}

fn build_from_value<C: StageConfig>(
    fields: &serde_json::Value,
    cx: &BuildContext,
) -> Result<Stage, Vec<ConfigProblem>> {
    let config: C = serde_path_to_error::deserialize(fields).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![ConfigProblem::Deserialize { path, message: e.into_inner().to_string() }]
    })?;
    let mut errors = config.validate().err().unwrap_or_default();
    if let Some(given) = fields.get("on_match") {
        let supported = C::ON_MATCH.iter().any(|v| given.as_str() == Some(v.as_str()));
        if !supported {
            let allowed: Vec<&str> = C::ON_MATCH.iter().map(|v| v.as_str()).collect();
            errors.push(FieldError::new(
                "on_match",
                format!("{given} is not supported by `{}`; expected one of: {}", C::TYPE, allowed.join(", ")),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_iter().map(ConfigProblem::Field).collect());
    }
    let stage = config.build(cx).map_err(|e| vec![ConfigProblem::Build(e)])?;
    debug_assert_eq!(stage.kind(), C::KIND, "{} built a stage of another kind", C::TYPE);
    Ok(stage)
}

/// All stage types known to a program. Each stage crate offers `register(&mut Registry)` with one
/// line per stage type; the binary calls those functions. Nothing is registered implicitly.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    stages: BTreeMap<&'static str, StageInfo>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers a stage configuration type.
    ///
    /// # Panics
    /// If the name is taken or malformed: both are programming errors caught by the first test.
    pub fn register<C: StageConfig>(&mut self) -> &mut Self {
        if let Err(e) = self.try_register::<C>() {
            panic!("{e}");
        }
        self
    }

    /// Registers a stage configuration type, reporting a clash or bad name as an error.
    pub fn try_register<C: StageConfig>(&mut self) -> Result<(), Error> {
        let valid = C::TYPE.split_once('.').is_some_and(|(group, name)| {
            let ok = |s: &str| {
                !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            };
            ok(group) && ok(name)
        });
        if !valid {
            return Err(Error::BadStageTypeName(C::TYPE));
        }
        if self.stages.contains_key(C::TYPE) {
            return Err(Error::DuplicateStageType(C::TYPE));
        }
        self.stages.insert(C::TYPE, StageInfo::of::<C>());
        Ok(())
    }

    /// Looks a stage type up by name.
    pub fn get(&self, type_name: &str) -> Option<&StageInfo> {
        self.stages.get(type_name)
    }

    /// All registered stage types, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &StageInfo> {
        self.stages.values()
    }

    /// All registered type names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.stages.keys().copied().collect()
    }
}
