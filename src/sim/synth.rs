//! Synthetic people for the simulators' pull APIs: plausible Chinese names, mobile numbers,
//! provinces and cities. Randomness comes from the caller's RNG so tests can seed it.

use rand::Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞",
];
/// (province, city) pairs.
pub const PLACES: &[(&str, &str)] = &[
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("上海市", "上海市"),
    ("北京市", "北京市"),
    ("浙江省", "杭州市"),
    ("江苏省", "南京市"),
    ("江苏省", "苏州市"),
    ("四川省", "成都市"),
    ("湖北省", "武汉市"),
    ("陕西省", "西安市"),
];
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158",
    "159", "176", "177", "180", "181", "186", "187", "188", "189",
];

/// One synthetic person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Full name, e.g. 王秀英.
    pub name: String,
    /// An 11-digit mainland mobile number.
    pub phone: String,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// 0 unknown, 1 male, 2 female.
    pub gender: u8,
}

/// A random person.
pub fn person(rng: &mut impl Rng) -> Person {
    let (province, city) = PLACES[rng.gen_range(0..PLACES.len())];
    Person {
        name: format!(
            "{}{}",
            SURNAMES[rng.gen_range(0..SURNAMES.len())],
            GIVEN[rng.gen_range(0..GIVEN.len())]
        ),
        phone: format!(
            "{}{:08}",
            MOBILE_PREFIXES[rng.gen_range(0..MOBILE_PREFIXES.len())],
            rng.gen_range(0..100_000_000u32)
        ),
        province: province.to_string(),
        city: city.to_string(),
        gender: rng.gen_range(0..3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn people_have_valid_mobiles_and_known_places() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let p = person(&mut rng);
            assert_eq!(p.phone.len(), 11);
            assert!(p.phone.starts_with('1') && p.phone.bytes().all(|b| b.is_ascii_digit()));
            assert!(PLACES.contains(&(p.province.as_str(), p.city.as_str())));
            assert!(p.name.chars().count() >= 2);
        }
    }
}
