//! Helpers shared by the end-to-end tests: running the binary and looking at what it left.
#![allow(dead_code)] // each test file uses some of them

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `millstone` with `args` from the repository root.
pub fn millstone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_millstone"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running millstone")
}

/// The standard error of a finished command, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file and folder beneath `dir` (none if it does not exist).
pub fn entries_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(entries_below(&p));
        }
        out.push(p);
    }
    out
}

/// The files beneath `dir`, as displayed paths.
pub fn files_below(dir: &Path) -> Vec<String> {
    entries_below(dir).into_iter().filter(|p| p.is_file()).map(|p| p.display().to_string()).collect()
}
