//! [`JsonlSink`]: an append-only file of envelopes, one per line, hash-chained.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Batch, Sink, SinkError};
use crate::chain::{Anchor, ChainHead, Verifier, VerifyError, VerifyReport};

/// When a [`JsonlSink`] calls `fsync`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// After every batch, before the batch counts as written (default). Concurrent emitters
    /// share one `fsync` per batch.
    #[default]
    EveryBatch,
    /// At most once per interval, and on `flush`; a crash may lose the last interval of
    /// events that were not flushed.
    Interval(Duration),
    /// Only on `flush`; the operating system decides when data reaches the disk.
    Never,
}

/// A torn last line found on open, left by a writer that crashed mid-write, and moved aside.
/// Its events were never acknowledged as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The side file now holding the torn bytes.
    pub moved_to: PathBuf,
    /// How many bytes were moved.
    pub bytes: u64,
}

/// Appends envelopes to a file, one compact JSON envelope per line, each carrying its `seq`,
/// `prev_hash` and `hash` in the file's hash chain (see [`chain`](crate::chain)).
///
/// - Reopening a file continues its chain.
/// - Several processes may append to one file: each batch is written under an exclusive file
///   lock, after reading the chain head the others left, so the chain never forks.
/// - On open, and before each batch, a torn last line left by a crashed writer is moved to a
///   side file (`<file>.torn-<micros>`) and reported by [`torn_tail`](JsonlSink::torn_tail),
///   never silently dropped.
/// - A failed write is cut back off the file before the error is returned, so a retry does
///   not leave a partial line behind.
///
/// ```
/// use audit_core::sink::JsonlSink;
/// # let dir = std::env::temp_dir().join(format!("audit-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("audit.jsonl");
/// let sink = JsonlSink::open(&path)?;
/// // ... give it to `Auditor::builder().sink(sink)` ...
/// # drop(sink);
/// let report = JsonlSink::verify(&path)?;
/// assert_eq!(report.events, 0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JsonlSink {
    path: PathBuf,
    file: File,
    head: ChainHead,
    /// The file length after our last write, to notice writes by other processes.
    end: u64,
    durability: Durability,
    last_sync: Instant,
    unsynced: bool,
    buf: Vec<u8>,
    torn: Option<TornTail>,
}

/// The chain fields of a stored line.
#[derive(Deserialize)]
struct ChainFields {
    seq: u64,
    hash: String,
}

impl JsonlSink {
    /// Opens (or creates) the file and reads its chain head. Fsyncs every batch; see
    /// [`durability`](JsonlSink::durability).
    ///
    /// # Errors
    ///
    /// A [`SinkError`] when the file cannot be opened, locked or read, or when its last line
    /// is not a chained envelope.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        let path = path.as_ref().to_owned();
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| SinkError::io(format!("opening {}", path.display()), e))?;
        let mut sink = JsonlSink {
            path,
            file,
            head: ChainHead::genesis(),
            end: 0,
            durability: Durability::default(),
            last_sync: Instant::now(),
            unsynced: false,
            buf: Vec::with_capacity(64 * 1024),
            torn: None,
        };
        sink.locked(JsonlSink::refresh)?;
        Ok(sink)
    }

    /// Sets when the sink calls `fsync`.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The torn tail moved aside on open or since, if there was one.
    #[must_use]
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The chain head after the last write: keep it elsewhere as an [`Anchor`].
    #[must_use]
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Verifies the file's hash chain from its first line.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first broken `seq` for an edited, inserted, deleted or
    /// reordered line. A torn last line is not an error: the report counts its bytes.
    pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, VerifyError> {
        verify_file(path.as_ref(), None)
    }

    /// Verifies the file's hash chain and checks it against a trusted anchor, which also
    /// catches a rewritten or truncated tail.
    ///
    /// # Errors
    ///
    /// As [`verify`](JsonlSink::verify), plus [`VerifyError::Truncated`] when the file ends
    /// before the anchor and [`VerifyError::AnchorMismatch`] when the line at the anchor's
    /// `seq` has another hash.
    pub fn verify_with_anchor(
        path: impl AsRef<Path>,
        anchor: &Anchor,
    ) -> Result<VerifyReport, VerifyError> {
        verify_file(path.as_ref(), Some(anchor))
    }

    /// Re-reads the chain head if another process wrote since our last write, moving a torn
    /// tail aside. Runs under the file lock.
    fn refresh(&mut self) -> Result<(), SinkError> {
        let len = self
            .file
            .metadata()
            .map_err(|e| SinkError::io(format!("reading the size of {}", self.path.display()), e))?
            .len();
        if len == self.end {
            return Ok(());
        }
        let (line_start, last_line, torn_bytes) = read_tail(&self.file, len)
            .map_err(|e| SinkError::io(format!("reading the end of {}", self.path.display()), e))?;
        let mut end = len;
        if torn_bytes > 0 {
            self.torn = Some(self.move_torn_aside(len - torn_bytes, torn_bytes)?);
            end = len - torn_bytes;
        }
        self.head = match last_line {
            None => ChainHead::genesis(),
            Some(line) => {
                let fields: ChainFields =
                    serde_json::from_slice(&line).map_err(|e| SinkError::Corrupt {
                        path: self.path.clone(),
                        detail: format!(
                            "the last line (at byte {line_start}) is not a chained audit \
                             envelope ({e}); run JsonlSink::verify on the file"
                        ),
                    })?;
                ChainHead {
                    seq: fields.seq,
                    hash: fields.hash,
                }
            }
        };
        self.end = end;
        Ok(())
    }

    fn move_torn_aside(&mut self, at: u64, bytes: u64) -> Result<TornTail, SinkError> {
        let mut torn = Vec::new();
        let mut reader = &self.file;
        reader
            .seek(SeekFrom::Start(at))
            .and_then(|_| reader.take(bytes).read_to_end(&mut torn))
            .map_err(|e| {
                SinkError::io(
                    format!("reading the torn tail of {}", self.path.display()),
                    e,
                )
            })?;
        let micros = crate::Timestamp::now().unix_micros();
        let mut side = self.path.clone().into_os_string();
        side.push(format!(".torn-{micros}"));
        let side = PathBuf::from(side);
        let write_side = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&side)?;
            f.write_all(&torn)?;
            f.sync_all()
        };
        write_side()
            .map_err(|e| SinkError::io(format!("saving the torn tail to {}", side.display()), e))?;
        self.file
            .set_len(at)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| {
                SinkError::io(
                    format!("cutting the torn tail off {}", self.path.display()),
                    e,
                )
            })?;
        Ok(TornTail {
            moved_to: side,
            bytes,
        })
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.file
            .sync_data()
            .map_err(|e| SinkError::io(format!("syncing {}", self.path.display()), e))?;
        self.last_sync = Instant::now();
        self.unsynced = false;
        Ok(())
    }
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("path", &self.path)
            .field("head", &self.head)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl Sink for JsonlSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.locked(|sink| sink.append(batch))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.unsynced {
            self.sync()?;
        }
        Ok(())
    }

    fn __writes_sealed_forms(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        format!("jsonl:{}", self.path.display())
    }
}

impl JsonlSink {
    /// Appends a batch; runs under the file lock.
    fn append(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.refresh()?;
        self.buf.clear();
        let mut head = self.head.clone();
        for sealed in batch.sealed() {
            let forms = sealed.writable()?;
            let next = forms.link(&head, &mut self.buf);
            self.buf.push(b'\n');
            head = next;
        }
        // Decided once: reading the clock twice could skip the sync yet count it as done.
        let sync_now = match self.durability {
            Durability::EveryBatch => true,
            Durability::Interval(every) => self.last_sync.elapsed() >= every,
            Durability::Never => false,
        };
        let written = (&self.file).write_all(&self.buf).and_then(|()| {
            if sync_now {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Undo a partial write, so the retry starts on a line boundary.
            let _ = self.file.set_len(self.end);
            return Err(SinkError::io(
                format!("appending to {}", self.path.display()),
                e,
            ));
        }
        if sync_now {
            self.last_sync = Instant::now();
            self.unsynced = false;
        } else {
            self.unsynced = true;
        }
        self.end += self.buf.len() as u64;
        self.head = head;
        Ok(())
    }

    /// Runs `f` holding an exclusive lock on the file, so that writers in other processes
    /// take turns and each continues the chain where the last one left it.
    fn locked<R>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, SinkError>,
    ) -> Result<R, SinkError> {
        self.file
            .lock()
            .map_err(|e| SinkError::io(format!("locking {}", self.path.display()), e))?;
        let result = f(self);
        // Closing the file would release the lock too; an unlock error leaves it to that.
        let _ = self.file.unlock();
        result
    }
}

/// Reads the end of a file of `len` bytes: where the last complete line starts, that line
/// (without its newline), and how many bytes follow the last newline (a torn line).
fn read_tail(file: &File, len: u64) -> io::Result<(u64, Option<Vec<u8>>, u64)> {
    const CHUNK: u64 = 8192;
    let mut reader = file;
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = len;
    // Collect chunks from the end until the buffer holds the start of the last complete line.
    loop {
        let found = match tail.iter().rposition(|&b| b == b'\n') {
            Some(last) => tail[..last].contains(&b'\n'),
            None => false,
        };
        if found || pos == 0 {
            break;
        }
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        pos = start;
    }
    // `tail` covers bytes `pos..len`.
    let torn = match tail.iter().rposition(|&b| b == b'\n') {
        Some(i) => (tail.len() - i - 1) as u64,
        None => tail.len() as u64,
    };
    let clean = &tail[..tail.len() - usize::try_from(torn).unwrap_or(0)];
    if clean.is_empty() {
        return Ok((pos, None, torn));
    }
    let body = &clean[..clean.len() - 1];
    let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Ok((pos + start as u64, Some(body[start..].to_vec()), torn))
}

fn verify_file(path: &Path, anchor: Option<&Anchor>) -> Result<VerifyReport, VerifyError> {
    let file = File::open(path).map_err(VerifyError::Io)?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut verifier = Verifier::new();
    let mut line = Vec::new();
    let mut torn = None;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(VerifyError::Io)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            torn = Some(n as u64);
            break;
        }
        verifier.push_stored(&line[..line.len() - 1])?;
        if let Some(anchor) = anchor {
            verifier.check_anchor_at(anchor)?;
        }
    }
    let mut report = verifier.finish(anchor)?;
    report.torn_tail_bytes = torn;
    Ok(report)
}
