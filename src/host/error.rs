//! Script errors with a place: `path:line:col: message`, the one format `check`, the reload log
//! and dead letters use.

use std::fmt;

use super::run::Position;

/// A problem in a script, at a place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    /// The script's path as given.
    pub path: String,
    /// Where (0:0 when unknown).
    pub at: Position,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.line == 0 {
            // A run stopped by its budget has no place; a made-up 0:0 would send people looking.
            return write!(f, "{}: {}", self.path, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.at.line, self.at.column, self.message
        )
    }
}

impl ScriptError {
    /// A script error at a position.
    pub fn new(path: &str, at: Position, message: impl Into<String>) -> Self {
        ScriptError {
            path: path.to_string(),
            at,
            message: message.into(),
        }
    }

    /// Converts a Rhai error, reaching through wrappers (errors inside function calls) for the
    /// innermost position, which is where the mistake is.
    pub fn from_rhai(path: &str, error: &rhai::EvalAltResult) -> Self {
        let mut inner = error;
        while let rhai::EvalAltResult::ErrorInFunctionCall(_, _, next, _)
        | rhai::EvalAltResult::ErrorInModule(_, next, _) = inner
        {
            inner = next;
        }
        let position = if inner.position().is_none() {
            error.position()
        } else {
            inner.position()
        };
        let message = match inner {
            rhai::EvalAltResult::ErrorRuntime(value, _) if value.is_map() => {
                super::convert::dynamic_to_json(value)
                    .map(|v| format!("uncaught error: {v}"))
                    .unwrap_or_else(|_| inner.to_string())
            }
            rhai::EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
            rhai::EvalAltResult::ErrorTerminated(reason, _) => reason.to_string(),
            rhai::EvalAltResult::ErrorStackOverflow(_) => {
                "too many nested function calls: does a function call itself without end?"
                    .to_string()
            }
            _ => strip_position(&inner.to_string()),
        };
        ScriptError::new(path, position.into(), message)
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
