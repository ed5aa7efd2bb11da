//! Retention, redaction and erasure on request: the rules that keep the journal bounded and
//! stop it holding personal data longer than needed, and what both backends share to apply
//! them (`sqlite/retention.rs`, `postgres/retention.rs` hold the SQL). Pruning runs inside a
//! node's write transaction ([`Maintenance::prune_step`](super::Maintenance::prune_step));
//! erasure ([`forget`]) in a short transaction of the CLI's beside running nodes. Neither may
//! log phone numbers, names or bodies: counts and ids only.
//!
//! ## What is final
//!
//! Only work that nobody will look at again is pruned or redacted: `done` (routed), `skipped`,
//! and `dead` whose dead letter is no longer open. A dead letter that was retried put its work
//! back to `pending`, so "dead and resolved" is in practice the retried work that ended `done`
//! or `skipped`. **`unrouted` is not final**: such a lead waits for a human to fix a script and
//! `leads reroute` it, so it keeps its data until then (it is listed by `status`). Open dead
//! letters, pending/retrying work and quarantine are never touched by retention.
//!
//! Age is the time the item arrived (`received_ms`; for cron job items, their last update).
//!
//! ## Redacted form
//!
//! A redacted lead keeps its row, its work item, runs and calls, so `leads show`, `leads list`
//! and the statistics still work; its body becomes [`Lead::redacted`] (ids, vendor, account,
//! kind, city, source, times, and `redacted_ms`), its `phone_hash` is cleared, call responses
//! (which may echo the person) become NULL, and run errors, skip notes, call messages and the
//! work's reason get the lead's own values replaced by `***` and any mobile-shaped number
//! masked. Call payloads are never stored in clear (only their fingerprint, a SHA-256 over the
//! whole request), and `once()` keys are stored as SHA-256 and expire with their TTL.
//! A redacted follow record's `record` becomes `{}`.
//!
//! ## Erasure on request
//!
//! `leads forget` redacts the person's leads and follow records as above, whatever their age
//! or state, scrubs runs and calls quoting the phone elsewhere, and replaces the body of every
//! quarantined payload holding the phone (or the id) by [`QUARANTINE_ERASED`]: quarantine is
//! never touched by retention, but an erasure request covers it too.

use serde_json::Value;
use sha2::Digest;

use crate::lead::{normalize_phone, Lead};
use crate::secret::mask_phones_in;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// How long the journal keeps things (`[daemon] keep_days`, `personal_data_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Final items older than this many days are deleted with their runs and calls.
    pub keep_days: u32,
    /// Final items older than this many days have their personal data redacted.
    pub personal_data_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            keep_days: 90,
            personal_data_days: 30,
        }
    }
}

impl RetentionPolicy {
    /// A validated policy: both at least 1 day, and personal data kept no longer than the rows.
    /// There is deliberately no "never" (0): keeping personal data forever is what this policy
    /// exists to prevent; a deployment that must keep longer sets a large number.
    pub fn new(keep_days: u32, personal_data_days: u32) -> Result<Self, String> {
        if keep_days == 0 || personal_data_days == 0 {
            return Err(format!(
                "keep_days ({keep_days}) and personal_data_days ({personal_data_days}) must be at \
                 least 1; there is no \"never\" (set a large number to keep longer)"
            ));
        }
        if personal_data_days > keep_days {
            return Err(format!(
                "personal_data_days ({personal_data_days}) must not exceed keep_days \
                 ({keep_days}): a lead is deleted before it could be redacted"
            ));
        }
        Ok(RetentionPolicy {
            keep_days,
            personal_data_days,
        })
    }

    /// Items that arrived before this (unix ms) are deleted when final.
    pub fn delete_before(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.keep_days as i64 * DAY_MS)
    }

    /// Items that arrived before this (unix ms) are redacted when final.
    pub fn redact_before(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.personal_data_days as i64 * DAY_MS)
    }
}

/// What one or more prune steps did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Leads deleted with their work, runs and calls.
    pub deleted_leads: u64,
    /// Follow records deleted with their work, runs and calls.
    pub deleted_follows: u64,
    /// Cron job items deleted with their runs and calls.
    pub deleted_jobs: u64,
    /// Leads redacted.
    pub redacted_leads: u64,
    /// Follow records redacted.
    pub redacted_follows: u64,
}

impl PruneReport {
    /// Rows handled in all.
    pub fn total(&self) -> u64 {
        self.deleted_leads
            + self.deleted_follows
            + self.deleted_jobs
            + self.redacted_leads
            + self.redacted_follows
    }

    /// Adds another step's counts.
    pub fn add(&mut self, other: PruneReport) {
        self.deleted_leads += other.deleted_leads;
        self.deleted_follows += other.deleted_follows;
        self.deleted_jobs += other.deleted_jobs;
        self.redacted_leads += other.redacted_leads;
        self.redacted_follows += other.redacted_follows;
    }
}

/// Hex SHA-256 of a normalized phone, as stored in `phone_hash`. The prefix keeps these
/// hashes from matching any other SHA-256 the journal stores (`once` keys).
pub(crate) fn phone_hash(normalized: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("leadrelay-phone:{normalized}").as_bytes(),
    ))
}

/// `phone_hash` of a lead as it is inserted: '' when it has no phone (so NULL means "written
/// before migration 3" only).
pub(crate) fn lead_phone_hash(lead: &Lead) -> String {
    lead.phone
        .as_deref()
        .and_then(normalize_phone)
        .map(|p| phone_hash(&p))
        .unwrap_or_default()
}

/// `phone_hash` of a follow record: its first mobile-shaped value ('' when none).
pub(crate) fn record_phone_hash(record: &Value) -> String {
    let mut strings = Vec::new();
    collect_strings(record, &mut strings);
    strings
        .iter()
        .filter(|s| crate::lead::is_mobile(s))
        .find_map(|s| normalize_phone(s))
        .map(|p| phone_hash(&p))
        .unwrap_or_default()
}

pub(crate) fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// True when some value inside `value` is the phone `target` (normalized), however written.
pub(crate) fn mentions_phone(value: &Value, target: &str) -> bool {
    let mut strings = Vec::new();
    collect_strings(value, &mut strings);
    strings
        .iter()
        .any(|s| normalize_phone(s).is_some_and(|p| p == target || p.contains(target)))
}

/// Replaces each of `secrets` in `text` by `***`, then masks any mobile-shaped number, also
/// one written with spaces, dashes or dots (`138-1234-5678`), which `mask_phones_in` alone
/// (made for log lines) does not see.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if !secret.is_empty() {
            out = out.replace(secret.as_str(), "***");
        }
    }
    mask_phones_in(&mask_separated_mobiles(&out))
}

/// Masks spans of digits joined by single spaces, dashes or dots (an optional leading `+`)
/// that normalize to a mainland mobile number.
pub(crate) fn mask_separated_mobiles(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in number_spans(&chars) {
        out.extend(&chars[at..start]);
        let span: String = chars[start..end].iter().collect();
        let digits = span.chars().filter(char::is_ascii_digit).count();
        if (11..=14).contains(&digits) && crate::lead::is_mobile(&span) {
            out.push_str(&"*".repeat(span.chars().count()));
        } else {
            out.push_str(&span);
        }
        at = end;
    }
    out.extend(&chars[at..]);
    out
}

/// The spans (char index ranges) of digits joined by single spaces, dashes or dots, with an
/// optional leading `+`, that do not start right after a digit: the ways a phone number is
/// written inside free text.
pub(crate) fn number_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()));
        let after_digit = i > 0 && chars[i - 1].is_ascii_digit();
        if !starts || after_digit {
            i += 1;
            continue;
        }
        // The longest span of digits with single separators between them.
        let mut end = i + 1;
        let mut last_digit = if chars[i].is_ascii_digit() { i + 1 } else { i };
        while end < chars.len() {
            let c = chars[end];
            if c.is_ascii_digit() {
                end += 1;
                last_digit = end;
            } else if matches!(c, ' ' | '-' | '.')
                && chars.get(end + 1).is_some_and(|n| n.is_ascii_digit())
            {
                end += 1;
            } else {
                break;
            }
        }
        if last_digit > i {
            spans.push((i, last_digit));
        }
        i = last_digit.max(i + 1);
    }
    spans
}

/// True when free text (a quarantined body, read as text) holds the phone `target`
/// (normalized), written contiguously or with single separators (`+86 138-1234-5678`).
pub(crate) fn text_mentions_phone(text: &str, target: &str) -> bool {
    if text.contains(target) {
        return true;
    }
    let chars: Vec<char> = text.chars().collect();
    number_spans(&chars).into_iter().any(|(start, end)| {
        let span: String = chars[start..end].iter().collect();
        normalize_phone(&span).is_some_and(|p| p.contains(target))
    })
}

/// True when `text` holds `id` as a whole token: not inside a longer run of letters, digits,
/// `_` or `-` (so id `123` does not match inside `91234`).
pub(crate) fn text_mentions_id(text: &str, id: &str) -> bool {
    let part_of_token =
        |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    !id.is_empty()
        && text.match_indices(id).any(|(at, _)| {
            !part_of_token(text[..at].chars().next_back())
                && !part_of_token(text[at + id.len()..].chars().next())
        })
}

/// What a quarantined body holding an erased person becomes. The payload could not be parsed,
/// so which of its bytes are personal cannot be told: all of them go.
pub const QUARANTINE_ERASED: &[u8] =
    b"[body removed on request by `leadrelay leads forget`: it held personal data]";

/// Who `leads forget` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetSelector {
    /// Every lead and follow record holding this phone (normalized before matching).
    Phone(String),
    /// One lead (vendor lead id, or `#N`), or else one follow record by its msgId or dataId.
    Id(String),
}

/// What one erasure touched. Holds no personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    /// The `erasures` row id.
    pub id: i64,
    /// Leads redacted, as `vendor account vendor-lead-id`.
    pub leads: Vec<String>,
    /// Follow records redacted, as `account msgId`.
    pub follows: Vec<String>,
    /// Runs whose texts were scrubbed.
    pub runs: u64,
    /// Calls whose response or message was scrubbed.
    pub calls: u64,
    /// Items still waiting to be routed that were closed as `skipped` (they would otherwise be
    /// routed with the person's data gone).
    pub closed: u64,
    /// Quarantined payloads whose body held the person, by quarantine id: their body was
    /// replaced by [`QUARANTINE_ERASED`] (the account, path, time and reason stay).
    pub quarantined: Vec<i64>,
}

impl ForgetSelector {
    /// What the `erasures` row records as matched: `phone` or `id`.
    pub(crate) fn matched(&self) -> &'static str {
        match self {
            ForgetSelector::Phone(_) => "phone",
            ForgetSelector::Id(_) => "id",
        }
    }
}

/// `leadrelay leads forget` on the journal `target` names, beside running daemons or nodes:
/// redacts every lead and follow record of one person (by phone or by id), scrubs the runs
/// and calls quoting them, removes quarantined bodies holding them, closes their unfinished
/// work as `skipped`, and records the erasure (`by`, when, how many; never the phone). On
/// SQLite through [`offline::forget_offline`](super::offline::forget_offline); on PostgreSQL
/// in one transaction of its own that locks what it rewrites (see `postgres/retention.rs`).
/// Both give the same [`Erasure`] on the same content. Never migrates: a journal from an
/// older or newer leadrelay is refused. Synchronous, for the CLI; safe to call from inside
/// its runtime. At `now_ms`.
pub fn forget(
    target: &super::JournalTarget,
    selector: &ForgetSelector,
    by: &str,
    now_ms: i64,
) -> Result<Erasure, super::StoreError> {
    match target {
        super::JournalTarget::Sqlite(path) => {
            super::offline::forget_offline(path, selector, by, now_ms)
        }
        super::JournalTarget::Postgres(url) => {
            super::postgres::retention::forget_beside(url, selector, by, now_ms)
        }
    }
}

/// What an erasure will touch, by journal id, found by either backend's `forget_candidates`
/// with the rules below; then applied by its `forget`.
#[derive(Debug, Default)]
pub(crate) struct ForgetCandidates {
    /// Leads of the person, by journal id, ascending.
    pub leads: Vec<i64>,
    /// Follow records of the person, ascending.
    pub follows: Vec<i64>,
    /// Runs of other items quoting the phone (a job's error, a note), ascending.
    pub runs: Vec<i64>,
    /// Calls of other items quoting the phone (a response, a message), ascending.
    pub calls: Vec<i64>,
    /// Quarantined payloads whose body (read as text) or reason holds the phone or the id.
    pub quarantine: Vec<i64>,
    /// The normalized phone asked for (`--phone`), scrubbed wherever it is found.
    pub target: Option<String>,
}

/// The normalized phone `--phone` asks for; refused when it holds too few digits to match
/// only one person.
pub(crate) fn forget_phone(phone: &str) -> Result<String, super::StoreError> {
    normalize_phone(phone)
        .filter(|p| p.len() >= 5)
        .ok_or_else(|| {
            super::StoreError::Conflict(
                "--phone must hold a phone number (at least 5 digits)".into(),
            )
        })
}

/// The `LIKE` pattern finding the phone `target` quoted contiguously in a run's or a call's
/// text (a number written with separators inside free text is not found).
pub(crate) fn phone_like(target: &str) -> String {
    format!("%{target}%")
}

/// True when the stored lead `body` is the person with phone `target`: its own phone, or the
/// phone anywhere in its raw payload. A body that cannot be read is not theirs.
pub(crate) fn lead_body_holds_phone(body: &str, target: &str) -> bool {
    let Ok(lead) = serde_json::from_str::<Lead>(body) else {
        return false;
    };
    let own = lead.phone.as_deref().and_then(normalize_phone);
    own.as_deref() == Some(target) || mentions_phone(&lead.raw, target)
}

/// True when the stored follow `record` holds the phone `target` anywhere.
pub(crate) fn follow_record_holds_phone(record: &str, target: &str) -> bool {
    serde_json::from_str::<Value>(record).is_ok_and(|v| mentions_phone(&v, target))
}

/// The strings scrubbed from a redacted follow record's runs and calls: every value of its
/// record of at least two characters (shorter ones, "1" or "否", would turn every digit or
/// word of an error into `***`), then `extra`.
pub(crate) fn follow_secrets(record: &str, extra: &[String]) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(record) {
        collect_strings(&value, &mut secrets);
    }
    secrets.retain(|s| s.chars().count() >= 2);
    secrets.extend(extra.iter().cloned());
    secrets
}

/// The ids `--id` searches quarantine for: the id asked for and the vendor ids of what it
/// found, without internal `#N` ids (no vendor's) and ids under four characters (they would
/// match by chance); sorted, without repeats.
pub(crate) fn id_tokens(mut tokens: Vec<String>) -> Vec<String> {
    tokens.retain(|t| !t.starts_with('#') && t.chars().count() >= 4);
    tokens.sort();
    tokens.dedup();
    tokens
}

/// True when a quarantined payload is the person's: its body (read as text, invalid UTF-8
/// replaced) or its reason `matches`. A body already erased is not searched again.
pub(crate) fn quarantined_matches(
    body: &[u8],
    reason: &str,
    matches: impl Fn(&str) -> bool,
) -> bool {
    body != QUARANTINE_ERASED && (matches(&String::from_utf8_lossy(body)) || matches(reason))
}

/// The error of an `--id` that matches nothing.
pub(crate) fn forget_not_found(id: &str) -> super::StoreError {
    super::StoreError::NotFound(format!("lead or follow record `{id}`"))
}

/// A run's error and note scrubbed of `secrets`; `None` when neither changes.
pub(crate) fn scrub_run_texts(
    error: &Option<String>,
    note: &Option<String>,
    secrets: &[String],
) -> Option<(Option<String>, Option<String>)> {
    let (e2, n2) = (
        error.as_deref().map(|t| scrub(t, secrets)),
        note.as_deref().map(|t| scrub(t, secrets)),
    );
    (e2 != *error || n2 != *note).then_some((e2, n2))
}

/// The reason unfinished work of an erased person is closed with.
pub(crate) const ERASED_REASON: &str = "personal data erased on request";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_mobiles_however_separated_and_keeps_other_numbers() {
        let out = scrub(
            "retry: 138-1234-5678 busy; +86 139 0000 1111; order 20261130 id 6831434361875726350",
            &[],
        );
        assert!(!out.contains("5678") && !out.contains("1111"), "{out}");
        assert!(
            out.contains("20261130") && out.contains("6831434361875726350"),
            "{out}"
        );
        assert_eq!(scrub("hello 张三", &["张三".to_string()]), "hello ***");
    }
}
