//! Text from a provider made safe to store and print: VM names, facts and
//! error texts can carry terminal escape sequences (a name set to
//! `\e]0;…\a` retitles the admin's terminal when `pdk` prints it) and
//! control characters. What is stored and shown is the text without them.

/// `s` without ANSI escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL|ESC \`, two-byte `ESC x`) and without control characters.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, up to the final byte.
                    for n in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
                Some(']' | 'P' | '_' | '^') => {
                    // A string command: ends with BEL or ST (ESC \).
                    while let Some(n) = chars.next() {
                        if n == '\u{7}' || (n == '\u{1b}' && chars.peek() == Some(&'\\')) {
                            if n == '\u{1b}' {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// Whether `s` needs [`clean`] (cheap: most names do not).
pub fn is_clean(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// `s` cleaned and cut to `max` characters, saying how much was left out
/// (a provider's 2 MB error page is not an error message).
pub fn shown(s: &str, max: usize) -> String {
    let s = if is_clean(s) { s.to_string() } else { clean(s) };
    let n = s.chars().count();
    if n <= max {
        return s;
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}… ({} more characters)", n - max)
}

#[cfg(test)]
mod tests {
    use super::{clean, shown};

    #[test]
    fn escape_sequences_and_control_characters_are_dropped() {
        assert_eq!(clean("\u{1b}[31mweb-001\u{1b}]0;owned\u{7}\r\u{8}\u{1b}[0m"), "web-001");
        assert_eq!(clean("db\u{1b}]2;title\u{1b}\\-02\u{9b}"), "db-02");
        assert_eq!(clean("caf\u{e9} \u{65e5}\u{672c}"), "caf\u{e9} \u{65e5}\u{672c}", "plain unicode stays");
        assert_eq!(clean("a\u{1b}"), "a");
    }

    #[test]
    fn long_texts_are_cut_and_say_so() {
        assert_eq!(shown("short", 10), "short");
        assert_eq!(shown(&"x".repeat(25), 10), format!("{}… (15 more characters)", "x".repeat(10)));
        assert_eq!(shown("\u{1b}[31mred\u{1b}[0m", 10), "red");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn cleaned_text_is_clean_and_shown_text_is_bounded(s in any::<String>()) {
            crate::fuzzing::shown(&s);
        }
    }
}
