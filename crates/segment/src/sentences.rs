//! Sentence boundaries by a single scan over the text: every run of terminal punctuation
//! (`.`, `!`, `?`, `…`, spaced ellipses `. . .`, and `。！？`, `؟`, `۔`, `।`) with its closing
//! quotes and brackets is a candidate, and rules decide whether it ends a sentence from the word
//! before it and the text after it: abbreviations (per language; titles like `Mr.` and `No.` never
//! end one, others like `etc.` or `U.S.` end one before a typical sentence opener), initials and
//! the pronoun `I`, times (`a.m.`, `P.M.`), ellipses, exclamations inside a sentence (`Yahoo!
//! is`), quotes and parenthetical citations after them; numbered, lettered and bulleted list
//! items start a sentence even when run together on one line; line breaks end sentences
//! (headings, lists) or, with `newline_boundary: false`, are wrapping.
//!
//! Why not Unicode's UAX #29 sentence rules (`unicode-segmentation`): they fail most of these
//! cases, every one of them needs a correction afterwards, and the general segmenter is several
//! times slower than this scan, which touches each byte once through a lookup table.

use std::ops::Range;

/// The languages with their own abbreviation and sentence-opener lists. Any other text (zh, ja,
/// ar, hi, ...) is split by its terminal punctuation with the `en` rules for Latin script.
pub const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "it", "pt", "nl", "ru"];

/// Abbreviations (lowercase, without the final period) that do not end a sentence by
/// themselves; titles among them never do.
pub fn abbreviations(language: &str) -> &'static [&'static str] {
    match language {
        "de" => &[
            "abs", "abt", "bzw", "ca", "d.h", "dr", "evtl", "ggf", "hr", "fr", "inkl", "jh", "mio", "mrd",
            "nr", "prof", "s", "str", "u.a", "usw", "vgl", "z.b", "z.t", "zzgl", "bspw", "etc", "geb",
            "gest", "tel", "u.ä", "o.ä", "s.o", "s.u", "bd", "hrsg", "jr", "sog", "dt", "engl",
        ],
        "fr" => &[
            "m", "mm", "mme", "mlle", "dr", "pr", "me", "st", "ste", "av", "bd", "cf", "env", "etc", "ex",
            "p", "pp", "vol", "n°", "no", "tél", "j.-c", "chap", "éd", "fig", "hab", "min", "max",
        ],
        "es" => &[
            "sr", "sra", "srta", "dr", "dra", "d", "da", "ud", "uds", "pág", "págs", "etc", "ej", "aprox",
            "av", "avda", "núm", "tel", "vol", "cap", "gral", "n°", "no", "lic", "ing", "prof", "sres",
        ],
        "it" => &[
            "sig", "sigg", "sig.ra", "dott", "dott.ssa", "ing", "avv", "prof", "dr", "on", "sen", "geom",
            "rag", "p", "pag", "pagg", "n", "nr", "s", "ecc", "es", "ca", "cfr", "vol", "art", "cap", "ecc",
            "fig", "tel", "v",
        ],
        "pt" => &[
            "sr", "sra", "srta", "dr", "dra", "prof", "profa", "eng", "exmo", "exma", "v", "p", "pág",
            "págs", "n", "nº", "av", "sto", "sta", "etc", "ex", "p.ex", "aprox", "cap", "vol", "art", "tel",
            "fig",
        ],
        "nl" => &[
            "dhr", "mevr", "mw", "dr", "prof", "ir", "ing", "mr", "drs", "nr", "blz", "st", "p", "bijv",
            "bv", "d.w.z", "enz", "etc", "o.a", "m.b.t", "t.a.v", "i.p.v", "ca", "jl", "zgn", "resp", "vgl",
            "tel",
        ],
        "ru" => &[
            "г-н", "г-жа", "проф", "акад", "им", "ул", "д", "кв", "стр", "с", "т", "тт", "п", "т.е", "т.д",
            "т.п", "т.к", "др", "пр", "см", "ср", "напр", "млн", "млрд", "тыс", "руб", "коп", "н.э", "г",
            "гг", "в", "вв", "etc",
        ],
        _ => &[
            "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "rev", "gen", "gov", "sen", "rep",
            "lt", "col", "capt", "sgt", "cpl", "adm", "pres", "hon", "vs", "etc", "e.g", "i.e", "cf", "al",
            "inc", "ltd", "co", "corp", "bros", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
            "sept", "oct", "nov", "dec", "no", "nos", "vol", "vols", "fig", "figs", "approx", "dept", "est",
            "ed", "eds", "op", "pp", "p", "para", "ch", "sec", "u.s", "u.k", "u.n", "e.u", "a.m", "p.m",
            "ph.d", "b.a", "m.a", "d.c", "u.s.a", "ave", "blvd", "rd", "mx", "messrs", "univ", "assn",
            "dist", "ref", "tel", "ext", "min", "max", "avg", "viz", "n°", "i.v", "b.c", "a.d", "sq", "gal",
            "oz", "lb", "lbs", "yr", "yrs", "hr", "hrs", "mins", "wk", "mo", "mos", "dr", "esq", "supt",
            "maj", "brig", "cmdr", "gens", "reps", "sens", "govs", "mssrs", "atty", "hwy", "mgr", "sec'y",
            "treas", "ct", "pl", "sq", "vp", "cie", "natl", "intl", "assoc", "misc", "nr",
        ],
    }
}

/// Abbreviations that precede a name or a number and never end a sentence (`Mr.`, `No.`).
fn is_title(abbreviation: &str) -> bool {
    matches!(
        abbreviation,
        "mr" | "mrs"
            | "ms"
            | "mx"
            | "dr"
            | "prof"
            | "rev"
            | "gen"
            | "gov"
            | "sen"
            | "rep"
            | "lt"
            | "col"
            | "capt"
            | "sgt"
            | "cpl"
            | "adm"
            | "pres"
            | "hon"
            | "messrs"
            | "st"
            | "mt"
            | "ft"
            | "no"
            | "nos"
            | "n°"
            | "nº"
            | "p"
            | "pp"
            | "vol"
            | "vols"
            | "fig"
            | "figs"
            | "ch"
            | "sec"
            | "para"
            | "nr"
            | "hr"
            | "fr"
            | "m"
            | "mm"
            | "mme"
            | "mlle"
            | "sr"
            | "sra"
            | "srta"
            | "dra"
            | "núm"
            | "pág"
            | "maj"
            | "brig"
            | "cmdr"
            | "supt"
            | "atty"
            | "sig"
            | "sigg"
            | "sig.ra"
            | "dott"
            | "dott.ssa"
            | "ing"
            | "avv"
            | "on"
            | "geom"
            | "rag"
            | "pag"
            | "n"
            | "profa"
            | "eng"
            | "exmo"
            | "exma"
            | "sto"
            | "sta"
            | "dhr"
            | "mevr"
            | "mw"
            | "ir"
            | "drs"
            | "blz"
            | "г-н"
            | "г-жа"
            | "проф"
            | "акад"
            | "им"
            | "ул"
            | "д"
            | "кв"
            | "стр"
            | "pr"
            | "me"
            | "ste"
            | "lic"
            | "sres"
            | "esq"
            | "ud"
            | "uds"
            | "d"
            | "da"
            | "hrsg"
    )
}

/// Titles that stand before a number only (`No. 5`, `p. 12`): before anything else the word is
/// an ordinary one ("The answer is no. Final answer.").
fn is_number_title(abbreviation: &str) -> bool {
    matches!(
        abbreviation,
        "no" | "nos"
            | "n°"
            | "nº"
            | "p"
            | "pp"
            | "vol"
            | "vols"
            | "fig"
            | "figs"
            | "ch"
            | "sec"
            | "para"
            | "nr"
            | "núm"
            | "pág"
            | "pag"
            | "n"
            | "blz"
            | "стр"
    )
}

/// Words that usually open a sentence, per language: after an abbreviation that can also end a
/// clause (`etc.`, `U.S.`, `Inc.`) they mark a boundary.
fn is_sentence_starter(language: &str, word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    let list: &[&str] = match language {
        "de" => &[
            "Der", "Die", "Das", "Ich", "Er", "Sie", "Es", "Wir", "Ihr", "Aber", "Und", "Doch", "Dann",
            "Dies", "Diese", "Dieser", "Ein", "Eine", "Im", "In", "Am", "Auf", "Als", "Wenn", "Wie", "Was",
            "Wo", "Warum", "Heute", "Damit", "Danach", "Deshalb", "Dort", "Hier", "Da", "Nun", "Jetzt",
            "Man", "Auch", "So", "Noch", "Mit", "Nach", "Bei", "Für", "Wer", "Seit",
        ],
        "fr" => &[
            "Le",
            "La",
            "Les",
            "Il",
            "Elle",
            "Ils",
            "Elles",
            "Je",
            "Nous",
            "Vous",
            "On",
            "Mais",
            "Et",
            "Puis",
            "Ce",
            "Cette",
            "Un",
            "Une",
            "Dans",
            "En",
            "Au",
            "Aux",
            "Si",
            "Quand",
            "Comment",
            "Pourquoi",
            "Aujourd'hui",
            "Ensuite",
        ],
        "es" => &[
            "El", "La", "Los", "Las", "Él", "Ella", "Ellos", "Yo", "Nosotros", "Pero", "Y", "Luego", "Este",
            "Esta", "Un", "Una", "En", "Si", "Cuando", "Cómo", "Hoy", "Después",
        ],
        "it" => &[
            "Il", "Lo", "La", "Gli", "Le", "Io", "Lui", "Lei", "Noi", "Voi", "Loro", "Ma", "E", "Poi",
            "Questo", "Questa", "Un", "Una", "In", "Se", "Quando", "Come", "Oggi", "Dopo",
        ],
        "pt" => &[
            "O", "A", "Os", "As", "Ele", "Ela", "Eles", "Eu", "Nós", "Mas", "E", "Depois", "Este", "Esta",
            "Um", "Uma", "Em", "Se", "Quando", "Como", "Hoje",
        ],
        "nl" => &[
            "De", "Het", "Een", "Ik", "Hij", "Zij", "Ze", "Wij", "We", "Maar", "En", "Dan", "Dit", "Deze",
            "Dat", "In", "Op", "Als", "Wanneer", "Hoe", "Vandaag", "Daarna",
        ],
        "ru" => &[
            "Он",
            "Она",
            "Они",
            "Я",
            "Мы",
            "Вы",
            "Но",
            "И",
            "А",
            "Это",
            "Этот",
            "Эта",
            "В",
            "На",
            "Когда",
            "Как",
            "Сегодня",
            "Затем",
            "Потом",
        ],
        _ => &[
            "The",
            "A",
            "An",
            "It",
            "He",
            "She",
            "They",
            "We",
            "I",
            "You",
            "But",
            "And",
            "In",
            "On",
            "This",
            "That",
            "These",
            "Those",
            "There",
            "How",
            "What",
            "Why",
            "When",
            "Where",
            "Who",
            "Is",
            "Are",
            "Was",
            "Were",
            "Do",
            "Does",
            "Did",
            "Can",
            "Will",
            "So",
            "Then",
            "However",
            "Yet",
            "My",
            "Our",
            "Their",
            "His",
            "Her",
            "Its",
            "If",
            "As",
            "At",
            "After",
            "Now",
            "Today",
            "Yesterday",
            "Please",
            "Let's",
            "Let",
            "Here",
            "Some",
            "Many",
            "Most",
            "One",
            "No",
            "Not",
            "All",
            "Each",
            "Every",
            "For",
            "From",
            "With",
            "While",
            "Although",
            "Because",
            "Since",
            "Still",
            "Also",
            "Meanwhile",
        ],
    };
    list.contains(&word)
}

/// Options of the sentence splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentenceOptions<'a> {
    /// Language of the abbreviation lists ([`LANGUAGES`]; others use `en`'s).
    pub language: &'a str,
    /// A single line break ends a sentence (headings, list items), except inside hard-wrapped
    /// prose (see `wraps_prose`); otherwise it is wrapping.
    pub newline_boundary: bool,
}

impl Default for SentenceOptions<'_> {
    fn default() -> Self {
        SentenceOptions { language: "en", newline_boundary: true }
    }
}

/// Bytes that can start something the scan must look at.
const fn interesting() -> [bool; 256] {
    let mut table = [false; 256];
    // '.', '!', '?', ')', '\n', and the lead bytes of the multibyte terminals and bullets:
    // … • ⁃ (E2), 。(E3), ！？．(EF), ؟ (D8), ۔ (DB), । ॥ (E0).
    let bytes = [b'.', b'!', b'?', b')', b'\n', 0xE2, 0xE3, 0xEF, 0xD8, 0xDB, 0xE0];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}
const INTERESTING: [bool; 256] = interesting();

/// Terminal punctuation that ends a sentence without a space after it (CJK, full width).
fn is_closed_terminal(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡')
}

/// Terminal punctuation.
fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '‽' | '؟' | '۔' | '।' | '॥' | '．') || is_closed_terminal(c)
}

/// What closes a sentence after its terminal punctuation.
fn is_closer(c: char) -> bool {
    // '“' closes German quotes („so“).
    matches!(c, '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '}' | '›' | '」' | '』' | '）' | '“')
}

fn is_bullet(c: char) -> bool {
    matches!(c, '•' | '⁃' | '◦' | '▪' | '‣' | '●')
}

/// A run of terminal punctuation starting at `at`: its end, and what it holds.
struct Run {
    end: usize,
    dots: usize,
    bang_or_question: bool,
    ellipsis: bool,
    closed: bool,
}

fn terminal_run(text: &str, at: usize) -> Run {
    let bytes = text.as_bytes();
    let mut run = Run { end: at, dots: 0, bang_or_question: false, ellipsis: false, closed: false };
    let mut i = at;
    while let Some(c) = text[i..].chars().next() {
        if !is_terminal(c) {
            // A spaced ellipsis: ". . ." — a space, then a single dot (". ...And" is a period
            // and an ellipsis that opens the next sentence).
            if c == ' ' && run.dots > 0 && bytes.get(i + 1) == Some(&b'.') && bytes.get(i + 2) != Some(&b'.')
            {
                i += 1;
                continue;
            }
            break;
        }
        match c {
            '.' | '．' => run.dots += 1,
            '…' => run.ellipsis = true,
            _ if is_closed_terminal(c) => run.closed = true,
            _ => run.bang_or_question = true,
        }
        i += c.len_utf8();
        run.end = i;
    }
    run.ellipsis |= run.dots >= 3;
    run
}

/// The word before byte `at` (back to whitespace or an opening bracket or quote).
fn word_before(text: &str, at: usize) -> &str {
    let head = &text[..at];
    let start = head
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '[' | '"' | '“' | '‘' | '«'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &head[start..]
}

/// The word before `word` starting at `word_start` (for "Jane and I." vs "John I. Smith").
fn previous_word(text: &str, word_start: usize) -> &str {
    let head = text[..word_start].trim_end();
    word_before(head, head.len())
}

fn first_char(s: &str) -> Option<char> {
    s.chars().next()
}

/// A list marker: `1.`, `12)`, `3.)`, `a.`, `b)`: its value and style, when `token` is one.
fn marker_value(token: &str) -> Option<(u32, u8)> {
    let (body, style) = if let Some(b) = token.strip_suffix(".)") {
        (b, 0)
    } else if let Some(b) = token.strip_suffix(')') {
        (b, 1)
    } else if let Some(b) = token.strip_suffix('.') {
        (b, 2)
    } else {
        return None;
    };
    if (1..=2).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_digit()) {
        return body.parse().ok().map(|v| (v, style));
    }
    let mut chars = body.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_lowercase() => Some((c as u32 - 'a' as u32 + 1, style + 3)),
        _ => None,
    }
}

/// List items in `text`: the byte where each starts (a bullet or a marker that has a
/// neighbour in sequence: 1 then 2, a then b, in the same style) and where its marker ends.
fn list_items(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut markers: Vec<(usize, usize, u32, u8)> = Vec::new();
    for at in memchr::memchr2_iter(b'.', b')', bytes) {
        if bytes[at] == b')' && at > 0 && bytes[at - 1] == b'.' {
            continue; // the ")" of ".)", seen at its "."
        }
        let end = if bytes[at] == b'.' && bytes.get(at + 1) == Some(&b')') { at + 2 } else { at + 1 };
        if !bytes.get(end).is_none_or(u8::is_ascii_whitespace) {
            continue;
        }
        let mut start = at;
        while start > 0
            && at - start < 3
            && (bytes[start - 1].is_ascii_digit() || bytes[start - 1].is_ascii_lowercase())
        {
            start -= 1;
        }
        let after_bullet = || text[..start].chars().next_back().is_some_and(is_bullet);
        if start == at || !(start == 0 || bytes[start - 1].is_ascii_whitespace() || after_bullet()) {
            continue;
        }
        if let Some((value, style)) = marker_value(&text[start..end]) {
            markers.push((start, end, value, style));
        }
    }
    let bullets: Vec<(usize, usize)> = memchr::memchr_iter(0xE2, bytes)
        .filter_map(|at| {
            text.get(at..)?.chars().next().filter(|&c| is_bullet(c)).map(|c| (at, at + c.len_utf8()))
        })
        .collect();
    let mut items: Vec<(usize, usize)> = Vec::new();
    for (k, &(start, end, value, style)) in markers.iter().enumerate() {
        let before = markers[..k].iter().rev().any(|m| m.3 == style && m.2 + 1 == value);
        let after = markers[k + 1..].iter().any(|m| m.3 == style && m.2 == value + 1);
        // "2." style markers (a bare number and a dot) are the most ambiguous: they need the
        // chain to start at 1 or a.
        let chained = if style % 3 == 2 {
            (value == 1 && after) || (before && markers[..k].iter().any(|m| m.3 == style && m.2 == 1))
        } else {
            before || after
        };
        if chained {
            items.push((start, end));
        }
    }
    if bullets.len() >= 2 || bullets.first().is_some_and(|&(b, _)| text[..b].trim().is_empty()) {
        // A marker right after a bullet ("• 9. The item") belongs to the bullet's item.
        for (start, end) in bullets {
            let marker = markers.iter().find(|m| m.0 >= end && text[end..m.0].trim().is_empty());
            items.push((start, marker.map_or(end, |m| m.1)));
        }
    }
    items.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for item in items {
        match merged.last_mut() {
            Some(last) if item.0 <= last.1 || text[last.1..item.0].trim().is_empty() => {
                last.1 = last.1.max(item.1)
            }
            _ => merged.push(item),
        }
    }
    merged
}

/// Whether `s` is a dotted abbreviation like `U.S`, `e.g`, `B.C`, `i.v` (letters between dots).
fn is_dotted(s: &str) -> bool {
    s.contains('.')
        && s.split('.').all(|part| {
            !part.is_empty() && part.chars().count() <= 2 && part.chars().all(char::is_alphabetic)
        })
}

/// Words a line must have for a lowercase line after it to continue its sentence.
const WRAPPED_LINE_MIN_WORDS: usize = 3;

/// Whether the line break at `newline` only wraps prose (hard-wrapped or PDF-extracted text:
/// "It was a cold\nnight in the city."): the line before it has at least
/// [`WRAPPED_LINE_MIN_WORDS`] words and no sentence end, and the next line goes on in
/// lowercase. Short lines ("features\ncontact manager") are list or menu entries and stay apart.
fn wraps_prose(text: &str, newline: usize, next_line: &str) -> bool {
    if !first_char(next_line).is_some_and(char::is_lowercase) {
        return false;
    }
    let line_start = text[..newline].rfind('\n').map_or(0, |p| p + 1);
    let line = text[line_start..newline].trim_end();
    !line.ends_with(':') && line.split_whitespace().nth(WRAPPED_LINE_MIN_WORDS - 1).is_some()
}

/// The end of a parenthetical citation starting at `open` (`(Smith 2001)`: no terminal
/// punctuation inside, at most 100 bytes), when there is one.
fn citation_end(text: &str, open: usize) -> Option<usize> {
    let close = text[open..].char_indices().take(100).find(|&(_, c)| c == ')' || c == '\n')?;
    let inside = &text[open + 1..open + close.0];
    (close.1 == ')' && !inside.contains(['.', '!', '?'])).then_some(open + close.0 + 1)
}

/// Where the sentence ends for a terminal run at `run_start` in the sentence starting at
/// `sentence_start`: `Some(byte)` to cut there, `None` to go on.
fn decide(
    text: &str,
    sentence_start: usize,
    run_start: usize,
    run: &Run,
    options: &SentenceOptions,
) -> Option<usize> {
    let mut end = run.end;
    for c in text[end..].chars() {
        if !is_closer(c) {
            break;
        }
        end += c.len_utf8();
    }
    // French spacing: "fini. »".
    let spaced = text[end..].trim_start_matches([' ', '\u{a0}', '\u{202f}']);
    if spaced.len() < text.len() - end && spaced.starts_with(['»', '›']) {
        end = text.len() - spaced.len() + spaced.chars().next().map_or(0, char::len_utf8);
    }
    let rest = &text[end..];
    let after = rest.trim_start_matches(|c: char| c.is_whitespace());
    let gap = &rest[..rest.len() - after.len()];
    let next = first_char(after)?;
    if run.closed {
        return Some(end);
    }
    if gap.is_empty() {
        return None;
    }
    if gap.contains('\n') && (options.newline_boundary || gap.matches('\n').count() >= 2) {
        return Some(end);
    }
    let quoted = text[run.end..end].contains(['"', '\'', '”', '’', '»']);
    if next == '(' && quoted {
        if let Some(close) = citation_end(text, end + gap.len()) {
            // `“It is done.” (Smith 2001) Next` cuts after the citation; with a period after it
            // (`(Smith 2001). Next`), that period decides.
            let tail = &text[close..];
            return match first_char(tail) {
                Some(c) if is_terminal(c) => None,
                _ => Some(close),
            };
        }
    }
    if next.is_lowercase() {
        return None;
    }
    if run.bang_or_question && run.dots == 0 {
        return Some(end);
    }
    if run.ellipsis {
        // A capital after an ellipsis opens a sentence, but not the pronoun ("the thing is . . .
        // I didn't mean it").
        let pronoun = after.starts_with("I ") || after.starts_with("I'") || after.starts_with("I’");
        return ((next.is_uppercase() && !pronoun) || !next.is_alphanumeric()).then_some(end);
    }
    let word = word_before(text, run_start);
    let bare = word.trim_start_matches(['(', '[', '"', '“', '\'', '‘']);
    // Elision: "l'ing.", "dell'avv." look up "ing", "avv".
    let bare = bare.rsplit(['\'', '’']).next().filter(|b| !b.is_empty()).unwrap_or(bare);
    let lower = bare.to_lowercase();
    let next_word = after.split_whitespace().next().unwrap_or("");
    let numbered = is_number_title(&lower);
    if (abbreviations(options.language).contains(&lower.as_str()) || is_dotted(bare))
        && (!numbered || next.is_ascii_digit() || next == '#')
    {
        if is_title(&lower) {
            return None;
        }
        if matches!(lower.as_str(), "a.m" | "p.m") {
            // "He left at 6 P.M. Mr. Smith then..." ends; "At 5 a.m. Mr. Smith went" goes on.
            let words = text[sentence_start..run_start].split_whitespace().count();
            return (next.is_uppercase() && words >= 4).then_some(end);
        }
        return is_sentence_starter(options.language, next_word).then_some(end);
    }
    let mut letters = bare.chars();
    if let (Some(letter), None) = (letters.next(), letters.next()) {
        if letter.is_uppercase() {
            if letter == 'I'
                && options.language == "en"
                && !text[sentence_start..run_start - 1].trim().is_empty()
            {
                // The pronoun ends a sentence ("Jane and I. Then..."); after a capitalised word
                // it is a middle initial ("Jonas I. Smith").
                let before = previous_word(text, run_start - bare.len());
                let name =
                    first_char(before).is_some_and(char::is_uppercase) && !before.ends_with(['.', '!', '?']);
                return (!name).then_some(end);
            }
            return None;
        }
    }
    // German ordinals: "am 3. Oktober".
    if options.language == "de"
        && !bare.is_empty()
        && bare.len() <= 4
        && bare.bytes().all(|b| b.is_ascii_digit())
        && !is_sentence_starter("de", next_word)
    {
        return None;
    }
    Some(end)
}

/// Sentence byte ranges of `text`, without surrounding whitespace; the text between ranges is
/// whitespace only.
///
/// ```
/// use millstone_segment::sentences::{sentence_ranges, SentenceOptions};
/// let text = "Mr. Smith paid $3.50 for the U.S. edition. Was it worth it? Yes!";
/// let s: Vec<&str> = sentence_ranges(text, &SentenceOptions::default()).into_iter().map(|r| &text[r]).collect();
/// assert_eq!(s, ["Mr. Smith paid $3.50 for the U.S. edition.", "Was it worth it?", "Yes!"]);
/// ```
pub fn sentence_ranges(text: &str, options: &SentenceOptions) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut cuts: Vec<usize> = Vec::new();
    let items = if bytes.iter().any(|&b| b == b'.' || b == b')' || b >= 0xE2) {
        list_items(text)
    } else {
        Vec::new()
    };
    let mut item = items.iter().peekable();
    let mut sentence_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(&&(start, end)) = item.peek() {
            if i >= start {
                cuts.push(start);
                sentence_start = start;
                i = end.max(i);
                item.next();
                continue;
            }
        }
        let b = bytes[i];
        if !INTERESTING[b as usize] {
            i += 1;
            continue;
        }
        if b == b'\n' {
            let rest = &text[i..];
            let gap = rest.len() - rest.trim_start().len();
            let blank_line = rest[..gap].matches('\n').count() >= 2;
            if blank_line || options.newline_boundary && !wraps_prose(text, i, &rest[gap..]) {
                cuts.push(i);
                sentence_start = i;
            }
            i += gap.max(1);
            continue;
        }
        let Some(c) = text[i..].chars().next() else { break };
        if !is_terminal(c) {
            i += if b < 0x80 { 1 } else { c.len_utf8() };
            continue;
        }
        let run = terminal_run(text, i);
        let next_item = item.peek().map_or(usize::MAX, |&&(start, _)| start);
        if let Some(cut) = decide(text, sentence_start, i, &run, options) {
            if cut < next_item {
                cuts.push(cut);
                sentence_start = cut;
            }
        }
        i = run.end.max(i + 1);
    }
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(text.len())) {
        if cut < start {
            continue;
        }
        let piece = &text[start..cut];
        let lead = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if !trimmed.is_empty() {
            ranges.push(start + lead..start + lead + trimmed.len());
        }
        start = cut;
    }
    ranges
}

#[cfg(test)]
mod tests;
