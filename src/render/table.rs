//! `--output table`, as the aws CLI draws it (awscli/formatter.py's `TableFormatter` building
//! awscli/table.py's `MultiTable`, colour off): a section per dict or list of dicts, titled
//! with the operation name or the key it sits under, indented by one `|` per level; scalar keys
//! sorted into a header row; a table wider than the terminal turns each one-row section into a
//! vertical key/value list.
//!
//! The widths follow table.py's arithmetic to the column, including Python's round-half-to-even
//! when columns are scaled to the table's width.

use serde_json::{Map, Value};

use super::RenderError;
use super::py;

/// One section of the table (table.py's `Section`).
#[derive(Debug, Default)]
struct Section {
    /// `None` for the title-less sections that nested lists make; it still counts four
    /// columns (`len(str(None))`) in the width, as in table.py.
    title: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    indent_level: usize,
    num_cols: Option<usize>,
    max_widths: Vec<usize>,
}

impl Section {
    fn new(title: Option<String>, indent_level: usize) -> Self {
        Section {
            title,
            indent_level,
            ..Section::default()
        }
    }

    fn title_length(&self) -> usize {
        match &self.title {
            Some(t) => py::text_length(t),
            None => 4,
        }
    }

    fn add_header(&mut self, headers: Vec<String>) -> Result<(), RenderError> {
        self.update_max_widths(&headers)?;
        if self.num_cols.is_none() {
            self.num_cols = Some(headers.len());
        }
        self.headers = headers;
        Ok(())
    }

    fn add_row(&mut self, row: Vec<String>) -> Result<(), RenderError> {
        let n = *self.num_cols.get_or_insert(row.len());
        if row.len() != n {
            return Err(RenderError::Unrenderable(
                "rows of one table section differ in length",
            ));
        }
        self.update_max_widths(&row)?;
        self.rows.push(row);
        Ok(())
    }

    fn update_max_widths(&mut self, row: &[String]) -> Result<(), RenderError> {
        if self.max_widths.is_empty() {
            self.max_widths = row.iter().map(|e| py::text_length(e)).collect();
        } else {
            for (i, e) in row.iter().enumerate() {
                let w = self.max_widths.get_mut(i).ok_or(RenderError::Unrenderable(
                    "a table row is wider than its section",
                ))?;
                *w = (*w).max(py::text_length(e));
            }
        }
        Ok(())
    }

    /// `calculate_column_widths(padding, max_width)`: the columns scaled to fill `max_width`.
    fn column_widths(&self, padding: usize, max_width: Option<usize>) -> Vec<usize> {
        let unscaled: Vec<usize> = self.max_widths.iter().map(|w| w + padding).collect();
        let Some(max_width) = max_width else {
            return unscaled;
        };
        if unscaled.is_empty() {
            return unscaled;
        }
        let total: usize = unscaled.iter().sum();
        let scale = max_width as f64 / total as f64;
        let mut scaled: Vec<i64> = unscaled
            .iter()
            .map(|&w| (scale * w as f64).round_ties_even() as i64)
            .collect();
        let mut off_by: i64 = scaled.iter().sum::<i64>() - max_width as i64;
        while off_by != 0 {
            let order: Vec<usize> = if off_by < 0 {
                (0..scaled.len()).rev().collect()
            } else {
                (0..scaled.len()).collect()
            };
            for i in order {
                if off_by > 0 {
                    scaled[i] -= 1;
                    off_by -= 1;
                } else {
                    scaled[i] += 1;
                    off_by += 1;
                }
                if off_by == 0 {
                    break;
                }
            }
        }
        scaled.into_iter().map(|w| w.max(0) as usize).collect()
    }

    /// `total_width(padding=4, with_border=True, outer_padding=indent_level)`.
    fn total_width(&self) -> usize {
        let outer = self.indent_level * 2;
        let total: usize = self.column_widths(0, None).iter().map(|w| w + 4).sum();
        (self.title_length() + 2 + outer).max(total + 2 + outer)
    }
}

/// The table (table.py's `MultiTable` with `initial_section=False`).
#[derive(Debug, Default)]
struct Table {
    sections: Vec<Section>,
}

impl Table {
    fn current(&mut self) -> Result<&mut Section, RenderError> {
        self.sections
            .last_mut()
            .ok_or(RenderError::Unrenderable("no table section to add to"))
    }

    fn new_section(&mut self, title: Option<String>, indent_level: usize) {
        self.sections.push(Section::new(title, indent_level));
    }

    fn max_width(&self) -> usize {
        self.sections
            .iter()
            .map(Section::total_width)
            .max()
            .unwrap_or(0)
    }

    fn render(mut self, terminal_width: usize) -> String {
        let mut max_width = self.max_width();
        if max_width > terminal_width {
            self.convert_to_vertical();
            max_width = self.max_width();
        }
        let mut out = String::new();
        out.push_str(&"-".repeat(max_width));
        out.push('\n');
        for s in &self.sections {
            render_section(&mut out, s, max_width);
        }
        out
    }

    /// `convert_to_vertical_table`: every section of one row and a header becomes a list of
    /// `[header, value]` rows.
    fn convert_to_vertical(&mut self) {
        for s in &mut self.sections {
            if s.rows.len() == 1 && !s.headers.is_empty() {
                let mut new = Section::new(s.title.take(), s.indent_level);
                let row = std::mem::take(&mut s.rows[0]);
                for (h, e) in s.headers.iter().zip(row) {
                    // Two cells each: cannot fail.
                    let _ = new.add_row(vec![h.clone(), e]);
                }
                *s = new;
            }
        }
    }
}

/// `center_text`: `text` centred between the edges in `length` columns.
fn center_text(text: &str, length: usize, left: &str, right: &str) -> String {
    let text_length = py::text_length(text) as i64;
    let length = length as i64;
    let char_start = length / 2 - text_length / 2 - 1;
    let so_far = left.len() as i64 + char_start + text_length;
    let right_spaces = length - right.len() as i64 - so_far;
    format!(
        "{left}{}{text}{}{right}",
        spaces(char_start),
        spaces(right_spaces)
    )
}

/// `align_left`: two spaces of padding (when it fits), the text, spaces up to the right edge.
fn align_left(text: &str, length: usize, left: &str, right: &str) -> String {
    let text_length = py::text_length(text) as i64;
    let length = length as i64;
    let computed = text_length + 2 + left.len() as i64 + right.len() as i64;
    let padding = if length - computed >= 0 { 2 } else { 0 };
    let so_far = left.len() as i64 + padding + text_length;
    format!(
        "{left}{}{text}{}{right}",
        spaces(padding),
        spaces(length - so_far - right.len() as i64)
    )
}

fn spaces(n: i64) -> String {
    " ".repeat(usize::try_from(n).unwrap_or(0))
}

/// A line through table.py's `IndentedStream`: one `|` per level on both sides.
fn write_line(out: &mut String, indent: usize, line: &str) {
    out.push_str(&"|".repeat(indent));
    out.push_str(line);
    out.push_str(&"|".repeat(indent));
    out.push('\n');
}

fn line_break(widths: &[usize]) -> String {
    let mut s = String::new();
    for (i, &w) in widths.iter().enumerate() {
        if i == 0 {
            s.push('+');
            s.push_str(&"-".repeat(w.saturating_sub(2)));
            s.push('+');
        } else {
            s.push_str(&"-".repeat(w.saturating_sub(1)));
            s.push('+');
        }
    }
    s
}

fn render_section(out: &mut String, s: &Section, max_width: usize) {
    let indent = s.indent_level;
    let max_width = max_width.saturating_sub(indent * 2);
    if let Some(title) = s.title.as_deref().filter(|t| !t.is_empty()) {
        write_line(out, indent, &center_text(title, max_width, "|", "|"));
        if s.headers.is_empty() && s.rows.is_empty() {
            write_line(
                out,
                indent,
                &format!("+{}+", "-".repeat(max_width.saturating_sub(2))),
            );
        }
    }
    if !s.headers.is_empty() {
        let widths = s.column_widths(4, Some(max_width));
        let mut line = String::new();
        for (i, (w, h)) in widths.iter().zip(&s.headers).enumerate() {
            line.push_str(&center_text(h, *w, if i == 0 { "|" } else { "" }, "|"));
        }
        write_line(out, indent, &line_break(&widths));
        write_line(out, indent, &line);
    }
    if !s.rows.is_empty() {
        let widths = s.column_widths(4, Some(max_width));
        if widths.is_empty() {
            return;
        }
        write_line(out, indent, &line_break(&widths));
        for row in &s.rows {
            let mut line = String::new();
            for (i, (w, e)) in widths.iter().zip(row).enumerate() {
                line.push_str(&align_left(e, *w, if i == 0 { "|" } else { "" }, "|"));
            }
            write_line(out, indent, &line);
        }
        write_line(out, indent, &line_break(&widths));
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// Sorted scalar keys and sorted other keys of a dict (`_group_scalar_keys`).
fn group_scalar_keys(m: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let mut headers = Vec::new();
    let mut more = Vec::new();
    for (k, v) in m {
        if is_scalar(v) {
            headers.push(k.clone());
        } else {
            more.push(k.clone());
        }
    }
    headers.sort();
    more.sort();
    (headers, more)
}

struct Builder {
    table: Table,
}

impl Builder {
    /// `_build_table`: false when there is nothing to draw (a falsy value).
    fn build(
        &mut self,
        title: Option<&str>,
        current: &Value,
        indent_level: usize,
    ) -> Result<bool, RenderError> {
        if !py::truthy(current) {
            return Ok(false);
        }
        if let Some(t) = title {
            self.table.new_section(Some(t.to_owned()), indent_level);
        }
        match current {
            Value::Array(items) => {
                if items.first().is_some_and(Value::is_object) {
                    self.sub_table_from_list(items, indent_level, title)?;
                } else {
                    for item in items {
                        match item {
                            Value::Object(m) => {
                                // Iterating a dict gives its keys, all scalars: one row of keys.
                                let row = m.keys().cloned().collect();
                                self.table.current()?.add_row(row)?;
                            }
                            Value::Array(a) if a.iter().all(is_scalar) => {
                                let row = a.iter().map(py::str).collect();
                                self.table.current()?.add_row(row)?;
                            }
                            Value::Array(_) => {
                                self.build(None, item, 0)?;
                            }
                            scalar => {
                                self.table.current()?.add_row(vec![py::str(scalar)])?;
                            }
                        }
                    }
                }
            }
            Value::Object(m) => self.sub_table_from_dict(m, indent_level)?,
            _ => {}
        }
        Ok(true)
    }

    fn sub_table_from_dict(
        &mut self,
        current: &Map<String, Value>,
        indent_level: usize,
    ) -> Result<(), RenderError> {
        let (headers, more) = group_scalar_keys(current);
        if headers.len() == 1 {
            let k = &headers[0];
            let v = current.get(k).map(py::str).unwrap_or_default();
            self.table.current()?.add_row(vec![k.clone(), v])?;
        } else if !headers.is_empty() {
            let row = headers
                .iter()
                .map(|k| current.get(k).map(py::str).unwrap_or_default())
                .collect();
            let s = self.table.current()?;
            s.add_header(headers)?;
            s.add_row(row)?;
        }
        for k in &more {
            if let Some(v) = current.get(k) {
                self.build(Some(k), v, indent_level + 1)?;
            }
        }
        Ok(())
    }

    fn sub_table_from_list(
        &mut self,
        current: &[Value],
        indent_level: usize,
        title: Option<&str>,
    ) -> Result<(), RenderError> {
        let mut headers: Vec<String> = Vec::new();
        let mut more: Vec<String> = Vec::new();
        for item in current {
            match item {
                Value::Object(m) => {
                    let (h, o) = group_scalar_keys(m);
                    headers.extend(h);
                    more.extend(o);
                }
                // An empty string or list groups to nothing in table.py; anything else that is
                // not a dict makes the aws CLI fail.
                Value::String(s) if s.is_empty() => {}
                Value::Array(a) if a.is_empty() => {}
                _ => {
                    return Err(RenderError::Unrenderable(
                        "a list mixes objects with other values",
                    ));
                }
            }
        }
        headers.sort();
        headers.dedup();
        more.sort();
        more.dedup();
        self.table.current()?.add_header(headers.clone())?;
        for (i, element) in current.iter().enumerate() {
            if i > 0 && !more.is_empty() {
                self.table
                    .new_section(title.map(str::to_owned), indent_level);
                self.table.current()?.add_header(headers.clone())?;
            }
            let Value::Object(m) = element else {
                if headers.is_empty() {
                    self.table.current()?.add_row(Vec::new())?;
                    continue;
                }
                return Err(RenderError::Unrenderable(
                    "a list mixes objects with other values",
                ));
            };
            let row = headers
                .iter()
                .map(|h| m.get(h).map(py::str).unwrap_or_default())
                .collect();
            self.table.current()?.add_row(row)?;
            for k in &more {
                if let Some(v) = m.get(k) {
                    self.build(Some(k), v, indent_level + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// The table output of `value` under `title` (the operation name), for a terminal of
/// `terminal_width` columns; empty when there is nothing to draw.
pub(crate) fn render(
    title: &str,
    value: &Value,
    terminal_width: usize,
) -> Result<String, RenderError> {
    let mut b = Builder {
        table: Table::default(),
    };
    if !b.build(Some(title), value, 0)? {
        return Ok(String::new());
    }
    Ok(b.table.render(terminal_width))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_access_keys_as_aws_draws_it() {
        let v = json!({"AccessKeyMetadata": [
            {"UserName": "Bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active", "CreateDate": "2013-06-04T18:17:34+00:00"},
            {"UserName": "Bob", "AccessKeyId": "AKIAI44QH8DHBEXAMPLE", "Status": "Inactive", "CreateDate": "2013-06-06T20:42:26+00:00"}
        ]});
        let want = "\
---------------------------------------------------------------------------------
|                                ListAccessKeys                                 |
+-------------------------------------------------------------------------------+
||                              AccessKeyMetadata                              ||
|+-----------------------+-----------------------------+-----------+-----------+|
||      AccessKeyId      |         CreateDate          |  Status   | UserName  ||
|+-----------------------+-----------------------------+-----------+-----------+|
||  AKIAIOSFODNN7EXAMPLE |  2013-06-04T18:17:34+00:00  |  Active   |  Bob      ||
||  AKIAI44QH8DHBEXAMPLE |  2013-06-06T20:42:26+00:00  |  Inactive |  Bob      ||
|+-----------------------+-----------------------------+-----------+-----------+|
";
        assert_eq!(render("ListAccessKeys", &v, 80).expect("renders"), want);
    }

    #[test]
    fn nothing_to_draw() {
        for v in [json!({}), json!([]), json!(null), json!(0), json!("")] {
            assert_eq!(render("T", &v, 80).expect("renders"), "");
        }
    }
}
