//! cellsim's reports: turns a `RunResult` into the versioned JSON summary, the terminal
//! summary and the CSV time series. It reads results only, never the engine's internals.

mod series;
mod summary;
mod terminal;

pub use series::{CsvSeries, SERIES_HEADER};
pub use summary::{summarise, Summary, SCHEMA_VERSION};
pub use terminal::render;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Files written into an output folder only when complete: each is written under a
/// temporary name and renamed into place by [`Staged::commit`]; dropping uncommitted
/// removes the temporaries, so a failed run never leaves a half-written file.
pub struct Staged {
    moves: Vec<(PathBuf, PathBuf)>,
    committed: bool,
}

impl Staged {
    pub fn new() -> Self {
        Staged { moves: Vec::new(), committed: false }
    }

    /// The temporary path to write `name` at in `dir`; it becomes `dir/name` on commit.
    pub fn path(&mut self, dir: &Path, name: &str) -> PathBuf {
        let tmp = dir.join(format!(".{name}.tmp"));
        self.moves.push((tmp.clone(), dir.join(name)));
        tmp
    }

    pub fn commit(mut self) -> io::Result<()> {
        for (tmp, dst) in &self.moves {
            fs::rename(tmp, dst)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Default for Staged {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for (tmp, _) in &self.moves {
                let _ = fs::remove_file(tmp);
            }
        }
    }
}
