//! Crash safety of `JsonlSink`: a writer process is killed with SIGKILL mid-stream, and every
//! event it acknowledged is in the file, the chain verifies, and the next writer moves a torn
//! tail aside and continues the chain. The same for `SqliteSink`, killed while its checkpoint
//! thread copies the WAL back.
//!
//! The test re-executes its own binary as the writer (`AUDIT_CRASH_WRITER=<mode>` in the
//! environment, `--exact <test> --nocapture`), which prints `ack <event id>` for each event
//! once it is durable: when `emit` returns in synchronous mode, when `flush` returns in
//! background mode.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audit_core::query::Query;
use audit_core::sink::{JsonlSink, SqliteLog, SqliteSink};
use audit_core::{AuditEvent, Auditor, EntityRef, Envelope, PrefixedId};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(PrefixedId)]
#[id(prefix = "doc")]
pub struct DocId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "doc.edited", message = "{actor} edited {doc} (edit {n})")]
pub struct DocEdited {
    #[audit(actor)]
    pub editor: EntityRef<UserId>,
    #[audit(subject)]
    pub doc: EntityRef<DocId>,
    pub n: u64,
    pub text: String,
}

const WRITER_ENV: &str = "AUDIT_CRASH_WRITER";
const PATH_ENV: &str = "AUDIT_CRASH_PATH";
/// Acknowledged events the parent waits for before it kills the writer.
const KILL_AFTER: usize = 300;
/// The writer gives up after this long, so that a broken parent never leaves it running.
const WRITER_LIMIT: Duration = Duration::from_secs(25);

fn event(n: u64) -> DocEdited {
    // Long enough that a batch takes more than one page of the file.
    event_of(n, 200)
}

fn event_of(n: u64, len: usize) -> DocEdited {
    DocEdited {
        editor: EntityRef::new(UserId::new(), "Alice"),
        doc: EntityRef::new(DocId::new(), "Plan"),
        n,
        text: "x".repeat(len),
    }
}

/// Emits in rounds, each flushed, printing the acks of the flushed events; more events after
/// each round are not flushed, and may or may not be stored.
fn emit_flushed_rounds(auditor: &Auditor, len: usize, started: Instant) {
    let mut n = 0;
    while started.elapsed() < WRITER_LIMIT {
        let ids: Vec<_> = (0..25)
            .map(|_| {
                n += 1;
                auditor.emit(event_of(n, len)).expect("emit")
            })
            .collect();
        for _ in 0..10 {
            n += 1;
            auditor.emit(event_of(n, len)).expect("emit");
        }
        auditor.flush().expect("flush");
        let mut out = std::io::stdout().lock();
        for id in ids {
            writeln!(out, "ack {id}").expect("stdout");
        }
        out.flush().expect("stdout");
    }
}

/// The writer's side: emits until killed (or until `WRITER_LIMIT`), printing acks.
fn run_writer(mode: &str, path: &Path) {
    let jsonl = || JsonlSink::open(path).expect("open");
    let started = Instant::now();
    match mode {
        "sync" => {
            let auditor = Auditor::builder().sink(jsonl()).build().expect("build");
            // Four emitters share fsyncs (group commit).
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let auditor = auditor.clone();
                    s.spawn(move || {
                        let mut n = t;
                        while started.elapsed() < WRITER_LIMIT {
                            let id = auditor.emit(event(n)).expect("emit");
                            // Durable: say so.
                            println!("ack {id}");
                            n += 4;
                        }
                    });
                }
            });
        }
        "background" => {
            let auditor = Auditor::builder()
                .sink(jsonl())
                .background(4096)
                .block_when_full(true)
                .build()
                .expect("build");
            emit_flushed_rounds(&auditor, 200, started);
        }
        "sqlite" => {
            let auditor = Auditor::builder()
                .sink(SqliteSink::open(path).expect("open"))
                .background(4096)
                .block_when_full(true)
                .build()
                .expect("build");
            // 4 KB events: past the 16 MiB of WAL after which the checkpoint thread copies
            // it back, well before the kill.
            emit_flushed_rounds(&auditor, 4_000, started);
        }
        other => panic!("unknown writer mode {other}"),
    }
}

/// The parent's side: runs the writer, kills it after `KILL_AFTER` acks, returns the acked
/// ids.
fn crash_writer(test: &str, mode: &str, path: &Path, kill_after: usize) -> HashSet<String> {
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, mode)
        .env(PATH_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = HashSet::new();
    while acked.len() < kill_after {
        match lines.next() {
            Some(line) => {
                if let Some(id) = line.expect("utf-8 stdout").strip_prefix("ack ") {
                    acked.insert(id.to_owned());
                }
            }
            None => panic!(
                "the writer stopped after {} acks: {:?}",
                acked.len(),
                child.wait()
            ),
        }
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the writer must still be running when it is killed"
    );
    // SIGKILL, mid-stream: no destructor, no flush.
    child.kill().expect("SIGKILL");
    // Acks printed before the kill count as well.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(id) = line.strip_prefix("ack ") {
            acked.insert(id.to_owned());
        }
    }
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed: {status:?}");
    acked
}

/// The ids of the complete lines of the file.
fn stored_ids(path: &Path) -> Vec<String> {
    let text = fs::read(path).expect("read the log");
    let complete = match text.iter().rposition(|&b| b == b'\n') {
        Some(i) => &text[..=i],
        None => &[][..],
    };
    complete
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            serde_json::from_slice::<Envelope>(line)
                .expect("a complete line is an envelope")
                .id
                .to_string()
        })
        .collect()
}

/// Every acknowledged event is stored.
fn assert_all_stored(acked: &HashSet<String>, is_stored: impl Fn(&str) -> bool) {
    let missing: Vec<&String> = acked.iter().filter(|id| !is_stored(id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
}

fn check_crash_and_recovery(test: &str, mode: &str) {
    let dir = TempDir::new(mode);
    let path = dir.0.join("audit.jsonl");
    let acked = crash_writer(test, mode, &path, KILL_AFTER);
    assert!(acked.len() >= KILL_AFTER);

    // Every acknowledged event is in the file, once.
    let ids = stored_ids(&path);
    let stored: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(stored.len(), ids.len(), "an event is stored twice");
    assert_all_stored(&acked, |id| stored.contains(id));

    // The chain verifies; a torn last line is reported apart, not as tampering.
    let report = JsonlSink::verify(&path).expect("the crashed log verifies");
    assert_eq!(report.events, ids.len() as u64);
    assert_eq!((report.first_seq, report.last_seq), (1, ids.len() as u64));

    // A crash can tear the last line (the kill lands inside a write); make sure this run has
    // one: the first half of a line as a dying writer would have left it.
    let clean_len =
        fs::metadata(&path).expect("metadata").len() - report.torn_tail_bytes.unwrap_or(0);
    let line = fs::read_to_string(&path)
        .expect("read")
        .lines()
        .next()
        .expect("a line")
        .to_owned();
    let torn = line[..line.len() / 2].to_owned();
    {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(torn.as_bytes()).expect("tear");
    }
    let torn_bytes = fs::metadata(&path).expect("metadata").len() - clean_len;
    let report = JsonlSink::verify(&path).expect("torn, not tampered");
    assert_eq!(report.torn_tail_bytes, Some(torn_bytes));
    assert_eq!(report.events, ids.len() as u64);
    let before = report;

    // A new writer moves the torn tail aside, and continues the chain.
    let sink = JsonlSink::open(&path).expect("reopen after the crash");
    let torn_tail = sink.torn_tail().expect("the torn tail is reported").clone();
    assert_eq!(torn_tail.bytes, torn_bytes);
    let saved = fs::read(&torn_tail.moved_to).expect("the torn bytes are kept aside");
    assert_eq!(saved.len() as u64, torn_bytes);
    assert!(saved.ends_with(torn.as_bytes()));
    assert_eq!(fs::metadata(&path).expect("metadata").len(), clean_len);
    assert_eq!(sink.head().seq, before.last_seq);
    assert_eq!(sink.head().hash, before.last_hash);

    let auditor = Auditor::builder().sink(sink).build().expect("build");
    let new_ids: Vec<String> = (0..10)
        .map(|n| auditor.emit(event(n)).expect("emit").to_string())
        .collect();
    assert!(auditor.shutdown().is_clean());

    let report = JsonlSink::verify(&path).expect("the continued chain verifies");
    assert_eq!(report.torn_tail_bytes, None);
    assert_eq!(report.first_seq, 1);
    assert_eq!(report.last_seq, before.last_seq + 10);
    let all = stored_ids(&path);
    assert_eq!(&all[..ids.len()], &ids[..]);
    assert_eq!(&all[ids.len()..], &new_ids[..]);
    let lines: Vec<String> = fs::read_to_string(&path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect();
    let first_new: Envelope = serde_json::from_str(&lines[ids.len()]).expect("envelope");
    assert_eq!(first_new.seq, Some(before.last_seq + 1));
    assert_eq!(first_new.prev_hash, Some(before.last_hash));
}

/// In the writer process, act as the writer; in the test process, return `false`.
fn writer_mode() -> bool {
    let Ok(mode) = std::env::var(WRITER_ENV) else {
        return false;
    };
    let path = std::env::var(PATH_ENV).expect("the log path");
    run_writer(&mode, Path::new(&path));
    true
}

#[test]
fn crash_in_sync_mode_keeps_every_acknowledged_event() {
    if writer_mode() {
        return;
    }
    check_crash_and_recovery("crash_in_sync_mode_keeps_every_acknowledged_event", "sync");
}

#[test]
fn crash_in_background_mode_keeps_every_flushed_event() {
    if writer_mode() {
        return;
    }
    check_crash_and_recovery(
        "crash_in_background_mode_keeps_every_flushed_event",
        "background",
    );
}

#[test]
fn sqlite_crash_keeps_every_flushed_event() {
    if writer_mode() {
        return;
    }
    let dir = TempDir::new("sqlite");
    let path = dir.0.join("audit.db");
    // About 24 MB of events acknowledged before the kill.
    let acked = crash_writer(
        "sqlite_crash_keeps_every_flushed_event",
        "sqlite",
        &path,
        6_000,
    );

    // Every acknowledged event is stored; the chain and the indexes verify.
    let report = SqliteSink::verify(&path).expect("the crashed database verifies");
    let log = SqliteLog::open(&path).expect("open");
    assert_eq!(log.count(&Query::new()).expect("count"), report.events);
    assert_all_stored(&acked, |id| {
        let id: audit_core::EventId = id.parse().expect("an event id");
        log.get(id).expect("get").is_some()
    });
    drop(log);

    // A new writer continues the chain.
    let auditor = Auditor::builder()
        .sink(SqliteSink::open(&path).expect("reopen after the crash"))
        .build()
        .expect("build");
    for n in 0..10 {
        auditor.emit(event(n)).expect("emit");
    }
    assert!(auditor.shutdown().is_clean());
    let after = SqliteSink::verify(&path).expect("the continued chain verifies");
    assert_eq!(after.last_seq, report.last_seq + 10);
}
