//! `ingest.text_dir`: one document per text file under a folder.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, ByteSize, Document, FieldError, FieldRef, Provenance, RecordError, Shard,
    Source, SourceItem, Stage, StageConfig, StageError, StageKind,
};
use serde::{Deserialize, Serialize};

use crate::input::{self, Decoded};
use crate::InvalidUtf8;

/// Configuration of `ingest.text_dir`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextDirConfig {
    /// The folder to read.
    pub path: PathBuf,
    /// Which files, relative to `path` (`**/*.txt` reads sub-folders too).
    #[serde(default = "default_glob")]
    pub glob: String,
    /// Follow symbolic links (a link back to an enclosing folder is then an error, not a loop).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// Move the first non-empty line into `meta.title` (and out of the text).
    #[serde(default)]
    pub title_from_first_line: bool,
    /// Write the file's sub-folder (relative to `path`, e.g. the site) into this field
    /// (`meta.<key>`).
    #[serde(default)]
    pub folder_field: Option<FieldRef>,
    /// What to do with a file that is not valid UTF-8.
    #[serde(default)]
    pub invalid_utf8: InvalidUtf8,
    /// Files larger than this are reported as bad instead of read.
    #[serde(default = "crate::jsonl::default_max_doc_bytes")]
    pub max_doc_bytes: ByteSize,
}

fn default_glob() -> String {
    "**/*.txt".into()
}

impl StageConfig for TextDirConfig {
    const TYPE: &'static str = "ingest.text_dir";
    const KIND: StageKind = StageKind::Source;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("dir_meta", "folder_field")];
    const SUMMARY: &'static str = "Read a folder of text files, one document per file (id = relative path)";
    const EXAMPLE: &'static str = "type: ingest.text_dir\npath: examples/news\nglob: \"**/*.txt\"\ntitle_from_first_line: true\nfolder_field: meta.site\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.folder_field.as_ref().is_some_and(|f| !matches!(f, FieldRef::Meta(_))) {
            return Err(vec![FieldError::new("folder_field", "must be `meta.<key>`")]);
        }
        if self.glob.is_empty() {
            return Err(vec![FieldError::new("glob", "must not be empty")]);
        }
        if glob::Pattern::new(&self.glob).is_err() {
            return Err(vec![FieldError::new("glob", "is not a valid glob pattern")]);
        }
        Ok(())
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::Source(Box::new(TextDirSource { config: self.clone() })))
    }
}

/// The `ingest.text_dir` source.
#[derive(Debug, Clone)]
pub struct TextDirSource {
    config: TextDirConfig,
}

impl TextDirSource {
    /// A source over `path` with default settings.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextDirSource {
            config: TextDirConfig {
                path: path.into(),
                glob: default_glob(),
                follow_symlinks: false,
                title_from_first_line: false,
                folder_field: None,
                invalid_utf8: InvalidUtf8::default(),
                max_doc_bytes: crate::jsonl::default_max_doc_bytes(),
            },
        }
    }

    fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.config.path).unwrap_or(path)
    }
}

impl Source for TextDirSource {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        let folder = self.config.path.to_string_lossy();
        let remote = millstone_storage::is_remote(&folder);
        if !remote && !self.config.path.is_dir() {
            return Err(StageError::io(
                self.config.path.display(),
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            ));
        }
        let pattern = glob::Pattern::new(&self.config.glob).map_err(|e| {
            StageError::from(crate::Error::BadGlob {
                pattern: self.config.glob.clone(),
                message: e.msg.to_string(),
            })
        })?;
        let candidates = if remote {
            let prefix = format!("{}/", folder.trim_end_matches('/'));
            millstone_storage::list(&prefix)
                .map_err(crate::Error::from)?
                .into_iter()
                .map(PathBuf::from)
                .collect()
        } else {
            input::walk_files(&self.config.path, self.config.follow_symlinks)?
        };
        let files: Vec<Shard> = candidates
            .into_iter()
            .filter(|file| pattern.matches_path(self.relative(file)))
            .map(Shard::file)
            .collect();
        if files.is_empty() {
            return Err(crate::Error::NoMatch(
                self.config.path.join(&self.config.glob).display().to_string(),
            )
            .into());
        }
        Ok(files)
    }

    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let path = &shard.path;
        let label: Arc<str> = path.display().to_string().into();
        let bad = |message: String| {
            SourceItem::Bad(RecordError { provenance: Provenance::file(label.clone()), message })
        };
        let io = |e| StageError::io(path.display(), e);
        let len = millstone_storage::file::stat(path).map_err(io)?.size;
        if len > self.config.max_doc_bytes.0 {
            let _ = emit(bad(format!(
                "file of {len} bytes is larger than max_doc_bytes ({})",
                self.config.max_doc_bytes
            )));
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(len as usize);
        millstone_storage::file::open(path).and_then(|mut file| file.read_to_end(&mut bytes)).map_err(io)?;
        if bytes.is_empty() {
            let _ = emit(bad("empty file".into()));
            return Ok(());
        }
        let (mut text, repaired) = match input::decode(bytes, self.config.invalid_utf8) {
            Decoded::Text { text, repaired } => (text, repaired),
            Decoded::Invalid { offset } => {
                let _ = emit(bad(format!("invalid UTF-8 at byte {offset}")));
                return Ok(());
            }
        };
        let relative = self.relative(path);
        let id = relative.with_extension("").to_string_lossy().replace('\\', "/");
        let mut doc = Document::new(id, String::new()).with_provenance(Provenance::file(label.clone()));
        if self.config.title_from_first_line {
            let start = text.len() - text.trim_start().len();
            let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            let title = text[start..end].trim().to_string();
            if !title.is_empty() {
                doc.meta.insert("title".into(), title.into());
                let rest_start = (end + 1).min(text.len());
                text = text[rest_start..].trim_start_matches(['\r', '\n']).to_string();
            }
        }
        if let Some(FieldRef::Meta(key)) = &self.config.folder_field {
            if let Some(parent) = relative.parent().filter(|p| !p.as_os_str().is_empty()) {
                doc.meta.insert(key.clone(), parent.to_string_lossy().replace('\\', "/").into());
            }
        }
        if repaired {
            doc.meta.insert("invalid_utf8_repaired".into(), true.into());
        }
        doc.text = text;
        let _ = emit(SourceItem::Doc(doc));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symlink loop (`site/loop -> ..`) used to make the same files appear 41 times over.
    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_not_followed_and_are_an_error_when_following() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("site")).unwrap();
        std::fs::write(dir.path().join("site/a.txt"), "text a").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("site/loop")).unwrap();
        let mut source = TextDirSource::new(dir.path());
        let ids: Vec<String> =
            millstone_testkit::read_docs(&source).iter().map(|d| d.id.to_string()).collect();
        assert_eq!(ids, ["site/a"]);
        source.config.follow_symlinks = true;
        let error = source.shards().unwrap_err().to_string();
        assert!(error.contains("loop"), "{error}");
    }

    #[test]
    fn ids_titles_sites_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("site-a")).unwrap();
        std::fs::write(dir.path().join("site-a/story.txt"), "\n  Big Title  \n\nBody text.\n").unwrap();
        std::fs::write(dir.path().join("empty.txt"), "").unwrap();
        std::fs::write(dir.path().join("bad.txt"), b"ok \xc3\x28").unwrap();
        let mut source = TextDirSource::new(dir.path());
        source.config.title_from_first_line = true;
        source.config.folder_field = Some(FieldRef::meta("site"));
        let mut items = Vec::new();
        for shard in source.shards().unwrap() {
            source
                .read(&shard, &mut |i| {
                    items.push(i);
                    ControlFlow::Continue(())
                })
                .unwrap();
        }
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], SourceItem::Bad(b) if b.message == "invalid UTF-8 at byte 3"));
        assert!(matches!(&items[1], SourceItem::Bad(b) if b.message == "empty file"));
        match &items[2] {
            SourceItem::Doc(d) => {
                assert_eq!(&*d.id, "site-a/story");
                assert_eq!(d.meta["title"], "Big Title");
                assert_eq!(d.meta["site"], "site-a");
                assert_eq!(d.text, "Body text.\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detects_legacy_encodings_and_reads_bz2() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("latin.txt"),
            b"Le caf\xe9 est ouvert depuis l'\xe9t\xe9 dernier, \xe0 c\xf4t\xe9 de la gare.",
        )
        .unwrap();
        let mut source = TextDirSource::new(dir.path());
        source.config.invalid_utf8 = InvalidUtf8::Detect;
        let shard = &source.shards().unwrap()[0];
        let mut items = Vec::new();
        source
            .read(shard, &mut |i| {
                items.push(i);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(
            matches!(&items[0], SourceItem::Doc(d) if d.text.starts_with("Le café est ouvert depuis l'été")),
            "{items:?}"
        );

        let path = dir.path().join("x.jsonl.bz2");
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        std::io::Write::write_all(&mut enc, b"{\"text\":\"from bzip2\"}\n").unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let source = crate::jsonl::JsonlSource::new(vec![path.display().to_string()]);
        let mut texts = Vec::new();
        for shard in source.shards().unwrap() {
            source
                .read(&shard, &mut |i| {
                    if let SourceItem::Doc(d) = i {
                        texts.push(d.text)
                    }
                    ControlFlow::Continue(())
                })
                .unwrap();
        }
        assert_eq!(texts, ["from bzip2"]);
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = TextDirSource::new("/definitely/not/here").shards().unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"));
    }
}
