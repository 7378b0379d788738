//! `clean.html_to_text`: main-content extraction from HTML with rs-trafilatura (the Rust port
//! of trafilatura, best published F1 on the Scrapinghub article benchmark), title, author, the
//! page's publication date (`published`, from `article:published_time`, JSON-LD and the like;
//! never the crawl date, which sources put in `crawl_date`) and site name into metadata,
//! options to keep comments, tables and links.
//!
//! The page's URL (`meta.url`, as `ingest.warc` sets it) is passed on: rs-trafilatura uses it
//! to tell forums, products, listings and documentation from articles.
//!
//! The HTML comes from the document text (`ingest.html`, WARC response records) or from a meta
//! field (`field: meta.html`). Text that is not HTML (a WET record, plain text) passes through
//! unchanged and is counted (`not_html`); the extractor would otherwise return it twice. A page
//! with no main content is dropped (`no_main_content`); one that cannot be parsed fails
//! (counted, with its location).

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, FieldRef, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.html_to_text`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HtmlConfig {
    /// Where the HTML is: `text` or `meta.<key>`.
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Append the page's comment section.
    #[serde(default)]
    pub include_comments: bool,
    /// Keep tables.
    #[serde(default = "yes")]
    pub include_tables: bool,
    /// Keep link text markers.
    #[serde(default)]
    pub include_links: bool,
    /// Prefer precision (less boilerplate) over recall.
    #[serde(default)]
    pub favor_precision: bool,
    /// Prefer recall (more text) over precision.
    #[serde(default)]
    pub favor_recall: bool,
    /// Run a second, readability-style extractor (dom_smoothie) when the first finds under
    /// 5,000 characters, and keep its text when it is over 1.5 times longer.
    #[serde(default = "yes")]
    pub fallback: bool,
    /// Drop a line of at least 8 characters that the extracted text already had: carousels,
    /// sticky banners and mobile/desktop copies of one block repeat on a page. Off on pages the
    /// extractor classifies as documentation, where code lines repeat.
    #[serde(default = "yes")]
    pub drop_repeated_lines: bool,
}

fn default_field() -> FieldRef {
    FieldRef::Text
}
fn yes() -> bool {
    true
}

impl StageConfig for HtmlConfig {
    const TYPE: &'static str = "clean.html_to_text";
    const KIND: StageKind = StageKind::Transform;
    const SUMMARY: &'static str =
        "Extract the main text of HTML pages (rs-trafilatura); title/author/published into meta";
    const EXAMPLE: &'static str = "type: clean.html_to_text\ninclude_comments: false\ninclude_tables: true\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("no_main_content", "the extractor found no main content")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.field == FieldRef::Id {
            errors.push(FieldError::new("field", "must be `text` or `meta.<key>`"));
        }
        if self.favor_precision && self.favor_recall {
            errors.push(FieldError::new("favor_recall", "cannot be combined with favor_precision"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(HtmlExtractor::new(self.clone())))
    }
}

/// Extracts main text from HTML.
pub struct HtmlExtractor {
    config: HtmlConfig,
    options: rs_trafilatura::Options,
}

/// What the extractor found on one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// Main text (with comments appended if asked).
    pub text: String,
    /// Page title.
    pub title: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Publication date (ISO 8601), from the page.
    pub published: Option<String>,
    /// The text is the fallback extractor's (see [`HtmlConfig::fallback`]).
    pub by_fallback: bool,
    /// Lines dropped as repeats (see [`HtmlConfig::drop_repeated_lines`]).
    pub repeated_lines: usize,
    /// Site name.
    pub sitename: Option<String>,
}

impl HtmlExtractor {
    /// An extractor with this configuration.
    pub fn new(config: HtmlConfig) -> Self {
        let options = rs_trafilatura::Options {
            include_comments: config.include_comments,
            include_tables: config.include_tables,
            include_links: config.include_links,
            favor_precision: config.favor_precision,
            favor_recall: config.favor_recall,
            ..Default::default()
        };
        HtmlExtractor { config, options }
    }

    /// Extracts one page.
    pub fn extract(&self, html: &str) -> Result<Extracted, String> {
        self.extract_page(html, None)
    }

    /// Extracts one page fetched from `url`: the URL tells the extractor the page type (forum,
    /// product, listing, documentation, article), and each type has its own content rules.
    pub fn extract_page(&self, html: &str, url: Option<&str>) -> Result<Extracted, String> {
        let result = match url.filter(|u| !u.is_empty()) {
            Some(url) => {
                let options = rs_trafilatura::Options { url: Some(url.to_string()), ..self.options.clone() };
                rs_trafilatura::extract_with_options(html, &options)
            }
            None => rs_trafilatura::extract_with_options(html, &self.options),
        }
        .map_err(|e| e.to_string())?;
        let mut text = result.content_text;
        let mut by_fallback = false;
        if self.config.fallback && result.metadata.page_type.as_deref() != Some("product") {
            if let Some(better) = readability_fallback(html, url, &text) {
                text = better;
                by_fallback = true;
            }
        }
        let mut repeated_lines = 0;
        if self.config.drop_repeated_lines && result.metadata.page_type.as_deref() != Some("documentation") {
            (text, repeated_lines) = drop_repeated_lines(&text);
        }
        if self.config.include_comments {
            if let Some(comments) = result.comments_text.filter(|c| !c.trim().is_empty()) {
                text.push_str("\n\n");
                text.push_str(&comments);
            }
        }
        Ok(Extracted {
            text,
            title: result.metadata.title,
            author: result.metadata.author,
            published: result.metadata.date.map(|d| d.to_rfc3339()),
            sitename: result.metadata.sitename,
            by_fallback,
            repeated_lines,
        })
    }
}

impl Transform for HtmlExtractor {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let html = if self.config.field == FieldRef::Text {
            std::mem::take(&mut doc.text)
        } else {
            match self.config.field.get(&doc) {
                Some(h) => h.into_owned(),
                None => {
                    return Err(StageError::Document {
                        id: doc.id.clone(),
                        message: format!("no HTML in `{}`", self.config.field),
                    })
                }
            }
        };
        if !looks_like_html(&html) {
            if self.config.field == FieldRef::Text {
                doc.text = html;
            }
            out.count("not_html", 1);
            out.keep(doc);
            return Ok(());
        }
        let url = doc.meta.get("url").and_then(|u| u.as_str()).map(str::to_string);
        let extracted = self
            .extract_page(&html, url.as_deref())
            .map_err(|message| StageError::Document { id: doc.id.clone(), message })?;
        for (key, value) in [
            ("title", extracted.title),
            ("author", extracted.author),
            ("published", extracted.published),
            ("sitename", extracted.sitename),
        ] {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                doc.meta.entry(key.to_string()).or_insert(v.into());
            }
        }
        if extracted.by_fallback {
            out.count("readability_fallback", 1);
        }
        if extracted.repeated_lines > 0 {
            out.count("repeated_lines_dropped", extracted.repeated_lines as u64);
        }
        doc.set_text(extracted.text);
        if doc.text.trim().is_empty() {
            out.drop(doc, DropReason("no_main_content"));
        } else {
            out.keep(doc);
        }
        Ok(())
    }
}

/// Primary texts shorter than this (in characters) are checked against the fallback extractor.
const FALLBACK_BELOW_CHARS: usize = 5000;
/// The fallback's text replaces the primary one when it is this many times longer.
const FALLBACK_LONGER_BY: f64 = 1.5;

/// The readability-style extraction of `html` (dom_smoothie, a port of Firefox's reader view),
/// when the primary text is short and the readability text much longer: the primary extractor
/// sometimes settles on one block of a page whose content is spread over several (forums,
/// listings, service pages). Chosen on WCXB dev by F1 (see `clean.html_to_text` in the README);
/// the other direction, readability's text when the primary one is much longer, lowered F1, and
/// so did the fallback on pages the primary extractor classifies as products.
fn readability_fallback(html: &str, url: Option<&str>, primary: &str) -> Option<String> {
    let primary_chars = primary.chars().count();
    if primary_chars >= FALLBACK_BELOW_CHARS {
        return None;
    }
    let config = dom_smoothie::Config { text_mode: dom_smoothie::TextMode::Formatted, ..Default::default() };
    let mut reader = dom_smoothie::Readability::new(html, url, Some(config)).ok()?;
    let text = reader.parse().ok()?.text_content.to_string();
    let chars = text.chars().count();
    (chars as f64 > primary_chars as f64 * FALLBACK_LONGER_BY).then_some(text)
}

/// Lines shorter than this (in characters, trimmed) are never dropped as repeats: short labels
/// ("Price", "Reply") repeat on real content too.
const REPEATED_LINE_MIN_CHARS: usize = 8;

/// `text` without the lines (of at least [`REPEATED_LINE_MIN_CHARS`], compared trimmed) that it
/// already had, and how many were dropped. On WCXB dev this raised F1 from 0.8556 to 0.8593
/// (precision 0.848 -> 0.864, recall 0.912 -> 0.901); lower minimum lengths and including
/// documentation pages both scored lower.
fn drop_repeated_lines(text: &str) -> (String, usize) {
    let mut seen = foldhash::HashSet::default();
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.split('\n') {
        let trimmed = line.trim();
        if trimmed.chars().count() >= REPEATED_LINE_MIN_CHARS && !seen.insert(trimmed) {
            dropped += 1;
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept.pop();
    (kept, dropped)
}

/// Whether `text` is HTML: an element or declaration of HTML in its first 64 KiB (`<p>`,
/// `<div class=...>`, `<!DOCTYPE html>`, `<!-- -->`), not just a `<` (`a < b`).
pub fn looks_like_html(text: &str) -> bool {
    const TAGS: &[&str] = &[
        "html",
        "head",
        "body",
        "p",
        "div",
        "span",
        "a",
        "br",
        "hr",
        "table",
        "tr",
        "td",
        "th",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "meta",
        "title",
        "article",
        "section",
        "header",
        "footer",
        "nav",
        "main",
        "script",
        "style",
        "img",
        "link",
        "form",
        "input",
        "strong",
        "em",
        "b",
        "i",
        "blockquote",
        "pre",
        "code",
        "figure",
        "aside",
        "time",
        "dl",
        "dt",
        "dd",
        "sup",
        "sub",
        "iframe",
        "noscript",
        "svg",
        "button",
        "font",
        "center",
        "u",
        "s",
        "small",
        "big",
        "label",
        "select",
        "option",
        "textarea",
        "caption",
        "thead",
        "tbody",
        "tfoot",
        "col",
        "colgroup",
        "fieldset",
        "legend",
        "details",
        "summary",
        "abbr",
        "cite",
        "q",
        "mark",
        "del",
        "ins",
        "kbd",
        "var",
        "samp",
        "picture",
        "source",
        "video",
        "audio",
        "canvas",
        "frame",
        "frameset",
        "map",
        "area",
        "base",
        "wbr",
        "nobr",
        "address",
        "menu",
        "dialog",
        "template",
        "object",
    ];
    let head = &text.as_bytes()[..text.len().min(1 << 16)];
    memchr::memchr_iter(b'<', head).any(|at| {
        let rest = &head[at + 1..];
        let rest = rest.strip_prefix(b"/").unwrap_or(rest);
        if rest.starts_with(b"!--") || rest.len() >= 8 && rest[..8].eq_ignore_ascii_case(b"!doctype") {
            return true;
        }
        let name_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        let name = &rest[..name_len];
        let ends = rest.get(name_len).is_none_or(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
        ends && TAGS.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PAGE: &str = r#"<html><head><title>Harbour budget approved</title>
        <meta name="author" content="Jane Marlowe"></head><body>
        <nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
        <article><h1>Harbour budget approved</h1>
        <p>The Port Calder harbour council approved a 14 million pound dredging budget on Tuesday night,
        ending a debate that had split the chamber for most of the autumn.</p>
        <p>Councillors voted nine to seven in favour after the harbour master warned that silt in the eastern
        channel now leaves fishing boats grounded for up to three hours on each low tide.</p>
        <p>Opponents argued that the contract would send most of the money away from the town, and the mayor
        promised a public review of the terms before any work begins in the spring.</p></article>
        <footer>Share this: Facebook Twitter. Cookie policy. © 2024 Port Calder Courier</footer>
        </body></html>"#;

    #[test]
    fn extracts_the_article_and_its_metadata() {
        let ex = HtmlExtractor::new(serde_json::from_value(serde_json::json!({})).unwrap());
        let e = ex.extract(PAGE).unwrap();
        assert!(e.text.contains("dredging budget") && e.text.contains("public review"), "{}", e.text);
        assert!(!e.text.contains("Cookie policy") && !e.text.contains("Sport"), "{}", e.text);
        assert_eq!(e.title.as_deref(), Some("Harbour budget approved"));
    }

    #[test]
    fn the_fallback_replaces_a_short_primary_text_only_when_it_finds_much_more() {
        let found =
            readability_fallback(PAGE, None, "Harbour budget approved").expect("a short primary text");
        assert!(found.contains("dredging budget") && found.contains("public review"), "{found}");
        assert!(!found.contains("Cookie policy"), "{found}");
        // The primary text is as long as what readability finds: it stays.
        let primary = primary_text_of_page();
        assert_eq!(readability_fallback(PAGE, None, &primary), None);
        // Long primary texts are not checked at all.
        assert_eq!(readability_fallback(PAGE, None, &"word ".repeat(FALLBACK_BELOW_CHARS / 5)), None);
    }

    fn primary_text_of_page() -> String {
        let off = HtmlExtractor::new(serde_json::from_value(serde_json::json!({"fallback": false})).unwrap());
        off.extract(PAGE).unwrap().text
    }

    /// A WET record through a default `ingest.warc` pipeline came out doubled ("X" -> "XX").
    #[test]
    fn text_that_is_not_html_passes_through_unchanged() {
        let stage = HtmlExtractor::new(serde_json::from_value(serde_json::json!({})).unwrap());
        for text in ["X", "Plain text of a WET record. It has two sentences.", "if a < b and c > d then <3"] {
            let mut out = Emit::new(false);
            stage.apply(Document::new("d", text), &mut out).unwrap();
            let (kept, _, counters) = out.into_parts();
            assert_eq!(kept[0].text, text);
            assert_eq!(counters, [("not_html", 1)]);
        }
        assert!(
            looks_like_html("<!DOCTYPE html><title>x</title>") && looks_like_html("text <P class=x>more")
        );
        assert!(looks_like_html("<!-- note -->") && !looks_like_html("<bee> and <3 and x<y"));
    }

    #[test]
    fn repeated_lines_are_dropped_after_their_first_appearance_unless_short() {
        let text = "Free shipping on orders over $50\nThe wool runner is soft.\nPrice\n  Free shipping on orders over $50  \nPrice\nThe wool runner is soft.";
        let (kept, dropped) = drop_repeated_lines(text);
        assert_eq!(kept, "Free shipping on orders over $50\nThe wool runner is soft.\nPrice\nPrice");
        assert_eq!(dropped, 2);
        assert_eq!(drop_repeated_lines("one line"), ("one line".to_string(), 0));
        assert_eq!(drop_repeated_lines(""), (String::new(), 0));
    }

    #[test]
    fn a_page_that_repeats_a_block_keeps_one_copy_and_counts_the_rest() {
        let banner = "<div class=promo><p>Sign up for our newsletter and get ten percent off your first order today.</p></div>";
        let page = PAGE
            .replace("<article>", &format!("{banner}<article>"))
            .replace("</article>", &format!("</article>{banner}"));
        let paragraph = &PAGE[PAGE.find("<p>Councillors").unwrap()..PAGE.find("<p>Opponents").unwrap()];
        let page = page.replace("<p>Opponents", &format!("{paragraph}<p>Opponents"));
        let on = HtmlExtractor::new(serde_json::from_value(serde_json::json!({})).unwrap());
        let off = HtmlExtractor::new(
            serde_json::from_value(serde_json::json!({"drop_repeated_lines": false})).unwrap(),
        );
        let (with, without) = (on.extract(&page).unwrap(), off.extract(&page).unwrap());
        assert_eq!(without.text.matches("Councillors voted").count(), 2, "{}", without.text);
        assert_eq!(with.text.matches("Councillors voted").count(), 1, "{}", with.text);
        assert!(with.repeated_lines >= 1 && without.repeated_lines == 0);
    }

    #[test]
    fn the_publication_date_is_published_not_date() {
        let page = r#"<html><head><meta property="article:published_time" content="2023-05-04T08:00:00Z"></head>
            <body><article><p>The council met on Thursday and agreed a plan for the harbour wall, after a long debate about its cost and the timetable for repairs.</p></article></body></html>"#;
        let stage = HtmlExtractor::new(serde_json::from_value(serde_json::json!({})).unwrap());
        let mut out = Emit::new(false);
        let doc = Document::new("d", page).with_meta("crawl_date", "2024-03-01T10:00:00Z");
        stage.apply(doc, &mut out).unwrap();
        let (kept, _, _) = out.into_parts();
        assert!(kept[0].meta["published"].as_str().unwrap().starts_with("2023-05-04"), "{:?}", kept[0].meta);
        assert_eq!(kept[0].meta["crawl_date"], "2024-03-01T10:00:00Z");
        assert!(!kept[0].meta.contains_key("date"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics_on_arbitrary_markup(text in millstone_testkit::text(), tags in prop::collection::vec(prop::sample::select(vec!["<p>", "</p>", "<div>", "<script>", "</div>", "<!--", "<a href=x>", "&amp;", "<table><tr><td>"]), 0..20)) {
            let html = tags.iter().zip(text.split(' ')).map(|(t, w)| format!("{t}{w}")).collect::<String>();
            let ex = HtmlExtractor::new(serde_json::from_value(serde_json::json!({})).unwrap());
            let _ = ex.extract(&html);
        }
    }
}
