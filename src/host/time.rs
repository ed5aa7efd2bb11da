//! Time for scripts, always Beijing time and always from the host's [`Clock`] (which `set_now`
//! freezes in tests): the global `now_beijing()` and the `time::` module (`parse`, `format`,
//! `add_days`, `today`, `yesterday`, `is_workday`).
//!
//! A time is a map `#{year, month, day, hour, minute, second, weekday, timestamp}` (weekday 1 =
//! Monday … 7 = Sunday, timestamp = unix seconds). Every function that takes a time also takes
//! the text a lead carries (`lead.created_at`, RFC 3339) or a vendor's local
//! `yyyy-MM-dd[ HH:mm[:ss]]`.

use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Timelike};
use rhai::{Dynamic, EvalAltResult, FuncRegistration, Module, NativeCallContext, INT};

use super::calendar::Calendar;
use crate::clock::{beijing, parse_beijing, Clock};

/// `t` as the script's time map.
pub fn time_map(t: DateTime<FixedOffset>) -> Dynamic {
    let t = t.with_timezone(&beijing());
    let mut map = rhai::Map::new();
    for (k, v) in [
        ("year", t.year() as INT),
        ("month", t.month() as INT),
        ("day", t.day() as INT),
        ("hour", t.hour() as INT),
        ("minute", t.minute() as INT),
        ("second", t.second() as INT),
        ("weekday", t.weekday().number_from_monday() as INT),
        ("timestamp", t.timestamp() as INT),
    ] {
        map.insert(k.into(), v.into());
    }
    map.into()
}

/// Parses the texts scripts meet: RFC 3339 (`lead.created_at`), `yyyy-MM-dd HH:mm[:ss]` and
/// `yyyy-MM-dd` (midnight), all read as (or converted to) Beijing time.
pub fn parse_text(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&beijing()));
    }
    if let Some(t) = parse_beijing(trimmed) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        if let Some(t) = beijing()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
        {
            return Ok(t);
        }
    }
    Err(format!(
        "time::parse: cannot read \"{text}\" as a time (expected RFC 3339 like \"2026-12-05T21:30:00+08:00\", or \"yyyy-MM-dd HH:mm[:ss]\", or \"yyyy-MM-dd\")"
    ))
}

/// A time map, or a text [`parse_text`] reads, as a Beijing time.
pub fn to_time(value: &Dynamic) -> Result<DateTime<FixedOffset>, String> {
    if let Some(text) = value.clone().try_cast::<rhai::ImmutableString>() {
        return parse_text(&text);
    }
    if let Some(map) = value.clone().try_cast::<rhai::Map>() {
        if let Some(ts) = map.get("timestamp").and_then(|v| v.as_int().ok()) {
            return DateTime::from_timestamp(ts, 0)
                .map(|t| t.with_timezone(&beijing()))
                .ok_or_else(|| format!("timestamp {ts} is out of range"));
        }
        let field = |k: &str, default: Option<INT>| {
            map.get(k)
                .and_then(|v| v.as_int().ok())
                .or(default)
                .ok_or_else(|| format!("a time map needs `timestamp` or `{k}`"))
        };
        let (y, mo, d) = (
            field("year", None)?,
            field("month", None)?,
            field("day", None)?,
        );
        let (h, mi, s) = (
            field("hour", Some(0))?,
            field("minute", Some(0))?,
            field("second", Some(0))?,
        );
        let bad = || {
            format!("#{{year: {y}, month: {mo}, day: {d}, hour: {h}, minute: {mi}, second: {s}}} is not a valid time")
        };
        let date = NaiveDate::from_ymd_opt(
            i32::try_from(y).map_err(|_| bad())?,
            u32::try_from(mo).map_err(|_| bad())?,
            u32::try_from(d).map_err(|_| bad())?,
        )
        .ok_or_else(bad)?;
        let naive = date
            .and_hms_opt(
                u32::try_from(h).map_err(|_| bad())?,
                u32::try_from(mi).map_err(|_| bad())?,
                u32::try_from(s).map_err(|_| bad())?,
            )
            .ok_or_else(bad)?;
        return beijing()
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(bad);
    }
    Err(format!(
        "expected a time map (like now_beijing() returns) or a text like \"2026-12-05 21:30\", got {}",
        value.type_name()
    ))
}

fn fail(ctx: &NativeCallContext, message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), ctx.call_position()).into()
}

/// `t` formatted with a strftime pattern, refusing a pattern chrono cannot format.
pub fn format_time(t: DateTime<FixedOffset>, pattern: &str) -> Result<String, String> {
    let items: Vec<Item> = StrftimeItems::new(pattern).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "time::format: \"{pattern}\" is not a valid pattern (use %Y %m %d %H %M %S, e.g. \"%Y-%m-%d %H:%M\")"
        ));
    }
    Ok(t.format_with_items(items.into_iter()).to_string())
}

/// Registers `now_beijing()` and the `time` module, reading `clock` and `calendar`.
pub fn register(engine: &mut rhai::Engine, clock: Clock, calendar: Arc<Calendar>) {
    let mut global = Module::new();
    FuncRegistration::new("now_beijing")
        .in_global_namespace()
        .with_volatility(true)
        .with_comments([
            "/// Now in Beijing time as a map: year, month, day, hour, minute, second,",
            "/// weekday (1 = Monday … 7 = Sunday), timestamp (unix seconds).",
            "/// In `leadrelay test` it reads the frozen test clock (`set_now`).",
        ])
        .with_params_info(["Map"])
        .set_into_module(&mut global, move || time_map(clock.now_beijing()));
    engine.register_global_module(global.into());

    let mut module = Module::new();
    module.set_doc("/// Beijing time: parse, format and move times; today's date; working days.");
    FuncRegistration::new("now")
        .with_volatility(true)
        .with_comments(["/// Now in Beijing time, as a time map (the same as `now_beijing()`)."])
        .with_params_info(["Map"])
        .set_into_module(&mut module, move || time_map(clock.now_beijing()));
    FuncRegistration::new("parse")
        .with_comments([
            "/// A text as a time map (the shape `now_beijing()` returns), in Beijing time:",
            "/// RFC 3339 (`lead.created_at`), \"yyyy-MM-dd HH:mm[:ss]\" or \"yyyy-MM-dd\" (midnight).",
            "/// time::parse(lead.created_at).hour",
        ])
        .with_params_info(["text: String", "Map"])
        .set_into_module(&mut module, |ctx: NativeCallContext, text: &str| {
            parse_text(text).map(time_map).map_err(|e| fail(&ctx, e))
        });
    FuncRegistration::new("format")
        .with_comments(["/// A time (map or text) as \"yyyy-MM-dd HH:mm:ss\", Beijing time."])
        .with_params_info(["time: Map", "String"])
        .set_into_module(&mut module, |ctx: NativeCallContext, t: Dynamic| {
            let t = to_time(&t).map_err(|e| fail(&ctx, e))?;
            Ok::<_, Box<EvalAltResult>>(t.format("%Y-%m-%d %H:%M:%S").to_string())
        });
    FuncRegistration::new("format")
        .with_comments([
            "/// A time (map or text) formatted with a strftime pattern, Beijing time:",
            "/// time::format(t, \"%Y-%m-%d\") → \"2026-12-05\"; %H:%M → \"21:30\".",
        ])
        .with_params_info(["time: Map", "pattern: String", "String"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, t: Dynamic, pattern: &str| {
                let t = to_time(&t).map_err(|e| fail(&ctx, e))?;
                format_time(t, pattern).map_err(|e| fail(&ctx, e))
            },
        );
    FuncRegistration::new("add_days")
        .with_comments([
            "/// The time `days` days later (negative: earlier), as a time map.",
            "/// time::add_days(now_beijing(), -7)",
        ])
        .with_params_info(["time: Map", "days: int", "Map"])
        .set_into_module(
            &mut module,
            |ctx: NativeCallContext, t: Dynamic, days: INT| {
                let t = to_time(&t).map_err(|e| fail(&ctx, e))?;
                if days.abs() > 365 * 1000 {
                    return Err(fail(
                        &ctx,
                        format!("time::add_days: {days} days is too far"),
                    ));
                }
                Ok(time_map(t + Duration::days(days)))
            },
        );
    FuncRegistration::new("today")
        .with_volatility(true)
        .with_comments(["/// Today's date in Beijing, \"yyyy-MM-dd\"."])
        .with_params_info(["String"])
        .set_into_module(&mut module, move || {
            clock.now_beijing().format("%Y-%m-%d").to_string()
        });
    FuncRegistration::new("yesterday")
        .with_volatility(true)
        .with_comments(["/// Yesterday's date in Beijing, \"yyyy-MM-dd\"."])
        .with_params_info(["String"])
        .set_into_module(&mut module, move || {
            (clock.now_beijing() - Duration::days(1))
                .format("%Y-%m-%d")
                .to_string()
        });
    FuncRegistration::new("is_workday")
        .with_comments([
            "/// Whether a date (a time map, or \"yyyy-MM-dd\", or lead.created_at) is a working day",
            "/// in China: public holidays are not, 调休 make-up Saturdays/Sundays are; from the holiday",
            "/// file ([scripts] holidays). A year the file does not cover is Monday–Friday (one",
            "/// warning per year in the log).",
        ])
        .with_params_info(["date: Map", "bool"])
        .set_into_module(&mut module, move |ctx: NativeCallContext, date: Dynamic| {
            let t = to_time(&date).map_err(|e| fail(&ctx, e))?;
            Ok::<_, Box<EvalAltResult>>(calendar.is_workday(t.date_naive()))
        });
    engine.register_static_module("time", module.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_scripts_meet_are_read_as_beijing_time() {
        let t = parse_text("2026-12-05T13:30:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T21:30:00+08:00");
        let t = parse_text("2026-12-05 21:30").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T21:30:00+08:00");
        let t = parse_text("2026-12-05").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T00:00:00+08:00");
        let e = parse_text("yesterday").unwrap_err();
        assert!(e.contains("cannot read \"yesterday\""), "{e}");
    }

    #[test]
    fn a_time_map_round_trips() {
        let t = parse_text("2026-02-28 09:05:07").unwrap();
        let map = time_map(t);
        assert_eq!(to_time(&map).unwrap(), t);
        let mut fields = map.cast::<rhai::Map>();
        fields.remove("timestamp");
        assert_eq!(to_time(&fields.into()).unwrap(), t);
        assert!(format_time(t, "%Y-%m-%d %Q").is_err());
        assert_eq!(
            format_time(t, "%Y/%m/%d %H:%M").unwrap(),
            "2026/02/28 09:05"
        );
    }
}
