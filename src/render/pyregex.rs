//! Python `re` patterns run on the `fancy-regex` engine, with Python's matches, for texts of the
//! characters a caller checked ([`check_chars`], or an alphabet with Python's classes recorded):
//! what the highlighter needs to run rich's `ReprHighlighter` and emoji-code regexes.
//!
//! Python's classes are written into each regex as explicit characters (`python_to_fancy`):
//! for ASCII and the Latin letters U+00C0–U+024F once (on them the regex crate's `\b` agrees),
//! and for a text with other characters, for that text's alphabet (compiled on first need, kept
//! per alphabet; `\b`/`\B` then become lookarounds on Python's word class). [`Declined`]: a
//! regex that does not translate or compile or exceeds the backtrack limit, and an empty match
//! (Python and Rust iterate empty matches differently).
//!
//! Speed: compiling all of rich's regexes takes ≈ 0.7 ms, so each regex is split at its
//! top-level `|` (as the generator recorded it) and an alternative is compiled, lazily, only
//! for a text that has the characters every match of it needs; the alternatives of one regex
//! are then searched like Python's leftmost-first alternation ([`find_iter`]).

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use fancy_regex::{Captures, Regex};
use serde::Deserialize;

use crate::declined::Declined;
use crate::render::cells::{PythonClasses, in_ranges};

/// One top-level alternative of a `ReprHighlighter` regex, as `gen_cache.py` records it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RegexAlternative {
    /// The alternative's Python pattern.
    pub pattern: String,
    /// What every match needs: for each list, the text contains one of its strings.
    pub requires: Vec<Vec<String>>,
}

/// A compiled alternative and the value (e.g. the style) of each of its named groups, by group
/// index.
#[derive(Debug)]
pub struct Compiled<G> {
    pub regex: Regex,
    pub groups: Vec<(usize, G)>,
}

#[derive(Debug)]
pub struct Alternative<G> {
    /// The pattern translated for `fancy-regex`.
    source: String,
    requires: Vec<Vec<String>>,
    compiled: OnceCell<Result<Compiled<G>, Declined>>,
}

impl<G> Alternative<G> {
    fn new(
        pattern: &str,
        requires: &[Vec<String>],
        classes: &Classes,
    ) -> Result<Alternative<G>, Declined> {
        Ok(Alternative {
            source: python_to_fancy(pattern, classes)?,
            requires: requires.to_vec(),
            compiled: OnceCell::new(),
        })
    }

    /// Whether `text` has what a match needs.
    fn possible(&self, text: &str) -> bool {
        self.requires
            .iter()
            .all(|any_of| any_of.iter().any(|s| text.contains(s.as_str())))
    }

    /// The compiled form, with `group(name)` for each of its named groups.
    fn compiled(
        &self,
        group: &dyn Fn(&str) -> Result<G, Declined>,
    ) -> Result<&Compiled<G>, Declined> {
        self.compiled
            .get_or_init(|| {
                let regex = Regex::new(&self.source)
                    .map_err(|_| Declined::new("a rich regex fancy-regex cannot compile"))?;
                let mut groups = Vec::new();
                for (index, name) in regex.capture_names().enumerate() {
                    if let Some(name) = name {
                        groups.push((index, group(name)?));
                    }
                }
                Ok(Compiled { regex, groups })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A regex as recorded: the pattern and its split into alternatives, if any.
#[derive(Debug, Clone)]
pub struct RawRegex {
    pub pattern: String,
    pub split: Option<Vec<RegexAlternative>>,
}

/// The regexes translated for one set of characters (see `Classes`), each as its top-level
/// alternatives, in the order they were given.
#[derive(Debug)]
pub struct Variant<G>(pub Vec<Vec<Alternative<G>>>);

impl<G> Variant<G> {
    fn new(regexes: &[RawRegex], classes: &Classes) -> Result<Variant<G>, Declined> {
        let translate = |r: &RawRegex| alternatives(&r.pattern, r.split.as_deref(), classes);
        Ok(Variant(
            regexes.iter().map(translate).collect::<Result<_, _>>()?,
        ))
    }
}

/// Translations for texts with other characters, each with its alphabet (sorted).
type ByAlphabet<G> = Vec<(Vec<char>, Rc<Variant<G>>)>;

/// Recorded regexes, translated for ASCII and the Latin letters [`check_chars`] accepts, and
/// for texts with other characters by their alphabet, on first need. Keep one to match several
/// texts.
#[derive(Debug)]
pub struct PyRegexes<G> {
    /// The regexes for ASCII and the Latin letters [`check_chars`] accepts.
    base: Variant<G>,
    /// The same regexes translated for texts with other characters, by their alphabet.
    variants: RefCell<ByAlphabet<G>>,
    raw: Vec<RawRegex>,
    /// Python's `\w`, `\d`, `\s` (without them, only the base characters are handled).
    python_classes: Option<PythonClasses>,
}

impl<G> PyRegexes<G> {
    /// Translates `raw` for the base characters ([`Declined`]: a pattern not translated).
    pub fn new(
        raw: Vec<RawRegex>,
        python_classes: Option<PythonClasses>,
    ) -> Result<PyRegexes<G>, Declined> {
        Ok(PyRegexes {
            base: Variant::new(&raw, &Classes::latin())?,
            variants: Default::default(),
            raw,
            python_classes,
        })
    }

    /// The regexes for texts of ASCII and the Latin letters.
    pub fn base(&self) -> &Variant<G> {
        &self.base
    }

    /// Prepares the regexes for all of `texts` at once (texts matched one after the other):
    /// a later text whose characters are among these reuses the same compiled regexes.
    pub fn prepare(&self, texts: &[&str]) {
        let alphabet = alphabet(texts.iter().copied());
        if !alphabet.is_empty() {
            let _ = self.variant_for(&alphabet);
        }
    }

    /// The regexes for a text of these non-Latin characters.
    pub fn variant_for(&self, alphabet: &[char]) -> Result<Rc<Variant<G>>, Declined> {
        if let Some((_, v)) = self
            .variants
            .borrow()
            .iter()
            .find(|(a, _)| alphabet.iter().all(|c| a.binary_search(c).is_ok()))
        {
            return Ok(v.clone());
        }
        let classes = self
            .python_classes
            .as_ref()
            .ok_or(Declined::new(
                "control, wide or non-Latin character in dynamic text",
            ))
            .map(|p| Classes::for_alphabet(alphabet, p))?;
        let variant = Rc::new(Variant::new(&self.raw, &classes)?);
        self.variants
            .borrow_mut()
            .push((alphabet.to_vec(), variant.clone()));
        Ok(variant)
    }
}

/// `re.finditer` of a regex given as its top-level alternatives (leftmost-first: the
/// earliest match, the first alternative at equal starts), skipping alternatives `text`
/// cannot match; an alternative is compiled on first need, with `group(name)` for each of its
/// named groups. Calls `found` with the alternative and the match.
pub fn find_iter<'t, G>(
    alternatives: &[Alternative<G>],
    text: &'t str,
    group: &dyn Fn(&str) -> Result<G, Declined>,
    mut found: impl FnMut(&Compiled<G>, &Captures<'t, str>),
) -> Result<(), Declined> {
    let active = alternatives
        .iter()
        .filter(|a| a.possible(text))
        .map(|a| a.compiled(group))
        .collect::<Result<Vec<_>, _>>()?;
    let failed = |_| Declined::new("highlight regex hit its backtrack limit");
    // Each alternative's next match at or after `pos` (`None` inside: no more matches).
    let mut next: Vec<Option<Option<Captures<'t, str>>>> = active.iter().map(|_| None).collect();
    let mut pos = 0;
    loop {
        for (i, compiled) in active.iter().enumerate() {
            let stale = match &next[i] {
                None => true,
                Some(Some(captures)) => captures.get(0).is_none_or(|m| m.start() < pos),
                Some(None) => false,
            };
            if stale {
                next[i] = Some(
                    compiled
                        .regex
                        .captures_from_pos(text, pos)
                        .map_err(failed)?,
                );
            }
        }
        let best = next
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.as_ref()?.as_ref()?.get(0)?.start(), i)))
            .min();
        let Some((_, i)) = best else {
            return Ok(());
        };
        let Some(Some(captures)) = next[i].take() else {
            return Ok(());
        };
        let whole = captures
            .get(0)
            .ok_or(Declined::new("match without group 0"))?;
        if whole.start() == whole.end() {
            return Err(Declined::new("empty highlight regex match"));
        }
        pos = whole.end();
        found(active[i], &captures);
    }
}

/// A regex as its alternatives: the recorded split when it is one of this very pattern, else
/// the whole pattern without requirements.
fn alternatives<G>(
    pattern: &str,
    split: Option<&[RegexAlternative]>,
    classes: &Classes,
) -> Result<Vec<Alternative<G>>, Declined> {
    let joined = |alts: &[RegexAlternative]| {
        alts.iter()
            .map(|a| a.pattern.as_str())
            .collect::<Vec<_>>()
            .join("|")
    };
    match split.filter(|alts| !alts.is_empty() && joined(alts) == pattern) {
        Some(alts) => alts
            .iter()
            .map(|a| Alternative::new(&a.pattern, &a.requires, classes))
            .collect(),
        None => Ok(vec![Alternative::new(pattern, &[], classes)?]),
    }
}

/// The characters the base regexes are exact on: `\n`, printable ASCII, and the Latin letters
/// U+00C0–U+024F (without × and ÷).
pub fn check_chars(text: &str) -> Result<(), Declined> {
    for c in text.chars() {
        match c {
            '\n' | ' '..='~' => {}
            '\t' => return Err(Declined::new("tab in dynamic text")),
            '\u{C0}'..='\u{24F}' if c != '\u{D7}' && c != '\u{F7}' => {}
            _ => {
                return Err(Declined::new(
                    "control, wide or non-Latin character in dynamic text",
                ));
            }
        }
    }
    Ok(())
}

/// Python's `\w`, `\d`, `\s`, their complements and `.`, restricted to the characters
/// [`check_chars`] lets through (on which they are exact), as class contents: small classes
/// instead of Unicode tables, which make `fancy-regex` compile `[\w_]{1,50}` in 25 ms.
const WORD: &str = r"\x30-\x39\x41-\x5A\x5F\x61-\x7A\x{C0}-\x{24F}";
const NOT_WORD: &str = r"\x00-\x2F\x3A-\x40\x5B-\x5E\x60\x7B-\x7F";
const DIGIT: &str = r"\x30-\x39";
const NOT_DIGIT: &str = r"\x00-\x2F\x3A-\x7F\x{C0}-\x{24F}";
const SPACE: &str = r"\x0A\x20";
const NOT_SPACE: &str = r"\x00-\x09\x0B-\x1F\x21-\x7F\x{C0}-\x{24F}";
const NOT_NEWLINE: &str = r"\x00-\x09\x0B-\x7F\x{C0}-\x{24F}";

/// The Latin letters [`check_chars`] accepts besides ASCII (no × and ÷).
fn is_latin(c: char) -> bool {
    ('\u{C0}'..='\u{24F}').contains(&c) && c != '\u{D7}' && c != '\u{F7}'
}

/// The non-ASCII characters of `texts`, sorted, when one of them is not a [`is_latin`] letter
/// (texts of ASCII and those letters use the base regexes: empty).
pub fn alphabet<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<char> {
    let mut chars: Vec<char> = texts
        .into_iter()
        .flat_map(str::chars)
        .filter(|c| !c.is_ascii())
        .collect();
    if chars.iter().all(|&c| is_latin(c)) {
        return Vec::new();
    }
    chars.sort_unstable();
    chars.dedup();
    chars
}

/// What the Python classes become in a translated pattern: class contents exact on the
/// characters a text can hold, and how `\b`/`\B` are written.
#[derive(Debug, Clone)]
struct Classes {
    word: String,
    not_word: String,
    digit: String,
    not_digit: String,
    space: String,
    not_space: String,
    not_newline: String,
    /// `None`: `\b`/`\B` as they are (the regex crate's word characters agree with Python's on
    /// ASCII and the Latin letters); else lookarounds on `word`.
    boundary: bool,
}

impl Classes {
    fn latin() -> Classes {
        Classes {
            word: WORD.into(),
            not_word: NOT_WORD.into(),
            digit: DIGIT.into(),
            not_digit: NOT_DIGIT.into(),
            space: SPACE.into(),
            not_space: NOT_SPACE.into(),
            not_newline: NOT_NEWLINE.into(),
            boundary: false,
        }
    }

    /// For texts of ASCII and the characters of `alphabet` (sorted), each put in the classes
    /// Python's `re` puts it in.
    fn for_alphabet(alphabet: &[char], python: &PythonClasses) -> Classes {
        let pick = |ranges: &[(u32, u32)], inside: bool| -> String {
            alphabet
                .iter()
                .filter(|&&c| in_ranges(ranges, c) == inside)
                .map(|&c| format!("\\x{{{:X}}}", c as u32))
                .collect()
        };
        Classes {
            word: format!(
                r"\x30-\x39\x41-\x5A\x5F\x61-\x7A{}",
                pick(&python.word, true)
            ),
            not_word: format!("{NOT_WORD}{}", pick(&python.word, false)),
            digit: format!("{DIGIT}{}", pick(&python.digit, true)),
            not_digit: format!(r"\x00-\x2F\x3A-\x7F{}", pick(&python.digit, false)),
            space: format!("{SPACE}{}", pick(&python.space, true)),
            not_space: format!(r"\x00-\x09\x0B-\x1F\x21-\x7F{}", pick(&python.space, false)),
            not_newline: format!(r"\x00-\x09\x0B-\x7F{}", pick(&[], false)),
            boundary: true,
        }
    }
}

/// Rewrites a Python `re` pattern for `fancy-regex`, for texts of the characters
/// [`check_chars`] accepts: `\w`, `\d`, `\s`, their complements and `.` become explicit
/// classes, and inside a character class, where Python takes `]` right after `[`/`[^`, `[`,
/// `&` and `~` literally (Rust would read the end of the class, a nested class, `&&` and `~~`
/// set operations), those are escaped. Not translated ([`Declined`]): `$` (which also
/// matches before a final newline in Python), `--` in a class, escapes other than punctuation,
/// `\n` `\t` `\r` `\f` `\v` and (outside classes) `\b` `\B` `\A`, and `(?…)` other than
/// non-capturing and named groups, backreferences by name and lookarounds.
fn python_to_fancy(pattern: &str, classes: &Classes) -> Result<String, Declined> {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut previous = '\0';
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next();
                let class = match next {
                    Some('w') => Some(classes.word.as_str()),
                    Some('W') => Some(classes.not_word.as_str()),
                    Some('d') => Some(classes.digit.as_str()),
                    Some('D') => Some(classes.not_digit.as_str()),
                    Some('s') => Some(classes.space.as_str()),
                    Some('S') => Some(classes.not_space.as_str()),
                    _ => None,
                };
                match (class, in_class) {
                    (Some(ranges), true) => out.push_str(ranges),
                    (Some(ranges), false) => {
                        out.push('[');
                        out.push_str(ranges);
                        out.push(']');
                    }
                    // Escapes both read alike: punctuation, `\n` `\t` `\r` `\f` `\v`, and
                    // outside classes the assertions `\b` `\B` `\A`.
                    (None, _) => match next {
                        Some(e) if e.is_ascii_punctuation() || "ntrfv".contains(e) => {
                            out.push('\\');
                            out.push(e);
                        }
                        Some('b') if !in_class && classes.boundary => {
                            let w = &classes.word;
                            out.push_str(&format!("(?:(?<=[{w}])(?![{w}])|(?<![{w}])(?=[{w}]))"));
                        }
                        Some('B') if !in_class && classes.boundary => {
                            let w = &classes.word;
                            out.push_str(&format!("(?:(?<=[{w}])(?=[{w}])|(?<![{w}])(?![{w}]))"));
                        }
                        Some(e @ ('b' | 'B' | 'A')) if !in_class => {
                            out.push('\\');
                            out.push(e);
                        }
                        _ => return Err(Declined::new("a regex escape not translated")),
                    },
                }
                previous = '\0';
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && previous == '-' => {
                return Err(Declined::new("'--' in a regex character class"));
            }
            '$' if !in_class => return Err(Declined::new("'$' in a highlight regex")),
            '(' if !in_class && chars.peek() == Some(&'?') => {
                // Groups and lookarounds only: no inline flags (`(?x)` treats classes
                // differently), comments, conditionals or atomic groups.
                let ahead: String = chars.clone().take(3).collect();
                let known = ["?:", "?=", "?!", "?<=", "?<!", "?P<", "?P="];
                if !known.iter().any(|k| ahead.starts_with(k)) {
                    return Err(Declined::new("a regex group syntax not translated"));
                }
                out.push('(');
            }
            '.' if !in_class => {
                out.push('[');
                out.push_str(&classes.not_newline);
                out.push(']');
            }
            _ => out.push(c),
        }
        previous = c;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_patterns_are_translated() {
        assert_eq!(
            python_to_fancy("(?P<b>[][{}()])", &Classes::latin()).unwrap(),
            r"(?P<b>[\]\[{}()])"
        );
        assert_eq!(
            python_to_fancy("[^]a]", &Classes::latin()).unwrap(),
            r"[^\]a]"
        );
        assert_eq!(
            python_to_fancy("[a&&b~~c]", &Classes::latin()).unwrap(),
            r"[a\&\&b\~\~c]"
        );
        assert_eq!(
            python_to_fancy(r"\w+", &Classes::latin()).unwrap(),
            format!("[{WORD}]+")
        );
        assert_eq!(
            python_to_fancy(r"[\w.]", &Classes::latin()).unwrap(),
            format!("[{WORD}.]")
        );
        assert_eq!(
            python_to_fancy(r"\.\\.", &Classes::latin()).unwrap(),
            format!(r"\.\\[{NOT_NEWLINE}]")
        );
        assert_eq!(
            python_to_fancy(r"[.]\b\B", &Classes::latin()).unwrap(),
            r"[.]\b\B"
        );
        assert!(python_to_fancy("a$", &Classes::latin()).is_err());
        assert!(python_to_fancy("[a--b]", &Classes::latin()).is_err());
        assert_eq!(
            python_to_fancy(r"[\$]\$", &Classes::latin()).unwrap(),
            r"[\$]\$"
        );
        assert_eq!(
            python_to_fancy(
                r"(?:a)(?=b)(?!c)(?<=d)(?<!e)(?P<f>g)(?P=f)",
                &Classes::latin()
            )
            .unwrap(),
            r"(?:a)(?=b)(?!c)(?<=d)(?<!e)(?P<f>g)(?P=f)"
        );
        for untranslated in [
            r"\Z",
            r"\x41",
            r"\u0041",
            r"\1",
            r"[\b]",
            r"\N{DASH}",
            "\\",
            "(?x)a",
            "(?i:a)",
            "(?#c)",
            "(?>a)",
            "(?<n>a)",
        ] {
            assert!(
                python_to_fancy(untranslated, &Classes::latin()).is_err(),
                "{untranslated}"
            );
        }
        // The translated classes are what Python's are on the accepted characters.
        let word = Regex::new(&format!("^[{WORD}]+\\z")).unwrap();
        assert!(word.is_match("aZ09_éǅɏÀ").unwrap());
        assert!(!word.is_match("a-b").unwrap());
        let not_word = Regex::new(&format!("^[{NOT_WORD}]+\\z")).unwrap();
        assert!(not_word.is_match(" !/:@[^`{~\n").unwrap());
    }

    #[test]
    fn characters_outside_the_supported_set() {
        assert!(check_chars("plain ASCII ~ and\nnewline, café Ñ ǅ ɏ").is_ok());
        assert_eq!(
            check_chars("a\tb").unwrap_err(),
            Declined::new("tab in dynamic text")
        );
        for bad in ["\r", "\x07", "×", "÷", "日", "ɐ", "\u{301}", "€"] {
            assert!(check_chars(bad).is_err(), "{bad:?}");
        }
    }
}
