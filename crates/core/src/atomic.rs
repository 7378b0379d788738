//! Output files that appear all at once: written under a temporary name in the same directory
//! and renamed into place on [`AtomicFile::commit`]; dropped uncommitted, the temporary is removed.
//!
//! An object-store target (`s3://bucket/key`) is written to a local staging file (in
//! `MILLSTONE_STAGING_DIR`, else the system's temporary folder) and uploaded on commit: a single
//! PUT or a multipart upload, both of which the store shows only once complete.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file being written atomically.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    /// The target is an object URL: `commit` uploads instead of renaming.
    remote: bool,
}

impl AtomicFile {
    /// Starts writing `target`. Fails if `target` exists and `overwrite` is false; creates
    /// missing parent directories.
    pub fn create(target: &Path, overwrite: bool) -> io::Result<Self> {
        let url = target.to_string_lossy();
        if millstone_storage::is_remote(&url) {
            return Self::create_remote(target, &url, overwrite);
        }
        if !overwrite && target.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists; pass --overwrite to replace it", target.display()),
            ));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_stale_temps(target, &name);
        let temp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp)?;
        Ok(AtomicFile { target: target.to_path_buf(), temp, file: Some(file), remote: false })
    }

    fn create_remote(target: &Path, url: &str, overwrite: bool) -> io::Result<Self> {
        if !overwrite && millstone_storage::exists(url).map_err(io::Error::other)? {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{url} exists; pass --overwrite to replace it"),
            ));
        }
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let staging =
            std::env::var_os("MILLSTONE_STAGING_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        std::fs::create_dir_all(&staging)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temp = staging.join(format!(".millstone-{}-{n}-{name}", std::process::id()));
        let file = File::create(&temp)?;
        Ok(AtomicFile { target: target.to_path_buf(), temp, file: Some(file), remote: true })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file into place (or uploads it, for an object URL).
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let Some(mut file) = self.file.take() else { return Err(io::Error::other("file already committed")) };
        file.flush()?;
        if self.remote {
            drop(file);
            let uploaded = millstone_storage::upload(&self.temp, &self.target.to_string_lossy());
            let _ = std::fs::remove_file(&self.temp);
            uploaded.map_err(io::Error::other)?;
        } else {
            file.sync_all()?;
            std::fs::rename(&self.temp, &self.target)?;
        }
        Ok(self.target.clone())
    }
}

/// Removes temporaries of `target` left by writers that were killed (their process is gone), so
/// a resumed run leaves a clean folder. Only checked where `/proc` exists (Linux).
fn remove_stale_temps(target: &Path, name: &str) {
    let Some(dir) = target.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p }) else {
        return;
    };
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().ok_or_else(|| io::Error::other("file already committed"))?.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_abandon() {
        let dir = std::env::temp_dir().join(format!("millstone-atomic-{}", std::process::id()));
        let target = dir.join("sub/out.txt");
        let mut f = AtomicFile::create(&target, false).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!target.exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello");
        assert!(AtomicFile::create(&target, false).is_err());
        let mut g = AtomicFile::create(&target, true).unwrap();
        g.write_all(b"changed").unwrap();
        drop(g);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello");
        assert_eq!(std::fs::read_dir(target.parent().unwrap()).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
