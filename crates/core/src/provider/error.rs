//! The one error type every provider speaks. Human-readable through
//! `Display`, actionable through its variants and [`ProviderError::is_retryable`].

use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ProviderError {
    #[error("{what} was not found at the provider")]
    NotFound { what: String },

    #[error("the provider rejected the credentials: {message}")]
    Auth { message: String },

    #[error("the provider could not be reached: {message}")]
    Unreachable { message: String },

    /// TLS: the server's certificate is not trusted, or not the pinned one.
    #[error("the provider's certificate is not trusted: {message}")]
    Untrusted { message: String },

    #[error("the provider did not answer within {}s", .after.as_secs_f32())]
    Timeout { after: Duration },

    #[error("the provider is throttling requests{}", retry_hint(.retry_after))]
    Throttled { retry_after: Option<Duration> },

    #[error("the provider refused: {message}")]
    InvalidState { message: String },

    #[error("this provider cannot {action}")]
    Unsupported { action: String },

    #[error("the provider sent data Powerdeck cannot use: {message}")]
    Malformed { message: String },

    #[error("the provider reported {code}: {message}")]
    Provider { code: String, message: String, retryable: bool },
}

fn retry_hint(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!(" (asked to wait {}s)", d.as_secs_f32().ceil()),
        None => String::new(),
    }
}

impl ProviderError {
    /// Whether repeating the same call later can succeed without anyone
    /// changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Throttled { .. } => true,
            Self::Provider { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether the request certainly never took effect, so even a call that
    /// changes something (submitting a power action) is safe to send again.
    pub fn certainly_not_executed(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unreachable { .. })
    }

    /// The provider itself is out of reach (as opposed to refusing this one
    /// request): the account's VMs must be marked stale.
    pub fn means_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. } | Self::Auth { .. } | Self::Untrusted { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } => *retry_after,
            _ => None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::Malformed { message: message.into() }
    }
}
