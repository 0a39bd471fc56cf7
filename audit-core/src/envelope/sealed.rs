//! [`Sealed`]: an envelope on its way to the sinks, no longer changeable, with the forms that
//! chained sinks write computed once.
//!
//! A chained sink's worker is one thread per sink, and every event passes through it; what it
//! does per event bounds the sink's throughput. Most of that work does not depend on the
//! chain position: the envelope's JSON line up to its chain fields, and the RFC 8785
//! canonical JSON around `prev_hash` and `seq`. [`Sealed::forms`] computes those once, and the
//! auditor calls it in the emitting thread, so that emitters share the work and the worker
//! only hashes the position and the short canonical tail.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::Envelope;
use crate::chain::{ChainHead, canonical};
use crate::sink::SinkError;

/// An envelope that can no longer change, with its [`Forms`] computed at most once.
pub(crate) struct Sealed {
    envelope: Envelope,
    forms: OnceLock<Result<Forms, String>>,
}

/// The chain-independent serialized forms of a sealed envelope.
pub(crate) struct Forms {
    /// Compact JSON of the envelope without its chain fields and without the closing `}`,
    /// then the canonical JSON after `seq`'s value (`,"subjects":[...],"version":N}`): one
    /// allocation for both.
    bytes: Vec<u8>,
    /// Where the line ends and the canonical tail starts in `bytes`.
    line_end: usize,
    /// SHA-256 over the canonical JSON up to and including `"prev_hash":`.
    canonical_head: Sha256,
}

thread_local! {
    /// The canonical head is hashed and dropped: written into one buffer per thread.
    static HEAD: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Sealed {
    pub(crate) fn new(envelope: Envelope) -> Self {
        Sealed {
            envelope,
            forms: OnceLock::new(),
        }
    }

    pub(crate) fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The forms, computed on first use.
    ///
    /// # Errors
    ///
    /// Why the envelope has no canonical JSON (`"it has no canonical JSON to hash: ..."`):
    /// its details hold a number that JSON cannot carry faithfully, which only an envelope
    /// built by hand can.
    pub(crate) fn forms(&self) -> Result<&Forms, &str> {
        self.forms
            .get_or_init(|| Forms::of(&self.envelope))
            .as_ref()
            .map_err(String::as_str)
    }

    /// [`forms`](Self::forms), for a sink: the error names the envelope.
    pub(crate) fn writable(&self) -> Result<&Forms, SinkError> {
        self.forms().map_err(|reason| {
            SinkError::Envelope(format!(
                "the envelope {} cannot be written: {reason}",
                self.envelope.id
            ))
        })
    }
}

impl Forms {
    fn of(envelope: &Envelope) -> Result<Self, String> {
        let hash_head = |head: &mut Vec<u8>| {
            head.clear();
            let hashed = canonical::head(head, envelope)
                .map_err(|e| format!("it has no canonical JSON to hash: {e}"))
                .map(|()| Sha256::new_with_prefix(&head));
            // One huge event does not keep its buffer for the thread's life.
            if head.capacity() > 64 * 1024 {
                *head = Vec::new();
            }
            hashed
        };
        let canonical_head = HEAD
            .try_with(|head| hash_head(&mut head.borrow_mut()))
            .unwrap_or_else(|_| hash_head(&mut Vec::new()))?;

        let mut bytes = Vec::with_capacity(1024);
        super::line::body(&mut bytes, envelope);
        let line_end = bytes.len();
        canonical::tail(&mut bytes, envelope);
        if bytes.capacity() - bytes.len() > 256 {
            bytes.shrink_to_fit();
        }
        Ok(Forms {
            bytes,
            line_end,
            canonical_head,
        })
    }

    /// The envelope's `hash` at chain position (`seq`, `prev_hash`): the same value as
    /// [`chain::hash_at`](crate::chain::hash_at).
    pub(crate) fn hash_at(&self, seq: u64, prev_hash: &str) -> String {
        let mut position = Vec::with_capacity(96);
        canonical::position(&mut position, seq, prev_hash);
        let mut hasher = self.canonical_head.clone();
        hasher.update(&position);
        hasher.update(&self.bytes[self.line_end..]);
        crate::chain::hex(&hasher.finalize())
    }

    /// The chain head after this envelope joins the chain at `head`.
    pub(crate) fn next(&self, head: &ChainHead) -> ChainHead {
        let seq = head.seq + 1;
        ChainHead {
            seq,
            hash: self.hash_at(seq, &head.hash),
        }
    }

    /// Joins the chain at `head`: appends the envelope's line at its position to `out` (no
    /// newline) and returns the new head.
    pub(crate) fn link(&self, head: &ChainHead, out: &mut Vec<u8>) -> ChainHead {
        let next = self.next(head);
        self.write_line(out, next.seq, &head.hash, &next.hash);
        next
    }

    /// Appends the envelope's compact JSON line at chain position (`seq`, `prev_hash`,
    /// `hash`), without a newline: the bytes `serde_json` writes for the envelope with those
    /// chain fields.
    pub(crate) fn write_line(&self, out: &mut Vec<u8>, seq: u64, prev_hash: &str, hash: &str) {
        out.extend_from_slice(&self.bytes[..self.line_end]);
        super::line::close(out, Some(seq), Some(prev_hash), Some(hash));
    }
}

#[cfg(test)]
mod tests {
    use super::Sealed;
    use crate::Context;
    use crate::chain::{self, GENESIS_HASH};
    use crate::envelope::fixture::tricky_envelope;

    /// The sealed forms give the bytes and hashes the plain envelope functions give.
    #[test]
    fn forms_agree_with_the_envelope_functions() {
        let contexts = [
            Context::new(),
            Context::new()
                .request_id("req-1")
                .ip("203.0.113.7".parse().unwrap())
                .with("é", "3"),
        ];
        for details in [
            "{}",
            r#"{"b":1.0,"a":[1e21,"x\u001f"],"c":{"z":null,"y":-0.0}}"#,
        ] {
            for context in &contexts {
                let e = tricky_envelope(details, context.clone(), Some("m \u{2028}"), true);
                let sealed = Sealed::new(e.clone());
                let forms = sealed.forms().unwrap();
                let mut prev = GENESIS_HASH.to_owned();
                for seq in [1, 9, 10, 12_345_678_901] {
                    let hash = forms.hash_at(seq, &prev);
                    assert_eq!(hash, chain::hash_at(&e, seq, &prev).unwrap());
                    let mut line = Vec::new();
                    forms.write_line(&mut line, seq, &prev, &hash);
                    let expected =
                        serde_json::to_vec(&e.view_at(Some(seq), Some(&prev), Some(&hash)))
                            .unwrap();
                    assert_eq!(
                        String::from_utf8(line).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                    prev = hash;
                }
            }
        }
    }

    #[test]
    fn an_envelope_without_canonical_json_is_an_error_not_a_panic() {
        let e = tricky_envelope(r#"{"n":1e999}"#, Context::new(), None, false);
        let sealed = Sealed::new(e);
        let err = sealed.forms().err().unwrap();
        assert!(err.contains("canonical JSON"), "{err}");
    }
}
