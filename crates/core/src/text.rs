//! Small text helpers shared by stage crates (char-boundary arithmetic, line iteration).

/// The largest char boundary of `s` that is `<= index` (clamped to `s.len()`).
pub fn floor_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    let mut i = index;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` that is `>= index` (clamped to `s.len()`).
pub fn ceil_char_boundary(s: &str, index: usize) -> usize {
    if index >= s.len() {
        return s.len();
    }
    let mut i = index;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Iterates over the lines of `text` as `(start, end_of_content, end_with_terminator)` byte
/// offsets. A terminator is `\n`, `\r\n` or a lone `\r`; the last line may have none.
pub fn line_ranges(text: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let rest = &bytes[start..];
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                pos = bytes.len();
                Some((start, bytes.len(), bytes.len()))
            }
            Some(i) => {
                let end = start + i;
                let next =
                    if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') { end + 2 } else { end + 1 };
                pos = next;
                Some((start, end, next))
            }
        }
    })
}

/// Paragraphs: maximal runs of non-blank lines, as byte ranges without the final line break;
/// a blank (empty or whitespace-only) line separates paragraphs.
pub fn paragraph_ranges(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut lines = line_ranges(text).peekable();
    std::iter::from_fn(move || {
        let (start, mut end) = loop {
            let (s, e, _) = lines.next()?;
            if !text[s..e].trim().is_empty() {
                break (s, e);
            }
        };
        while let Some(&(s, e, _)) = lines.peek() {
            if text[s..e].trim().is_empty() {
                break;
            }
            end = e;
            lines.next();
        }
        Some(start..end)
    })
}

/// `text` without the given byte ranges (sorted, non-overlapping, on char boundaries).
pub fn remove_ranges(text: &str, ranges: impl IntoIterator<Item = std::ops::Range<usize>>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for range in ranges {
        out.push_str(&text[pos..range.start]);
        pos = range.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let s = "aé😀";
        assert_eq!(floor_char_boundary(s, 2), 1);
        assert_eq!(ceil_char_boundary(s, 2), 3);
        assert_eq!(ceil_char_boundary(s, 4), 7);
        assert_eq!(floor_char_boundary(s, 100), s.len());
    }

    #[test]
    fn lines_with_all_terminators() {
        let s = "a\r\nb\rc\n\nd";
        let lines: Vec<_> = line_ranges(s).map(|(a, b, _)| &s[a..b]).collect();
        assert_eq!(lines, ["a", "b", "c", "", "d"]);
        let covered: usize = line_ranges(s).map(|(a, _, c)| c - a).sum();
        assert_eq!(covered, s.len());
    }
}
