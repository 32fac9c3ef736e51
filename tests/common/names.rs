//! Seeded random names from mixed scripts (issue #13): accented Latin, Greek, Cyrillic, Hebrew
//! and Arabic letters, CJK, Hangul and fullwidth forms, emoji with and without VS16 and ZWJ
//! sequences, combining and zero-width marks, markup look-alikes, quotes and backslashes,
//! numbers, UUIDs, paths and URLs. A failure names its seed, so it reproduces.

/// xorshift64*: small, deterministic, good enough to pick tokens.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Token pools, one per kind of text.
pub const POOLS: &[&[&str]] = &[
    &["é", "ü", "ñ", "Ø", "ß", "ç", "Å", "ł", "ő", "ș", "ǅ", "Ÿ"],
    &["α", "β", "Ω", "λ", "ς", "Ж", "д", "я", "ї"],
    &["ש", "ל", "ו", "ם", "ع", "ر", "ب", "ة"],
    &[
        "日", "本", "語", "中", "文", "한", "국", "ア", "ｶ", "Ａ", "　", "ー", "、",
    ],
    &[
        "😀",
        "🚀",
        "❤",
        "❤\u{FE0F}",
        "☕",
        "👍🏽",
        "👨\u{200D}👩\u{200D}👧",
        "🏳\u{FE0F}\u{200D}🌈",
        "✔\u{FE0F}",
        "1\u{FE0F}\u{20E3}",
        "🇯🇵",
        "\u{FE0F}",
        "\u{200D}",
    ],
    &[
        "e\u{301}",
        "a\u{308}",
        "\u{301}",
        "n\u{303}",
        "ก\u{E34}",
        "\u{200B}",
        "\u{AD}",
        "\u{FEFF}",
        "\u{300}\u{300}",
    ],
    &[
        "[1]", "[A]", "[ x]", "\\[b]", "\\", "'", "\"", "(", ")", "{", "}", "<", ">", "=", "...",
        "/", ".", "-", "_", " ", "  ", "[", "]",
    ],
    &[
        "prod",
        "stack",
        "v2",
        "42",
        "3.14",
        "0x1F",
        "True",
        "None",
        "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "/tmp/x",
        "https://zenml.io/a",
        "192.168.0.1",
        "ml_ops",
        "x=1",
    ],
];

/// A name of 1–8 tokens from random pools; one in eight is stretched past 90 characters.
pub fn name(rng: &mut Rng) -> String {
    let mut out = String::new();
    let count = 1 + rng.below(8);
    for _ in 0..count {
        let pool = POOLS[rng.below(POOLS.len())];
        out.push_str(rng.pick(pool));
    }
    if rng.below(8) == 0 {
        while out.chars().count() < 90 {
            let pool = POOLS[rng.below(POOLS.len())];
            out.push_str(rng.pick(pool));
        }
    }
    out
}

/// Names a new user might give stacks (issue #13), each valid for ZenML: accented Latin, CJK,
/// Greek, Hebrew, emoji with VS16 and a ZWJ family, combining marks, markup look-alikes, quotes
/// and backslashes, a 90-character name, and one with a number, a path, a URL and a UUID.
pub const REAL_NAMES: &[&str] = &[
    "Café-Producción",
    "本番環境スタック",
    "Ελληνικά στοίβα",
    "מחסנית עברית",
    "ml 🚀 stack ❤\u{FE0F} 👨\u{200D}👩\u{200D}👧",
    "cafe\u{301} na\u{303}o",
    "prod[1] [A] \\[b]",
    "it's \"q\" \\back\\slash",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語",
    "stack 42 True /tmp/x https://zenml.io 1619aab9-cf33-4f2f-b291-22f5050654c7",
];
