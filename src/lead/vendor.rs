//! The vendor id: which of the five APIs a lead, an account or a call belongs to. It lives here,
//! at the bottom, because a [`Lead`](super::Lead) names its vendor; what each vendor can do
//! (ops, base URL, clients) is added by `crate::connectors`, which re-exports this type.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// THE list of vendors: one line per vendor, `Variant => folder, "description";`.
///
/// This is the registration line. Everything else about a vendor is derived from it by the
/// macro given as `$then`, which each layer supplies for itself:
/// - here, the [`Vendor`] id enum (below);
/// - `crate::connectors`: `mod <folder>;`, the credentials and account-client enums, and the
///   dispatch to the folder's `Spec` (its `VendorSpec` impl: ops table, base URL, sources);
/// - `crate::sim`: `mod <folder>;`, the simulator's per-vendor state and routes.
///
/// The list sits at the bottom layer because a lead names its vendor; it holds names only, no
/// vendor knowledge. Adding a vendor: copy `templates/vendor/` (see its README), then add one
/// line here. The compiler then points at anything the new vendor has not answered.
macro_rules! for_each_vendor {
    ($then:ident) => {
        $then! {
            Tencent => tencent, "Tencent Ads leads platform (leads.qq.com).";
            Feiyu => feiyu, "Toutiao / Ocean Engine Feiyu CRM pull-clues.";
            Waiqin => waiqin, "Waiqin365 (勤策) sales leads.";
            Xiaolanben => xiaolanben, "Xiaolanben (小蓝本) CRM import.";
            Linkflow => linkflow, "Linkflow CDP.";
        }
    };
}
pub(crate) use for_each_vendor;

macro_rules! define_vendor_enum {
    ($($variant:ident => $folder:ident, $doc:literal;)*) => {
        /// A vendor: which API a lead, an account or a call belongs to. Generated from
        /// [`for_each_vendor!`]; the serialized name is the folder name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Vendor {
            $(#[doc = $doc] $variant,)*
        }

        impl Vendor {
            /// Every vendor, in registration (display) order.
            pub const ALL: [Vendor; [$(stringify!($variant)),*].len()] = [$(Vendor::$variant),*];

            /// The name used in config, CLI and scripts (the vendor's folder name).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Vendor::$variant => stringify!($folder),)*
                }
            }

            /// The vendor's position in [`Vendor::ALL`], for per-vendor arrays.
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}
for_each_vendor!(define_vendor_enum);

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Vendor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown vendor `{s}` (expected one of: {})",
                    Vendor::ALL.map(Vendor::as_str).join(", ")
                )
            })
    }
}

impl Serialize for Vendor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Vendor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}
