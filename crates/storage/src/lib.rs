//! Object storage for sources and sinks: `s3://bucket/key` on AWS or any S3-compatible server
//! (MinIO, Ceph, moto), and `https://` URLs for inputs, through the `object_store` crate that
//! arrow and DataFusion use.
//!
//! Everything here is blocking, for millstone's threads: requests run on one small shared tokio
//! runtime. Reads stream one GET per object or byte range, a bounded number of body frames
//! ahead ([`ObjectReader`]), so memory stays bounded whatever the object's size; uploads go in
//! one PUT up to [`CHUNK_BYTES`] and as a multipart upload above it, which the server assembles
//! only on completion: an object appears whole or not at all, and a failed upload is aborted.
//! Throttling and 5xx answers are retried with exponential backoff
//! ([`StorageSettings::max_retries`]); the last error names the URL.
//!
//! Credentials come from the standard AWS environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...) or, when
//! those are not set, from the shared profile files (`~/.aws/credentials` and `~/.aws/config`,
//! profile `AWS_PROFILE` or `default`). They are never logged or written to reports.

pub mod file;
mod profile;
mod reader;
mod upload;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

pub use reader::ObjectReader;
pub use upload::upload;

/// The largest upload sent in one PUT, and the size of one multipart part (S3 parts must be at
/// least 5 MiB).
pub const CHUNK_BYTES: u64 = 8 << 20;

/// Errors of object storage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not an `s3://` or `http(s)://` URL, or one without a bucket or key.
    #[error("`{0}` is not an object URL: expected s3://bucket/key or https://host/path")]
    BadUrl(String),
    /// The store answered with an error (after the last retry, for transient ones).
    #[error("{url}: {source}")]
    Store {
        /// The object or prefix.
        url: String,
        /// What the store said.
        #[source]
        source: object_store::Error,
    },
    /// A glob over `https://`, which cannot list.
    #[error("`{0}`: an https:// input names one object; globs need a store that lists (s3://)")]
    NoListing(String),
    /// A malformed glob pattern.
    #[error("bad glob `{pattern}`: {message}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A local file (being uploaded, or a profile file) could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    fn store(url: &str, source: object_store::Error) -> Self {
        Error::Store { url: url.to_string(), source }
    }

    /// Whether the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Store { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// The pipeline's `storage:` settings; each one left out falls back to the AWS environment.
///
/// ```yaml
/// storage:
///   endpoint: http://127.0.0.1:9000   # MinIO, Ceph, moto...; default: AWS
///   region: eu-west-1
///   path_style: true                  # https://endpoint/bucket/key (the default)
///   anonymous: false                  # true: unsigned requests, for public buckets
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// The S3 endpoint (default: `AWS_ENDPOINT_URL`, else AWS). `http://` endpoints are allowed.
    pub endpoint: Option<String>,
    /// The region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, else `us-east-1`).
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket` (true, the default) or as `bucket.endpoint` (false).
    pub path_style: Option<bool>,
    /// Send unsigned requests (public buckets such as Common Crawl's); no credentials needed.
    pub anonymous: bool,
    /// Retries of a request that was throttled or met a server error (default 10).
    pub max_retries: Option<usize>,
    /// Give up retrying a request after this many seconds (default 180).
    pub retry_timeout_secs: Option<u64>,
}

fn settings() -> &'static RwLock<StorageSettings> {
    static SETTINGS: OnceLock<RwLock<StorageSettings>> = OnceLock::new();
    SETTINGS.get_or_init(Default::default)
}

fn stores() -> &'static Mutex<HashMap<String, Arc<dyn ObjectStore>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

/// Uses `settings` for every store opened from now on (a pipeline's `storage:`).
pub fn configure(new: &StorageSettings) {
    let mut current = settings().write().unwrap_or_else(|e| e.into_inner());
    if *current != *new {
        *current = new.clone();
        stores().lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The settings stores are opened with now.
pub fn current() -> StorageSettings {
    settings().read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether `location` names an object in a store rather than a local file.
pub fn is_remote(location: &str) -> bool {
    ["s3://", "https://", "http://"].iter().any(|scheme| location.starts_with(scheme))
}

/// Runs `future` to completion on the shared I/O runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("millstone-io")
            .enable_all()
            .build()
            .expect("the I/O runtime starts")
    })
}

/// An object: its store, its key there, and the URL it was named by (for messages).
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) path: ObjectPath,
    pub(crate) url: String,
    /// The URL of the store's root (`s3://bucket/`), to name listed objects.
    root: String,
}

impl Object {
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let bad = || Error::BadUrl(url.to_string());
        let parsed = url::Url::parse(url).map_err(|_| bad())?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let (store_key, root) = match parsed.scheme() {
            "s3" => (format!("s3://{host}"), format!("s3://{host}/")),
            "http" | "https" => {
                let origin = parsed.origin().ascii_serialization();
                (origin.clone(), format!("{origin}/"))
            }
            _ => return Err(bad()),
        };
        let key = url[root.len().min(url.len())..].trim_start_matches('/');
        let path = ObjectPath::parse(key).map_err(|_| bad())?;
        Ok(Object { store: store(&store_key, host, parsed.scheme())?, path, url: url.to_string(), root })
    }

    fn url_of(&self, path: &ObjectPath) -> String {
        format!("{}{path}", self.root)
    }
}

fn store(key: &str, host: &str, scheme: &str) -> Result<Arc<dyn ObjectStore>, Error> {
    let mut cache = stores().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = cache.get(key) {
        return Ok(store.clone());
    }
    let settings = settings().read().unwrap_or_else(|e| e.into_inner()).clone();
    let retry = object_store::RetryConfig {
        max_retries: settings.max_retries.unwrap_or(10),
        retry_timeout: Duration::from_secs(settings.retry_timeout_secs.unwrap_or(180)),
        backoff: object_store::BackoffConfig::default(),
    };
    let built: Arc<dyn ObjectStore> = if scheme == "s3" {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(host).with_retry(retry);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && !settings.anonymous {
            if let Some(found) = profile::credentials()? {
                builder = builder
                    .with_access_key_id(found.access_key_id)
                    .with_secret_access_key(found.secret_access_key);
                if let Some(token) = found.session_token {
                    builder = builder.with_token(token);
                }
                if let Some(region) = found.region.filter(|_| !has_region_env()) {
                    builder = builder.with_region(region);
                }
            }
        }
        let endpoint = settings.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(endpoint) = endpoint {
            builder = builder.with_allow_http(endpoint.starts_with("http://")).with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(path_style) = settings.path_style {
            builder = builder.with_virtual_hosted_style_request(!path_style);
        }
        if settings.anonymous {
            builder = builder.with_skip_signature(true);
        }
        Arc::new(builder.build().map_err(|e| Error::store(key, e))?)
    } else {
        let options = object_store::ClientOptions::new().with_allow_http(scheme == "http");
        Arc::new(
            HttpBuilder::new()
                .with_url(key)
                .with_client_options(options)
                .with_retry(retry)
                .build()
                .map_err(|e| Error::store(key, e))?,
        )
    };
    cache.insert(key.to_string(), built.clone());
    Ok(built)
}

fn has_region_env() -> bool {
    std::env::var_os("AWS_REGION").is_some() || std::env::var_os("AWS_DEFAULT_REGION").is_some()
}

/// What the store knows of an object: size, last modification, ETag.
pub fn head(url: &str) -> Result<object_store::ObjectMeta, Error> {
    let object = Object::parse(url)?;
    block_on(object.store.head(&object.path)).map_err(|e| Error::store(url, e))
}

/// The size of an object in bytes.
pub fn size(url: &str) -> Result<u64, Error> {
    Ok(head(url)?.size)
}

/// Whether an object exists.
pub fn exists(url: &str) -> Result<bool, Error> {
    match size(url) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Bytes `range` of an object, in one GET (for Parquet footers and row groups).
pub fn read_range(url: &str, range: std::ops::Range<u64>) -> Result<bytes::Bytes, Error> {
    let object = Object::parse(url)?;
    block_on(object.store.get_range(&object.path, range)).map_err(|e| Error::store(url, e))
}

/// Deletes an object (absent is fine).
pub fn delete(url: &str) -> Result<(), Error> {
    let object = Object::parse(url)?;
    match block_on(object.store.delete(&object.path)) {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(Error::store(url, e)),
    }
}

/// The objects `pattern` names, sorted: one object; every object under a "folder" (a prefix
/// ending at a `/`); or a glob over keys (`s3://bucket/crawl/*/part-*.jsonl.zst`, `**` for any
/// depth), listed page by page. An empty answer is not an error here; the caller decides.
pub fn list(pattern: &str) -> Result<Vec<String>, Error> {
    let object = Object::parse(pattern.split(['*', '?', '[', '{']).next().unwrap_or(pattern))?;
    let key = pattern[object.root.len().min(pattern.len())..].trim_start_matches('/');
    let is_glob = key.contains(['*', '?', '[']);
    if is_glob && !object.root.starts_with("s3://") {
        return Err(Error::NoListing(pattern.to_string()));
    }
    if !is_glob {
        if !key.is_empty() && !key.ends_with('/') && exists(pattern)? {
            return Ok(vec![pattern.to_string()]);
        }
        if !object.root.starts_with("s3://") {
            return Ok(Vec::new());
        }
    }
    let literal = &key[..key.find(['*', '?', '[']).unwrap_or(key.len())];
    let folder = literal.rfind('/').map_or("", |i| &literal[..i]);
    let matcher = if is_glob {
        Some(
            glob::Pattern::new(key)
                .map_err(|e| Error::BadGlob { pattern: pattern.to_string(), message: e.msg.to_string() })?,
        )
    } else {
        None
    };
    let prefix = (!folder.is_empty()).then(|| ObjectPath::from(folder));
    let options = glob::MatchOptions { require_literal_separator: true, ..Default::default() };
    // A key that names no object is a folder: the objects under `key/`, not every key that
    // merely starts with the same letters (`in` must not list `index.html`).
    let folder_key = match key.trim_end_matches('/') {
        "" => String::new(),
        trimmed => format!("{trimmed}/"),
    };
    let mut found = Vec::new();
    block_on(async {
        use futures::StreamExt;
        let mut listing = object.store.list(prefix.as_ref());
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| Error::store(pattern, e))?;
            let name = meta.location.as_ref();
            let wanted = match &matcher {
                Some(m) => m.matches_with(name, options),
                None => folder_key.is_empty() || name.starts_with(&folder_key),
            };
            if wanted {
                found.push(object.url_of(&meta.location));
            }
        }
        Ok::<_, Error>(())
    })?;
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_and_malformed_ones_named() {
        assert!(is_remote("s3://bucket/key") && is_remote("https://example.org/a.warc.gz"));
        assert!(!is_remote("/data/s3/file") && !is_remote("data/part.jsonl"));
        for bad in ["s3://", "s3:///key", "ftp://host/file"] {
            let e = Object::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
        let object = Object::parse("s3://bucket/dir/part-0.jsonl").unwrap();
        assert_eq!(object.path.as_ref(), "dir/part-0.jsonl");
        assert_eq!(object.url_of(&object.path), "s3://bucket/dir/part-0.jsonl");
    }

    #[test]
    fn globs_over_https_cannot_list() {
        let e = list("https://example.invalid/crawl/*.warc.gz").unwrap_err();
        assert!(matches!(e, Error::NoListing(_)), "{e}");
    }
}
