//! `NatsSink` through a server outage: the test starts its own `nats-server` (JetStream, a
//! store directory of its own) on a free port, kills it (SIGKILL) while a background auditor
//! emits, checks that `flush()` reports the outage while it lasts, restarts the server on the
//! same port and store, and checks that the stream holds every emitted event exactly once.
//! Skipped when no `nats-server` binary is found (on PATH or at /usr/sbin/nats-server).
#![cfg(feature = "nats")]

mod nats_common;

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use audit_core::sink::NatsSink;
use audit_core::sink::async_nats::ConnectOptions;
use audit_core::{AuditEvent, Auditor, EntityRef, EventId, PrefixedId};
use nats_common::{Checker, unique_names};

#[path = "support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

#[derive(PrefixedId)]
#[id(prefix = "user")]
pub struct UserId([u8; 16]);

#[derive(AuditEvent)]
#[audit(action = "user.pinged", message = "{actor} pinged")]
pub struct Pinged {
    #[audit(actor, subject)]
    pub user: EntityRef<UserId>,
    pub n: u64,
}

const OUTAGES: usize = 3;

fn nats_server_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let fallback = PathBuf::from("/usr/sbin/nats-server");
        fallback.is_file().then_some(fallback)
    })
}

/// A `nats-server` child process; killed when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(binary: &Path, port: u16, store: &Path) -> Server {
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let mut server = Server { child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("nats-server on port {port} exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on port {port} within 20 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// SIGKILL: no goodbye to the clients, no clean shutdown of the store.
    fn kill(mut self) {
        self.child.kill().expect("kill nats-server");
        self.child.wait().expect("reap nats-server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn outage_loses_and_duplicates_nothing() {
    let Some(binary) = nats_server_binary() else {
        println!("skipped: no nats-server binary on PATH or at /usr/sbin/nats-server");
        return;
    };
    let store = TempDir(std::env::temp_dir().join(format!(
        "audit-nats-outage-{}-{}",
        std::process::id(),
        free_port()
    )));
    std::fs::create_dir_all(&store.0).expect("create the store directory");
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let server = Server::start(&binary, port, &store.0);

    let (stream, prefix) = unique_names();
    let sink = NatsSink::builder(&url)
        .stream(&stream)
        .subject_prefix(&prefix)
        .ack_timeout(Duration::from_secs(1))
        .connect_options(
            ConnectOptions::new().reconnect_delay_callback(|_| Duration::from_millis(50)),
        )
        .connect()
        .expect("connect to the test server");
    let auditor = Auditor::builder()
        .sink(sink)
        .background(100_000)
        .block_when_full(true)
        .batch_size(256)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .expect("an auditor");

    // One thread emits steadily until told to stop, and returns the IDs it emitted.
    let stop = Arc::new(AtomicBool::new(false));
    let emitter = {
        let auditor = auditor.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let user = EntityRef::new(UserId::new(), "Alice");
            let mut ids: Vec<EventId> = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = auditor
                    .emit(Pinged {
                        user: user.clone(),
                        n,
                    })
                    .expect("emit (background)");
                ids.push(id);
                n += 1;
                // About 5,000 events/s: well within what the sink writes, even unoptimized.
                if n.is_multiple_of(5) {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            ids
        })
    };

    let written = || auditor.stats().sinks[0].written;
    wait_for("2000 events written", Duration::from_secs(30), || {
        written() >= 2000
    });
    auditor.flush().expect("flush while the server is up");

    // Outages: kill the server while the emitter keeps going, keep it down a while, bring it
    // back on the same port with the same store. Three times, to land in different moments of
    // a batch (queued, published, half acknowledged).
    let mut server = Some(server);
    for outage in 1..=OUTAGES {
        if let Some(server) = server.take() {
            server.kill();
        }
        let killed_at = written();
        let mut errors = Vec::new();
        let started = Instant::now();
        while errors.len() < 3 || started.elapsed() < Duration::from_millis(500) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "outage {outage}: flush() kept succeeding while the server was down"
            );
            if let Err(e) = auditor.flush() {
                errors.push(e.to_string());
            }
        }
        let stats = auditor.stats();
        assert!(stats.sinks[0].failing.is_some(), "{stats:?}");
        assert!(stats.sinks[0].pending > 0, "{stats:?}");
        println!(
            "outage {outage}: {} flush errors in {:.1?}, such as: {}",
            errors.len(),
            started.elapsed(),
            errors[0]
        );

        server = Some(Server::start(&binary, port, &store.0));
        let back = Instant::now();
        wait_for("writes after the restart", Duration::from_secs(60), || {
            written() > killed_at + 2000
        });
        println!(
            "outage {outage}: writing again {:.1?} after the restart",
            back.elapsed()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let emitted = emitter.join().expect("the emitter");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match auditor.flush() {
            Ok(()) => break,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "flush still fails after the restart: {e}"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    println!(
        "{} events emitted, {} batches retried",
        emitted.len(),
        auditor.stats().sinks[0].retried
    );
    let report = auditor.shutdown();
    assert!(report.is_clean(), "{report:?}");

    // Every emitted event is in the stream, once.
    let checker = Checker::connect(&url);
    let stored = checker.read_all(&stream);
    let mut seen = HashSet::new();
    for s in &stored {
        assert!(
            seen.insert(s.envelope.id),
            "{} is stored twice",
            s.envelope.id
        );
        assert_eq!(s.message_id, Some(s.envelope.id.to_string()));
    }
    let missing: Vec<_> = emitted.iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} emitted events are missing from the stream, such as {}",
        missing.len(),
        emitted.len(),
        missing[0]
    );
    assert_eq!(stored.len(), emitted.len());
    checker.delete(&stream);
    drop(server);
}
