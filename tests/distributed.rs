//! Distributed runs give the answer of `millstone run`: for pipelines with every barrier type
//! and for the shipped pipeline, at 1, 3 and 8 tasks, the parts of every output concatenated in
//! rank order, the cluster reports, the rejects and the per-stage counts equal the single
//! process's. Plus resubmission, stale plans, failures shown by `status`, and a property test
//! over random corpora and task counts (in process, through the library).

mod common;

use std::path::{Path, PathBuf};

use common::{millstone, stderr};
use millstone_distributed::{plan, run_task, status, PlanOptions, TaskOptions, WorkPlan};
use millstone_testkit::news::{synthetic_corpus, SyntheticOptions};

/// Writes a generated news corpus as `files` JSONL files under `dir/input`.
fn write_corpus(dir: &Path, seed: u64, stories: usize, files: usize) -> PathBuf {
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    let docs = synthetic_corpus(seed, &SyntheticOptions { stories, ..Default::default() });
    let mut parts = vec![String::new(); files];
    for (i, doc) in docs.iter().enumerate() {
        let line = serde_json::json!({"id": doc.id, "text": doc.text, "site": doc.site});
        parts[i * files / docs.len()].push_str(&format!("{line}\n"));
    }
    for (i, part) in parts.iter().enumerate() {
        std::fs::write(input.join(format!("part-{i:02}.jsonl")), part).unwrap();
    }
    input
}

/// A pipeline over `input` with every barrier type, transforms between them (so steps
/// alternate), byte-range shards, rejects and reports; everything written under `out`.
fn every_barrier(input: &Path, out: &Path) -> String {
    let (i, o) = (input.display(), out.display());
    format!(
        r#"version: 1
name: every-barrier
runtime: {{ threads: 2, batch_docs: 7, out_dir: {o} }}
stages:
  - {{ type: ingest.jsonl, path: {i}, shard_bytes: 20kB }}
  - {{ type: clean.strip_boilerplate, unmarked_comment_threads: true }}
  - {{ type: clean.repeated_lines, scope_field: meta.site, min_docs: 3 }}
  - {{ type: clean.normalize_whitespace }}
  - {{ type: clean.length, min_words: 20, keep_dropped: true }}
  - {{ type: segment.paragraphs }}
  - {{ type: dedup.exact, id: exact, report: {o}/exact.jsonl, keep_dropped: true }}
  - {{ type: dedup.exact_segments, id: segments, unit: paragraphs, min_length: 30 }}
  - {{ type: clean.normalize_unicode }}
  - {{ type: dedup.minhash, id: minhash, preset: news, keeper: longest, report: {o}/minhash.jsonl, keep_dropped: true }}
  - {{ type: dedup.simhash, id: simhash, max_distance: 3, report: {o}/simhash.jsonl }}
  - {{ type: dedup.bloom, id: bloom, unit: paragraph, expected_items: 100000 }}
  - {{ type: dedup.substring, id: substring, min_length: 100, min_remaining_chars: 50 }}
  - {{ type: export.jsonl, path: {o}/docs.jsonl, include_spans: true }}
  - {{ type: export.text_dir, path: {o}/text }}
"#
    )
}

/// Files below `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = common::entries_below(dir)
        .into_iter()
        .filter(|p| p.is_file() && !p.to_string_lossy().contains("_markers"))
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    files.sort();
    files
}

/// `a.00001-of-00003.jsonl` -> `a.jsonl`.
fn unpart(name: &str) -> String {
    let re = regex::Regex::new(r"\.\d{5}-of-\d{5}").unwrap();
    re.replace(name, "").into_owned()
}

/// The outputs of a distributed run folded back into single-run names: the parts of each file,
/// concatenated in rank order (part names sort by rank).
fn folded(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::<String, Vec<u8>>::new();
    for name in tree(dir) {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        files.entry(unpart(&name)).or_default().extend(bytes);
    }
    files
}

fn single_run(pipeline: &Path, report: &Path) -> serde_json::Value {
    let out =
        millstone(&["run", pipeline.to_str().unwrap(), "--report", report.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

fn submit(pipeline: &Path, work: &Path, tasks: usize, extra: &[&str]) -> std::process::Output {
    let tasks = tasks.to_string();
    let mut args = vec![
        "submit",
        pipeline.to_str().unwrap(),
        "--tasks",
        &tasks,
        "--work",
        work.to_str().unwrap(),
        "--chunk-bytes",
        "16kB",
        "--max-parallel",
        "4",
    ];
    args.extend(extra);
    millstone(&args)
}

/// Per stage: (id, in, out, dropped by reason, failed).
fn stage_counts(report: &serde_json::Value) -> Vec<String> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["id"].as_str().unwrap().starts_with(':'))
        .map(|s| {
            format!(
                "{} in={} out={} dropped={} failed={}",
                s["id"], s["docs_in"], s["docs_out"], s["dropped"], s["failed"]
            )
        })
        .collect()
}

/// Per stage: (id, profile): histograms, categories and samples.
fn stage_profiles(report: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["id"].as_str().unwrap().starts_with(':'))
        .map(|s| (s["id"].as_str().unwrap().to_string(), s.get("profile").cloned().unwrap_or_default()))
        .collect()
}

/// Text-dir outputs are one file per document, named by id: folded they are the same set.
fn same_outputs(single: &Path, distributed: &Path) {
    let a: std::collections::BTreeMap<String, Vec<u8>> =
        tree(single).into_iter().map(|n| (n.clone(), std::fs::read(single.join(&n)).unwrap())).collect();
    let b = folded(distributed);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files");
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name} differs between the single run and the distributed one");
    }
}

#[test]
fn every_barrier_type_gives_the_single_process_answer_at_1_3_and_8_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_corpus(dir.path(), 7, 60, 9);
    let single_out = dir.path().join("single");
    let single_yaml = dir.path().join("single.yaml");
    std::fs::write(&single_yaml, every_barrier(&input, &single_out)).unwrap();
    let single = single_run(&single_yaml, &dir.path().join("single-report.json"));
    assert!(
        single["totals"]["dropped"].as_u64().unwrap() > 10,
        "the corpus has duplicates: {}",
        single["totals"]
    );
    let profiles = serde_json::to_string(&stage_profiles(&single)).unwrap();
    for expected in ["cluster_size", "drop:exact_duplicate", "\"chars\"", "\"source\""] {
        assert!(profiles.contains(expected), "the single run's profiles record {expected}");
    }
    for tasks in [1, 3, 8] {
        let out = dir.path().join(format!("dist-{tasks}"));
        let yaml = dir.path().join(format!("dist-{tasks}.yaml"));
        std::fs::write(&yaml, every_barrier(&input, &out)).unwrap();
        let work = dir.path().join(format!("work-{tasks}"));
        let run = submit(&yaml, &work, tasks, &[]);
        assert!(run.status.success(), "{tasks} tasks: {}", stderr(&run));
        same_outputs(&single_out, &out);
        let merged: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(work.join("report.json")).unwrap()).unwrap();
        assert_eq!(stage_counts(&merged), stage_counts(&single), "{tasks} tasks");
        assert_eq!(stage_profiles(&merged), stage_profiles(&single), "{tasks} tasks: the same distributions");
        assert_eq!(merged["totals"]["written"], single["totals"]["written"]);
        assert_eq!(merged["conserved"], true);
        if tasks == 8 {
            let parts = tree(&out).iter().filter(|n| n.starts_with("docs.")).count();
            assert_eq!(parts, 8, "every task of the last step writes its part");
        }
    }
}

#[test]
fn the_shipped_news_pipeline_gives_the_same_answer_on_3_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let sets = |o: &str| {
        vec![
            format!("runtime.out_dir={d}/{o}"),
            format!("stages.7.report={d}/{o}/exact-clusters.jsonl"),
            format!("stages.8.report={d}/{o}/near-clusters.jsonl"),
            format!("stages.9.path={d}/{o}/news.jsonl"),
        ]
    };
    let mut args: Vec<String> = vec!["run".into(), "pipelines/news.yaml".into(), "--quiet".into()];
    for s in sets("single") {
        args.extend(["--set".into(), s]);
    }
    let out = millstone(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    let work = format!("{d}/work");
    let mut args: Vec<String> =
        ["submit", "pipelines/news.yaml", "--tasks", "3", "--work", &work, "--chunk-bytes", "4kB"]
            .map(String::from)
            .to_vec();
    for s in sets("dist") {
        args.extend(["--set".into(), s]);
    }
    let out = millstone(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    same_outputs(&dir.path().join("single"), &dir.path().join("dist"));
}

#[test]
fn resubmitting_reruns_only_missing_tasks_and_status_shows_failures_with_their_logs() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_corpus(dir.path(), 3, 30, 6);
    let out = dir.path().join("out");
    let yaml = dir.path().join("p.yaml");
    std::fs::write(&yaml, every_barrier(&input, &out)).unwrap();
    let work = dir.path().join("work");
    let first = submit(&yaml, &work, 3, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let plan = WorkPlan::load(&work.join("plan.json")).unwrap();
    let before = folded(&out);
    let mtime = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
    let markers: Vec<_> = (0..3).map(|r| mtime(plan.marker_path(0, r))).collect();

    // A task killed before its marker: only it runs again, and the answer is the same.
    std::fs::remove_file(plan.marker_path(0, 1)).unwrap();
    let again = submit(&yaml, &work, 3, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("1 task(s) ran"), "{}", stderr(&again));
    assert_eq!(mtime(plan.marker_path(0, 0)), markers[0]);
    assert_eq!(mtime(plan.marker_path(0, 2)), markers[2]);
    assert_eq!(folded(&out), before);

    // A chunk damaged in place (same size): the task reading it (rank 2 of step 2, which applies
    // the repeated-line totals to rank 2's documents) fails, status names the rank, the error
    // and the log; the merged report is not claimed.
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plan.marker_path(0, 2)).unwrap()).unwrap();
    let chunk = PathBuf::from(marker["chunks"][0].as_str().unwrap());
    let mut bytes = std::fs::read(&chunk).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..] {
        *b = !*b;
    }
    std::fs::write(&chunk, &bytes).unwrap();
    std::fs::remove_file(plan.marker_path(2, 2)).unwrap();
    let broken = submit(&yaml, &work, 3, &[]);
    assert!(!broken.status.success());
    assert!(stderr(&broken).contains("step 2 rank 2 (log: "), "{}", stderr(&broken));
    let shown = millstone(&["status", "--work", work.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(text.contains("rank 2 failed: "), "{text}");
    assert!(text.contains("chunk.zst"), "the error names the chunk file: {text}");
    assert!(text.contains("local_00002.out"), "the log is named: {text}");
    assert!(!text.contains("complete:"), "{text}");
}

#[test]
fn a_plan_refuses_tasks_once_its_inputs_or_pipeline_changed() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_corpus(dir.path(), 5, 10, 3);
    let out = dir.path().join("out");
    let yaml = dir.path().join("p.yaml");
    std::fs::write(&yaml, every_barrier(&input, &out)).unwrap();
    let work = dir.path().join("work");
    let planned =
        millstone(&["plan", yaml.to_str().unwrap(), "--tasks", "2", "--work", work.to_str().unwrap()]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    assert!(
        stderr(&planned).contains("step 1 (reduce, 2 tasks): clean.repeated_lines"),
        "{}",
        stderr(&planned)
    );
    let plan_file = work.join("plan.json");
    let task = |rank: &str| {
        millstone(&["task", "--plan", plan_file.to_str().unwrap(), "--step", "0", "--rank", rank])
    };

    let extra = dir.path().join("input/part-00.jsonl");
    let mut text = std::fs::read_to_string(&extra).unwrap();
    text.push_str("{\"id\": \"late\", \"text\": \"added after planning\"}\n");
    std::fs::write(&extra, text).unwrap();
    let refused = task("0");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("part-00.jsonl changed since it was planned"), "{}", stderr(&refused));

    std::fs::write(&yaml, every_barrier(&input, &out).replace("min_words: 20", "min_words: 21")).unwrap();
    let refused = task("1");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("p.yaml changed since it was planned"), "{}", stderr(&refused));

    let refused = task("5");
    assert!(stderr(&refused).contains("ranks 0..2; 5 does not exist"), "{}", stderr(&refused));
    let later = millstone(&["task", "--plan", plan_file.to_str().unwrap(), "--step", "1", "--rank", "0"]);
    assert!(!later.status.success());
}

#[test]
fn a_missing_sbatch_is_a_clear_error_naming_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_corpus(dir.path(), 5, 5, 2);
    let yaml = dir.path().join("p.yaml");
    std::fs::write(&yaml, every_barrier(&input, &dir.path().join("out"))).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(["submit", yaml.to_str().unwrap(), "--engine", "slurm", "--tasks", "2", "--work"])
        .arg(dir.path().join("work"))
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("`sbatch` was not found on PATH; install Slurm's client tools (Debian: slurm-client)"),
        "{}",
        stderr(&out)
    );
}

mod in_process {
    use super::*;
    use proptest::prelude::*;

    /// Runs every task of every step in this process, in order.
    fn run_all(plan: &WorkPlan, registry: &millstone_core::Registry) {
        for step in &plan.steps {
            for rank in 0..step.tasks {
                run_task(plan, step.index, rank, registry, &TaskOptions::default()).unwrap();
            }
        }
        assert!(status::status(plan).iter().all(|s| s.complete()));
    }

    /// A pipeline whose only barrier is this near-duplicate stage.
    fn near_only(input: &Path, out: &Path, settings: &str) -> String {
        let (i, o) = (input.display(), out.display());
        format!(
            r#"version: 1
name: near-only
runtime: {{ threads: 2, batch_docs: 5, out_dir: {o} }}
stages:
  - {{ type: ingest.jsonl, path: {i}, shard_bytes: 10kB }}
  - {{ type: clean.normalize_whitespace }}
  - {{ id: near, keep_dropped: true, {settings} }}
  - {{ type: export.jsonl, path: {o}/docs.jsonl }}
"#,
            settings = settings.replace("REPORT", &format!("{o}/near.jsonl"))
        )
    }

    /// MinHash and SimHash with every keeper policy, both cluster modes, both verifications,
    /// annotation, tiny bucket windows and streaming (which stays one task), Bloom filters
    /// small enough to give many false positives, segment dedup in every mode, and repeated-line
    /// counts: the distributed answer is the single one.
    #[test]
    fn split_barrier_settings_give_the_single_process_answer() {
        let registry = millstone::builtin_registry();
        let dir = tempfile::tempdir().unwrap();
        let input = write_corpus(dir.path(), 11, 30, 4);
        let settings = [
            ("type: dedup.minhash, preset: news, keeper: longest, report: REPORT", Some(Cluster)),
            ("type: dedup.minhash, preset: news, keeper: first, max_bucket: 2, report: REPORT", Some(Cluster)),
            ("type: dedup.minhash, preset: news, keeper: shortest, verification: sketch, on_match: annotate, report: REPORT", Some(Cluster)),
            ("type: dedup.minhash, preset: news, keeper: min, keeper_field: meta.site, clusters: connected", Some(Cluster)),
            ("type: dedup.minhash, preset: web, ngram: 2, keeper: priority, keeper_field: meta.site, priority: [wire]", Some(Cluster)),
            ("type: dedup.minhash, preset: news, streaming: true, report: REPORT", Some(Global)),
            // Shingle frequencies counted by every signing task, merged for clustering.
            ("type: dedup.minhash, preset: news, keeper: longest, common_shingles: {scope_field: meta.site, min_docs: 2}, report: REPORT", Some(Cluster)),
            ("type: dedup.minhash, preset: news, common_shingles: {min_docs: 3, min_fraction: 0.05}", Some(Cluster)),
            ("type: dedup.simhash, max_distance: 4, keeper: longest, report: REPORT", Some(Cluster)),
            ("type: dedup.simhash, max_distance: 6, clusters: connected, on_match: annotate, max_bucket: 3", Some(Cluster)),
            ("type: dedup.simhash, max_distance: 10, verification: sketch, report: REPORT", Some(Cluster)),
            ("type: dedup.simhash, max_distance: 12, threshold: 0.4, common_shingles: {scope_field: meta.site, min_docs: 2}", Some(Cluster)),
            // A filter far too small: many false positives, which must be the same ones.
            ("type: dedup.bloom, unit: paragraph, expected_items: 300, false_positive_rate: 0.3, ngram: 3", None),
            ("type: dedup.bloom, expected_items: 20, false_positive_rate: 0.2", None),
            // Segments: first copy kept, every copy removed, per-site boilerplate, annotation.
            ("type: dedup.exact_segments, unit: lines, min_length: 10, report: REPORT", Some(Reduce)),
            ("type: dedup.exact_segments, keep: none, min_length: 15, min_remaining_chars: 200", Some(Reduce)),
            ("type: dedup.exact_segments, unit: lines, min_length: 5, scope_field: meta.site, scope_min_docs: 3, report: REPORT", Some(Reduce)),
            ("type: dedup.exact_segments, keep: none, scope_field: meta.site, on_match: annotate", Some(Reduce)),
            // Counting: per-site line totals, with a fraction that depends on the site's size.
            ("type: clean.repeated_lines, scope_field: meta.site, min_docs: 2, min_fraction: 0.3", Some(Reduce)),
            ("type: clean.repeated_lines, scope_field: meta.site, min_docs: 4, on_match: annotate", Some(Reduce)),
        ];
        use millstone_distributed::StepKind::{Cluster, Global, Reduce};
        for (n, (setting, kind)) in settings.iter().enumerate() {
            let single_out = dir.path().join(format!("single-{n}"));
            let yaml = dir.path().join(format!("single-{n}.yaml"));
            std::fs::write(&yaml, near_only(&input, &single_out, setting)).unwrap();
            let options = millstone_config::LoadOptions { overwrite: true, ..Default::default() };
            let built = millstone_config::load_plan(&yaml, &registry, &options).unwrap();
            let report = millstone_runner::run(built, &millstone_runner::RunOptions::default()).unwrap();
            let dropped = report.totals.dropped;
            let counters = serde_json::to_string(&report.stages).unwrap();
            let changed =
                dropped > 0 || counters.contains("lines_removed") || counters.contains("segments_removed");
            assert!(setting.contains("annotate") || changed, "{setting}: the corpus has duplicates");

            let out = dir.path().join(format!("dist-{n}"));
            let yaml = dir.path().join(format!("dist-{n}.yaml"));
            std::fs::write(&yaml, near_only(&input, &out, setting)).unwrap();
            let planned = plan(
                &yaml,
                &registry,
                &PlanOptions {
                    tasks: 3,
                    work: dir.path().join(format!("work-{n}")),
                    chunk_bytes: 8000,
                    ..Default::default()
                },
            )
            .unwrap();
            let kinds: Vec<_> = planned.steps.iter().map(|s| s.kind).collect();
            match kind {
                Some(kind) => assert!(kinds.contains(kind), "{setting}: {kinds:?}"),
                // A state barrier: two parallel steps, nothing between.
                None => assert!(
                    kinds.iter().all(|k| *k == millstone_distributed::StepKind::Parallel),
                    "{setting}: {kinds:?}"
                ),
            }
            run_all(&planned, &registry);
            let a: std::collections::BTreeMap<String, Vec<u8>> = tree(&single_out)
                .into_iter()
                .map(|n| (n.clone(), std::fs::read(single_out.join(&n)).unwrap()))
                .collect();
            assert!(a == folded(&out), "{setting}: the distributed outputs differ");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
        #[test]
        fn any_corpus_and_task_count_gives_the_single_process_output(
            seed in 0u64..1000, stories in 3usize..25, files in 1usize..6, tasks in 1usize..7,
        ) {
            let registry = millstone::builtin_registry();
            let dir = tempfile::tempdir().unwrap();
            let input = write_corpus(dir.path(), seed, stories, files);
            let single_out = dir.path().join("single");
            let yaml = dir.path().join("single.yaml");
            std::fs::write(&yaml, every_barrier(&input, &single_out)).unwrap();
            let options = millstone_config::LoadOptions { overwrite: true, ..Default::default() };
            let built = millstone_config::load_plan(&yaml, &registry, &options).unwrap();
            millstone_runner::run(built, &millstone_runner::RunOptions::default()).unwrap();

            let out = dir.path().join("dist");
            let yaml = dir.path().join("dist.yaml");
            std::fs::write(&yaml, every_barrier(&input, &out)).unwrap();
            let planned = plan(&yaml, &registry, &PlanOptions {
                tasks, work: dir.path().join("work"), chunk_bytes: 8000, ..Default::default()
            }).unwrap();
            run_all(&planned, &registry);
            let a: std::collections::BTreeMap<String, Vec<u8>> = tree(&single_out)
                .into_iter().map(|n| (n.clone(), std::fs::read(single_out.join(&n)).unwrap())).collect();
            prop_assert_eq!(a, folded(&out));
        }
    }
}

/// Why the Slurm test cannot run here, if it cannot.
fn slurm_unavailable() -> Option<String> {
    if std::env::var("MILLSTONE_SLURM").as_deref() == Ok("1") {
        return None;
    }
    Some(std::env::var("MILLSTONE_SLURM_SKIP").unwrap_or_else(|_| {
        "no Slurm cluster: .ci/run starts one (.ci/slurm.sh) and sets MILLSTONE_SLURM=1".into()
    }))
}

fn command_output(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program).args(args).output().expect(program);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Waits until none of `jobs` is queued or running.
fn wait_for_slurm(jobs: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !command_output("squeue", &["-h", "-o", "%i", "-j", &jobs.join(",")]).is_empty() {
        assert!(std::time::Instant::now() < deadline, "Slurm jobs {jobs:?} did not finish in 5 minutes");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn slurm_runs_match_the_single_process_and_a_cancelled_task_is_rerun_alone() {
    if let Some(why) = slurm_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = write_corpus(dir.path(), 11, 50, 6);
    // One large file, so that the task that reads it (through the slow-ish repetition filter)
    // runs for seconds and can be cancelled mid-way.
    let mut rng = millstone_testkit::news::Rng::new(5);
    let mut big = String::new();
    for i in 0..3000 {
        let words: Vec<String> = (0..400).map(|_| format!("w{}", rng.below(5000))).collect();
        big.push_str(&serde_json::json!({"id": format!("big{i}"), "text": words.join(" ")}).to_string());
        big.push('\n');
    }
    std::fs::write(input.join("part-99-big.jsonl"), big).unwrap();
    let pipeline = |out: &Path| {
        let (i, o) = (input.display(), out.display());
        format!(
            r#"version: 1
name: slurm
runtime: {{ threads: 1, out_dir: {o} }}
stages:
  - {{ type: ingest.jsonl, path: {i} }}
  - {{ type: clean.strip_boilerplate, unmarked_comment_threads: true }}
  - {{ type: clean.gopher_repetition }}
  - {{ type: clean.normalize_whitespace }}
  - {{ type: dedup.exact, id: exact, report: {o}/exact.jsonl, keep_dropped: true }}
  - {{ type: dedup.minhash, id: minhash, preset: news, report: {o}/minhash.jsonl, keep_dropped: true }}
  - {{ type: export.jsonl, path: {o}/docs.jsonl }}
"#
        )
    };
    let single_out = dir.path().join("single");
    let yaml = dir.path().join("single.yaml");
    std::fs::write(&yaml, pipeline(&single_out)).unwrap();
    single_run(&yaml, &dir.path().join("single.json"));

    // 1. A Slurm run of 4 tasks per step equals the single process.
    let out = dir.path().join("slurm");
    let yaml = dir.path().join("slurm.yaml");
    std::fs::write(&yaml, pipeline(&out)).unwrap();
    let work = dir.path().join("work");
    let run = submit(&yaml, &work, 4, &["--engine", "slurm", "--wait"]);
    assert!(run.status.success(), "{}", stderr(&run));
    same_outputs(&single_out, &out);

    // 2. Cancel the task reading the large file while it runs; the steps after it are cancelled
    //    too (afterok + kill-on-invalid-dep) instead of waiting forever.
    let out = dir.path().join("killed");
    let yaml = dir.path().join("killed.yaml");
    std::fs::write(&yaml, pipeline(&out)).unwrap();
    let work = dir.path().join("work-killed");
    let planned =
        millstone(&["plan", yaml.to_str().unwrap(), "--tasks", "4", "--work", work.to_str().unwrap()]);
    assert!(planned.status.success(), "{}", stderr(&planned));
    let plan = WorkPlan::load(&work.join("plan.json")).unwrap();
    let slow = plan.shards.iter().find(|s| s.path.ends_with("part-99-big.jsonl")).unwrap().rank;
    let submitted = submit(&yaml, &work, 4, &["--engine", "slurm"]);
    assert!(submitted.status.success(), "{}", stderr(&submitted));
    let text = stderr(&submitted);
    let jobs: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("submitted job arrays "))
        .expect("job ids printed")
        .split(", ")
        .map(String::from)
        .collect();
    let target = format!("{}_{slow}", jobs[0]);
    // The task says `started` in its log once a signal interrupts it cleanly; it then reads for
    // about a second. (That Slurm opened the log is not enough: a cancel before the handler is
    // installed kills the task without a failure record.)
    let log = plan.log_dir(0).join(format!("{target}.out"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let started = || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(": started"));
    while !started() {
        assert!(std::time::Instant::now() < deadline, "{target} never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    command_output("scancel", &[&target]);
    wait_for_slurm(&jobs);
    let states = status::status(&plan);
    assert!(!states[0].done.contains(&slow), "the cancelled rank has no marker");
    let (_, failure) = states[0].failed.iter().find(|(r, _)| *r == slow).expect("the cancelled rank failed");
    assert!(failure.error.contains("interrupted"), "stopped mid-way by the signal: {}", failure.error);
    assert_eq!(failure.log.as_deref(), Some(log.as_path()));
    assert_eq!(states[0].done.len(), 3, "the other ranks of step 0 finished: {:?}", states[0]);
    assert!(states[1..].iter().all(|s| s.done.is_empty()), "later steps did not run");
    let mtime = |p: PathBuf| std::fs::metadata(p).unwrap().modified().unwrap();
    let others: Vec<_> = states[0].done.iter().map(|&r| (r, mtime(plan.marker_path(0, r)))).collect();

    // 3. Resubmitting runs only the cancelled rank of step 0 (and the steps after it).
    let again = submit(&yaml, &work, 4, &["--engine", "slurm", "--wait"]);
    assert!(again.status.success(), "{}", stderr(&again));
    for (rank, before) in others {
        assert_eq!(mtime(plan.marker_path(0, rank)), before, "rank {rank} was not rerun");
    }
    let logs: Vec<String> = std::fs::read_dir(plan.log_dir(0))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let of_rank = |r: usize| logs.iter().filter(|n| n.ends_with(&format!("_{r}.out"))).count();
    assert_eq!(of_rank(slow), 2, "{logs:?}");
    assert!((0..4).filter(|&r| r != slow).all(|r| of_rank(r) == 1), "{logs:?}");
    same_outputs(&single_out, &out);
}
