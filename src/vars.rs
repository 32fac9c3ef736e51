//! Every environment variable the launcher reads or sets, by name: the one place that spells them.

/// Explicit interpreter override: a path to the `python` whose env the launcher should use.
pub const ZENML_PYTHON: &str = "ZENML_PYTHON";
/// Root of the activated venv.
pub const VIRTUAL_ENV: &str = "VIRTUAL_ENV";
/// Root of the activated conda env (a standalone prefix).
pub const CONDA_PREFIX: &str = "CONDA_PREFIX";
/// CPython's own prefix override; the launcher reads it for pre-flight checks and never overrides it.
pub const PYTHONHOME: &str = "PYTHONHOME";
/// Executable search path (the last resort of env discovery).
pub const PATH: &str = "PATH";
/// `1` prints the start-up diagnosis on stderr for any command.
pub const ZENML_DEBUG_PYTHON: &str = "ZENML_DEBUG_PYTHON";
/// `1` sends every command to the Python CLI.
pub const ZENML_USE_PYTHON_CLI: &str = "ZENML_USE_PYTHON_CLI";
/// Overrides where the launcher keeps its per-distribution cache (tests use it).
pub const ZENML_LAUNCHER_CACHE_DIR: &str = "ZENML_LAUNCHER_CACHE_DIR";
/// XDG cache root and the home directory it defaults under.
/// The embedding library (tier 2, in-process Python); default: next to the launcher binary.
pub const ZENML_LAUNCHER_EMBED_LIB: &str = "ZENML_LAUNCHER_EMBED_LIB";

// The command server (python/server/).
/// `0` turns the command server off (every call it would serve is delegated).
pub const ZENML_LAUNCHER_SERVER: &str = "ZENML_LAUNCHER_SERVER";
/// Seconds an idle server waits for a call before it exits (default 3600, the server module's
/// `DEFAULT_IDLE_S`).
pub const ZENML_LAUNCHER_SERVER_IDLE_S: &str = "ZENML_LAUNCHER_SERVER_IDLE_S";
/// The directory of the servers' sockets (default: `$XDG_RUNTIME_DIR/zenml-launcher` when that
/// is ours and 0700, else `$TMPDIR/zenml-launcher-<uid>`).
/// At most this many servers per user (default 8): starting one more stops the least recently used.
pub const ZENML_LAUNCHER_SERVER_MAX: &str = "ZENML_LAUNCHER_SERVER_MAX";
pub const ZENML_LAUNCHER_RUNTIME_DIR: &str = "ZENML_LAUNCHER_RUNTIME_DIR";
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
pub const TMPDIR: &str = "TMPDIR";
/// Internal: set (to the socket path) in the environment of a server the launcher starts.
pub const ZENML_LAUNCHER_SERVE: &str = "ZENML_LAUNCHER_SERVE";
/// What makes a server: one server serves one value of each of these variables (names ending in
/// `*` are prefixes). They are what ZenML, Python, the C library and rich read once, at start-up
/// or import (command-server notes: chg's list plus ZenML's, the terminal's and Python's).
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
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
pub const HOME: &str = "HOME";

// Terminal variables that change how rich and click print (behaviour notes §1.2, §1.3).
pub const COLUMNS: &str = "COLUMNS";
pub const LINES: &str = "LINES";
pub const TERM: &str = "TERM";
pub const COLORTERM: &str = "COLORTERM";
pub const NO_COLOR: &str = "NO_COLOR";
pub const FORCE_COLOR: &str = "FORCE_COLOR";
pub const TTY_COMPATIBLE: &str = "TTY_COMPATIBLE";
pub const TTY_INTERACTIVE: &str = "TTY_INTERACTIVE";
/// Jupyter / IDE consoles that make rich take other decisions: their presence means "delegate".
pub const JUPYTER_COLUMNS: &str = "JUPYTER_COLUMNS";
pub const JUPYTER_LINES: &str = "JUPYTER_LINES";
/// rich's cell-width table choice (`rich._unicode_data.load("auto")`): set, only single-cell
/// text is measured here (`cells.rs`).
pub const UNICODE_VERSION: &str = "UNICODE_VERSION";

// ZenML variables that change the output of the commands answered without Python.
pub const ZENML_LOGGING_VERBOSITY: &str = "ZENML_LOGGING_VERBOSITY";
pub const ZENML_DEBUG: &str = "ZENML_DEBUG";
pub const ZENML_CONSOLE_LOGGING_FORMAT: &str = "ZENML_CONSOLE_LOGGING_FORMAT";
pub const ZENML_LOGGING_FORMAT: &str = "ZENML_LOGGING_FORMAT";

/// Click's shell-completion request: with it set, `zenml …` prints completions, whatever argv says.
pub const ZENML_COMPLETE: &str = "_ZENML_COMPLETE";
/// The words and cursor of a completion request (Click's bash/zsh protocol).
pub const COMP_WORDS: &str = "COMP_WORDS";
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

// ZenML's configuration and store selection (behaviour notes §2, §5).
pub const ZENML_CONFIG_PATH: &str = "ZENML_CONFIG_PATH";
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub const ZENML_LOCAL_STORES_PATH: &str = "ZENML_LOCAL_STORES_PATH";
pub const ZENML_REPOSITORY_PATH: &str = "ZENML_REPOSITORY_PATH";
pub const ZENML_REPOSITORY_DIRECTORY_NAME: &str = "ZENML_REPOSITORY_DIRECTORY_NAME";
pub const ZENML_ACTIVE_STACK_ID: &str = "ZENML_ACTIVE_STACK_ID";
pub const ZENML_ACTIVE_PROJECT_ID: &str = "ZENML_ACTIVE_PROJECT_ID";
pub const ZENML_DEFAULT_USER_NAME: &str = "ZENML_DEFAULT_USER_NAME";
pub const ZENML_LOGGING_COLORS_DISABLED: &str = "ZENML_LOGGING_COLORS_DISABLED";
/// Default `-o` of list commands, their page size, and the table width override.
pub const ZENML_DEFAULT_OUTPUT: &str = "ZENML_DEFAULT_OUTPUT";
pub const ZENML_PAGINATION_DEFAULT_LIMIT: &str = "ZENML_PAGINATION_DEFAULT_LIMIT";
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

/// The hosts `requests` reaches without a proxy (`no_proxy` first). The proxies themselves are
/// every `<scheme>_proxy` variable, in any case (`zenml/proxy.rs`).
pub const NO_PROXY_LOWER: &str = "no_proxy";
pub const NO_PROXY: &str = "NO_PROXY";
/// Set by a CGI server: urllib then ignores `HTTP_PROXY`.
pub const REQUEST_METHOD: &str = "REQUEST_METHOD";
/// The CA bundles `requests` verifies with when the store says `verify_ssl: true`, in its order.
pub const REQUESTS_CA_BUNDLE: &str = "REQUESTS_CA_BUNDLE";
pub const CURL_CA_BUNDLE: &str = "CURL_CA_BUNDLE";
/// `requests` reads a netrc file (credentials it would send) from here or `~/.netrc`.
pub const NETRC: &str = "NETRC";
/// ZenML then neither reads nor writes `credentials.yaml`.
pub const ZENML_DISABLE_CREDENTIALS_DISK_CACHING: &str = "ZENML_DISABLE_CREDENTIALS_DISK_CACHING";
/// Whether ZenML warns about a client/server version mismatch.
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
/// The variables the C library picks the character-type locale from, in its order.
pub const LC_ALL: &str = "LC_ALL";
pub const LC_CTYPE: &str = "LC_CTYPE";
pub const LANG: &str = "LANG";
/// `PYTHONUTF8`: only `1` (or unset with a UTF-8 locale) is modelled.
pub const PYTHONUTF8: &str = "PYTHONUTF8";

/// True when `name` is one of `patterns` (a pattern ending in `*` matches as a prefix).
pub fn matches(name: &[u8], patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix.as_bytes()),
        None => name == p.as_bytes(),
    })
}

/// Variables with which the server runs nothing: `PYTHONINSPECT` would open a REPL after the
/// command, in a worker that has no terminal.
pub const SERVER_DELEGATE_IF_SET: &[&str] = &["PYTHONINSPECT"];

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
