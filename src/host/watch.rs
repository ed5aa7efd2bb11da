//! Hot reload: watch the scripts folder and reload each saved script.
//!
//! We watch the folder, not the files, because editors save by writing a temporary file and
//! renaming it over the old one, which ends a watch on the old file. Events are debounced: after
//! the first event we wait until [`QUIET`] passes without another, so one save (often several
//! events) becomes one reload, and every changed script is reloaded once.
//!
//! Only events that can mean new content count. The inotify backend also reports opening,
//! reading and closing a file, and reloading a script reads it: counting those made every
//! reload trigger the next one, so a broken script was recompiled and its error logged about 40
//! times a second, and even a good one was re-read forever. Pinned by
//! `a_broken_script_is_compiled_and_logged_once_per_save` and
//! `an_idle_watched_folder_does_no_reload_work` (tests/it/reload.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher as _};

use super::generation::{is_script, Host};

/// How long the folder must be quiet before changed scripts are reloaded.
pub const QUIET: Duration = Duration::from_millis(25);

/// A running watch; dropping it stops watching.
pub struct ScriptWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `dir` and reloading changed scripts into `host` on a dedicated thread.
pub fn watch(host: Arc<Host>, dir: &Path) -> notify::Result<ScriptWatcher> {
    let (tx, rx) = mpsc::channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if !may_change_content(&event.kind) {
                return;
            }
            for path in event.paths {
                if is_script(&path) {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    // Recursive: shared modules live in subfolders (`super::modules`).
    watcher.watch(dir, RecursiveMode::Recursive)?;
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("script-watch".into())
        .spawn(move || debounce_and_reload(&host, &dir, &rx))
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(ScriptWatcher { _watcher: watcher })
}

/// False for events that only say a file was opened, read or closed without writing: a reader
/// (our own reload among them) changes nothing. Closing after a write stays, as a last word
/// that content changed.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

fn debounce_and_reload(host: &Host, dir: &Path, rx: &mpsc::Receiver<PathBuf>) {
    // Ends when the watcher (the sender's owner) is dropped.
    while let Ok(first) = rx.recv() {
        let mut changed = BTreeSet::from([first]);
        while let Ok(path) = rx.recv_timeout(QUIET) {
            changed.insert(path);
        }
        let canonical = std::fs::canonicalize(dir).ok();
        for path in changed {
            // Paths from notify are absolute; key scripts the way load_dir named them. A file in
            // a subfolder is a shared module: its importers reload.
            let relative = canonical
                .as_ref()
                .and_then(|c| path.strip_prefix(c).ok())
                .map(Path::to_path_buf);
            match relative {
                Some(rel) if rel.components().count() > 1 => {
                    host.reload_module(&dir.join(rel));
                }
                _ => {
                    let key = path.file_name().map(|n| dir.join(n)).unwrap_or(path);
                    host.reload(&key);
                }
            }
        }
    }
}
