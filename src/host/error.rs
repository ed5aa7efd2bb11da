//! Script errors with a place: `path:line:col: message`, the one format `check`, the reload log
//! and dead letters use.
//!
//! Rhai wraps an error raised inside a function call in `ErrorInFunctionCall(function, source,
//! inner, call_position)`: `source` is the file the called function lives in (our scripts' path,
//! or `stdlib/<name>.rhai` for a stdlib module) and `call_position` is where the caller called it,
//! in the caller's file. Walking that chain tells which file the innermost position belongs to,
//! so an error inside the stdlib is reported at the stdlib's file and line, followed by the
//! script's call that led there.
//!
//! Runaway and size-limit errors (time budget, operations, call depth, string/array/map size) are
//! Rhai "system" errors: they are not wrapped, and Rhai overwrites their position at every
//! function boundary, with nothing left once the handler returns. For those the innermost frame
//! we still know is the handler itself, so the error names the handler at its own line.

use std::fmt;

use rhai::EvalAltResult;

use super::run::Position;

/// A problem in a script, at a place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    /// The file the problem is in: the script's path as given, or a stdlib module's file.
    pub path: String,
    /// Where (0:0 when unknown).
    pub at: Position,
    /// What is wrong.
    pub message: String,
    /// When the problem is in another file than the script (a stdlib module): the script's call
    /// that led there, as `path:line:col`.
    pub called_from: Option<String>,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.line == 0 {
            // A made-up 0:0 would send people looking.
            write!(f, "{}: {}", self.path, self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path, self.at.line, self.at.column, self.message
            )?;
        }
        if let Some(call) = &self.called_from {
            write!(f, " (called from {call})")?;
        }
        Ok(())
    }
}

/// The handler a run was running, for errors that lost their place (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Handler<'a> {
    /// The function's name.
    pub name: &'a str,
    /// Where the function is defined in the script.
    pub at: Position,
}

impl ScriptError {
    /// A script error at a position.
    pub fn new(path: &str, at: Position, message: impl Into<String>) -> Self {
        ScriptError {
            path: path.to_string(),
            at,
            message: message.into(),
            called_from: None,
        }
    }

    /// Converts a Rhai error raised while loading or compiling `path`.
    pub fn from_rhai(path: &str, error: &EvalAltResult) -> Self {
        Self::convert(path, None, error)
    }

    /// Converts a Rhai error raised while running `handler` of the script at `path`.
    pub fn from_run(path: &str, handler: Handler<'_>, error: &EvalAltResult) -> Self {
        Self::convert(path, Some(handler), error)
    }

    fn convert(path: &str, handler: Option<Handler<'_>>, error: &EvalAltResult) -> Self {
        // `file` is the file the current frame's positions belong to; `script_call` the deepest
        // call made from the script itself.
        let mut file = path;
        let mut script_call = None;
        let mut inner = error;
        loop {
            match inner {
                EvalAltResult::ErrorInFunctionCall(_, source, next, at) => {
                    if file == path && !at.is_none() {
                        script_call = Some(*at);
                    }
                    if !source.is_empty() {
                        file = source;
                    }
                    inner = next;
                }
                EvalAltResult::ErrorInModule(module, next, at) => {
                    if file == path && !at.is_none() {
                        script_call = Some(*at);
                    }
                    if !module.is_empty() {
                        file = module;
                    }
                    inner = next;
                }
                _ => break,
            }
        }
        let message = match inner {
            EvalAltResult::ErrorRuntime(value, _) if value.is_map() => {
                super::convert::dynamic_to_json(value)
                    .map(|v| format!("uncaught error: {v}"))
                    .unwrap_or_else(|_| inner.to_string())
            }
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
            EvalAltResult::ErrorTerminated(reason, _) => reason.to_string(),
            EvalAltResult::ErrorStackOverflow(_) => {
                "too many nested function calls: does a function call itself without end?"
                    .to_string()
            }
            EvalAltResult::ErrorTooManyOperations(_) => {
                "too many operations: does a loop never end?".to_string()
            }
            _ => strip_position(&inner.to_string()),
        };
        if inner.position().is_none() {
            // Nothing inside kept a place: a runaway or size-limit error inside a handler (see
            // the module doc), or an error Rhai raised without one.
            return match handler {
                Some(h) if inner.is_system_exception() => ScriptError::new(
                    path,
                    h.at,
                    format!("handler `{}` stopped: {message}", h.name),
                ),
                // Place it at the script's deepest call that led there, when there is one (a
                // native that failed without a place, such as a test's call of the tested
                // script's function), else wherever the outermost error says.
                _ => ScriptError::new(
                    path,
                    script_call.unwrap_or(error.position()).into(),
                    message,
                ),
            };
        }
        let mut problem = ScriptError::new(file, inner.position().into(), message);
        if file != path {
            problem.called_from = script_call.map(|at| {
                let at = Position::from(at);
                format!("{path}:{}:{}", at.line, at.column)
            });
        }
        problem
    }

    /// Converts a parse error.
    pub fn from_parse(path: &str, error: &rhai::ParseError) -> Self {
        ScriptError::new(path, error.position().into(), error.err_type().to_string())
    }
}

/// Rhai appends " (line L, position C)" to messages; we print the place in front instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(i) if message.ends_with(')') => message[..i].to_string(),
        _ => message.to_string(),
    }
}
