//! rich's `Style` and `Color` as far as printing needs them: combination (`Style.__add__`),
//! `without_color` (NO_COLOR), and the SGR parameters of `Style._make_ansi_codes` with rich's
//! colour downgrade (`Color.downgrade`) for the standard, 8-bit and truecolor systems.
//!
//! Styles come from the cache as data ([`StyleSpec`], recorded by `gen_cache.py` from the
//! installed console's theme); nothing here names a theme entry.

use serde::Deserialize;

use crate::declined::Declined;
use crate::render::terminal::ColorSystem;
use crate::render::text::StyleCodes;

/// rich's style attributes, in bit order (`Style.bold` is bit 0 … `overline` bit 12), which is
/// also the order `_make_ansi_codes` emits them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Bold,
    Dim,
    Italic,
    Underline,
    Blink,
    Blink2,
    Reverse,
    Conceal,
    Strike,
    Underline2,
    Frame,
    Encircle,
    Overline,
}

impl Attribute {
    pub const ALL: [Attribute; 13] = [
        Attribute::Bold,
        Attribute::Dim,
        Attribute::Italic,
        Attribute::Underline,
        Attribute::Blink,
        Attribute::Blink2,
        Attribute::Reverse,
        Attribute::Conceal,
        Attribute::Strike,
        Attribute::Underline2,
        Attribute::Frame,
        Attribute::Encircle,
        Attribute::Overline,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// `Style._style_map`.
    fn sgr(self) -> &'static str {
        match self {
            Attribute::Bold => "1",
            Attribute::Dim => "2",
            Attribute::Italic => "3",
            Attribute::Underline => "4",
            Attribute::Blink => "5",
            Attribute::Blink2 => "6",
            Attribute::Reverse => "7",
            Attribute::Conceal => "8",
            Attribute::Strike => "9",
            Attribute::Underline2 => "21",
            Attribute::Frame => "51",
            Attribute::Encircle => "52",
            Attribute::Overline => "53",
        }
    }
}

/// A rich `Color` (its name is irrelevant to the output and not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Color {
    /// `ColorType.DEFAULT`: the terminal's default colour (SGR 39/49).
    Default,
    /// `ColorType.STANDARD`: one of the 16 terminal colours.
    Standard(u8),
    /// `ColorType.EIGHT_BIT`: a 256-colour palette index.
    EightBit(u8),
    /// `ColorType.TRUECOLOR`.
    TrueColor(u8, u8, u8),
}

/// A colour as `gen_cache.py` records it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ColorSpec {
    /// `default`, `standard`, `eight_bit` or `truecolor`.
    #[serde(rename = "type")]
    pub kind: String,
    pub number: Option<i64>,
    pub triplet: Option<Vec<i64>>,
    pub name: String,
}

/// A resolved rich `Style` as `gen_cache.py` records it: each attribute `true`/`false`/`null`
/// (not set), the colours, and the link (must be `null`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct StyleSpec {
    pub bold: Option<bool>,
    pub dim: Option<bool>,
    pub italic: Option<bool>,
    pub underline: Option<bool>,
    pub blink: Option<bool>,
    pub blink2: Option<bool>,
    pub reverse: Option<bool>,
    pub conceal: Option<bool>,
    pub strike: Option<bool>,
    pub underline2: Option<bool>,
    pub frame: Option<bool>,
    pub encircle: Option<bool>,
    pub overline: Option<bool>,
    pub color: Option<ColorSpec>,
    pub bgcolor: Option<ColorSpec>,
    pub link: Option<String>,
}

impl StyleSpec {
    fn attribute(&self, attribute: Attribute) -> Option<bool> {
        match attribute {
            Attribute::Bold => self.bold,
            Attribute::Dim => self.dim,
            Attribute::Italic => self.italic,
            Attribute::Underline => self.underline,
            Attribute::Blink => self.blink,
            Attribute::Blink2 => self.blink2,
            Attribute::Reverse => self.reverse,
            Attribute::Conceal => self.conceal,
            Attribute::Strike => self.strike,
            Attribute::Underline2 => self.underline2,
            Attribute::Frame => self.frame,
            Attribute::Encircle => self.encircle,
            Attribute::Overline => self.overline,
        }
    }
}

/// rich's `STANDARD_PALETTE` (16 colours) and `EIGHT_BIT_PALETTE` (256), as `gen_cache.py`
/// records them: `rrggbb` hex per colour, decoded only when a downgrade needs them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Palettes {
    pub standard: String,
    pub eight_bit: String,
}

impl Palettes {
    /// Palettes from RGB triplets (the inverse of the recorded form).
    pub fn from_triplets(standard: &[[u8; 3]], eight_bit: &[[u8; 3]]) -> Palettes {
        let hex = |colours: &[[u8; 3]]| {
            colours
                .iter()
                .map(|[r, g, b]| format!("{r:02x}{g:02x}{b:02x}"))
                .collect()
        };
        Palettes {
            standard: hex(standard),
            eight_bit: hex(eight_bit),
        }
    }

    fn decode(hex: &str) -> Result<Vec<[u8; 3]>, Declined> {
        let bad = Declined::new("malformed rich palette");
        if !hex.is_ascii() || hex.len() % 6 != 0 {
            return Err(bad);
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad.clone());
        (0..hex.len() / 6)
            .map(|i| Ok([byte(6 * i)?, byte(6 * i + 2)?, byte(6 * i + 4)?]))
            .collect()
    }
}

impl Color {
    /// The colour a recorded spec describes.
    pub fn from_spec(spec: &ColorSpec) -> Result<Color, Declined> {
        let number = || {
            spec.number
                .and_then(|n| u8::try_from(n).ok())
                .ok_or(Declined::new("theme colour without a valid number"))
        };
        match spec.kind.as_str() {
            "default" => Ok(Color::Default),
            "standard" => match number()? {
                n @ 0..=15 => Ok(Color::Standard(n)),
                _ => Err(Declined::new("standard theme colour out of range")),
            },
            "eight_bit" => Ok(Color::EightBit(number()?)),
            "truecolor" => match spec.triplet.as_deref() {
                Some(&[r, g, b]) => {
                    let c = |v: i64| {
                        u8::try_from(v)
                            .map_err(|_| Declined::new("truecolor component out of range"))
                    };
                    Ok(Color::TrueColor(c(r)?, c(g)?, c(b)?))
                }
                _ => Err(Declined::new("truecolor theme colour without a triplet")),
            },
            _ => Err(Declined::new("theme colour of an unknown type")),
        }
    }

    /// `Color.downgrade(system)`. Downgrades to the standard system need rich's palettes;
    /// without them the result is [`Declined`].
    pub fn downgrade(
        self,
        system: ColorSystem,
        palettes: Option<&Palettes>,
    ) -> Result<Color, Declined> {
        match (self, system) {
            (Color::TrueColor(r, g, b), ColorSystem::EightBit) => {
                Ok(Color::EightBit(truecolor_to_eight_bit(r, g, b)))
            }
            (Color::TrueColor(..) | Color::EightBit(_), ColorSystem::Standard) => {
                let palettes = palettes.ok_or(Declined::new("no rich palettes for a downgrade"))?;
                let triplet = match self {
                    Color::TrueColor(r, g, b) => [r, g, b],
                    Color::EightBit(n) => *Palettes::decode(&palettes.eight_bit)?
                        .get(usize::from(n))
                        .ok_or(Declined::new("8-bit palette too short"))?,
                    _ => unreachable!(),
                };
                let standard = Palettes::decode(&palettes.standard)?;
                Ok(Color::Standard(palette_match(&standard, triplet)?))
            }
            // Same system, the default colour, or a colour the system can show as it is.
            _ => Ok(self),
        }
    }

    /// `Color.get_ansi_codes(foreground)`.
    fn ansi_codes(self, foreground: bool, out: &mut Vec<String>) {
        let (fg, bg) = ("38", "48");
        match self {
            Color::Default => out.push(if foreground { "39" } else { "49" }.into()),
            Color::Standard(n) => {
                let (fore, back) = if n < 8 { (30, 40) } else { (82, 92) };
                out.push((u32::from(n) + if foreground { fore } else { back }).to_string());
            }
            Color::EightBit(n) => out.extend([
                if foreground { fg } else { bg }.into(),
                "5".into(),
                n.to_string(),
            ]),
            Color::TrueColor(r, g, b) => out.extend([
                if foreground { fg } else { bg }.into(),
                "2".into(),
                r.to_string(),
                g.to_string(),
                b.to_string(),
            ]),
        }
    }
}

/// Python's `round()` on a float: half to even.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// `colorsys.rgb_to_hls` (CPython ≥ 3.11.5 / 3.12.1 form), returning (lightness, saturation).
fn lightness_saturation(r: f64, g: f64, b: f64) -> (f64, f64) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let sumc = maxc + minc;
    let rangec = maxc - minc;
    let l = sumc / 2.0;
    if minc == maxc {
        return (l, 0.0);
    }
    let s = if l <= 0.5 {
        rangec / sumc
    } else {
        rangec / (2.0 - maxc - minc)
    };
    (l, s)
}

/// The truecolor → 8-bit branch of `Color.downgrade`.
fn truecolor_to_eight_bit(r: u8, g: u8, b: u8) -> u8 {
    let (l, s) = lightness_saturation(
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    if s < 0.15 {
        let gray = py_round(l * 25.0);
        return match gray {
            0 => 16,
            25 => 231,
            _ => (231 + gray) as u8,
        };
    }
    let six = |v: u8| {
        let v = f64::from(v);
        py_round(if v < 95.0 {
            v / 95.0
        } else {
            1.0 + (v - 95.0) / 40.0
        })
    };
    (16 + 36 * six(r) + 6 * six(g) + six(b)) as u8
}

/// `Palette.match`: the index of the closest palette colour (the first of equals).
fn palette_match(palette: &[[u8; 3]], color: [u8; 3]) -> Result<u8, Declined> {
    let [r1, g1, b1] = color.map(i64::from);
    let distance = |&[r2, g2, b2]: &[u8; 3]| {
        let [r2, g2, b2] = [r2, g2, b2].map(i64::from);
        let red_mean = (r1 + r2) / 2;
        let (red, green, blue) = (r1 - r2, g1 - g2, b1 - b2);
        let d = (((512 + red_mean) * red * red) >> 8)
            + 4 * green * green
            + (((767 - red_mean) * blue * blue) >> 8);
        (d as f64).sqrt()
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in palette.iter().enumerate() {
        let d = distance(c);
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((i, d));
        }
    }
    best.and_then(|(i, _)| u8::try_from(i).ok())
        .ok_or(Declined::new("empty standard palette"))
}

/// A rich `Style`: attribute values with a "set" mask, and optional colours. rich's null style
/// and an empty style print the same and are both `Style::default()` here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Style {
    attributes: u16,
    set_attributes: u16,
    color: Option<Color>,
    bgcolor: Option<Color>,
}

impl Style {
    /// The null style.
    pub fn new() -> Style {
        Style::default()
    }

    /// The style a recorded spec describes (a hyperlink is [`Declined`]).
    pub fn from_spec(spec: &StyleSpec) -> Result<Style, Declined> {
        if spec.link.is_some() {
            return Err(Declined::new("hyperlink style"));
        }
        let mut style = Style::new();
        for attribute in Attribute::ALL {
            if let Some(value) = spec.attribute(attribute) {
                style = style.with(attribute, value);
            }
        }
        style.color = spec.color.as_ref().map(Color::from_spec).transpose()?;
        style.bgcolor = spec.bgcolor.as_ref().map(Color::from_spec).transpose()?;
        Ok(style)
    }

    /// This style with `attribute` set to `value` (`Style(bold=True)` etc.).
    pub fn with(mut self, attribute: Attribute, value: bool) -> Style {
        self.set_attributes |= attribute.bit();
        if value {
            self.attributes |= attribute.bit();
        } else {
            self.attributes &= !attribute.bit();
        }
        self
    }

    pub fn with_color(mut self, color: Option<Color>) -> Style {
        self.color = color;
        self
    }

    pub fn with_bgcolor(mut self, color: Option<Color>) -> Style {
        self.bgcolor = color;
        self
    }

    /// `True`/`False` when set, `None` when not (rich's `Style.bold` etc.).
    pub fn get(&self, attribute: Attribute) -> Option<bool> {
        (self.set_attributes & attribute.bit() != 0)
            .then_some(self.attributes & attribute.bit() != 0)
    }

    pub fn color(&self) -> Option<Color> {
        self.color
    }

    pub fn bgcolor(&self) -> Option<Color> {
        self.bgcolor
    }

    pub fn is_null(&self) -> bool {
        *self == Style::default()
    }

    /// `self + other` (`Style._add`): `other`'s set attributes and colours win.
    pub fn add(&self, other: &Style) -> Style {
        Style {
            attributes: (self.attributes & !other.set_attributes)
                | (other.attributes & other.set_attributes),
            set_attributes: self.set_attributes | other.set_attributes,
            color: other.color.or(self.color),
            bgcolor: other.bgcolor.or(self.bgcolor),
        }
    }

    /// `Style.without_color`: what NO_COLOR prints.
    pub fn without_color(&self) -> Style {
        Style {
            color: None,
            bgcolor: None,
            ..*self
        }
    }

    /// `Style._make_ansi_codes(system)`: the SGR parameters (`""`: printed without escapes).
    pub fn sgr(
        &self,
        system: ColorSystem,
        palettes: Option<&Palettes>,
    ) -> Result<String, Declined> {
        let mut codes: Vec<String> = Vec::new();
        let on = self.attributes & self.set_attributes;
        for attribute in Attribute::ALL {
            if on & attribute.bit() != 0 {
                codes.push(attribute.sgr().into());
            }
        }
        if let Some(color) = self.color {
            color
                .downgrade(system, palettes)?
                .ansi_codes(true, &mut codes);
        }
        if let Some(color) = self.bgcolor {
            color
                .downgrade(system, palettes)?
                .ansi_codes(false, &mut codes);
        }
        Ok(codes.join(";"))
    }

    /// The SGR parameters in every colour system, and under NO_COLOR (`without_color`).
    pub fn codes(&self, palettes: Option<&Palettes>) -> Result<StyleCodes, Declined> {
        Ok(StyleCodes {
            standard: self.sgr(ColorSystem::Standard, palettes)?,
            eight_bit: self.sgr(ColorSystem::EightBit, palettes)?,
            truecolor: self.sgr(ColorSystem::TrueColor, palettes)?,
            no_color: self.without_color().sgr(ColorSystem::TrueColor, palettes)?,
            link: None,
        })
    }
}

impl std::ops::Add for Style {
    type Output = Style;
    fn add(self, other: Style) -> Style {
        Style::add(&self, &other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Style {
        Style::new()
            .with_color(Some(Color::Standard(7)))
            .with(Attribute::Dim, true)
    }

    #[test]
    fn addition_overrides_set_attributes_and_colours() {
        // zenml's repr.str (white, dim=False) over info (dim white): dim switched off.
        let repr_str = Style::new()
            .with_color(Some(Color::Standard(7)))
            .with(Attribute::Dim, false);
        let s = info() + repr_str;
        assert_eq!(s.get(Attribute::Dim), Some(false));
        assert_eq!(s.sgr(ColorSystem::Standard, None).unwrap(), "37");
        // A brace (bold) keeps the base colour and dim.
        let brace = Style::new().with(Attribute::Bold, true);
        assert_eq!(
            (info() + brace).sgr(ColorSystem::Standard, None).unwrap(),
            "1;2;37"
        );
        // Unset attributes and absent colours leave the left side alone.
        assert_eq!(info() + Style::new(), info());
        assert_eq!(Style::new() + info(), info());
        // Associative, as rich's stack of spans relies on.
        let url = Style::new()
            .with(Attribute::Underline, true)
            .with(Attribute::Bold, false)
            .with_color(Some(Color::Standard(12)));
        assert_eq!((info() + brace) + url, info() + (brace + url));
        assert_eq!(
            (info() + url).sgr(ColorSystem::TrueColor, None).unwrap(),
            "2;4;94"
        );
    }

    #[test]
    fn sgr_order_and_colour_codes() {
        let mut all = Style::new();
        for a in Attribute::ALL.iter().rev() {
            all = all.with(*a, true);
        }
        let all = all
            .with_color(Some(Color::EightBit(100)))
            .with_bgcolor(Some(Color::TrueColor(1, 2, 3)));
        assert_eq!(
            all.sgr(ColorSystem::TrueColor, None).unwrap(),
            "1;2;3;4;5;6;7;8;9;21;51;52;53;38;5;100;48;2;1;2;3"
        );
        assert_eq!(
            all.without_color()
                .sgr(ColorSystem::TrueColor, None)
                .unwrap(),
            "1;2;3;4;5;6;7;8;9;21;51;52;53"
        );
        let bg = Style::new()
            .with_color(Some(Color::Default))
            .with_bgcolor(Some(Color::Standard(9)));
        assert_eq!(bg.sgr(ColorSystem::Standard, None).unwrap(), "39;101");
        // Attributes set to False print nothing.
        let off = Style::new().with(Attribute::Italic, false);
        assert_eq!(off.sgr(ColorSystem::Standard, None).unwrap(), "");
    }

    #[test]
    fn downgrades() {
        // Truecolor → 8-bit: colour cube, and greys (saturation < 15%).
        assert_eq!(truecolor_to_eight_bit(255, 0, 0), 196);
        assert_eq!(truecolor_to_eight_bit(0, 0, 0), 16);
        assert_eq!(truecolor_to_eight_bit(255, 255, 255), 231);
        assert_eq!(truecolor_to_eight_bit(128, 128, 128), 231 + 13);
        assert_eq!(truecolor_to_eight_bit(0x43, 0x1d, 0x93), 54);
        assert_eq!(truecolor_to_eight_bit(1, 2, 3), 16);
        // Standard colours and the default colour are never changed.
        for system in [
            ColorSystem::Standard,
            ColorSystem::EightBit,
            ColorSystem::TrueColor,
        ] {
            assert_eq!(
                Color::Standard(3).downgrade(system, None).unwrap(),
                Color::Standard(3)
            );
            assert_eq!(
                Color::Default.downgrade(system, None).unwrap(),
                Color::Default
            );
        }
        // 8-bit and truecolor → standard need the palettes.
        assert!(
            Color::EightBit(100)
                .downgrade(ColorSystem::Standard, None)
                .is_err()
        );
        let palettes = Palettes::from_triplets(
            &[[0, 0, 0], [128, 0, 0], [255, 0, 0]],
            &[[250, 10, 10]; 256],
        );
        assert_eq!(
            Color::EightBit(7)
                .downgrade(ColorSystem::Standard, Some(&palettes))
                .unwrap(),
            Color::Standard(2)
        );
        assert_eq!(
            Color::TrueColor(100, 0, 0)
                .downgrade(ColorSystem::Standard, Some(&palettes))
                .unwrap(),
            Color::Standard(1)
        );
    }

    #[test]
    fn from_spec() {
        let spec: StyleSpec = serde_json::from_str(
            r##"{"bold": true, "dim": null, "italic": false,
                "color": {"type": "standard", "number": 13, "triplet": null, "name": "bright_magenta"},
                "bgcolor": {"type": "truecolor", "number": null, "triplet": [1, 2, 3], "name": "#010203"},
                "link": null}"##,
        )
        .unwrap();
        let style = Style::from_spec(&spec).unwrap();
        assert_eq!(style.get(Attribute::Bold), Some(true));
        assert_eq!(style.get(Attribute::Dim), None);
        assert_eq!(style.get(Attribute::Italic), Some(false));
        assert_eq!(
            style.sgr(ColorSystem::TrueColor, None).unwrap(),
            "1;95;48;2;1;2;3"
        );
        // The standard system needs the palettes for the truecolor background.
        assert!(style.codes(None).is_err());
        let palettes = Palettes::from_triplets(&[[0, 0, 0], [255, 255, 255]], &[]);
        let codes = style.codes(Some(&palettes)).unwrap();
        assert_eq!(codes.standard, "1;95;40");
        assert_eq!(codes.eight_bit, "1;95;48;5;16");
        assert_eq!(codes.no_color, "1");
        let link = StyleSpec {
            link: Some("https://x".into()),
            ..Default::default()
        };
        assert!(Style::from_spec(&link).is_err());
    }
}
