//! A results folder's plots (`plots/{name}.svg` and `.png`) and HTML report (`report.html`),
//! made from the folder's own files (`saved`): by `cellsim run` before its folder appears,
//! and by `cellsim report DIR` again later, the same bytes from the same files.

use crate::{html, plots, saved};
use std::io;
use std::path::Path;

pub const PLOTS_DIR: &str = "plots";
pub const REPORT: &str = "report.html";

/// Makes the plots and the report of the results in `dir`, writing them into `into`
/// (`plots/` must not exist there yet).
pub fn write(dir: &Path, into: &Path) -> io::Result<()> {
    let saved = saved::load(dir)?;
    let plots = plots::plots(&saved).map_err(|e| io::Error::other(format!("drawing the plots: {e}")))?;
    let folder = into.join(PLOTS_DIR);
    std::fs::create_dir(&folder)?;
    for p in &plots {
        std::fs::write(folder.join(format!("{}.svg", p.name)), &p.svg)?;
        std::fs::write(folder.join(format!("{}.png", p.name)), &p.png)?;
    }
    std::fs::write(into.join(REPORT), html::page(&saved, &plots))
}

/// `cellsim report DIR`: makes them again in `dir` itself, beside the old ones, then swaps
/// them in (the old `plots/` and `report.html` are replaced whole).
pub fn rebuild(dir: &Path) -> io::Result<()> {
    let fresh = dir.join(".report-new");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh)?;
    }
    std::fs::create_dir(&fresh)?;
    let made = write(dir, &fresh);
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e);
    }
    let old = dir.join(PLOTS_DIR);
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::rename(fresh.join(PLOTS_DIR), &old)?;
    std::fs::rename(fresh.join(REPORT), dir.join(REPORT))?;
    std::fs::remove_dir(&fresh)
}
