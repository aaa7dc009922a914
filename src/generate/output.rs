//! Writing an output file so that it appears whole or not at all.
//!
//! Every file is written to `<name>.tmp` and renamed once complete, so an interrupted run (Ctrl-C, full disk)
//! never leaves a truncated file under the real name for the readers to trip on. A temporary file that is
//! dropped without being committed is removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::GenerateError;

/// Large buffers: the writers issue many small writes and the files reach gigabytes at scale 100.
const BUF_CAPACITY: usize = 1 << 20;

/// The temporary path a file is written under before being renamed.
pub fn tmp_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

/// A temporary path that is removed on drop unless [`TmpGuard::commit`] renamed it to the final path.
/// Used directly by writers that produce the file themselves (the XLSX library saves to a path).
pub struct TmpGuard {
    tmp: PathBuf,
    final_path: PathBuf,
    armed: bool,
}

impl TmpGuard {
    pub fn new(final_path: PathBuf) -> Self {
        Self { tmp: tmp_path(&final_path), final_path, armed: true }
    }

    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Renames the temporary file to its final name; returns the file's size in bytes.
    pub fn commit(mut self) -> Result<u64, GenerateError> {
        std::fs::rename(&self.tmp, &self.final_path).map_err(|e| io_err(&self.final_path, e))?;
        self.armed = false;
        let meta = std::fs::metadata(&self.final_path).map_err(|e| io_err(&self.final_path, e))?;
        Ok(meta.len())
    }
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the file may never have been created.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A buffered output file written under its temporary name.
pub struct AtomicFile {
    guard: TmpGuard,
    out: BufWriter<File>,
}

impl AtomicFile {
    pub fn create(dir: &Path, name: &str) -> Result<Self, GenerateError> {
        let guard = TmpGuard::new(dir.join(name));
        let file = File::create(guard.tmp()).map_err(|e| io_err(guard.final_path(), e))?;
        Ok(Self { guard, out: BufWriter::with_capacity(BUF_CAPACITY, file) })
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), GenerateError> {
        self.out.write_all(bytes).map_err(|e| io_err(self.guard.final_path(), e))
    }

    /// Flushes, closes and renames the file; returns its size in bytes.
    pub fn commit(self) -> Result<u64, GenerateError> {
        let AtomicFile { guard, out } = self;
        let file = out.into_inner().map_err(|e| io_err(guard.final_path(), e.into_error()))?;
        drop(file);
        guard.commit()
    }
}

/// An I/O error naming the file it happened on (its final name, which is what the user knows).
pub fn io_err(path: &Path, source: std::io::Error) -> GenerateError {
    GenerateError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AtomicFile::create(dir.path(), "a.csv").unwrap();
        f.write_all(b"hello").unwrap();
        assert!(dir.path().join("a.csv.tmp").exists());
        assert!(!dir.path().join("a.csv").exists());
        assert_eq!(f.commit().unwrap(), 5);
        assert!(dir.path().join("a.csv").exists());
        assert!(!dir.path().join("a.csv.tmp").exists());

        let mut g = AtomicFile::create(dir.path(), "b.csv").unwrap();
        g.write_all(b"half").unwrap();
        drop(g);
        assert!(!dir.path().join("b.csv.tmp").exists());
        assert!(!dir.path().join("b.csv").exists());
    }
}
