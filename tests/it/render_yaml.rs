//! `--output yaml` and `yaml-stream` snapshots: the aws CLI v2's rules (v1, the oracle of
//! tests/render_oracle.rs, has no YAML). The rules, from v2's awscli/formatter.py (`YAMLDumper`:
//! ruamel.yaml's safe dumper, block style, libyaml's emitter; a bare scalar as JSON) are listed
//! in src/render/yaml.rs; `yaml_renders_as_ruamel` in tests/render_oracle.rs checks them against
//! ruamel.yaml itself where it is installed. These snapshots were made with that check passing.

use aws_rotate_keys::render::{OutputFormat, Style, render};
use serde_json::{Value, json};

fn yaml(v: &Value) -> String {
    let style = Style {
        format: OutputFormat::Yaml,
        title: "Op",
        width: 80,
    };
    render(v, style).expect("renders")
}

fn yaml_stream(v: &Value) -> String {
    let style = Style {
        format: OutputFormat::YamlStream,
        title: "Op",
        width: 80,
    };
    render(v, style).expect("renders")
}

fn list_access_keys_response() -> Value {
    json!({"AccessKeyMetadata": [
        {"UserName": "bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active", "CreateDate": "2013-06-04T18:17:34+00:00"},
        {"UserName": "bob", "AccessKeyId": "AKIAI44QH8DHBEXAMPLE", "Status": "Inactive", "CreateDate": "2013-06-06T20:42:26+00:00"}
    ]})
}

#[test]
fn list_access_keys() {
    insta::assert_snapshot!(yaml(&list_access_keys_response()));
}

#[test]
fn list_access_keys_stream() {
    insta::assert_snapshot!(yaml_stream(&list_access_keys_response()));
}

#[test]
fn create_access_key() {
    let v = json!({"AccessKey": {
        "UserName": "bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "CreateDate": "2015-03-09T18:39:23+00:00"
    }});
    insta::assert_snapshot!(yaml(&v));
}

#[test]
fn scalars_that_would_read_as_other_types_are_quoted() {
    let v = json!({
        "Bool": "true", "Null": "null", "Empty": "", "Int": "123", "Float": "1.5", "Date": "2013-06-04",
        "Yes": "yes", "Colon": "a: b", "Hash": "a #b", "Dash": "- x", "Lead": " x", "Quote": "it's",
        "Bang": "!x", "Number": 12, "Real": 1e16, "Flag": false, "Nothing": null,
        "Lists": [[], {}, [1, [2]]],
    });
    insta::assert_snapshot!(yaml(&v));
}

#[test]
fn special_characters_are_escaped_in_double_quotes() {
    let v = json!({"Tab": "a\tb", "Control": "\u{1}", "Astral": "😀", "Wide": "日本語", "Accents": "é→", "Lines": "one\ntwo\n"});
    insta::assert_snapshot!(yaml(&v));
}

#[test]
fn long_scalars_fold_past_column_80() {
    let v = json!({"Description": "word ".repeat(30).trim_end(), "Quoted": format!("'{}'", "quoted text ".repeat(12)), "K": ["x".repeat(130)]});
    insta::assert_snapshot!(yaml(&v));
}

#[test]
fn a_long_key_is_a_complex_key() {
    let mut m = serde_json::Map::new();
    m.insert("K".repeat(129), json!("v"));
    insta::assert_snapshot!(yaml(&Value::Object(m)));
}

#[test]
fn bare_scalars_are_json() {
    assert_eq!(yaml(&json!("foo")), "\"foo\"\n");
    assert_eq!(yaml(&json!(null)), "null\n");
    assert_eq!(yaml(&json!(3)), "3\n");
    assert_eq!(yaml_stream(&json!("foo")), "- foo\n");
    assert_eq!(yaml(&json!({})), "");
}
