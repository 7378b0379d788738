//! `clean.filter`: keeps the documents for which an expression over their metadata and text
//! statistics is true — the last step of the curator's loop (tag with `on_match: annotate`,
//! look at the distributions, then filter on the tags).
//!
//! Expressions are [evalexpr](https://docs.rs/evalexpr)'s: `&&`, `||`, `!`, comparisons,
//! arithmetic, string literals in double quotes, `()` for "no value", and its built-in functions
//! (`str::regex_matches(url, "^https://")`, `len(x)`, `math::ln(x)`). A name is a metadata key
//! (`lang`, `fasttext.hq` — a key holding dots is read as it is, else the dots reach into
//! objects; `meta.` in front is allowed), or one of the document's own values: `id`, `text`,
//! `chars`, `words`, `lines`, `bytes`. Only the names the expression uses are computed.
//!
//! A missing metadata key is `()`: `lang == "en"` is then false, and `lang_score >= 0.65` is an
//! error, which fails that document with a message naming it and the expression (guard with
//! `lang_score != () && lang_score >= 0.65`). An expression that cannot be parsed is a config
//! diagnostic at its line and column. Drops are `expression_false`, counted under the stage's
//! `id`; `on_match: annotate` keeps everything and writes the verdict to `meta.<key>`.
//!
//! ```yaml
//! type: clean.filter
//! id: english_quality
//! keep: 'lang == "en" && lang_score >= 0.65 && words >= 50'
//! ```

use evalexpr::{
    build_operator_tree, error::EvalexprResultValue, Context, DefaultNumericTypes, EvalexprError,
    EvalexprResult, Node, Value,
};
use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, OnMatch, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.filter`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Keep documents for which this expression is true (evalexpr syntax: `&&`, `||`, `!`,
    /// comparisons, `"strings"`, `str::regex_matches(url, "...")`). Names are metadata keys
    /// (`lang`, `fasttext.hq`, nested `quality.gopher.verdict`) or `id`, `text`, `chars`,
    /// `words`, `lines`, `bytes`; a missing key is `()`.
    pub keep: String,
    /// `drop` (default) or `annotate` (keep everything; the verdict in `meta.<key>`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
    /// With `annotate`: the metadata key of the verdict (`keep` or `expression_false`).
    #[serde(default = "default_key")]
    pub key: String,
}

fn default_key() -> String {
    "filter.verdict".into()
}

const FALSE: DropReason = DropReason("expression_false");

/// Errors that say the expression itself is malformed, whatever the values.
fn is_structural(error: &EvalexprError) -> bool {
    matches!(
        error,
        EvalexprError::WrongOperatorArgumentAmount { .. }
            | EvalexprError::WrongFunctionArgumentAmount { .. }
            | EvalexprError::AppendedToLeafNode
            | EvalexprError::PrecedenceViolation
            | EvalexprError::UnmatchedLBrace
            | EvalexprError::UnmatchedRBrace
            | EvalexprError::MissingOperatorOutsideOfBrace
            | EvalexprError::UnmatchedPartialToken { .. }
            | EvalexprError::FunctionIdentifierNotFound(_)
    )
}

impl FilterConfig {
    /// The parsed expression, or what is wrong with it.
    fn parse(&self) -> Result<Node<DefaultNumericTypes>, String> {
        let tree = build_operator_tree::<DefaultNumericTypes>(&self.keep).map_err(|e| e.to_string())?;
        if tree.children().is_empty() {
            return Err("the expression is empty".into());
        }
        // A dry run with every name `()` finds malformed trees the parser lets through
        // (`lang == && x`); type errors are expected here and ignored.
        let names: Vec<String> = tree.iter_variable_identifiers().map(str::to_string).collect();
        let dry = Values { names: &names, values: vec![Value::Empty; names.len()] };
        match tree.eval_with_context(&dry) {
            Err(e) if is_structural(&e) => Err(e.to_string()),
            _ => Ok(tree),
        }
    }
}

impl StageConfig for FilterConfig {
    const TYPE: &'static str = "clean.filter";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Keep documents by an expression over meta and text stats (lang == \"en\" && words >= 50)";
    const EXAMPLE: &'static str = "type: clean.filter\nkeep: 'site != \"b.org\" && words >= 3'\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("expression_false", "the `keep` expression is false for the document")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.parse()
            .map(|_| ())
            .map_err(|e| vec![FieldError::new("keep", format!("not a valid expression: {e}"))])
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let tree = self.parse().map_err(|e| BuildError::field("keep", e))?;
        Ok(Stage::transform(ExpressionFilter::new(tree, self.clone())))
    }
}

/// The `clean.filter` transform.
pub struct ExpressionFilter {
    tree: Node<DefaultNumericTypes>,
    /// The names the expression reads, sorted.
    names: Vec<String>,
    config: FilterConfig,
}

/// The values of the names an expression reads, for one document.
struct Values<'n> {
    names: &'n [String],
    values: Vec<Value>,
}

impl Context for Values<'_> {
    type NumericTypes = DefaultNumericTypes;

    fn get_value(&self, identifier: &str) -> Option<&Value> {
        self.names.iter().position(|n| n == identifier).map(|i| &self.values[i])
    }
    fn call_function(&self, identifier: &str, _argument: &Value) -> EvalexprResultValue {
        Err(EvalexprError::FunctionIdentifierNotFound(identifier.to_string()))
    }
    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }
    fn set_builtin_functions_disabled(&mut self, disabled: bool) -> EvalexprResult<()> {
        if disabled {
            Err(EvalexprError::BuiltinFunctionsCannotBeDisabled)
        } else {
            Ok(())
        }
    }
}

/// A JSON value as an expression value: objects as their JSON text, `null` as `()`.
fn to_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Empty,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Tuple(items.iter().map(to_value).collect()),
        object @ serde_json::Value::Object(_) => Value::String(object.to_string()),
    }
}

/// The metadata value at `key`: the key as written, else a dotted path into objects.
fn meta_value<'d>(meta: &'d millstone_core::Meta, key: &str) -> Option<&'d serde_json::Value> {
    if let Some(v) = meta.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut value = meta.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The value of `name` for `doc`.
pub fn value_of(doc: &Document, name: &str) -> Value {
    let count = |n: usize| Value::Int(n as i64);
    match name {
        "id" => Value::String(doc.id.to_string()),
        "text" => Value::String(doc.text.clone()),
        "chars" => count(doc.text.chars().count()),
        "words" => count(doc.text.split_whitespace().count()),
        "lines" => count(doc.text.lines().count()),
        "bytes" => count(doc.text.len()),
        _ => {
            let key = name.strip_prefix("meta.").unwrap_or(name);
            meta_value(&doc.meta, key).map_or(Value::Empty, to_value)
        }
    }
}

impl ExpressionFilter {
    fn new(tree: Node<DefaultNumericTypes>, config: FilterConfig) -> Self {
        let mut names: Vec<String> = tree.iter_variable_identifiers().map(str::to_string).collect();
        names.sort();
        names.dedup();
        ExpressionFilter { tree, names, config }
    }

    /// Whether the expression is true for `doc`.
    pub fn keeps(&self, doc: &Document) -> Result<bool, String> {
        let values =
            Values { names: &self.names, values: self.names.iter().map(|n| value_of(doc, n)).collect() };
        self.tree.eval_boolean_with_context(&values).map_err(|e| {
            let shown: Vec<String> = self
                .names
                .iter()
                .zip(&values.values)
                .filter(|(n, _)| n.as_str() != "text")
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            format!("`{}`: {e} (with {})", self.config.keep, shown.join(", "))
        })
    }
}

impl Transform for ExpressionFilter {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let keep =
            self.keeps(&doc).map_err(|message| StageError::Document { id: doc.id.clone(), message })?;
        let tag = (self.config.on_match == OnMatch::Annotate).then_some(self.config.key.as_str());
        out.decide(doc, (!keep).then_some(FALSE), tag);
        Ok(())
    }

    fn thresholds(&self) -> Vec<millstone_core::Threshold> {
        let mut found = Vec::new();
        comparisons(&self.tree, &mut found);
        found
    }
}

/// Every `name <op> number` (or `number <op> name`) comparison in an expression, as the
/// threshold a kept document passes.
fn comparisons(node: &Node<DefaultNumericTypes>, found: &mut Vec<millstone_core::Threshold>) {
    use evalexpr::Operator;
    let op = match node.operator() {
        Operator::Gt => Some((">", "<")),
        Operator::Geq => Some((">=", "<=")),
        Operator::Lt => Some(("<", ">")),
        Operator::Leq => Some(("<=", ">=")),
        Operator::Eq => Some(("==", "==")),
        _ => None,
    };
    let operand = |n: &Node<DefaultNumericTypes>| match n.operator() {
        Operator::VariableIdentifierRead { identifier } => Some(Err(identifier.clone())),
        Operator::Const { value } => value.as_number().ok().map(Ok),
        _ => None,
    };
    if let (Some((forward, flipped)), [a, b]) = (op, node.children()) {
        let (field, op, value) = match (operand(a), operand(b)) {
            (Some(Err(field)), Some(Ok(value))) => (field, forward, value),
            (Some(Ok(value)), Some(Err(field))) => (field, flipped, value),
            _ => return node.children().iter().for_each(|c| comparisons(c, found)),
        };
        let field = field.strip_prefix("meta.").unwrap_or(&field).to_string();
        found.push(millstone_core::Threshold { field, op: op.into(), value });
        return;
    }
    node.children().iter().for_each(|c| comparisons(c, found));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keep: &str) -> ExpressionFilter {
        let config = FilterConfig { keep: keep.into(), on_match: OnMatch::Drop, key: default_key() };
        let Stage::Transform(_) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
        ExpressionFilter::new(config.parse().unwrap(), config)
    }

    #[test]
    fn comparisons_with_numbers_are_thresholds() {
        let f =
            filter(r#"lang == "en" && (lang_score >= 0.65 || 3 < meta.quality.gopher.words) && !(x > y)"#);
        let found: Vec<(String, String, f64)> =
            f.thresholds().into_iter().map(|t| (t.field, t.op, t.value)).collect();
        assert_eq!(
            found,
            [("lang_score".into(), ">=".into(), 0.65), ("quality.gopher.words".into(), ">".into(), 3.0)]
        );
    }

    fn doc() -> Document {
        let mut doc = Document::new("d1", "one two three\nfour")
            .with_meta("lang", "en")
            .with_meta("lang_score", 0.8)
            .with_meta("fasttext.hq", 0.2)
            .with_meta("url", "https://example.org/a");
        doc.meta.insert("quality".into(), serde_json::json!({"gopher": {"verdict": "keep", "words": 4}}));
        doc
    }

    #[test]
    fn reads_meta_nested_meta_dotted_keys_and_text_stats() {
        let d = doc();
        for (expr, expected) in [
            (r#"lang == "en" && lang_score >= 0.65"#, true),
            (r#"meta.lang == "de""#, false),
            ("fasttext.hq > 0.5", false),
            (r#"quality.gopher.verdict == "keep" && quality.gopher.words == words"#, true),
            ("words == 4 && lines == 2 && chars == 18 && bytes == 18", true),
            (r#"str::regex_matches(url, "^https://example\\.org/")"#, true),
            (r#"id == "d1" && len(text) > 10"#, true),
            (r#"missing == "x""#, false),
            ("missing == ()", true),
        ] {
            assert_eq!(filter(expr).keeps(&d), Ok(expected), "{expr}");
        }
    }

    #[test]
    fn type_errors_fail_the_document_naming_the_values() {
        let err = filter("missing >= 0.5").keeps(&doc()).unwrap_err();
        assert!(err.contains("missing >= 0.5") && err.contains("missing = ()"), "{err}");
        let err = filter("lang_score + 1").keeps(&doc()).unwrap_err();
        assert!(err.contains("lang_score = 0.8"), "{err}");
    }

    #[test]
    fn malformed_expressions_are_config_errors() {
        for bad in ["lang == && x", "(words > 3", "words >", "", "nosuchfn(words)"] {
            let config = FilterConfig { keep: bad.into(), on_match: OnMatch::Drop, key: default_key() };
            let problems = config.validate().unwrap_err();
            assert_eq!(problems[0].field, "keep", "{bad}");
            assert!(
                problems[0].message.starts_with("not a valid expression"),
                "{bad}: {}",
                problems[0].message
            );
        }
    }

    #[test]
    fn drops_or_annotates() {
        for on_match in [OnMatch::Drop, OnMatch::Annotate] {
            let config = FilterConfig { keep: "words > 3".into(), on_match, key: default_key() };
            let Stage::Transform(t) = config.build(&BuildContext::for_tests()).unwrap() else { panic!() };
            let mut out = Emit::new(false);
            t.apply(doc(), &mut out).unwrap();
            t.apply(Document::new("short", "a b"), &mut out).unwrap();
            if on_match == OnMatch::Drop {
                assert_eq!((out.kept().len(), out.dropped_count()), (1, 1));
            } else {
                let verdicts: Vec<&serde_json::Value> =
                    out.kept().iter().map(|d| &d.meta["filter.verdict"]).collect();
                assert_eq!(verdicts, ["keep", "expression_false"]);
            }
        }
    }
}
