//! `clean.sample`: deterministic sampling and upsampling for building mixtures. Whether a
//! document is kept, and how many copies of it go on, depends only on a hash of one of its
//! fields (the id by default) and the seed: the same documents are kept at any thread count,
//! batch size, shard or task split, and in any input order — unlike a random draw per run.
//!
//! A rate below 1 keeps that fraction of documents (dropped ones get `not_sampled`); a rate
//! above 1 upsamples: each document goes on `floor(rate)` times plus once more with probability
//! `rate - floor(rate)` (copies are `id#1`, `id#2`, ... with `sample_copy` in meta). Rates can
//! differ per source (`by: meta.source`, `rates: {wiki: 2.0, web: 0.1}`).
//!
//! ```yaml
//! type: clean.sample
//! by: meta.source
//! rates: { wiki: 2.0, books: 1.0, web: 0.1 }
//! rate: 0.5        # any other source
//! seed: 7
//! ```

use std::collections::BTreeMap;

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, DropReason, Emit, FieldError, FieldRef, OnMatch, Stage, StageConfig,
    StageError, StageKind, Transform,
};
use serde::{Deserialize, Serialize};

/// Configuration of `clean.sample`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// How many times each document goes on, on average: below 1 a fraction is kept, above 1
    /// documents are repeated. Applies to sources not listed in `rates` (default 1).
    #[serde(default = "one")]
    pub rate: f64,
    /// The field naming a document's source (`meta.source`, `meta.site`), for `rates`.
    #[serde(default)]
    pub by: Option<FieldRef>,
    /// Rates per value of `by`.
    #[serde(default)]
    pub rates: BTreeMap<String, f64>,
    /// The field whose hash decides (default `id`; `text` samples by content).
    #[serde(default = "default_field")]
    pub field: FieldRef,
    /// Seed of the hash: another seed, another sample.
    #[serde(default)]
    pub seed: u64,
    /// `drop` (drop the unsampled, repeat the upsampled) or `annotate` (keep every document
    /// once, with its number of copies in `sample_copies`).
    #[serde(default = "OnMatch::default_drop")]
    pub on_match: OnMatch,
}

fn one() -> f64 {
    1.0
}
fn default_field() -> FieldRef {
    FieldRef::Id
}

const NOT_SAMPLED: DropReason = DropReason("not_sampled");

impl StageConfig for SampleConfig {
    const TYPE: &'static str = "clean.sample";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::DOCUMENTS;
    const SUMMARY: &'static str =
        "Deterministic sampling and upsampling by a hash of the id, with rates per source";
    const EXAMPLE: &'static str =
        "type: clean.sample\nby: meta.source\nrates: { wiki: 2.0, web: 0.1 }\nrate: 0.5\nseed: 7\n";
    const DROP_REASONS: &'static [(&'static str, &'static str)] =
        &[("not_sampled", "the document's hash fell outside its source's rate")];

    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let bad = |r: f64| !(0.0..=1000.0).contains(&r);
        if bad(self.rate) {
            errors.push(FieldError::new("rate", "must be between 0 and 1000"));
        }
        for (source, &r) in &self.rates {
            if bad(r) {
                errors.push(FieldError::new(format!("rates.{source}"), "must be between 0 and 1000"));
            }
        }
        if !self.rates.is_empty() && self.by.is_none() {
            errors.push(FieldError::new("by", "is required with `rates` (the field naming the source)"));
        }
        errors.is_empty().then_some(()).ok_or(errors)
    }

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(Sampler { config: self.clone() }))
    }
}

/// The `clean.sample` transform.
pub struct Sampler {
    config: SampleConfig,
}

/// The hash that decides a document's fate in `clean.sample` and `clean.cap`.
pub(crate) fn sample_hash(value: &str, seed: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value.as_bytes(), seed)
}

/// A uniform number in [0, 1) from a hash of `value` and `seed`.
fn uniform(value: &str, seed: u64) -> f64 {
    (sample_hash(value, seed) >> 11) as f64 / (1u64 << 53) as f64
}

impl Sampler {
    /// How many times `doc` goes on (0 = dropped).
    pub fn copies(&self, doc: &Document) -> u64 {
        let c = &self.config;
        let rate =
            c.by.as_ref()
                .and_then(|by| by.get(doc))
                .and_then(|source| c.rates.get(source.as_ref()).copied())
                .unwrap_or(c.rate);
        let value = c.field.get(doc).unwrap_or_default();
        let whole = rate.floor();
        whole as u64 + u64::from(uniform(&value, c.seed) < rate - whole)
    }
}

impl Transform for Sampler {
    fn apply(&self, mut doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let copies = self.copies(&doc);
        if self.config.on_match == OnMatch::Annotate {
            doc.meta.insert("sample_copies".into(), copies.into());
            out.keep(doc);
            return Ok(());
        }
        if copies == 0 {
            out.drop(doc, NOT_SAMPLED);
            return Ok(());
        }
        for k in 1..copies {
            let mut copy = doc.clone();
            copy.id = format!("{}#{k}", doc.id).into();
            copy.meta.insert("sample_copy".into(), k.into());
            out.keep(copy);
        }
        out.keep(doc);
        Ok(())
    }

    fn is_flat_map(&self) -> bool {
        self.config.on_match == OnMatch::Drop
            && (self.config.rate > 1.0 || self.config.rates.values().any(|&r| r > 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sampler(yaml: &str) -> Sampler {
        let config: SampleConfig = serde_yaml::from_str(yaml).unwrap();
        config.validate().unwrap();
        Sampler { config }
    }

    fn run(s: &Sampler, docs: Vec<Document>) -> (Vec<String>, usize) {
        let mut out = Emit::new(false);
        for d in docs {
            s.apply(d, &mut out).unwrap();
        }
        let (kept, dropped, _) = out.into_parts();
        (kept.into_iter().map(|d| d.id.to_string()).collect(), dropped.len())
    }

    fn docs(n: usize, source: &str) -> Vec<Document> {
        (0..n).map(|i| Document::new(format!("{source}-{i}"), "text").with_meta("source", source)).collect()
    }

    #[test]
    fn rates_per_source_keep_about_that_fraction_and_upsample() {
        let s = sampler("by: meta.source\nrates: { web: 0.1, wiki: 2.5 }\nrate: 0.0\n");
        let (kept, dropped) = run(&s, docs(10_000, "web"));
        assert!((900..1100).contains(&kept.len()), "{}", kept.len());
        assert_eq!(kept.len() + dropped, 10_000);
        let (kept, _) = run(&s, docs(1_000, "wiki"));
        assert!((2_400..2_600).contains(&kept.len()), "{}", kept.len());
        assert!(kept.iter().any(|id| id.ends_with("#2")) && !kept.iter().any(|id| id.ends_with("#3")));
        let (kept, _) = run(&s, docs(100, "books"));
        assert!(kept.is_empty(), "other sources get `rate`");
    }

    #[test]
    fn annotate_keeps_everything_and_says_how_many_copies() {
        let s = sampler("rate: 0.5\non_match: annotate\n");
        let mut out = Emit::new(false);
        for d in docs(100, "web") {
            s.apply(d, &mut out).unwrap();
        }
        let (kept, dropped, _) = out.into_parts();
        assert_eq!((kept.len(), dropped.len()), (100, 0));
        let zeros = kept.iter().filter(|d| d.meta["sample_copies"] == 0).count();
        assert!((30..70).contains(&zeros), "{zeros}");
    }

    #[test]
    fn bad_settings_are_field_errors() {
        let config: SampleConfig = serde_yaml::from_str("rates: { web: 0.1 }\nrate: -1\n").unwrap();
        let fields: Vec<String> = config.validate().unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["rate", "by"]);
    }

    proptest! {
        /// The kept set depends on the documents and the seed only: not on their order.
        #[test]
        fn the_sample_does_not_depend_on_order(n in 1usize..300, seed in any::<u64>(), rate in 0.0f64..3.0) {
            let s = sampler(&format!("rate: {rate}\nseed: {seed}\n"));
            let mut forward = run(&s, docs(n, "web")).0;
            let mut backward = run(&s, docs(n, "web").into_iter().rev().collect()).0;
            forward.sort();
            backward.sort();
            prop_assert_eq!(forward, backward);
        }
    }
}
