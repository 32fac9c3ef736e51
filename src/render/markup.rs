//! rich's console markup (`rich/markup.py::render`) for text that holds no style tags: square
//! brackets that do not form a tag (`[1]`, `[A]`, `[ x]`, a lone `[`), escaped tags (`\[b]`) and
//! literal backslashes, exactly as rich turns them into plain text. Any real tag (`[b]`,
//! `[/]`, `[link=…]`, `[@click]`) is [`Unsupported`]: styles from names are not modelled.

use crate::render::terminal::Unsupported;

/// The plain pieces rich appends to its `Text` for `markup` (each is then emoji-replaced on
/// its own): one piece, the text itself, when it has no `[`.
pub fn plain_pieces(markup: &str) -> Result<Vec<String>, Unsupported> {
    if !markup.contains('[') {
        return Ok(vec![markup.to_string()]);
    }
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
            return Err(Unsupported("console markup tag in a name"));
        }
        pieces.push(plain(&chars[i..=close]));
        position = close + 1;
        i = close + 1;
    }
    if position < n {
        pieces.push(plain(&chars[position..]));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &str) -> Result<String, Unsupported> {
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
        assert_eq!(
            plain_pieces("a:x:[1]\\[b]c").unwrap(),
            vec!["a:x:[1]".to_string(), "[b]".into(), "c".into()]
        );
    }
}
