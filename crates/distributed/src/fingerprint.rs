//! Fingerprints of inputs (size and modification time) and checksums of outputs (size and xxh3
//! of the bytes), which plans and markers record so that stale work is never reused.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An input file as it was when it was planned or read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPrint {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds since the Unix epoch.
    pub mtime_ns: u128,
}

/// An output as it was committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSum {
    /// The file or folder.
    pub path: PathBuf,
    /// Its size in bytes (summed over a folder's files).
    pub size: u64,
    /// xxh3-64 of its bytes (for a folder, of each file's relative path and bytes, in order).
    pub xxh3: String,
}

/// The fingerprint of an input file now.
pub fn input_print(path: &Path) -> std::io::Result<InputPrint> {
    let meta = std::fs::metadata(path)?;
    let mtime_ns = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    Ok(InputPrint { path: path.to_path_buf(), size: meta.len(), mtime_ns })
}

/// The checksum of an output (file or folder) now.
pub fn output_sum(path: &Path) -> std::io::Result<OutputSum> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut size = 0;
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(std::io::Error::other)?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut buf = vec![0u8; 1 << 20];
    for file in files {
        if path.is_dir() {
            hasher.update(file.strip_prefix(path).unwrap_or(&file).to_string_lossy().as_bytes());
        }
        let mut reader = std::fs::File::open(&file)?;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
    }
    Ok(OutputSum { path: path.to_path_buf(), size, xxh3: format!("{:016x}", hasher.digest()) })
}
