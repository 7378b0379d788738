//! Small text helpers shared by stage crates (char-boundary arithmetic, line iteration, bytes
//! tested eight at a time).

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

/// Each byte's lowest bit, in all eight bytes of a `u64`.
pub const LOW_BITS: u64 = 0x0101_0101_0101_0101;
/// Each byte's highest bit, in all eight bytes of a `u64`: set on non-ASCII bytes.
pub const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` equal to `byte` (ASCII), exactly: every sum stays within
/// its byte.
pub fn ascii_bytes_equal(x: u64, byte: u8) -> u64 {
    let y = (x & !HIGH_BITS) ^ (u64::from(byte) * LOW_BITS);
    !((y + 0x7F * LOW_BITS) | y) & HIGH_BITS & !x
}

/// Two masks over the eight bytes of `x` (high bit per byte, exact): the spaces, and the bytes 9
/// to 13 (tab, line feed, vertical tab, form feed, carriage return). `char::is_whitespace` is
/// both; `u8::is_ascii_whitespace` leaves out the vertical tab.
pub fn ascii_whitespace_bytes(x: u64) -> (u64, u64) {
    let low7 = x & !HIGH_BITS;
    let nine_to_thirteen = (low7 + 0x77 * LOW_BITS) & !(low7 + 0x72 * LOW_BITS) & HIGH_BITS & !x;
    (ascii_bytes_equal(x, b' '), nine_to_thirteen)
}

/// How many words start in eight bytes: bytes not in `space` (a mask as above, high bit per
/// byte) whose preceding byte is in it. `previous_space` is the mask of the eight bytes before
/// (only its top byte is read; [`HIGH_BITS`] at the start of a text, which counts as space).
pub fn word_starts(space: u64, previous_space: u64) -> u32 {
    (!space & ((space << 8) | (previous_space >> 56)) & HIGH_BITS).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_masks_flag_exactly_their_bytes_in_every_lane() {
        for b in 0u8..=255 {
            for lane in 0..8 {
                let x = 0x4141_4141_4141_4141u64 & !(0xFF << (lane * 8)) | (u64::from(b) << (lane * 8));
                let bit = 0x80u64 << (lane * 8);
                let (spaces, nine_to_thirteen) = ascii_whitespace_bytes(x);
                assert_eq!(spaces, if b == b' ' { bit } else { 0 }, "byte {b:#x} in lane {lane}");
                assert_eq!(nine_to_thirteen, if (9..=13).contains(&b) { bit } else { 0 }, "byte {b:#x}");
                assert_eq!(ascii_bytes_equal(x, 0x0B), if b == 0x0B { bit } else { 0 }, "byte {b:#x}");
            }
        }
    }

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
