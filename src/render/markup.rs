//! rich's console markup (`rich/markup.py::render`) for text that holds no style tags: square
//! brackets that do not form a tag (`[1]`, `[A]`, `[ x]`, a lone `[`), escaped tags (`\[b]`) and
//! literal backslashes, exactly as rich turns them into plain text. Hyperlinks (`[link=URL]…
//! [/link]`) are returned as spans by [`pieces_and_links`]; any other real tag (`[b]`, `[/]`,
//! `[@click]`) is [`Declined`]: styles from names are not modelled.

use crate::declined::Declined;

/// A `[link=URL]…[/link]` of the markup: the characters it covers in the plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub start: usize,
    pub end: usize,
    pub url: String,
}

/// The plain pieces rich appends to its `Text` for `markup` (each is then emoji-replaced on
/// its own): one piece, the text itself, when it has no `[`.
pub fn plain_pieces(markup: &str) -> Result<Vec<String>, Declined> {
    parse(markup, false).map(|(pieces, _)| pieces)
}

/// [`plain_pieces`], and the hyperlinks the markup opens and closes (in the order rich adds
/// their spans: as each closes).
pub fn pieces_and_links(markup: &str) -> Result<(Vec<String>, Vec<Link>), Declined> {
    parse(markup, true)
}

fn parse(markup: &str, links: bool) -> Result<(Vec<String>, Vec<Link>), Declined> {
    if !markup.contains('[') {
        return Ok((vec![markup.to_string()], Vec::new()));
    }
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    let plain_len = |pieces: &[String]| pieces.iter().map(|p| p.chars().count()).sum::<usize>();
    let chars: Vec<char> = markup.chars().collect();
    let n = chars.len();
    let mut pieces = Vec::new();
    let mut position = 0;
    let plain = |s: &[char]| s.iter().collect::<String>().replace("\\[", "[");
    let mut i = 0;
    while i < n {
        // RE_TAGS = r"((\\*)\[([a-z#/@][^[]*?)])", searched from `position`.
        if chars[i] != '[' {
            i += 1;
            continue;
        }
        let opens_tag = chars
            .get(i + 1)
            .is_some_and(|&c| c.is_ascii_lowercase() || "#/@".contains(c));
        let close = if opens_tag {
            chars[i + 1..]
                .iter()
                .position(|&c| c == ']' || c == '[')
                .map(|k| i + 1 + k)
                .filter(|&k| chars[k] == ']')
        } else {
            None
        };
        let Some(close) = close else {
            i += 1;
            continue;
        };
        let mut start = i;
        while start > position && chars[start - 1] == '\\' {
            start -= 1;
        }
        let escapes = i - start;
        if start > position {
            pieces.push(plain(&chars[position..start]));
        }
        let (backslashes, escaped) = (escapes / 2, escapes % 2 == 1);
        if backslashes > 0 {
            pieces.push("\\".repeat(backslashes));
        }
        if !escaped {
            let tag: String = chars[i + 1..close].iter().collect();
            let here = plain_len(&pieces);
            match (tag.strip_prefix("link="), open.take()) {
                (Some(url), None)
                    if links && !url.is_empty() && !url.contains(char::is_whitespace) =>
                {
                    open = Some((here, url.to_string()));
                }
                (None, Some((start, url)))
                    if tag == "/link"
                        && here > start
                        && found.last().is_none_or(|l: &Link| l.end != start)
                        && !pieces.concat().chars().skip(start).any(|c| c == '\n') =>
                {
                    found.push(Link {
                        start,
                        end: here,
                        url,
                    });
                }
                _ => return Err(Declined::new("console markup tag in a name")),
            }
            position = close + 1;
            i = close + 1;
            continue;
        }
        pieces.push(plain(&chars[i..=close]));
        position = close + 1;
        i = close + 1;
    }
    if position < n {
        pieces.push(plain(&chars[position..]));
    }
    if open.is_some() {
        return Err(Declined::new("an unclosed [link] in console markup"));
    }
    Ok((pieces, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &str) -> Result<String, Declined> {
        plain_pieces(m).map(|p| p.concat())
    }

    #[test]
    fn literal_brackets_and_escapes() {
        assert_eq!(text("prod [1] [A] [ x] [").unwrap(), "prod [1] [A] [ x] [");
        assert_eq!(text("a\\[b] c").unwrap(), "a[b] c");
        assert_eq!(text("a\\\\\\[b]").unwrap(), "a\\[b]");
        assert_eq!(text("x\\[1]").unwrap(), "x[1]");
        assert_eq!(text("no brackets \\ here").unwrap(), "no brackets \\ here");
        assert!(text("[[b]").is_err());
        assert!(text("[b]x[/b]").is_err());
        assert!(text("a\\\\[b]").is_err());
        assert!(text("[/]").is_err());
        assert!(text("[a[b]").is_err());
        assert_eq!(text("[a").unwrap(), "[a");
        assert!(text("[link=https://x]x[/link]").is_err());
        assert_eq!(
            plain_pieces("a:x:[1]\\[b]c").unwrap(),
            vec!["a:x:[1]".to_string(), "[b]".into(), "c".into()]
        );
    }

    #[test]
    fn hyperlinks() {
        let (pieces, links) =
            pieces_and_links("at: `[link=https://h:1]https://h:1[/link]` \\[x]").unwrap();
        assert_eq!(pieces.concat(), "at: `https://h:1` [x]");
        assert_eq!(
            links,
            vec![Link {
                start: 5,
                end: 16,
                url: "https://h:1".into()
            }]
        );
        for bad in [
            "[link=a]x",
            "[link=a][/link]",
            "[link=]x[/link]",
            "x[/link]",
            "[link=a][link=b]x[/link][/link]",
            "[link=a]x[/b]",
            "[link=a]x[/link][link=a]y[/link]",
            "[link=a]x\ny[/link]",
        ] {
            assert!(pieces_and_links(bad).is_err(), "{bad}");
        }
    }
}
