//! Cron expressions for `schedule(...)`: the `cron` crate's 6-field syntax with seconds, or a
//! classic 5-field crontab line (seconds = 0).

use std::str::FromStr;

/// Parses a 6-field (`sec min hour day month weekday`) or 5-field cron expression.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    let full = match fields {
        5 => format!("0 {}", expr.trim()),
        6 | 7 => expr.trim().to_string(),
        n => {
            return Err(format!(
                "bad cron expression `{expr}`: expected 6 fields (sec min hour day month weekday) or 5 (crontab), got {n}"
            ))
        }
    };
    cron::Schedule::from_str(&full).map_err(|e| {
        // The cron crate's message repeats the expression with a caret under it; its last line
        // is the reason.
        let text = e.to_string();
        let reason = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid");
        format!("bad cron expression `{expr}`: {}", reason.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_fields_parse_and_garbage_is_explained() {
        assert!(parse_cron("0 30 9 * * *").is_ok());
        assert!(parse_cron("30 9 * * Mon-Fri").is_ok());
        let e = parse_cron("every day").unwrap_err();
        assert!(e.contains("expected 6 fields"), "{e}");
        let e = parse_cron("0 61 * * * *").unwrap_err();
        assert!(e.starts_with("bad cron expression `0 61 * * * *`"), "{e}");
    }
}
