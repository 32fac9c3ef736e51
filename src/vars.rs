//! Every environment variable the launcher reads or sets, by name: the one place that spells them.
//!
//! docs/environment.md is generated from this file (`cargo run --example gen_env_docs`): each
//! constant's doc comment, under the section comment above it. tests/docs.rs fails when that page
//! is stale or a constant has no doc comment of its own.

// Which Python env the launcher serves, and the launcher's own switches.
/// Explicit interpreter override: a path to the `python` whose env the launcher should use.
pub const ZENML_PYTHON: &str = "ZENML_PYTHON";
/// Root of the activated venv (env discovery, after `ZENML_PYTHON` and the env the launcher is
/// installed into).
pub const VIRTUAL_ENV: &str = "VIRTUAL_ENV";
/// Root of the activated conda env (a standalone prefix), used when `VIRTUAL_ENV` is not set.
pub const CONDA_PREFIX: &str = "CONDA_PREFIX";
/// CPython's own prefix override; the launcher reads it for pre-flight checks and never overrides it.
pub const PYTHONHOME: &str = "PYTHONHOME";
/// Executable search path (the last resort of env discovery).
pub const PATH: &str = "PATH";
/// `1` prints the start-up diagnosis on stderr for any command.
pub const ZENML_DEBUG_PYTHON: &str = "ZENML_DEBUG_PYTHON";
/// `1` sends every command to the Python CLI.
pub const ZENML_USE_PYTHON_CLI: &str = "ZENML_USE_PYTHON_CLI";
/// Where the launcher keeps its per-distribution cache (default `$XDG_CACHE_HOME/zenml-launcher`,
/// else `~/.cache/zenml-launcher`).
pub const ZENML_LAUNCHER_CACHE_DIR: &str = "ZENML_LAUNCHER_CACHE_DIR";
/// The embedding library (tier 2 and the command server) to load, whatever the env's Python.
/// Default: the one installed into the env for its Python (`lib/zenml-launcher/embed/cp3XY/`);
/// for a launcher not installed into an env, the one its build put next to it or in `../lib/`.
pub const ZENML_LAUNCHER_EMBED_LIB: &str = "ZENML_LAUNCHER_EMBED_LIB";

// The command server (python/server/).
/// `0` turns the command server off (every call it would serve is delegated). `wait`: a call
/// that finds no server starts one and waits for it (up to the server module's
/// `WAIT_FOR_START_S`, 120 s) instead of being delegated while it warms up (one Python start
/// instead of two, for scripts and CI jobs that run many commands); a failed start still
/// delegates.
pub const ZENML_LAUNCHER_SERVER: &str = "ZENML_LAUNCHER_SERVER";
/// Seconds an idle server waits for a call before it exits (default 3600, the server module's
/// `DEFAULT_IDLE_S`).
pub const ZENML_LAUNCHER_SERVER_IDLE_S: &str = "ZENML_LAUNCHER_SERVER_IDLE_S";
/// At most this many servers per user (default 8): starting one more stops the least recently used.
pub const ZENML_LAUNCHER_SERVER_MAX: &str = "ZENML_LAUNCHER_SERVER_MAX";
/// The directory of the servers' sockets (default: `$XDG_RUNTIME_DIR/zenml-launcher` when that
/// is ours and 0700, else `$TMPDIR/zenml-launcher-<uid>`).
pub const ZENML_LAUNCHER_RUNTIME_DIR: &str = "ZENML_LAUNCHER_RUNTIME_DIR";
/// The user's runtime dir: the servers' sockets go to `zenml-launcher/` in it when it is ours
/// and 0700.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// Where the socket dir goes otherwise (`$TMPDIR/zenml-launcher-<uid>`, `/tmp` without it).
pub const TMPDIR: &str = "TMPDIR";
/// Internal: `1` in the environment of a server the launcher starts (the process then runs
/// `serve_main` with the socket, key, idle timeout and marker as arguments); the server removes
/// it before any worker runs a call.
pub const ZENML_LAUNCHER_SERVE: &str = "ZENML_LAUNCHER_SERVE";
/// What makes a server: one server serves one value of each of these variables (names ending in
/// `*` are prefixes). They are what ZenML, Python, the C library and rich read once, at start-up
/// or import: chg's list plus ZenML's, the terminal's and Python's
/// (docs/command-server.md, "Which server").
pub const SERVER_KEY_VARS: &[&str] = &[
    "ZENML_*",
    "PYTHON*",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "LD_*",
    "PATH",
    "TERM",
    "TERMINFO",
    "TZ",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
    "LINES",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "JUPYTER_*",
    "UNICODE_VERSION",
    "HOME",
    "XDG_*",
    "VIRTUAL_ENV",
    "CONDA_*",
    "TMPDIR",
    "TEMP",
    "TMP",
    "OTEL_*",
    "SQLALCHEMY_*",
    "MALLOC_*",
];
/// Never part of a server's key: the launcher's own variables, and per-call ones (Click's
/// completion request, the shell's bookkeeping).
pub const SERVER_KEY_EXCLUDED: &[&str] = &[
    ZENML_DEBUG_PYTHON,
    "ZENML_LAUNCHER_*",
    ZENML_COMPLETE,
    COMP_WORDS,
    COMP_CWORD,
    "PWD",
    "OLDPWD",
    "_",
    "SHLVL",
];

// Where the cache goes by default.
/// The XDG cache root: the cache goes to `zenml-launcher/` in it when it is an absolute path.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The home directory: the cache's last default (`~/.cache/zenml-launcher`), ZenML's default
/// config dir (`~/.config/zenml`) and `requests`' `~/.netrc`.
pub const HOME: &str = "HOME";

// Terminal variables that change how rich and click print (docs/zenml-cli-behaviour.md §1.2, §1.3).
/// Width of rich's consoles, Click's help and ZenML's table, when all digits.
pub const COLUMNS: &str = "COLUMNS";
/// Height rich reads; on a dumb terminal rich keeps `COLUMNS` only when `LINES` is set too.
pub const LINES: &str = "LINES";
/// `dumb`/`unknown` turn rich's colours off on a terminal; a `-256color` suffix means 8-bit colour.
pub const TERM: &str = "TERM";
/// `truecolor`/`24bit`: rich's truecolor system.
pub const COLORTERM: &str = "COLORTERM";
/// Non-empty: rich drops colours (bold and dim stay) and ZenML's table drops its cell markup.
pub const NO_COLOR: &str = "NO_COLOR";
/// rich treats the stream as a terminal when non-empty, and as not one when set but empty.
pub const FORCE_COLOR: &str = "FORCE_COLOR";
/// rich's override of the terminal test (`1`: a terminal, `0`: not one).
pub const TTY_COMPATIBLE: &str = "TTY_COMPATIBLE";
/// rich's override of whether the terminal is interactive. Not read by the launcher; part of a
/// server's key.
pub const TTY_INTERACTIVE: &str = "TTY_INTERACTIVE";
/// Jupyter's console width: rich then takes other decisions, so its presence means "delegate".
pub const JUPYTER_COLUMNS: &str = "JUPYTER_COLUMNS";
/// Jupyter's console height: its presence means "delegate", as for `JUPYTER_COLUMNS`.
pub const JUPYTER_LINES: &str = "JUPYTER_LINES";
/// rich's cell-width table choice (`rich._unicode_data.load("auto")`): set, only single-cell
/// text is measured here (`cells.rs`).
pub const UNICODE_VERSION: &str = "UNICODE_VERSION";

// ZenML variables that change the output of the commands answered without Python.
/// ZenML's log level: only the levels in `QUIET_LOGGING_LEVELS` are answered in Rust (others
/// log, or crash, in the Python CLI); `status` reads it for its one warning line.
pub const ZENML_LOGGING_VERBOSITY: &str = "ZENML_LOGGING_VERBOSITY";
/// ZenML's debug mode: set, no command is answered in Rust.
pub const ZENML_DEBUG: &str = "ZENML_DEBUG";
/// ZenML's log format (`json`, `console` or a %-format): set, no command is answered in Rust.
pub const ZENML_CONSOLE_LOGGING_FORMAT: &str = "ZENML_CONSOLE_LOGGING_FORMAT";
/// The deprecated name of `ZENML_CONSOLE_LOGGING_FORMAT` (ZenML warns): set, no command is
/// answered in Rust.
pub const ZENML_LOGGING_FORMAT: &str = "ZENML_LOGGING_FORMAT";

/// Click's shell-completion request: with it set, `zenml …` prints completions, whatever argv says.
pub const ZENML_COMPLETE: &str = "_ZENML_COMPLETE";
/// The words of a completion request (Click's bash/zsh protocol): per call, never in a server's key.
pub const COMP_WORDS: &str = "COMP_WORDS";
/// The cursor's word of a completion request: per call, never in a server's key.
pub const COMP_CWORD: &str = "COMP_CWORD";

/// Variables whose presence makes the launcher hand even pure-Rust commands to Python, because
/// ZenML's import-time code reacts to them in ways not reproduced here.
pub const DELEGATE_IF_SET: &[&str] = &[
    ZENML_COMPLETE,
    ZENML_DEBUG,
    ZENML_CONSOLE_LOGGING_FORMAT,
    ZENML_LOGGING_FORMAT,
    JUPYTER_COLUMNS,
    JUPYTER_LINES,
];

// ZenML's configuration and store selection (docs/zenml-cli-behaviour.md §2, §5).
/// ZenML's global config dir (resolved; empty means unset).
pub const ZENML_CONFIG_PATH: &str = "ZENML_CONFIG_PATH";
/// ZenML's default config dir is `zenml/` in it (else `~/.config/zenml`).
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
/// ZenML's local stores dir, used as given (default `<config dir>/local_stores`).
pub const ZENML_LOCAL_STORES_PATH: &str = "ZENML_LOCAL_STORES_PATH";
/// The only directory ZenML checks for a repository (no search up from the cwd).
pub const ZENML_REPOSITORY_PATH: &str = "ZENML_REPOSITORY_PATH";
/// The name of a repository's directory (default `.zen`).
pub const ZENML_REPOSITORY_DIRECTORY_NAME: &str = "ZENML_REPOSITORY_DIRECTORY_NAME";
/// Overrides the active stack of the repository and of the global config.
pub const ZENML_ACTIVE_STACK_ID: &str = "ZENML_ACTIVE_STACK_ID";
/// Overrides the active project of the repository and of the global config.
pub const ZENML_ACTIVE_PROJECT_ID: &str = "ZENML_ACTIVE_PROJECT_ID";
/// The name of the active user on a local store (default `default`).
pub const ZENML_DEFAULT_USER_NAME: &str = "ZENML_DEFAULT_USER_NAME";
/// Takes the colours off ZenML's log lines: set, a `status` that would log a warning goes to
/// Python.
pub const ZENML_LOGGING_COLORS_DISABLED: &str = "ZENML_LOGGING_COLORS_DISABLED";
/// Default `-o` of list commands (one of `table`, `json`, `yaml`, `tsv`, `csv`, else `table`).
pub const ZENML_DEFAULT_OUTPUT: &str = "ZENML_DEFAULT_OUTPUT";
/// Default and maximum page size of list commands: set, `stack list` is not answered in Rust.
pub const ZENML_PAGINATION_DEFAULT_LIMIT: &str = "ZENML_PAGINATION_DEFAULT_LIMIT";
/// The table width override of list commands (clamped to 80–200).
pub const ZENML_CLI_COLUMN_WIDTH: &str = "ZENML_CLI_COLUMN_WIDTH";

/// Variables that select another store, change what GlobalConfiguration reads, or make ZenML
/// create or warn: with any of them set, `status` is delegated. Names ending in `_` are prefixes.
pub const STORE_DELEGATE_VARS: &[&str] = &[
    "ZENML_SERVER",
    "ZENML_STORE",
    "ZENML_STORE_",
    "ZENML_SECRETS_STORE_",
    "ZENML_BACKUP_SECRETS_STORE_",
    "ZENML_VERSION",
    "ZENML_USER_ID",
    "ZENML_DEFAULT_PROJECT_NAME",
    "ZENML_ENABLE_REPO_INIT_WARNINGS",
];

// A ZenML server's connection, as `requests` makes it (zenml/http.rs, zenml/proxy.rs).
/// The hosts `requests` reaches without a proxy (read before `NO_PROXY`). The proxies themselves
/// are every `<scheme>_proxy` variable, in any case (`zenml/proxy.rs`).
pub const NO_PROXY_LOWER: &str = "no_proxy";
/// The hosts `requests` reaches without a proxy, when `no_proxy` is unset or empty.
pub const NO_PROXY: &str = "NO_PROXY";
/// Set by a CGI server: urllib then ignores `HTTP_PROXY`.
pub const REQUEST_METHOD: &str = "REQUEST_METHOD";
/// The CA bundle `requests` verifies with when the store says `verify_ssl: true` (first choice).
pub const REQUESTS_CA_BUNDLE: &str = "REQUESTS_CA_BUNDLE";
/// The CA bundle `requests` verifies with when `REQUESTS_CA_BUNDLE` is not set (then certifi's).
pub const CURL_CA_BUNDLE: &str = "CURL_CA_BUNDLE";
/// `requests` reads a netrc file (credentials it would send) from here or `~/.netrc`.
pub const NETRC: &str = "NETRC";
/// ZenML then neither reads nor writes `credentials.yaml`.
pub const ZENML_DISABLE_CREDENTIALS_DISK_CACHING: &str = "ZENML_DISABLE_CREDENTIALS_DISK_CACHING";
/// Turns off ZenML's client/server version mismatch warning. Not read by the launcher: a server
/// of another release goes to Python anyway.
pub const ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING: &str =
    "ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING";

/// The first set variable among `names` (a name ending in `_` matches as a prefix).
pub fn first_set(names: &[&str]) -> Option<String> {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        for name in names {
            let hit = if name.ends_with('_') {
                key.starts_with(name)
            } else {
                key == *name
            };
            if hit {
                return Some(key.to_string());
            }
        }
    }
    None
}

// What else makes the Python CLI print other bytes than the Rust answers (ZenML's log level,
// Python, the C library), and what keeps a call from the server.
/// `ZENML_LOGGING_VERBOSITY` values under which no command answered in Rust logs anything.
pub const QUIET_LOGGING_LEVELS: &[&str] =
    &["INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "NOTSET"];

/// CPython variables that make the interpreter print, fail or encode differently: with any of
/// them set, the Python CLI's bytes are not what the launcher would print.
pub const PYTHON_OUTPUT_VARS: &[&str] = &[
    "PYTHONVERBOSE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONWARNINGS",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONMALLOCSTATS",
    "PYTHONINSPECT",
    "PYTHONIOENCODING",
    "PYTHONLEGACYWINDOWSSTDIO",
    "PYTHONDUMPREFS",
    "PYTHONSHOWREFCOUNT",
    "PYTHONSHOWALLOCCOUNT",
];
/// The C library's locale, first choice: a locale that is not UTF-8 (nor C/POSIX, which Python
/// coerces to UTF-8) keeps every command from the Rust answers.
pub const LC_ALL: &str = "LC_ALL";
/// The character-type locale, when `LC_ALL` is unset or empty.
pub const LC_CTYPE: &str = "LC_CTYPE";
/// The locale, when `LC_ALL` and `LC_CTYPE` are unset or empty.
pub const LANG: &str = "LANG";
/// Python's UTF-8 mode: only `1` (or unset with a UTF-8 locale) is answered in Rust.
pub const PYTHONUTF8: &str = "PYTHONUTF8";

/// True when `name` is one of `patterns` (a pattern ending in `*` matches as a prefix).
pub fn matches(name: &[u8], patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix.as_bytes()),
        None => name == p.as_bytes(),
    })
}

/// Variables with which the server runs nothing and starts no server: `PYTHONINSPECT` would open
/// a REPL after the command, in a worker that has no terminal; with `PYTHONFAULTHANDLER` (also
/// turned on by `PYTHONDEVMODE`) a crash report would show the server's frames and modules;
/// `PYTHONVERBOSE` and `PYTHONPROFILEIMPORTTIME` print at every import (the warm-up would print
/// and fail, the CLI prints for the modules a served call would have had preloaded, and with
/// `PYTHONVERBOSE` ZenML 0.98.0's stderr wrapper prints its own teardown forever);
/// `PYTHONMALLOCSTATS`, `PYTHONTRACEMALLOC`, `PYTHONDUMPREFS` and `PYTHONSHOWREFCOUNT` report
/// on the whole process (a worker's is the server's, and it skips finalization's reports).
pub const SERVER_DELEGATE_IF_SET: &[&str] = &[
    "PYTHONINSPECT",
    "PYTHONFAULTHANDLER",
    "PYTHONDEVMODE",
    "PYTHONVERBOSE",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONMALLOCSTATS",
    "PYTHONTRACEMALLOC",
    "PYTHONDUMPREFS",
    "PYTHONSHOWREFCOUNT",
];

/// Reads a variable as an OS string (never lossy).
pub fn os(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name)
}

/// Reads a variable as text; a non-UTF-8 value reads as absent.
pub fn text(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// True when the variable is set to a non-empty value.
pub fn non_empty(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// True when the variable is set to `1`.
pub fn is_one(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}
