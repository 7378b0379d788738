//! Compiler-style diagnostics for pipeline files: position, key path, label, help.

use std::fmt;

use crate::positions::Pos;

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The headline (`unknown stage type `x``).
    pub message: String,
    /// Dotted key path (`stages.2.bands`); empty for the whole file.
    pub path: String,
    /// Where in the file, if known.
    pub pos: Option<Pos>,
    /// A short label shown under the caret.
    pub label: Option<String>,
    /// A hint (`did you mean ...?`).
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a key path.
    pub fn new(message: impl Into<String>, path: impl Into<String>, pos: Option<Pos>) -> Self {
        Diagnostic { message: message.into(), path: path.into(), pos, label: None, help: None }
    }
    /// Adds a label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// All problems found in one pipeline file, printed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file name as given.
    pub file: String,
    /// The file's text, for source snippets.
    pub source: String,
    /// The problems, in file order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Number of problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

fn caret_width(line: &str, col: usize) -> usize {
    let rest: String = line.chars().skip(col.saturating_sub(1)).collect();
    let token = rest
        .trim_start_matches(['"', '\''])
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == '}' || c == '"' || c == '\'')
        .next()
        .unwrap_or("");
    token.chars().count().max(1)
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.source.lines().collect();
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "error: {}", d.message)?;
            match d.pos {
                Some(pos) => {
                    writeln!(f, "  --> {}:{}:{}", self.file, pos.line, pos.col)?;
                    if let Some(line) = lines.get(pos.line.wrapping_sub(1)) {
                        let number = pos.line.to_string();
                        let pad = " ".repeat(number.len());
                        writeln!(f, "{pad} |")?;
                        writeln!(f, "{number} | {line}")?;
                        let offset: String = line
                            .chars()
                            .take(pos.col.saturating_sub(1))
                            .map(|c| if c == '\t' { '\t' } else { ' ' })
                            .collect();
                        let carets = "^".repeat(caret_width(line, pos.col));
                        match &d.label {
                            Some(label) => writeln!(f, "{pad} | {offset}{carets} {label}")?,
                            None => writeln!(f, "{pad} | {offset}{carets}")?,
                        }
                    }
                }
                None => {
                    writeln!(f, "  --> {}", self.file)?;
                    if let Some(label) = &d.label {
                        writeln!(f, "   = note: {label}")?;
                    }
                }
            }
            if !d.path.is_empty() {
                writeln!(f, "   = key: {}", d.path)?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "   = help: {help}")?;
            }
        }
        let n = self.items.len();
        write!(f, "{n} error{} in {}", if n == 1 { "" } else { "s" }, self.file)
    }
}

impl std::error::Error for Diagnostics {}
