//! The small XML documents of Remote Assistance (the `.msrcincident`
//! invitation file and connection string 2, [MS-RAI] §2.2), read bounded
//! and as Windows and the tools around it write them.
//!
//! Reading is bounded: a size cap, no DTD (so no entity is declared,
//! expanded or fetched), caps on depth, elements and attributes, and a
//! streaming parser, so a hostile file is refused without running out of
//! stack or memory.

use std::borrow::Cow;

use xml::reader::{ParserConfig2, XmlEvent};

/// The caps a document is read under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest text, in bytes.
    pub size: usize,
    /// How deep elements may nest.
    pub depth: usize,
    /// How many elements the document may hold.
    pub elements: usize,
}

/// One element: its name, its attributes in document order, and where it
/// sits (`parent` indexes the list [`elements`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub depth: usize,
    pub parent: Option<usize>,
    pub attributes: Vec<(String, String)>,
}

impl Element {
    /// The value of the attribute `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a file is not a readable document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("it is {size} bytes long, more than the {limit} bytes such a file ever holds")]
    TooLarge { size: usize, limit: usize },
    #[error("it is not text (UTF-8, or UTF-16 as Windows writes it)")]
    NotText,
    #[error("it is not well-formed XML: {0}")]
    Xml(String),
    #[error("it declares a DTD (<!DOCTYPE …>), which these files never do")]
    Doctype,
    #[error("it nests elements more than {0} deep, which these files never do")]
    TooDeep(usize),
    #[error("it holds more than {0} elements, which these files never do")]
    TooManyElements(usize),
    #[error("<{element}> has two {attribute} attributes")]
    DuplicateAttribute { element: String, attribute: String },
}

/// The text of a file: UTF-8 (with or without a byte order mark) or
/// UTF-16 (with a byte order mark, or little-endian starting with `<`, as
/// Windows writes `.msrcincident` files under `encoding="Unicode"`).
pub fn decode(bytes: &[u8]) -> Result<String, DocumentError> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        let (pairs, odd) = rest.as_chunks::<2>();
        if !odd.is_empty() {
            return Err(DocumentError::NotText);
        }
        char::decode_utf16(pairs.iter().map(|pair| unit(*pair)))
            .collect::<Result<String, _>>()
            .map_err(|_| DocumentError::NotText)
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|_| DocumentError::NotText)
        }
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [b'<', 0, ..] => utf16(bytes, u16::from_le_bytes),
        [0, b'<', ..] => utf16(bytes, u16::from_be_bytes),
        _ => String::from_utf8(bytes.to_vec()).map_err(|_| DocumentError::NotText),
    }
}

/// Every element of the document, in document order, after checking that
/// the whole document is well-formed. The XML declaration's encoding is
/// ignored: the text is already decoded. Trailing NUL characters (a C
/// string's terminator, kept by some writers) are dropped.
pub fn elements(text: &str, limits: Limits) -> Result<Vec<Element>, DocumentError> {
    if text.len() > limits.size {
        return Err(DocumentError::TooLarge {
            size: text.len(),
            limit: limits.size,
        });
    }
    // A DTD is where entities are declared (and expanded, and fetched):
    // refused before parsing.
    if text.contains("<!DOCTYPE") {
        return Err(DocumentError::Doctype);
    }
    let text = separate_attributes(text.trim_end_matches('\0'));
    let config = ParserConfig2::new()
        .override_encoding(Some(xml::Encoding::Utf8))
        .ignore_invalid_encoding_declarations(true)
        .allow_multiple_root_elements(false)
        .max_attributes(64)
        .max_name_length(256)
        .max_attribute_length(limits.size)
        .max_data_length(limits.size);
    let mut reader = config.create_reader(text.as_bytes());
    let mut found = Vec::new();
    // The open elements, as indexes into `found`.
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader
            .next()
            .map_err(|e| DocumentError::Xml(e.to_string()))?;
        match event {
            XmlEvent::StartElement {
                name, attributes, ..
            } => {
                if open.len() >= limits.depth {
                    return Err(DocumentError::TooDeep(limits.depth));
                }
                if found.len() >= limits.elements {
                    return Err(DocumentError::TooManyElements(limits.elements));
                }
                let element_name = name.to_string();
                let mut kept: Vec<(String, String)> = Vec::with_capacity(attributes.len());
                for attribute in attributes {
                    let attribute_name = attribute.name.to_string();
                    // XML 1.0 §3.1 (Unique Att Spec), which the parser
                    // does not check.
                    if kept.iter().any(|(n, _)| *n == attribute_name) {
                        return Err(DocumentError::DuplicateAttribute {
                            element: shown(&element_name),
                            attribute: shown(&attribute_name),
                        });
                    }
                    kept.push((attribute_name, attribute.value));
                }
                found.push(Element {
                    name: element_name,
                    depth: open.len() + 1,
                    parent: open.last().copied(),
                    attributes: kept,
                });
                open.push(found.len() - 1);
            }
            XmlEvent::EndElement { .. } => {
                open.pop();
            }
            XmlEvent::EndDocument => break,
            _ => {}
        }
    }
    Ok(found)
}

/// Puts a space between an attribute's closing quote and the next
/// attribute's name where a writer left none (`RCTICKET="…"RCTICKETENCRYPTED="1"`,
/// as in tickets FreeRDP's tests carry): XML 1.0 §3.1 requires the space,
/// but the meaning is not in doubt. Only inside tags; text and the quoted
/// values themselves are untouched.
fn separate_attributes(text: &str) -> Cow<'_, str> {
    #[derive(Clone, Copy)]
    enum At {
        Text,
        Tag,
        Quoted(char),
    }
    let mut at = At::Text;
    // Byte offsets just after a closing quote that a name follows.
    let mut gaps = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        at = match (at, c) {
            (At::Text, '<') if next != Some('!') => At::Tag,
            (At::Tag, '"' | '\'') => At::Quoted(c),
            (At::Tag, '>') => At::Text,
            (At::Quoted(q), c) if c == q => {
                if next.is_some_and(|n| n.is_alphabetic() || n == '_') {
                    gaps.push(i + c.len_utf8());
                }
                At::Tag
            }
            (state, _) => state,
        };
    }
    if gaps.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + gaps.len());
    let mut from = 0;
    for gap in gaps {
        out.push_str(&text[from..gap]);
        out.push(' ');
        from = gap;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

/// A value from a file, cut short for an error message.
pub fn shown(value: &str) -> String {
    const LIMIT: usize = 40;
    let mut out: String = value.chars().take(LIMIT).collect();
    if value.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}

/// A number in plain decimal digits (no sign, no spaces).
pub fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
