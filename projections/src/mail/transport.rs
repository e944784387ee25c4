//! Where rendered messages go: an SMTP relay (`PRISM_SMTP_URL`, e.g. `smtp://host:25` or
//! `smtps://user:pass@host`), or `.eml` files in a folder when there is none.

use std::path::PathBuf;

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Sends one message; the error says why not (kept on the outbox row, never the message).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, message: Message) -> Result<(), String>;
}

pub struct SmtpTransport(AsyncSmtpTransport<Tokio1Executor>);

impl SmtpTransport {
    /// From a URL: `smtp://host:port` (plain, for a local relay), `smtp://…?tls=required`
    /// (STARTTLS) or `smtps://…` (TLS); credentials in the URL's user and password.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("PRISM_SMTP_URL: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Self(t))
    }
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, message: Message) -> Result<(), String> {
        self.0.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Writes each message as `<id>.eml` in a folder (created if missing).
pub struct FileTransport {
    dir: PathBuf,
    inner: AsyncFileTransport<Tokio1Executor>,
}

impl FileTransport {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            inner: AsyncFileTransport::new(&dir),
            dir,
        }
    }
}

#[async_trait::async_trait]
impl Transport for FileTransport {
    async fn send(&self, message: Message) -> Result<(), String> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| e.to_string())?;
        let id = self.inner.send(message).await.map_err(|e| e.to_string())?;
        tracing::info!(path = %self.dir.join(format!("{id}.eml")).display(), "mail written to the outbox folder");
        Ok(())
    }
}
