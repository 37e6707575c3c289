//! Any text, as a config or a credentials file: parsing never panics, and where it parses,
//! replacing each key id it holds is a splice that round-trips:
//! - `KeyEdit::apply` never panics, and returns `None` exactly when no section holds the key;
//! - its output parses, the new id is held by exactly the sections that held the old one, and
//!   the old one by none;
//! - the output equals the input with only those sections' id and secret values replaced.
#![no_main]

use std::collections::BTreeSet;

use aws_rotate_keys::ini::{Document, FileKind, KeyEdit, Section};
use aws_rotate_keys::key::{AccessKeyId, SecretAccessKey};
use libfuzzer_sys::fuzz_target;

const NEW_ID: &str = "AKIAFUZZNEWKEY7Q2Z9X";
const NEW_SECRET: &str = "fuzz/New+Secret/0123456789abcdefghijklmnopq";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The new id must be new, or its holders would include sections that held it before.
    if text.contains(NEW_ID) {
        return;
    }
    for kind in [FileKind::Config, FileKind::Credentials] {
        check(kind, &text);
    }
});

fn check(kind: FileKind, text: &str) {
    let Ok(doc) = Document::parse(kind, text) else {
        return;
    };
    assert_eq!(doc.text(), text, "the document keeps its text");
    let new_id = AccessKeyId::new(NEW_ID).expect("a valid id");
    let new_secret = SecretAccessKey::new(NEW_SECRET).expect("a valid secret");
    let ids: BTreeSet<AccessKeyId> = doc
        .sections()
        .iter()
        .flat_map(|s| doc.entries(s))
        .filter(|e| e.key == "aws_access_key_id")
        .filter_map(|e| AccessKeyId::new(e.value))
        .collect();
    for from in ids {
        let holders = doc.key_holders(&from);
        let edit = KeyEdit {
            from: from.clone(),
            to_id: new_id.clone(),
            to_secret: new_secret.clone(),
        };
        let out = match edit.apply(kind, text) {
            Ok(Some(applied)) => applied.text,
            Ok(None) => {
                assert!(holders.is_empty(), "apply found no holder, key_holders did");
                continue;
            }
            Err(_) => continue, // a refusal (multiline value, missing secret) is an answer
        };
        assert!(!holders.is_empty(), "apply edited a text in which nothing holds the key");
        let after = Document::parse(kind, &out).expect("the edited text parses");
        assert_eq!(
            places(&after.key_holders(&new_id)),
            places(&holders),
            "the new key is held by exactly the sections that held the old one"
        );
        assert!(after.key_holders(&from).is_empty(), "no section holds the old key any more");
        if let Some(expected) = splice(&doc, &holders) {
            assert!(out == expected, "the edit changed bytes outside the id and secret values");
        }
    }
}

/// Where sections stand: the edit changes no line count, so (line, header) identifies them.
fn places(sections: &[&Section]) -> Vec<(usize, String)> {
    sections.iter().map(|s| (s.line, s.header.to_string())).collect()
}

/// The input with each holder's own id and secret values replaced, or `None` where a holder has
/// no secret entry of its own (what the edit does then is the edit's business).
fn splice(doc: &Document, holders: &[&Section]) -> Option<String> {
    let text = doc.text();
    let mut spans = Vec::new();
    for section in holders {
        let value = |key: &str| doc.entry(section, key);
        spans.push((value("aws_access_key_id")?.value_span.clone(), NEW_ID));
        spans.push((value("aws_secret_access_key")?.value_span.clone(), NEW_SECRET));
    }
    spans.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_owned();
    for (span, new) in spans {
        out.replace_range(span, new);
    }
    Some(out)
}
