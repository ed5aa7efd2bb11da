//! Feiyu as a pulled lead source: `pull-clues` by day (Beijing), one second between pages
//! because the vendor asks callers to mind their request rate (注意请求频率). Clues the model
//! cannot read are handed back for the quarantine rather than failing the page.

use std::time::Duration;

use super::client::Client;
use super::model::{PullRequest, MAX_PAGE_SIZE};
use super::sign::PULL_CLUES_ROUTE;
use crate::connectors::source::{BoxFuture, PullSource, PullWindow, Pulled, RejectedRecord};
use crate::connectors::CallError;

/// Pause between pages.
pub const PAGE_PAUSE: Duration = Duration::from_secs(1);

impl PullSource for Client {
    fn endpoint(&self) -> &'static str {
        PULL_CLUES_ROUTE
    }

    fn max_page_size(&self) -> u32 {
        MAX_PAGE_SIZE
    }

    fn page_pause(&self) -> Duration {
        PAGE_PAUSE
    }

    fn fetch_window(&self, window: PullWindow) -> BoxFuture<'_, Result<Pulled, CallError>> {
        Box::pin(async move {
            let mut request = PullRequest::days(window.start.date_naive(), window.end.date_naive());
            request.page_size = window.page_size;
            let clues = self.pull_window(&request, window.page_pause).await?;
            Ok(Pulled {
                leads: clues.clues.iter().map(|c| c.to_lead(self.account())).collect(),
                rejected: clues
                    .invalid
                    .into_iter()
                    .map(|bad| RejectedRecord {
                        reason: format!(
                            "clue {} of the page is not a Feiyu clue: {}",
                            bad.index, bad.error
                        ),
                        raw: bad.raw,
                    })
                    .collect(),
            })
        })
    }
}
