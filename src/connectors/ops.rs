//! Ops tables: each vendor declares every op once, in its folder's `ops.rs`, with
//! [`ops_table!`](crate::connectors::ops::ops_table):
//!
//! ```text
//! ops_table! {
//!     vendor: Vendor::Feiyu, client: Client, credentials: Credentials;
//!     pull_clues("GET /crm/v2/openapi/pull-clues/", "One page of the clues …",
//!         example: r#"{"start_time": "2026-11-30", "end_time": "2026-11-30"}"#)
//!         : PullRequest => CluePage = |client, request| client.pull_clues(&request);
//! }
//! ```
//!
//! From that one entry come: the `OPS` list ([`OpInfo`]: name, endpoint, summary, request and
//! answer types, an example payload) that `leadrelay call --help`, the Rhai `vendor::op(…)` functions, the `.d.rhai`
//! definitions and the README's op table are generated from, and the client's `call_op`, which
//! decodes the JSON payload into the request type (its `Deserialize` carries the validation of
//! the payload's shape; the typed method validates values before signing), awaits the method,
//! and encodes the typed answer. An op name not in the table is refused before anything is sent.
//! It also implements [`VendorClient`](crate::connectors::VendorClient) for the client (built
//! with its `new(ClientContext, credentials)`), which is how the registry builds and calls it.

/// One op of one vendor: the name used by `leadrelay call` and by scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// snake_case op name (`list_leads`, `import_customer`, …).
    pub name: &'static str,
    /// HTTP method and path relative to the account's base URL, for help text.
    pub endpoint: &'static str,
    /// One line saying what the op does.
    pub summary: &'static str,
    /// The Rust type the payload is decoded into (its fields are the vendor's, see its docs).
    pub request: &'static str,
    /// The Rust type of the answer.
    pub answer: &'static str,
    /// A payload that works against the built-in simulator (JSON): shown by
    /// `leadrelay call --help`, and sent by the contract test, which runs every op of every
    /// vendor through the simulator.
    pub example: &'static str,
}

/// Declares a vendor's ops: generates `pub const OPS: &[OpInfo]`, `Client::call_op` and the
/// client's [`VendorClient`](crate::connectors::VendorClient) impl. See the module docs for the
/// entry syntax.
macro_rules! ops_table {
    (
        vendor: $vendor:expr, client: $client:ty, credentials: $credentials:ty;
        $(
            $name:ident ($endpoint:literal, $summary:literal, example: $example:literal)
                : $request:ty => $answer:ty = |$client_var:ident, $request_var:ident| $call:expr;
        )+
    ) => {
        /// Every op of this vendor, generated from its ops table.
        pub const OPS: &[$crate::connectors::OpInfo] = &[$(
            $crate::connectors::OpInfo {
                name: stringify!($name),
                endpoint: $endpoint,
                summary: $summary,
                request: stringify!($request),
                answer: stringify!($answer),
                example: $example,
            },
        )+];

        impl $client {
            /// Runs the op named `op` (one of [`OPS`]) with a JSON payload in the vendor's own
            /// field names, and returns the typed answer as JSON. A `null` payload means `{}`.
            /// An unknown op or a payload that does not fit the op's request type fails with
            /// `InvalidPayload` before anything is sent.
            pub async fn call_op(
                &self,
                op: &str,
                payload: serde_json::Value,
            ) -> Result<serde_json::Value, $crate::connectors::CallError> {
                let vendor = $vendor;
                let payload = if payload.is_null() {
                    serde_json::Value::Object(Default::default())
                } else {
                    payload
                };
                $(
                    if op == stringify!($name) {
                        let $request_var: $request =
                            $crate::connectors::decode_payload(vendor, op, payload)
                                .map_err(|e| e.with_account(self.account()))?;
                        let $client_var = self;
                        let answer: $answer = $call.await?;
                        return $crate::connectors::encode_answer(vendor, op, &answer)
                            .map_err(|e| e.with_account(self.account()));
                    }
                )+
                Err($crate::connectors::unknown_op(vendor, op).with_account(self.account()))
            }
        }

        impl $crate::connectors::VendorClient for $client {
            type Credentials = $credentials;

            fn connect(ctx: $crate::connectors::ClientContext, credentials: $credentials) -> Self {
                <$client>::new(ctx, credentials)
            }

            async fn call_op(
                &self,
                op: &str,
                payload: serde_json::Value,
            ) -> Result<serde_json::Value, $crate::connectors::CallError> {
                <$client>::call_op(self, op, payload).await
            }
        }
    };
}
pub(crate) use ops_table;

/// The README's op table, generated from every vendor's ops table (a test keeps the README's
/// copy, between `<!-- ops:begin -->` and `<!-- ops:end -->`, equal to this).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| op | vendor | endpoint | what it does | example payload |\n|---|---|---|---|---|\n",
    );
    for (vendor, op) in super::all_ops() {
        let cell = |text: &str| text.replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {vendor} | `{}` | {} | `{}` |\n",
            op.name,
            cell(op.endpoint),
            cell(op.summary),
            cell(op.example),
        ));
    }
    out
}
