//! Core errors in the CLI's words: the core names settings and kinds of
//! failure; here they become the flags and commands that fix them.

use crate::kind_args;
use powerdeck_core::provider::ProviderError;
use powerdeck_core::CoreError;

pub fn render(e: &CoreError) -> String {
    if let Some(s) = kind_args::explain(e) {
        return s;
    }
    match e {
        CoreError::Provider { account, source: ProviderError::Untrusted { presented: Some(t), .. } } => {
            format!("{e} (after comparing: pdk accounts edit {account} --thumbprint {t}, or --trust-presented to see and pin it)")
        }
        CoreError::Secret(powerdeck_core::secrets::SecretError::NoKeychain(_)) => format!("{e} (pdk accounts add … --secret-env VAR)"),
        // The core names what is missing; the CLI says where to look.
        CoreError::UnknownVm(_) => format!("{e} (try `pdk vms list`)"),
        CoreError::UnknownAccount(_) => format!("{e} (try `pdk accounts list`)"),
        CoreError::Unfinished { .. } => format!("{e} (it stays in the journal: `pdk resume` adopts it, `pdk ops` shows it)"),
        CoreError::NotFound { what, .. } => {
            let list = match *what {
                "group" => "pdk groups list",
                "runbook" => "pdk runbook list",
                "schedule" => "pdk schedules list",
                _ => return e.to_string(),
            };
            format!("{e} (try `{list}`)")
        }
        _ => e.to_string(),
    }
}
