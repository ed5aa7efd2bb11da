//! The script author's workflow end to end through the binary: tests that model the real setup
//! (accounts, follow records, a frozen clock, seeded simulators, prints), the `time::`/`hours::`
//! functions and the holiday file, `[sim]` in the config, and the definitions editors read.

use std::path::Path;
use std::process::Command;

fn leadrelay(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadrelay"));
    c.current_dir(cwd).env_remove("LEADRELAY_CONFIG");
    c
}

fn run(cwd: &Path, args: &[&str]) -> (i32, String) {
    let out = leadrelay(cwd).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &*String::from_utf8_lossy(&out.stderr),
    )
}

const BRANDS: &str = r#"
// Brand B's Tencent leads go to its own salesperson, 3001 during working hours, the public sea
// otherwise; brand B's follow records are printed.
on_lead("tencent", "tx_brand_b", "route_brand_b");
on_follow("wq_b", "note_follow");

const BRAND_B_OWNER = 3001;

fn owner_at(time) {
    if hours::is_open_at(time) { BRAND_B_OWNER } else { () }
}

fn route_brand_b(lead) {
    print("brand b lead " + lead.id + " in " + lead.city);
    xiaolanben::import_customer(map::xiaolanben_customer(lead, owner_at(now_beijing())));
}

fn note_follow(record) {
    print("follow " + record.lead_code);
}
"#;

const BRANDS_TEST: &str = r#"
fn lead_b(id) {
    make_lead("tencent", "tx_brand_b", #{ leads_id: id, leads_type: "LEADS_TYPE_FORM", leads_name: "张三", leads_area: "广东深圳" })
}

fn test_brand_b_leads_reach_their_handler_at_a_frozen_time() {
    sim::staff([#{ id: 3001, name: "陈静" }]);
    set_now("2026-12-07 10:00");                 // a Monday
    assert_eq(now_beijing().weekday, 1);
    assert_eq(time::today(), "2026-12-07");
    let runs = route(lead_b(1));
    assert_eq(runs.len(), 1);
    expect_call("xiaolanben", "import_customer", #{ staffId: 3001 });
    assert(calls("xiaolanben")[0].ok, "seeded staff 3001 is accepted");
}

fn test_after_hours_and_on_holidays_the_public_sea() {
    set_now("2026-10-06 10:00");                 // a Tuesday of the National Day holiday
    assert(!hours::is_workday(now_beijing()), "national day");
    route(lead_b(2));
    assert(!("staffId" in calls("xiaolanben")[0].payload), "public sea");
}

fn test_other_accounts_do_not_reach_brand_b() {
    let runs = route(make_lead("tencent", "tx_main", #{ leads_id: 3, leads_type: "LEADS_TYPE_FORM" }));
    assert_eq(runs.len(), 0);
}

fn test_follow_records_reach_the_handler_of_their_account() {
    assert_eq(follow("wq_b", #{ lead_code: "tencent-1" }).len(), 1);
    assert_eq(follow("wq_a", #{ lead_code: "tencent-2" }).len(), 0);
}

fn test_the_scripts_own_functions_can_be_called() {
    assert_eq(owner_at("2026-10-10 09:30"), 3001);   // a make-up Saturday is a working day
    assert_eq(owner_at("2026-10-11 09:30"), ());
    set_now("2026-12-05 21:30");                    // Saturday night: the public sea
    route_brand_b(lead_b(5));                        // a handler called directly: its calls count
    assert_eq(calls("xiaolanben", "import_customer").len(), 1);
}

fn test_an_error_in_a_script_function_is_placed_in_the_script() {
    owner_at(42);
}

fn test_time_functions() {
    let t = time::parse("2026-12-05T21:30:00+08:00");
    assert_eq(t.hour, 21);
    assert_eq(t.weekday, 6);
    assert_eq(time::format(time::add_days(t, -5), "%Y-%m-%d %H:%M"), "2026-11-30 21:30");
    assert_eq(time::format("2026-12-05 21:30"), "2026-12-05 21:30:00");
    set_now("2027-01-01 00:30");
    assert_eq(time::yesterday(), "2026-12-31");
}

fn test_prints_are_shown() {
    set_now("2026-12-05 21:30");                    // outside working hours, whenever CI runs
    print("from the test");
    route(lead_b(4));
}
"#;

/// The accounts the brands script names.
const ACCOUNTS: &str = "[accounts.tx_brand_b]\nvendor = \"tencent\"\ntoken = \"t\"\nsecret = \"s\"\n\n[accounts.wq_b]\nvendor = \"waiqin\"\nopenid = \"1\"\nappkey = \"k\"\n\n";

fn brands_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("brands.rhai"), BRANDS).unwrap();
    std::fs::write(scripts.join("brands.test.rhai"), BRANDS_TEST).unwrap();
    dir
}

#[test]
fn script_tests_model_accounts_follow_records_time_seeding_and_prints() {
    let dir = brands_dir();
    let (code, out) = run(dir.path(), &["test", "scripts"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("7 passed, 1 failed"), "{out}");
    assert!(
        out.contains(
            "scripts/brands.test.rhai:43:5: owner_at failed: stdlib/hours.rhai:34:24: Unknown property 'weekday'"
        ) && out.contains("(called from scripts/brands.rhai:10:"),
        "at the test's call, then the function's own place: {out}"
    );
    // What scripts print is shown under their test, in order.
    assert!(
        out.contains("ok   brands.test.rhai::prints_are_shown (")
            && out.contains("     print: from the test\n     print: brand b lead 4 in 深圳市\n"),
        "{out}"
    );
}

#[test]
fn make_lead_and_follow_refuse_accounts_the_config_lacks() {
    let dir = brands_dir();
    std::fs::write(dir.path().join("leadrelay.toml"), ACCOUNTS).unwrap();
    let (code, out) = run(dir.path(), &["test", "scripts"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no tencent account \"tx_main\"; accounts of tencent: tx_brand_b"),
        "{out}"
    );
    assert!(
        out.contains("no waiqin account \"wq_a\"; accounts of waiqin: wq_b"),
        "{out}"
    );
}

#[test]
fn the_sim_section_seeds_route_dry_run_and_is_validated() {
    let dir = brands_dir();
    let lead = dir.path().join("lead.json");
    std::fs::write(
        &lead,
        r#"{"leads_id": 77, "leads_type": "LEADS_TYPE_FORM", "leads_name": "李四", "leads_area": "广东省深圳市"}"#,
    )
    .unwrap();
    let route = |dir: &Path| {
        run(
            dir,
            &[
                "route",
                "--vendor",
                "tencent",
                "--account",
                "tx_brand_b",
                "--dry-run",
                "--scripts",
                "scripts",
                "--lead",
                "lead.json",
            ],
        )
    };
    // A tenant's staff id, always: the simulator accepts it only because [sim] seeds it.
    std::fs::write(
        dir.path().join("scripts/brands.rhai"),
        "on_lead(\"tencent\", \"tx_brand_b\", \"r\");\nfn r(lead) {\n  print(\"brand b lead \" + lead.id + \" in \" + lead.city);\n  xiaolanben::import_customer(map::xiaolanben_customer(lead, 3001));\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("leadrelay.toml"), ACCOUNTS).unwrap();
    let (code, out) = route(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("员工不存在: staffId=3001"), "{out}");
    std::fs::write(
        dir.path().join("leadrelay.toml"),
        format!("{ACCOUNTS}[sim]\nstaff = [{{ id = 3001, name = \"陈静\" }}]\n"),
    )
    .unwrap();
    let (code, out) = route(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("  print: brand b lead 77 in 深圳市"), "{out}");
    assert!(out.contains("\"staffId\":3001"), "{out}");
    assert!(!out.contains("员工不存在"), "{out}");

    std::fs::write(
        dir.path().join("leadrelay.toml"),
        format!("{ACCOUNTS}[sim]\nstaff = [{{ id = 3001, name = \"\" }}]\n"),
    )
    .unwrap();
    let (code, out) = route(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("leadrelay.toml: [sim] staff #1 (id 3001): name must not be empty"),
        "{out}"
    );
    std::fs::write(dir.path().join("leadrelay.toml"), "[sim]\nstaf = []\n").unwrap();
    let (code, out) = run(dir.path(), &["check", "scripts"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown field `staf`"), "{out}");
}

#[test]
fn the_holiday_file_is_configurable_and_checked() {
    let dir = brands_dir();
    let scripts = dir.path().join("scripts");
    // A company holiday on Monday 2026-12-07.
    std::fs::write(
        dir.path().join("holidays.txt"),
        "year 2026\n2026-12-07 off 公司年会\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("leadrelay.toml"),
        format!("{ACCOUNTS}[scripts]\nholidays = \"holidays.txt\"\n"),
    )
    .unwrap();
    std::fs::write(
        scripts.join("brands.test.rhai"),
        "fn test_company_holiday() {\n  assert(!hours::is_workday(\"2026-12-07\"), \"off\");\n  assert(hours::is_workday(\"2026-12-08\"), \"on\");\n  assert(!hours::is_workday(\"2026-12-05\"), \"a Saturday\");\n}\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["test", "scripts"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    let (code, out) = run(dir.path(), &["check", "scripts"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("note: the holiday calendar (holidays.txt) does not cover"),
        "{out}"
    );

    std::fs::write(
        dir.path().join("holidays.txt"),
        "year 2026\n2026-12-07 holiday\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["check", "scripts"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("holidays.txt:2: expected `off` or `work` after the date, got `holiday`"),
        "{out}"
    );
}

#[test]
fn definitions_document_the_stdlib_with_types_and_hide_internals() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(dir.path(), &["definitions", "defs"]);
    assert_eq!(code, 0, "{out}");
    let read = |name: &str| std::fs::read_to_string(dir.path().join("defs").join(name)).unwrap();
    let hours = read("hours.d.rhai");
    assert!(
        hours.contains(
            "/// True on working days from 09:00 to 18:00, Beijing time.\nfn is_open() -> bool;"
        ),
        "{hours}"
    );
    assert!(
        hours
            .contains("fn is_open_at(time: Map | String, start_hour: int, end_hour: int) -> bool;"),
        "{hours}"
    );
    let assign = read("assign.d.rhai");
    assert!(
        assign.contains("fn round_robin(key: String, staff: Array) -> Dynamic;"),
        "{assign}"
    );
    assert!(assign.contains("/// The next of `staff`"), "{assign}");
    let time = read("time.d.rhai");
    assert!(time.contains("fn parse(text: String) -> map;"), "{time}");
    let statics = read("__static__.d.rhai");
    assert!(!statics.contains("assign_counter_next"), "{statics}");
    assert!(
        statics.contains("fn make_lead(vendor: String, account: String, record: map) -> Lead;"),
        "{statics}"
    );
    assert!(read("sim.d.rhai").contains("fn staff(staff: array) -> ();"));
}

/// A year the holiday file does not cover is Monday to Friday, with one warning for the year
/// however often it is asked about; covered years still follow the file.
#[test]
fn a_year_the_holiday_file_does_not_cover_is_monday_to_friday_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("w.rhai"), "on_lead(\"r\");\nfn r(lead) {}\n").unwrap();
    std::fs::write(
        scripts.join("w.test.rhai"),
        "fn test_an_uncovered_year() {\n  assert(hours::is_workday(\"2027-01-01\"), \"a Friday\");\n  assert(!hours::is_workday(\"2027-01-02\"), \"a Saturday\");\n  assert(hours::is_workday(\"2027-02-08\"), \"a Monday\");\n  assert(!hours::is_workday(\"2026-10-01\"), \"a covered year: 国庆\");\n}\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["test", "scripts"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
    assert_eq!(
        out.matches("the holiday calendar does not cover 2027: hours::is_workday falls back to Monday–Friday")
            .count(),
        1,
        "one warning for the year: {out}"
    );
    assert!(!out.contains("does not cover 2026"), "{out}");
}
