//! Fingerprints of inputs (size and modification time, and an object's ETag) and checksums of
//! outputs (size and xxh3 of the bytes), which plans and markers record so that stale work is
//! never reused.

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
    /// An object's ETag (stores give `Last-Modified` to the second only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
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

/// The fingerprint of an input file (or object) now.
pub fn input_print(path: &Path) -> std::io::Result<InputPrint> {
    let stat = millstone_storage::file::stat(path)?;
    Ok(InputPrint { path: path.to_path_buf(), size: stat.size, mtime_ns: stat.modified_ns, etag: stat.etag })
}

/// The checksum of an output (file, folder, or object or objects under a prefix) now.
pub fn output_sum(path: &Path) -> std::io::Result<OutputSum> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut size = 0;
    let files = millstone_storage::file::files_of(path)?;
    let is_folder = files.len() != 1 || files[0] != path;
    let mut buf = vec![0u8; 1 << 20];
    for file in files {
        if is_folder {
            let name = file.to_string_lossy();
            let prefix = path.to_string_lossy();
            hasher.update(name.strip_prefix(&*prefix).unwrap_or(&name).trim_start_matches('/').as_bytes());
        }
        let mut reader = millstone_storage::file::open(&file)?;
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
