//! Each account's health as this process sees it: whether its provider
//! answers, and if not, since when and why. It changes only through the one
//! door every provider call already passes (`note_contact`,
//! `note_failure`), and an [`Event::AccountHealth`] goes out on each change
//! of status (not on every call), so a front end can show a banner the
//! moment an account breaks and take it down the moment it is back.

use super::{AccountRuntime, Engine};
use crate::events::Event;
use crate::model::{now_ms, Millis};
use crate::provider::ProviderError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Health {
    /// `ok`; `unknown` before the first contact; otherwise what is wrong:
    /// `unreachable`, `auth` (credentials refused), `untrusted` (the
    /// certificate is not trusted or changed), `configuration` (settings
    /// that cannot work), `throttled`, `malformed` (answers that cannot be
    /// read), `failing` (server errors on reading the inventory, past retries).
    pub status: &'static str,
    /// When the current status began (`None` while unknown).
    pub since: Option<Millis>,
    /// The last failure's sentence and time, kept after recovery.
    pub last_error: Option<String>,
    pub last_error_at: Option<Millis>,
}

impl Default for Health {
    fn default() -> Self {
        Self { status: "unknown", since: None, last_error: None, last_error_at: None }
    }
}

/// Each status in words, and whether it needs a person: the one table every
/// front end uses (served with the vocabulary).
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct HealthWord {
    pub status: &'static str,
    pub label: &'static str,
    pub broken: bool,
}

/// The provider answers, but only with server errors, even after retries.
pub const FAILING: &str = "failing";

pub const HEALTH_WORDS: [HealthWord; 9] = [
    HealthWord { status: "ok", label: "OK", broken: false },
    HealthWord { status: "unknown", label: "Connecting…", broken: false },
    HealthWord { status: "unreachable", label: "cannot be reached", broken: true },
    HealthWord { status: "auth", label: "credentials refused", broken: true },
    HealthWord { status: "untrusted", label: "certificate not trusted (it may have changed)", broken: true },
    HealthWord { status: "configuration", label: "settings cannot work", broken: true },
    HealthWord { status: "throttled", label: "throttling requests", broken: false },
    HealthWord { status: "malformed", label: "answers cannot be read", broken: true },
    HealthWord { status: FAILING, label: "answers with server errors", broken: true },
];

/// A status in words ("cannot be reached").
pub fn health_label(status: &str) -> &'static str {
    HEALTH_WORDS.iter().find(|w| w.status == status).map_or("in an unknown state", |w| w.label)
}

impl Health {
    /// Whether the account needs a person (a banner, a notification).
    pub fn is_broken(&self) -> bool {
        HEALTH_WORDS.iter().any(|w| w.status == self.status && w.broken)
    }

    /// One line for a terminal: "answering again", "cannot be reached: connection refused".
    pub fn summary(&self) -> String {
        let what = match self.status {
            "ok" => return "answering again".into(),
            "unknown" => return "not contacted yet".into(),
            other => health_label(other),
        };
        match &self.last_error {
            Some(e) => format!("{what}: {e}"),
            None => what.into(),
        }
    }
}

/// The account-level status a failure means, or `None` for failures about
/// one VM or one request (not found, refused, unsupported…), which say
/// nothing about the account.
pub(crate) fn status_of(e: &ProviderError) -> Option<&'static str> {
    match e {
        ProviderError::Unreachable { .. } | ProviderError::Timeout { .. } | ProviderError::OutcomeUnknown { .. } => Some("unreachable"),
        ProviderError::Auth { .. } => Some("auth"),
        ProviderError::Untrusted { .. } => Some("untrusted"),
        ProviderError::Config { .. } => Some("configuration"),
        ProviderError::Throttled { .. } => Some("throttled"),
        ProviderError::Malformed { .. } => Some("malformed"),
        _ => None,
    }
}

impl Engine {
    /// The account's health as this process sees it. An account whose
    /// provider cannot even be built (its secret is missing, its settings
    /// cannot work) reads as `configuration` with the reason.
    pub fn account_health(&self, account_id: i64) -> Health {
        match self.runtime(account_id) {
            Ok(rt) => rt.health.lock().unwrap().clone(),
            Err(e) => Health { status: "configuration", since: None, last_error: Some(e.to_string()), last_error_at: None },
        }
    }

    pub(super) fn health_failed(&self, rt: &AccountRuntime, status: &'static str, e: &ProviderError) {
        let now = now_ms();
        let mut h = rt.health.lock().unwrap();
        let changed = h.status != status;
        if changed {
            h.status = status;
            h.since = Some(now);
        }
        h.last_error = Some(crate::text::clean(&e.to_string()));
        h.last_error_at = Some(now);
        let health = h.clone();
        drop(h);
        if changed {
            self.bus.publish(Event::AccountHealth { account_id: rt.account.id, account: rt.account.name.clone(), health });
        }
    }

    pub(super) fn health_ok(&self, rt: &AccountRuntime) {
        let mut h = rt.health.lock().unwrap();
        if h.status == "ok" {
            return;
        }
        h.status = "ok";
        h.since = Some(now_ms());
        let health = h.clone();
        drop(h);
        self.bus.publish(Event::AccountHealth { account_id: rt.account.id, account: rt.account.name.clone(), health });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_status_a_failure_can_give_has_words() {
        for e in [ProviderError::Unreachable { message: String::new() }, ProviderError::Auth { message: String::new() }, ProviderError::malformed("x")] {
            let status = status_of(&e).unwrap();
            assert!(HEALTH_WORDS.iter().any(|w| w.status == status), "{status}");
        }
        assert_eq!(health_label("unreachable"), "cannot be reached");
        assert_eq!(health_label(FAILING), "answers with server errors");
    }

    #[test]
    fn only_account_level_failures_change_health() {
        assert_eq!(status_of(&ProviderError::Timeout { after: Duration::from_secs(5), attempts: 1, waited: Duration::from_secs(5) }), Some("unreachable"));
        assert_eq!(status_of(&ProviderError::Auth { message: "401".into() }), Some("auth"));
        assert_eq!(status_of(&ProviderError::NotFound { what: "vm-1".into() }), None);
        assert_eq!(status_of(&ProviderError::InvalidState { message: "already stopped".into() }), None);
        assert!(!Health { status: "throttled", ..Health::default() }.is_broken());
        assert!(Health { status: "untrusted", ..Health::default() }.is_broken());
    }
}
