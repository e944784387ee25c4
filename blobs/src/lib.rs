//! `prism-blobs`: the bytes of uploaded files. It owns two things:
//!
//! - **staging**: a body streamed in is written to a temporary file while it is hashed
//!   (SHA-256), counted (refused past the limit, without reading the rest into memory) and
//!   sniffed (the media type comes from the first bytes, never from what the client claims);
//! - **the store**: staged bytes are put in an object store (through the `object_store` crate)
//!   under their digest — content-addressed, so the same bytes uploaded twice are stored once
//!   and a stored object never changes. A local directory by default, any S3-compatible store
//!   with an `s3://bucket` URL.
//!
//! It knows nothing of Prism's domain or database: who may upload or read is decided by the
//! callers (`prism-commands` for uploads and erasure, `prism-read-api` for downloads). A leaf
//! crate: it imports no other Prism crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("the upload broke off: {0}")]
    Body(String),
    #[error("no such blob")]
    NotFound,
    #[error("object store: {0}")]
    Store(object_store::Error),
    #[error("staging: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store configuration: {0}")]
    Config(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            e => BlobError::Store(e),
        }
    }
}

/// Bytes streamed in and checked, waiting in a temporary file to be stored (or dropped: the
/// file goes with it).
#[derive(Debug)]
pub struct Staged {
    file: tempfile::NamedTempFile,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Sniffed from the first bytes.
    pub media_type: String,
}

/// The object store of file bytes. Clones share it.
#[derive(Clone, Debug)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    staging: PathBuf,
    /// What it is, for logs and `/readyz` (never credentials).
    pub describe: String,
}

/// How many first bytes the media type is sniffed from.
const SNIFF: usize = 8192;

impl Blobs {
    /// Files under `dir` on the local filesystem (created if missing); staging beside them.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)?;
        let staging = dir.join(".staging");
        std::fs::create_dir_all(&staging)?;
        let store = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(store),
            staging,
            describe: format!("local directory {}", dir.display()),
        })
    }

    /// An S3-compatible bucket (`s3://bucket[/prefix]`), configured as the AWS tools are
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
    /// `AWS_ALLOW_HTTP`, …) and then by `options` (`aws_endpoint`, `aws_allow_http`, … as
    /// `object_store` names them). Staging is on the local disk under `staging`.
    pub fn s3(url: &str, options: &[(&str, &str)], staging: &Path) -> Result<Self, BlobError> {
        let parsed = url::Url::parse(url).map_err(|e| BlobError::Config(format!("{url}: {e}")))?;
        if parsed.scheme() != "s3" {
            return Err(BlobError::Config(format!(
                "PRISM_OBJECT_STORE_URL must be s3://bucket (got a {} URL)",
                parsed.scheme()
            )));
        }
        let mut b = AmazonS3Builder::from_env().with_url(url);
        for (k, v) in options {
            let key: AmazonS3ConfigKey = k.parse().map_err(|e| BlobError::Config(format!("{k}: {e}")))?;
            b = b.with_config(key, *v);
        }
        let store = b.build()?;
        std::fs::create_dir_all(staging)?;
        let bucket = parsed.host_str().unwrap_or_default();
        Ok(Self {
            store: Arc::new(store),
            staging: staging.to_owned(),
            describe: format!("s3 bucket {bucket}"),
        })
    }

    /// Streams `body` into a staged file: at most `limit` bytes (else `TooLarge`, as soon as the
    /// limit is passed), at least one.
    pub async fn stage<S, E>(&self, body: S, limit: u64) -> Result<Staged, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let file = tempfile::NamedTempFile::new_in(&self.staging)?;
        let mut out = tokio::fs::File::from_std(file.reopen()?);
        let mut hash = Sha256::new();
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF);
        let mut size: u64 = 0;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            if head.len() < SNIFF {
                let take = (SNIFF - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hash.update(&chunk);
            out.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(BlobError::Empty);
        }
        out.flush().await?;
        out.sync_all().await?;
        Ok(Staged {
            file,
            size,
            sha256: hex::encode(hash.finalize()),
            media_type: sniff(&head),
        })
    }

    /// Stores staged bytes under their digest (nothing to do if they are there already).
    pub async fn commit(&self, staged: &Staged) -> Result<(), BlobError> {
        let path = path_of(&staged.sha256);
        match self.store.head(&path).await {
            Ok(meta) if meta.size == staged.size => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut file = tokio::fs::File::open(staged.file.path()).await?;
        let mut w = object_store::buffered::BufWriter::new(self.store.clone(), path);
        tokio::io::copy(&mut file, &mut w).await?;
        w.shutdown().await?;
        Ok(())
    }

    /// The bytes stored under `sha256`: their size and a stream of them.
    pub async fn get(&self, sha256: &str) -> Result<(u64, BoxStream<'static, Result<Bytes, BlobError>>), BlobError> {
        let got = self.store.get(&path_of(sha256)).await?;
        let size = got.meta.size;
        Ok((size, got.into_stream().map(|c| c.map_err(BlobError::from)).boxed()))
    }

    /// Removes the bytes stored under `sha256` (already gone is fine).
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        match self.store.delete(&path_of(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether bytes are stored under `sha256`.
    pub async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        match self.store.head(&path_of(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// `sha256/ab/abcdef…`: two levels, so no directory holds millions of entries.
fn path_of(sha256: &str) -> ObjectPath {
    let prefix = sha256.get(..2).unwrap_or("00");
    ObjectPath::from(format!("sha256/{prefix}/{sha256}"))
}

/// The media type of bytes that begin with `head`: a known signature, else UTF-8 text, else
/// opaque bytes.
pub fn sniff(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_owned();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut mid-character at the end of the sniffed window: still text.
        Err(e) => e.error_len().is_none() && head.len() >= SNIFF,
    };
    if text && !head.contains(&0) {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::copy_from_slice(p))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn staged_bytes_are_hashed_sized_sniffed_and_stored_once_by_content() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = Blobs::local(dir.path()).expect("local");
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR rest of a picture";
        let staged = blobs
            .stage(chunks(&[&png[..5], &png[5..]]), 1000)
            .await
            .expect("staged");
        assert_eq!(staged.size, png.len() as u64);
        assert_eq!(staged.media_type, "image/png");
        assert_eq!(staged.sha256, hex::encode(Sha256::digest(png)));
        blobs.commit(&staged).await.expect("commit");
        blobs.commit(&staged).await.expect("a second commit is a no-op");
        let (size, stream) = blobs.get(&staged.sha256).await.expect("get");
        let back: Vec<Bytes> = stream.map(|c| c.expect("chunk")).collect().await;
        assert_eq!((size, back.concat()), (png.len() as u64, png.to_vec()));
        blobs.delete(&staged.sha256).await.expect("delete");
        assert!(!blobs.exists(&staged.sha256).await.expect("head"));
        blobs.delete(&staged.sha256).await.expect("deleting twice is fine");
    }

    #[tokio::test]
    async fn too_large_and_empty_bodies_are_refused_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().expect("dir");
        let blobs = Blobs::local(dir.path()).expect("local");
        let err = blobs
            .stage(chunks(&[b"12345", b"678"]), 7)
            .await
            .expect_err("too large");
        assert!(matches!(err, BlobError::TooLarge { limit: 7 }), "{err}");
        let err = blobs.stage(chunks(&[]), 7).await.expect_err("empty");
        assert!(matches!(err, BlobError::Empty), "{err}");
        let left = std::fs::read_dir(dir.path().join(".staging")).expect("staging").count();
        assert_eq!(left, 0, "staged files are removed with their upload");
    }

    #[test]
    fn the_media_type_comes_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7 ..."), "application/pdf");
        assert_eq!(sniff("héllo, plain words".as_bytes()), "text/plain");
        assert_eq!(sniff(b"\0\x01\x02binary"), "application/octet-stream");
        // Said as it is: downloads are attachments with `nosniff` and a sandbox, never rendered.
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), "text/html");
    }
}
