//! `clean.strip_boilerplate`: line-level removal of page furniture and comment sections.
//!
//! Two mechanisms, both on whole lines (trimmed, case-insensitive):
//!
//! * **Boilerplate lines** — share bars, subscribe and newsletter prompts, cookie notices,
//!   "read more"/"related posts"/"filed under" lines, byline-only lines, copyright lines,
//!   donation appeals, comment-widget buttons. Only lines up to `max_line_chars` are candidates,
//!   so a sentence of the article that merely mentions cookies is never removed.
//! * **Comment-section truncation** — at the first marker line ("Notify of", "newest oldest
//!   most voted", "Leave a Comment", "12 comments", ...), everything after it goes. A marker that
//!   appears before `min_chars_before_cut` characters of text (navigation at the top of a page)
//!   only removes its own line.
//!
//! All patterns are compiled into one [`regex::RegexSet`] (finite automata: linear time, no
//! backtracking). `on_match: remove` rewrites the text; `on_match: annotate` leaves it and adds spans labelled
//! `boilerplate` and `comments`, and removing those spans gives exactly the `remove` output.

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Emit, FieldError, Map, MapStage, OnMatch, Span, Stage, StageConfig,
    StageError, StageKind,
};
use regex::{RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Built-in boilerplate line patterns (whole line, case-insensitive, after trimming).
pub const BOILERPLATE_PATTERNS: &[&str] = &[
    // share bars
    r"^(share|tweet|pin( it)?|e-?mail|print|whatsapp|facebook|twitter|x|linkedin|reddit|telegram|pocket|flipboard|copy link|share (this|on \w+)( (article|story|post|page))?)(\s*[|,/·•]?\s*(share|tweet|pin|e-?mail|print|whatsapp|facebook|twitter|linkedin|reddit|telegram|copy link))*\s*[:!.]?$",
    r"^(click to share on|share this:?|share via|sharing is caring|spread the word).*$",
    // subscriptions and newsletters
    r"^(subscribe|sign up|join)( now| today| here)?[.!]?$",
    r"^((please|click here to|don't forget to)\s+)?(subscribe to (our|the) (newsletter|channel|mailing list)|sign up for (our|the|a) (free )?newsletter|get (our|the) newsletter|enter your e-?mail)\b.{0,200}$",
    // cookies
    r"^(this (web)?site uses cookies|we use cookies|by (continuing|using)( to use)? (this|our) (web)?site|accept (all )?cookies|manage cookies|cookie (policy|settings|preferences|notice))\b.{0,250}$",
    // navigation
    r"^(read more|continue reading|read the (full|whole) (story|article)|see also|more|related|keep reading)\W*$",
    r"^(filed under|tags|tagged( with)?|categories|category|posted in|topics|keywords)\s*:.*$",
    r"^(related (posts|articles|stories|content|news|reading)|you (may|might) also like|recommended( for you| reading)?|more from .{1,40}|most (read|popular|viewed)|trending( now)?|popular (posts|stories))\W*$",
    r"^(previous|next|older|newer) (article|post|story|entry)\b.*$",
    r"^(advertisement|advertising|sponsored( content)?|promoted( content)?|ad|ads by .*)$",
    r"^(skip to (main )?content|jump to navigation|back to top|toggle navigation|main menu|menu|search|home)$",
    // bylines and credits standing alone
    r"^(by|written by|posted by|author:?|words by)\s+\p{Lu}[\p{L}.'’-]*(\s+(\p{Lu}[\p{L}.'’-]*|de|van|von|da|al|bin))*\s*([|,–—-]\s*.{0,40})?$",
    r"^(posted|published|updated|last updated)( on)?:? .{0,60}\d{4}.{0,20}$",
    r"^(image|photo|picture|video|graphic)( credit| source| by)?\s*:.{0,120}$",
    r"^(©|copyright|\(c\))\s?.{0,150}$",
    r"^all rights reserved\.?$",
    // appeals
    r"^(if you (enjoy|like|value|appreciate)|please (help|support|consider|donate)|support (us|our work|independent)|donate( now| today)?|become a (patron|member|supporter)|for other ways to donate).{0,250}$",
    // comment-widget furniture
    r"^(reply|report|like|likes|\d+ likes?|upvote|downvote|flag|permalink|edit|delete|load more|show more|hide replies|view replies|\d+ repl(y|ies))$",
    r"^(log ?in|sign ?in|register)( to (comment|reply|post).*)?$",
    r"^reblogged this on .{1,100}$",
    r"^(you must be logged in to post a comment|comments are closed|this entry was posted in .*)\W*$",
];

/// Built-in comment-section markers (whole line, case-insensitive, after trimming).
pub const COMMENT_MARKERS: &[&str] = &[
    r"^(notify of( new (replies|follow-up comments))?|newest\s+oldest(\s+most voted)?|oldest\s+newest(\s+most voted)?|most voted)\W*$",
    r"^(leave a (comment|reply)|post a comment|add a comment|add comment|write a comment|submit a comment|join the (discussion|conversation)|have your say|speak your mind|what do you think\?)\W*$",
    r"^(comments?|reader comments|discussion|responses|show comments|view (all )?comments|load comments|comments \(\d+\)|be the first to comment!?|inline feedbacks?|view all inline feedbacks?)\W*$",
    r"^(\d+|no|one|two|three) (comments?|responses?|thoughts on .{1,200}|repl(y|ies) to .{1,200})\W*$",
    r"^(comments (are )?powered by disqus|disqus comments|please enable javascript to view the comments.*)\W*$",
];

/// Configuration of `clean.strip_boilerplate`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoilerplateConfig {
    /// `remove` (delete boilerplate lines and comment sections) or `annotate` (keep the text; add
    /// `boilerplate` and `comments` spans).
    #[serde(default = "OnMatch::default_remove")]
    pub on_match: OnMatch,
    /// Use the built-in boilerplate patterns.
    #[serde(default = "yes")]
    pub builtin_patterns: bool,
    /// Extra boilerplate line patterns (regular expressions, matched against the whole trimmed line).
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Extra boilerplate lines, matched literally (case-insensitive, trimmed).
    #[serde(default)]
    pub literals: Vec<String>,
    /// Cut everything after a comment-section marker.
    #[serde(default = "yes")]
    pub truncate_comments: bool,
    /// Extra comment-section markers (regular expressions on the whole trimmed line).
    #[serde(default)]
    pub comment_markers: Vec<String>,
    /// A marker only cuts when at least this many characters of text come before it.
    #[serde(default = "default_min_before_cut")]
    pub min_chars_before_cut: usize,
    /// Lines longer than this are never boilerplate.
    #[serde(default = "default_max_line_chars")]
    pub max_line_chars: usize,
    /// Also cut comment threads that have no marker line: from the first stand-alone
    /// commenter-name paragraph (`Tom Henley`, `observer77`) that is followed closely by at
    /// least `min_comment_names - 1` more, after at least `min_chars_before_cut` characters.
    #[serde(default)]
    pub unmarked_comment_threads: bool,
    /// Name paragraphs needed to recognise an unmarked comment thread.
    #[serde(default = "default_min_names")]
    pub min_comment_names: usize,
}

fn yes() -> bool {
    true
}
fn default_min_before_cut() -> usize {
    200
}
fn default_min_names() -> usize {
    3
}
fn default_max_line_chars() -> usize {
    300
}

impl Default for BoilerplateConfig {
    fn default() -> Self {
        BoilerplateConfig {
            on_match: OnMatch::Remove,
            builtin_patterns: true,
            patterns: Vec::new(),
            literals: Vec::new(),
            truncate_comments: true,
            comment_markers: Vec::new(),
            min_chars_before_cut: default_min_before_cut(),
            max_line_chars: default_max_line_chars(),
            unmarked_comment_threads: false,
            min_comment_names: default_min_names(),
        }
    }
}

impl StageConfig for BoilerplateConfig {
    const TYPE: &'static str = "clean.strip_boilerplate";
    const ON_MATCH: &'static [OnMatch] = OnMatch::SPANS;
    const RENAMED: &'static [(&'static str, &'static str)] = &[("mode", "on_match")];
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str =
        "Remove share/subscribe/cookie/related/byline lines and cut comment sections";
    const EXAMPLE: &'static str = "type: clean.strip_boilerplate\non_match: remove\npatterns: [\"^sponsored by .*$\"]\ncomment_markers: [\"^reader reactions$\"]\n";

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, list) in [("patterns", &self.patterns), ("comment_markers", &self.comment_markers)] {
            for (i, p) in list.iter().enumerate() {
                if let Err(e) = regex::Regex::new(p) {
                    errors.push(FieldError::new(
                        format!("{field}.{i}"),
                        format!("not a valid regular expression: {e}"),
                    ));
                }
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        let cleaner = Boilerplate::new(self).map_err(|e| BuildError::field("patterns", e.to_string()))?;
        Ok(Stage::transform(MapStage(cleaner)))
    }
}

/// The compiled boilerplate cleaner.
#[derive(Debug, Clone)]
pub struct Boilerplate {
    lines: RegexSet,
    literals: Vec<String>,
    markers: RegexSet,
    config: BoilerplateConfig,
}

/// What [`Boilerplate::clean`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The text without boilerplate lines and comment section.
    pub text: String,
    /// Byte ranges of the input that were removed, with labels.
    pub removed: Vec<Span>,
    /// Boilerplate lines removed.
    pub lines_removed: u64,
    /// Whether a comment section was cut.
    pub comments_cut: bool,
}

fn compile(patterns: &[String]) -> Result<RegexSet, Error> {
    RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| Error::BadPattern { pattern: patterns.join(" | "), message: e.to_string() })
}

impl Boilerplate {
    /// Compiles the built-in and user patterns.
    pub fn new(config: &BoilerplateConfig) -> Result<Self, Error> {
        let mut lines: Vec<String> = Vec::new();
        if config.builtin_patterns {
            lines.extend(BOILERPLATE_PATTERNS.iter().map(|s| s.to_string()));
        }
        lines.extend(config.patterns.iter().cloned());
        let mut markers: Vec<String> = Vec::new();
        if config.truncate_comments {
            markers.extend(COMMENT_MARKERS.iter().map(|s| s.to_string()));
            markers.extend(config.comment_markers.iter().cloned());
        }
        Ok(Boilerplate {
            lines: compile(&lines)?,
            literals: config.literals.iter().map(|l| l.trim().to_lowercase()).collect(),
            markers: compile(&markers)?,
            config: config.clone(),
        })
    }

    /// Finds boilerplate in `text` and returns the cleaned text and what was removed.
    pub fn clean(&self, text: &str) -> Cleaned {
        let mut removed: Vec<Span> = Vec::new();
        let mut kept_chars = 0usize;
        let mut lines_removed = 0u64;
        let mut comments_cut = false;
        for (start, end, next) in millstone_core::text::line_ranges(text) {
            let line = text[start..end].trim();
            if line.is_empty() {
                continue;
            }
            let short = line.chars().count() <= self.config.max_line_chars;
            if short && self.markers.is_match(line) {
                if kept_chars >= self.config.min_chars_before_cut {
                    removed.push(Span::new(start, text.len(), "comments"));
                    comments_cut = true;
                    break;
                }
                removed.push(Span::new(start, next, "boilerplate"));
                lines_removed += 1;
                continue;
            }
            // Literals are stored lowercased; lowercase the line once, only if there are any.
            let literal = !self.literals.is_empty() && {
                let lower = line.to_lowercase();
                self.literals.contains(&lower)
            };
            if short && (literal || self.lines.is_match(line)) {
                removed.push(Span::new(start, next, "boilerplate"));
                lines_removed += 1;
                continue;
            }
            kept_chars += line.len();
        }
        if !comments_cut && self.config.unmarked_comment_threads {
            if let Some(start) = self.unmarked_thread_start(text) {
                removed.retain(|s| s.end <= start);
                removed.push(Span::new(start, text.len(), "comments"));
                comments_cut = true;
            }
        }
        let text_out = remove_spans(text, &removed);
        Cleaned { text: text_out, removed, lines_removed, comments_cut }
    }

    /// Where a comment thread without a marker starts: the first commenter-name paragraph
    /// followed by enough others, each within a few paragraphs of the previous one.
    fn unmarked_thread_start(&self, text: &str) -> Option<usize> {
        const MAX_GAP: usize = 8;
        let paragraphs: Vec<std::ops::Range<usize>> = millstone_core::text::paragraph_ranges(text).collect();
        let names: Vec<usize> =
            (0..paragraphs.len()).filter(|&i| is_name_line(&text[paragraphs[i].clone()])).collect();
        let needed = self.config.min_comment_names.max(2);
        for (k, &first) in names.iter().enumerate() {
            // A lone capitalised word may be a subheading ("Background"): it can continue a
            // thread but not start one.
            let opener = text[paragraphs[first].clone()].trim();
            if !opener.contains(' ') && !opener.chars().any(|c| c == '_' || c.is_ascii_digit()) {
                continue;
            }
            let before: usize = paragraphs[..first].iter().map(|r| text[r.clone()].trim().len()).sum();
            if before < self.config.min_chars_before_cut.max(500) {
                continue;
            }
            let chain = names[k..].windows(2).take_while(|w| w[1] - w[0] <= MAX_GAP).count() + 1;
            if chain >= needed {
                return Some(paragraphs[first].start);
            }
        }
        None
    }
}

/// A stand-alone commenter name: one short line of 1-4 words, no sentence punctuation, every
/// word capitalised, a handle (`mick_b`, `observer77`), a name particle or a parenthesised tag.
fn is_name_line(paragraph: &str) -> bool {
    let line = paragraph.trim();
    if line.contains('\n')
        || line.chars().count() > 40
        || line.ends_with(['.', '!', '?', ':', ';', ','])
            && !line.ends_with("Jr.")
            && !line.ends_with("Sr.")
            && !line.chars().rev().nth(1).is_some_and(char::is_uppercase)
    {
        return false;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words.len() > 4 {
        return false;
    }
    let handle =
        |w: &str| w.chars().any(|c| c == '_' || c.is_ascii_digit()) && w.chars().any(char::is_alphabetic);
    let capitalised = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let particle = |w: &str| {
        matches!(w, "from" | "the" | "of" | "de" | "van" | "von" | "da" | "al" | "bin" | "le" | "la" | "del")
    };
    let tag = |w: &str| w.starts_with('(') && w.ends_with(')');
    (capitalised(words[0]) || handle(words[0]))
        && words.iter().all(|w| capitalised(w) || handle(w) || particle(w) || tag(w))
}

/// `text` without the byte ranges of `spans` (sorted, non-overlapping).
pub fn remove_spans(text: &str, spans: &[Span]) -> String {
    millstone_core::text::remove_ranges(text, spans.iter().map(Span::range))
}

impl Map for Boilerplate {
    fn map(&self, mut doc: Document, out: &mut Emit) -> Result<Document, StageError> {
        let cleaned = self.clean(&doc.text);
        if cleaned.removed.is_empty() {
            return Ok(doc);
        }
        out.count("lines_removed", cleaned.lines_removed);
        out.count("chars_removed", (doc.text.len() - cleaned.text.len()) as u64);
        if cleaned.comments_cut {
            out.count("comment_sections_cut", 1);
        }
        match self.config.on_match {
            OnMatch::Annotate => {
                let ratio = (doc.text.len() - cleaned.text.len()) as f64 / doc.text.len().max(1) as f64;
                doc.meta.insert("boilerplate.lines".into(), cleaned.lines_removed.into());
                doc.meta.insert("boilerplate.removed_ratio".into(), ((ratio * 1e4).round() / 1e4).into());
                doc.spans.extend(cleaned.removed);
                doc.spans.sort_by_key(|s| (s.start, s.end));
            }
            _ => doc.set_text(cleaned.text),
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cleaner() -> Boilerplate {
        Boilerplate::new(&BoilerplateConfig::default()).unwrap()
    }

    const ARTICLE: &str = "The council approved the new harbour budget on Tuesday after a long debate about \
        dredging costs and the future of the fishing fleet. Members said the vote was close, and the mayor \
        promised a public review of the contract before any work begins next spring.";

    #[test]
    fn removes_widget_lines_and_cuts_comments() {
        let page = format!(
            "Share this:\nTwitter | Facebook | Email\n{ARTICLE}\nFiled under: city, budget\nBy Jane Marlowe\n\n\
             Related Posts\nnewest oldest most voted\nNotify of\nSam K\nGreat piece, thanks!\n"
        );
        let c = cleaner().clean(&page);
        assert_eq!(c.text.trim(), ARTICLE);
        assert!(c.comments_cut);
        assert_eq!(c.lines_removed, 5);
    }

    #[test]
    fn keeps_article_sentences_that_mention_widget_words() {
        let text = format!("{ARTICLE}\nShe said the comments section of the report was the most read part, and we use cookies to bake.\n");
        let c = cleaner().clean(&text);
        assert_eq!(c.text, text);
    }

    #[test]
    fn early_marker_only_removes_its_line() {
        let text = format!("Comments\n{ARTICLE}\n");
        let c = cleaner().clean(&text);
        assert_eq!(c.text, format!("{ARTICLE}\n"));
        assert!(!c.comments_cut);
    }

    #[test]
    fn counted_comment_headers() {
        for marker in ["12 Comments", "3 thoughts on “Harbour budget”", "Leave a Reply", "Comments (4)"] {
            let c = cleaner().clean(&format!("{ARTICLE}\n{marker}\nReader text here.\n"));
            assert!(c.comments_cut, "{marker}");
        }
    }

    #[test]
    fn unmarked_comment_threads_are_cut_only_when_names_cluster() {
        let config = BoilerplateConfig { unmarked_comment_threads: true, ..Default::default() };
        let b = Boilerplate::new(&config).unwrap();
        let article = format!("{ARTICLE}\n\n{ARTICLE}\n\nBackground\n\n{ARTICLE}");
        let thread = "Dana Whitfield\n\nThis is all a cover story, if you ask me.\n\nobserver77\n\nFollow the money.\n\nKarl von Esch (Berlin)\n\nSpot on.\n\nPriya N.\n\nMy brother works there.";
        let c = b.clean(&format!("{article}\n\n{thread}\n"));
        assert!(c.comments_cut);
        assert_eq!(c.text.trim_end(), article);
        // One subheading, or names too far apart, is not a thread.
        let spread = format!("{article}\n\nMarta Olsen\n\n{ARTICLE}\n\n{ARTICLE}\n\n{ARTICLE}\n\n{ARTICLE}\n\n{ARTICLE}\n\n{ARTICLE}\n\n{ARTICLE}\n\nTom Henley\n\nA closing line.");
        assert!(!b.clean(&spread).comments_cut);
        assert!(
            is_name_line("Terence Silvestre Jr.")
                && is_name_line("mick_b")
                && !is_name_line("What happens next")
                && !is_name_line("The vote passed.")
        );
    }

    #[test]
    fn user_patterns_and_literals() {
        let config = BoilerplateConfig {
            patterns: vec!["^brought to you by .*$".into()],
            literals: vec!["Harbour Daily Staff".into()],
            ..Default::default()
        };
        let c = Boilerplate::new(&config)
            .unwrap()
            .clean(&format!("Brought to you by Acme\nharbour daily staff\n{ARTICLE}"));
        assert_eq!(c.text, ARTICLE);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn mark_spans_are_valid_and_removing_them_equals_remove(text in millstone_testkit::text()) {
            let b = cleaner();
            let c = b.clean(&text);
            let doc = Document { spans: c.removed.clone(), ..Document::new("x", text.clone()) };
            millstone_testkit::assert_spans_valid(&doc);
            prop_assert_eq!(remove_spans(&text, &c.removed), c.text.clone());
            // Cleaning is idempotent on its own output.
            let again = b.clean(&c.text);
            prop_assert_eq!(again.text, c.text);
        }
    }
}
