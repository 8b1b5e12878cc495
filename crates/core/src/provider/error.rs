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

    /// No connection could be made: nothing was sent.
    #[error("the provider could not be reached: {message}")]
    Unreachable { message: String },

    /// The request went out, but its answer was lost (the connection broke
    /// after sending, or a gateway answered in the provider's place). A
    /// read may be asked again; a power request must not be re-sent
    /// blindly: it may have happened.
    #[error("no answer came back from the provider: {message}")]
    OutcomeUnknown { message: String },

    /// TLS: the server's certificate is not trusted, or not the pinned one.
    /// `presented`: the SHA-256 thumbprint the server shows, when known, so
    /// a front end can offer to compare and pin it.
    #[error("the provider's certificate is not trusted: {message}")]
    Untrusted { message: String, presented: Option<String> },

    /// The request was sent and no answer came in time: within `after` for
    /// each of `attempts` tries, `waited` in all (retries and pauses).
    #[error("the provider did not answer within {}s{}", .after.as_secs_f32(), tries_hint(*.attempts, *.waited))]
    Timeout { after: Duration, attempts: u32, waited: Duration },

    /// The account's settings cannot work (a URL that is not one, a client
    /// that cannot be set up): nothing to retry until someone changes them.
    #[error("the account's settings cannot work: {message}")]
    Config { message: String },

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

fn tries_hint(attempts: u32, waited: Duration) -> String {
    if attempts > 1 {
        format!(" (tried {attempts} times over {} s)", waited.as_secs())
    } else {
        String::new()
    }
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
            Self::Unreachable { .. } | Self::OutcomeUnknown { .. } | Self::Timeout { .. } | Self::Throttled { .. } => true,
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
        matches!(
            self,
            Self::Unreachable { .. } | Self::OutcomeUnknown { .. } | Self::Timeout { .. } | Self::Auth { .. } | Self::Untrusted { .. } | Self::Config { .. }
        )
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

    /// Whether a power request that failed this way may have taken effect
    /// anyway (so the VM must be read before anything is sent again).
    pub fn may_have_executed(&self) -> bool {
        matches!(self, Self::OutcomeUnknown { .. } | Self::Timeout { .. })
    }

    /// What kind of failure this is, for front ends that react to kinds
    /// rather than read text.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not-found",
            Self::Auth { .. } => "auth",
            Self::Unreachable { .. } => "unreachable",
            Self::OutcomeUnknown { .. } => "outcome-unknown",
            Self::Untrusted { .. } => "untrusted",
            Self::Timeout { .. } => "timeout",
            Self::Config { .. } => "configuration",
            Self::Throttled { .. } => "throttled",
            Self::InvalidState { .. } => "invalid-state",
            Self::Unsupported { .. } => "unsupported",
            Self::Malformed { .. } => "malformed",
            Self::Provider { .. } => "provider",
        }
    }
}
