//! Checks on where a pipeline writes, done before anything runs: with `--shard i/N` every output
//! path must contain `{shard}` (otherwise the shards overwrite each other), and no output may be
//! an input (or be matched by an input glob, or lie in an input folder); without `--overwrite`
//! no output may exist already. All conflicts are reported at once, before the first record is
//! read.

use std::path::{Component, Path, PathBuf};

use millstone_core::StageKind;

use crate::diagnostic::Diagnostic;
use crate::positions::PositionIndex;

/// A path a stage reads or writes, with its key path in the file.
pub(crate) struct PathUse {
    pub key: String,
    pub value: String,
    pub output: bool,
    /// A path the user wrote, which must carry `{shard}` in a sharded run (side files get the
    /// shard from the runner).
    pub user_path: bool,
}

/// The side files a stage writes (`keep_dropped`, `on_error: quarantine`), named as the runner
/// names them.
pub(crate) fn side_uses(
    stage_path: &str,
    id: &str,
    out_dir: &Path,
    keep_dropped: bool,
    quarantine: bool,
    shard: Option<(usize, usize)>,
) -> Vec<PathUse> {
    let suffix = shard.map(|(i, n)| format!(".{i:05}-of-{n:05}")).unwrap_or_default();
    let side = |dir: &str, key: &str| PathUse {
        key: format!("{stage_path}.{key}"),
        value: out_dir.join(dir).join(format!("{id}{suffix}.jsonl")).display().to_string(),
        output: true,
        user_path: false,
    };
    let mut uses = Vec::new();
    if keep_dropped {
        uses.push(side("rejects", "keep_dropped"));
    }
    if quarantine {
        uses.push(side("quarantine", "on_error"));
    }
    uses
}

/// The paths a stage entry reads (`path`/`paths` of sources) and writes (`path` of sinks,
/// `report` of any stage).
pub(crate) fn path_uses(
    stage_path: &str,
    kind: StageKind,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Vec<PathUse> {
    let mut uses = Vec::new();
    let mut push = |key: &str, value: &serde_json::Value, output: bool| {
        if let Some(s) = value.as_str() {
            uses.push(PathUse {
                key: format!("{stage_path}.{key}"),
                value: s.to_string(),
                output,
                user_path: true,
            });
        }
    };
    for (key, value) in fields {
        match (kind, key.as_str()) {
            (StageKind::Source, "path") => push(key, value, false),
            (StageKind::Source, "paths") => {
                for (i, v) in value.as_array().into_iter().flatten().enumerate() {
                    push(&format!("{key}.{i}"), v, false);
                }
            }
            (StageKind::Sink, "path") | (_, "report") => push(key, value, true),
            _ => {}
        }
    }
    uses
}

/// Lexically normalised absolute form of a path (`.` and `..` resolved, symlinks followed where
/// the path exists).
fn normal(path: &str) -> PathBuf {
    let path = Path::new(path);
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Every conflict, as diagnostics.
pub(crate) fn check(
    uses: &[PathUse],
    shard: Option<(usize, usize)>,
    overwrite: bool,
    positions: &PositionIndex,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let sharded = shard.is_some_and(|(_, n)| n > 1);
    let shard_name = format!("{:05}", shard.map_or(0, |(i, _)| i));
    for out in uses.iter().filter(|u| u.output) {
        let target = out.value.replace("{shard}", &shard_name).replace("{part}", "00000");
        if !overwrite && Path::new(&target).exists() {
            found.push(
                Diagnostic::new(
                    format!("output `{target}` exists"),
                    &out.key,
                    positions.value_or_nearest(&out.key),
                )
                .label("would be replaced")
                .help("pass --overwrite to replace it, or choose another path"),
            );
        }
        if sharded && out.user_path && !out.value.contains("{shard}") {
            found.push(
                Diagnostic::new(
                    format!("output `{}` has no `{{shard}}` but the run is sharded", out.value),
                    &out.key,
                    positions.value_or_nearest(&out.key),
                )
                .label("every shard would write here")
                .help("put `{shard}` in the path, e.g. `out/part-{shard}.jsonl`"),
            );
        }
        let written = normal(&target);
        for input in uses.iter().filter(|u| !u.output) {
            let read = normal(&input.value);
            let pattern = glob::Pattern::new(&read.to_string_lossy()).ok();
            let conflict = written == read
                || written.starts_with(&read) && Path::new(&input.value).is_dir()
                || pattern.is_some_and(|p| p.matches_path(&written));
            if conflict {
                found.push(
                    Diagnostic::new(
                        format!("output `{}` is also an input (`{}`)", out.value, input.value),
                        &out.key,
                        positions.value_or_nearest(&out.key),
                    )
                    .label("this would overwrite or re-read the input")
                    .help(format!("write outside the inputs given at {}", input.key)),
                );
            }
        }
    }
    found
}
