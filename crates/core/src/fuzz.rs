//! Strategies for the property tests of every parser of provider answers
//! and user input: text that looks like what the parser reads (so it gets
//! past the first byte), and real answers cut, spliced and corrupted.
//! Each parser's module states its properties; the least is "never
//! panics, answers Ok or a clear error".

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property in the normal test run (`PROPTEST_CASES` raises it
/// for a long run).
pub fn config() -> Config {
    Config { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), failure_persistence: None, ..Config::default() }
}

/// XML-like text: tags, attributes, entities, CDATA, comments and text.
pub fn xmlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "<[a-zA-Z:_]{1,10}( [a-z:]{1,6}=\"[^\"<]{0,8}\"){0,2}/?>",
        "</[a-zA-Z:_]{1,10}>",
        "[^<&]{0,12}",
        "&(amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-z]{1,6});",
        "<!\\[CDATA\\[[^\\]]{0,8}\\]\\]>",
        "<!--[^-]{0,8}-->",
        "<\\?xml version=\"1.0\"\\?>",
        "<!DOCTYPE [a-z]{1,5} \\[<!ENTITY [a-z]{1,3} \"[a-z&;]{0,9}\">\\]>",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// JSON-like text: brackets, keys, strings with escapes, numbers.
pub fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        "\"[a-z_]{0,10}\"",
        "\"(\\\\u[0-9a-fA-F]{4}|\\\\[nrt\"\\\\]|[^\"\\\\]){0,6}\"",
        "-?[0-9]{1,20}(\\.[0-9]{1,5})?(e[+-]?[0-9]{1,4})?",
        Just("null".to_string()),
        Just("true".to_string()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

/// `sample` after one of: cut at a point, a byte range replaced by junk,
/// a range repeated, or a character swapped for one of the syntax's own.
pub fn mutated(sample: &'static str) -> impl Strategy<Value = String> {
    let n = sample.len();
    (0..=n, 0..=n, "[<>&;\"'/=\\[\\]{},:a-z0-9 \\x00-\\x1f\u{80}-\u{10ffff}]{0,6}", 0u8..4).prop_map(move |(a, b, junk, how)| {
        let (lo, hi) = (a.min(b), a.max(b));
        let (lo, hi) = (floor(sample, lo), floor(sample, hi));
        match how {
            0 => sample[..lo].to_string(),
            1 => format!("{}{junk}{}", &sample[..lo], &sample[hi..]),
            2 => format!("{}{}{}", &sample[..hi], &sample[lo..hi], &sample[hi..]),
            _ => format!("{}{junk}{}", &sample[..lo], &sample[lo..]),
        }
    })
}

/// The nearest char boundary at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
