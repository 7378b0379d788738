//! `clean.url_filter`: keep or drop documents by their URL (`meta.url`), as FineWeb and
//! RefinedWeb do before anything else: blocked domains (a domain blocks its subdomains),
//! blocked full URLs, allowed domains that override every block, and banned words in the URL
//! (hard: one is enough; soft: `soft_threshold` of them). Lists come inline or from files:
//! plain lists (one entry a line, `#` comments) or the UT1 blocklist layout (a folder per
//! category holding `domains` and `urls` files), with the category of each entry counted when
//! it blocks (`blocked_<category>` counters).
//!
//! URLs and list entries are normalised the same way (`url` crate): scheme, `www.`, case,
//! default ports and fragments do not matter, and internationalised domain names are compared
//! in their ASCII (punycode) form. A list line that is not a domain or URL is reported with its
//! file and line and skipped.
//!
//! ```yaml
//! type: clean.url_filter
//! lists:
//!   - { path: blocklists/ut1, categories: [adult, gambling, malware] }
//!   - { path: my-blocked-domains.txt }
//! allow_domains: [wikipedia.org]
//! banned_words: [casino]
//! ```

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, FieldRef, OnMatch, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// A list file or UT1 folder.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSource {
    /// A plain list file (domains or URLs, one a line) or a UT1 folder (`<category>/domains`,
    /// `<category>/urls`).
    pub path: PathBuf,
    /// With a UT1 folder: the categories to use (default: all).
    #[serde(default)]
    pub categories: Vec<String>,
}

/// Configuration of `clean.url_filter`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlFilterConfig {
    /// The field holding the URL (default `meta.url`).
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Blocked domains (and their subdomains).
    #[serde(default)]
    pub block_domains: Vec<String>,
    /// Blocked URLs (exact, after normalisation).
    #[serde(default)]
    pub block_urls: Vec<String>,
    /// Domains (and subdomains) never blocked.
    #[serde(default)]
    pub allow_domains: Vec<String>,
    /// Words that block a URL when one of them is a token of its host or path.
    #[serde(default)]
    pub banned_words: Vec<String>,
    /// Words that block a URL when `soft_threshold` of them are tokens of it.
    #[serde(default)]
    pub soft_banned_words: Vec<String>,
    /// How many soft-banned words block a URL (default 2).
    #[serde(default = "two")]
    pub soft_threshold: usize,
    /// List files and UT1 folders.
    #[serde(default)]
    pub lists: Vec<ListSource>,
    /// What a document without a URL does: kept (default) or dropped (`no_url`).
    #[serde(default)]
    pub drop_without_url: bool,
    /// `drop` or `annotate` (keep everything; the verdict in `url_filter`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
}

fn default_field() -> FieldRef {
    FieldRef::meta("url")
}
fn two() -> usize {
    2
}

impl StageConfig for UrlFilterConfig {
    const TYPE: &'static str = "clean.url_filter";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Block by URL: domains, URLs, banned words, UT1 blocklists; allow lists; IDNA-normalised";
    const EXAMPLE: &'static str = "type: clean.url_filter\nblock_domains: [spam.example]\nallow_domains: [wikipedia.org]\nbanned_words: [casino]\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] = &[
        ("blocked_domain", "the URL's domain or one of its parents is blocked"),
        ("blocked_url", "the URL is blocked"),
        ("banned_word", "a banned word is a token of the URL"),
        ("soft_banned_words", "soft_threshold or more soft-banned words are tokens of the URL"),
        ("no_url", "no URL, with drop_without_url"),
        ("bad_url", "the URL cannot be parsed"),
    ];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.soft_threshold == 0 {
            errors.push(FieldError::new("soft_threshold", "must be at least 1"));
        }
        for (i, list) in self.lists.iter().enumerate() {
            if !list.path.exists() {
                errors.push(FieldError::new(
                    format!("lists.{i}.path"),
                    format!("{} does not exist", list.path.display()),
                ));
            }
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(UrlFilter::new(self, cx)?))
    }
}

/// A normalised URL: its ASCII host without `www.` and `host/path?query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalUrl {
    /// Lowercase ASCII host without a leading `www.`.
    pub host: String,
    /// `host[:port]/path[?query]`, no scheme, no fragment.
    pub full: String,
}

/// Normalises a URL (`https://WWW.Exämple.com:443/a?b#c` -> `xn--exmple-cua.com/a?b`); a bare
/// domain or `domain/path` (list entries) is read as `http://...`.
pub fn normalize_url(raw: &str) -> Option<NormalUrl> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = if raw.contains("://") {
        url::Url::parse(raw).ok()?
    } else {
        url::Url::parse(&format!("http://{raw}")).ok()?
    };
    let host = parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    if host.is_empty() {
        return None;
    }
    let mut full = host.clone();
    if let Some(port) = parsed.port() {
        full.push_str(&format!(":{port}"));
    }
    let path = parsed.path();
    full.push_str(if path == "/" { "" } else { path.trim_end_matches('/') });
    if let Some(query) = parsed.query() {
        full.push('?');
        full.push_str(query);
    }
    Some(NormalUrl { host, full })
}

/// Where a blocked entry came from: `None` for the inline lists, else the UT1 category (or the
/// list file's name).
type Origin = Option<&'static str>;

/// The `clean.url_filter` transform.
pub struct UrlFilter {
    field: FieldRef,
    blocked_domains: HashMap<String, Origin>,
    blocked_urls: HashMap<String, Origin>,
    allowed_domains: HashSet<String>,
    banned: HashSet<String>,
    soft_banned: HashSet<String>,
    soft_threshold: usize,
    drop_without_url: bool,
    annotate: bool,
}

/// A counter name for a category, made once per category at build time.
fn counter_name(category: &str) -> &'static str {
    Box::leak(format!("blocked_{category}").into_boxed_str())
}

impl UrlFilter {
    fn new(config: &UrlFilterConfig, _cx: &BuildContext) -> Result<Self, BuildError> {
        let mut filter = UrlFilter {
            field: config.field.clone(),
            blocked_domains: HashMap::new(),
            blocked_urls: HashMap::new(),
            allowed_domains: config
                .allow_domains
                .iter()
                .filter_map(|d| normalize_url(d))
                .map(|u| u.host)
                .collect(),
            banned: config.banned_words.iter().map(|w| w.to_lowercase()).collect(),
            soft_banned: config.soft_banned_words.iter().map(|w| w.to_lowercase()).collect(),
            soft_threshold: config.soft_threshold,
            drop_without_url: config.drop_without_url,
            annotate: config.on_match == OnMatch::Annotate,
        };
        for d in &config.block_domains {
            let u = normalize_url(d)
                .ok_or_else(|| BuildError::field("block_domains", format!("{d:?} is not a domain")))?;
            filter.blocked_domains.insert(u.host, None);
        }
        for d in &config.block_urls {
            let u = normalize_url(d)
                .ok_or_else(|| BuildError::field("block_urls", format!("{d:?} is not a URL")))?;
            filter.blocked_urls.insert(u.full, None);
        }
        for (i, list) in config.lists.iter().enumerate() {
            filter.load(list).map_err(|message| BuildError::field(format!("lists.{i}.path"), message))?;
        }
        Ok(filter)
    }

    /// Loads a plain list file or a UT1 folder.
    fn load(&mut self, list: &ListSource) -> Result<(), String> {
        let read = |path: &std::path::Path| {
            std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        if list.path.is_dir() {
            let mut categories: Vec<PathBuf> = std::fs::read_dir(&list.path)
                .map_err(|e| format!("{}: {e}", list.path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            categories.sort();
            for dir in categories {
                let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if !list.categories.is_empty() && !list.categories.contains(&name) {
                    continue;
                }
                let origin = Some(counter_name(&name));
                for (file, urls) in [("domains", false), ("urls", true)] {
                    let path = dir.join(file);
                    if path.is_file() {
                        self.add_lines(&path, &read(&path)?, origin, urls);
                    }
                }
            }
            return Ok(());
        }
        let name = list.path.file_stem().and_then(|n| n.to_str()).unwrap_or("list").to_string();
        let text = read(&list.path)?;
        self.add_lines(&list.path, &text, Some(counter_name(&name)), false);
        Ok(())
    }

    /// Adds the entries of one file: a line with a path is a URL, else a domain.
    fn add_lines(&mut self, path: &std::path::Path, text: &str, origin: Origin, urls: bool) {
        for (number, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            match normalize_url(entry)
                .filter(|u| u.host.contains('.') || u.host.parse::<std::net::IpAddr>().is_ok())
            {
                Some(u) if urls || u.full != u.host => {
                    self.blocked_urls.insert(u.full, origin);
                }
                Some(u) => {
                    self.blocked_domains.insert(u.host, origin);
                }
                None => tracing::warn!(
                    "{}:{}: skipped {entry:?}: not a domain or URL",
                    path.display(),
                    number + 1
                ),
            }
        }
    }

    /// The domain and its parents: `a.b.example.com`, `b.example.com`, `example.com`, `com`.
    fn parents(host: &str) -> impl Iterator<Item = &str> {
        std::iter::successors(Some(host), |h| h.split_once('.').map(|(_, rest)| rest))
    }

    /// The verdict on one URL: `None` to keep, else the reason and the category it came from.
    pub fn verdict(&self, raw: &str) -> Option<(DropReason, Origin)> {
        let Some(url) = normalize_url(raw) else { return Some((DropReason("bad_url"), None)) };
        if Self::parents(&url.host).any(|d| self.allowed_domains.contains(d)) {
            return None;
        }
        if let Some(&origin) = Self::parents(&url.host).find_map(|d| self.blocked_domains.get(d)) {
            return Some((DropReason("blocked_domain"), origin));
        }
        if let Some(&origin) = self.blocked_urls.get(&url.full) {
            return Some((DropReason("blocked_url"), origin));
        }
        if self.banned.is_empty() && self.soft_banned.is_empty() {
            return None;
        }
        let tokens: HashSet<String> = url
            .full
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect();
        if tokens.iter().any(|t| self.banned.contains(t)) {
            return Some((DropReason("banned_word"), None));
        }
        if tokens.iter().filter(|t| self.soft_banned.contains(*t)).count() >= self.soft_threshold {
            return Some((DropReason("soft_banned_words"), None));
        }
        None
    }
}

impl Transform for UrlFilter {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let verdict = match self.field.get(&doc) {
            Some(url) => self.verdict(&url),
            None if self.drop_without_url => Some((DropReason("no_url"), None)),
            None => None,
        };
        if let Some((_, Some(category))) = &verdict {
            out.count(category, 1);
        }
        match verdict {
            Some((reason, _)) if self.annotate => {
                doc.meta.insert("url_filter".into(), reason.0.into());
                out.keep(doc);
            }
            Some((reason, _)) => out.drop(doc, reason),
            None => {
                if self.annotate {
                    doc.meta.insert("url_filter".into(), "keep".into());
                }
                out.keep(doc);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(yaml: &str) -> UrlFilter {
        let config: UrlFilterConfig = serde_yaml::from_str(yaml).unwrap();
        config.validate().unwrap();
        UrlFilter::new(&config, &BuildContext::for_tests()).unwrap()
    }

    fn reason(f: &UrlFilter, url: &str) -> Option<&'static str> {
        f.verdict(url).map(|(r, _)| r.0)
    }

    #[test]
    fn urls_normalise_scheme_case_www_ports_fragments_and_idna() {
        let u = normalize_url("https://WWW.Exämple.COM:8443/News/a/?x=1#top").unwrap();
        assert_eq!(u.host, "xn--exmple-cua.com");
        assert_eq!(u.full, "xn--exmple-cua.com:8443/News/a?x=1");
        assert_eq!(normalize_url("http://example.com:80/").unwrap().full, "example.com");
        assert_eq!(normalize_url("example.com/page").unwrap().full, "example.com/page");
        assert!(normalize_url("").is_none());
    }

    #[test]
    fn domains_block_their_subdomains_and_allow_lists_win() {
        let f = filter("block_domains: [spam.example, Exämple.org]\nallow_domains: [ok.spam.example]\nblock_urls: ['news.example/bad?id=3']\n");
        assert_eq!(reason(&f, "https://a.b.spam.example/x"), Some("blocked_domain"));
        assert_eq!(reason(&f, "https://ok.spam.example/x"), None);
        assert_eq!(reason(&f, "http://xn--exmple-cua.org/"), Some("blocked_domain"), "IDNA forms match");
        assert_eq!(reason(&f, "https://www.news.example/bad?id=3#c"), Some("blocked_url"));
        assert_eq!(reason(&f, "https://news.example/bad?id=4"), None);
        assert_eq!(reason(&f, "notspam.example"), None, "only whole labels");
        assert_eq!(reason(&f, "http://exa mple.com/"), Some("bad_url"));
    }

    #[test]
    fn banned_words_are_whole_url_tokens() {
        let f = filter("banned_words: [casino]\nsoft_banned_words: [free, bonus, spins]\n");
        assert_eq!(reason(&f, "https://best-casino.example/"), Some("banned_word"));
        assert_eq!(reason(&f, "https://occasional.example/casinos"), None);
        assert_eq!(reason(&f, "https://x.example/free-bonus"), Some("soft_banned_words"));
        assert_eq!(reason(&f, "https://x.example/free-lunch"), None);
    }

    #[test]
    fn ut1_folders_and_plain_lists_load_with_categories_and_bad_lines_skipped() {
        let dir = tempfile::tempdir().unwrap();
        for (category, domains, urls) in [
            ("adult", "porn.example\n# comment\n\nnot a domain\n", "mixed.example/adult\n"),
            ("gambling", "bets.example\n", ""),
        ] {
            std::fs::create_dir_all(dir.path().join(category)).unwrap();
            std::fs::write(dir.path().join(category).join("domains"), domains).unwrap();
            std::fs::write(dir.path().join(category).join("urls"), urls).unwrap();
        }
        let plain = dir.path().join("extra.txt");
        std::fs::write(&plain, "extra.example\nextra2.example/path\n").unwrap();
        let yaml = format!(
            "lists:\n  - {{ path: {}, categories: [adult] }}\n  - {{ path: {} }}\n",
            dir.path().display(),
            plain.display()
        );
        let f = filter(&yaml);
        assert_eq!(
            f.verdict("https://porn.example/").map(|(r, o)| (r.0, o)),
            Some(("blocked_domain", Some("blocked_adult")))
        );
        assert_eq!(reason(&f, "https://mixed.example/adult"), Some("blocked_url"));
        assert_eq!(reason(&f, "https://mixed.example/news"), None);
        assert_eq!(reason(&f, "https://bets.example/"), None, "gambling not selected");
        assert_eq!(reason(&f, "https://extra.example/a"), Some("blocked_domain"));
        assert_eq!(reason(&f, "https://extra2.example/path"), Some("blocked_url"));
        let mut out = Emit::new(false);
        f.apply(Document::new("d", "t").with_meta("url", "http://porn.example/x"), &mut out).unwrap();
        f.apply(Document::new("e", "t"), &mut out).unwrap();
        let (kept, dropped, counters) = out.into_parts();
        assert_eq!((kept.len(), dropped.len()), (1, 1));
        assert_eq!(counters, [("blocked_adult", 1)]);
    }

    #[test]
    fn a_missing_list_is_a_field_error_naming_the_path() {
        let config: UrlFilterConfig = serde_yaml::from_str("lists: [{ path: /nonexistent/ut1 }]\n").unwrap();
        let errors = config.validate().unwrap_err();
        assert_eq!(errors[0].field, "lists.0.path");
        assert!(errors[0].message.contains("/nonexistent/ut1"));
    }
}
