//! Copies the write-ahead log back into the database file on a thread of its own, so that the
//! sink's writer spends its time on inserts.
//!
//! With SQLite's automatic checkpoint, the connection that commits copies the WAL into the
//! database file itself, and about a sixth of the writer's time went there. Here the writer's
//! WAL hook asks a [`Checkpointer`] thread, with a connection of its own, to copy what the WAL
//! holds (a `PASSIVE` checkpoint: it never blocks the writer or a reader). Once that pass is
//! done, the writer's next commit copies the few frames written meanwhile, so that the WAL is
//! whole in the database file when the writer's next transaction begins, and SQLite starts
//! the WAL over instead of growing it. Should the thread fall behind or fail, the writer
//! checkpoints itself past [`WRITER_BYTES`]: the WAL stays bounded as with SQLite's own
//! automatic checkpoint.
//!
//! A checkpoint never decides durability: a commit is durable once its WAL frames are synced.

use std::os::raw::c_int;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;

use crate::sink::SinkError;

/// WAL size after which the writer asks for a checkpoint.
const START_BYTES: i64 = 16 << 20;
/// WAL size after which the writer checkpoints itself, whatever the thread does.
const WRITER_BYTES: i64 = 256 << 20;

/// [`START_BYTES`] and [`WRITER_BYTES`] in pages of the database, as the WAL hook counts.
#[derive(Clone, Copy)]
struct Thresholds {
    start: c_int,
    writer: c_int,
}

impl Thresholds {
    fn of(conn: &Connection) -> Result<Self, rusqlite::Error> {
        let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = |bytes: i64| c_int::try_from(bytes / page.max(512)).unwrap_or(c_int::MAX);
        Ok(Thresholds {
            start: pages(START_BYTES),
            writer: pages(WRITER_BYTES),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Nothing asked.
    Idle,
    /// The writer asked; the thread copies.
    Asked,
    /// The thread copied what the WAL held when it started.
    Copied,
    /// The sink is closing.
    Stopping,
}

struct Shared {
    phase: Mutex<Phase>,
    wake: Condvar,
}

impl Shared {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A phase is a plain value: one left by a panicking holder is still consistent.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The checkpoint thread of one [`SqliteSink`](super::SqliteSink); stops when dropped.
pub(super) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`, and hooks `writer`'s commits to it
    /// (replacing SQLite's automatic checkpoint on that connection).
    pub(super) fn start(path: &Path, writer: &mut Connection) -> Result<Self, SinkError> {
        let conn = super::connect(path, false)
            .map_err(|e| super::corrupt_or_io(path, "opening a checkpoint connection", &e))?;
        let shared = Arc::new(Shared {
            phase: Mutex::new(Phase::Idle),
            wake: Condvar::new(),
        });
        let thresholds = Thresholds::of(writer)
            .map_err(|e| super::corrupt_or_io(path, "reading the page size", &e))?;
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("audit-sqlite-checkpoint".into())
                .spawn(move || run(&conn, &shared))
                .map_err(|e| {
                    SinkError::io(
                        format!("starting the checkpoint thread of {}", path.display()),
                        e,
                    )
                })?
        };
        // From here on, dropping it (on an error below too) stops the thread.
        let checkpointer = Checkpointer {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        writer
            .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
                on_commit(&shared, thresholds, wal, pages);
                // Never an error: the commit has happened, and an error here would make it look
                // failed (and the batch written twice when retried).
                Ok(())
            }))
            .map_err(|e| super::corrupt_or_io(path, "hooking the checkpoint thread", &e))?;
        Ok(checkpointer)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self.shared.phase() = Phase::Stopping;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer's side, after each commit with `pages` frames in the WAL.
fn on_commit(shared: &Shared, thresholds: Thresholds, wal: &mut Wal, pages: c_int) {
    let mut phase = shared.phase();
    match *phase {
        Phase::Idle if pages >= thresholds.start => {
            *phase = Phase::Asked;
            shared.wake.notify_one();
        }
        Phase::Copied => {
            *phase = Phase::Idle;
            drop(phase);
            // The frames committed during the thread's pass; the rest is copied already.
            // A failure leaves them in the WAL, for the next checkpoint.
            let _ = wal.checkpoint();
        }
        Phase::Asked if pages >= thresholds.writer => {
            drop(phase);
            let _ = wal.checkpoint();
        }
        Phase::Idle | Phase::Asked | Phase::Stopping => {}
    }
}

/// The thread: one passive checkpoint per request.
fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut phase = shared.phase();
            while *phase != Phase::Asked && *phase != Phase::Stopping {
                phase = shared
                    .wake
                    .wait(phase)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if *phase == Phase::Stopping {
                return;
            }
        }
        // A failure (a full disk, say) leaves the frames in the WAL: the writer's next commits
        // ask again, and past `WRITER_BYTES` the writer tries itself.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        let mut phase = shared.phase();
        if *phase == Phase::Asked {
            *phase = Phase::Copied;
        }
    }
}
