//! Uploads of finished local files: one PUT up to [`CHUNK_BYTES`], a multipart upload above it.
//! Either way the object appears only once it is complete; a failed multipart upload is aborted,
//! so no parts are left behind (a process killed mid-upload can leave one: an S3 lifecycle rule
//! `AbortIncompleteMultipartUpload` removes those).

use std::io::Read;
use std::path::Path;

use object_store::{ObjectStoreExt, PutPayload};

use crate::{block_on, Error, Object, CHUNK_BYTES};

/// Parts in flight at once: bounds memory to about this many chunks.
const PARTS_IN_FLIGHT: usize = 4;

/// Uploads `local` to `url`, replacing what is there.
pub fn upload(local: &Path, url: &str) -> Result<(), Error> {
    let object = Object::parse(url)?;
    let io = |source| Error::Io { path: local.display().to_string(), source };
    let mut file = std::fs::File::open(local).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size <= CHUNK_BYTES {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).map_err(io)?;
        block_on(object.store.put(&object.path, PutPayload::from(bytes)))
            .map_err(|e| Error::store(url, e))?;
        return Ok(());
    }
    block_on(async {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut parts = object.store.put_multipart(&object.path).await.map_err(|e| Error::store(url, e))?;
        let mut in_flight = FuturesUnordered::new();
        let mut failure = None;
        loop {
            let mut chunk = vec![0u8; CHUNK_BYTES as usize];
            let n = match read_full(&mut file, &mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    failure = Some(io(e));
                    break;
                }
            };
            chunk.truncate(n);
            if in_flight.len() >= PARTS_IN_FLIGHT {
                if let Some(Err(e)) = in_flight.next().await {
                    failure = Some(Error::store(url, e));
                    break;
                }
            }
            in_flight.push(parts.put_part(PutPayload::from(chunk)));
        }
        while let Some(done) = in_flight.next().await {
            if let (Err(e), None) = (done, &failure) {
                failure = Some(Error::store(url, e));
            }
        }
        let failure = match failure {
            None => match parts.complete().await {
                Ok(_) => return Ok(()),
                Err(e) => Error::store(url, e),
            },
            Some(failure) => failure,
        };
        // Best effort: the error that stopped the upload is the one to report.
        let _ = parts.abort().await;
        Err(failure)
    })
}

/// Fills `buf` unless the file ends first; returns the bytes read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
