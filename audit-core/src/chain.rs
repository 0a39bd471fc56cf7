//! Tamper evidence: the SHA-256 hash chain kept by persistent sinks.
//!
//! Each stored envelope carries `seq` (from 1, no gaps), `prev_hash` (the previous envelope's
//! `hash`; 64 zeros for the first) and `hash`: the lowercase hex SHA-256 of the RFC 8785 (JCS)
//! canonical JSON of the envelope with `seq` and `prev_hash` and without `hash`. Editing,
//! inserting, deleting or reordering a stored envelope breaks the chain at that point, and
//! [`Verifier`] names the first broken `seq`.
//!
//! A chain cannot, by itself, stop a writer with full access from rewriting every envelope from
//! some point on and recomputing the hashes, nor from cutting the tail off. Keep an
//! [`Anchor`] (the `seq` and `hash` of a recent envelope, from a sink's `head()`) somewhere the
//! writer cannot change (another system, a signed message, a ticket), and pass it to `verify`:
//! then a rewrite or truncation before that point is caught.
//!
//! ```
//! use audit_core::chain::{ChainHead, Verifier};
//! # use audit_core::{AuditEvent, Context, EntityRef, Envelope, PrefixedId};
//! # #[derive(PrefixedId)]
//! # #[id(prefix = "user")]
//! # pub struct UserId([u8; 16]);
//! # #[derive(AuditEvent)]
//! # #[audit(action = "user.logged_in")]
//! # pub struct LoggedIn { #[audit(actor, subject)] pub user: EntityRef<UserId> }
//! let mut head = ChainHead::genesis();
//! let mut stored = Vec::new();
//! for _ in 0..3 {
//!     let event = LoggedIn { user: EntityRef::new(UserId::new(), "Alice") };
//!     let mut envelope = Envelope::from_event(&event, &Context::new())?;
//!     head.link(&mut envelope)?;
//!     stored.push(envelope);
//! }
//! let mut verifier = Verifier::new();
//! for envelope in &stored {
//!     verifier.push(envelope)?;
//! }
//! assert_eq!(verifier.report().last_seq, 3);
//!
//! stored[1].message = Some("edited".into());
//! let mut verifier = Verifier::new();
//! let err = stored.iter().try_for_each(|e| verifier.push(e)).unwrap_err();
//! assert_eq!(err.seq(), Some(2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;

use sha2::{Digest, Sha256};

use crate::Envelope;

pub(crate) mod canonical;

/// The `prev_hash` of the first envelope: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of a chain: the last `seq` and `hash` (0 and [`GENESIS_HASH`] when empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// The last envelope's `seq`.
    pub seq: u64,
    /// The last envelope's `hash`.
    pub hash: String,
}

/// A trusted point of a chain, kept where the log's writer cannot change it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The anchored envelope's `seq`.
    pub seq: u64,
    /// The anchored envelope's `hash`.
    pub hash: String,
}

impl From<ChainHead> for Anchor {
    fn from(head: ChainHead) -> Self {
        Anchor {
            seq: head.seq,
            hash: head.hash,
        }
    }
}

/// Why an envelope could not be hashed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChainError {
    /// The envelope did not serialize to canonical JSON (its details hold a number JSON cannot
    /// carry; envelopes built by `Envelope::from_event` never do).
    Canonical(io::Error),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Canonical(e) => write!(f, "cannot canonicalize the envelope: {e}"),
        }
    }
}

impl std::error::Error for ChainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChainError::Canonical(e) => Some(e),
        }
    }
}

/// The `hash` of `envelope` at chain position (`seq`, `prev_hash`): lowercase hex SHA-256 of its
/// JCS canonical JSON with `seq` and `prev_hash` and without `hash`.
///
/// # Errors
///
/// [`ChainError::Canonical`] when the envelope does not serialize.
pub fn hash_at(envelope: &Envelope, seq: u64, prev_hash: &str) -> Result<String, ChainError> {
    let mut text = Vec::with_capacity(1024);
    canonical::write(&mut text, envelope, seq, prev_hash).map_err(ChainError::Canonical)?;
    Ok(hex(&Sha256::digest(&text)))
}

/// The RFC 8785 canonical JSON that [`hash_at`] hashes: the envelope with `seq` and
/// `prev_hash`, without `hash`. For checking a chain with another tool.
///
/// # Errors
///
/// [`ChainError::Canonical`] when the envelope's details are not valid JSON.
pub fn canonical_json(
    envelope: &Envelope,
    seq: u64,
    prev_hash: &str,
) -> Result<String, ChainError> {
    let mut out = Vec::with_capacity(512);
    canonical::write(&mut out, envelope, seq, prev_hash).map_err(ChainError::Canonical)?;
    String::from_utf8(out).map_err(|e| ChainError::Canonical(io::Error::other(e)))
}

/// A writer that checks that what is written equals `rest`, consuming it.
struct SameBytes<'a> {
    rest: &'a [u8],
    same: bool,
}

impl io::Write for SameBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.rest.strip_prefix(buf) {
            Some(rest) if self.same => self.rest = rest,
            _ => self.same = false,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

impl ChainHead {
    /// The head of an empty chain.
    #[must_use]
    pub fn genesis() -> Self {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Appends `envelope` to the chain: sets its `seq`, `prev_hash` and `hash`, and moves the
    /// head to it.
    ///
    /// # Errors
    ///
    /// [`ChainError`] when the envelope cannot be hashed; the head is unchanged.
    pub fn link(&mut self, envelope: &mut Envelope) -> Result<(), ChainError> {
        let (seq, hash) = self.next(envelope)?;
        envelope.seq = Some(seq);
        envelope.prev_hash = Some(std::mem::replace(&mut self.hash, hash.clone()));
        envelope.hash = Some(hash);
        self.seq = seq;
        Ok(())
    }

    /// The `seq` and `hash` `envelope` would get as the next link, without moving the head.
    ///
    /// # Errors
    ///
    /// [`ChainError`] when the envelope cannot be hashed.
    pub fn next(&self, envelope: &Envelope) -> Result<(u64, String), ChainError> {
        let seq = self.seq + 1;
        Ok((seq, hash_at(envelope, seq, &self.hash)?))
    }
}

/// How a chain was found broken.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Break {
    /// The envelope has no `seq`, `prev_hash` or `hash`.
    Unchained,
    /// The `seq` is not the one after the previous envelope's: an envelope was deleted,
    /// inserted or moved.
    Sequence {
        /// The `seq` that should come next.
        expected: u64,
    },
    /// `prev_hash` is not the previous envelope's `hash`: an envelope before it was replaced,
    /// or this one was moved.
    PrevHash,
    /// `hash` does not match the envelope's content: it was edited.
    Hash,
    /// The stored text is not an envelope.
    Unreadable(String),
    /// The stored text is a valid link but not the text the sink wrote: a field the hash does
    /// not cover was added, or the line was reformatted.
    NotAsWritten,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Unchained => f.write_str("it has no `seq`, `prev_hash` and `hash`"),
            Break::Sequence { expected } => write!(
                f,
                "expected seq {expected} here: an event was deleted, inserted or moved"
            ),
            Break::PrevHash => f.write_str(
                "its `prev_hash` is not the previous event's `hash`: an event before it was \
                 replaced, or this one was moved",
            ),
            Break::Hash => f.write_str("its `hash` does not match its content: it was edited"),
            Break::Unreadable(why) => write!(f, "it is not a readable envelope: {why}"),
            Break::NotAsWritten => f.write_str(
                "its stored text is not what the sink wrote: a field was added or the text \
                 was reformatted",
            ),
        }
    }
}

/// Why a stored log failed verification.
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyError {
    /// The chain is broken at `seq` (the position counted from the start when the stored
    /// value is unreadable).
    Broken {
        /// The first broken position.
        seq: u64,
        /// How it is broken.
        why: Break,
    },
    /// The log ends before the trusted anchor: its tail was cut off.
    Truncated {
        /// The anchor's `seq`.
        anchor_seq: u64,
        /// The last `seq` found (0 for an empty log).
        last_seq: u64,
    },
    /// The envelope at the anchor's `seq` does not have the anchor's hash: the log was
    /// rewritten up to that point.
    AnchorMismatch {
        /// The anchor's `seq`.
        seq: u64,
    },
    /// The log could not be read.
    Io(io::Error),
}

impl VerifyError {
    /// The first broken `seq`, if the error names one.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            VerifyError::Broken { seq, .. } | VerifyError::AnchorMismatch { seq } => Some(*seq),
            VerifyError::Truncated { last_seq, .. } => Some(last_seq + 1),
            VerifyError::Io(_) => None,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Broken { seq, why } => {
                write!(f, "the audit chain is broken at seq {seq}: {why}")
            }
            VerifyError::Truncated {
                anchor_seq,
                last_seq,
            } => write!(
                f,
                "the audit log ends at seq {last_seq}, before the trusted anchor at seq \
                 {anchor_seq}: its tail was cut off"
            ),
            VerifyError::AnchorMismatch { seq } => write!(
                f,
                "the event at seq {seq} does not have the trusted anchor's hash: the log was \
                 rewritten"
            ),
            VerifyError::Io(e) => write!(f, "cannot read the audit log: {e}"),
        }
    }
}

impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// What a successful verification saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Envelopes verified.
    pub events: u64,
    /// The first verified `seq` (1 unless the log was cut by retention).
    pub first_seq: u64,
    /// The last verified `seq` (0 for an empty log).
    pub last_seq: u64,
    /// The last verified `hash` ([`GENESIS_HASH`] for an empty log): an anchor for later.
    pub last_hash: String,
    /// Bytes of a torn last line left by an interrupted write, not part of the chain (they
    /// were never acknowledged). `None` when the log ends cleanly.
    pub torn_tail_bytes: Option<u64>,
}

/// Checks envelopes one by one, in stored order.
#[derive(Clone, Debug)]
pub struct Verifier {
    head: ChainHead,
    first_seq: Option<u64>,
    events: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// A verifier for a chain that starts at seq 1.
    #[must_use]
    pub fn new() -> Self {
        Self::starting_after(ChainHead::genesis())
    }

    /// A verifier for a chain whose envelopes before `head.seq` were removed (retention):
    /// the next envelope must have `seq = head.seq + 1` and `prev_hash = head.hash`.
    #[must_use]
    pub fn starting_after(head: ChainHead) -> Self {
        Verifier {
            head,
            first_seq: None,
            events: 0,
        }
    }

    /// Checks the next envelope.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Broken`] naming the envelope's position and how it breaks the chain.
    pub fn push(&mut self, envelope: &Envelope) -> Result<(), VerifyError> {
        let expected = self.head.seq + 1;
        let broken = |why| VerifyError::Broken { seq: expected, why };
        let (Some(seq), Some(prev_hash), Some(hash)) = (
            envelope.seq,
            envelope.prev_hash.as_deref(),
            envelope.hash.as_deref(),
        ) else {
            return Err(broken(Break::Unchained));
        };
        if seq != expected {
            return Err(broken(Break::Sequence { expected }));
        }
        if prev_hash != self.head.hash {
            return Err(broken(Break::PrevHash));
        }
        let actual = hash_at(envelope, seq, prev_hash)
            .map_err(|e| broken(Break::Unreadable(e.to_string())))?;
        if actual != hash {
            return Err(broken(Break::Hash));
        }
        self.head = ChainHead { seq, hash: actual };
        self.first_seq.get_or_insert(seq);
        self.events += 1;
        Ok(())
    }

    /// Checks the next envelope from its stored JSON text: as [`Verifier::push`], and also
    /// that the text is exactly what a sink writes for the envelope (compact JSON in the field
    /// order of [`Envelope`]), so that a field the hash does not cover (an added key) cannot be
    /// slipped in. Returns the envelope.
    ///
    /// # Errors
    ///
    /// As [`Verifier::push`]; [`Break::Unreadable`] when the text is not an envelope and
    /// [`Break::NotAsWritten`] when it is a valid link written differently.
    pub fn push_stored(&mut self, text: &[u8]) -> Result<Envelope, VerifyError> {
        let envelope: Envelope = serde_json::from_slice(text).map_err(|e| self.unreadable(e))?;
        self.push(&envelope)?;
        let mut compare = SameBytes {
            rest: text,
            same: true,
        };
        if serde_json::to_writer(&mut compare, &envelope).is_err() || !compare.rest.is_empty() {
            compare.same = false;
        }
        if !compare.same {
            // The link checked out, so the head is at this envelope.
            return Err(VerifyError::Broken {
                seq: self.head.seq,
                why: Break::NotAsWritten,
            });
        }
        Ok(envelope)
    }

    /// Reports an envelope whose stored text could not be read, at the next position.
    #[must_use]
    pub fn unreadable(&self, why: impl fmt::Display) -> VerifyError {
        VerifyError::Broken {
            seq: self.head.seq + 1,
            why: Break::Unreadable(why.to_string()),
        }
    }

    /// The head after the envelopes pushed so far.
    #[must_use]
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Checks the chain against a trusted anchor: the log must reach the anchor's `seq`, and
    /// the envelope there must have the anchor's hash. Call it after pushing every envelope,
    /// or pass it to [`Verifier::check_anchor_at`] while pushing.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Truncated`] when the log ends before the anchor.
    pub fn finish(&self, anchor: Option<&Anchor>) -> Result<VerifyReport, VerifyError> {
        if let Some(anchor) = anchor.filter(|a| self.head.seq < a.seq) {
            return Err(VerifyError::Truncated {
                anchor_seq: anchor.seq,
                last_seq: self.head.seq,
            });
        }
        Ok(self.report())
    }

    /// After pushing the envelope at `anchor.seq`, checks its hash.
    ///
    /// # Errors
    ///
    /// [`VerifyError::AnchorMismatch`] when the head is at the anchor's `seq` with another
    /// hash.
    pub fn check_anchor_at(&self, anchor: &Anchor) -> Result<(), VerifyError> {
        if self.head.seq == anchor.seq && self.head.hash != anchor.hash {
            return Err(VerifyError::AnchorMismatch { seq: anchor.seq });
        }
        Ok(())
    }

    /// What was verified so far.
    #[must_use]
    pub fn report(&self) -> VerifyReport {
        VerifyReport {
            events: self.events,
            first_seq: self.first_seq.unwrap_or(self.head.seq + 1),
            last_seq: self.head.seq,
            last_hash: self.head.hash.clone(),
            torn_tail_bytes: None,
        }
    }
}
