//! A small element tree over quick-xml, shared by the XML providers: SOAP
//! (vSphere) and REST XML (oVirt) answers are deeply nested and typed by
//! attributes, which is easier to walk than to map onto structs. Names are
//! kept without their namespace prefix.

use crate::provider::ProviderError;
use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.rsplit(':').next().unwrap_or_default().to_string()
}

/// Far deeper than any vim25 answer (about 12 levels), shallow enough that
/// walking, cloning and dropping the tree, all recursive, cannot exhaust the
/// stack on a hostile or broken answer.
const MAX_DEPTH: usize = 128;

pub fn parse(xml: &str) -> Result<Node, ProviderError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    let bad = |e: &dyn std::fmt::Display| ProviderError::malformed(format!("unreadable XML answer: {e}"));
    loop {
        match reader.read_event().map_err(|e| bad(&e))? {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(bad(&format!("elements nested more than {MAX_DEPTH} deep")));
                }
                let attrs = e.attributes().flatten().map(|a| (local(a.key.as_ref()), a.unescape_value().map(|v| v.to_string()).unwrap_or_default())).collect();
                stack.push(Node { name: local(e.name().as_ref()), attrs, ..Node::default() });
            }
            Event::Empty(e) => {
                let attrs = e.attributes().flatten().map(|a| (local(a.key.as_ref()), a.unescape_value().map(|v| v.to_string()).unwrap_or_default())).collect();
                let node = Node { name: local(e.name().as_ref()), attrs, ..Node::default() };
                stack.last_mut().expect("root").children.push(node);
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| bad(&e))?;
                stack.last_mut().expect("root").text.push_str(&text);
            }
            // quick-xml reports `&amp;` and `&#38;` as events of their own.
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| bad(&e))? {
                    Some(c) => c,
                    None => match r.decode().map_err(|e| bad(&e))?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(bad(&format!("unknown entity &{other};"))),
                    },
                };
                stack.last_mut().expect("root").text.push(c);
            }
            Event::CData(t) => stack.last_mut().expect("root").text.push_str(&String::from_utf8_lossy(&t)),
            Event::End(_) => {
                let node = stack.pop().expect("balanced");
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err(bad(&"unbalanced elements")),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(bad(&"truncated document"));
    }
    Ok(stack.pop().expect("root"))
}

/// The name of the document's first element (without its prefix): what
/// says whether an answer is the one asked for at all (a login page, an
/// nginx welcome page or another operation's answer is not).
pub fn root_name(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => return Some(local(e.name().as_ref())),
            Event::Eof => return None,
            _ => {}
        }
    }
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element with this name anywhere below (depth first).
    pub fn find(&self, name: &str) -> Option<&Node> {
        for c in &self.children {
            if c.name == name {
                return Some(c);
            }
            if let Some(n) = c.find(name) {
                return Some(n);
            }
        }
        None
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        self.text.trim()
    }
}

/// What every text is held to, by the property tests and the fuzzer
/// (`fuzz/`): parsed, or refused as malformed; never a panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    if let Err(e) = parse(text) {
        assert!(matches!(e, ProviderError::Malformed { .. }), "{e:?}");
    }
    let _ = root_name(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_element_is_found_past_the_prolog() {
        assert_eq!(
            root_name("<?xml version=\"1.0\"?>\n<!-- hi --><DescribeInstancesResponse xmlns=\"x\"><a/></DescribeInstancesResponse>").as_deref(),
            Some("DescribeInstancesResponse")
        );
        assert_eq!(root_name("<soapenv:Envelope xmlns:soapenv=\"s\"/>").as_deref(), Some("Envelope"));
        assert_eq!(root_name("<!DOCTYPE html><html><body>Welcome to nginx!</body></html>").as_deref(), Some("html"));
        assert_eq!(root_name("not xml at all"), None);
    }

    #[test]
    fn a_hostile_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let err = parse(&deep).unwrap_err().to_string();
        assert!(err.contains("nested more than"), "{err}");
        let fine = format!("{}x{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert_eq!(parse(&fine).unwrap().find("a").map(|a| a.name.as_str()), Some("a"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, mutated, xmlish};
    use proptest::prelude::*;

    const SOAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>p2</token><objects><obj type="VirtualMachine">vm-42</obj><propSet><name>name</name><val xsi:type="xsd:string">web &amp; api &#x263A;</val></propSet><propSet><name>runtime.powerState</name><val>poweredOn</val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

    fn escaped(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn xmlish_text_is_parsed_or_refused_as_malformed(text in xmlish()) {
            check(&text);
        }

        #[test]
        fn a_damaged_answer_is_parsed_or_refused_as_malformed(text in mutated(SOAP)) {
            check(&text);
        }

        #[test]
        fn any_text_comes_back_as_sent_once_escaped(s in "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\r]{0,40}") {
            let doc = parse(&format!("<a><b x=\"1\">{}</b></a>", escaped(&s))).unwrap();
            prop_assert_eq!(&doc.find("b").unwrap().text, &s);
        }
    }
}
