//! `millstone stats FILE...`: the distributions a run's report holds, computed over an existing
//! corpus (JSONL, plain or compressed, and Parquet) without writing anything: document length
//! in characters and words, every numeric metadata field, languages and verdicts, sources, and
//! sampled documents per verdict. The result is a run report (so `--report-html` draws it with
//! the same renderer), and it merges to the same numbers however the files are split.

use std::path::{Path, PathBuf};

use millstone_core::{
    Batch, ErrorPolicy, Plan, PlannedStage, Prepared, Registry, Sink, Stage, StageError, StageKind,
};

/// A sink that writes nothing: the runner profiles what it is given.
struct ProfileOnly;

impl Sink for ProfileOnly {
    fn write(&mut self, _batch: &Batch) -> Result<(), StageError> {
        Ok(())
    }
    fn prepare(&mut self) -> Result<Prepared, StageError> {
        Ok(Prepared { docs: 0, pending: Vec::new() })
    }
}

/// Which reader a file needs.
fn reader_of(path: &Path) -> &'static str {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.ends_with(".parquet") {
        "ingest.parquet"
    } else {
        "ingest.jsonl"
    }
}

/// What `millstone stats` reads.
pub struct StatsInput<'a> {
    /// Files (or folders, or globs).
    pub files: &'a [PathBuf],
    /// The field holding the text.
    pub text_field: &'a str,
    /// Worker threads.
    pub threads: Option<usize>,
}

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The plan of a stats run: one source per reader type, then the profiling sink.
pub fn plan(input: &StatsInput<'_>, registry: &Registry) -> Result<Plan, millstone_config::Error> {
    let mut by_reader: Vec<(&'static str, Vec<&PathBuf>)> = Vec::new();
    for file in input.files {
        let reader = reader_of(file);
        match by_reader.iter_mut().find(|(r, _)| *r == reader) {
            Some((_, files)) => files.push(file),
            None => by_reader.push((reader, vec![file])),
        }
    }
    let mut yaml = String::from("version: 1\nname: stats\nstages:\n");
    for (reader, files) in &by_reader {
        let paths: Vec<String> = files.iter().map(|p| yaml_string(&p.display().to_string())).collect();
        yaml.push_str(&format!(
            "  - type: {reader}\n    paths: [{}]\n    text_field: {}\n",
            paths.join(", "),
            yaml_string(input.text_field)
        ));
    }
    let options = millstone_config::LoadOptions {
        overrides: Vec::new(),
        threads: input.threads,
        overwrite: true,
        shard: None,
        part: None,
    };
    let mut plan = millstone_config::parse_plan("<millstone stats>", &yaml, registry, &options)?;
    plan.stages.push(PlannedStage {
        id: "stats".into(),
        type_name: "stats.profile",
        on_error: ErrorPolicy::Skip,
        keep_dropped: false,
        stage: Stage::Sink(Box::new(ProfileOnly)),
        notes: Vec::new(),
    });
    debug_assert_eq!(plan.stages.last().map(|s| s.stage.kind()), Some(StageKind::Sink));
    Ok(plan)
}

/// A short text summary of a stats run's report: quantiles of each histogram, top values of
/// each category.
pub fn summary(report: &millstone_runner::RunReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let Some(profile) = report.stages.last().map(|r| &r.stats.profile) else { return s };
    let _ = writeln!(s, "{} documents from {} file(s)", profile.docs, report.inputs.len());
    let width = profile.histograms.keys().map(String::len).max().unwrap_or(5).max(5);
    let _ = writeln!(
        s,
        "{:<width$}  {:>10} {:>10} {:>10} {:>10} {:>10}",
        "field", "min", "p10", "median", "p90", "max"
    );
    for (name, h) in &profile.histograms {
        let q = |p: f64| h.quantile(p).map_or("-".into(), |v| format!("{v:.4}"));
        let _ = writeln!(
            s,
            "{name:<width$}  {:>10} {:>10} {:>10} {:>10} {:>10}",
            format!("{:.4}", h.min),
            q(0.1),
            q(0.5),
            q(0.9),
            format!("{:.4}", h.max)
        );
    }
    for (name, values) in &profile.categories {
        let mut top: Vec<(&String, &u64)> = values.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let shown: Vec<String> = top.iter().take(8).map(|(k, v)| format!("{k}={v}")).collect();
        let more = if values.len() > 8 { format!(" (+{} more)", values.len() - 8) } else { String::new() };
        let _ = writeln!(s, "{name}: {}{more}", shown.join(" "));
    }
    s
}
