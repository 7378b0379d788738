//! `millstone eval`: dedup quality on labelled data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use millstone_config::{parse_plan, LoadOptions};
use millstone_core::Registry;
use millstone_dedup::eval::{binary_scores, score};
use millstone_dedup::shingle::{Shingler, Unit};
use millstone_dedup::{MinHasher, Normalization, Similarity};

fn read_labels(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading labels {}", path.display()))?;
    let mut labels = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || (n == 0 && line.starts_with("id\t")) {
            continue;
        }
        let Some((id, cluster)) = line.split_once('\t') else {
            bail!("{}:{}: expected `id<TAB>cluster`", path.display(), n + 1);
        };
        labels.insert(id.to_string(), cluster.trim().to_string());
    }
    Ok(labels)
}

pub fn dedup(
    registry: &Registry,
    labels_path: &Path,
    pipeline: &Path,
    stage: Option<usize>,
    overrides: Vec<String>,
    sweep: Option<String>,
    threads: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let labels = read_labels(labels_path)?;
    let text =
        std::fs::read_to_string(pipeline).with_context(|| format!("reading {}", pipeline.display()))?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text).context("parsing the pipeline")?;
    let stages = value.get("stages").and_then(|s| s.as_sequence()).context("the pipeline has no stages")?;
    // Every dedup stage reports; clusters are chained across them (a document dropped by
    // exact dedup belongs to its keeper's near-duplicate cluster).
    let scored: Vec<usize> = match stage {
        Some(i) => vec![i],
        None => stages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.get("type").and_then(|t| t.as_str()).is_some_and(|t| t.starts_with("dedup.")))
            .map(|(i, _)| i)
            .collect(),
    };
    if scored.is_empty() {
        bail!("the pipeline has no dedup.* stage");
    }
    let work = std::env::temp_dir().join(format!("millstone-eval-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let (sweep_key, sweep_values) = match &sweep {
        None => (None, vec![String::new()]),
        Some(s) => {
            let (k, v) = s.split_once('=').context("--sweep expects KEY=V1,V2,...")?;
            (Some(k.to_string()), v.split(',').map(str::to_string).collect())
        }
    };
    println!("{:<24} {:>7} {:>9} {:>7} {:>7} {:>7}", "setting", "ARI", "precision", "recall", "F1", "docs");
    for value in sweep_values {
        let mut all = overrides.clone();
        all.push(format!("runtime.out_dir={}", work.display()));
        for index in &scored {
            all.push(format!(
                "stages.{index}.report={}",
                work.join(format!("report-{index}.jsonl")).display()
            ));
        }
        if let Some(k) = &sweep_key {
            all.push(format!("{k}={value}"));
        }
        let options = LoadOptions { overrides: all, threads, overwrite: true, shard: None, part: None };
        let plan = match parse_plan(&pipeline.display().to_string(), &text, registry, &options) {
            Ok(plan) => plan,
            Err(millstone_config::Error::Invalid(d)) => {
                eprintln!("{d}");
                return Ok(ExitCode::from(2));
            }
            Err(e) => return Err(e.into()),
        };
        millstone_runner::run(plan, &millstone_runner::RunOptions { overwrite: true, ..Default::default() })?;
        let mut links = Links::default();
        for index in &scored {
            let rows = std::fs::read_to_string(work.join(format!("report-{index}.jsonl")))?;
            for line in rows.lines() {
                let row: serde_json::Value = serde_json::from_str(line)?;
                if let (Some(id), Some(cluster)) = (row["id"].as_str(), row["cluster"].as_str()) {
                    links.join(id, cluster);
                }
            }
        }
        let mut ids: Vec<&String> = labels.keys().collect();
        ids.sort();
        let truth: Vec<&str> = ids.iter().map(|id| labels[*id].as_str()).collect();
        // A labelled document the stage never saw (dropped earlier) stands alone.
        let pred: Vec<String> = ids.iter().map(|id| links.root(id)).collect();
        let s = score(&truth, &pred);
        let setting = sweep_key
            .as_ref()
            .map_or("pipeline".to_string(), |k| format!("{}={value}", k.rsplit('.').next().unwrap_or(k)));
        println!(
            "{setting:<24} {:>7.4} {:>9.4} {:>7.4} {:>7.4} {:>7}",
            s.ari, s.precision, s.recall, s.f1, s.items
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(ExitCode::SUCCESS)
}

/// Union-find over document ids, for chaining the reports of several dedup stages.
#[derive(Default)]
struct Links {
    parent: HashMap<String, String>,
}

impl Links {
    fn root(&mut self, id: &str) -> String {
        let mut current = id.to_string();
        while let Some(parent) = self.parent.get(&current) {
            if *parent == current {
                break;
            }
            current = parent.clone();
        }
        current
    }

    fn join(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(high, low);
        }
    }
}

struct Pair {
    label: bool,
    a: String,
    b: String,
}

fn read_pairs(path: &Path) -> anyhow::Result<Vec<Pair>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 || !(cols[0].trim_start_matches('\u{feff}') == "0" || cols[0] == "1") {
            if n == 0 {
                continue;
            }
            bail!("{}:{}: expected label, id1, id2, text1, text2 separated by tabs", path.display(), n + 1);
        }
        out.push(Pair { label: cols[0] == "1", a: cols[3].to_string(), b: cols[4].to_string() });
    }
    Ok(out)
}

pub fn pairs(
    train: &Path,
    test: &Path,
    unit: &str,
    ngram: usize,
    similarity: &str,
    permutations: usize,
) -> anyhow::Result<ExitCode> {
    let unit = match unit {
        "words" => Unit::Words,
        "chars" => Unit::Chars,
        other => bail!("unit must be words or chars, not `{other}`"),
    };
    let similarity = match similarity {
        "jaccard" => Similarity::Jaccard,
        "containment" => Similarity::Containment,
        "max" => Similarity::Max,
        other => bail!("similarity must be jaccard, containment or max, not `{other}`"),
    };
    let shingler =
        Shingler::new(unit, ngram, Normalization { punctuation: true, ..Normalization::default() });
    let hasher = (permutations > 0).then(|| MinHasher::new(permutations, 1)).transpose()?;
    let scores = |pairs: &[Pair]| -> Vec<f64> {
        pairs
            .iter()
            .map(|p| match &hasher {
                Some(h) => {
                    let (a, b) = (h.signature(&shingler, &p.a), h.signature(&shingler, &p.b));
                    similarity.score(MinHasher::jaccard(&a.values, &b.values), a.shingles, b.shingles)
                }
                None => {
                    let (a, b) = (shingler.set(&p.a), shingler.set(&p.b));
                    let inter = a.intersection(&b).count() as f64;
                    let union = (a.len() + b.len()) as f64 - inter;
                    let jaccard = if union > 0.0 { inter / union } else { 1.0 };
                    similarity.score(jaccard, a.len() as u32, b.len() as u32)
                }
            })
            .collect()
    };
    let train = read_pairs(train)?;
    let test = read_pairs(test)?;
    let train_scores = scores(&train);
    let train_truth: Vec<bool> = train.iter().map(|p| p.label).collect();
    let mut best = (0.0, 0.0);
    for step in 0..=200 {
        let t = step as f64 / 200.0;
        let predicted: Vec<bool> = train_scores.iter().map(|&s| s >= t).collect();
        let (acc, _) = binary_scores(&train_truth, &predicted);
        if acc > best.1 {
            best = (t, acc);
        }
    }
    let test_truth: Vec<bool> = test.iter().map(|p| p.label).collect();
    let predicted: Vec<bool> = scores(&test).iter().map(|&s| s >= best.0).collect();
    let (acc, f1) = binary_scores(&test_truth, &predicted);
    println!(
        "threshold {:.3} (train accuracy {:.4}, {} pairs) -> test accuracy {:.4}, F1 {:.4} ({} pairs)",
        best.0,
        best.1,
        train.len(),
        acc,
        f1,
        test.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// One page's type, HTML size and (precision, recall, F1).
/// One page's score: its type, HTML size, (precision, recall, F1) and, when asked, its JSON line.
type PageScore = (String, usize, (f64, f64, f64), Option<serde_json::Value>);

pub(crate) fn read_gz_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
    )
    .read_to_end(&mut bytes)
    .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

pub(crate) fn read_gz(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_gz_bytes(path)?).with_context(|| format!("{} is not UTF-8", path.display()))
}

/// How `eval extract` scores a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtractMetric {
    /// WCXB: bag of lowercase `\w+` words.
    Bow,
    /// Scrapinghub article-extraction benchmark: 4-word shingles.
    Ngram4,
    /// trafilatura's eval: snippets the text must and must not contain.
    Snippet,
}

/// What `eval extract` measures, beyond the pages.
pub struct ExtractScoring {
    /// The score.
    pub metric: ExtractMetric,
    /// Snippet lists (`--metric snippet`).
    pub snippets: Option<PathBuf>,
    /// Extractor options (`key=value`).
    pub options: Vec<String>,
    /// Where to write the per-page scores and texts (JSON lines).
    pub pages: Option<PathBuf>,
}

/// The extractor configuration of `--set key=value` options (values parsed as JSON when they
/// are JSON, else strings).
fn extractor_config(options: &[String]) -> anyhow::Result<serde_json::Value> {
    let mut config = serde_json::Map::new();
    for option in options {
        let (key, value) =
            option.split_once('=').with_context(|| format!("`{option}`: expected KEY=VALUE"))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.into()));
        config.insert(key.trim().to_string(), value);
    }
    Ok(serde_json::Value::Object(config))
}

/// Lowercase `\w+` words of `text`.
fn words(token: &regex::Regex, text: &str) -> Vec<String> {
    token.find_iter(&text.to_lowercase()).map(|m| m.as_str().to_string()).collect()
}

/// Precision, recall and F1 of two multisets of items (1.0 when both are empty).
fn multiset_scores(predicted: Vec<String>, reference: Vec<String>) -> (f64, f64, f64) {
    let count = |items: Vec<String>| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for item in items {
            *counts.entry(item).or_default() += 1;
        }
        counts
    };
    let (p, r) = (count(predicted), count(reference));
    let (np, nr): (usize, usize) = (p.values().sum(), r.values().sum());
    if np == 0 && nr == 0 {
        return (1.0, 1.0, 1.0);
    }
    if np == 0 || nr == 0 {
        return (0.0, 0.0, 0.0);
    }
    let overlap: usize = p.iter().map(|(t, &c)| c.min(r.get(t).copied().unwrap_or(0))).sum();
    let (precision, recall) = (overlap as f64 / np as f64, overlap as f64 / nr as f64);
    let f1 = if overlap == 0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    (precision, recall, f1)
}

/// 4-word shingles of a text's words (the text itself when shorter).
fn shingles4(words: Vec<String>) -> Vec<String> {
    if words.len() < 4 {
        return if words.is_empty() { Vec::new() } else { vec![words.join(" ")] };
    }
    words.windows(4).map(|w| w.join(" ")).collect()
}

/// Scores of a page by `metric` against its reference text.
fn page_scores(
    metric: ExtractMetric,
    token: &regex::Regex,
    predicted: &str,
    reference: &str,
) -> (f64, f64, f64) {
    match metric {
        ExtractMetric::Ngram4 => {
            multiset_scores(shingles4(words(token, predicted)), shingles4(words(token, reference)))
        }
        _ => multiset_scores(words(token, predicted), words(token, reference)),
    }
}

/// Snippet counts of one page, trafilatura's way: (found of `with`, missed of `with`, found of
/// `without`, absent of `without`).
fn snippet_counts(text: &str, with: &[String], without: &[String]) -> [usize; 4] {
    let normal = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = normal(text);
    let found = |s: &String| text.contains(&normal(s));
    let hits = with.iter().filter(|s| found(s)).count();
    let false_hits = without.iter().filter(|s| found(s)).count();
    [hits, with.len() - hits, false_hits, without.len() - false_hits]
}

/// trafilatura's snippet evaluation over `--snippets`.
fn extract_snippets(
    html_dir: &Path,
    snippets: &Path,
    extractor: &millstone_clean::html::HtmlExtractor,
    pool: &rayon::ThreadPool,
) -> anyhow::Result<ExitCode> {
    use rayon::prelude::*;
    let lists: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(snippets).with_context(|| format!("reading {}", snippets.display()))?,
    )
    .with_context(|| {
        format!("{}: expected {{\"page.html\": {{\"with\": [...], \"without\": [...]}}}}", snippets.display())
    })?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let counts: Vec<anyhow::Result<[usize; 4]>> = pool.install(|| {
        lists
            .par_iter()
            .map(|(name, list)| {
                let path = html_dir.join(name);
                let bytes = if path.exists() {
                    std::fs::read(&path)?
                } else {
                    read_gz_bytes(&html_dir.join(format!("{name}.gz")))?
                };
                let html = millstone_ingest::html::decode_html(&bytes);
                let text = extractor.extract(&html).map(|e| e.text).unwrap_or_default();
                Ok(snippet_counts(&text, &strings(&list["with"]), &strings(&list["without"])))
            })
            .collect()
    });
    let mut total = [0usize; 4];
    for c in counts {
        for (t, n) in total.iter_mut().zip(c?) {
            *t += n;
        }
    }
    let [tp, missed, fp, tn] = total.map(|n| n as f64);
    let precision = tp / (tp + fp).max(1.0);
    let recall = tp / (tp + missed).max(1.0);
    let f1 = if tp == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    let accuracy = (tp + tn) / (tp + missed + fp + tn).max(1.0);
    println!(
        "{} pages: precision {precision:.4} recall {recall:.4} F1 {f1:.4} accuracy {accuracy:.4}",
        lists.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn extract(
    html_dir: &Path,
    truth_dir: Option<&Path>,
    limit: Option<usize>,
    threads: Option<usize>,
    scoring: &ExtractScoring,
) -> anyhow::Result<ExitCode> {
    use rayon::prelude::*;
    let extractor = millstone_clean::html::HtmlExtractor::new(
        serde_json::from_value(extractor_config(&scoring.options)?).context("extractor options")?,
    );
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).build()?;
    if scoring.metric == ExtractMetric::Snippet {
        let snippets = scoring.snippets.as_deref().context("--metric snippet needs --snippets FILE")?;
        return extract_snippets(html_dir, snippets, &extractor, &pool);
    }
    let truth_dir = truth_dir.context("--truth is needed for --metric bow and ngram4")?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(html_dir)
        .with_context(|| format!("reading {}", html_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".html.gz"))
        .collect();
    pages.sort();
    if let Some(n) = limit {
        pages.truncate(n);
    }
    let token = regex::Regex::new(r"\w+")?;
    let started = std::time::Instant::now();
    let results: Vec<anyhow::Result<PageScore>> = pool.install(|| {
        pages
            .par_iter()
            .map(|page| {
                let name = page.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let id = name.trim_end_matches(".html.gz");
                let html = millstone_ingest::html::decode_html(&read_gz_bytes(page)?);
                let truth: serde_json::Value =
                    serde_json::from_str(&read_gz(&truth_dir.join(format!("{id}.json.gz")))?)?;
                let reference = truth["ground_truth"]["main_content"].as_str().unwrap_or("");
                let page_type =
                    truth["_internal"]["page_type"]["primary"].as_str().unwrap_or("unknown").to_string();
                let url = truth["url"].as_str();
                let extracted = extractor.extract_page(&html, url).unwrap_or_default();
                let scores = page_scores(scoring.metric, &token, &extracted.text, reference);
                let line = scoring.pages.is_some().then(|| {
                    serde_json::json!({
                        "id": id, "page_type": page_type, "url": url,
                        "precision": scores.0, "recall": scores.1, "f1": scores.2,
                        "predicted_chars": extracted.text.chars().count(),
                        "reference_chars": reference.chars().count(),
                        "by_fallback": extracted.by_fallback, "text": extracted.text,
                    })
                });
                Ok((page_type, html.len(), scores, line))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut by_type: std::collections::BTreeMap<String, Vec<(f64, f64, f64)>> = Default::default();
    let mut all = Vec::new();
    let mut bytes = 0usize;
    let mut lines = String::new();
    for r in results {
        let (page_type, size, s, line) = r?;
        if let Some(line) = line {
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        bytes += size;
        all.push(s);
        by_type.entry(page_type).or_default().push(s);
    }
    let mean = |v: &[(f64, f64, f64)]| {
        let n = v.len().max(1) as f64;
        (
            v.iter().map(|s| s.0).sum::<f64>() / n,
            v.iter().map(|s| s.1).sum::<f64>() / n,
            v.iter().map(|s| s.2).sum::<f64>() / n,
        )
    };
    println!("{:<14} {:>6} {:>9} {:>7} {:>7}", "page type", "pages", "precision", "recall", "F1");
    for (t, v) in &by_type {
        let (p, r, f) = mean(v);
        println!("{t:<14} {:>6} {p:>9.4} {r:>7.4} {f:>7.4}", v.len());
    }
    let (p, r, f) = mean(&all);
    println!("{:<14} {:>6} {p:>9.4} {r:>7.4} {f:>7.4}", "all (macro)", all.len());
    if let Some(path) = &scoring.pages {
        std::fs::write(path, lines).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "{:.1} pages/s, {:.1} MB/s of HTML on {} threads",
        all.len() as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed,
        pool.current_num_threads()
    );
    Ok(ExitCode::SUCCESS)
}
