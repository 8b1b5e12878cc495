//! Keeping the password out of every text Powerdeck shows. The engine's own
//! texts are shown to explain its refusals, and a misconfigured (or hostile)
//! front end may echo what it was sent — as it was typed, form-encoded or
//! HTML-escaped — so every such text passes through here first.

use crate::secrets::Secret;

#[derive(Clone)]
pub struct Redactor {
    forms: Vec<String>,
}

/// Shorter secrets are not looked for: blanking every "ab" in a message
/// would garble it, and leaks nothing worth hiding.
const MIN_LEN: usize = 3;

impl Redactor {
    pub fn new(secret: &Secret) -> Self {
        let raw = secret.expose().to_string();
        if raw.chars().count() < MIN_LEN {
            return Self { forms: Vec::new() };
        }
        let encoded: String = serde_urlencoded::to_string([("x", raw.as_str())]).unwrap_or_default().trim_start_matches("x=").to_string();
        let html = raw.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
        let mut forms = vec![raw, encoded, html];
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Self { forms }
    }

    /// `text` with the secret in any of its forms blanked, control
    /// characters made spaces, and cut to a readable length.
    pub fn clean(&self, text: &str) -> String {
        let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        for f in &self.forms {
            if !f.is_empty() {
                out = out.replace(f.as_str(), "•••");
            }
        }
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        if out.chars().count() > 400 {
            format!("{}…", out.chars().take(400).collect::<String>())
        } else {
            out
        }
    }
}

/// The text of a small HTML error page (the engine's Undertow pages, a
/// proxy's): tags dropped, the usual entities decoded.
pub fn html_text(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    // The <title> repeats the status; the body says why.
    let body = body.split_once("</title>").map(|(_, rest)| rest).unwrap_or(body);
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_the_password_is_blanked() {
        let r = Redactor::new(&Secret::new("s3cret+p@ss&="));
        let said = "Cannot authenticate user 'admin@internal' with password 's3cret+p@ss&=' (sent as s3cret%2Bp%40ss%26%3D, shown as s3cret+p@ss&amp;=)";
        let clean = r.clean(said);
        assert!(!clean.contains("s3cret"), "{clean}");
        assert!(clean.starts_with("Cannot authenticate user 'admin@internal' with password '•••'"), "{clean}");
    }

    #[test]
    fn escapes_cannot_reach_a_terminal_and_html_pages_become_sentences() {
        let r = Redactor::new(&Secret::new("pw"));
        assert_eq!(r.clean("a\u{1b}[31mb\r\nc"), "a [31mb c");
        let page = "<html><head><title>Error</title></head><body>invalid_grant: The provided authorization grant for the auth code has expired.</body></html>";
        assert_eq!(r.clean(&html_text(page)), "invalid_grant: The provided authorization grant for the auth code has expired.");
        assert_eq!(html_text("<p>a &amp;lt; b</p>").trim(), "a &lt; b");
    }
}
