//! `/`: the overview — is it working, what is stuck.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{escape, read, text};
use crate::daemon::admin::AdminState;
use crate::daemon::breaker::BreakerState;
use crate::host::generation::Verdict;
use crate::store::WorkStatus;

/// How far back the chart looks.
pub const CHART_HOURS: i64 = 3;
const MINUTE_MS: i64 = 60_000;

/// The overview page.
pub async fn page(State(state): State<AdminState>) -> Response {
    page_of(&state).await
}

async fn page_of(state: &AdminState) -> Response {
    let now_ms = state.clock.unix_millis();
    let since = (now_ms - CHART_HOURS * 3_600_000) / MINUTE_MS * MINUTE_MS;
    let data = read(state, move |r| {
        Ok((r.status()?, r.activity(since, MINUTE_MS)?))
    })
    .await;
    let (status, activity) = match data {
        Ok(d) => d,
        Err(response) => return response,
    };
    let mut body = String::new();
    let card = |id: &str, label: &str, n: u64, bad: bool| {
        let class = if bad && n > 0 { "card bad" } else { "card" };
        format!("<div class=\"{class}\"><b id=\"{id}\">{n}</b>{label}</div>")
    };
    let open_breakers: Vec<(String, u32)> = state
        .breakers
        .states()
        .into_iter()
        .filter_map(|(account, s)| match s {
            BreakerState::Open { failures } => Some((account, failures)),
            BreakerState::Closed => None,
        })
        .collect();
    body.push_str("<div class=\"cards\">");
    body.push_str(&card(
        "count-leads",
        "leads in the journal",
        status.leads,
        false,
    ));
    body.push_str(&card(
        "count-routed",
        "routed",
        status.count(WorkStatus::Done),
        false,
    ));
    body.push_str(&card("count-backlog", "backlog", status.backlog(), false));
    body.push_str(&card(
        "count-dead",
        "<a href=\"/dead\">dead letters</a>",
        status.dead_letters,
        true,
    ));
    body.push_str(&card(
        "count-unrouted",
        "<a href=\"/unrouted\">unrouted</a>",
        status.count(WorkStatus::Unrouted),
        true,
    ));
    body.push_str(&card(
        "count-quarantine",
        "<a href=\"/quarantine\">quarantined</a>",
        status.quarantined,
        true,
    ));
    body.push_str(&card(
        "count-breakers",
        "open breakers",
        open_breakers.len() as u64,
        true,
    ));
    body.push_str("</div>");

    body.push_str(&format!(
        "<h2>Leads in and routed per minute, last {CHART_HOURS} hours (Beijing time)</h2>"
    ));
    body.push_str(&chart(&activity, since, now_ms));

    body.push_str(
        "<h2>Backlog by state</h2><p class=\"muted\">The backlog is pending + running + retry; \
         the other states are where work ended.</p><table id=\"backlog\"><tr><th>state</th><th>work items</th></tr>",
    );
    for (work_state, n) in &status.work {
        body.push_str(&format!(
            "<tr><td>{}</td><td class=\"n\" id=\"state-{0}\">{n}</td></tr>",
            work_state.as_str()
        ));
    }
    body.push_str("</table>");

    body.push_str("<h2>Open breakers</h2>");
    if open_breakers.is_empty() {
        body.push_str("<p class=\"muted\">none: every account is being called</p>");
    } else {
        body.push_str("<table><tr><th>account</th><th>failures in a row</th></tr>");
        for (account, failures) in &open_breakers {
            body.push_str(&format!(
                "<tr><td>{}</td><td class=\"n\">{failures}</td></tr>",
                escape(account)
            ));
        }
        body.push_str("</table>");
    }

    body.push_str("<h2>Pull lag per source</h2>");
    if status.checkpoints.is_empty() {
        body.push_str("<p class=\"muted\">no pull has committed yet</p>");
    } else {
        body.push_str(
            "<table><tr><th>account</th><th>endpoint</th><th>pulled up to</th><th>lag</th></tr>",
        );
        for c in &status.checkpoints {
            let (upto, lag) = match position_ms(&c.position) {
                Some(at) => (super::time(at), crate::inspect::age(now_ms - at)),
                None => (text(&c.position), "-".to_string()),
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{upto}</td><td class=\"n\">{lag}</td></tr>",
                escape(&c.account),
                escape(&c.endpoint)
            ));
        }
        body.push_str("</table>");
    }

    body.push_str(
        "<h2>Scripts</h2><table><tr><th>script</th><th>live version</th><th>last reload</th></tr>",
    );
    for (path, s) in state.host.status() {
        body.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            text(&path),
            s.live_version
                .as_deref()
                .map_or_else(|| "none".to_string(), |v| escape(short(v))),
            verdict_word(&s.verdict)
        ));
    }
    body.push_str("</table><p><a href=\"/scripts\">Reload errors on the scripts page</a></p>");
    super::page(state, "/", "Overview", &body).into_response()
}

/// A script version, shortened as the CLI shows it.
pub fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

/// One word for a verdict, coloured.
pub fn verdict_word(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Live => "<span class=\"ok\">live</span>".into(),
        Verdict::Unchanged => "<span class=\"ok\">unchanged</span>".into(),
        Verdict::Removed => "removed".into(),
        Verdict::Rejected(errors) => format!(
            "<span class=\"error\">rejected ({} error{})</span>",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ),
    }
}

/// A checkpoint position read as a time, when it is one (the shipped pulls store the end of
/// the last pulled window as unix seconds; anything else is a cursor).
pub fn position_ms(position: &str) -> Option<i64> {
    const PLAUSIBLE: std::ops::Range<i64> = 946_684_800..4_102_444_800;
    let secs: i64 = position.trim().parse().ok()?;
    PLAUSIBLE.contains(&secs).then(|| secs * 1000)
}

/// The chart: one bar per minute for leads in, a line for leads routed, drawn server-side.
fn chart(activity: &[(i64, u64, u64)], since_ms: i64, now_ms: i64) -> String {
    const W: f64 = 900.0;
    const H: f64 = 160.0;
    const LEFT: f64 = 36.0;
    const BOTTOM: f64 = 20.0;
    let minutes = ((now_ms - since_ms) / MINUTE_MS + 1).max(1) as f64;
    let max = activity
        .iter()
        .map(|(_, a, b)| (*a).max(*b))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = W - LEFT - 4.0;
    let plot_h = H - BOTTOM - 8.0;
    let x = |at: i64| LEFT + ((at - since_ms) / MINUTE_MS) as f64 / minutes * plot_w;
    let y = |n: u64| 8.0 + plot_h - n as f64 / max * plot_h;
    let bar_w = (plot_w / minutes).max(1.0);
    let mut svg = format!(
        "<svg id=\"chart\" role=\"img\" aria-label=\"leads in and routed per minute\" \
         width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" style=\"background:#fff;border:1px solid #dde1e8\">"
    );
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{0}\" stroke=\"#9aa3b5\"/>\
         <text x=\"2\" y=\"14\">{}</text><text x=\"2\" y=\"{}\">0</text>",
        8.0 + plot_h,
        W - 4.0,
        max as u64,
        8.0 + plot_h
    ));
    // Time labels every half hour.
    let half_hour = 30 * MINUTE_MS;
    let mut tick = (since_ms / half_hour + 1) * half_hour;
    while tick <= now_ms {
        let label = super::time(tick);
        let hm = label.get(11..16).unwrap_or(&label);
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{hm}</text>",
            x(tick),
            H - 5.0
        ));
        tick += half_hour;
    }
    for (at, received, _) in activity.iter().filter(|(_, r, _)| *r > 0) {
        svg.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"#7aa2e3\"><title>{}: {received} in</title></rect>",
            x(*at),
            y(*received),
            8.0 + plot_h - y(*received),
            super::time(*at)
        ));
    }
    let points: Vec<String> = activity
        .iter()
        .filter(|(_, _, routed)| *routed > 0)
        .map(|(at, _, routed)| format!("{:.1},{:.1}", x(*at) + bar_w / 2.0, y(*routed)))
        .collect();
    if !points.is_empty() {
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#16794c\" stroke-width=\"2\"/>",
            points.join(" ")
        ));
        for p in &points {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            svg.push_str(&format!(
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"2.5\" fill=\"#16794c\"/>"
            ));
        }
    }
    svg.push_str("</svg>");
    let total_in: u64 = activity.iter().map(|(_, r, _)| r).sum();
    let total_routed: u64 = activity.iter().map(|(_, _, d)| d).sum();
    format!(
        "{svg}<p class=\"muted\"><span style=\"color:#7aa2e3\">■</span> leads in ({total_in}) \
         <span style=\"color:#16794c\">●</span> routed ({total_routed})</p>"
    )
}
