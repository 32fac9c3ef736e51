//! The one place that decides what a `zenml …` invocation does: answer it in Rust, or hand it to
//! the Python CLI. Pure: argv and the installed CLI's root spec in, a [`Route`] out.
//!
//! Click semantics of the root group (docs/zenml-cli-behaviour.md §3.1, §3.3, §3.4): the root
//! parser reads options up to the first positional (the sub-command); every one must be a root
//! option or the whole call is a usage error (rc 2, delegated); eager options (`--version`/`-v`,
//! `--help`) run in command-line order, the first one wins, whatever follows; no arguments prints
//! the root help with rc 2. Anything else is delegated unchanged.

use std::ffi::{OsStr, OsString};

use crate::cli_spec::{self, RootSpec, StackListArgs};

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `zenml --version` / `-v` (eager, wherever it stands among the root options).
    VersionFlag,
    /// `zenml --help`: the root help, rc 0.
    RootHelp,
    /// `zenml` with no arguments: the root help, rc 2.
    NoArgsHelp,
    /// `zenml version`: a banner and the version line.
    VersionCommand,
    /// `zenml status` on the local store.
    Status,
    /// `zenml clean` (no options): the confirmation prompt.
    CleanPrompt,
    /// `zenml stack list` with at most `-o`/`-c`.
    StackList(StackListArgs),
    /// The installed CLI's own command, run by the embedded interpreter (tier 2): `stack list`
    /// with filter, sort or page options.
    InProcess(&'static str),
    /// No Rust answer: the Python CLI's (in the command server, else delegated), unchanged.
    Delegate(&'static str),
    /// `ZENML_USE_PYTHON_CLI=1`: straight to the Python CLI, no server.
    UsePythonCli,
}

/// A rung of the ladder `app::run` climbs; delegation, the last one, is always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The route's command answered in Rust.
    Rust,
    /// ZenML's CLI in a worker of the warm command server.
    Server,
    /// ZenML's own command in the embedded interpreter (tier 2).
    InProcess,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Rust => "rust",
            Tier::Server => "server",
            Tier::InProcess => "in-process",
        }
    }
}

impl Route {
    /// The tiers tried for this route, in order, before delegation: a Rust answer where the
    /// route has one, then the command server (unless `ZENML_USE_PYTHON_CLI=1`), then for
    /// `stack list` the CLI's own command in the embedded interpreter.
    pub fn tiers(&self) -> &'static [Tier] {
        match self {
            Route::VersionFlag
            | Route::RootHelp
            | Route::NoArgsHelp
            | Route::VersionCommand
            | Route::Status
            | Route::CleanPrompt => &[Tier::Rust, Tier::Server],
            Route::StackList(_) => &[Tier::Rust, Tier::Server, Tier::InProcess],
            Route::InProcess(_) => &[Tier::Server, Tier::InProcess],
            Route::Delegate(_) => &[Tier::Server],
            Route::UsePythonCli => &[],
        }
    }

    pub fn name(&self) -> String {
        match self {
            Route::VersionFlag => "rust: --version".into(),
            Route::RootHelp => "rust: --help".into(),
            Route::NoArgsHelp => "rust: root help (no arguments)".into(),
            Route::VersionCommand => "rust: version".into(),
            Route::Status => "rust: status".into(),
            Route::StackList(_) => "rust: stack list".into(),
            Route::CleanPrompt => "rust: clean prompt".into(),
            Route::InProcess(what) => format!("in-process: {what}"),
            Route::Delegate(why) => format!("python ({why})"),
            Route::UsePythonCli => format!("python ({}=1)", crate::vars::ZENML_USE_PYTHON_CLI),
        }
    }

    /// Why the call ends in delegation when it does.
    pub fn delegation_reason(&self) -> String {
        match self {
            Route::Delegate(why) => why.to_string(),
            Route::UsePythonCli => format!("{}=1", crate::vars::ZENML_USE_PYTHON_CLI),
            _ => "not answered by the tiers before".into(),
        }
    }
}

/// Whether the route of `args` depends on the installed CLI's root spec (from the cache): only
/// calls that can end in a Rust answer (none, options first, or one of the Rust commands).
pub fn needs_spec(args: &[OsString]) -> bool {
    match args.first().map(|a| a.as_encoded_bytes()) {
        None => true,
        Some(a) => {
            a.starts_with(b"-")
                || a == b"version"
                || a == b"status"
                || a == b"stack"
                || a == b"clean"
        }
    }
}

/// Decides the route. `use_python_cli` is `ZENML_USE_PYTHON_CLI=1`; `spec` is the installed
/// CLI's root spec, `None` when the cache could not be had (or was not needed: [`needs_spec`]).
pub fn decide(args: &[OsString], use_python_cli: bool, spec: Option<&RootSpec>) -> Route {
    if use_python_cli {
        return Route::UsePythonCli;
    }
    if !needs_spec(args) {
        return Route::Delegate("sub-command");
    }
    let Some(spec) = spec else {
        return Route::Delegate("no root spec (cache not used)");
    };
    let Some(options) = &spec.options else {
        return Route::Delegate("root options not modelled");
    };
    let is = |arg: &str, set: &[String]| set.iter().any(|o| o == arg);

    // Root-level options: everything before the first positional.
    let mut eager: Option<Route> = None;
    let mut rest = args;
    while let Some((arg, tail)) = rest.split_first() {
        let Some(arg) = arg.to_str() else {
            return Route::Delegate("non-UTF-8 root argument");
        };
        if arg == "--" {
            return Route::Delegate("`--` at the root");
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        // Unknown options, `--opt=value`, bundled short flags: Click errors or rarer forms.
        if !is(arg, options) || !is(arg, &spec.flag_options) {
            return Route::Delegate("root option the router does not answer");
        }
        if eager.is_none() {
            if is(arg, &spec.version_options) {
                eager = Some(Route::VersionFlag);
            } else if is(arg, &spec.help_options) {
                eager = Some(Route::RootHelp);
            }
        }
        rest = tail;
    }
    if let Some(route) = eager {
        return route;
    }
    if !rest.is_empty() && rest.len() < args.len() {
        // Flags that are neither eager nor followed by nothing: not modelled.
        return Route::Delegate("root flags before a sub-command");
    }
    match rest {
        [] if args.is_empty() => {
            if spec.no_args_is_help && !spec.invoke_without_command {
                Route::NoArgsHelp
            } else {
                Route::Delegate("no arguments")
            }
        }
        [] => Route::Delegate("root flags only"),
        [cmd] if cmd == OsStr::new("version") && is("version", &spec.commands) => {
            Route::VersionCommand
        }
        [cmd] if cmd == OsStr::new("status") && is("status", &spec.commands) => Route::Status,
        [cmd] if cmd == OsStr::new("clean") && is("clean", &spec.hidden_commands) => {
            Route::CleanPrompt
        }
        [cmd, sub, list_args @ ..]
            if cmd == OsStr::new("stack")
                && sub == OsStr::new("list")
                && is("stack", &spec.commands) =>
        {
            match cli_spec::parse_stack_list_args(list_args) {
                Some(parsed) => Route::StackList(parsed),
                None => Route::InProcess("stack list"),
            }
        }
        _ => Route::Delegate("sub-command"),
    }
}

/// Commands the command server does not run, with the reason: they need what a forked worker
/// lacks (a controlling terminal for hidden prompts, which read `/dev/tty`; the terminal for a
/// program they start) or start daemons of their own. Each entry: the words the call starts with
/// (an empty second word: any sub-command), and why. They are delegated.
pub const NOT_SERVED: &[(&str, &str, &str)] = &[
    (
        "login",
        "",
        "may start a local server daemon or prompt for a password on the terminal",
    ),
    ("logout", "", "may stop a local server daemon"),
    ("go", "", "starts Jupyter in the terminal"),
    ("secret", "create", "hidden prompts read the terminal"),
    ("secret", "update", "hidden prompts read the terminal"),
    ("user", "create", "hidden prompts read the terminal"),
    ("user", "update", "hidden prompts read the terminal"),
    (
        "user",
        "change-password",
        "hidden prompts read the terminal",
    ),
    (
        "stack",
        "register-secrets",
        "hidden prompts read the terminal",
    ),
    ("stack", "deploy", "opens a web browser"),
    (
        "service-connector",
        "register",
        "hidden prompts read the terminal",
    ),
    (
        "service-connector",
        "update",
        "hidden prompts read the terminal",
    ),
];

/// Why the command server must not run `args`, if it must not (see [`NOT_SERVED`]).
pub fn server_refusal(args: &[OsString]) -> Option<&'static str> {
    // The command words: the first two arguments that are not options.
    let mut words = args
        .iter()
        .filter(|a| !a.as_encoded_bytes().starts_with(b"-"));
    let first = words.next()?;
    let second = words.next();
    NOT_SERVED
        .iter()
        .find(|(cmd, sub, _)| {
            first == OsStr::new(cmd)
                && (sub.is_empty() || second.is_some_and(|s| s == OsStr::new(sub)))
        })
        .map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RootSpec {
        RootSpec {
            options: Some(vec!["--version".into(), "-v".into(), "--help".into()]),
            flag_options: vec!["--version".into(), "-v".into(), "--help".into()],
            version_options: vec!["--version".into(), "-v".into()],
            help_options: vec!["--help".into()],
            commands: vec!["stack".into(), "status".into(), "version".into()],
            hidden_commands: vec!["clean".into()],
            no_args_is_help: true,
            invoke_without_command: false,
        }
    }

    fn route(args: &[&str]) -> Route {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        decide(&args, false, Some(&spec()))
    }

    fn delegated(r: Route) -> bool {
        matches!(r, Route::Delegate(_))
    }

    #[test]
    fn version_flag_is_eager_and_root_only() {
        assert_eq!(route(&["--version"]), Route::VersionFlag);
        assert_eq!(route(&["-v"]), Route::VersionFlag);
        // Everything after the sub-command name belongs to the sub-command
        // (docs/zenml-cli-behaviour.md §3.1).
        assert_eq!(route(&["-v", "stack", "list"]), Route::VersionFlag);
        assert_eq!(
            route(&["--version", "stack", "--bogus"]),
            Route::VersionFlag
        );
        assert_eq!(route(&["-v", "foo"]), Route::VersionFlag);
        // `zenml stack --version` is the sub-command's usage error.
        assert!(delegated(route(&["stack", "--version"])));
        assert!(delegated(route(&["version", "--version"])));
    }

    #[test]
    fn any_invalid_root_option_wins() {
        assert!(delegated(route(&["--version", "--foo"])));
        assert!(delegated(route(&["--foo", "--version"])));
        assert!(delegated(route(&["-v", "-h"])));
        assert!(delegated(route(&["--version=1"])));
        assert!(delegated(route(&["--vers"])));
        assert!(delegated(route(&["-h"])));
        assert!(delegated(route(&["-vv"])));
    }

    #[test]
    fn first_eager_option_wins() {
        assert_eq!(route(&["--version", "--help"]), Route::VersionFlag);
        assert_eq!(route(&["--help", "--version"]), Route::RootHelp);
        assert_eq!(route(&["--help"]), Route::RootHelp);
        assert_eq!(route(&["--help", "stack"]), Route::RootHelp);
    }

    #[test]
    fn no_arguments_is_help_with_rc_2_and_help_command_does_not_exist() {
        assert_eq!(route(&[]), Route::NoArgsHelp);
        assert!(delegated(route(&["help"])));
        assert!(delegated(route(&["--", "--version"])));
    }

    #[test]
    fn version_command_only_without_arguments() {
        assert_eq!(route(&["version"]), Route::VersionCommand);
        assert!(delegated(route(&["version", "foo"])));
        assert!(delegated(route(&["version", "--help"])));
        assert!(delegated(route(&["stak"])));
        assert!(delegated(route(&["foo"])));
        assert_eq!(route(&["status"]), Route::Status);
        assert!(delegated(route(&["status", "--help"])));
        assert!(delegated(route(&["status", "x"])));
        assert!(matches!(
            route(&["stack", "list", "-o", "json"]),
            Route::StackList(_)
        ));
        assert_eq!(
            route(&["stack", "list", "--name", "x"]),
            Route::InProcess("stack list")
        );
        assert_eq!(
            route(&["stack", "list", "-o", "xml"]),
            Route::InProcess("stack list")
        );
        let tiers = |a: &[&str]| route(a).tiers();
        assert_eq!(
            tiers(&["stack", "list", "--name", "x"]),
            [Tier::Server, Tier::InProcess]
        );
        assert_eq!(
            tiers(&["stack", "list"]),
            [Tier::Rust, Tier::Server, Tier::InProcess]
        );
        assert_eq!(tiers(&["status"]), [Tier::Rust, Tier::Server]);
        assert_eq!(tiers(&["stack", "describe"]), [Tier::Server]);
        assert!(delegated(route(&["stack", "describe"])));
        assert_eq!(route(&["clean"]), Route::CleanPrompt);
        assert!(delegated(route(&["clean", "--yes"])));
        assert!(delegated(route(&["clean", "-l"])));
    }

    #[test]
    fn needs_the_spec_only_when_rust_could_answer() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(needs_spec(&args(&["--version"])));
        assert!(needs_spec(&args(&[])));
        assert!(needs_spec(&args(&["stack", "list"])));
        assert!(!needs_spec(&args(&["pipeline", "list"])));
        // Without the spec, what could have been answered in Rust goes to the Python CLI.
        assert!(delegated(decide(&args(&["--version"]), false, None)));
        assert!(delegated(decide(&args(&["pipeline", "list"]), false, None)));
        let python = decide(&args(&["--version"]), true, Some(&spec()));
        assert_eq!(python, Route::UsePythonCli);
        assert!(python.tiers().is_empty());
    }

    #[test]
    fn a_version_without_the_version_command_delegates() {
        let mut s = spec();
        s.commands.retain(|c| c != "version");
        let args = vec![OsString::from("version")];
        assert!(delegated(decide(&args, false, Some(&s))));
        s.no_args_is_help = false;
        assert!(delegated(decide(&[], false, Some(&s))));
    }

    #[test]
    fn the_server_skips_commands_that_need_a_terminal_or_daemonize() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(server_refusal(&args(&["login", "--local"])).is_some());
        assert!(server_refusal(&args(&["logout"])).is_some());
        assert!(server_refusal(&args(&["secret", "create", "x", "-i"])).is_some());
        assert!(server_refusal(&args(&["user", "change-password"])).is_some());
        assert!(server_refusal(&args(&["stack", "describe"])).is_none());
        assert!(server_refusal(&args(&["secret", "list"])).is_none());
        assert!(server_refusal(&args(&["--help"])).is_none());
        assert!(server_refusal(&args(&[])).is_none());
    }

    #[test]
    fn non_utf8_arguments_are_delegated_unchanged() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![OsString::from_vec(b"-\xff".to_vec())];
        assert!(delegated(decide(&args, false, Some(&spec()))));
    }
}
