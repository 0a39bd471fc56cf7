//! [`NatsSink`]: publishes envelopes to a NATS JetStream stream (feature `nats`).

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use async_nats::Subject;
use async_nats::connection::State as ConnectionState;
use async_nats::jetstream::context::{
    CreateStreamErrorKind, GetStreamErrorKind, PublishError, PublishErrorKind,
};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, ErrorCode, stream};
use tokio::runtime::Runtime;

use crate::sink::{Batch, Sink, SinkError};
use crate::{Envelope, EventId};

/// The default stream name.
const DEFAULT_STREAM: &str = "AUDIT";
/// The default subject prefix.
const DEFAULT_PREFIX: &str = "audit";
/// The default duplicate window: how long the stream remembers an event ID.
const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_mins(10);
/// The default bound on one `write`: publishing a batch and awaiting its acknowledgements.
const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// The most publishes awaiting their acknowledgement at once.
const IN_FLIGHT: usize = 4096;
/// Messages serialized ahead of handing them to the connection.
const CHUNK: usize = 64;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A publish's acknowledgement, awaited.
type AckFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// Publishes each envelope to a NATS JetStream stream, deduplicated by event ID.
///
/// - **Subjects.** An envelope goes to `<prefix>.<action>` (`audit.widget.purchased` with
///   the default prefix `audit`): actions are dotted lowercase, which suits NATS subjects, so
///   a consumer can filter on `audit.widget.>`. The message is the envelope's compact JSON
///   ([`Envelope::to_json`](crate::Envelope::to_json)).
/// - **Exactly once.** Every message carries the event ID in the `Nats-Msg-Id` header, so the
///   stream drops a message whose ID it has seen within its *duplicate window*. A failed
///   [`write`](Sink::write) is retried by the [`Auditor`](crate::Auditor) with the same
///   batch; the events of the batch that did reach the stream are then dropped as
///   duplicates. This holds as long as the retry comes within the window: the sink sets it
///   to 10 minutes on the streams it creates ([`duplicate_window`](NatsSinkBuilder::duplicate_window)
///   changes it). An outage longer than the window may store an event twice, never lose one.
/// - **Acknowledged.** `write` publishes the whole batch (up to 4096 messages awaiting
///   acknowledgement at once), then awaits every acknowledgement, bounded by the
///   [ack timeout](NatsSinkBuilder::ack_timeout) (5 s by default). It returns `Ok` only when
///   the stream acknowledged every event, so `flush` has nothing left to do. While the
///   server is away, `write` fails at once (or at the timeout) with a [`NatsError`]: the
///   auditor reports it ([`Auditor::flush`](crate::Auditor::flush) returns it) and retries
///   until the client, which reconnects in the background, is back.
/// - **The stream** is created when missing: by default named `AUDIT`, capturing
///   `<prefix>.>`, file storage, no limits (nothing is discarded), and message deletion and
///   purging denied (`deny_delete`, `deny_purge`), as suits an audit log. Choose other
///   settings with [`stream_config`](NatsSinkBuilder::stream_config). An existing stream is
///   used as it is, with its own duplicate window; the sink only checks that it captures
///   `<prefix>.>`. If the stream is deleted while the sink runs, the next write creates it
///   again.
///
/// The sink owns a small tokio runtime (one worker thread, which keeps the connection alive
/// and reconnects between writes), so it works from synchronous code and beside any async
/// runtime. Durability is the stream's: with file storage, an acknowledged message is in
/// the server's files, which survives the server process dying; nats-server fsyncs them on
/// an interval (its `sync_interval`, 2 minutes by default in recent versions; `always` to
/// sync every write), so a machine crash can lose the last acknowledged messages of a
/// single-replica stream. A replicated stream (`num_replicas: 3`) acknowledges once a
/// quorum holds the message.
///
/// ```no_run
/// use std::time::Duration;
/// use audit_core::Auditor;
/// use audit_core::sink::NatsSink;
///
/// let sink = NatsSink::builder("nats://127.0.0.1:4222")
///     .subject_prefix("audit")
///     .stream("AUDIT")
///     .ack_timeout(Duration::from_secs(5))
///     .connect()?;
/// let auditor = Auditor::builder().sink(sink).background(10_000).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct NatsSink {
    /// Dropped last, after the client.
    runtime: Option<Runtime>,
    client: async_nats::Client,
    jetstream: jetstream::Context,
    /// The server addresses, without credentials.
    url: String,
    prefix: String,
    config: stream::Config,
    ack_timeout: Duration,
}

/// Builds a [`NatsSink`]: [`NatsSink::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use audit_core::sink::NatsSink;
/// use audit_core::sink::async_nats::jetstream::stream::{Config, StorageType};
///
/// let sink = NatsSink::builder("nats://127.0.0.1:4222")
///     .subject_prefix("acme.audit")
///     .stream("ACME_AUDIT")
///     .stream_config(Config {
///         storage: StorageType::File,
///         num_replicas: 3,
///         max_age: Duration::from_secs(400 * 24 * 3600),
///         ..Default::default()
///     })
///     .duplicate_window(Duration::from_secs(3600))
///     .connect()?;
/// # Ok::<(), audit_core::sink::NatsError>(())
/// ```
#[must_use]
pub struct NatsSinkBuilder {
    url: String,
    prefix: String,
    stream: String,
    config: Option<stream::Config>,
    duplicate_window: Option<Duration>,
    ack_timeout: Duration,
    options: Option<async_nats::ConnectOptions>,
}

impl NatsSink {
    /// Connects to the server(s) at `url` (`nats://host:4222`, several separated by commas)
    /// with the defaults: subject prefix `audit`, stream `AUDIT`, created if missing.
    ///
    /// ```no_run
    /// use audit_core::sink::NatsSink;
    ///
    /// let sink = NatsSink::connect("nats://127.0.0.1:4222")?;
    /// assert_eq!(sink.subject("user.logged_in"), "audit.user.logged_in");
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`NatsSinkBuilder::connect`].
    pub fn connect(url: impl Into<String>) -> Result<NatsSink, NatsError> {
        NatsSink::builder(url).connect()
    }

    /// A builder, to choose the subjects, the stream and its settings.
    ///
    /// ```
    /// use audit_core::sink::NatsSink;
    ///
    /// let builder = NatsSink::builder("nats://127.0.0.1:4222").stream("AUDIT");
    /// ```
    pub fn builder(url: impl Into<String>) -> NatsSinkBuilder {
        NatsSinkBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            config: None,
            duplicate_window: None,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            options: None,
        }
    }

    /// The stream's name.
    ///
    /// ```no_run
    /// # let sink = audit_core::sink::NatsSink::connect("nats://127.0.0.1:4222")?;
    /// assert_eq!(sink.stream(), "AUDIT");
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    #[must_use]
    pub fn stream(&self) -> &str {
        &self.config.name
    }

    /// The subject prefix.
    ///
    /// ```no_run
    /// # let sink = audit_core::sink::NatsSink::connect("nats://127.0.0.1:4222")?;
    /// assert_eq!(sink.subject_prefix(), "audit");
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    #[must_use]
    pub fn subject_prefix(&self) -> &str {
        &self.prefix
    }

    /// The subject the envelopes of `action` go to: `<prefix>.<action>`.
    ///
    /// ```no_run
    /// # let sink = audit_core::sink::NatsSink::connect("nats://127.0.0.1:4222")?;
    /// assert_eq!(sink.subject("widget.purchased"), "audit.widget.purchased");
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    #[must_use]
    pub fn subject(&self, action: &str) -> String {
        format!("{}.{action}", self.prefix)
    }

    /// The settings the sink creates its stream with when it is missing.
    ///
    /// ```no_run
    /// # let sink = audit_core::sink::NatsSink::connect("nats://127.0.0.1:4222")?;
    /// assert_eq!(sink.stream_config().subjects, ["audit.>"]);
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    #[must_use]
    pub fn stream_config(&self) -> &stream::Config {
        &self.config
    }

    fn runtime(&self) -> Result<&Runtime, NatsError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| NatsError::Runtime(io::Error::other("the sink's runtime is shut down")))
    }

    /// Publishes the batch and awaits its acknowledgements, creating the stream again (once)
    /// if it has gone.
    async fn publish_batch(&self, batch: Batch<'_>) -> Result<(), NatsError> {
        for envelope in batch.iter() {
            if !valid_subject(&envelope.action) {
                return Err(NatsError::Subject {
                    id: envelope.id,
                    action: envelope.action.to_string(),
                });
            }
        }
        match self.publish_with_timeout(batch).await {
            Err(NatsError::NoStream { .. }) => {
                ensure_stream(&self.jetstream, &self.config, &self.prefix, &self.url).await?;
                self.publish_with_timeout(batch).await
            }
            result => result,
        }
    }

    async fn publish_with_timeout(&self, batch: Batch<'_>) -> Result<(), NatsError> {
        if self.client.connection_state() == ConnectionState::Disconnected {
            return Err(NatsError::Disconnected {
                url: self.url.clone(),
                events: batch.len(),
            });
        }
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        self.publish_all(batch, deadline).await
    }

    /// Publishes the batch, then awaits every acknowledgement, all before `deadline`.
    async fn publish_all(
        &self,
        batch: Batch<'_>,
        deadline: tokio::time::Instant,
    ) -> Result<(), NatsError> {
        let envelopes: Vec<&Envelope> = batch.iter().collect();
        let mut pending: VecDeque<(&Envelope, AckFuture)> =
            VecDeque::with_capacity(envelopes.len().min(IN_FLIGHT));
        let mut acked = 0;
        // Batches mostly hold a few actions: build each subject once.
        let mut subjects: Vec<(&str, Subject)> = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        for envelopes in envelopes.chunks(CHUNK) {
            // Serialize a chunk, then hand it to the connection in a burst: its task then wakes
            // once per chunk rather than once per message.
            chunk.clear();
            for &envelope in envelopes {
                let action: &str = &envelope.action;
                let subject =
                    if let Some((_, subject)) = subjects.iter().find(|(a, _)| *a == action) {
                        subject.clone()
                    } else {
                        let subject = Subject::from(self.subject(action));
                        if subjects.len() < 64 {
                            subjects.push((action, subject.clone()));
                        }
                        subject
                    };
                let message = PublishMessage::build()
                    .payload(envelope.to_json().into())
                    .message_id(&*envelope.id.encode());
                chunk.push((envelope, subject, message));
            }
            for (envelope, subject, message) in chunk.drain(..) {
                if pending.len() >= IN_FLIGHT
                    && let Some((envelope, mut ack)) = pending.pop_front()
                {
                    match tokio::time::timeout_at(deadline, ack.as_mut()).await {
                        Ok(result) => self.settle(envelope, result)?,
                        Err(_) => return Err(self.timeout(batch.len(), acked, &mut pending).await),
                    }
                    acked += 1;
                }
                let sent = tokio::time::timeout_at(
                    deadline,
                    self.jetstream.send_publish(subject, message),
                )
                .await;
                let ack = match sent {
                    Ok(Ok(ack)) => ack,
                    Ok(Err(e)) => {
                        return Err(NatsError::Publish {
                            id: envelope.id,
                            subject: self.subject(&envelope.action),
                            source: Box::new(e),
                        });
                    }
                    Err(_) => return Err(self.timeout(batch.len(), acked, &mut pending).await),
                };
                pending.push_back((envelope, ack.into_future()));
            }
        }
        // The stream acknowledges in publish order: wait for the last acknowledgement (one
        // wake-up for the batch), then collect the others, which are there by then.
        let last = match pending.back_mut() {
            Some((_, ack)) => match tokio::time::timeout_at(deadline, ack.as_mut()).await {
                Ok(result) => Some(result),
                Err(_) => return Err(self.timeout(batch.len(), acked, &mut pending).await),
            },
            None => None,
        };
        if let (Some(result), Some((envelope, _))) = (last, pending.pop_back()) {
            self.settle(envelope, result)?;
            acked += 1;
        }
        while let Some((envelope, mut ack)) = pending.pop_front() {
            let Ok(result) = tokio::time::timeout_at(deadline, ack.as_mut()).await else {
                pending.push_front((envelope, ack));
                return Err(self.timeout(batch.len(), acked, &mut pending).await);
            };
            self.settle(envelope, result)?;
            acked += 1;
        }
        Ok(())
    }

    /// The error for a batch not acknowledged in time, counting the acknowledgements already
    /// received among the pending ones.
    async fn timeout(
        &self,
        events: usize,
        acked: usize,
        pending: &mut VecDeque<(&Envelope, AckFuture)>,
    ) -> NatsError {
        // Poll each once, outside tokio's cooperative budget (which would make the later ones
        // look pending).
        let arrived = tokio::task::unconstrained(std::future::poll_fn(|_| {
            let mut cx = TaskContext::from_waker(Waker::noop());
            let arrived = pending
                .iter_mut()
                .map(|(_, ack)| ack.as_mut().poll(&mut cx))
                .filter(|poll| matches!(poll, Poll::Ready(Ok(_))))
                .count();
            Poll::Ready(arrived)
        }))
        .await;
        NatsError::Timeout {
            url: self.url.clone(),
            waited: self.ack_timeout,
            acknowledged: acked + arrived,
            events,
        }
    }

    /// Checks one acknowledgement.
    fn settle(
        &self,
        envelope: &Envelope,
        ack: Result<PublishAck, PublishError>,
    ) -> Result<(), NatsError> {
        match ack {
            Ok(ack) if ack.stream == self.config.name => Ok(()),
            Ok(ack) => Err(NatsError::WrongStream {
                id: envelope.id,
                subject: self.subject(&envelope.action),
                expected: self.config.name.clone(),
                found: ack.stream,
            }),
            Err(e) if e.kind() == PublishErrorKind::StreamNotFound => Err(NatsError::NoStream {
                stream: self.config.name.clone(),
                subject: self.subject(&envelope.action),
            }),
            Err(e) => Err(NatsError::Publish {
                id: envelope.id,
                subject: self.subject(&envelope.action),
                source: Box::new(e),
            }),
        }
    }
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("url", &self.url)
            .field("stream", &self.config.name)
            .field("subject_prefix", &self.prefix)
            .field("ack_timeout", &self.ack_timeout)
            .field("connection", &self.client.connection_state())
            .finish_non_exhaustive()
    }
}

impl Sink for NatsSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let this = &*self;
        block_on(this.runtime()?, this.publish_batch(batch))?.map_err(SinkError::from)
    }

    /// Does nothing: a write returns once the stream acknowledged every event.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// `nats:<stream>`.
    fn name(&self) -> String {
        format!("nats:{}", self.config.name)
    }
}

impl Drop for NatsSink {
    fn drop(&mut self) {
        // Every write was acknowledged: nothing is left to send. Stop the connection's tasks
        // without waiting (allowed even inside an async context).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl NatsSinkBuilder {
    /// The subject prefix (default `audit`): envelopes go to `<prefix>.<action>`. One or more
    /// dot-separated tokens, without spaces or wildcards (`*`, `>`).
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The stream's name (default `AUDIT`); no spaces, `.`, `*` or `>`.
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The settings to create the stream with when it is missing; an existing stream keeps
    /// its own. The `name` is replaced by the one given to [`stream`](Self::stream); empty
    /// `subjects` become `<prefix>.>` (others must capture `<prefix>.>`); a zero
    /// `duplicate_window` becomes 10 minutes. The type is async-nats's, re-exported as
    /// [`audit_core::sink::async_nats`](crate::sink::async_nats).
    ///
    /// Without it, the stream is created with async-nats's defaults (file storage, one
    /// replica, no limits) plus `deny_delete` and `deny_purge`.
    pub fn stream_config(mut self, config: stream::Config) -> Self {
        self.config = Some(config);
        self
    }

    /// How long the stream remembers an event ID to drop a duplicate (default 10 minutes):
    /// longer than any outage you expect the auditor to retry through. Applies when the sink
    /// creates the stream, over the `duplicate_window` of [`stream_config`](Self::stream_config).
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = Some(window);
        self
    }

    /// The bound on one write: publishing a batch and awaiting every acknowledgement
    /// (default 5 s). The stream requests (reading or creating it) get a second more.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Connection options: credentials, TLS, reconnect delays, names. Features of
    /// async-nats beyond `jetstream` (such as `nkeys` for credentials files) are enabled by
    /// depending on `async-nats` with them. The default options reconnect forever.
    ///
    /// ```no_run
    /// use audit_core::sink::{NatsSink, async_nats::ConnectOptions};
    ///
    /// let sink = NatsSink::builder("nats://127.0.0.1:4222")
    ///     .connect_options(ConnectOptions::new().name("billing-audit"))
    ///     .connect()?;
    /// # Ok::<(), audit_core::sink::NatsError>(())
    /// ```
    pub fn connect_options(mut self, options: async_nats::ConnectOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// Connects, and creates the stream if it is missing.
    ///
    /// # Errors
    ///
    /// A [`NatsError`]: [`Config`](NatsError::Config) for an invalid prefix, stream name or
    /// subjects; [`Connect`](NatsError::Connect) when no server answers;
    /// [`Stream`](NatsError::Stream) when the stream cannot be read or created (JetStream
    /// not enabled, for instance); [`StreamSubjects`](NatsError::StreamSubjects) when an
    /// existing stream does not capture `<prefix>.>`.
    pub fn connect(self) -> Result<NatsSink, NatsError> {
        if !valid_subject(&self.prefix) {
            return Err(NatsError::Config(format!(
                "the subject prefix must be dot-separated tokens without spaces or wildcards \
                 (such as `audit`), found {:?}",
                self.prefix
            )));
        }
        if !valid_stream_name(&self.stream) {
            return Err(NatsError::Config(format!(
                "the stream name must be non-empty, without spaces, `.`, `*`, `>`, `/` or `\\`, \
                 found {:?}",
                self.stream
            )));
        }
        let mut config = self.config.unwrap_or_else(|| stream::Config {
            description: Some("Audit events (audit-core)".to_owned()),
            deny_delete: true,
            deny_purge: true,
            ..stream::Config::default()
        });
        config.name.clone_from(&self.stream);
        let wanted = format!("{}.>", self.prefix);
        if config.subjects.is_empty() {
            config.subjects = vec![wanted];
        } else if !config.subjects.iter().any(|s| covers(s, &self.prefix)) {
            return Err(NatsError::Config(format!(
                "the stream's subjects must capture `{wanted}`, found {:?}",
                config.subjects
            )));
        }
        config.duplicate_window = match self.duplicate_window {
            Some(window) => window,
            None if config.duplicate_window.is_zero() => DEFAULT_DUPLICATE_WINDOW,
            None => config.duplicate_window,
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("audit-nats")
            .enable_all()
            .build()
            .map_err(NatsError::Runtime)?;
        let url = redact(&self.url);
        let options = self.options.unwrap_or_default();
        let ack_timeout = self.ack_timeout;
        let connected = block_on(&runtime, async {
            let client =
                options
                    .connect(self.url.as_str())
                    .await
                    .map_err(|e| NatsError::Connect {
                        url: url.clone(),
                        source: Box::new(e),
                    })?;
            // The sink's own deadline (`ack_timeout`) bounds a write; async-nats's, a second
            // later, only bounds what outlives it (and the stream requests).
            let jetstream = jetstream::ContextBuilder::new()
                .timeout(ack_timeout + Duration::from_secs(1))
                .ack_timeout(ack_timeout + Duration::from_secs(1))
                .max_ack_inflight(IN_FLIGHT)
                .backpressure_on_inflight(true)
                .build(client.clone());
            ensure_stream(&jetstream, &config, &self.prefix, &url).await?;
            Ok((client, jetstream))
        });
        let (client, jetstream) = match connected {
            Ok(Ok(connected)) => connected,
            Ok(Err(e)) | Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        Ok(NatsSink {
            runtime: Some(runtime),
            client,
            jetstream,
            url,
            prefix: self.prefix,
            config,
            ack_timeout,
        })
    }
}

impl fmt::Debug for NatsSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSinkBuilder")
            .field("url", &redact(&self.url))
            .field("stream", &self.stream)
            .field("subject_prefix", &self.prefix)
            .field("stream_config", &self.config)
            .field("duplicate_window", &self.duplicate_window)
            .field("ack_timeout", &self.ack_timeout)
            .finish_non_exhaustive()
    }
}

/// Creates the stream. A server-side failure to create its store (`STREAM_CREATE`, status
/// 500) is retried a few times: a server that has just deleted the account's last stream
/// removes the account's store directory, and a creation that races with that cleanup fails
/// once, then succeeds.
async fn create_stream(
    jetstream: &jetstream::Context,
    config: &stream::Config,
) -> Result<(), jetstream::context::CreateStreamError> {
    let mut delay = Duration::from_millis(20);
    let mut attempts = 1;
    loop {
        match jetstream.create_stream(config.clone()).await {
            Ok(_) => return Ok(()),
            Err(e)
                if attempts < 4
                    && matches!(
                        e.kind(),
                        CreateStreamErrorKind::JetStream(ref js)
                            if js.error_code() == ErrorCode::STREAM_CREATE && js.code() >= 500
                    ) =>
            {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads the stream's settings, or creates it; checks that it captures `<prefix>.>`.
async fn ensure_stream(
    jetstream: &jetstream::Context,
    config: &stream::Config,
    prefix: &str,
    url: &str,
) -> Result<(), NatsError> {
    let stream_error = |doing: &'static str, source: BoxError| NatsError::Stream {
        stream: config.name.clone(),
        url: url.to_owned(),
        doing,
        source,
    };
    let found = match jetstream.get_stream(&config.name).await {
        Ok(stream) => stream.cached_info().config.subjects.clone(),
        Err(e) => {
            let missing = matches!(
                e.kind(),
                GetStreamErrorKind::JetStream(ref js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND
            );
            if !missing {
                return Err(stream_error("reading the settings of", Box::new(e)));
            }
            match create_stream(jetstream, config).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let exists = matches!(
                        e.kind(),
                        CreateStreamErrorKind::JetStream(ref js) if js.error_code() == ErrorCode::STREAM_NAME_EXIST
                    );
                    if !exists {
                        return Err(stream_error("creating", Box::new(e)));
                    }
                    // Created meanwhile by another process: use it.
                    jetstream
                        .get_stream(&config.name)
                        .await
                        .map_err(|e| stream_error("reading the settings of", Box::new(e)))?
                        .cached_info()
                        .config
                        .subjects
                        .clone()
                }
            }
        }
    };
    if found.iter().any(|s| covers(s, prefix)) {
        Ok(())
    } else {
        Err(NatsError::StreamSubjects {
            stream: config.name.clone(),
            expected: format!("{prefix}.>"),
            found,
        })
    }
}

/// Runs `future` on the sink's runtime. Inside an async context (a user's `#[tokio::main]`),
/// where tokio forbids blocking the thread on another runtime, blocks a helper thread instead.
fn block_on<F>(runtime: &Runtime, future: F) -> Result<F::Output, NatsError>
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(runtime.block_on(future));
    }
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("audit-nats-block".to_owned())
            .spawn_scoped(scope, || runtime.block_on(future))
            .map_err(NatsError::Runtime)?;
        match helper.join() {
            Ok(output) => Ok(output),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Whether `s` is a subject without wildcards: dot-separated non-empty tokens of printable
/// characters other than `*` and `>`.
fn valid_subject(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b > b' ' && b != 0x7f && b != b'*' && b != b'>')
        })
}

fn valid_stream_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b > b' ' && b != 0x7f && !matches!(b, b'.' | b'*' | b'>' | b'/' | b'\\'))
}

/// Whether the stream subject `filter` captures every subject `<prefix>.<token>...`.
fn covers(filter: &str, prefix: &str) -> bool {
    let mut tokens = filter.split('.');
    for wanted in prefix.split('.') {
        match tokens.next() {
            Some(">") => return true,
            Some(token) if token == "*" || token == wanted => {}
            _ => return false,
        }
    }
    tokens.next() == Some(">") && tokens.next().is_none()
}

/// The server addresses without credentials (`nats://user:pass@host` shows as
/// `nats://***@host`), for messages.
fn redact(url: &str) -> String {
    url.split(',')
        .map(|server| {
            let server = server.trim();
            let (scheme, rest) = match server.find("://") {
                Some(i) => server.split_at(i + 3),
                None => ("", server),
            };
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority.rfind('@') {
                Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
                None => server.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Why the [`NatsSink`] could not connect or publish. Each message names the server (without
/// credentials) or the stream, and what was expected.
#[derive(Debug)]
#[non_exhaustive]
pub enum NatsError {
    /// The builder's settings are invalid.
    Config(String),
    /// The sink's runtime could not start.
    Runtime(io::Error),
    /// No server answered.
    Connect {
        /// The server addresses, without credentials.
        url: String,
        /// What async-nats said.
        source: BoxError,
    },
    /// The stream could not be read or created.
    Stream {
        /// The stream.
        stream: String,
        /// The server addresses, without credentials.
        url: String,
        /// What the sink was doing.
        doing: &'static str,
        /// What the server or async-nats said.
        source: BoxError,
    },
    /// The existing stream does not capture the sink's subjects.
    StreamSubjects {
        /// The stream.
        stream: String,
        /// The subjects the sink publishes to (`<prefix>.>`).
        expected: String,
        /// The stream's subjects.
        found: Vec<String>,
    },
    /// The client is not connected (it reconnects in the background).
    Disconnected {
        /// The server addresses, without credentials.
        url: String,
        /// The events of the batch.
        events: usize,
    },
    /// The batch was not acknowledged in time.
    Timeout {
        /// The server addresses, without credentials.
        url: String,
        /// The ack timeout.
        waited: Duration,
        /// How many events of the batch were acknowledged.
        acknowledged: usize,
        /// The events of the batch.
        events: usize,
    },
    /// A publish failed or was refused.
    Publish {
        /// The event.
        id: EventId,
        /// Its subject.
        subject: String,
        /// What the server or async-nats said.
        source: BoxError,
    },
    /// No stream captures the subject: the stream was deleted (and could not be created
    /// again).
    NoStream {
        /// The stream the sink expected.
        stream: String,
        /// The subject.
        subject: String,
    },
    /// Another stream than the sink's acknowledged the event.
    WrongStream {
        /// The event.
        id: EventId,
        /// Its subject.
        subject: String,
        /// The sink's stream.
        expected: String,
        /// The stream that acknowledged.
        found: String,
    },
    /// An envelope's action is not a valid subject token sequence.
    Subject {
        /// The event.
        id: EventId,
        /// Its action.
        action: String,
    },
}

impl fmt::Display for NatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsError::Config(why) => write!(f, "invalid NATS sink settings: {why}"),
            NatsError::Runtime(e) => write!(f, "cannot start the NATS sink's runtime: {e}"),
            NatsError::Connect { url, source } => {
                write!(f, "cannot connect to NATS at {url}: {source}")
            }
            NatsError::Stream {
                stream,
                url,
                doing,
                source,
            } => write!(
                f,
                "{doing} JetStream stream `{stream}` on {url}: {source} (is JetStream enabled \
                 on the server?)"
            ),
            NatsError::StreamSubjects {
                stream,
                expected,
                found,
            } => write!(
                f,
                "JetStream stream `{stream}` does not capture the sink's subjects: expected a \
                 subject covering `{expected}`, found {found:?}"
            ),
            NatsError::Disconnected { url, events } => write!(
                f,
                "not connected to NATS at {url} (reconnecting): {events} events wait to be \
                 published"
            ),
            NatsError::Timeout {
                url,
                waited,
                acknowledged,
                events,
            } => write!(
                f,
                "NATS at {url} did not acknowledge the batch within {waited:?}: expected \
                 {events} acknowledgements, received {acknowledged}"
            ),
            NatsError::Publish {
                id,
                subject,
                source,
            } => write!(f, "publishing {id} to `{subject}` failed: {source}"),
            NatsError::NoStream { stream, subject } => write!(
                f,
                "no JetStream stream captures `{subject}`: expected stream `{stream}`, which \
                 is missing and could not be created again"
            ),
            NatsError::WrongStream {
                id,
                subject,
                expected,
                found,
            } => write!(
                f,
                "{id} on `{subject}` was stored by stream `{found}`, expected `{expected}`"
            ),
            NatsError::Subject { id, action } => write!(
                f,
                "{id}: the action {action:?} is not a valid NATS subject: expected dotted \
                 lowercase tokens"
            ),
        }
    }
}

impl std::error::Error for NatsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NatsError::Runtime(e) => Some(e),
            NatsError::Connect { source, .. }
            | NatsError::Stream { source, .. }
            | NatsError::Publish { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl From<NatsError> for SinkError {
    fn from(e: NatsError) -> Self {
        match e {
            NatsError::Subject { .. } => SinkError::Envelope(e.to_string()),
            e => SinkError::other(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{covers, redact, valid_stream_name, valid_subject};

    #[test]
    fn subjects() {
        assert!(valid_subject("audit"));
        assert!(valid_subject("acme.audit"));
        assert!(valid_subject("widget.purchased"));
        for bad in ["", ".", "a.", ".a", "a..b", "a b", "a.*", "a.>", "a\tb"] {
            assert!(!valid_subject(bad), "{bad:?}");
        }
        assert!(valid_stream_name("AUDIT_1"));
        for bad in ["", "A.B", "A B", "A*", "A>", "A/B"] {
            assert!(!valid_stream_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn coverage() {
        assert!(covers("audit.>", "audit"));
        assert!(covers(">", "audit"));
        assert!(covers("*.>", "audit"));
        assert!(covers("acme.>", "acme.audit"));
        assert!(covers("acme.*.>", "acme.audit"));
        assert!(!covers("audit.*", "audit"));
        assert!(!covers("audit", "audit"));
        assert!(!covers("other.>", "audit"));
        assert!(!covers("audit.user.>", "audit"));
        assert!(!covers("acme.audit.x.>", "acme.audit"));
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("nats://u:p@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("u:p@h,nats://x"), "***@h,nats://x");
    }
}
