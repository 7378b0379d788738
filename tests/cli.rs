//! End-to-end tests of the `millstone` binary: the bundled pipeline, bad input, diagnostics.

mod common;

use std::path::{Path, PathBuf};

use common::{millstone, stderr};

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bundled_news_pipeline_runs_and_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let out = millstone(&[
        "run",
        "pipelines/news.yaml",
        "--quiet",
        "--set",
        &format!("runtime.out_dir={d}"),
        "--set",
        &format!("stages.7.report={d}/clusters.jsonl"),
        "--set",
        &format!("stages.8.report={d}/near.jsonl"),
        "--set",
        &format!("stages.9.path={d}/news.jsonl"),
        "--report",
        &format!("{d}/run.json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = report(&dir.path().join("run.json"));
    assert_eq!(r["conserved"], true);
    let t = &r["totals"];
    assert_eq!(t["input"], 40);
    assert_eq!(
        t["input"].as_u64(),
        Some(t["written"].as_u64().unwrap() + t["dropped"].as_u64().unwrap() + t["failed"].as_u64().unwrap())
    );
    let lines = std::fs::read_to_string(dir.path().join("news.jsonl")).unwrap();
    assert_eq!(lines.lines().count() as u64, t["written"].as_u64().unwrap());
    // Boilerplate and comment threads are gone from every written document.
    for line in lines.lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = doc["text"].as_str().unwrap();
        for widget in [
            "Notify of",
            "newest oldest",
            "Leave a Comment",
            "Share this:",
            "Filed under",
            "Greta_W",
            "Join the discussion",
        ] {
            assert!(!text.contains(widget), "{widget:?} left in {}", doc["id"]);
        }
    }
    // Every document that entered a dedup stage has a row in its cluster report.
    let clusters = std::fs::read_to_string(dir.path().join("clusters.jsonl")).unwrap();
    assert_eq!(clusters.lines().count(), 40);
    let near = std::fs::read_to_string(dir.path().join("near.jsonl")).unwrap();
    let exact_dropped = r["stages"][7]["dropped"]["exact_duplicate"].as_u64().unwrap();
    assert_eq!(near.lines().count() as u64, 40 - exact_dropped);
    // One document per story or brief survives: 10 republished stories and 13 briefs.
    assert_eq!(t["written"], 23);
    // Dropped duplicates went to the rejects sink with their reason.
    let rejects = std::fs::read_to_string(dir.path().join("rejects/exact_dups.jsonl")).unwrap();
    assert!(rejects.lines().all(|l| l.contains("\"reason\":\"exact_duplicate\"")));
    // The output is not overwritten without --overwrite.
    let again = millstone(&[
        "run",
        "pipelines/news.yaml",
        "--quiet",
        "--set",
        &format!("runtime.out_dir={d}"),
        "--set",
        &format!("stages.7.report={d}/clusters2.jsonl"),
        "--set",
        &format!("stages.8.report={d}/near2.jsonl"),
        "--set",
        &format!("stages.9.path={d}/news.jsonl"),
    ]);
    assert_eq!(again.status.code(), Some(2), "existing outputs are refused before reading");
    assert!(stderr(&again).contains("--overwrite"), "{}", stderr(&again));
}

fn write_bad_inputs(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.jsonl"), b"{\"id\":\"1\",\"text\":\"good one\"}\n{not json\n{\"id\":\"3\",\"body\":\"no text\"}\n{\"id\":\"4\",\"text\":\"bad \xff\"}\n{\"id\":\"5\",\"text\":\"good two\"}\n").unwrap();
    std::fs::write(data.join("b.jsonl"), b"").unwrap();
    let pipeline = dir.join("p.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "version: 1\nruntime: {{ out_dir: {o}, max_failed_fraction: 1.0 }}\nstages:\n  - type: ingest.jsonl\n    paths: [\"{d}/*.jsonl\"]\n    on_error: quarantine\n  - type: export.jsonl\n    path: {o}/out.jsonl\n",
            d = data.display(),
            o = dir.join("out").display()
        ),
    )
    .unwrap();
    pipeline
}

#[test]
fn bad_records_are_counted_located_and_do_not_stop_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_bad_inputs(dir.path());
    let report_path = dir.path().join("run.json");
    let out =
        millstone(&["run", pipeline.to_str().unwrap(), "--quiet", "--report", report_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = report(&report_path);
    assert_eq!(r["totals"]["input"], 5, "the empty b.jsonl holds no record");
    assert_eq!(r["totals"]["written"], 2);
    assert_eq!(r["totals"]["failed"], 3);
    assert_eq!(r["conserved"], true);
    let quarantine = std::fs::read_to_string(dir.path().join("out/quarantine/ingest.jsonl#0.jsonl")).unwrap();
    let q: Vec<&str> = quarantine.lines().collect();
    assert_eq!(q.len(), 3, "{quarantine}");
    assert!(q[0].contains("a.jsonl:2") && q[0].contains("not valid JSON"), "{}", q[0]);
    assert!(q[1].contains("a.jsonl:3") && q[1].contains("no text field"));
    assert!(q[2].contains("a.jsonl:4") && q[2].contains("invalid UTF-8"));
}

#[test]
fn a_run_where_too_many_records_fail_is_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_bad_inputs(dir.path());
    let report_path = dir.path().join("run.json");
    let run = |fraction: &str| {
        millstone(&[
            "run",
            pipeline.to_str().unwrap(),
            "--quiet",
            "--overwrite",
            "--set",
            &format!("runtime.max_failed_fraction={fraction}"),
            "--report",
            report_path.to_str().unwrap(),
        ])
    };
    // 3 of 5 records fail: above 0.5, the run fails but still reports what it did.
    let out = run("0.5");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("3 of 5 input records (60.0%) failed"), "{}", stderr(&out));
    assert_eq!(report(&report_path)["totals"]["failed"], 3);
    assert!(!dir.path().join("out/_markers").exists(), "a failed run leaves no completion marker");
    assert!(!dir.path().join("out/out.jsonl").exists(), "and commits no output");
    assert!(run("0.6").status.success());
    let out = run("1.5");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("max_failed_fraction"), "{}", stderr(&out));
}

#[test]
fn zero_threads_and_unsafe_stage_ids_are_refused_before_running() {
    let out = millstone(&["run", "pipelines/news.yaml", "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("threads must be at least 1"), "{}", stderr(&out));
    for id in ["../../x", "a/b", ".hidden"] {
        let out = millstone(&["validate", "pipelines/news.yaml", "--set", &format!("stages.3.id={id}")]);
        assert_eq!(out.status.code(), Some(2), "{id}");
        assert!(stderr(&out).contains("safe file name"), "{id}: {}", stderr(&out));
    }
}

#[test]
fn fail_fast_stops_at_the_first_bad_record_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = write_bad_inputs(dir.path());
    let report_path = dir.path().join("run.json");
    let out = millstone(&[
        "run",
        pipeline.to_str().unwrap(),
        "--quiet",
        "--fail-fast",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("a.jsonl:2") && err.contains("not valid JSON"), "{err}");
    assert!(!dir.path().join("out/out.jsonl").exists(), "a failed run commits no output");
    // The summary and the report of what was done until then are written too.
    assert!(err.contains("FAILED: nothing committed"), "{err}");
    let r = report(&report_path);
    assert!(r["error"].as_str().unwrap().contains("not valid JSON"), "{r}");
}

#[test]
fn diagnostics_match_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 6);
    for case in cases {
        let rel = case.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
        let out = millstone(&["validate", rel.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", rel.display());
        let actual = stderr(&out);
        let snapshot = case.with_extension("stderr");
        if update {
            std::fs::write(&snapshot, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|_| {
            panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", snapshot.display())
        });
        assert_eq!(actual, expected, "diagnostics for {} changed", rel.display());
    }
}

#[test]
fn every_stage_example_validates_and_describe_works() {
    let registry = millstone::builtin_registry();
    for info in registry.iter() {
        // A stage that reads a model gets the real lid.176.ftz, or is only described.
        let model = millstone_testkit::laws::lid176();
        let needs_model = info.example.contains("model_path:");
        if needs_model && model.is_none() {
            eprintln!("{}: example not built: it needs a model file (set MILLSTONE_LID176)", info.type_name);
            assert!(millstone(&["describe", info.type_name]).status.success());
            continue;
        }
        let yaml = format!(
            "version: 1\nstages:\n  - type: ingest.jsonl\n    path: x.jsonl\n{}",
            if info.type_name == "ingest.jsonl" {
                String::new()
            } else {
                info.example
                    .lines()
                    .map(|l| match (l.strip_prefix("model_path:"), &model) {
                        (Some(_), Some(m)) => format!("model_path: {}", m.display()),
                        _ => l.to_string(),
                    })
                    .enumerate()
                    .map(|(i, l)| if i == 0 { format!("  - {l}\n") } else { format!("    {l}\n") })
                    .collect()
            }
        );
        let result = millstone_config::parse_plan(
            "example.yaml",
            &yaml,
            &registry,
            &millstone_config::LoadOptions { overwrite: true, ..Default::default() },
        );
        if let Err(e) = result {
            panic!("example of {} does not build:\n{e}", info.type_name);
        }
        let out = millstone(&["describe", info.type_name]);
        assert!(out.status.success());
    }
    let stages = millstone(&["stages", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&stages.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), registry.names().len());
    let schema = millstone(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert_eq!(
        schema["properties"]["stages"]["items"]["properties"]["type"]["enum"].as_array().unwrap().len(),
        registry.names().len()
    );
}

#[test]
fn overrides_reach_nested_keys_and_bad_overrides_are_reported() {
    let out = millstone(&["validate", "pipelines/news.yaml", "--set", "stages.99.path=x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("index 99 is out of range"), "{}", stderr(&out));
    let out = millstone(&["validate", "pipelines/news.yaml", "--set", "runtime.threads=0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("threads must be at least 1"), "{}", stderr(&out));
}

#[test]
fn repeated_failures_are_logged_a_few_times_and_counted_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut body = String::new();
    for i in 0..50 {
        body.push_str(&format!("{{\"id\":\"{i}\",\"text\":\"good {i}\"}}\nnot json {i}\n"));
    }
    // A different error after the flood is still logged.
    for i in 0..3 {
        body.push_str(&format!("{{\"id\":\"late{i}\"}}\n"));
    }
    std::fs::write(&input, body).unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "version: 1\nruntime: {{ out_dir: {o}, max_failed_fraction: 1.0 }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n  - type: export.jsonl\n    path: {o}/out.jsonl\n",
            i = input.display(),
            o = dir.path().join("out").display()
        ),
    )
    .unwrap();
    let out = millstone(&["run", p.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let flood = err.lines().filter(|l| l.contains("skipping") && l.contains("not valid JSON")).count();
    assert_eq!(flood, 5, "five of a kind are logged: {err}");
    let late = err.lines().filter(|l| l.contains("skipping") && !l.contains("not valid JSON")).count();
    assert_eq!(late, 3, "another kind is logged despite the flood before it: {err}");
    assert!(err.contains("45 more failures of kind `not valid JSON` not logged one by one"), "{err}");
    assert!(err.contains("not valid JSON=50"), "the summary counts failures by kind: {err}");
}

/// The WCXB dev split beside the repository, or `None` (with a message) when it is absent.
fn wcxb_dev() -> Option<std::path::PathBuf> {
    let wcxb = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/wcxb-dev");
    if !wcxb.join("html").is_dir() {
        eprintln!("skipped: {} is not there (development data, not part of the repository)", wcxb.display());
        return None;
    }
    Some(wcxb)
}

/// Runs `millstone eval reprints` on the WCXB pages into `out`.
fn build_reprints(wcxb: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let (html, truth) = (wcxb.join("html"), wcxb.join("ground-truth"));
    let mut args = vec!["eval", "reprints", "--html", html.to_str().unwrap()];
    args.extend(["--truth", truth.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let built = millstone(&args);
    assert!(built.status.success(), "{}", stderr(&built));
}

/// A pipeline reading `corpus` into `dedup.minhash` with the news preset.
fn news_minhash_pipeline(dir: &std::path::Path, corpus: &std::path::Path) -> std::path::PathBuf {
    let pipeline = dir.join("p.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "version: 1\nruntime: {{ out_dir: {o} }}\nstages:\n  - {{ type: ingest.jsonl, path: {c} }}\n  - {{ type: dedup.minhash, preset: news }}\n",
            o = dir.join("o").display(),
            c = corpus.display()
        ),
    )
    .unwrap();
    pipeline
}

#[test]
fn eval_reprints_builds_a_benchmark_that_verified_clusters_score_well_on() {
    let Some(wcxb) = wcxb_dev() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reprints");
    build_reprints(&wcxb, &out, &["--pages", "30"]);
    let labels = std::fs::read_to_string(out.join("labels.tsv")).unwrap();
    let pages: std::collections::BTreeSet<&str> =
        labels.lines().skip(1).map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(pages.len(), 30);
    assert!(labels.lines().count() > 30 * 7, "several texts per page");
    let pipeline = news_minhash_pipeline(dir.path(), &out.join("corpus.jsonl"));
    let scored = millstone(&[
        "eval",
        "dedup",
        "--labels",
        out.join("labels.tsv").to_str().unwrap(),
        "--pipeline",
        pipeline.to_str().unwrap(),
        "--sweep",
        "stages.1.clusters=verified,connected",
    ]);
    assert!(scored.status.success(), "{}", stderr(&scored));
    let table = String::from_utf8_lossy(&scored.stdout).into_owned();
    let precision = |setting: &str| -> f64 {
        let line = table.lines().find(|l| l.starts_with(setting)).unwrap_or_else(|| panic!("{table}"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    // Over-long pages quote other pages' leads: connected components chain them, verified
    // clusters do not.
    assert!(precision("clusters=verified") >= 0.95, "{table}");
    assert!(precision("clusters=connected") < precision("clusters=verified"), "{table}");
}

#[test]
fn eval_reprints_same_site_shows_that_per_site_common_shingles_cut_template_matches() {
    let Some(wcxb) = wcxb_dev() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("same-site");
    build_reprints(&wcxb, &out, &["--same-site"]);
    let corpus = std::fs::read_to_string(out.join("corpus.jsonl")).unwrap();
    assert!(corpus.lines().all(|l| l.contains("\"site\":")), "every text names its site");
    let pipeline = news_minhash_pipeline(dir.path(), &out.join("corpus.jsonl"));
    let score = |extra: &[&str]| -> f64 {
        let mut args = vec![
            "eval",
            "dedup",
            "--labels",
            out.join("labels.tsv").to_str().unwrap().to_string().leak(),
            "--pipeline",
            pipeline.to_str().unwrap().to_string().leak(),
        ];
        args.extend_from_slice(extra);
        let scored = millstone(&args);
        assert!(scored.status.success(), "{}", stderr(&scored));
        let table = String::from_utf8_lossy(&scored.stdout).into_owned();
        let line = table.lines().find(|l| l.starts_with("pipeline")).unwrap_or_else(|| panic!("{table}"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let plain = score(&[]);
    let scoped = score(&[
        "--set",
        "stages.1.common_shingles.scope_field=meta.site",
        "--set",
        "stages.1.common_shingles.min_docs=3",
    ]);
    assert!(scoped >= 0.9 && scoped > plain + 0.1, "pair precision {plain} -> {scoped}");
}
