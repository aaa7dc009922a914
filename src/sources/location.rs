//! Where a source's bytes come from: a path relative to the data directory, an absolute path, or a URL,
//! always read through `object_store` so that remote stores (s3://, with the `s3` cargo feature) follow the
//! same road as local files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::error::{Result, SourceError};

#[derive(Debug, Clone)]
pub struct SourceLocation {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    /// How errors name this file: the path as the user can find it.
    pub display: String,
    /// The local path, when the store is the local disk: lets errors tell a directory from a missing file.
    local: Option<PathBuf>,
}

impl SourceLocation {
    /// Resolve `location` (from `sources.yaml`) against the data directory, which may itself be a URL
    /// (`--data s3://bucket/prefix`: a relative location is then a key below that prefix).
    pub fn resolve(location: &str, data_dir: &Path) -> Result<Self> {
        if let Some((scheme, _)) = location.split_once("://") {
            return Self::from_url(scheme, location);
        }
        let base = data_dir.to_string_lossy();
        if let Some((scheme, _)) = base.split_once("://")
            && !Path::new(location).is_absolute()
        {
            let url = format!("{}/{}", base.trim_end_matches('/'), location.trim_start_matches("./"));
            return Self::from_url(scheme, &url);
        }
        let path: PathBuf = if Path::new(location).is_absolute() { PathBuf::from(location) } else { data_dir.join(location) };
        Self::local(&path)
    }

    fn local(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        let absolute =
            std::path::absolute(path).map(|p| normalize(&p)).map_err(|e| SourceError::Io { file: display.clone(), message: e.to_string() })?;
        let store_path = StorePath::from_absolute_path(&absolute).map_err(|e| SourceError::Io { file: display.clone(), message: e.to_string() })?;
        Ok(SourceLocation { store: Arc::new(LocalFileSystem::new()), path: store_path, display, local: Some(absolute) })
    }

    fn from_url(scheme: &str, location: &str) -> Result<Self> {
        let url = url::Url::parse(location).map_err(|e| SourceError::config(location, format!("invalid URL: {e}")))?;
        match scheme {
            "file" => {
                let path = url.to_file_path().map_err(|_| SourceError::config(location, "a file:// URL needs an absolute path"))?;
                Self::local(&path)
            }
            "s3" => Self::s3(&url, location),
            other => Err(SourceError::config(location, format!("unsupported location scheme `{other}://`; expected a path, file:// or s3://"))),
        }
    }

    #[cfg(feature = "s3")]
    fn s3(url: &url::Url, location: &str) -> Result<Self> {
        // Credentials, region and endpoint come from the usual AWS_* environment variables.
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_url(url.as_str())
            .build()
            .map_err(|e| SourceError::config(location, e.to_string()))?;
        let path = StorePath::from_url_path(url.path()).map_err(|e| SourceError::config(location, e.to_string()))?;
        Ok(SourceLocation { store: Arc::new(store), path, display: location.to_string(), local: None })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(_url: &url::Url, location: &str) -> Result<Self> {
        Err(SourceError::config(location, "s3:// locations need a build with the `s3` feature (cargo build --features s3)"))
    }

    /// The whole object. Readers decode from one contiguous buffer, which is what makes them fast.
    pub async fn read(&self) -> Result<Bytes> {
        let io = |e| self.io_error(e);
        self.store.get(&self.path).await.map_err(io)?.bytes().await.map_err(io)
    }

    /// A store error in words: object_store says "not found" for a directory too, which misleads.
    fn io_error(&self, e: object_store::Error) -> SourceError {
        let message = if self.local.as_ref().is_some_and(|p| p.is_dir()) {
            "is a directory, expected a file".to_string()
        } else {
            match e {
                object_store::Error::NotFound { .. } if self.local.is_some() => "no such file".to_string(),
                // S3 answers 404 for a missing bucket too.
                object_store::Error::NotFound { .. } => "no such file (no such object, or no such bucket)".to_string(),
                object_store::Error::PermissionDenied { source, .. } | object_store::Error::Unauthenticated { source, .. } => format!(
                    "access denied ({}); check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the bucket's policy",
                    s3_reason(&source.to_string())
                ),
                other => other.to_string(),
            }
        };
        SourceError::Io { file: self.display.clone(), message }
    }

    /// Size and modification time, for cache keys and progress.
    pub async fn head(&self) -> Result<object_store::ObjectMeta> {
        self.store.head(&self.path).await.map_err(|e| self.io_error(e))
    }
}

/// Writing, listing and naming, for the Parquet snapshots (`refresh --to`), which live at a location too.
impl SourceLocation {
    /// The object `relative` (slash-separated, no `..`) below this location, taken as a directory.
    pub fn child(&self, relative: &str) -> SourceLocation {
        let mut path = self.path.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        let display = format!("{}/{relative}", self.display.trim_end_matches('/'));
        let local = self.local.as_ref().map(|l| l.join(relative));
        SourceLocation { store: self.store.clone(), path, display, local }
    }

    /// Write the whole object at once: a reader sees the old object or the new one, never a part (the local
    /// store writes a temp file and renames it; an S3 PUT is atomic).
    pub async fn put(&self, bytes: Bytes) -> Result<()> {
        self.store.put(&self.path, object_store::PutPayload::from(bytes)).await.map(|_| ()).map_err(|e| self.io_error(e))
    }

    /// Remove the object; one that is already gone is not an error.
    pub async fn delete(&self) -> Result<()> {
        match self.store.delete(&self.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.io_error(e)),
        }
    }

    /// Every object below this location (recursively), as paths relative to it.
    pub async fn list(&self) -> Result<Vec<(String, u64)>> {
        use futures::TryStreamExt;
        let prefix = self.path.clone();
        let objects: Vec<object_store::ObjectMeta> = self.store.list(Some(&prefix)).try_collect().await.map_err(|e| self.io_error(e))?;
        let base = prefix.as_ref().len();
        Ok(objects.into_iter().map(|m| (m.location.as_ref().get(base..).unwrap_or_default().trim_start_matches('/').to_string(), m.size)).collect())
    }

    /// What DataFusion reads this object by: the absolute path on a local disk (DataFusion encodes it, spaces
    /// and all), else the URL (`s3://bucket/key`).
    pub fn url(&self) -> String {
        match &self.local {
            Some(path) => path.display().to_string(),
            None => format!("{}/{}", self.store_url(), self.path),
        }
    }

    /// The object store's own URL (`s3://bucket`), under which [`SourceLocation::register_store`] registers it.
    fn store_url(&self) -> String {
        match &self.local {
            Some(_) => "file://".to_string(),
            None => self.display.split('/').take(3).collect::<Vec<_>>().join("/"),
        }
    }

    /// Let `ctx` read this location's objects (a local disk needs nothing; an S3 bucket is registered with the
    /// credentials this location was opened with).
    pub fn register_store(&self, ctx: &datafusion::prelude::SessionContext) -> Result<()> {
        if self.local.is_some() {
            return Ok(());
        }
        let url = url::Url::parse(&self.store_url()).map_err(|e| SourceError::config(&self.display, format!("invalid URL: {e}")))?;
        ctx.register_object_store(&url, self.store.clone());
        Ok(())
    }
}

/// What identifies one version of a source file without reading it: its size, modification time, the store's
/// e-tag (on a local disk, derived from inode, size and mtime) and, on a local disk, the inode's change time,
/// which no user can set back (`touch -r` restores the mtime of a rewritten file, not its ctime). The snapshot
/// cache keys on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStamp {
    pub file: String,
    pub size: u64,
    /// Nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    pub e_tag: Option<String>,
    /// The inode change time (ctime) in nanoseconds, for local files.
    pub changed_ns: Option<i64>,
}

impl SourceLocation {
    /// The file's current [`SourceStamp`].
    pub async fn stamp(&self) -> Result<SourceStamp> {
        let meta = self.head().await?;
        Ok(SourceStamp {
            file: self.display.clone(),
            size: meta.size,
            // Out of i64 range only past the year 2262; the microseconds then still tell versions apart.
            modified_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or_else(|| meta.last_modified.timestamp_micros()),
            e_tag: meta.e_tag,
            changed_ns: self.local.as_deref().and_then(change_time_ns),
        })
    }
}

#[cfg(unix)]
fn change_time_ns(path: &Path) -> Option<i64> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(m.ctime().saturating_mul(1_000_000_000).saturating_add(m.ctime_nsec()))
}

#[cfg(not(unix))]
fn change_time_ns(_: &Path) -> Option<i64> {
    None
}

/// The `<Code>` and `<Message>` of an S3 error body, instead of the whole XML document.
fn s3_reason(text: &str) -> String {
    let tag = |name: &str| -> Option<&str> {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find('<')? + start;
        Some(&text[start..end])
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => text.chars().take(300).collect(),
    }
}

/// Resolve `.` and `..` lexically (object_store paths reject them; the file need not exist yet).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
