//! Printing the way rich and Python print, knowing nothing of ZenML's state: the terminal facts
//! rich and Click read ([`terminal`]), rich's cell widths ([`cells`]) and markup ([`markup`]),
//! rich's wrapped and styled text ([`text`]), styles and colour downgrades ([`style`]), the
//! console's highlighting ([`highlight`], its Python regexes run by [`pyregex`]), rich's table
//! layout ([`table`]) and Python's json/csv output ([`pyformat`]) and PyYAML's ([`pyyaml`]).

pub mod cells;
pub mod highlight;
pub mod markup;
pub mod pyformat;
pub mod pyregex;
pub mod pyyaml;
pub mod style;
pub mod table;
pub mod terminal;
pub mod text;
