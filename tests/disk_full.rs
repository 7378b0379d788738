//! Disk full during output and during spill: the run fails with an error that names the file
//! and says the device is full, commits nothing and leaves no temporaries. The full disk is a
//! small tmpfs the test mounts; where the machine refuses (not root, no tmpfs), the test says
//! so and does nothing.

mod common;

use std::path::Path;
use std::process::Command;

use common::files_below;

struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn run(pipeline: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(["run", pipeline.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_fails_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let Some(full) = Tmpfs::mount(&dir.path().join("full"), "256k") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the disk-full test did not run");
        return;
    };
    let input = dir.path().join("in.jsonl");
    let mut body = String::new();
    for i in 0..4_000 {
        body.push_str(&format!(
            "{{\"id\":\"d{i}\",\"text\":\"document number {i} {}\"}}\n",
            "words ".repeat(40)
        ));
    }
    std::fs::write(&input, body).unwrap();
    let write = |name: &str, yaml: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, yaml).unwrap();
        p
    };
    // Output: about 1 MB of JSONL into 256 KiB.
    let output = write(
        "output.yaml",
        format!(
            "version: 1\nruntime: {{ out_dir: {o} }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n  - type: export.jsonl\n    path: {o}/corpus.jsonl\n",
            o = full.0.display(),
            i = input.display()
        ),
    );
    let out = run(&output);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("corpus.jsonl"), "{stderr}");
    assert_eq!(files_below(&full.0), Vec::<String>::new(), "nothing committed, no temporaries");
    // Spill: a near-duplicate stage parks documents in a spill file on the full disk.
    let spill = write(
        "spill.yaml",
        format!(
            "version: 1\nruntime: {{ out_dir: {o} }}\nstages:\n  - type: ingest.jsonl\n    path: {i}\n  - type: dedup.minhash\n    spill_dir: {s}\n  - type: export.jsonl\n    path: {o}/corpus.jsonl\n",
            o = dir.path().join("out").display(),
            s = full.0.display(),
            i = input.display()
        ),
    );
    let out = run(&spill);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("spill"), "{stderr}");
    assert_eq!(files_below(&full.0), Vec::<String>::new(), "the spill file is gone");
    assert!(!dir.path().join("out/corpus.jsonl").exists());
}
