//! Files named by a local path or an object URL alike, for the code that does not care which:
//! completion markers, input fingerprints, output checksums and byte counts. Each function
//! dispatches on [`is_remote`](crate::is_remote) and answers with `std::io` errors, so callers
//! keep one error path.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::{is_remote, Error, ObjectReader};

/// What a fingerprint needs of a file: its size and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Bytes.
    pub size: u64,
    /// Last modification, in nanoseconds since the Unix epoch (an object's `Last-Modified`).
    pub modified_ns: u128,
    /// An object's ETag, which changes with its content (`None` for local files).
    pub etag: Option<String>,
}

fn as_url(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    is_remote(&text).then(|| text.into_owned())
}

fn io_error(error: Error) -> io::Error {
    let kind = if error.is_not_found() { io::ErrorKind::NotFound } else { io::ErrorKind::Other };
    io::Error::new(kind, error)
}

/// Whether the file or object exists.
pub fn exists(path: &Path) -> io::Result<bool> {
    match as_url(path) {
        Some(url) => crate::exists(&url).map_err(io_error),
        None => path.try_exists(),
    }
}

/// The size and modification time of a file or object.
pub fn stat(path: &Path) -> io::Result<Stat> {
    match as_url(path) {
        Some(url) => {
            let meta = crate::head(&url).map_err(io_error)?;
            let modified_ns = meta.last_modified.timestamp_nanos_opt().unwrap_or(0).max(0) as u128;
            Ok(Stat { size: meta.size, modified_ns, etag: meta.e_tag })
        }
        None => {
            let meta = std::fs::metadata(path)?;
            let modified_ns =
                meta.modified()?.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            Ok(Stat { size: meta.len(), modified_ns, etag: None })
        }
    }
}

/// The bytes of an output: a file, the files beneath a folder, or the objects under a prefix.
pub fn total_size(path: &Path) -> io::Result<u64> {
    if as_url(path).is_none() && !path.is_dir() {
        return Ok(std::fs::metadata(path)?.len());
    }
    files_of(path)?.iter().map(|file| stat(file).map(|s| s.size)).sum()
}

/// A streaming reader of the whole file or object.
pub fn open(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    Ok(match as_url(path) {
        Some(url) => Box::new(ObjectReader::open(&url).map_err(io_error)?),
        None => Box::new(std::fs::File::open(path)?),
    })
}

/// The whole file or object as UTF-8 text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Removes a file or object; one that is not there is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    match as_url(path) {
        Some(url) => crate::delete(&url).map_err(io_error),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
}

/// The files an output is made of, sorted: the file itself, or every file beneath a folder
/// (for an object URL that is not an object itself: every object under `url/`, and not found
/// when there is none).
pub fn files_of(path: &Path) -> io::Result<Vec<PathBuf>> {
    if let Some(url) = as_url(path) {
        if crate::exists(&url).map_err(io_error)? {
            return Ok(vec![path.to_path_buf()]);
        }
        let folder = format!("{}/", url.trim_end_matches('/'));
        let objects = crate::list(&folder).map_err(io_error)?;
        if objects.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{url}: no such object or prefix")));
        }
        return Ok(objects.into_iter().map(PathBuf::from).collect());
    }
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(io::Error::other)?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_answer_like_std() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/a.txt");
        assert!(!exists(&file).unwrap());
        remove(&file).unwrap();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "hello").unwrap();
        std::fs::write(dir.path().join("b.txt"), "b").unwrap();
        assert!(exists(&file).unwrap());
        assert_eq!(stat(&file).unwrap().size, 5);
        assert_eq!(total_size(dir.path()).unwrap(), 6);
        assert_eq!(read_to_string(&file).unwrap(), "hello");
        assert_eq!(files_of(dir.path()).unwrap(), vec![dir.path().join("b.txt"), file.clone()]);
        assert_eq!(files_of(&file).unwrap(), vec![file.clone()]);
        remove(&file).unwrap();
        assert!(!exists(&file).unwrap());
    }
}
