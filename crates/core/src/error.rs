//! Errors a front end shows to a person: one clear sentence each.

use crate::model::Operation;
use crate::provider::kind::FieldError;
use crate::provider::ProviderError;
use crate::reconcile::ReconcileError;
use crate::secrets::SecretError;
use crate::store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    #[error("no VM matches '{0}'")]
    UnknownVm(String),
    #[error("'{reference}' matches {} VMs: {}; use an id or account/name", .candidates.len(), .candidates.join(", "))]
    AmbiguousVm { reference: String, candidates: Vec<String> },
    #[error("there is no account named '{0}'")]
    UnknownAccount(String),
    /// A group, runbook or schedule named by the user that does not exist.
    #[error("there is no {what} named '{name}'")]
    NotFound { what: &'static str, name: String },
    #[error("an account named '{0}' already exists")]
    AccountExists(String),
    #[error("unknown account kind '{kind}' (known: {known})")]
    UnknownKind { kind: String, known: String },
    #[error("{vm} already has a {} operation in flight (#{}, {}); wait for it to finish", .op.kind, .op.id, .op.phase.as_str())]
    InFlight { vm: String, op: Box<Operation> },
    #[error("{vm}: {provider} accounts cannot {action}")]
    Unsupported { vm: String, provider: String, action: String },
    #[error("{0}")]
    Invalid(String),
    /// An operation with no verified end past its deadline: whoever tracks
    /// it cannot record the end (`reason`), or stopped.
    #[error("{vm}: the {kind} operation (#{op}) has no verified end {past_s} s past its deadline: {reason}")]
    Unfinished { op: i64, vm: String, kind: String, past_s: i64, reason: String },
    /// Settings that cannot work, one message per field.
    #[error("invalid {kind} settings: {}", .errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    InvalidSettings { kind: &'static str, errors: Vec<FieldError> },
    #[error("account '{account}': {source}")]
    Provider { account: String, source: ProviderError },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("account '{account}': {source}")]
    Reconcile { account: String, source: ReconcileError },
}

impl CoreError {
    pub fn not_found(what: &'static str, name: &str) -> Self {
        Self::NotFound { what, name: name.to_string() }
    }

    pub fn provider(account: &str, source: ProviderError) -> Self {
        Self::Provider { account: account.to_string(), source }
    }

    /// What kind of failure this is, so a front end can react to the kind
    /// (offer "Fix", "Retry with force", "Trust") instead of reading text.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownVm(_) | Self::UnknownAccount(_) | Self::NotFound { .. } => "not-found",
            Self::AmbiguousVm { .. } => "ambiguous",
            Self::AccountExists(_) => "exists",
            Self::UnknownKind { .. } | Self::Invalid(_) | Self::InvalidSettings { .. } => "invalid",
            Self::InFlight { .. } => "in-flight",
            Self::Unfinished { .. } => "unfinished",
            Self::Unsupported { .. } => "unsupported",
            Self::Provider { source, .. } => source.kind(),
            Self::Secret(_) => "secret",
            Self::Store(_) => "store",
            Self::Reconcile { .. } => "malformed",
        }
    }
}
