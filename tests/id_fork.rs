//! A forked child never repeats its parent's IDs: the thread RNG is reseeded in the child.
//!
//! Runs without the libtest harness (`harness = false` in `Cargo.toml`), so that the process
//! is single-threaded when it forks and the child may allocate and take locks safely.

#[cfg(unix)]
mod fork_test {
    use std::collections::HashSet;

    use audit_core::PrefixedId;

    #[derive(PrefixedId)]
    #[id(prefix = "user")]
    struct UserId([u8; 16]);

    #[derive(PrefixedId)]
    #[id(prefix = "oevt", sortable)]
    struct OrderEventId([u8; 16]);

    /// IDs each process makes after the fork: 256 plain, then 256 sortable.
    const N: usize = 256;

    fn make_ids() -> Vec<[u8; 16]> {
        let mut out = Vec::with_capacity(2 * N);
        out.extend((0..N).map(|_| UserId::new().to_bytes()));
        out.extend((0..N).map(|_| OrderEventId::new().to_bytes()));
        out
    }

    /// Forks a child that makes IDs and sends them through a pipe; returns them.
    fn child_ids() -> Vec<[u8; 16]> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        let (read_fd, write_fd) = (fds[0], fds[1]);
        // SAFETY: this process has one thread (no test harness), so the child may run Rust
        // code; it leaves with `_exit`, running no destructors or atexit handlers.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: in the child; both descriptors are ours.
            unsafe {
                libc::close(read_fd);
                let ids = make_ids();
                let bytes: &[u8] = ids.as_flattened();
                let mut written = 0;
                while written < bytes.len() {
                    let n = libc::write(
                        write_fd,
                        bytes[written..].as_ptr().cast(),
                        bytes.len() - written,
                    );
                    if n <= 0 {
                        libc::_exit(2);
                    }
                    written += n.cast_unsigned();
                }
                libc::close(write_fd);
                libc::_exit(0);
            }
        }
        // SAFETY: the parent's copy of the write end.
        unsafe { libc::close(write_fd) };
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
            assert!(n >= 0, "read from the child failed");
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n.cast_unsigned()]);
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `read_fd` is ours.
        unsafe {
            libc::close(read_fd);
            assert_eq!(libc::waitpid(pid, &raw mut status, 0), pid, "waitpid");
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child failed: status {status:#x}"
        );
        assert_eq!(bytes.len(), 2 * N * 16, "the child sent every ID");
        bytes
            .chunks_exact(16)
            .map(|c| <[u8; 16]>::try_from(c).expect("16 bytes"))
            .collect()
    }

    fn assert_disjoint(what: &str, a: &[[u8; 16]], b: &[[u8; 16]]) {
        let a: HashSet<&[u8; 16]> = a.iter().collect();
        let shared = b.iter().filter(|id| a.contains(id)).count();
        assert_eq!(shared, 0, "{what}: {shared} IDs in common");
    }

    /// The child's IDs after one fork differ from the parent's.
    pub(crate) fn parent_and_child_differ() {
        // Seed this thread's generator before forking, so the child inherits its state.
        let before = make_ids();
        let child = child_ids();
        let parent = make_ids();
        assert_disjoint("child vs parent after the fork", &parent, &child);
        assert_disjoint("child vs parent before the fork", &before, &child);
        // Plain IDs are random in all 128 bits: not even a shared 8-byte tail.
        let tails: HashSet<&[u8]> = parent[..N].iter().map(|id| &id[8..]).collect();
        assert!(
            child[..N].iter().all(|id| !tails.contains(&id[8..])),
            "shared random tails"
        );
    }

    /// Two children of the same parent state differ from each other.
    pub(crate) fn siblings_differ() {
        let _ = make_ids();
        let first = child_ids();
        let second = child_ids();
        assert_disjoint("first vs second child", &first, &second);
        let mut all: HashSet<[u8; 16]> = first.iter().copied().collect();
        all.extend(second.iter().copied());
        all.extend(make_ids());
        assert_eq!(all.len(), 3 * 2 * N, "all IDs distinct");
    }
}

#[cfg(unix)]
fn main() {
    let tests: [(&str, fn()); 2] = [
        (
            "parent_and_child_differ",
            fork_test::parent_and_child_differ,
        ),
        ("siblings_differ", fork_test::siblings_differ),
    ];
    println!("\nrunning {} tests", tests.len());
    for (name, test) in tests {
        // A failing test panics, which fails the binary with the panic's message.
        test();
        println!("test {name} ... ok");
    }
    println!(
        "\ntest result: ok. {} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n",
        tests.len()
    );
}

#[cfg(not(unix))]
fn main() {
    println!(
        "\nrunning 0 tests (fork is unix-only)\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n"
    );
}
