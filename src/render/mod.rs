//! What the program prints, rendered exactly as the `aws` CLI renders a response: `json`,
//! `text`, `table`, `yaml`, `yaml-stream` and `off`, after an optional `--query` (JMESPath).
//!
//! Everything here is a pure function from a JSON value (keys in the order the response has
//! them) to text: no terminal, no environment. The shell passes the terminal width for `table`
//! (the terminal's when stdout is one, else 80, as awscli/table.py's
//! `determine_terminal_width`) and the operation name that titles a table.
//!
//! The reference is the `aws` CLI v1 (awscli/formatter.py, text.py, table.py) running on
//! Python 3: `json.dumps(indent=4, ensure_ascii=False)`, Python's `str()` and `repr()` of values
//! in text and table cells, Python's float formatting, its East Asian width for table columns.
//! `tests/render_oracle.rs` checks this against awscli's own formatters on generated values.
//! YAML follows the v2 formatter (v1 has none): see [`yaml`](self) module docs.

mod py;
mod query;
mod table;
mod text;
mod unicode;
mod yaml;

use std::fmt;
use std::str::FromStr;

pub use serde_json::Value;

pub use query::{Query, QueryError};

/// `--output`: the formats of the `aws` CLI v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// JSON indented by four spaces, keys in the response's order.
    Json,
    /// Tab-separated lines, as awscli/text.py writes them.
    Text,
    /// An ASCII table, as awscli/table.py draws it.
    Table,
    /// YAML, as the aws CLI v2 writes it.
    Yaml,
    /// The response as a one-document YAML list, as the aws CLI v2 streams it.
    YamlStream,
    /// Nothing on stdout.
    Off,
}

impl OutputFormat {
    /// Every format, in the order the `aws` CLI lists them.
    pub const ALL: [OutputFormat; 6] = [
        OutputFormat::Json,
        OutputFormat::Text,
        OutputFormat::Table,
        OutputFormat::Yaml,
        OutputFormat::YamlStream,
        OutputFormat::Off,
    ];

    /// The name the `aws` CLI uses (`yaml-stream`).
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Text => "text",
            OutputFormat::Table => "table",
            OutputFormat::Yaml => "yaml",
            OutputFormat::YamlStream => "yaml-stream",
            OutputFormat::Off => "off",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An output format name that is not one of the `aws` CLI's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "output format '{}' is not one of json, text, table, yaml, yaml-stream, off",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    /// The `aws` CLI's names, exactly (`aws --output JSON` is refused too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A value the `aws` CLI itself cannot render in the chosen format (its formatter raises an
/// exception): a list that mixes objects with other values, for `text` and `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// The value has a shape the format cannot draw; says which.
    Unrenderable(&'static str),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Unrenderable(why) => write!(f, "cannot render this output: {why}"),
        }
    }
}

impl std::error::Error for RenderError {}

/// How to render: the format, the title of a table (the operation name, `ListAccessKeys`)
/// and the width of the terminal a table must fit (80 when stdout is not a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style<'a> {
    /// `--output`.
    pub format: OutputFormat,
    /// The operation name: a table's title.
    pub title: &'a str,
    /// Terminal columns for `table`.
    pub width: usize,
}

/// `value` as the `aws` CLI prints it in `style.format`, trailing newline included; an empty
/// string when the `aws` CLI prints nothing (an empty object in any format, `off`).
pub fn render(value: &Value, style: Style<'_>) -> Result<String, RenderError> {
    if value.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(String::new());
    }
    Ok(match style.format {
        OutputFormat::Json => {
            let mut s = py::json_dumps(
                value,
                py::JsonStyle {
                    indent: Some(4),
                    ensure_ascii: false,
                    compact: false,
                },
            );
            s.push('\n');
            s
        }
        OutputFormat::Text => text::render(value)?,
        OutputFormat::Table => table::render(style.title, value, style.width)?,
        OutputFormat::Yaml => yaml::render(value),
        OutputFormat::YamlStream => yaml::render_stream(value),
        OutputFormat::Off => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn style(format: OutputFormat) -> Style<'static> {
        Style {
            format,
            title: "ListAccessKeys",
            width: 80,
        }
    }

    #[test]
    fn json_is_indented_by_four_and_keeps_key_order() {
        let v: Value =
            serde_json::from_str(r#"{"B": [1, 2.5, {}], "A": {"x": null, "é": "日本"}, "C": []}"#)
                .expect("valid JSON");
        assert_eq!(
            render(&v, style(OutputFormat::Json)).expect("renders"),
            "{\n    \"B\": [\n        1,\n        2.5,\n        {}\n    ],\n    \"A\": {\n        \"x\": null,\n        \"é\": \"日本\"\n    },\n    \"C\": []\n}\n"
        );
    }

    #[test]
    fn an_empty_response_prints_nothing_in_every_format() {
        for f in OutputFormat::ALL {
            assert_eq!(render(&json!({}), style(f)).expect("renders"), "", "{f}");
        }
        assert_eq!(
            render(&json!(null), style(OutputFormat::Json)).expect("renders"),
            "null\n"
        );
    }

    #[test]
    fn format_names_are_the_aws_clis() {
        for f in OutputFormat::ALL {
            assert_eq!(f.name().parse::<OutputFormat>(), Ok(f));
        }
        assert!("JSON".parse::<OutputFormat>().is_err());
    }
}
