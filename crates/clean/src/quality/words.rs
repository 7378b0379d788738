//! Words and lines as the quality filters count them: words as spaCy's English tokenizer yields
//! them (what datatrove's filters count), lines as Python's `str.splitlines()` gives them.
//!
//! Both are single byte scans. A whitespace-separated chunk that is all ASCII (most chunks of
//! most text) is split by byte tests; any other chunk takes the Unicode path. The two paths give
//! the same tokens: the tests hold the straightforward `char`-by-`char` version as the oracle.

use millstone_core::text::{HIGH_BITS, LOW_BITS};

const CONTRACTIONS: [&str; 7] = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"];

/// Characters split off a word's start and end: neither alphanumeric nor whitespace.
fn is_punctuation(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace()
}

/// Words as spaCy's English tokenizer yields them for counting: whitespace-separated chunks with
/// leading and trailing punctuation split off (one token per character, `...` as one), English
/// contractions (`n't`, `'s`, ...) split from their word, and spaCy's infixes (see
/// [`for_each_word`]).
pub fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 5);
    for_each_word(text, |word, _| out.push(word));
    out
}

/// How many [`words`] `text` has, without collecting them.
pub fn count_words(text: &str) -> usize {
    let mut count = 0;
    for_each_word(text, |_, _| count += 1);
    count
}

/// Calls `f` with each of the [`words`] of `text`, in order, and whether the word is ASCII.
///
/// Infixes, as spaCy splits them: a hyphen (`-`, `–`, `—`, `~`) after a letter or digit and
/// before a letter (`well-known`, not `COVID-19`), `/ : < > =` between a letter or digit and a
/// letter (`and/or`), `+ - * ^` between digits (`2020-2022`), and a comma between letters. URLs
/// and e-mail addresses stay whole, as spaCy's URL rule keeps them.
pub fn for_each_word<'a>(text: &'a str, mut f: impl FnMut(&'a str, bool)) {
    let mut tail: Vec<&'a str> = Vec::new();
    for_each_chunk(text, |chunk, classes| {
        if classes == ALPHANUMERIC {
            f(chunk, true);
        } else if classes & NOT_ASCII == 0 {
            ascii_chunk(chunk, &mut tail, &mut f);
        } else {
            unicode_chunk(chunk, &mut tail, &mut f);
        }
    });
}

/// Byte classes of the ASCII fast path.
const ALPHANUMERIC: u8 = 1;
const APOSTROPHE: u8 = 2;
/// Bytes that may be an ASCII infix (see [`split_infixes`]).
const INFIX: u8 = 4;
const SPACE: u8 = 8;
const NOT_ASCII: u8 = 16;
/// Any other ASCII punctuation or symbol.
const OTHER: u8 = 32;

/// The class of each byte value.
static BYTE_CLASS: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        classes[b] = if byte >= 0x80 {
            NOT_ASCII
        } else if byte.is_ascii_alphanumeric() {
            ALPHANUMERIC
        } else if is_ascii_space(byte) {
            SPACE
        } else if byte == b'\'' {
            APOSTROPHE
        } else if matches!(byte, b'-' | b'~' | b'/' | b':' | b'<' | b'>' | b'=' | b',' | b'+' | b'*' | b'^') {
            INFIX
        } else {
            OTHER
        };
        b += 1;
    }
    classes
};

/// The whitespace-separated chunks of `text` (what `str::split_whitespace` yields), each with
/// the union of its bytes' classes (`ALPHANUMERIC` alone: a plain ASCII word).
fn for_each_chunk<'a>(text: &'a str, mut f: impl FnMut(&'a str, u8)) {
    let bytes = text.as_bytes();
    let (mut i, mut start, mut classes) = (0, 0, 0u8);
    while i < bytes.len() {
        let class = BYTE_CLASS[usize::from(bytes[i])];
        let (space, width) =
            if class & NOT_ASCII == 0 { (class & SPACE != 0, 1) } else { unicode_space_at(bytes, i) };
        if space {
            if classes != 0 {
                f(&text[start..i], classes);
                classes = 0;
            }
        } else {
            if classes == 0 {
                start = i;
            }
            classes |= class;
        }
        i += width;
    }
    if classes != 0 {
        f(&text[start..], classes);
    }
}

/// ASCII characters with Unicode's White_Space property (tab, line feed, vertical tab, form
/// feed, carriage return, space: `u8::is_ascii_whitespace` leaves out vertical tab).
const fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// Whether the character whose UTF-8 encoding starts at `bytes[i]` (a lead byte, not ASCII) is
/// White_Space (U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000),
/// and its length in bytes.
fn unicode_space_at(bytes: &[u8], i: usize) -> (bool, usize) {
    let lead = bytes[i];
    let width = match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        _ => 2,
    };
    let space = match (lead, bytes[i + 1]) {
        (0xC2, second) => matches!(second, 0x85 | 0xA0),
        (0xE1, 0x9A) => bytes[i + 2] == 0x80,
        (0xE2, 0x80) => matches!(bytes[i + 2], 0x80..=0x8A | 0xA8 | 0xA9 | 0xAF),
        (0xE2, 0x81) => bytes[i + 2] == 0x9F,
        (0xE3, 0x80) => bytes[i + 2] == 0x80,
        _ => false,
    };
    (space, width)
}

/// One ASCII chunk: leading and trailing punctuation by byte tests, then the middle.
fn ascii_chunk<'a>(chunk: &'a str, tail: &mut Vec<&'a str>, f: &mut impl FnMut(&'a str, bool)) {
    let b = chunk.as_bytes();
    let alphanumeric = |byte: u8| BYTE_CLASS[usize::from(byte)] & ALPHANUMERIC != 0;
    let mut lo = 0;
    while lo < b.len() && !alphanumeric(b[lo]) {
        f(&chunk[lo..lo + 1], true);
        lo += 1;
    }
    if lo == b.len() {
        return;
    }
    let mut hi = b.len();
    tail.clear();
    loop {
        if hi - lo > 3 && &b[hi - 3..hi] == b"..." {
            tail.push(&chunk[hi - 3..hi]);
            hi -= 3;
        } else if hi - lo > 1 && !alphanumeric(b[hi - 1]) && b[hi - 1] != b'\'' {
            tail.push(&chunk[hi - 1..hi]);
            hi -= 1;
        } else {
            break;
        }
    }
    let rest = &chunk[lo..hi];
    let classes = rest.bytes().fold(0, |seen, byte| seen | BYTE_CLASS[usize::from(byte)]);
    if classes & (APOSTROPHE | INFIX) == 0 {
        f(rest, true);
    } else {
        middle(rest, classes & APOSTROPHE != 0, true, f);
    }
    for &t in tail.iter().rev() {
        f(t, true);
    }
}

/// Any other chunk, `char` by `char`.
fn unicode_chunk<'a>(chunk: &'a str, tail: &mut Vec<&'a str>, f: &mut impl FnMut(&'a str, bool)) {
    let mut rest = chunk;
    while let Some(c) = rest.chars().next().filter(|&c| is_punctuation(c)) {
        f(&rest[..c.len_utf8()], c.is_ascii());
        rest = &rest[c.len_utf8()..];
    }
    tail.clear();
    loop {
        if rest.ends_with("...") && rest.len() > 3 {
            tail.push(&rest[rest.len() - 3..]);
            rest = &rest[..rest.len() - 3];
            continue;
        }
        match rest.chars().next_back().filter(|&c| is_punctuation(c) && c != '\'' && c != '’') {
            Some(c) if rest.len() > c.len_utf8() => {
                tail.push(&rest[rest.len() - c.len_utf8()..]);
                rest = &rest[..rest.len() - c.len_utf8()];
            }
            _ => break,
        }
    }
    if !rest.is_empty() {
        middle(rest, rest.contains(['\'', '’']), rest.is_ascii(), f);
    }
    for &t in tail.iter().rev() {
        f(t, t.is_ascii());
    }
}

/// The part of a chunk between its leading and trailing punctuation (not empty): a contraction
/// split from its word, or the word split at its infixes.
fn middle<'a>(rest: &'a str, has_apostrophe: bool, ascii: bool, f: &mut impl FnMut(&'a str, bool)) {
    if has_apostrophe {
        let lower = rest.to_lowercase().replace('’', "'");
        if let Some(c) = CONTRACTIONS.iter().find(|c| lower.ends_with(*c) && lower.len() > c.len()) {
            // The contraction's characters are the last ones of `rest`, where the apostrophe
            // may be `’` (three bytes, not one): split by characters, not by `c`'s bytes.
            let split = rest.char_indices().rev().nth(c.chars().count() - 1).map_or(0, |(i, _)| i);
            let suffix_matches = rest[split..].to_lowercase().replace('’', "'") == **c;
            if split > 0 && suffix_matches {
                f(&rest[..split], rest[..split].is_ascii());
                f(&rest[split..], rest[split..].is_ascii());
            } else {
                f(rest, ascii);
            }
            return;
        }
    }
    split_infixes(rest, ascii, f);
}

/// Calls `f` with `word` split at spaCy's English infixes (see [`for_each_word`]).
fn split_infixes<'a>(word: &'a str, ascii: bool, f: &mut impl FnMut(&'a str, bool)) {
    let candidate = word.bytes().any(|b| BYTE_CLASS[usize::from(b)] & INFIX != 0)
        || (!ascii && word.contains(['–', '—']));
    if !candidate || word.contains("://") || word.contains('@') || word.starts_with("www.") {
        f(word, ascii);
        return;
    }
    let mut start = 0;
    let mut before: Option<char> = None;
    let mut chars = word.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let after = chars.peek().map(|&(_, a)| a);
        if let (Some(b), Some(a)) = (before, after) {
            let infix = match c {
                '-' | '–' | '—' | '~' | '/' | ':' | '<' | '>' | '=' => {
                    b.is_alphanumeric() && a.is_alphabetic()
                }
                ',' => b.is_alphabetic() && a.is_alphabetic(),
                _ => false,
            } || (matches!(c, '+' | '-' | '*' | '^') && b.is_ascii_digit() && a.is_ascii_digit());
            if infix && at > start {
                let piece = &word[start..at];
                f(piece, ascii || piece.is_ascii());
                f(&word[at..at + c.len_utf8()], c.is_ascii());
                start = at + c.len_utf8();
            }
        }
        before = Some(c);
    }
    let piece = &word[start..];
    f(piece, ascii || piece.is_ascii());
}

/// Lines as Python's `str.splitlines()` gives them (all Unicode line boundaries, `\r\n` as one,
/// no final empty line).
pub fn python_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        // Eight bytes at a time past text with no control and no non-ASCII byte: `x - 0x20`
        // borrows into a byte's high bit, where `x` has none, exactly when some byte is below
        // 0x20.
        if let Some(eight) = bytes.get(i..i + 8) {
            let x = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
            if (x.wrapping_sub(0x20 * LOW_BITS) | x) & HIGH_BITS == 0 {
                i += 8;
                continue;
            }
        }
        // UTF-8 continuation bytes never equal these lead or ASCII bytes: stepping byte by byte
        // cannot match inside a character.
        let width = match bytes[i] {
            b'\n' | 0x0B | 0x0C | 0x1C | 0x1D | 0x1E => 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => 2,
            b'\r' => 1,
            0xC2 if bytes[i + 1] == 0x85 => 2,
            0xE2 if bytes[i + 1] == 0x80 && matches!(bytes[i + 2], 0xA8 | 0xA9) => 3,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(&text[start..i]);
        i += width;
        start = i;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// `text` split at runs of at least `min_run` line feeds, as `regex::Regex::split` with
/// `\n{min_run,}` splits it (a piece before a leading run and after a trailing one, maybe empty).
pub fn split_at_newline_runs(text: &str, min_run: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let (mut start, mut from) = (0, 0);
    while let Some(found) = memchr::memchr(b'\n', &bytes[from..]) {
        let run_start = from + found;
        let run_end = run_start + bytes[run_start..].iter().take_while(|&&b| b == b'\n').count();
        if run_end - run_start >= min_run {
            pieces.push(&text[start..run_start]);
            start = run_end;
        }
        from = run_end;
    }
    pieces.push(&text[start..]);
    pieces
}

/// Whitespace-separated words of an ASCII `line`, as `split_whitespace` counts them, eight
/// bytes at a time: a word starts at each byte that is not whitespace after one that is.
pub fn ascii_word_count(line: &str) -> usize {
    use millstone_core::text::{ascii_whitespace_bytes, word_starts};
    let mut chunks = line.as_bytes().chunks_exact(8);
    let mut count = 0;
    // Bit 63: the byte before this chunk was whitespace (the line start counts as such).
    let mut previous = HIGH_BITS;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let (spaces, nine_to_thirteen) = ascii_whitespace_bytes(x);
        let space = spaces | nine_to_thirteen;
        count += word_starts(space, previous) as usize;
        previous = space;
    }
    let mut previous_space = previous >> 63 == 1;
    for &b in chunks.remainder() {
        let space = is_ascii_space(b);
        count += usize::from(previous_space && !space);
        previous_space = space;
    }
    count
}

/// Whitespace-separated words of an ASCII `line` (as `split_whitespace` counts them) and the
/// length of the longest.
pub fn ascii_word_count_and_longest(line: &str) -> (usize, usize) {
    let (mut count, mut longest, mut current) = (0, 0, 0);
    for &b in line.as_bytes() {
        if is_ascii_space(b) {
            current = 0;
        } else {
            count += usize::from(current == 0);
            current += 1;
            longest = longest.max(current);
        }
    }
    (count, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The tokenizer as first written, `char` by `char`: the oracle of the fast one.
    fn reference_words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for chunk in text.split_whitespace() {
            let mut tail = Vec::new();
            unicode_chunk(chunk, &mut tail, &mut |w, _| out.push(w));
        }
        out
    }

    /// `str::splitlines()`, `char` by `char`.
    fn reference_lines(text: &str) -> Vec<&str> {
        let mut lines = Vec::new();
        let mut start = 0;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if matches!(
                c,
                '\n' | '\r'
                    | '\u{b}'
                    | '\u{c}'
                    | '\u{1c}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            ) {
                lines.push(&text[start..i]);
                let mut next = i + c.len_utf8();
                if c == '\r' && chars.peek().map(|&(_, n)| n) == Some('\n') {
                    chars.next();
                    next += 1;
                }
                start = next;
            }
        }
        if start < text.len() {
            lines.push(&text[start..]);
        }
        lines
    }

    #[test]
    fn the_byte_whitespace_test_is_unicode_white_space() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32).filter(|c| !c.is_ascii()) {
            let mut buf = [0u8; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(unicode_space_at(encoded, 0), (c.is_whitespace(), c.len_utf8()), "{c:?}");
        }
        for b in 0..0x80u8 {
            assert_eq!(is_ascii_space(b), char::from(b).is_whitespace(), "{b:#x}");
        }
    }

    #[test]
    fn words_split_like_spacy() {
        assert_eq!(
            words("Don't stop, (please)... It's 4.5 km!"),
            ["Do", "n't", "stop", ",", "(", "please", ")", "...", "It", "'s", "4.5", "km", "!"]
        );
        assert_eq!(python_lines("a\r\nb\rc\u{2028}d\n"), ["a", "b", "c", "d"]);
        // Infixes, as spaCy splits them (checked against its English tokenizer).
        assert_eq!(
            words(
                "low-fat greens—and and/or 2020-2022 COVID-19 layer-1 1,300 https://a-b.org/x-y me@x-y.org"
            ),
            [
                "low",
                "-",
                "fat",
                "greens",
                "—",
                "and",
                "and",
                "/",
                "or",
                "2020",
                "-",
                "2022",
                "COVID-19",
                "layer-1",
                "1,300",
                "https://a-b.org/x-y",
                "me@x-y.org"
            ]
        );
        assert_eq!(count_words("Don't stop, (please)..."), 8);
    }

    /// A typographic apostrophe is three bytes: the split once cut inside it and panicked
    /// (seen on real page text: `Tastewise’s`).
    #[test]
    fn contractions_with_a_typographic_apostrophe_split_by_characters() {
        assert_eq!(words("Tastewise’s DON’T we’ll"), ["Tastewise", "’s", "DO", "N’T", "we", "’ll"]);
        assert_eq!(words("İ’s ’"), ["İ", "’s", "’"]);
    }

    fn mixed_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("’s"),
                Just("n't"),
                Just("'ll"),
                Just("'"),
                Just("İ"),
                Just("é"),
                Just("word"),
                Just("A1"),
                Just(" "),
                Just("\u{a0}"),
                Just("\u{2003}"),
                Just("\u{b}"),
                Just("\r\n"),
                Just("\n\n"),
                Just("\n"),
                Just("\u{85}"),
                Just("\u{2028}"),
                Just("\u{1c}"),
                Just("..."),
                Just("."),
                Just("!"),
                Just("-"),
                Just("—"),
                Just("/"),
                Just(","),
                Just("+"),
                Just("7"),
                Just("://"),
                Just("@"),
                Just("www."),
                Just("“"),
                Just("("),
            ],
            0..60,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The byte scans give exactly what the `char`-by-`char` versions give.
        #[test]
        fn fast_paths_match_the_reference(text in prop_oneof![mixed_text(), "\\PC{0,80}", millstone_testkit::text_with_long_lines()]) {
            prop_assert_eq!(words(&text), reference_words(&text));
            prop_assert_eq!(count_words(&text), reference_words(&text).len());
            prop_assert_eq!(python_lines(&text), reference_lines(&text));
            for min_run in [1, 2] {
                let pattern = regex::Regex::new(&format!("\n{{{min_run},}}")).unwrap();
                prop_assert_eq!(split_at_newline_runs(&text, min_run), pattern.split(&text).collect::<Vec<_>>());
            }
            if text.is_ascii() {
                let longest = text.split_whitespace().map(str::len).max().unwrap_or(0);
                prop_assert_eq!(ascii_word_count_and_longest(&text), (text.split_whitespace().count(), longest));
                prop_assert_eq!(ascii_word_count(&text), text.split_whitespace().count());
            }
            let mut flags_hold = true;
            for_each_word(&text, |w, ascii| flags_hold &= ascii == w.is_ascii() && !w.is_empty());
            prop_assert!(flags_hold);
        }
    }
}
