//! Where a run writes: old markers are invalidated before a rerun writes, side files appear only
//! when the run succeeds, sharded runs cannot collide, and no output may be an input.

mod common;

use std::path::Path;
use std::process::Output;

use common::{entries_below, millstone, stderr};

/// A pipeline over `dir/data/*.jsonl` with quarantine, writing `dir/out/<export>`.
fn pipeline(dir: &Path, export: &str, fraction: f64) -> String {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    if !data.join("a.jsonl").exists() {
        std::fs::write(
            data.join("a.jsonl"),
            "{\"id\":\"1\",\"text\":\"one\"}\n{\"id\":\"2\",\"text\":\"two\"}\nnot json\n",
        )
        .unwrap();
    }
    let path = dir.join("p.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nruntime: {{ out_dir: {o}, max_failed_fraction: {fraction} }}\nstages:\n  - type: ingest.jsonl\n    paths: [\"{d}/*.jsonl\"]\n    on_error: quarantine\n  - type: export.jsonl\n    path: {o}/{export}\n",
            d = data.display(),
            o = dir.join("out").display()
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn temporaries(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in entries_below(dir) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains(".tmp-") {
            found.push(entry.display().to_string());
        }
    }
    found
}

/// Finding 1: a rerun that fails must not leave the previous run's marker claiming completion.
#[test]
fn a_failed_rerun_invalidates_the_old_marker() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "out.jsonl", 0.5);
    assert!(millstone(&["run", &p, "--quiet"]).status.success());
    assert!(dir.path().join("out/_markers").read_dir().unwrap().count() > 0);
    // The input changes (same configuration): most records now fail, so the rerun fails.
    std::fs::write(dir.path().join("data/b.jsonl"), "x\ny\nz\nw\n").unwrap();
    let rerun = millstone(&["run", &p, "--quiet", "--overwrite"]);
    assert_eq!(rerun.status.code(), Some(1), "{}", stderr(&rerun));
    let resumed = millstone(&["run", &p, "--quiet", "--resume"]);
    assert!(!stderr(&resumed).contains("already complete"), "{}", stderr(&resumed));
    assert_eq!(resumed.status.code(), Some(1), "the failing work is redone, not skipped");
}

/// Finding 2: side files are committed with the run or not at all, and never replace an
/// existing file without --overwrite.
#[test]
fn side_files_appear_only_when_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "sub/out.jsonl", 1.0);
    // The export's folder is taken by a file, so the sink fails after bad records were quarantined.
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/sub"), "a file").unwrap();
    let failed = millstone(&["run", &p, "--quiet"]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let quarantine = dir.path().join("out/quarantine/ingest.jsonl#0.jsonl");
    assert!(!quarantine.exists(), "a failed run left a quarantine file");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    std::fs::remove_file(dir.path().join("out/sub")).unwrap();
    assert!(millstone(&["run", &p, "--quiet"]).status.success());
    assert_eq!(std::fs::read_to_string(&quarantine).unwrap().lines().count(), 1);
    std::fs::remove_file(dir.path().join("out/sub/out.jsonl")).unwrap();
    // The quarantine file of the last run is there: refused before reading (exit 2).
    let again = millstone(&["run", &p, "--quiet"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("quarantine") && stderr(&again).contains("--overwrite"),
        "{}",
        stderr(&again)
    );
}

/// Finding 15: an existing output is found before the first record is read.
#[test]
fn existing_outputs_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "out.jsonl", 1.0);
    assert!(millstone(&["run", &p, "--quiet"]).status.success());
    let again = millstone(&["run", &p, "--quiet"]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("exists") && stderr(&again).contains("--overwrite"),
        "{}",
        stderr(&again)
    );
    assert!(millstone(&["run", &p, "--quiet", "--overwrite"]).status.success());
}

/// Finding 3: a sharded run refuses outputs without `{shard}`, and side files carry the shard.
#[test]
fn sharded_runs_cannot_collide() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "out.jsonl", 1.0);
    let out = millstone(&["run", &p, "--quiet", "--shard", "0/2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("has no `{shard}`"), "{}", stderr(&out));
    let p = pipeline(dir.path(), "part-{shard}.jsonl", 1.0);
    assert!(millstone(&["run", &p, "--quiet", "--shard", "0/2"]).status.success());
    assert!(dir.path().join("out/quarantine/ingest.jsonl#0.00000-of-00002.jsonl").exists());
    assert!(dir.path().join("out/part-00000.jsonl").exists());
}

/// Finding 5: an output that is an input, or matched by an input glob, is refused up front.
#[test]
fn an_output_may_not_be_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "out.jsonl", 1.0);
    let data = dir.path().join("data");
    for output in [data.join("a.jsonl"), data.join("new.jsonl")] {
        let out = millstone(&["validate", &p, "--set", &format!("stages.1.path={}", output.display())]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("is also an input"), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read_to_string(data.join("a.jsonl")).unwrap().lines().count(), 3, "input untouched");
}

/// Finding 4: --resume trusts a marker only while the inputs and outputs it recorded are
/// unchanged.
#[test]
fn resume_verifies_inputs_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "out.jsonl", 1.0);
    assert!(millstone(&["run", &p, "--quiet"]).status.success());
    let resume = || millstone(&["run", &p, "--quiet", "--resume"]);
    let skipped = |out: &Output| stderr(out).contains("already complete");
    assert!(skipped(&resume()), "an unchanged run is skipped");
    let output = dir.path().join("out/out.jsonl");
    // The output deleted: redone.
    std::fs::remove_file(&output).unwrap();
    let out = resume();
    assert!(!skipped(&out) && stderr(&out).contains("is missing"), "{}", stderr(&out));
    assert!(output.exists() && skipped(&resume()));
    // The output changed in place, same size: redone.
    let text = std::fs::read_to_string(&output).unwrap();
    std::fs::write(&output, text.replace("one", "uno")).unwrap();
    let out = resume();
    assert!(!skipped(&out) && stderr(&out).contains("changed"), "{}", stderr(&out));
    // An input changed: redone.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let input = dir.path().join("data/a.jsonl");
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.push_str("{\"id\":\"9\",\"text\":\"nine\"}\n");
    std::fs::write(&input, text).unwrap();
    let out = resume();
    assert!(!skipped(&out) && stderr(&out).contains("input"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 3);
    // A new input file: redone.
    std::fs::write(dir.path().join("data/c.jsonl"), "{\"id\":\"c\",\"text\":\"see\"}\n").unwrap();
    let out = resume();
    assert!(!skipped(&out) && stderr(&out).contains("set of input files"), "{}", stderr(&out));
}

/// Finding 6: a run commits all its outputs together or none: when the sink's output turns out
/// to be blocked at the end, the dedup report written earlier is not committed either.
#[test]
fn a_run_commits_all_outputs_or_none() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("a.jsonl"),
        "{\"id\":\"1\",\"text\":\"one\"}\n{\"id\":\"2\",\"text\":\"one\"}\n",
    )
    .unwrap();
    let texts = dir.path().join("out/texts");
    std::fs::write(&texts, "a file where the text folder should go").unwrap();
    let p = dir.path().join("p.yaml");
    std::fs::write(
        &p,
        format!(
            "version: 1\nruntime: {{ out_dir: {o} }}\nstages:\n  - type: ingest.jsonl\n    path: {d}/a.jsonl\n  - type: dedup.exact\n    report: {o}/exact.jsonl\n    keep_dropped: true\n  - type: export.text_dir\n    path: {o}/texts\n",
            d = data.display(),
            o = dir.path().join("out").display()
        ),
    )
    .unwrap();
    let out = millstone(&["run", p.to_str().unwrap(), "--quiet", "--overwrite"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a folder"), "{}", stderr(&out));
    assert!(!dir.path().join("out/exact.jsonl").exists(), "the report was committed without the corpus");
    assert!(!dir.path().join("out/rejects").join("dedup.exact#1.jsonl").exists());
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    std::fs::remove_file(&texts).unwrap();
    assert!(millstone(&["run", p.to_str().unwrap(), "--quiet", "--overwrite"]).status.success());
    assert!(dir.path().join("out/exact.jsonl").exists() && texts.is_dir());
}
