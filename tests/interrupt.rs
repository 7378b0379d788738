//! Ctrl-C / SIGTERM: the run stops reading, commits nothing, removes its temporaries, prints
//! the summary of what it did, writes the report marked `interrupted`, and exits 130.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::files_below;

#[cfg(unix)]
#[test]
fn an_interrupted_run_commits_nothing_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..150_000u32 {
        writeln!(file, "{{\"id\":\"{i}\",\"text\":\"Story {i} tells of {} things. It goes on about item {} at length.\"}}", i % 97, i % 13).unwrap();
    }
    drop(file);
    let out = dir.path().join("out");
    let pipeline = dir.path().join("p.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "version: 1\nruntime: {{ out_dir: {o}, threads: 2 }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n  - type: segment.sentences\n  - type: dedup.minhash\n    report: {o}/clusters.jsonl\n  - type: export.jsonl\n    path: {o}/corpus.jsonl\n",
            i = input.display(),
            o = out.display()
        ),
    )
    .unwrap();
    let report = dir.path().join("run.json");
    let child = Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(["run", pipeline.to_str().unwrap(), "--quiet", "--report", report.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopping took {:?}", started.elapsed());
    assert!(stderr.contains("INTERRUPTED") && stderr.contains("nothing was committed"), "{stderr}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written["interrupted"], true);
    assert_eq!(files_below(&out), Vec::<String>::new(), "an interrupted run leaves no file behind");
}
