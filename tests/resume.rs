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
