//! `clean.pii`: detects and redacts personal data — e-mail addresses, phone numbers, IPv4 and
//! IPv6 addresses, payment card numbers (Luhn-checked) and IBANs (mod-97-checked) — with a
//! placeholder (`<EMAIL>`) or a salted hash (`<EMAIL:1f3a9c0d>`), counting each kind.
//!
//! Patterns are linear-time regular expressions; every candidate is validated (digit counts,
//! checksums, address parsing) before it is redacted, to keep years, prices and version numbers.

use std::net::{Ipv4Addr, Ipv6Addr};

use millstone_core::schemars::{self, JsonSchema};
use millstone_core::{
    BuildContext, BuildError, Document, Emit, Map, MapStage, OnMatch, Span, Stage, StageConfig, StageError,
    StageKind,
};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// E-mail address.
    Email,
    /// Phone number (9 to 15 digits with the usual separators).
    Phone,
    /// IPv4 address.
    Ipv4,
    /// IPv6 address.
    Ipv6,
    /// Payment card number (13 to 19 digits, Luhn-valid).
    CreditCard,
    /// International bank account number (mod-97-valid).
    Iban,
}

impl PiiKind {
    /// All kinds.
    pub const ALL: [PiiKind; 6] =
        [PiiKind::Email, PiiKind::Phone, PiiKind::Ipv4, PiiKind::Ipv6, PiiKind::CreditCard, PiiKind::Iban];

    fn tag(self) -> &'static str {
        match self {
            PiiKind::Email => "EMAIL",
            PiiKind::Phone => "PHONE",
            PiiKind::Ipv4 => "IPV4",
            PiiKind::Ipv6 => "IPV6",
            PiiKind::CreditCard => "CREDIT_CARD",
            PiiKind::Iban => "IBAN",
        }
    }

    fn span_label(self) -> &'static str {
        match self {
            PiiKind::Email => "pii.email",
            PiiKind::Phone => "pii.phone",
            PiiKind::Ipv4 => "pii.ipv4",
            PiiKind::Ipv6 => "pii.ipv6",
            PiiKind::CreditCard => "pii.credit_card",
            PiiKind::Iban => "pii.iban",
        }
    }
    fn counter(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Ipv4 => "ipv4",
            PiiKind::Ipv6 => "ipv6",
            PiiKind::CreditCard => "credit_card",
            PiiKind::Iban => "iban",
        }
    }
}

/// How a detected item is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    /// `<EMAIL>`.
    #[default]
    Placeholder,
    /// `<EMAIL:xxxxxxxx>`: the same value always gives the same tag (salted xxh3).
    Hash,
}

/// Configuration of `clean.pii`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiConfig {
    /// Which kinds to redact (default: all).
    #[serde(default = "all_kinds")]
    pub kinds: Vec<PiiKind>,
    /// `placeholder` or `hash`.
    #[serde(default)]
    pub replacement: Replacement,
    /// Salt for `hash` replacement.
    #[serde(default)]
    pub salt: String,
    /// `remove` (default: replace each item) or `annotate` (keep the text; each item becomes a
    /// span labelled `pii.<kind>`, and `meta.pii.count` / `meta.pii.<kind>` count them).
    #[serde(default = "OnMatch::default_remove")]
    pub on_match: OnMatch,
}

fn all_kinds() -> Vec<PiiKind> {
    PiiKind::ALL.to_vec()
}

impl StageConfig for PiiConfig {
    const TYPE: &'static str = "clean.pii";
    const KIND: StageKind = StageKind::Transform;
    const ON_MATCH: &'static [OnMatch] = OnMatch::SPANS;
    const SUMMARY: &'static str = "Redact e-mails, phones, IPv4/IPv6, card numbers (Luhn), IBANs (mod 97)";
    const EXAMPLE: &'static str =
        "type: clean.pii\nkinds: [email, phone, credit_card]\nreplacement: placeholder\n";

    fn build(&self, _cx: &BuildContext) -> Result<Stage, BuildError> {
        Ok(Stage::transform(MapStage(Redactor::new(self.clone()))))
    }
}

/// Finds and replaces personal data.
#[derive(Debug, Clone)]
pub struct Redactor {
    config: PiiConfig,
    patterns: Vec<(PiiKind, Regex)>,
}

/// One detected item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// What it is.
    pub kind: PiiKind,
    /// Where it is (bytes).
    pub range: std::ops::Range<usize>,
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

fn iban_valid(candidate: &str) -> bool {
    let compact: String = candidate.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u64 = 0;
    for c in rearranged.chars() {
        let value = match c {
            '0'..='9' => c as u64 - '0' as u64,
            'A'..='Z' => c as u64 - 'A' as u64 + 10,
            _ => return false,
        };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

impl Redactor {
    /// A redactor with this configuration.
    pub fn new(config: PiiConfig) -> Self {
        let pattern = |kind| -> &'static str {
            match kind {
                PiiKind::Email => r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
                PiiKind::Phone => {
                    r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]\d{2,4}){1,4}|\+\d{9,15}"
                }
                PiiKind::Ipv4 => r"(?-u:\b)\d{1,3}(?:\.\d{1,3}){3}(?-u:\b)",
                PiiKind::Ipv6 => r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?",
                PiiKind::CreditCard => r"(?-u:\b)\d(?:[ \-]?\d){12,18}(?-u:\b)",
                PiiKind::Iban => r"(?-u:\b)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?-u:\b)",
            }
        };
        let patterns =
            config.kinds.iter().map(|&k| (k, Regex::new(pattern(k)).expect("valid pattern"))).collect();
        Redactor { config, patterns }
    }

    fn valid(kind: PiiKind, s: &str) -> bool {
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        match kind {
            PiiKind::Email => true,
            PiiKind::Phone => {
                let groups: Vec<usize> =
                    s.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).map(str::len).collect();
                let card_like = groups.len() >= 3 && groups.iter().all(|&g| g == 4);
                (9..=15).contains(&digits.len())
                    && !card_like
                    && !(s.contains('.') && s.matches('.').count() == 3)
            }
            PiiKind::Ipv4 => s.parse::<Ipv4Addr>().is_ok(),
            PiiKind::Ipv6 => {
                s.matches(':').count() >= 2
                    && s.split('%').next().is_some_and(|a| a.parse::<Ipv6Addr>().is_ok())
            }
            PiiKind::CreditCard => {
                // Printed layouts: contiguous, groups of four (the last may be shorter), or 4-6-5/4-6-4.
                let groups: Vec<usize> = s.split([' ', '-']).map(str::len).collect();
                let layout = groups.len() == 1
                    || (groups[..groups.len() - 1].iter().all(|&g| g == 4)
                        && (1..=4).contains(groups.last().expect("non-empty")))
                    || groups == [4, 6, 5]
                    || groups == [4, 6, 4];
                layout && (13..=19).contains(&digits.len()) && luhn(&digits)
            }
            PiiKind::Iban => iban_valid(s),
        }
    }

    /// For checksummed kinds and phones: a candidate that fails validation may contain a valid item with
    /// extra groups glued on (the last digit of an IP address before a card number, a year
    /// after an IBAN); try the sub-ranges that start and end at group boundaries, longest first.
    fn shrink(kind: PiiKind, text: &str, range: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
        if !matches!(kind, PiiKind::CreditCard | PiiKind::Iban | PiiKind::Phone) {
            return None;
        }
        let candidate = &text[range.clone()];
        let is_separator = |c: char| c == ' ' || c == '-';
        let mut starts = vec![0];
        let mut ends = Vec::new();
        for (i, c) in candidate.char_indices() {
            if is_separator(c) {
                ends.push(i);
                starts.push(i + 1);
            }
        }
        ends.push(candidate.len());
        if starts.len() > 12 {
            return None;
        }
        // Phones keep their start (a leading `+country` belongs to them) and lose trailing groups.
        let starts = if kind == PiiKind::Phone { vec![0] } else { starts };
        let mut options: Vec<(usize, usize)> =
            starts.iter().flat_map(|&s| ends.iter().filter(move |&&e| e > s).map(move |&e| (s, e))).collect();
        options.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
        options.into_iter().find_map(|(s, e)| {
            let part = &candidate[s..e];
            let well_formed = match kind {
                PiiKind::Iban => {
                    let b = part.as_bytes();
                    b.len() > 4
                        && b[0].is_ascii_uppercase()
                        && b[1].is_ascii_uppercase()
                        && b[2].is_ascii_digit()
                        && b[3].is_ascii_digit()
                }
                PiiKind::Phone => true,
                _ => part.starts_with(|c: char| c.is_ascii_digit()),
            };
            (well_formed && Self::valid(kind, part)).then_some(range.start + s..range.start + e)
        })
    }

    /// Every detected item, non-overlapping, in text order (earlier and longer matches win).
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        let mut found: Vec<Detection> = Vec::new();
        for (kind, regex) in &self.patterns {
            let mut pos = 0;
            while let Some(m) = regex.find_at(text, pos) {
                // After a shrunk match, go on from its end: the rest may hold another item.
                pos = if Self::valid(*kind, m.as_str()) {
                    found.push(Detection { kind: *kind, range: m.range() });
                    m.end()
                } else if let Some(range) = Self::shrink(*kind, text, m.range()) {
                    let end = range.end;
                    found.push(Detection { kind: *kind, range });
                    end
                } else {
                    m.end()
                };
                if m.end() == m.start() {
                    pos = millstone_core::text::ceil_char_boundary(text, pos + 1);
                }
                if pos >= text.len() {
                    break;
                }
            }
        }
        // Overlaps: validated kinds win (a card number is also a run of digits); a weaker match
        // that overlaps a stronger one keeps only its part before it, if that is still valid.
        let priority = |k: PiiKind| match k {
            PiiKind::Email => 0,
            PiiKind::Iban => 1,
            PiiKind::CreditCard => 2,
            PiiKind::Ipv6 => 3,
            PiiKind::Ipv4 => 4,
            PiiKind::Phone => 5,
        };
        found.sort_by_key(|d| (priority(d.kind), d.range.start, std::cmp::Reverse(d.range.end)));
        let mut chosen: Vec<Detection> = Vec::new();
        for mut d in found {
            if let Some(first) = chosen
                .iter()
                .filter(|c| c.range.start < d.range.end && d.range.start < c.range.end)
                .map(|c| c.range.start)
                .min()
            {
                let head =
                    text[d.range.start..first.max(d.range.start)].trim_end_matches([' ', '-', '.', ',']);
                if head.is_empty()
                    || !Self::valid(d.kind, head)
                    || chosen
                        .iter()
                        .any(|c| c.range.start < d.range.start + head.len() && d.range.start < c.range.end)
                {
                    continue;
                }
                d.range = d.range.start..d.range.start + head.len();
            }
            chosen.push(d);
        }
        chosen.sort_by_key(|d| d.range.start);
        chosen
    }

    fn replacement(&self, kind: PiiKind, value: &str) -> String {
        match self.config.replacement {
            Replacement::Placeholder => format!("<{}>", kind.tag()),
            Replacement::Hash => {
                let h = xxhash_rust::xxh3::xxh3_64_with_seed(
                    value.as_bytes(),
                    xxhash_rust::xxh3::xxh3_64(self.config.salt.as_bytes()),
                );
                format!("<{}:{:08x}>", kind.tag(), h as u32)
            }
        }
    }

    /// The redacted text and the detections.
    pub fn redact(&self, text: &str) -> (String, Vec<Detection>) {
        let found = self.detect(text);
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for d in &found {
            out.push_str(&text[pos..d.range.start]);
            out.push_str(&self.replacement(d.kind, &text[d.range.clone()]));
            pos = d.range.end;
        }
        out.push_str(&text[pos..]);
        (out, found)
    }
}

impl Map for Redactor {
    fn map(&self, mut doc: Document, out: &mut Emit) -> Result<Document, StageError> {
        if self.config.on_match == OnMatch::Annotate {
            let found = self.detect(&doc.text);
            let mut counts = std::collections::BTreeMap::new();
            for d in &found {
                out.count(d.kind.counter(), 1);
                *counts.entry(d.kind.counter()).or_insert(0u64) += 1;
                doc.spans.push(Span::new(d.range.start, d.range.end, d.kind.span_label()));
            }
            doc.spans.sort_by_key(|s| (s.start, s.end));
            doc.meta.insert("pii.count".into(), (found.len() as u64).into());
            for (kind, n) in counts {
                doc.meta.insert(format!("pii.{kind}"), n.into());
            }
            return Ok(doc);
        }
        let (text, found) = self.redact(&doc.text);
        if !found.is_empty() {
            for d in &found {
                out.count(d.kind.counter(), 1);
            }
            doc.set_text(text);
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn redactor() -> Redactor {
        Redactor::new(PiiConfig {
            kinds: all_kinds(),
            replacement: Replacement::Placeholder,
            salt: String::new(),
            on_match: OnMatch::Remove,
        })
    }

    #[test]
    fn annotate_keeps_the_text_and_marks_each_item() {
        let config = PiiConfig { on_match: OnMatch::Annotate, ..redactor().config };
        let stage = Redactor::new(config);
        let text = "Write to jane@example.org or jim@example.org from 10.0.0.1.";
        let mut out = Emit::new(false);
        let doc = stage.map(Document::new("d", text), &mut out).unwrap();
        assert_eq!(doc.text, text);
        let labels: Vec<(&str, &str)> = doc.spans.iter().map(|s| (&*s.label, &text[s.range()])).collect();
        assert_eq!(
            labels,
            [("pii.email", "jane@example.org"), ("pii.email", "jim@example.org"), ("pii.ipv4", "10.0.0.1")]
        );
        assert_eq!(doc.meta["pii.count"], 3);
        assert_eq!(doc.meta["pii.email"], 2);
        assert_eq!(doc.meta["pii.ipv4"], 1);
    }

    #[test]
    fn redacts_each_kind_and_keeps_ordinary_numbers() {
        let text = "Mail jane.doe@example.co.uk or call +44 20 7946 0958. Server 192.168.10.4 and fe80::1ff:fe23:4567:890a. \
                    Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32. In 2024 it cost 1,250.50 euros; version 3.1.4.";
        let (out, found) = redactor().redact(text);
        assert_eq!(
            out,
            "Mail <EMAIL> or call <PHONE>. Server <IPV4> and <IPV6>. Card <CREDIT_CARD>, IBAN <IBAN>. In 2024 it cost 1,250.50 euros; version 3.1.4."
        );
        assert_eq!(found.len(), 6);
        assert!(redactor().detect("Card 4111 1111 1111 1112").is_empty(), "Luhn-invalid");
        assert!(redactor().detect("IP 999.1.1.1").is_empty());
    }

    #[test]
    fn hash_replacement_is_stable() {
        let r = Redactor::new(PiiConfig {
            kinds: vec![PiiKind::Email],
            replacement: Replacement::Hash,
            salt: "s".into(),
            on_match: OnMatch::Remove,
        });
        let (a, _) = r.redact("a@b.org and a@b.org");
        let tags: Vec<&str> = a.split(" and ").collect();
        assert_eq!(tags[0], tags[1]);
        assert!(tags[0].starts_with("<EMAIL:"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn redaction_leaves_no_detected_item(
            text in millstone_testkit::text(),
            inserts in prop::collection::vec(prop::sample::select(vec![
                "x@y.com", "+1 555 123 4567", "10.0.0.1", "2001:db8::1", "4111-1111-1111-1111", "DE89 3704 0044 0532 0130 00"]), 0..4),
        ) {
            let text = format!("{text} {}", inserts.join(" "));
            let r = redactor();
            let (once, _) = r.redact(&text);
            prop_assert!(r.detect(&once).is_empty(), "left: {:?}", r.detect(&once));
        }
    }
}
