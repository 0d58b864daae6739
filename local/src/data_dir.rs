//! Local mode's data directory: where the emulator keeps Gennaker's tables between runs.
//!
//! The files are written and read by the emulator process (`local/src/moto_persistence.py`):
//! `snapshot.json` (every item, in a versioned format) and `journal.jsonl` (the after-images
//! of every acknowledged write since the snapshot, fsynced before the write is answered).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::emulator::gennaker_home;

/// The files the emulator writes into a data directory (the `.new` ones only for a moment,
/// while a snapshot replaces the last one).
const STATE_FILES: [&str; 4] = [
    "snapshot.json",
    "journal.jsonl",
    "snapshot.json.new",
    "journal.jsonl.new",
];

/// `.gennaker/data` in the project (under `$GENNAKER_HOME` when it is set).
pub fn default_data_dir() -> PathBuf {
    gennaker_home().join("data")
}

/// Discards the state kept in `directory` (`--reset`), leaving anything else there alone.
pub fn reset(directory: &Path) -> anyhow::Result<()> {
    if !directory.exists() {
        return Ok(());
    }
    // The emulator holds this lock while it runs: never pull the files from under it.
    let lock = std::fs::File::create(directory.join("lock"))
        .with_context(|| format!("opening the lock of {}", directory.display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!(
            "{} is in use by a running local mode; stop it before --reset",
            directory.display()
        );
    }
    for file in STATE_FILES {
        let path = directory.join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", path.display()));
            }
        }
    }
    Ok(())
}
