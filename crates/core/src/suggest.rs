//! Ranked "did you mean" suggestions.

/// Candidates close to `query`, best first (at most three).
///
/// A candidate `group.name` is also compared by its `name` part alone, so `minhash` finds
/// `dedup.minhash` and `clean.normalise_unicode` finds `clean.normalize_unicode`.
pub fn did_you_mean<'a>(query: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let query_lower = query.to_ascii_lowercase();
    let query_tail = query_lower.rsplit('.').next().unwrap_or(&query_lower).to_string();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let full = strsim::jaro_winkler(&query_lower, candidate);
            let tail = candidate.rsplit('.').next().unwrap_or(candidate);
            let by_tail = strsim::jaro_winkler(&query_tail, tail);
            let edit = strsim::normalized_damerau_levenshtein(&query_lower, candidate)
                .max(strsim::normalized_damerau_levenshtein(&query_tail, tail));
            let contains =
                !query_tail.is_empty() && (tail.contains(&*query_tail) || query_tail.contains(tail));
            let score = full.max(by_tail * 0.98).max(edit) + if contains { 0.1 } else { 0.0 };
            (score >= 0.8).then_some((score, candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    // Offer runners-up only when they are nearly as close as the best match.
    let best = scored.first().map_or(0.0, |s| s.0);
    scored.into_iter().take_while(|(score, _)| *score >= best - 0.05).take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: [&str; 5] = [
        "clean.normalize_unicode",
        "clean.normalize_whitespace",
        "dedup.minhash",
        "dedup.exact",
        "export.jsonl",
    ];

    #[test]
    fn british_spelling() {
        assert_eq!(did_you_mean("clean.normalise_unicode", TYPES)[0], "clean.normalize_unicode");
    }

    #[test]
    fn across_groups() {
        assert_eq!(did_you_mean("minhash", TYPES)[0], "dedup.minhash");
        assert_eq!(did_you_mean("clean.minhash", TYPES)[0], "dedup.minhash");
    }

    #[test]
    fn nothing_for_nonsense() {
        assert!(did_you_mean("zzzzqqq", TYPES).is_empty());
    }

    #[test]
    fn field_names() {
        assert_eq!(did_you_mean("ngrams", ["ngram", "bands", "rows"]), ["ngram"]);
        assert_eq!(did_you_mean("band", ["ngram", "bands", "rows"]), ["bands"]);
    }
}
