//! `millstone eval lid`: language-ID accuracy and speed of `clean.language`'s models on a
//! labelled TSV (`label<TAB>text`, ISO 639-1 labels; `#` lines skipped), overall, per language and
//! for short texts (five words or fewer).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use millstone_clean::language::{LanguageConfig, LanguageModel};
use millstone_core::StageConfig;

/// whatlang's ISO 639-3 codes for the ISO 639-1 labels of the check set.
const ISO_639_3: &[(&str, &str)] = &[
    ("eng", "en"),
    ("deu", "de"),
    ("fra", "fr"),
    ("spa", "es"),
    ("ita", "it"),
    ("por", "pt"),
    ("nld", "nl"),
    ("rus", "ru"),
    ("pol", "pl"),
    ("swe", "sv"),
    ("tur", "tr"),
    ("ces", "cs"),
    ("fin", "fi"),
    ("jpn", "ja"),
    ("cmn", "zh"),
    ("ara", "ar"),
    ("hin", "hi"),
    ("ukr", "uk"),
    ("dan", "da"),
    ("nob", "no"),
    ("ron", "ro"),
    ("hun", "hu"),
    ("ell", "el"),
    ("heb", "he"),
];

fn two_letter(code: &str) -> &str {
    ISO_639_3.iter().find(|(three, _)| *three == code).map_or(code, |(_, two)| two)
}

/// Scores one model; `rounds` passes over the set give the speed (median docs/s).
pub fn lid(
    set: &Path,
    model: LanguageModel,
    model_path: Option<PathBuf>,
    rounds: usize,
) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read_to_string(set).with_context(|| format!("reading {}", set.display()))?;
    let examples: Vec<(&str, &str)> = raw
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once('\t').with_context(|| format!("{}: `{l}` has no TAB", set.display())))
        .collect::<anyhow::Result<_>>()?;
    if examples.is_empty() {
        bail!("{}: no labelled texts", set.display());
    }
    let config = LanguageConfig { model, model_path, ..Default::default() };
    config.validate().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let detector = config.detector().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut per_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let (mut right, mut short_right, mut short) = (0, 0, 0);
    for (label, text) in &examples {
        let got = detector.detect(text).map(|(lang, _)| two_letter(&lang).to_string());
        let ok = got.as_deref() == Some(*label);
        let entry = per_language.entry(label).or_default();
        entry.0 += ok as usize;
        entry.1 += 1;
        right += ok as usize;
        if text.split_whitespace().count() <= 5 && !matches!(*label, "ja" | "zh") {
            short += 1;
            short_right += ok as usize;
        }
    }
    let bytes: usize = examples.iter().map(|(_, t)| t.len()).sum();
    let mut speeds = Vec::new();
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let mut found = 0usize;
        for _ in 0..20 {
            for (_, text) in &examples {
                found += detector.detect(text).is_some() as usize;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(found);
        speeds.push((20 * examples.len()) as f64 / secs);
    }
    speeds.sort_by(f64::total_cmp);
    let docs_per_s = speeds[speeds.len() / 2];
    println!("model\t{model:?}");
    println!("texts\t{}\tlanguages\t{}", examples.len(), per_language.len());
    println!("accuracy\t{:.4}", right as f64 / examples.len() as f64);
    println!(
        "short_texts_accuracy\t{:.4}\t(n={short}, <= 5 words, not ja/zh)",
        short_right as f64 / short.max(1) as f64
    );
    println!(
        "docs_per_s\t{docs_per_s:.0}\tMB_per_s\t{:.1}",
        docs_per_s * bytes as f64 / examples.len() as f64 / 1e6
    );
    for (lang, (ok, n)) in &per_language {
        println!("  {lang}\t{ok}/{n}");
    }
    Ok(ExitCode::SUCCESS)
}
