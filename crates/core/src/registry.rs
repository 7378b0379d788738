//! Stage configuration types and the registry that maps `type:` names to them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::error::{BuildError, Error, FieldError};
use crate::stage::{Stage, StageKind};

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
        }
    }
    /// Resolves a configured output path: `{shard}` becomes the shard number (`00000` when the
    /// run is not sharded); relative paths stay relative to the working directory.
    pub fn output_path(&self, path: &Path) -> PathBuf {
        let shard = format!("{:05}", self.shard.map_or(0, |(i, _)| i));
        PathBuf::from(path.to_string_lossy().replace("{shard}", &shard))
    }
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
    /// Checks field values; pure, no I/O. Every problem is returned, not just the first.
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
    /// Builds the runtime stage. Must not write files: sinks create outputs when they first write.
    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError>;
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
    schema: fn() -> serde_json::Value,
    build: BuildFn,
    notes: NotesFn,
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
            schema: || serde_json::to_value(schemars::schema_for!(C)).unwrap_or_default(),
            build: build_from_value::<C>,
            notes: |fields| {
                serde_json::from_value::<C>(fields.clone()).map(|c| c.notes()).unwrap_or_default()
            },
        }
    }

    /// The JSON schema of the stage's own fields (without runner-owned keys).
    pub fn schema(&self) -> serde_json::Value {
        (self.schema)()
    }

    /// Names of the fields the stage accepts, from its schema.
    pub fn field_names(&self) -> Vec<String> {
        let schema = self.schema();
        let mut names = Vec::new();
        collect_properties(&schema, &schema, &mut names);
        names.sort();
        names.dedup();
        names
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

fn collect_properties(root: &serde_json::Value, schema: &serde_json::Value, names: &mut Vec<String>) {
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        names.extend(props.keys().cloned());
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = schema.get(combinator).and_then(|v| v.as_array()) {
            for sub in list {
                collect_properties(root, sub, names);
            }
        }
    }
    if let Some(reference) = schema.get("$ref").and_then(|r| r.as_str()) {
        if let Some(name) = reference.strip_prefix("#/$defs/") {
            if let Some(target) = root.get("$defs").and_then(|d| d.get(name)) {
                collect_properties(root, target, names);
            }
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
    config.validate().map_err(|errors| errors.into_iter().map(ConfigProblem::Field).collect::<Vec<_>>())?;
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
