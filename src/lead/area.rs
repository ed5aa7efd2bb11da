//! Province and city names normalized to their full official form ("广东" → "广东省",
//! "深圳" → "深圳市", "恩施州" → "恩施土家族苗族自治州"), whichever vendor field they came
//! from: Tencent `leads_area` / `tel_location` ("广东省深圳市南山区", "广东 深圳", "广东深圳"),
//! Feiyu `province_name` / `city_name` and `location` ("江苏+镇江"), Waiqin `mss_province` /
//! `mss_city`. Pure data and functions; the vendor's own value stays in `lead.raw`.
//!
//! Municipalities (北京, 上海, 天津, 重庆) are their own city. A name that is not a Chinese
//! province ("海外") is kept as written rather than dropped.

/// (short name, full name) of every provincial-level division.
pub const PROVINCES: &[(&str, &str)] = &[
    ("北京", "北京市"),
    ("天津", "天津市"),
    ("上海", "上海市"),
    ("重庆", "重庆市"),
    ("河北", "河北省"),
    ("山西", "山西省"),
    ("辽宁", "辽宁省"),
    ("吉林", "吉林省"),
    ("黑龙江", "黑龙江省"),
    ("江苏", "江苏省"),
    ("浙江", "浙江省"),
    ("安徽", "安徽省"),
    ("福建", "福建省"),
    ("江西", "江西省"),
    ("山东", "山东省"),
    ("河南", "河南省"),
    ("湖北", "湖北省"),
    ("湖南", "湖南省"),
    ("广东", "广东省"),
    ("海南", "海南省"),
    ("四川", "四川省"),
    ("贵州", "贵州省"),
    ("云南", "云南省"),
    ("陕西", "陕西省"),
    ("甘肃", "甘肃省"),
    ("青海", "青海省"),
    ("台湾", "台湾省"),
    ("内蒙古", "内蒙古自治区"),
    ("广西", "广西壮族自治区"),
    ("西藏", "西藏自治区"),
    ("宁夏", "宁夏回族自治区"),
    ("新疆", "新疆维吾尔自治区"),
    ("香港", "香港特别行政区"),
    ("澳门", "澳门特别行政区"),
];

const MUNICIPALITIES: &[&str] = &["北京市", "天津市", "上海市", "重庆市"];

/// (short name, full name) of the prefecture-level divisions whose full name does not end in
/// 市: the 30 autonomous prefectures, the 7 地区 and the 3 盟. Every other prefecture-level
/// division is a city whose full name is its short name + 市.
pub const PREFECTURES: &[(&str, &str)] = &[
    ("延边", "延边朝鲜族自治州"),
    ("恩施", "恩施土家族苗族自治州"),
    ("湘西", "湘西土家族苗族自治州"),
    ("阿坝", "阿坝藏族羌族自治州"),
    ("甘孜", "甘孜藏族自治州"),
    ("凉山", "凉山彝族自治州"),
    ("黔东南", "黔东南苗族侗族自治州"),
    ("黔南", "黔南布依族苗族自治州"),
    ("黔西南", "黔西南布依族苗族自治州"),
    ("楚雄", "楚雄彝族自治州"),
    ("红河", "红河哈尼族彝族自治州"),
    ("文山", "文山壮族苗族自治州"),
    ("西双版纳", "西双版纳傣族自治州"),
    ("大理", "大理白族自治州"),
    ("德宏", "德宏傣族景颇族自治州"),
    ("怒江", "怒江傈僳族自治州"),
    ("迪庆", "迪庆藏族自治州"),
    ("临夏", "临夏回族自治州"),
    ("甘南", "甘南藏族自治州"),
    ("海北", "海北藏族自治州"),
    ("黄南", "黄南藏族自治州"),
    ("海南", "海南藏族自治州"),
    ("果洛", "果洛藏族自治州"),
    ("玉树", "玉树藏族自治州"),
    ("海西", "海西蒙古族藏族自治州"),
    ("昌吉", "昌吉回族自治州"),
    ("博尔塔拉", "博尔塔拉蒙古自治州"),
    ("巴音郭楞", "巴音郭楞蒙古自治州"),
    ("克孜勒苏", "克孜勒苏柯尔克孜自治州"),
    ("伊犁", "伊犁哈萨克自治州"),
    ("大兴安岭", "大兴安岭地区"),
    ("阿克苏", "阿克苏地区"),
    ("喀什", "喀什地区"),
    ("和田", "和田地区"),
    ("塔城", "塔城地区"),
    ("阿勒泰", "阿勒泰地区"),
    ("阿里", "阿里地区"),
    ("兴安", "兴安盟"),
    ("锡林郭勒", "锡林郭勒盟"),
    ("阿拉善", "阿拉善盟"),
];

/// Suffixes a province may be written with after its short name.
const PROVINCE_SUFFIXES: &[&str] = &[
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
];

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '/' | '|' | ',' | '，' | '+' | '、' | '·')
}

fn trimmed(text: &str) -> &str {
    text.trim_matches(is_separator)
}

/// The province at the start of `text` (full name) and the rest of the text.
fn leading_province(text: &str) -> Option<(&'static str, &str)> {
    for (_, full) in PROVINCES {
        if let Some(rest) = text.strip_prefix(full) {
            return Some((full, rest));
        }
    }
    // A full prefecture name that starts like a province ("海南藏族自治州") is not that province.
    if PREFECTURES.iter().any(|(_, full)| text.starts_with(full)) {
        return None;
    }
    for (short, full) in PROVINCES {
        if let Some(rest) = text.strip_prefix(short) {
            let rest = PROVINCE_SUFFIXES
                .iter()
                .find_map(|s| rest.strip_prefix(s))
                .unwrap_or(rest);
            return Some((full, rest));
        }
    }
    None
}

/// The full name of a province written in full or short ("广东", "广东省", "广西",
/// "内蒙古自治区"), or `None` when it is not one.
pub fn province(text: &str) -> Option<&'static str> {
    let text = trimmed(text);
    match leading_province(text) {
        Some((full, rest)) if trimmed(rest).is_empty() => Some(full),
        _ => None,
    }
}

/// The full name of the prefecture-level city at the start of `text` ("深圳" → "深圳市",
/// "深圳市南山区" → "深圳市", "恩施州" → "恩施土家族苗族自治州"); `None` for empty text. Text
/// that does not start with a recognizable city is kept as written.
pub fn city(text: &str) -> Option<String> {
    let text = trimmed(text);
    let token = text.split(is_separator).next().unwrap_or("");
    if token.is_empty() {
        return None;
    }
    for (short, full) in PREFECTURES {
        if token.starts_with(full) {
            return Some(full.to_string());
        }
        if let Some(rest) = token.strip_prefix(short) {
            if rest.is_empty()
                || rest.starts_with('州')
                || rest.starts_with("地区")
                || rest.starts_with('盟')
            {
                return Some(full.to_string());
            }
        }
    }
    for marker in ["自治州", "地区", "盟", "市"] {
        if let Some(pos) = token.find(marker) {
            if pos > 0 {
                return Some(token[..pos + marker.len()].to_string());
            }
        }
    }
    let chars: Vec<char> = token.chars().collect();
    // "杭州西湖区": a city written without 市, then its district.
    if let Some(i) = chars.iter().position(|c| *c == '州') {
        if (1..=2).contains(&i) && i + 1 < chars.len() {
            return Some(chars[..=i].iter().collect::<String>() + "市");
        }
    }
    let all_han = chars.iter().all(|c| ('\u{4e00}'..='\u{9fff}').contains(c));
    let ends_like_county = ['区', '县', '旗'].contains(chars.last().expect("not empty"));
    if all_han && (2..=4).contains(&chars.len()) && !ends_like_county {
        return Some(format!("{token}市"));
    }
    Some(token.to_string())
}

/// (province, city) from one place text: "广东省深圳市南山区", "广东 深圳", "广东深圳",
/// "江苏+镇江", "上海市浦东新区", "北京". A text that starts with no province is kept whole as
/// the province, so nothing is dropped; empty text gives nothing.
pub fn split(text: &str) -> (Option<String>, Option<String>) {
    let text = trimmed(text);
    if text.is_empty() {
        return (None, None);
    }
    match leading_province(text) {
        Some((full, rest)) => (Some(full.to_string()), city_in(full, rest)),
        None => (Some(text.to_string()), None),
    }
}

/// The city of `rest` within `province`: a municipality is its own city; a special
/// administrative region has none.
fn city_in(province: &str, rest: &str) -> Option<String> {
    if MUNICIPALITIES.contains(&province) {
        return Some(province.to_string());
    }
    if province.ends_with("特别行政区") {
        return None;
    }
    city(rest)
}

/// Normalizes a (province, city) pair given in separate fields (Feiyu, Waiqin). A province
/// field that holds the whole place ("广东深圳") also gives the city when the city field is
/// empty; an unrecognized province is kept as written.
pub fn normalize(
    province: Option<&str>,
    city_text: Option<&str>,
) -> (Option<String>, Option<String>) {
    let province = province.map(trimmed).filter(|p| !p.is_empty());
    let city_text = city_text.map(trimmed).filter(|c| !c.is_empty());
    let (province, from_province) = match province.map(split) {
        Some((p, c)) => (p, c),
        None => (None, None),
    };
    let city = match (&province, city_text) {
        (Some(p), Some(_)) if MUNICIPALITIES.contains(&p.as_str()) => Some(p.clone()),
        (_, Some(c)) => match leading_province(c) {
            // "广东深圳" in the city field.
            Some((full, rest)) => city_in(full, rest),
            None => city(c),
        },
        (_, None) => from_province,
    };
    (province, city)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(p: &str, c: &str) -> (Option<String>, Option<String>) {
        (Some(p.to_string()), Some(c.to_string()))
    }

    #[test]
    fn provinces_are_named_in_full() {
        assert_eq!(province("广东"), Some("广东省"));
        assert_eq!(province("广东省"), Some("广东省"));
        assert_eq!(province("广西"), Some("广西壮族自治区"));
        assert_eq!(province("广西自治区"), Some("广西壮族自治区"));
        assert_eq!(province("内蒙古"), Some("内蒙古自治区"));
        assert_eq!(province("北京"), Some("北京市"));
        assert_eq!(province("香港"), Some("香港特别行政区"));
        assert_eq!(province("海外"), None);
        assert_eq!(PROVINCES.len(), 34);
        assert_eq!(PREFECTURES.len(), 40);
    }

    #[test]
    fn cities_are_named_in_full() {
        assert_eq!(city("深圳").as_deref(), Some("深圳市"));
        assert_eq!(city("深圳市").as_deref(), Some("深圳市"));
        assert_eq!(city("深圳市南山区").as_deref(), Some("深圳市"));
        assert_eq!(city("杭州西湖区").as_deref(), Some("杭州市"));
        assert_eq!(city("恩施州").as_deref(), Some("恩施土家族苗族自治州"));
        assert_eq!(
            city("延边朝鲜族自治州延吉市").as_deref(),
            Some("延边朝鲜族自治州")
        );
        assert_eq!(city("阿里").as_deref(), Some("阿里地区"));
        assert_eq!(city("锡林郭勒盟").as_deref(), Some("锡林郭勒盟"));
        assert_eq!(
            city("南山区").as_deref(),
            Some("南山区"),
            "a district is kept as written"
        );
        assert_eq!(city(" "), None);
    }

    #[test]
    fn place_texts_split_into_province_and_city() {
        assert_eq!(split("广东省深圳市南山区"), both("广东省", "深圳市"));
        assert_eq!(split("广东 深圳"), both("广东省", "深圳市"));
        assert_eq!(split("广东深圳"), both("广东省", "深圳市"));
        assert_eq!(split("江苏+镇江"), both("江苏省", "镇江市"));
        assert_eq!(split("上海市浦东新区"), both("上海市", "上海市"));
        assert_eq!(split("重庆"), both("重庆市", "重庆市"));
        assert_eq!(split("北京 朝阳"), both("北京市", "北京市"));
        assert_eq!(
            split("广西壮族自治区南宁市"),
            both("广西壮族自治区", "南宁市")
        );
        assert_eq!(
            split("新疆维吾尔自治区伊犁哈萨克自治州"),
            both("新疆维吾尔自治区", "伊犁哈萨克自治州")
        );
        assert_eq!(split("青海海西州"), both("青海省", "海西蒙古族藏族自治州"));
        assert_eq!(split("江苏省"), (Some("江苏省".into()), None));
        assert_eq!(split("香港"), (Some("香港特别行政区".into()), None));
        assert_eq!(split("海外"), (Some("海外".into()), None));
        assert_eq!(split("  "), (None, None));
    }

    #[test]
    fn separate_fields_are_normalized_together() {
        assert_eq!(
            normalize(Some("广东"), Some("深圳")),
            both("广东省", "深圳市")
        );
        assert_eq!(
            normalize(Some("上海"), Some("浦东新区")),
            both("上海市", "上海市")
        );
        assert_eq!(normalize(Some("广东深圳"), None), both("广东省", "深圳市"));
        assert_eq!(normalize(None, Some("深圳")), (None, Some("深圳市".into())));
        assert_eq!(normalize(Some(""), Some("")), (None, None));
    }
}
