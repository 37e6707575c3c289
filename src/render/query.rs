//! `--query`: JMESPath, evaluated by the `jmespath` crate, with results that read as the `aws`
//! CLI's (which uses jmespath.py).
//!
//! Two differences of the crate are bridged here, without a second interpreter:
//!
//! - The crate keeps objects in `BTreeMap`s, so a result's keys come out sorted, where
//!   jmespath.py keeps the response's order and a multi-select hash's order. The order is put
//!   back afterwards: an object of the result takes the order of the multi-select hash with the
//!   same keys, else of the input object it equals, else of the `merge()` that made it; an
//!   object that matches none (only a literal in the expression can make one) stays sorted.
//! - A few builtins differ from jmespath.py in type or order; they are replaced by versions with
//!   jmespath.py's results: `abs`, `ceil`, `floor` and `sum` keep integers integral, `avg` of
//!   `[]` is `null`, `keys`, `values` and `merge` keep key order, `to_string` writes
//!   `json.dumps(x, separators=(',', ':'))` (ASCII, Python's floats), `to_number` reads what
//!   Python's `int()`/`float()` read.
//!
//! A third is bridged before the crate parses: jmespath.py still reads a backtick literal whose
//! text is not JSON as a string (JEP 12's deprecated "legacy literal", as in
//! ``[?Status==`Active`]``, which AWS's own docs use), where the crate refuses it. jmespath.py's
//! `Lexer._consume_literal` (jmespath/lexer.py) takes the text between the backticks (a
//! backslash keeps the next character, `` \` `` becomes a backtick), tries `json.loads(text)`,
//! then `json.loads('"%s"' % text.lstrip())`, then refuses. `rewrite_legacy_literals` writes
//! each literal that only the second reads as the JSON string it gives, so the crate reads it
//! alike; what jmespath.py refuses stays as written, for the crate to refuse.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use jmespath::ast::Ast;
use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Rcvar, Runtime, Variable};
use serde_json::{Map, Number, Value};

use super::py;

/// A compiled `--query` expression.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    ast: Ast,
}

/// A `--query` that does not parse, or fails on the value (a function given the wrong type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Whether the expression itself is malformed (a usage error), not its evaluation.
    pub syntax: bool,
    /// What went wrong, from the JMESPath implementation.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.syntax {
            write!(f, "bad value for --query: {}", self.message)
        } else {
            write!(f, "--query failed: {}", self.message)
        }
    }
}

impl std::error::Error for QueryError {}

impl Query {
    /// Parses a JMESPath expression.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let ast = jmespath::parse(&rewrite_legacy_literals(text)).map_err(|e| QueryError {
            syntax: true,
            message: e.to_string(),
        })?;
        Ok(Query {
            text: text.to_owned(),
            ast,
        })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The result of the expression on `value`, keys in jmespath.py's order.
    pub fn apply(&self, value: &Value) -> Result<Value, QueryError> {
        let runtime_error = |message: String| QueryError {
            syntax: false,
            message,
        };
        let index = Arc::new(OrderIndex::new(value, &self.ast));
        let mut runtime = Runtime::new();
        runtime.register_builtin_functions();
        register_python_functions(&mut runtime, &index);
        let data = Variable::try_from(value).map_err(|e| runtime_error(e.to_string()))?;
        let expr = jmespath::Expression::new(&self.text, self.ast.clone(), &runtime);
        let result = expr
            .search(data)
            .map_err(|e| runtime_error(e.to_string()))?;
        let plain = serde_json::to_value(&*result).map_err(|e| runtime_error(e.to_string()))?;
        Ok(index.restore(&plain))
    }
}

/// `text` with each legacy literal (a backtick literal that jmespath.py reads as a string because
/// it is not JSON) written as that string in JSON; everything else as it was. Raw strings `'…'`
/// and quoted identifiers `"…"` are skipped whole: a backtick in them delimits nothing.
fn rewrite_legacy_literals(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0; // how much of `text` is in `out`; 0 while nothing was rewritten
    let mut chars = text.char_indices();
    while let Some((start, open)) = chars.next() {
        if !matches!(open, '`' | '\'' | '"') {
            continue;
        }
        // To the closing delimiter; a backslash takes the next character along, as jmespath.py's
        // `_consume_until` (and the crate's `consume_inside`) do.
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                chars.next();
            } else if c == open {
                end = Some(i);
                break;
            }
        }
        let Some(end) = end else { break }; // unclosed: the crate says so
        if open != '`' {
            continue;
        }
        if let Some(s) = legacy_string(&text[start + 1..end].replace("\\`", "`")) {
            out.push_str(&text[copied..start]);
            out.push('`');
            out.push_str(&Value::String(s).to_string().replace('`', "\\`"));
            out.push('`');
            copied = end + 1;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The string jmespath.py reads a literal's `text` (backticks unescaped) as, when that is not
/// JSON: `json.loads('"%s"' % text.lstrip())`. `None` when `text` is JSON (the crate reads it as
/// jmespath.py does) or jmespath.py refuses it.
fn legacy_string(text: &str) -> Option<String> {
    if Variable::from_json(text).is_ok() {
        return None;
    }
    // Python's `str.isspace`: Unicode's White_Space and the separators U+001C..U+001F.
    let stripped =
        text.trim_start_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c));
    let s = serde_json::from_str(&format!("\"{stripped}\"")).ok()?;
    (!python_json_reads(text)).then_some(s)
}

/// Whether Python's `json.loads` reads `text`, which serde_json refused. Python also reads `NaN`,
/// `Infinity` and `-Infinity`, numbers beyond f64 (as infinities) and nesting deeper than
/// serde_json's 128 levels: jmespath.py gives such a literal that value, not a string, and the
/// crate cannot hold it, so it stays refused. (Only text without strings gets here: a `"` that
/// is not escaped already failed the string reading.)
fn python_json_reads(text: &str) -> bool {
    let finite = text
        .replace("-Infinity", " 0 ")
        .replace("Infinity", " 0 ")
        .replace("NaN", " 0 ");
    match serde_json::from_str::<Value>(&finite) {
        Ok(_) => true,
        Err(e) => {
            let m = e.to_string();
            m.starts_with("number out of range") || m.starts_with("recursion limit exceeded")
        }
    }
}

/// Where the key order of the result's objects comes from.
struct OrderIndex {
    /// Input objects by their sorted keys: (keys in order, the object).
    inputs: HashMap<Vec<String>, Vec<(Vec<String>, Value)>>,
    /// The key lists of the expression's multi-select hashes.
    hashes: Vec<Vec<String>>,
    /// Objects that `merge()` made during this evaluation.
    made: Mutex<Vec<(Vec<String>, Value)>>,
}

fn sorted_keys(m: &Map<String, Value>) -> Vec<String> {
    let mut k: Vec<String> = m.keys().cloned().collect();
    k.sort();
    k
}

impl OrderIndex {
    fn new(input: &Value, ast: &Ast) -> Self {
        let mut inputs: HashMap<Vec<String>, Vec<(Vec<String>, Value)>> = HashMap::new();
        fn walk(v: &Value, into: &mut HashMap<Vec<String>, Vec<(Vec<String>, Value)>>) {
            match v {
                Value::Object(m) => {
                    into.entry(sorted_keys(m))
                        .or_default()
                        .push((m.keys().cloned().collect(), v.clone()));
                    m.values().for_each(|c| walk(c, into));
                }
                Value::Array(a) => a.iter().for_each(|c| walk(c, into)),
                _ => {}
            }
        }
        walk(input, &mut inputs);
        let mut hashes = Vec::new();
        collect_hashes(ast, &mut hashes);
        OrderIndex {
            inputs,
            hashes,
            made: Mutex::new(Vec::new()),
        }
    }

    fn order_of(&self, m: &Map<String, Value>) -> Option<Vec<String>> {
        let sig = sorted_keys(m);
        if let Some(h) = self.hashes.iter().find(|h| {
            let mut s = (*h).clone();
            s.sort();
            s == sig
        }) {
            return Some(h.clone());
        }
        let as_value = Value::Object(m.clone());
        let candidates = self.inputs.get(&sig);
        if let Some((keys, _)) = candidates.and_then(|c| c.iter().find(|(_, v)| *v == as_value)) {
            return Some(keys.clone());
        }
        if let Ok(made) = self.made.lock()
            && let Some((keys, _)) = made.iter().rev().find(|(_, v)| *v == as_value)
        {
            return Some(keys.clone());
        }
        candidates.and_then(|c| c.first()).map(|(k, _)| k.clone())
    }

    /// `v` with every object's keys in jmespath.py's order.
    fn restore(&self, v: &Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(a.iter().map(|e| self.restore(e)).collect()),
            Value::Object(m) => {
                let order = self.order_of(m).unwrap_or_else(|| sorted_keys(m));
                let mut out = Map::new();
                for k in order {
                    if let Some(e) = m.get(&k) {
                        out.insert(k, self.restore(e));
                    }
                }
                // Keys the template did not list (cannot happen when it matched): keep them.
                for (k, e) in m {
                    if !out.contains_key(k) {
                        out.insert(k.clone(), self.restore(e));
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

fn collect_hashes(ast: &Ast, into: &mut Vec<Vec<String>>) {
    match ast {
        Ast::MultiHash { elements, .. } => {
            into.push(elements.iter().map(|kv| kv.key.clone()).collect());
            for kv in elements {
                collect_hashes(&kv.value, into);
            }
        }
        Ast::Comparison { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => {
            collect_hashes(lhs, into);
            collect_hashes(rhs, into);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            collect_hashes(predicate, into);
            collect_hashes(then, into);
        }
        Ast::Expref { ast, .. } => collect_hashes(ast, into),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            collect_hashes(node, into)
        }
        Ast::Function { args, .. } => args.iter().for_each(|a| collect_hashes(a, into)),
        Ast::MultiList { elements, .. } => elements.iter().for_each(|a| collect_hashes(a, into)),
        Ast::Identity { .. }
        | Ast::Field { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

fn to_value(v: &Rcvar) -> Value {
    serde_json::to_value(&**v).unwrap_or(Value::Null)
}

fn from_value(v: &Value) -> Rcvar {
    Rcvar::new(Variable::try_from(v).unwrap_or(Variable::Null))
}

fn number(n: Number) -> Rcvar {
    Rcvar::new(Variable::Number(n))
}

fn float(f: f64) -> Rcvar {
    Number::from_f64(f).map_or_else(|| Rcvar::new(Variable::Null), number)
}

/// An exact integer as JSON can hold it, else the nearest float.
fn integer(i: i128) -> Rcvar {
    if let Ok(v) = i64::try_from(i) {
        number(Number::from(v))
    } else if let Ok(v) = u64::try_from(i) {
        number(Number::from(v))
    } else {
        float(i as f64)
    }
}

fn as_int(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// jmespath.py's `sum`: exact while the numbers are integers, floats from the first float on.
fn python_sum(values: &[Rcvar]) -> Rcvar {
    let mut int_acc: i128 = 0;
    let mut float_acc: Option<f64> = None;
    for v in values {
        if let Variable::Number(n) = &**v {
            match (float_acc, as_int(n)) {
                (None, Some(i)) => int_acc = int_acc.saturating_add(i),
                (None, None) => float_acc = Some(int_acc as f64 + n.as_f64().unwrap_or(0.0)),
                (Some(f), _) => float_acc = Some(f + n.as_f64().unwrap_or(0.0)),
            }
        }
    }
    match float_acc {
        Some(f) => float(f),
        None => integer(int_acc),
    }
}

/// Python's `int(s)` or else `float(s)`, `None` where both refuse (or give inf/nan, which JSON
/// cannot hold).
fn python_to_number(s: &str) -> Option<Value> {
    let t = s.trim();
    let well_placed_underscores =
        |d: &str| !d.starts_with('_') && !d.ends_with('_') && !d.contains("__") && !d.is_empty();
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !unsigned.is_empty()
        && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && well_placed_underscores(unsigned)
    {
        let digits: String = t.chars().filter(|&c| c != '_').collect();
        if let Ok(i) = digits.parse::<i64>() {
            return Some(Value::from(i));
        }
        if let Ok(u) = digits.parse::<u64>() {
            return Some(Value::from(u));
        }
        return digits
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number);
    }
    // float(): digits with single underscores between them, a point, an exponent.
    let valid = unsigned.split(['.', 'e', 'E']).all(|part| {
        let p = part.strip_prefix(['+', '-']).unwrap_or(part);
        p.is_empty() || well_placed_underscores(p)
    });
    if !valid || !unsigned.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    let f = cleaned.parse::<f64>().ok()?;
    if !f.is_finite() {
        return None;
    }
    Number::from_f64(f).map(Value::Number)
}

fn custom(
    inputs: Vec<ArgumentType>,
    variadic: Option<ArgumentType>,
    f: impl Fn(&[Rcvar], &mut Context<'_>) -> jmespath::SearchResult + Send + Sync + 'static,
) -> Box<CustomFunction> {
    Box::new(CustomFunction::new(
        Signature::new(inputs, variadic),
        Box::new(f),
    ))
}

fn register_python_functions(rt: &mut Runtime, index: &Arc<OrderIndex>) {
    register_number_functions(rt);
    register_object_functions(rt, index);
}

/// abs, ceil, floor, sum, avg, to_number: Python's numbers (an int stays an int).
fn register_number_functions(rt: &mut Runtime) {
    use ArgumentType as T;
    let numbers = || T::TypedArray(Box::new(T::Number));
    rt.register_function(
        "abs",
        custom(vec![T::Number], None, |args, _| {
            Ok(match &*args[0] {
                Variable::Number(n) => match as_int(n) {
                    Some(i) => integer(i.abs()),
                    None => float(n.as_f64().unwrap_or(0.0).abs()),
                },
                _ => args[0].clone(),
            })
        }),
    );
    for (name, round) in [("ceil", f64::ceil as fn(f64) -> f64), ("floor", f64::floor)] {
        rt.register_function(
            name,
            custom(vec![T::Number], None, move |args, _| {
                Ok(match &*args[0] {
                    Variable::Number(n) => match as_int(n) {
                        Some(i) => integer(i),
                        None => {
                            let r = round(n.as_f64().unwrap_or(0.0));
                            if r.abs() < 9.0e18 {
                                integer(r as i128)
                            } else {
                                float(r)
                            }
                        }
                    },
                    _ => args[0].clone(),
                })
            }),
        );
    }
    rt.register_function(
        "sum",
        custom(vec![numbers()], None, |args, _| {
            Ok(python_sum(args[0].as_array().map_or(&[], Vec::as_slice)))
        }),
    );
    rt.register_function(
        "avg",
        custom(vec![numbers()], None, |args, _| {
            let values = args[0].as_array().map_or(&[][..], Vec::as_slice);
            if values.is_empty() {
                return Ok(Rcvar::new(Variable::Null));
            }
            let total = python_sum(values).as_number().unwrap_or(0.0);
            Ok(float(total / values.len() as f64))
        }),
    );
    rt.register_function(
        "to_number",
        custom(vec![T::Any], None, |args, _| {
            Ok(match &*args[0] {
                Variable::Number(_) => args[0].clone(),
                Variable::String(s) => python_to_number(s)
                    .map_or_else(|| Rcvar::new(Variable::Null), |v| from_value(&v)),
                _ => Rcvar::new(Variable::Null),
            })
        }),
    );
}

/// keys, values, merge, to_string: objects in the order the aws CLI keeps them.
fn register_object_functions(rt: &mut Runtime, index: &Arc<OrderIndex>) {
    use ArgumentType as T;
    let idx = Arc::clone(index);
    rt.register_function(
        "keys",
        custom(vec![T::Object], None, move |args, _| {
            let keys = match to_value(&args[0]) {
                Value::Object(m) => idx.order_of(&m).unwrap_or_else(|| sorted_keys(&m)),
                _ => Vec::new(),
            };
            Ok(from_value(&Value::Array(
                keys.into_iter().map(Value::String).collect(),
            )))
        }),
    );
    let idx = Arc::clone(index);
    rt.register_function(
        "values",
        custom(vec![T::Object], None, move |args, _| {
            let values = match idx.restore(&to_value(&args[0])) {
                Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
                _ => Vec::new(),
            };
            Ok(from_value(&Value::Array(values)))
        }),
    );
    let idx = Arc::clone(index);
    rt.register_function(
        "merge",
        custom(vec![T::Object], Some(T::Object), move |args, _| {
            let mut merged = Map::new();
            for a in args {
                if let Value::Object(m) = idx.restore(&to_value(a)) {
                    for (k, v) in m {
                        merged.insert(k, v);
                    }
                }
            }
            let keys: Vec<String> = merged.keys().cloned().collect();
            let value = Value::Object(merged);
            if let Ok(mut made) = idx.made.lock() {
                made.push((keys, value.clone()));
            }
            Ok(from_value(&value))
        }),
    );
    let idx = Arc::clone(index);
    rt.register_function(
        "to_string",
        custom(vec![T::Any], None, move |args, _| {
            Ok(match &*args[0] {
                Variable::String(_) => args[0].clone(),
                _ => Rcvar::new(Variable::String(py::json_dumps(
                    &idx.restore(&to_value(&args[0])),
                    py::JsonStyle {
                        indent: None,
                        ensure_ascii: true,
                        compact: true,
                    },
                ))),
            })
        }),
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(expr: &str, v: &Value) -> Value {
        Query::parse(expr)
            .expect("parses")
            .apply(v)
            .expect("evaluates")
    }

    fn keys_of(v: &Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn results_keep_the_responses_key_order() {
        let v = json!({"AccessKeyMetadata": [
            {"UserName": "bob", "AccessKeyId": "AKIA1", "Status": "Active", "CreateDate": "2013"},
            {"UserName": "bob", "AccessKeyId": "AKIA2", "Status": "Inactive", "CreateDate": "2014"}
        ]});
        let first = q("AccessKeyMetadata[0]", &v);
        assert_eq!(
            keys_of(&first),
            ["UserName", "AccessKeyId", "Status", "CreateDate"]
        );
        let hash = q("AccessKeyMetadata[0].{Z: Status, A: AccessKeyId}", &v);
        assert_eq!(keys_of(&hash), ["Z", "A"]);
        assert_eq!(
            q("keys(AccessKeyMetadata[0])", &v),
            json!(["UserName", "AccessKeyId", "Status", "CreateDate"])
        );
        let merged = q("merge(AccessKeyMetadata[0], {Extra: `1`})", &v);
        assert_eq!(
            keys_of(&merged),
            ["UserName", "AccessKeyId", "Status", "CreateDate", "Extra"]
        );
    }

    #[test]
    fn numbers_come_out_as_jmespath_py_gives_them() {
        let v = json!({"a": [1, 2, 3], "f": [1.5, 2], "e": []});
        assert_eq!(q("sum(a)", &v), json!(6));
        assert_eq!(q("sum(f)", &v), json!(3.5));
        assert_eq!(q("avg(a)", &v), json!(2.0));
        assert_eq!(q("avg(e)", &v), json!(null));
        assert_eq!(q("length(a)", &v), json!(3));
        assert_eq!(q("ceil(`1.2`)", &v), json!(2));
        assert_eq!(q("abs(`-3`)", &v), json!(3));
        assert_eq!(q("to_number('01')", &v), json!(1));
        assert_eq!(q("to_string(a)", &v), json!("[1,2,3]"));
    }

    #[test]
    fn a_malformed_expression_is_a_syntax_error() {
        let e = Query::parse("AccessKeyMetadata[").expect_err("malformed");
        assert!(e.syntax);
        let e = Query::parse("abs('x')")
            .expect("parses")
            .apply(&json!({}))
            .expect_err("wrong type");
        assert!(!e.syntax);
    }

    #[test]
    fn json_literals_are_left_as_written() {
        for expr in [
            "a[?b==`\"Active\"`]",
            "`1`",
            "` [1, {\"a\": null}] `",
            "`\"a\\`b\"`",
            "`-0.5e3`",
            "a.b",
        ] {
            assert!(
                matches!(rewrite_legacy_literals(expr), Cow::Borrowed(_)),
                "{expr}"
            );
        }
    }

    #[test]
    fn legacy_literals_become_the_json_strings_jmespath_py_reads() {
        for (expr, rewritten) in [
            (
                "AccessKeyMetadata[?Status==`Active`]",
                "AccessKeyMetadata[?Status==`\"Active\"`]",
            ),
            ("` two  words `", "`\"two  words \"`"),
            ("``", "`\"\"`"),
            ("`1 2`", "`\"1 2\"`"),
            ("`Infinity War`", "`\"Infinity War\"`"),
            (
                "`2013-06-04T18:17:34+00:00`",
                "`\"2013-06-04T18:17:34+00:00\"`",
            ),
            // An escaped backtick is part of the literal; other escapes are JSON's.
            ("`it\\`s`", "`\"it\\`s\"`"),
            ("`a\\nb`", "`\"a\\nb\"`"),
            ("`say \\\"hi\\\"`", "`\"say \\\"hi\\\"\"`"),
            ("`\\u00e9`", "`\"é\"`"),
            ("`\\\\`", "`\"\\\\\"`"),
            // Python's lstrip: Unicode whitespace and U+001C..U+001F, on the left only.
            ("`\u{1c}\u{a0}\tx `", "`\"x \"`"),
            // Backticks in raw strings and quoted identifiers delimit nothing.
            ("'it`s' == `yes`", "'it`s' == `\"yes\"`"),
            ("'a\\'`b' == `c`", "'a\\'`b' == `\"c\"`"),
            ("\"we`ird\".x == `no`", "\"we`ird\".x == `\"no\"`"),
            ("[`a`, `1`, `b c`]", "[`\"a\"`, `1`, `\"b c\"`]"),
        ] {
            assert_eq!(rewrite_legacy_literals(expr), rewritten, "{expr}");
        }
    }

    #[test]
    fn legacy_literals_evaluate_as_in_jmespath_py() {
        let v = json!({"AccessKeyMetadata": [
            {"AccessKeyId": "AKIA1", "Status": "Active"},
            {"AccessKeyId": "AKIA2", "Status": "Inactive"}
        ]});
        assert_eq!(
            q("AccessKeyMetadata[?Status==`Active`].AccessKeyId", &v),
            json!(["AKIA1"])
        );
        assert_eq!(q("`it\\`s`", &v), json!("it`s"));
        assert_eq!(q("['`', `x`]", &v), json!(["`", "x"]));
    }

    #[test]
    fn what_jmespath_py_refuses_stays_refused() {
        let deep = format!("`{}{}`", "[".repeat(200), "]".repeat(200));
        for expr in [
            "`\"x`",     // an unescaped quote ends the JSON string early
            "` \"a`",    // also after the left strip
            "`a\tb`",    // a control character in a JSON string
            "`a\\qb`",   // not a JSON escape
            "`abc",      // unclosed
            "'a` == `b", // unclosed raw string
            // Python's json reads these as numbers or nested lists, not as strings; the crate
            // cannot hold them.
            "`NaN`",
            "`-Infinity`",
            "`[1, NaN]`",
            "`1e400`",
            &deep,
            // A lone surrogate: jmespath.py reads it, a Rust string cannot hold it.
            "`\\ud800`",
        ] {
            let e = Query::parse(expr).expect_err(expr);
            assert!(e.syntax, "{expr}");
        }
    }
}
