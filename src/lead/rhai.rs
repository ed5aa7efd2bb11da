//! `Lead` as a Rhai type: a getter per normalized field (a missing value reads as `()`),
//! `lead.raw` (the vendor's record as a map) and `lead.to_map()`.

use ::rhai::{Dynamic, Engine, FuncRegistration, Module};

use super::Lead;
use crate::host::convert::json_to_dynamic;

fn opt(value: &Option<String>) -> Dynamic {
    value.clone().map_or(Dynamic::UNIT, Dynamic::from)
}

/// Registers the `Lead` type and its getters.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Lead>("Lead");
    let mut module = Module::new();
    macro_rules! getter {
        ($name:literal, $doc:literal, |$lead:ident| $body:expr) => {
            let returns = match $name {
                "vendor" | "account" | "id" | "gender" | "kind" => "String",
                "raw" => "Map",
                _ => "String | ()",
            };
            FuncRegistration::new_getter($name)
                .with_comments([concat!("/// ", $doc)])
                .with_params_info(["lead: Lead", returns])
                .set_into_module(&mut module, |$lead: &mut Lead| -> Dynamic { $body });
        };
    }
    getter!(
        "vendor",
        "The vendor it came from: \"tencent\", \"feiyu\" or \"waiqin\".",
        |l| l.vendor.as_str().into()
    );
    getter!("account", "The configured account it came through.", |l| l
        .account
        .as_str()
        .into());
    getter!("id", "The vendor's id for the lead, as a string.", |l| l
        .id
        .as_str()
        .into());
    getter!("name", "The person's name, or ().", |l| opt(&l.name));
    getter!(
        "phone",
        "The phone number as the vendor sent it, or ().",
        |l| opt(&l.phone)
    );
    getter!("email", "Email, or ().", |l| opt(&l.email));
    getter!("wechat", "WeChat id, or ().", |l| opt(&l.wechat));
    getter!("qq", "QQ number, or ().", |l| opt(&l.qq));
    getter!("gender", "\"male\", \"female\" or \"unknown\".", |l| l
        .gender
        .as_str()
        .into());
    getter!(
        "province",
        "Province, full official name (\"广东省\", \"上海市\"), or ().",
        |l| opt(&l.province)
    );
    getter!(
        "city",
        "City, full official name (\"深圳市\"; a municipality is its own city), or ().",
        |l| opt(&l.city)
    );
    getter!("address", "Street address, or ().", |l| opt(&l.address));
    getter!("kind", "What the person did: form, consult, phone, callback, coupon, lottery, click, authorize, wechat or other.", |l| l.kind.as_str().into());
    getter!("source", "The vendor's traffic source, or ().", |l| opt(
        &l.source
    ));
    getter!(
        "created_at",
        "When the vendor recorded it (RFC 3339, Beijing time), or ().",
        |l| l
            .created_at
            .map_or(Dynamic::UNIT, |t| t.to_rfc3339().into())
    );
    getter!("remark", "Free-text remark, or ().", |l| opt(&l.remark));
    getter!(
        "raw",
        "The vendor's own record as a map, e.g. lead.raw.leads_type.",
        |l| json_to_dynamic(&l.raw)
    );
    FuncRegistration::new("to_map")
        .in_global_namespace()
        .with_comments(["/// Every normalized field and `raw` as one map."])
        .with_params_info(["lead: Lead", "Map"])
        .set_into_module(&mut module, |lead: &mut Lead| -> Dynamic {
            json_to_dynamic(&serde_json::Value::Object(lead.to_json()))
        });
    FuncRegistration::new("to_string")
        .in_global_namespace()
        .with_comments(["/// \"Lead(vendor account id)\", for messages."])
        .with_params_info(["lead: Lead", "String"])
        .set_into_module(&mut module, |lead: &mut Lead| -> String {
            format!("Lead({} {} {})", lead.vendor, lead.account, lead.id)
        });
    engine.register_global_module(module.into());
}
