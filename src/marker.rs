//! Completion markers (`<out_dir>/_markers/shard-<i>-of-<n>.json`): written last, after every
//! output is committed, they record the configuration hash, a fingerprint of every input file
//! (size and modification time) and a checksum of every output (size and xxh3 of the bytes;
//! for a folder output, of every file in it). `--resume` skips a shard only when all of them
//! still hold; otherwise it says why and redoes the shard.

use std::path::{Path, PathBuf};

pub use millstone_distributed::{input_print, output_sum, InputPrint, OutputSum};
use serde::{Deserialize, Serialize};

/// What a marker records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Hash of the resolved configuration.
    pub config_hash: String,
    /// `i/N` of a sharded run.
    pub shard: Option<String>,
    /// The run's totals, for people reading the marker.
    pub totals: serde_json::Value,
    /// Every input file.
    pub inputs: Vec<InputPrint>,
    /// Every output.
    pub outputs: Vec<OutputSum>,
}

/// Writes the marker of a finished run (temporary name, then rename; or one upload, for an
/// object store).
pub fn write(path: &Path, config_hash: &str, report: &millstone_runner::RunReport) -> std::io::Result<()> {
    let marker = Marker {
        config_hash: config_hash.to_string(),
        shard: report.shard.clone(),
        totals: serde_json::to_value(&report.totals).unwrap_or_default(),
        inputs: report.inputs.iter().map(|p| input_print(p)).collect::<std::io::Result<_>>()?,
        outputs: report.outputs().iter().map(|p| output_sum(p)).collect::<std::io::Result<_>>()?,
    };
    let mut file = millstone_core::AtomicFile::create(path, true)?;
    std::io::Write::write_all(
        &mut file,
        (serde_json::to_string_pretty(&marker).map_err(std::io::Error::other)? + "\n").as_bytes(),
    )?;
    file.commit().map(drop)
}

/// `Ok` when the marker at `path` shows a finished run of this configuration over exactly these
/// input files, unchanged, whose outputs are all still there, unchanged; otherwise why not.
pub fn verify(path: &Path, config_hash: &str, inputs: &[PathBuf]) -> Result<(), String> {
    let text =
        millstone_storage::file::read_to_string(path).map_err(|_| "no completion marker".to_string())?;
    let marker: Marker = serde_json::from_str(&text).map_err(|e| format!("unreadable marker: {e}"))?;
    if marker.config_hash != config_hash {
        return Err("the configuration changed".into());
    }
    let recorded: Vec<&PathBuf> = marker.inputs.iter().map(|i| &i.path).collect();
    if recorded != inputs.iter().collect::<Vec<_>>() {
        return Err("the set of input files changed".into());
    }
    for input in &marker.inputs {
        match input_print(&input.path) {
            Ok(now) if now == *input => {}
            Ok(_) => return Err(format!("input {} changed", input.path.display())),
            Err(_) => return Err(format!("input {} is gone", input.path.display())),
        }
    }
    for output in &marker.outputs {
        match output_sum(&output.path) {
            Ok(now) if now == *output => {}
            Ok(_) => return Err(format!("output {} changed", output.path.display())),
            Err(_) => return Err(format!("output {} is missing", output.path.display())),
        }
    }
    Ok(())
}
