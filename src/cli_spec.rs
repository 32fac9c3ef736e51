//! The installed CLI's shape as the launcher models it: the root group (generated from the
//! installed package once per install, kept in the cache, read by the router) and the option set
//! of `stack list`, the one sub-command whose options the Rust route answers. A leaf: the router,
//! the cache and the commands use it; it uses nothing of the crate.

use std::ffi::OsString;

use serde::Deserialize;

/// The root group of the installed CLI, as Click describes it (generated from the package).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RootSpec {
    /// Every root option string (`None`: the root takes arguments the router does not model).
    pub options: Option<Vec<String>>,
    /// Options that take no value.
    pub flag_options: Vec<String>,
    /// The eager version option's strings (`--version`, `-v`).
    pub version_options: Vec<String>,
    /// The help option's strings (`--help`).
    pub help_options: Vec<String>,
    /// Visible and hidden sub-command names.
    pub commands: Vec<String>,
    pub hidden_commands: Vec<String>,
    pub no_args_is_help: bool,
    pub invoke_without_command: bool,
}

/// The output formats Click accepts for `-o/--output`.
pub const FORMATS: &[&str] = &["table", "json", "yaml", "tsv", "csv"];

/// The options of a `stack list` call the Rust command answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackListArgs {
    pub output: Option<String>,
    pub columns: Option<String>,
}

/// Parses the arguments after `stack list`: only `-o/--output` and `-c/--columns`, in Click's
/// spellings (`-o x`, `-ox`, `--output x`, `--output=x`; the last one wins). `None`: delegate.
pub fn parse_stack_list_args(args: &[OsString]) -> Option<StackListArgs> {
    let mut out = StackListArgs::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_str()?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ if arg.starts_with("-o") && arg.len() > 2 && !arg.starts_with("--") => {
                ("-o", Some(arg[2..].to_string()))
            }
            _ if arg.starts_with("-c") && arg.len() > 2 && !arg.starts_with("--") => {
                ("-c", Some(arg[2..].to_string()))
            }
            _ => (arg, None),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)?.to_str()?.to_string()
            }
        };
        match name {
            "-o" | "--output" => {
                if !FORMATS.contains(&value.as_str()) {
                    return None; // Click's usage error
                }
                out.output = Some(value);
            }
            "-c" | "--columns" => out.columns = Some(value),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn click_option_spellings() {
        let all = |o: &str, c: &str| {
            Some(StackListArgs {
                output: Some(o.into()),
                columns: Some(c.into()),
            })
        };
        assert_eq!(
            parse_stack_list_args(&os(&["-o", "json", "-c", "name"])),
            all("json", "name")
        );
        assert_eq!(
            parse_stack_list_args(&os(&["-ojson", "-cname"])),
            all("json", "name")
        );
        assert_eq!(
            parse_stack_list_args(&os(&["--output=json", "--columns=name"])),
            all("json", "name")
        );
        assert_eq!(
            parse_stack_list_args(&os(&["-o", "csv", "--output", "json", "-c", "name"])),
            all("json", "name")
        );
        assert_eq!(
            parse_stack_list_args(&os(&[])),
            Some(StackListArgs::default())
        );
        assert_eq!(parse_stack_list_args(&os(&["-o", "xml"])), None);
        assert_eq!(parse_stack_list_args(&os(&["--sort_by", "name"])), None);
        assert_eq!(parse_stack_list_args(&os(&["-o"])), None);
        assert_eq!(parse_stack_list_args(&os(&["extra"])), None);
    }
}
