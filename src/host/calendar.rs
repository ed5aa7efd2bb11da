//! The working-day calendar behind `hours::is_workday` and `hours::is_open`: China's public
//! holidays and make-up working days (调休) from a holiday file — the one shipped in
//! `stdlib/holidays-cn.txt`, or the one `[scripts] holidays` names. Pure data and parsing; the
//! Rhai functions are in [`super::time`].
//!
//! A year the file does not cover falls back to Monday–Friday and logs one warning per year, so
//! a stale file degrades to the old rule instead of failing handlers.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Mutex;

use chrono::{Datelike, NaiveDate};

/// The shipped holiday file.
pub const SHIPPED: &str = include_str!("../../stdlib/holidays-cn.txt");
/// How the shipped file is named in messages.
pub const SHIPPED_PATH: &str = "stdlib/holidays-cn.txt";

/// A holiday file problem, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct CalendarError {
    /// The file.
    pub path: String,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Which days are working days.
#[derive(Debug)]
pub struct Calendar {
    origin: String,
    years: BTreeSet<i32>,
    /// `true` = a working day (调休上班), `false` = a day off.
    days: BTreeMap<NaiveDate, bool>,
    warned: Mutex<HashSet<i32>>,
}

impl Default for Calendar {
    /// The shipped calendar.
    fn default() -> Self {
        Self::parse(SHIPPED, SHIPPED_PATH).expect("the shipped holiday file is valid")
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date (yyyy-MM-dd)"))
}

impl Calendar {
    /// Reads a holiday file.
    pub fn load(path: &Path) -> Result<Calendar, CalendarError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CalendarError {
            path: origin.clone(),
            line: 0,
            message: format!("cannot read the holiday file: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// The calendar of `path` when given, else the shipped one.
    pub fn load_or_shipped(path: Option<&Path>) -> Result<Calendar, CalendarError> {
        path.map_or_else(|| Ok(Calendar::default()), Calendar::load)
    }

    /// Parses holiday-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Calendar, CalendarError> {
        let mut years = BTreeSet::new();
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let fail = |message: String| CalendarError {
                path: origin.to_string(),
                line: i + 1,
                message,
            };
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let first = words.next().unwrap_or_default();
            if first == "year" {
                let year = words
                    .next()
                    .and_then(|y| y.parse::<i32>().ok())
                    .filter(|y| (1949..=9999).contains(y))
                    .ok_or_else(|| fail("expected `year YYYY`".into()))?;
                if !years.insert(year) {
                    return Err(fail(format!("year {year} is declared twice")));
                }
                continue;
            }
            let (from, to) = match first.split_once("..") {
                Some((a, b)) => (date(a).map_err(&fail)?, date(b).map_err(&fail)?),
                None => {
                    let d = date(first).map_err(&fail)?;
                    (d, d)
                }
            };
            if to < from {
                return Err(fail(format!("the range {first} ends before it starts")));
            }
            if (to - from).num_days() > 31 {
                return Err(fail(format!("the range {first} is longer than 31 days")));
            }
            let working = match words.next() {
                Some("off") => false,
                Some("work") => true,
                Some(other) => {
                    return Err(fail(format!(
                        "expected `off` or `work` after the date, got `{other}`"
                    )))
                }
                None => return Err(fail("expected `off` or `work` after the date".into())),
            };
            entries.push((i + 1, from, to, working));
        }
        let mut days = BTreeMap::new();
        for (line, from, to, working) in entries {
            let fail = |message: String| CalendarError {
                path: origin.to_string(),
                line,
                message,
            };
            for day in from.iter_days().take_while(|d| *d <= to) {
                if !years.contains(&day.year()) {
                    return Err(fail(format!(
                        "{day} is in {}, which has no `year {}` line (add one when the file covers that whole year)",
                        day.year(),
                        day.year()
                    )));
                }
                if days.insert(day, working).is_some() {
                    return Err(fail(format!("{day} is listed twice")));
                }
            }
        }
        Ok(Calendar {
            origin: origin.to_string(),
            years,
            days,
            warned: Mutex::new(HashSet::new()),
        })
    }

    /// Where the calendar came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The years the file covers.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Whether the file covers `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// Whether `day` is a working day: listed days as listed, other days of a covered year
    /// Monday–Friday, and any day of a year the file does not cover Monday–Friday (warning once
    /// per year in the log).
    pub fn is_workday(&self, day: NaiveDate) -> bool {
        if let Some(working) = self.days.get(&day) {
            return *working;
        }
        let year = day.year();
        if !self.years.contains(&year)
            && self
                .warned
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(year)
        {
            tracing::warn!(
                calendar = %self.origin,
                year,
                "the holiday calendar does not cover {year}: hours::is_workday falls back to Monday–Friday; add the year to the holiday file ([scripts] holidays)"
            );
        }
        day.weekday().number_from_monday() <= 5
    }

    /// What `check` says about the years around `today`: a note for each of this year and the
    /// next that the file does not cover.
    pub fn coverage_notes(&self, today: NaiveDate) -> Vec<String> {
        [today.year(), today.year() + 1]
            .into_iter()
            .filter(|y| !self.covers(*y))
            .map(|y| {
                format!(
                    "note: the holiday calendar ({}) does not cover {y}: hours::is_workday and hours::is_open treat {y} as Monday–Friday; add it to a holiday file and set [scripts] holidays",
                    self.origin
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        date(text).unwrap()
    }

    #[test]
    fn the_shipped_2026_calendar_has_the_holidays_and_the_make_up_working_days() {
        let c = Calendar::default();
        assert!(c.covers(2026));
        assert!(!c.is_workday(day("2026-01-01")), "元旦");
        assert!(c.is_workday(day("2026-01-04")), "a Sunday worked for 元旦");
        assert!(
            c.is_workday(day("2026-02-14")),
            "a Saturday worked for 春节"
        );
        assert!(!c.is_workday(day("2026-02-23")), "a Monday of 春节");
        assert!(!c.is_workday(day("2026-10-07")), "a Wednesday of 国庆");
        assert!(
            c.is_workday(day("2026-10-10")),
            "a Saturday worked for 国庆"
        );
        assert!(c.is_workday(day("2026-12-04")), "an ordinary Friday");
        assert!(!c.is_workday(day("2026-12-05")), "an ordinary Saturday");
    }

    #[test]
    fn an_uncovered_year_is_monday_to_friday() {
        let c = Calendar::default();
        assert!(!c.covers(2031));
        assert!(c.is_workday(day("2031-01-01")), "a Wednesday");
        assert!(!c.is_workday(day("2031-01-04")), "a Saturday");
        c.is_workday(day("2031-02-01"));
        c.is_workday(day("2026-02-01"));
        let warned: Vec<i32> = c.warned.lock().unwrap().iter().copied().collect();
        assert_eq!(
            warned,
            vec![2031],
            "one warning per uncovered year, none for a covered one"
        );
        let notes = c.coverage_notes(day("2026-12-05"));
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("does not cover 2027"), "{notes:?}");
    }

    #[test]
    fn a_malformed_file_is_refused_with_its_line() {
        let bad = |text: &str| Calendar::parse(text, "h.txt").unwrap_err().to_string();
        assert_eq!(
            bad("year 2026\n2026-13-01 off"),
            "h.txt:2: `2026-13-01` is not a date (yyyy-MM-dd)"
        );
        assert_eq!(
            bad("year 2026\n\n2026-05-01 holiday"),
            "h.txt:3: expected `off` or `work` after the date, got `holiday`"
        );
        assert!(bad("2026-05-01 off")
            .starts_with("h.txt:1: 2026-05-01 is in 2026, which has no `year 2026` line"));
        assert_eq!(
            bad("year 2026\n2026-05-01..2026-05-03 off\n2026-05-03 work"),
            "h.txt:3: 2026-05-03 is listed twice"
        );
        assert_eq!(bad("year twenty"), "h.txt:1: expected `year YYYY`");
        assert_eq!(
            bad("year 2026\n2026-05-05..2026-05-01 off"),
            "h.txt:2: the range 2026-05-05..2026-05-01 ends before it starts"
        );
    }
}
