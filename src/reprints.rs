//! `millstone eval reprints`: a reprint-style near-duplicate benchmark built from a WCXB-style
//! extraction benchmark. Every article page becomes one cluster of several texts of the same
//! page, as different tools and settings would produce them: the gold main text, the extractor
//! at its defaults, favouring precision, favouring recall with comments, without tables, the
//! whole page as plain text (navigation, teasers, footers and all), the whole page as markdown,
//! the gold text truncated to its first 40% of words, its lead (first 60 words, as a failed
//! extraction keeps), and an over-long extraction: the whole page plus the leads of three other
//! pages as "related stories" teasers. That last one is what chains two pages' groups in
//! union-find clustering: another page's lead is entirely contained in it. A good
//! near-duplicate stage puts each page's texts together and never two pages' texts.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::eval::{read_gz, read_gz_bytes};

/// Plain text of a whole page: scripts, styles and comments removed, tags turned into line
/// breaks, the common entities decoded, whitespace collapsed.
pub fn whole_page_text(html: &str) -> String {
    let hidden = regex::Regex::new(
        r"(?is)<script\b.*?</script>|<style\b.*?</style>|<noscript\b.*?</noscript>|<!--.*?-->",
    )
    .expect("a valid pattern");
    let tags = regex::Regex::new(r"(?s)<[^>]*>").expect("a valid pattern");
    let visible = hidden.replace_all(html, " ");
    let text = tags.replace_all(&visible, "\n");
    let text = text
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The first `fraction` of the words of `text`, whole lines where they fit.
fn truncated(text: &str, fraction: f64) -> String {
    let keep = (words(text) as f64 * fraction).round() as usize;
    let mut out = String::new();
    let mut taken = 0;
    for line in text.lines() {
        if taken >= keep {
            break;
        }
        let line_words: Vec<&str> = line.split_whitespace().collect();
        let room = keep - taken;
        out.push_str(&line_words[..line_words.len().min(room)].join(" "));
        out.push('\n');
        taken += line_words.len().min(room);
    }
    out
}

/// The page names (`NNNN`) of the ground-truth files in `truth_dir`, sorted.
fn page_names(truth_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(truth_dir)
        .with_context(|| format!("reading {}", truth_dir.display()))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json.gz").map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Builds the benchmark from `html_dir` (`NNNN.html.gz`) and `truth_dir` (`NNNN.json.gz`) into
/// `out/corpus.jsonl` and `out/labels.tsv`, using the first `pages` article pages with at least
/// 100 words of gold text.
pub fn build(
    html_dir: &Path,
    truth_dir: &Path,
    out: &Path,
    pages: usize,
) -> anyhow::Result<std::process::ExitCode> {
    let names = page_names(truth_dir)?;
    let settings: [(&str, serde_json::Value); 4] = [
        ("extract", serde_json::json!({})),
        ("precision", serde_json::json!({"favor_precision": true})),
        ("recall", serde_json::json!({"favor_recall": true, "include_comments": true})),
        ("no-tables", serde_json::json!({"include_tables": false})),
    ];
    let extractors = settings
        .iter()
        .map(|(name, config)| {
            Ok((*name, millstone_clean::html::HtmlExtractor::new(serde_json::from_value(config.clone())?)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut corpus = std::io::BufWriter::new(std::fs::File::create(out.join("corpus.jsonl"))?);
    let mut labels = std::fs::File::create(out.join("labels.tsv"))?;
    writeln!(labels, "id\tcluster")?;
    let mut chosen = Vec::new();
    for name in names {
        if chosen.len() == pages {
            break;
        }
        let truth: serde_json::Value =
            serde_json::from_str(&read_gz(&truth_dir.join(format!("{name}.json.gz")))?)?;
        let gold = truth["ground_truth"]["main_content"].as_str().unwrap_or("").to_string();
        if truth["_internal"]["page_type"]["primary"].as_str() == Some("article") && words(&gold) >= 100 {
            chosen.push((name, gold));
        }
    }
    let lead = |gold: &str| gold.split_whitespace().take(60).collect::<Vec<_>>().join(" ");
    let (mut used, mut docs) = (0, 0);
    for (index, (name, gold)) in chosen.iter().enumerate() {
        let html_path = html_dir.join(format!("{name}.html.gz"));
        let html = millstone_ingest::html::decode_html(&read_gz_bytes(&html_path)?);
        let page = whole_page_text(&html);
        let teasers: Vec<String> =
            (1..=3).map(|k| lead(&chosen[(index + k * 37) % chosen.len()].1)).collect();
        let overlong = format!("{page}\nRelated stories\n{}", teasers.join("\nRead more\n"));
        let mut texts = vec![
            ("gold", gold.clone()),
            ("truncated", truncated(gold, 0.4)),
            ("lead", lead(gold)),
            ("overlong", overlong),
        ];
        for (setting, extractor) in &extractors {
            if let Ok(extracted) = extractor.extract(&html) {
                texts.push((setting, extracted.text));
            }
        }
        texts.push(("page", page));
        texts.push(("markdown", quick_html2md::html_to_markdown(&html)));
        used += 1;
        for (variant, text) in texts {
            if words(&text) < 20 {
                continue;
            }
            let id = format!("{name}-{variant}");
            writeln!(corpus, "{}", serde_json::json!({"id": id, "text": text}))?;
            writeln!(labels, "{id}\t{name}")?;
            docs += 1;
        }
    }
    corpus.flush()?;
    eprintln!("wrote {docs} texts of {used} article pages to {}", out.display());
    Ok(std::process::ExitCode::SUCCESS)
}

/// The host of `url` (`https://www.example.com/a` -> `www.example.com`).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Builds the same-site benchmark: for each page of a site with two or more pages in
/// `truth_dir`, its gold text and its whole page as text, with `meta.site`; cluster = page.
/// Two pages of one site share only their template (navigation, footers, widgets), so every
/// cross-page pair a stage links is a false one made by boilerplate.
pub fn build_same_site(
    html_dir: &Path,
    truth_dir: &Path,
    out: &Path,
) -> anyhow::Result<std::process::ExitCode> {
    let names = page_names(truth_dir)?;
    let mut by_site: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for name in names {
        let truth: serde_json::Value =
            serde_json::from_str(&read_gz(&truth_dir.join(format!("{name}.json.gz")))?)?;
        let site = host(truth["url"].as_str().unwrap_or("")).to_string();
        let gold = truth["ground_truth"]["main_content"].as_str().unwrap_or("").to_string();
        if !site.is_empty() {
            by_site.entry(site).or_default().push((name, gold));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut corpus = std::io::BufWriter::new(std::fs::File::create(out.join("corpus.jsonl"))?);
    let mut labels = std::fs::File::create(out.join("labels.tsv"))?;
    writeln!(labels, "id\tcluster")?;
    let (mut sites, mut docs) = (0, 0);
    for (site, pages) in by_site.iter().filter(|(_, pages)| pages.len() >= 2) {
        sites += 1;
        for (name, gold) in pages {
            let html = millstone_ingest::html::decode_html(&read_gz_bytes(
                &html_dir.join(format!("{name}.html.gz")),
            )?);
            for (variant, text) in [("gold", gold.clone()), ("page", whole_page_text(&html))] {
                if words(&text) < 20 {
                    continue;
                }
                let id = format!("{name}-{variant}");
                let row = serde_json::json!({"id": id, "text": text, "site": site});
                writeln!(corpus, "{row}")?;
                writeln!(labels, "{id}\t{name}")?;
                docs += 1;
            }
        }
    }
    corpus.flush()?;
    eprintln!("wrote {docs} texts of the pages of {sites} sites to {}", out.display());
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_page_text_keeps_visible_text_only() {
        let html = "<html><head><style>p{}</style><script>var x=1;</script></head><body><nav>Home &amp; News</nav><!-- c --><p>Body  text</p></body></html>";
        assert_eq!(whole_page_text(html), "Home & News\nBody text");
    }

    #[test]
    fn host_is_the_authority_of_a_url() {
        assert_eq!(host("https://www.rei.com/product/1?x=2"), "www.rei.com");
        assert_eq!(host("store.example.org#top"), "store.example.org");
    }

    #[test]
    fn truncation_keeps_the_first_words() {
        assert_eq!(truncated("a b c\nd e f g h i j", 0.4), "a b c\nd\n");
    }
}
