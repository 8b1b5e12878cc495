//! Confirmation for destructive and bulk actions.

use powerdeck_core::CoreError;
use std::io::{BufRead, IsTerminal, Write};

/// Ask on the terminal; without one, refuse and point at `--yes`.
pub fn ask(question: &str) -> Result<(), CoreError> {
    if !std::io::stdin().is_terminal() {
        return Err(CoreError::Invalid(format!("{question} — refusing without confirmation; add --yes to proceed")));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| CoreError::Invalid(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(CoreError::Invalid("cancelled; nothing was changed".into()))
    }
}
