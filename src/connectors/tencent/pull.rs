//! Tencent as a pulled lead source: `/leads/list` by 入库时间 (creation time), which never lies
//! before a window already pulled (the action time can).

use std::time::Duration;

use super::client::Client;
use super::model::{ListLeadsRequest, TimeFormat, MAX_PAGE_SIZE};
use crate::connectors::source::{BoxFuture, PullSource, PullWindow, Pulled};
use crate::connectors::CallError;

/// `time_type` for 入库时间 (when the platform stored the lead).
const CREATION_TIME: i64 = 1;

impl PullSource for Client {
    fn endpoint(&self) -> &'static str {
        "/leads/list"
    }

    fn max_page_size(&self) -> u32 {
        MAX_PAGE_SIZE as u32
    }

    fn page_pause(&self) -> Duration {
        Duration::ZERO
    }

    fn fetch_window(&self, window: PullWindow) -> BoxFuture<'_, Result<Pulled, CallError>> {
        Box::pin(async move {
            let mut request =
                ListLeadsRequest::window(window.start, window.end, TimeFormat::UnixSeconds);
            request.time_type = Some(CREATION_TIME);
            request.page_size = i64::from(window.page_size);
            // The client refuses a whole page with an unreadable record (the pull fails and is
            // retried), so nothing is rejected here.
            let leads = self.list_window(&request).await?;
            Ok(Pulled {
                leads: leads.iter().map(|l| l.to_lead(self.account())).collect(),
                rejected: Vec::new(),
            })
        })
    }
}
