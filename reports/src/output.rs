//! An output folder whose files appear together or not at all: a run writes into a hidden
//! staging folder beside it and replaces the whole folder when every file is complete. A lock
//! file beside it keeps a second run out while one is writing; what a killed run left is
//! removed by the next run that can take its lock, never while its run is alive.
//!
//! A folder is replaced only if it is empty or cellsim wrote it (it holds the marker file
//! [`MARKER`] and nothing but cellsim's files). For `out/mm1`: the lock is `out/.mm1.lock` (empty, kept), the staging folder
//! `out/.mm1.staging`, and the folder being replaced is moved to `out/.mm1.old` for the
//! instant between the two renames of [`OutputDir::commit`].

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Every file cellsim writes into an output folder. A folder holding anything else is not
/// replaced: it may be the user's.
pub const OUTPUT_FILES: [&str; 13] = [
    MARKER,
    "summary.json",
    "series.csv",
    "places.csv",
    HGRM_DIR,
    "junit.xml",
    "summary.md",
    "baseline-series.csv",
    "summary.txt",
    "scenario.toml",
    "command.txt",
    "plots",
    "report.html",
];

/// The folder of the workloads' latency distributions (`{workload}.hgrm`).
pub const HGRM_DIR: &str = "hgrm";

/// The files every run writes (`places.csv` only with a topology): a run's folder has all of
/// them or none.
pub const ALWAYS_WRITTEN: [&str; 11] = [
    MARKER,
    "summary.json",
    "series.csv",
    HGRM_DIR,
    "junit.xml",
    "summary.md",
    "summary.txt",
    "scenario.toml",
    "command.txt",
    "plots",
    "report.html",
];

/// The file that marks a folder as cellsim's output: a folder that is not empty is replaced
/// only if it holds this file (so a user's own `summary.json` is never taken for ours).
pub const MARKER: &str = ".cellsim-output";
const MARKER_TEXT: &str = "This folder was written by cellsim; a later run into it replaces it as a whole.\n";

/// Why an output folder cannot be used.
#[derive(Debug)]
pub enum OutputError {
    /// The path cannot be an output folder (bad input: retrying cannot help).
    Unusable(String),
    /// Another run holds the folder's lock (retrying later may help).
    Busy(String),
    /// The file system failed (retrying may help).
    Io(String),
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputError::Unusable(m) | OutputError::Busy(m) | OutputError::Io(m) => f.write_str(m),
        }
    }
}

/// A claimed output folder: its lock is held until this is dropped.
pub struct OutputDir {
    dir: PathBuf,
    staging: PathBuf,
    old: PathBuf,
    _lock: File,
    committed: bool,
}

impl OutputDir {
    /// Claims `dir` for one run: takes its lock, removes what a dead run left, and makes an
    /// empty staging folder.
    pub fn claim(dir: &Path) -> Result<OutputDir, OutputError> {
        let io_err = |what: &str, p: &Path, e: io::Error| OutputError::Io(format!("{what} {}: {e}", p.display()));
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty()) else {
            return Err(OutputError::Unusable(format!(
                "--out {} does not name a folder; give a folder name, e.g. --out out/run1",
                dir.display()
            )));
        };
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => OutputError::Unusable(format!(
                "--out {}: the folder {} cannot be made, a file is in the way",
                dir.display(),
                parent.display()
            )),
            _ => io_err("cannot create the folder", &parent, e),
        })?;
        check_replaceable(dir)?;
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("cannot create the lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(OutputError::Busy(format!(
                    "the output folder {} is in use by another run (its lock {} is held); wait for it, or choose another --out",
                    dir.display(),
                    lock_path.display()
                )))
            }
            Err(TryLockError::Error(e)) => return Err(io_err("cannot lock", &lock_path, e)),
        }
        let staging = parent.join(format!(".{name}.staging"));
        let old = parent.join(format!(".{name}.old"));
        remove_stale_leftovers(&parent);
        for p in [&staging, &old] {
            remove_any(p).map_err(|e| io_err("cannot remove the stale", p, e))?;
        }
        fs::create_dir(&staging).map_err(|e| io_err("cannot create the staging folder", &staging, e))?;
        fs::write(staging.join(MARKER), MARKER_TEXT).map_err(|e| io_err("cannot write into", &staging, e))?;
        Ok(OutputDir { dir: dir.to_path_buf(), staging, old, _lock: lock, committed: false })
    }

    /// The folder results go to once committed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The staging folder (removed by a signal handler if the run is interrupted).
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Where to write `name` now; it appears in [`OutputDir::dir`] on commit.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Replaces the output folder with the staging folder: the old folder is moved aside
    /// and the staging folder renamed into place, then the old one removed. A crash between
    /// the renames leaves no folder (and the next run removes both leftovers), never a mix.
    pub fn commit(mut self) -> io::Result<()> {
        // Still ours: nothing else was written into it while the run ran.
        check_replaceable(&self.dir).map_err(|e| io::Error::other(e.to_string()))?;
        if let Ok(meta) = fs::metadata(&self.dir) {
            // The new folder keeps the old one's mode (group, setgid) on shared machines.
            fs::set_permissions(&self.staging, meta.permissions())?;
        }
        let had_old = match fs::rename(&self.dir, &self.old) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        fs::rename(&self.staging, &self.dir)?;
        self.committed = true;
        if had_old {
            fs::remove_dir_all(&self.old)?;
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// `dir` may be replaced: it does not exist, or it is a real folder holding only files
/// cellsim writes.
fn check_replaceable(dir: &Path) -> Result<(), OutputError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(OutputError::Io(format!("cannot read {}: {e}", dir.display()))),
    };
    if meta.file_type().is_symlink() {
        return Err(OutputError::Unusable(format!(
            "--out {} is a symbolic link; give the folder itself",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(OutputError::Unusable(format!("--out {} is a file, not a folder", dir.display())));
    }
    let entries = fs::read_dir(dir).map_err(|e| OutputError::Io(format!("cannot read {}: {e}", dir.display())))?;
    let names: Vec<String> =
        entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if !names.is_empty() && !names.iter().any(|n| n == MARKER) {
        let first = names.iter().min().expect("not empty");
        return Err(OutputError::Unusable(format!(
            "--out {} holds {first}{} and was not written by cellsim (it has no {MARKER} file); a run \
             replaces its output folder as a whole, so give a new or empty folder",
            dir.display(),
            if names.len() > 1 { format!(" and {} more", names.len() - 1) } else { String::new() }
        )));
    }
    let mut foreign: Vec<String> = names.into_iter().filter(|n| !OUTPUT_FILES.contains(&n.as_str())).collect();
    foreign.sort();
    if let Some(first) = foreign.first() {
        return Err(OutputError::Unusable(format!(
            "--out {} holds files cellsim did not write ({first}{}); a run replaces its output folder \
             as a whole, so give a new or empty folder",
            dir.display(),
            if foreign.len() > 1 { format!(" and {} more", foreign.len() - 1) } else { String::new() }
        )));
    }
    Ok(())
}

/// Removes the staging and old folders of other output folders in `parent` whose runs are
/// gone (their locks are free): what a killed run left behind.
fn remove_stale_leftovers(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    let mut leftovers: Vec<(PathBuf, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            let stem = n.strip_prefix('.')?.strip_suffix(".staging").or_else(|| n[1..].strip_suffix(".old"))?;
            Some((e.path(), stem.to_string()))
        })
        .collect();
    leftovers.sort();
    for (path, stem) in leftovers {
        let Ok(lock) = OpenOptions::new().write(true).open(parent.join(format!(".{stem}.lock"))) else { continue };
        if lock.try_lock().is_ok() {
            let _ = remove_any(&path);
        }
    }
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
