//! Short links, plain and distributed per contact.

use serde_json::json;

use super::reply::{fail, ok_json, Answer};
use super::request::{required_text, text_of, Req};
use super::Inner;

impl Inner {
    pub(super) fn short_url(&mut self, req: &Req, distribute: bool) -> Answer {
        let body = req.json_object()?;
        let url = required_text(&body, "url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(fail(400, "B00010", "参数不合法: url"));
        }
        let term = body.get("utm").and_then(|u| text_of(u.get("term")));
        if distribute {
            let Some(term) = term.clone() else {
                return Err(fail(400, "B00002", "必填参数为空: utm.term"));
            };
            let known = term
                .parse::<u64>()
                .ok()
                .filter(|id| self.contacts.contains_key(id));
            if known.is_none() {
                return Err(fail(
                    420,
                    "B00008",
                    format!("No [contact] found with id [{term}]"),
                ));
            }
        }
        let n = self.short_urls.len() as u64 + 0x3_0000;
        let code = base62(n);
        let short = format!("http://ln8w.cn/{code}");
        self.short_urls.push((code, url, term));
        ok_json(json!({"shorturl": short}))
    }
}

pub(super) fn base62(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}
