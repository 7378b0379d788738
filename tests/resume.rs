//! Sharded runs with completion markers: a run killed at any point and re-run with `--resume`
//! produces the same final output as an uninterrupted run, and finished shards are skipped.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn millstone() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_millstone"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn pipeline(dir: &Path, input: &Path) -> std::path::PathBuf {
    let out = dir.join("out");
    let path = dir.join("p.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nruntime: {{ out_dir: {o}, batch_docs: 64 }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n    shard_bytes: 64KiB\n  - type: clean.normalize_whitespace\n  - type: dedup.exact\n  - type: export.jsonl\n    path: {o}/part-{{shard}}.jsonl.gz\n",
            o = out.display(),
            i = input.display()
        ),
    )
    .unwrap();
    path
}

fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn killed_runs_resume_to_the_same_output() {
    let data = tempfile::tempdir().unwrap();
    let input = data.path().join("in.jsonl");
    let mut body = String::new();
    for i in 0..40_000 {
        body.push_str(&format!(
            "{{\"id\":\"d{i}\",\"text\":\"document {} with  some   words {}\"}}\n",
            i % 30_000,
            "x".repeat(i % 50)
        ));
    }
    std::fs::write(&input, body).unwrap();

    let reference = tempfile::tempdir().unwrap();
    let p = pipeline(reference.path(), &input);
    for shard in ["0/2", "1/2"] {
        let s = millstone().args(["run", p.to_str().unwrap(), "--quiet", "--shard", shard]).status().unwrap();
        assert!(s.success());
    }

    let work = tempfile::tempdir().unwrap();
    let p = pipeline(work.path(), &input);
    // Start shard 0 and kill it early (wherever it is), finish shard 1 normally.
    let mut child =
        millstone().args(["run", p.to_str().unwrap(), "--quiet", "--shard", "0/2"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = child.kill();
    let _ = child.wait();
    assert!(millstone()
        .args(["run", p.to_str().unwrap(), "--quiet", "--shard", "1/2"])
        .status()
        .unwrap()
        .success());
    // Resume both: shard 1 is skipped, shard 0 is redone.
    for shard in ["0/2", "1/2"] {
        let out = millstone()
            .args(["run", p.to_str().unwrap(), "--quiet", "--resume", "--shard", shard])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if shard == "1/2" {
            assert!(String::from_utf8_lossy(&out.stderr).contains("already complete"));
        }
    }
    let (a, b) = (outputs(reference.path()), outputs(work.path()));
    assert_eq!(a.iter().map(|f| &f.0).collect::<Vec<_>>(), ["part-00000.jsonl.gz", "part-00001.jsonl.gz"]);
    assert!(a == b, "resumed output differs from an uninterrupted run");
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A changed configuration invalidates the markers.
    let out = millstone()
        .args([
            "run",
            p.to_str().unwrap(),
            "--quiet",
            "--resume",
            "--shard",
            "1/2",
            "--set",
            "stages.2.field=text",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("already complete"));
}

/// Every file a run leaves under `out`, except markers: name and bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "_markers") {
                    stack.push(p);
                }
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                files.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// SIGKILL at points spread over the whole run (reading, barriers, their drain, commit) of a
/// pipeline with every barrier stage; `--resume` then gives byte-identical outputs (corpus,
/// reports, rejects) to an uninterrupted run, with the same counts and no temporaries.
#[cfg(unix)]
#[test]
fn killed_anywhere_in_every_barrier_stage_resume_gives_the_same_outputs() {
    let data = tempfile::tempdir().unwrap();
    let input = data.path().join("in.jsonl");
    let mut body = String::new();
    for i in 0..6_000 {
        let site = ["a.org", "b.org", "c.org"][(i % 4_000) % 3];
        body.push_str(&format!(
            "{{\"id\":\"d{i}\",\"site\":\"{site}\",\"text\":\"Story {} opens with a line about {} and more.\\n\\nSubscribe to {site} today.\\n\\nA second paragraph on topic {} follows here with enough words to matter.\"}}\n",
            i % 4_000,
            (i % 4_000) % 17,
            (i % 4_000) % 251
        ));
    }
    std::fs::write(&input, body).unwrap();
    let pipeline = |dir: &Path| {
        let o = dir.join("out");
        let path = dir.join("p.yaml");
        std::fs::write(
            &path,
            format!(
                "version: 1\nruntime: {{ out_dir: {o}, batch_docs: 100 }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n    shard_bytes: 256KiB\n\
                 \x20 - type: clean.repeated_lines\n    scope_field: meta.site\n\
                 \x20 - type: dedup.exact\n    report: {o}/exact.jsonl\n    keep_dropped: true\n\
                 \x20 - type: dedup.exact_segments\n    scope_field: meta.site\n    report: {o}/segments.jsonl\n\
                 \x20 - type: dedup.bloom\n    expected_items: 100000\n\
                 \x20 - type: dedup.substring\n    min_length: 60\n\
                 \x20 - type: dedup.simhash\n    report: {o}/simhash.jsonl\n\
                 \x20 - type: dedup.minhash\n    report: {o}/minhash.jsonl\n    keep_dropped: true\n\
                 \x20 - type: export.jsonl\n    path: {o}/corpus.jsonl.zst\n",
                o = o.display(),
                i = input.display()
            ),
        )
        .unwrap();
        path
    };
    let reference = tempfile::tempdir().unwrap();
    let p = pipeline(reference.path());
    let started = std::time::Instant::now();
    let run = millstone()
        .args(["run", p.to_str().unwrap(), "--quiet", "--report"])
        .arg(reference.path().join("run.json"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let duration = started.elapsed();
    let expected = tree(&reference.path().join("out"));
    assert!(expected.iter().any(|(name, _)| name == "minhash.jsonl"));
    let totals = |path: &Path| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["totals"]
            .clone()
    };
    for (seed, fraction) in [0.05, 0.3, 0.55, 0.8, 0.97].into_iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let p = pipeline(work.path());
        let mut child = millstone().args(["run", p.to_str().unwrap(), "--quiet"]).spawn().unwrap();
        std::thread::sleep(duration.mul_f64(fraction));
        let _ = child.kill();
        let _ = child.wait();
        let resumed = millstone()
            .args(["run", p.to_str().unwrap(), "--quiet", "--resume", "--report"])
            .arg(work.path().join("run.json"))
            .output()
            .unwrap();
        assert!(resumed.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&resumed.stderr));
        let got = tree(&work.path().join("out"));
        let names = |t: &[(String, Vec<u8>)]| t.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got), names(&expected), "seed {seed} (killed at {fraction} of the run)");
        assert!(got == expected, "seed {seed}: resumed outputs differ from an uninterrupted run");
        if work.path().join("run.json").exists() {
            assert_eq!(totals(&work.path().join("run.json")), totals(&reference.path().join("run.json")));
        }
    }
}
