//! JSON string literals, written eight bytes at a time.
//!
//! The JSONL encoder's own escaper: in a profile of `ingest.jsonl -> export.jsonl`, serde_json's
//! byte-at-a-time `serialize_str` was the largest item of the workers (16% of all samples),
//! since a document's text is nearly all of its bytes. This scan tests a `u64` of eight bytes
//! for anything JSON must escape and copies the runs between escapes whole. The bytes are
//! exactly serde_json's (a property test checks), so outputs do not change. (No `unsafe` and no
//! SIMD crate: the workspace forbids `unsafe`, and sonic-rs/simd-json would mean converting
//! every document into their own value types.)

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of bytes of `x` below 0x20 or equal to `"` or `\`. The lowest flagged byte is
/// always a true one (a borrow only runs upward from a flagged byte), and the scan only uses
/// the lowest.
fn escapes_in(x: u64) -> u64 {
    let zero_byte = |y: u64| y.wrapping_sub(LOW_BITS) & !y;
    let control = x.wrapping_sub(0x20 * LOW_BITS) & !x;
    let quote = zero_byte(x ^ (u64::from(b'"') * LOW_BITS));
    let backslash = zero_byte(x ^ (u64::from(b'\\') * LOW_BITS));
    (control | quote | backslash) & HIGH_BITS
}

fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends the escape sequence of one byte that [`must_escape`]: serde_json's choice of short
/// escapes, `\u00xx` with lowercase hex for the other control bytes.
fn push_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0C => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]),
    }
}

/// Appends `s` as a JSON string literal (quotes included) to `out`.
///
/// ```
/// let mut out = Vec::new();
/// millstone_export::json_string::push(&mut out, "say \"hi\"\n");
/// assert_eq!(out, br#""say \"hi\"\n""#);
/// ```
pub fn push(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut written = 0;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let flags = escapes_in(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if flags == 0 {
            i += 8;
            continue;
        }
        let at = i + (flags.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[written..at]);
        push_escape(out, bytes[at]);
        i = at + 1;
        written = i;
    }
    for (at, &b) in bytes.iter().enumerate().skip(i) {
        if must_escape(b) {
            out.extend_from_slice(&bytes[written..at]);
            push_escape(out, b);
            written = at + 1;
        }
    }
    out.extend_from_slice(&bytes[written..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pushed(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        push(&mut out, s);
        out
    }

    #[test]
    fn every_byte_below_0x80_is_written_as_serde_json_writes_it() {
        for b in 0u8..0x80 {
            for at in 0..20 {
                let s = format!("{}{}{}", "a".repeat(at), b as char, "z".repeat(20 - at));
                assert_eq!(pushed(&s), serde_json::to_vec(&s).unwrap(), "byte {b:#x} at {at}");
            }
        }
    }

    proptest! {
        /// Escapes in every position of the eight-byte words, runs of them (a borrow from one
        /// must not hide or invent the next), multi-byte characters and DEL.
        #[test]
        fn the_literal_is_serde_jsons(chars in prop::collection::vec(prop_oneof![
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            prop::sample::select(vec!['"', '\\', '!', '#', ' ', '\u{7f}', 'é', '中', '😀', 'a', '\u{2028}', '\u{a2}']),
        ], 0..100)) {
            let s: String = chars.into_iter().collect();
            prop_assert_eq!(pushed(&s), serde_json::to_vec(&s).unwrap());
        }
    }
}
