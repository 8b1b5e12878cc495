//! Secrets out of what a server says: a hostile or broken server may echo
//! a token or key it was sent, as sent or form-encoded, in its error text.

/// `text` with each secret (at least `min_len` bytes: blanking every short
/// match would garble the text and hide nothing worth hiding) replaced by
/// `***`, as sent and as a form body carries it.
pub fn blank<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>, min_len: usize) -> String {
    let mut out = text.to_string();
    for s in secrets.into_iter().filter(|s| s.len() >= min_len) {
        out = out.replace(s, "***");
        if let Ok(encoded) = serde_urlencoded::to_string([("", s)]) {
            out = out.replace(encoded.trim_start_matches('='), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_is_blanked_as_sent_and_form_encoded_and_a_short_one_is_left() {
        assert_eq!(super::blank("k=a+b%2Fc%3D then a b/c=", ["a b/c="], 4), "k=*** then ***");
        assert_eq!(super::blank("abc", ["abc"], 4), "abc");
    }
}
