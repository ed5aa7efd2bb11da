//! Waiqin as a pulled lead source: `querySalesLeads` by modification date (Beijing, day
//! granular). The key is the lead id, so a lead modified after its first import is a duplicate:
//! pulls bring in new leads, not edits.

use std::time::Duration;

use super::client::Client;
use super::model::{QueryConditions, QuerySalesLeadsRequest, DEFAULT_PAGE_SIZE};
use crate::connectors::source::{BoxFuture, PullSource, PullWindow, Pulled};
use crate::connectors::CallError;

impl PullSource for Client {
    fn endpoint(&self) -> &'static str {
        "querySalesLeads"
    }

    fn max_page_size(&self) -> u32 {
        DEFAULT_PAGE_SIZE as u32
    }

    fn page_pause(&self) -> Duration {
        Duration::ZERO
    }

    fn fetch_window(&self, window: PullWindow) -> BoxFuture<'_, Result<Pulled, CallError>> {
        Box::pin(async move {
            let mut conditions =
                QueryConditions::modified_between(window.start.date_naive(), window.end.date_naive());
            conditions.page_size = Some(i64::from(window.page_size));
            let request = QuerySalesLeadsRequest {
                conditions,
                ..Default::default()
            };
            // The client refuses a whole page with an unreadable record (the pull fails and is
            // retried), so nothing is rejected here.
            let records = self.query_sales_leads_all(&request).await?;
            Ok(Pulled {
                leads: records.iter().map(|r| r.to_lead(self.account())).collect(),
                rejected: Vec::new(),
            })
        })
    }
}
