//! `--output text`, as awscli/text.py writes it: scalars of a dict in key order on one
//! tab-separated line, prefixed by the UPPERCASE key of the list or dict they sit in; the
//! elements of a list of dicts share the union of their scalar keys (a missing one is empty);
//! nested lists and dicts follow on their own lines, in key order.

use serde_json::{Map, Value};

use super::RenderError;
use super::py;

/// The text output of `value` (what `aws ... --output text` prints).
pub(crate) fn render(value: &Value) -> Result<String, RenderError> {
    let mut out = String::new();
    format_text(&mut out, value, None, None)?;
    Ok(out)
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

fn format_text(
    out: &mut String,
    item: &Value,
    identifier: Option<&str>,
    scalar_keys: Option<&[String]>,
) -> Result<(), RenderError> {
    match item {
        Value::Object(m) => format_dict(out, scalar_keys, m, identifier),
        Value::Array(a) => format_list(out, a, identifier),
        other => {
            out.push_str(&py::str(other));
            out.push('\n');
            Ok(())
        }
    }
}

fn format_list(
    out: &mut String,
    item: &[Value],
    identifier: Option<&str>,
) -> Result<(), RenderError> {
    if item.is_empty() {
        return Ok(());
    }
    if item.iter().any(Value::is_object) {
        // text.py reads `.items()` of every element: a list mixing dicts and other values
        // makes the aws CLI fail.
        let mut keys: Vec<String> = Vec::new();
        for element in item {
            let Value::Object(m) = element else {
                return Err(RenderError::Unrenderable(
                    "a list mixes objects with other values",
                ));
            };
            for (k, v) in m {
                if !is_collection(v) {
                    keys.push(k.clone());
                }
            }
        }
        keys.sort();
        keys.dedup();
        for element in item {
            format_text(out, element, identifier, Some(&keys))?;
        }
    } else if item.iter().any(Value::is_array) {
        let scalars: Vec<&Value> = item.iter().filter(|e| !is_collection(e)).collect();
        if !scalars.is_empty() {
            format_scalar_list(out, &scalars, identifier);
        }
        for non_scalar in item.iter().filter(|e| is_collection(e)) {
            format_text(out, non_scalar, identifier, None)?;
        }
    } else {
        let all: Vec<&Value> = item.iter().collect();
        format_scalar_list(out, &all, identifier);
    }
    Ok(())
}

fn format_scalar_list(out: &mut String, elements: &[&Value], identifier: Option<&str>) {
    match identifier {
        Some(id) => {
            let id = id.to_uppercase();
            for e in elements {
                out.push_str(&id);
                out.push('\t');
                out.push_str(&py::str(e));
                out.push('\n');
            }
        }
        None => {
            let cells: Vec<String> = elements.iter().map(|e| py::str(e)).collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
    }
}

fn format_dict(
    out: &mut String,
    scalar_keys: Option<&[String]>,
    item: &Map<String, Value>,
    identifier: Option<&str>,
) -> Result<(), RenderError> {
    let mut scalars: Vec<String> = Vec::new();
    let mut non_scalars: Vec<(&String, &Value)> = Vec::new();
    match scalar_keys {
        None => {
            let mut entries: Vec<(&String, &Value)> = item.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in entries {
                if is_collection(v) {
                    non_scalars.push((k, v));
                } else {
                    scalars.push(py::str(v));
                }
            }
        }
        Some(keys) => {
            for k in keys {
                scalars.push(item.get(k).map(py::str).unwrap_or_default());
            }
            let mut rest: Vec<(&String, &Value)> =
                item.iter().filter(|(k, _)| !keys.contains(k)).collect();
            rest.sort_by(|a, b| a.0.cmp(b.0));
            non_scalars = rest;
        }
    }
    if !scalars.is_empty() {
        if let Some(id) = identifier {
            scalars.insert(0, id.to_uppercase());
        }
        out.push_str(&scalars.join("\t"));
        out.push('\n');
    }
    for (k, v) in non_scalars {
        format_text(out, v, Some(k), None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_access_keys_as_aws_prints_it() {
        let v = json!({"AccessKeyMetadata": [
            {"UserName": "Bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active", "CreateDate": "2013-06-04T18:17:34+00:00"},
            {"UserName": "Bob", "AccessKeyId": "AKIAI44QH8DHBEXAMPLE", "Status": "Inactive", "CreateDate": "2013-06-06T20:42:26+00:00"}
        ]});
        assert_eq!(
            render(&v).expect("renders"),
            "ACCESSKEYMETADATA\tAKIAIOSFODNN7EXAMPLE\t2013-06-04T18:17:34+00:00\tActive\tBob\n\
             ACCESSKEYMETADATA\tAKIAI44QH8DHBEXAMPLE\t2013-06-06T20:42:26+00:00\tInactive\tBob\n"
        );
    }

    #[test]
    fn scalars_and_empty_values() {
        assert_eq!(render(&json!(null)).expect("renders"), "None\n");
        assert_eq!(render(&json!("")).expect("renders"), "\n");
        assert_eq!(render(&json!({})).expect("renders"), "");
        assert_eq!(render(&json!([])).expect("renders"), "");
        assert_eq!(
            render(&json!([1, [2, 3], "a"])).expect("renders"),
            "1\ta\n2\t3\n"
        );
        assert!(render(&json!([{}, 1])).is_err());
    }
}
