//! # millstone-config
//!
//! Turns a pipeline YAML file into a validated, built [`Plan`], or into [`Diagnostics`] that
//! name every problem at once with `file:line:column`, the key path, and "did you mean"
//! suggestions (for stage types across groups, and for every unknown field).
//!
//! Values are read with serde_yaml; positions come from a [`positions::PositionIndex`] built from
//! yaml-rust2's marked events. `--set key.path=value` overrides are applied to the value tree
//! before validation.
//!
//! ```
//! use millstone_config::{parse_plan, LoadOptions};
//! let registry = millstone_core::Registry::new();
//! let err = parse_plan("p.yaml", "version: 1\nstages:\n  - type: minhash\n", &registry, &LoadOptions::default())
//!     .err().unwrap();
//! assert!(err.to_string().contains("p.yaml:3:11"));
//! ```
#![deny(missing_docs)]

mod diagnostic;
mod outputs;
pub mod positions;
mod schema;

use std::collections::BTreeSet;
use std::path::Path;

use millstone_core::{
    BuildContext, ConfigProblem, ErrorPolicy, Plan, PlannedStage, Registry, RuntimeSettings, StageKind,
    Threads,
};
use serde_yaml::Value as Yaml;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use millstone_core::suggest::did_you_mean;
pub use positions::{Pos, PositionIndex};
pub use schema::pipeline_schema;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pipeline file could not be read.
    #[error("cannot read pipeline file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline file has problems; all of them are listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A `--set` override is malformed.
    #[error("bad override `{given}`: {reason}")]
    BadOverride {
        /// The override as given.
        given: String,
        /// What is wrong.
        reason: String,
    },
}

/// Command-line settings that take part in building the plan.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `key.path=value` overrides, applied in order.
    pub overrides: Vec<String>,
    /// `--threads N` (wins over `runtime.threads`).
    pub threads: Option<usize>,
    /// `--overwrite`: existing outputs may be replaced.
    pub overwrite: bool,
    /// `--shard i/n`: substituted into `{shard}` in output paths.
    pub shard: Option<(usize, usize)>,
    /// Task `i` of `n` of a distributed step: `{shard}` in output paths becomes `i`, and a path
    /// without `{shard}` gets `.<i>-of-<n>` before its extension (so, unlike `--shard`, it
    /// needs no `{shard}`). Wins over `shard`.
    pub part: Option<(usize, usize)>,
}

/// Keys of a stage entry that belong to the runner, not to the stage.
pub const RUNNER_KEYS: [&str; 4] = ["type", "id", "on_error", "keep_dropped"];
const TOP_KEYS: [&str; 5] = ["version", "name", "runtime", "storage", "stages"];

/// Reads and builds a pipeline file.
pub fn load_plan(path: &Path, registry: &Registry, options: &LoadOptions) -> Result<Plan, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    parse_plan(&path.display().to_string(), &text, registry, options)
}

/// Builds a pipeline from YAML text; `file` names it in diagnostics.
pub fn parse_plan(file: &str, text: &str, registry: &Registry, options: &LoadOptions) -> Result<Plan, Error> {
    let mut checker =
        Checker { diagnostics: Vec::new(), positions: PositionIndex::build(text), paths: Vec::new() };
    let invalid = |items: Vec<Diagnostic>| {
        Error::Invalid(Diagnostics { file: file.to_string(), source: text.to_string(), items })
    };

    let mut root: Yaml = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let pos = e.location().map(|l| Pos { line: l.line(), col: l.column() });
            return Err(invalid(vec![Diagnostic::new(
                format!("invalid YAML: {}", strip_location(&e.to_string())),
                "",
                pos,
            )
            .label("the file is not valid YAML here")]));
        }
    };
    if root.is_null() {
        return Err(invalid(vec![Diagnostic::new("the pipeline file is empty", "", None)
            .help("a pipeline needs at least `version: 1` and a `stages:` list")]));
    }
    for given in &options.overrides {
        apply_override(&mut root, given)?;
    }
    let resolved: serde_json::Value = match serde_json::to_value(&root) {
        Ok(v) => v,
        Err(e) => return Err(invalid(vec![Diagnostic::new(format!("unsupported YAML: {e}"), "", None)])),
    };
    let config_hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(resolved.to_string().as_bytes()));

    let Some(top) = resolved.as_object() else {
        return Err(invalid(vec![Diagnostic::new(
            "a pipeline file must be a mapping",
            "",
            checker.positions.value_or_nearest(""),
        )
        .help("start with `version: 1`, `name: ...` and `stages:`")]));
    };
    checker.unknown_keys(top, "", &TOP_KEYS, "pipeline key", "", &[]);
    if let Some(version) = top.get("version") {
        if version.as_u64() != Some(1) {
            checker.push(
                Diagnostic::new(
                    format!("unsupported pipeline version `{version}`"),
                    "version",
                    checker.positions.value_or_nearest("version"),
                )
                .label("only version 1 exists")
                .help("write `version: 1`"),
            );
        }
    }
    let name = top
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or_else(|| Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("pipeline"));

    let mut runtime: RuntimeSettings = checker.settings(top, "runtime", "runtime setting");
    if !(0.0..=1.0).contains(&runtime.max_failed_fraction) {
        checker.push(
            Diagnostic::new(
                format!("invalid `max_failed_fraction`: {}", runtime.max_failed_fraction),
                "runtime.max_failed_fraction",
                checker.positions.value_or_nearest("runtime.max_failed_fraction"),
            )
            .label("must be between 0 and 1"),
        );
        runtime = RuntimeSettings::default();
    }
    // Object stores are opened while stages build (sources list their inputs), so the settings
    // hold from here on, for this process.
    let storage: millstone_storage::StorageSettings = checker.settings(top, "storage", "storage setting");
    millstone_storage::configure(&storage);
    if let Some(threads) = options.threads {
        runtime.threads = Threads::Count(threads.max(1));
    }

    let stages = match top.get("stages") {
        None => {
            checker.push(
                Diagnostic::new("missing `stages`", "", Some(Pos { line: 1, col: 1 }))
                    .label("this pipeline has no `stages:` list")
                    .help("add `stages:` with a source first, e.g. `- type: ingest.text_dir`"),
            );
            Vec::new()
        }
        Some(serde_json::Value::Array(list)) if !list.is_empty() => list.clone(),
        Some(_) => {
            checker.push(Diagnostic::new(
                "`stages` must be a non-empty list",
                "stages",
                checker.positions.value_or_nearest("stages"),
            ));
            Vec::new()
        }
    };

    let threads = runtime.threads.resolve();
    let mut planned = Vec::new();
    let mut ids = BTreeSet::new();
    let mut seen_non_source = false;
    for (index, entry) in stages.iter().enumerate() {
        let path = format!("stages.{index}");
        if let Some(stage) = checker.stage(registry, entry, &path, index, &runtime, options, threads) {
            if !ids.insert(stage.id.clone()) {
                checker.push(
                    Diagnostic::new(
                        format!("duplicate stage id `{}`", stage.id),
                        format!("{path}.id"),
                        checker.positions.value_or_nearest(&format!("{path}.id")),
                    )
                    .help("stage ids must be unique within a pipeline"),
                );
            }
            let kind = stage.stage.kind();
            if kind == StageKind::Source && seen_non_source {
                checker.push(Diagnostic::new(
                    "a source must come before every other stage",
                    format!("{path}.type"),
                    checker.positions.value_or_nearest(&format!("{path}.type")),
                ));
            }
            if index == 0 && kind != StageKind::Source {
                checker.push(
                    Diagnostic::new(
                        "the first stage must be a source",
                        format!("{path}.type"),
                        checker.positions.value_or_nearest(&format!("{path}.type")),
                    )
                    .label("not a source")
                    .help("start with an `ingest.*` stage, e.g. `ingest.jsonl`"),
                );
            }
            seen_non_source |= kind != StageKind::Source;
            planned.push(stage);
        }
    }

    // A task of a distributed step names its outputs by part, so only `--shard` needs `{shard}`.
    let shard = if options.part.is_some() { None } else { options.shard };
    let conflicts = outputs::check(&checker.paths, shard, options.overwrite, &checker.positions);
    checker.diagnostics.extend(conflicts);
    if !checker.diagnostics.is_empty() {
        let mut items = checker.diagnostics;
        items.sort_by_key(|d| d.pos.map(|p| (p.line, p.col)).unwrap_or((0, 0)));
        return Err(invalid(items));
    }
    Ok(Plan { name: name.to_string(), runtime, stages: planned, config_hash })
}

fn field_names_of<T: schemars::JsonSchema>() -> Vec<String> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Stage ids name side files (`<out>/rejects/<id>.jsonl`), so they must stay inside `out_dir`.
fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '#'))
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

struct Checker {
    diagnostics: Vec<Diagnostic>,
    positions: PositionIndex,
    /// Paths the stages read and write, for the output checks.
    paths: Vec<outputs::PathUse>,
}

impl Checker {
    /// The settings mapping `top.<key>` (defaults when absent), with unknown keys and bad
    /// values reported as diagnostics (`what` names one entry: "runtime setting").
    fn settings<T>(&mut self, top: &serde_json::Map<String, serde_json::Value>, key: &str, what: &str) -> T
    where
        T: Default + serde::de::DeserializeOwned + schemars::JsonSchema,
    {
        let Some(value) = top.get(key) else { return T::default() };
        let Some(map) = value.as_object() else {
            self.push(Diagnostic::new(
                format!("`{key}` must be a mapping"),
                key,
                self.positions.value_or_nearest(key),
            ));
            return T::default();
        };
        let allowed = field_names_of::<T>();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        self.unknown_keys(map, key, &allowed, what, "", &[]);
        let known: serde_json::Map<_, _> = map
            .iter()
            .filter(|(k, _)| allowed.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(known)) {
            Ok(settings) => settings,
            Err(e) => {
                self.deserialize_error(key, &e.path().to_string(), &e.into_inner().to_string());
                T::default()
            }
        }
    }

    fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn unknown_keys(
        &mut self,
        map: &serde_json::Map<String, serde_json::Value>,
        parent: &str,
        allowed: &[&str],
        what: &str,
        context: &str,
        renamed: &[(&str, &str)],
    ) {
        for key in map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            let path = if parent.is_empty() { key.clone() } else { format!("{parent}.{key}") };
            if let Some((_, new)) = renamed.iter().find(|(old, _)| old == key) {
                self.push(
                    Diagnostic::new(
                        format!("unknown {what} `{key}`{context}"),
                        path.clone(),
                        self.positions.key_or_nearest(&path),
                    )
                    .label("renamed")
                    .help(format!("did you mean `{new}`? (`{key}` is now `{new}`)")),
                );
                continue;
            }
            let mut d = Diagnostic::new(
                format!("unknown {what} `{key}`{context}"),
                path.clone(),
                self.positions.key_or_nearest(&path),
            )
            .label("not recognised");
            let suggestions = did_you_mean(key, allowed.iter().copied());
            d = match suggestions.first() {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("expected one of: {}", allowed.join(", "))),
            };
            self.push(d);
        }
    }

    fn deserialize_error(&mut self, parent: &str, inner_path: &str, message: &str) {
        let inner = inner_path.replace('[', ".").replace(']', "");
        let inner = inner.trim_matches('.');
        let path = if inner.is_empty() { parent.to_string() } else { format!("{parent}.{inner}") };
        let message = strip_location(message);
        let key = path.rsplit('.').next().unwrap_or(&path).to_string();
        self.push(
            Diagnostic::new(
                format!("invalid `{key}`: {message}"),
                path.clone(),
                self.positions.value_or_nearest(&path),
            )
            .label("wrong type or value"),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn stage(
        &mut self,
        registry: &Registry,
        entry: &serde_json::Value,
        path: &str,
        index: usize,
        runtime: &RuntimeSettings,
        options: &LoadOptions,
        threads: usize,
    ) -> Option<PlannedStage> {
        let Some(map) = entry.as_object() else {
            self.push(Diagnostic::new(
                "a stage must be a mapping with a `type`",
                path,
                self.positions.value_or_nearest(path),
            ));
            return None;
        };
        let type_path = format!("{path}.type");
        let type_name = match map.get("type") {
            Some(serde_json::Value::String(t)) => t.clone(),
            Some(_) => {
                self.push(Diagnostic::new(
                    "`type` must be a string",
                    &type_path,
                    self.positions.value_or_nearest(&type_path),
                ));
                return None;
            }
            None => {
                self.push(
                    Diagnostic::new("stage has no `type`", path, self.positions.value_or_nearest(path))
                        .help("every stage needs `type: group.name`; `millstone stages` lists them"),
                );
                return None;
            }
        };
        let Some(info) = registry.get(&type_name) else {
            let suggestions = did_you_mean(&type_name, registry.names());
            let mut d = Diagnostic::new(
                format!("unknown stage type `{type_name}`"),
                &type_path,
                self.positions.value_or_nearest(&type_path),
            )
            .label("not a registered stage type");
            d = match suggestions.as_slice() {
                [] => d.help("run `millstone stages` to list the stage types"),
                [one] => d.help(format!("did you mean `{one}`?")),
                many => d.help(format!(
                    "did you mean {}?",
                    many.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", or ")
                )),
            };
            self.push(d);
            return None;
        };

        let mut ok = true;
        let id = match map.get("id") {
            None => format!("{type_name}#{index}"),
            Some(serde_json::Value::String(s)) if is_safe_id(s) => s.clone(),
            Some(_) => {
                self.push(Diagnostic::new(
                    "`id` must be a safe file name: letters, digits, `_`, `-`, `.`, `#`, not starting with `.`",
                    format!("{path}.id"),
                    self.positions.value_or_nearest(&format!("{path}.id")),
                ));
                ok = false;
                String::new()
            }
        };
        let on_error = match map.get("on_error") {
            None => ErrorPolicy::default(),
            Some(v) => match serde_json::from_value::<ErrorPolicy>(v.clone()) {
                Ok(p) => p,
                Err(_) => {
                    let p = format!("{path}.on_error");
                    let given = v.as_str().unwrap_or("?");
                    let mut d = Diagnostic::new(
                        format!("invalid `on_error`: {v}"),
                        &p,
                        self.positions.value_or_nearest(&p),
                    )
                    .label("expected fail, skip or quarantine");
                    if let Some(s) = did_you_mean(given, ["fail", "skip", "quarantine"]).first() {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.push(d);
                    ok = false;
                    ErrorPolicy::default()
                }
            },
        };
        let keep_dropped = match map.get("keep_dropped") {
            None => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                let p = format!("{path}.keep_dropped");
                self.push(Diagnostic::new(
                    "`keep_dropped` must be true or false",
                    &p,
                    self.positions.value_or_nearest(&p),
                ));
                ok = false;
                false
            }
        };

        let field_names = info.field_names();
        let mut allowed: Vec<&str> = field_names.iter().map(String::as_str).collect();
        allowed.extend(RUNNER_KEYS);
        let before = self.diagnostics.len();
        self.unknown_keys(map, path, &allowed, "field", &format!(" for `{type_name}`"), info.renamed);
        ok &= self.diagnostics.len() == before;

        let fields: serde_json::Map<_, _> = map
            .iter()
            .filter(|(k, _)| !RUNNER_KEYS.contains(&k.as_str()) && field_names.iter().any(|f| f == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cx = BuildContext {
            stage_id: id.clone(),
            out_dir: runtime.out_dir.clone(),
            overwrite: options.overwrite,
            threads,
            shard: options.part.or(options.shard),
            part_names: options.part.is_some(),
        };
        self.paths.extend(outputs::path_uses(path, info.kind, &fields));
        let quarantine = on_error == ErrorPolicy::Quarantine && !runtime.fail_fast;
        self.paths.extend(outputs::side_uses(
            path,
            &id,
            &runtime.out_dir,
            keep_dropped,
            quarantine,
            options.part.or(options.shard),
        ));
        let fields = serde_json::Value::Object(fields);
        match info.build(&fields, &cx) {
            Ok(stage) if ok => Some(PlannedStage {
                id,
                type_name: info.type_name,
                on_error,
                keep_dropped,
                stage,
                notes: info.notes(&fields),
            }),
            Ok(_) => None,
            Err(problems) => {
                for problem in problems {
                    match problem {
                        ConfigProblem::Deserialize { path: inner, message } => {
                            self.deserialize_error(path, &inner, &message)
                        }
                        ConfigProblem::Field(e) => {
                            let p = format!("{path}.{}", e.field);
                            self.push(
                                Diagnostic::new(
                                    format!("invalid `{}`: {}", e.field, e.message),
                                    &p,
                                    self.positions.value_or_nearest(&p),
                                )
                                .label(e.message),
                            );
                        }
                        ConfigProblem::Build(e) => {
                            let p = match &e.field {
                                Some(f) => format!("{path}.{f}"),
                                None => path.to_string(),
                            };
                            self.push(Diagnostic::new(
                                format!("cannot build `{type_name}`: {}", e.message),
                                &p,
                                self.positions.value_or_nearest(&p),
                            ));
                        }
                    }
                }
                None
            }
        }
    }
}

/// Applies one `key.path=value` override to a YAML tree. The value is parsed as YAML
/// (`8` is a number, `data/` a string); numeric segments index lists.
pub fn apply_override(root: &mut Yaml, given: &str) -> Result<(), Error> {
    let bad = |reason: &str| Error::BadOverride { given: given.to_string(), reason: reason.to_string() };
    let (path, raw) = given.split_once('=').ok_or_else(|| bad("expected `key.path=value`"))?;
    let value: Yaml = serde_yaml::from_str(raw).unwrap_or_else(|_| Yaml::String(raw.to_string()));
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad("empty key in path"));
    }
    let mut node = root;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        node = match node {
            Yaml::Sequence(list) => {
                let index: usize =
                    segment.parse().map_err(|_| bad(&format!("`{segment}` is not a list index")))?;
                let len = list.len();
                list.get_mut(index).ok_or_else(|| {
                    bad(&format!("index {index} is out of range (the list has {len} items)"))
                })?
            }
            Yaml::Mapping(map) => {
                let key = Yaml::String(segment.to_string());
                if !map.contains_key(&key) {
                    map.insert(
                        key.clone(),
                        if last { Yaml::Null } else { Yaml::Mapping(Default::default()) },
                    );
                }
                map.get_mut(&key).expect("inserted above")
            }
            Yaml::Null => {
                *node = Yaml::Mapping(Default::default());
                let Yaml::Mapping(map) = node else { unreachable!() };
                map.entry(Yaml::String(segment.to_string())).or_insert(Yaml::Null)
            }
            _ => return Err(bad(&format!("`{}` is not a mapping or a list", segments[..i].join(".")))),
        };
    }
    *node = value;
    Ok(())
}
