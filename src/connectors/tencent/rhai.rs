//! Tencent's enum values as Rhai constants whose value is the vendor's string:
//! `tencent::LEADS_TYPE_FORM == "LEADS_TYPE_FORM"`, so a script reads
//! `if lead.raw.leads_type == tencent::LEADS_TYPE_FORM { … }` and a typo is an error, not a
//! silently false comparison. Values that do not start with their enum's name get it as a prefix:
//! `tencent::LEADS_SOURCE_XJ == "XJ"`.

use rhai::Module;

use super::enums::ALL;

/// Adds the constants to the `tencent` module.
pub fn constants(module: &mut Module) {
    for (group, values) in ALL {
        for value in *values {
            let name = if value.starts_with(group) {
                value.to_string()
            } else {
                format!("{group}_{value}")
            };
            module.set_var(name, *value);
        }
    }
}
