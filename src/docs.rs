//! Documentation generated from the registry: the stage tables of the README and of each stage
//! crate's `//!` docs, kept between `<!-- stages:begin -->` and `<!-- stages:end -->` markers.
//! `tests/docs.rs` fails when a table drifts from the registry (`UPDATE_DOCS=1` rewrites them).

use millstone_core::Registry;

/// The opening marker of a generated table.
pub const BEGIN: &str = "<!-- stages:begin: generated from the registry by tests/docs.rs -->";
/// The closing marker of a generated table.
pub const END: &str = "<!-- stages:end -->";

/// A Markdown table of the stages of `group` (`ingest`, `clean`...; `None` for all): type,
/// kind, summary and the `on_match` values it supports.
pub fn stage_table(registry: &Registry, group: Option<&str>) -> String {
    let mut rows =
        vec!["| type | kind | what it does | on_match |".to_string(), "|---|---|---|---|".to_string()];
    for info in registry.iter().filter(|i| group.is_none_or(|g| i.type_name.split('.').next() == Some(g))) {
        let on_match: Vec<&str> = info.on_match.iter().map(|v| v.as_str()).collect();
        rows.push(format!(
            "| `{}` | {} | {} | {} |",
            info.type_name,
            info.kind.as_str(),
            info.summary.replace('|', "\\|"),
            if on_match.is_empty() { "-".to_string() } else { on_match.join(", ") }
        ));
    }
    rows.join("\n")
}

/// Replaces what lies between the markers in `text` by `table`, each line prefixed by
/// `prefix` (`//! ` in Rust docs); `None` if the markers are missing.
pub fn with_table(text: &str, table: &str, prefix: &str) -> Option<String> {
    let begin = text.find(BEGIN)?;
    let body_start = text[begin..].find('\n')? + begin + 1;
    let end_marker = text[body_start..].find(END)? + body_start;
    let line_start = text[..end_marker].rfind('\n').map_or(0, |i| i + 1);
    let body: String = table.lines().map(|l| format!("{}{l}\n", prefix).replace(" \n", "\n")).collect();
    Some(format!("{}{body}{}", &text[..body_start], &text[line_start..]))
}
