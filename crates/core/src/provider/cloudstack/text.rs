//! Text from the management server made safe to store and print: VM names,
//! facts and error texts can carry terminal escape sequences (a name set to
//! `\e]0;…\a` retitles the admin's terminal when `pdk` prints it) and
//! control characters. What is shown is the text without them.

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

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn escape_sequences_and_control_characters_are_dropped() {
        assert_eq!(clean("\u{1b}[31mweb-001\u{1b}]0;owned\u{7}\r\u{8}\u{1b}[0m"), "web-001");
        assert_eq!(clean("db\u{1b}]2;title\u{1b}\\-02\u{9b}"), "db-02");
        assert_eq!(clean("caf\u{e9} \u{65e5}\u{672c}"), "caf\u{e9} \u{65e5}\u{672c}", "plain unicode stays");
        assert_eq!(clean("a\u{1b}"), "a");
    }
}
