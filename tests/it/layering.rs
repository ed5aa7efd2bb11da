//! The crate's layering, checked on the source: every `crate::…` path in `src/` must point down
//! the stack written in `src/lib.rs`, and every top-level module must be on that map.
//!
//! Source text rather than compiler output because the rule is about which files may name which
//! modules; a re-export (`pub use crate::store::types::IntakeError` in `trigger`) is an edge of
//! the file that writes it, which is what we want to catch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Who may use whom. `secret`, `clock` and `metrics` (the bottom) may be used by every module and are not
/// listed. The order is the one in the crate doc: `lead ← connectors ← config ← host ← trigger ←
/// daemon ← cli`, `sim` beside the connectors, `store` on `lead` only, `inspect` on the journal (and used by the daemon's console),
/// `demo`/`bench`/`init`/`cli` on top. Files named `rhai.rs` outside `host/` are Rhai glue and belong to
/// the host layer (only `host/` and `*/rhai.rs` know Rhai).
const LAYERS: &[(&str, &[&str])] = &[
    ("secret", &[]),
    ("clock", &[]),
    ("metrics", &[]),
    ("lead", &[]),
    ("store", &["lead"]),
    ("connectors", &["lead"]),
    ("config", &["lead", "connectors", "store"]),
    ("sim", &["lead", "connectors", "config"]),
    ("host", &["lead", "connectors", "config", "store"]),
    (
        "trigger",
        &["lead", "connectors", "config", "store", "host"],
    ),
    ("inspect", &["lead", "store"]),
    // The console (daemon/console/) shows a lead's story as `leads show` prints it.
    (
        "daemon",
        &[
            "lead",
            "connectors",
            "config",
            "store",
            "host",
            "trigger",
            "inspect",
        ],
    ),
    (
        "preview",
        &[
            "lead",
            "connectors",
            "config",
            "sim",
            "store",
            "host",
            "trigger",
            "daemon",
            "inspect",
        ],
    ),
    (
        "demo",
        &[
            "lead",
            "connectors",
            "config",
            "sim",
            "store",
            "host",
            "trigger",
            "daemon",
            "inspect",
        ],
    ),
    (
        "bench",
        &[
            "lead",
            "connectors",
            "config",
            "sim",
            "store",
            "host",
            "trigger",
            "daemon",
            "inspect",
        ],
    ),
    ("init", &["lead", "connectors", "config", "sim"]),
    (
        "cli",
        &[
            "lead",
            "connectors",
            "config",
            "sim",
            "store",
            "host",
            "trigger",
            "daemon",
            "inspect",
            "demo",
            "bench",
            "init",
            "preview",
        ],
    ),
];

const BOTTOM: &[&str] = &["secret", "clock", "metrics"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The layer a file belongs to: its top-level module, except Rhai glue (`*/rhai.rs`) → `host`.
/// `None` for the crate root and the binary, which are not in any layer.
fn layer_of(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    if top == "lib" || top == "main" {
        return None;
    }
    if parts.len() > 1 && parts.last().is_some_and(|f| f == "rhai.rs") {
        return Some("host".to_string());
    }
    Some(top)
}

/// Drops `//` comments (doc links are not dependencies) and the text of string literals, so only
/// code is scanned.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_string = false;
        let mut prev = '\0';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_string {
                if c == '"' && prev != '\\' {
                    in_string = false;
                }
                prev = if prev == '\\' && c == '\\' { '\0' } else { c };
                continue;
            }
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            // A char literal '"' must not open a string.
            if c == '"' && prev != '\'' {
                in_string = true;
                prev = '\0';
                continue;
            }
            out.push(c);
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// The top-level modules named by `crate::x` and `crate::{x, y::z}` paths in `code`.
fn crate_targets(code: &str) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `$crate::` and `leadrelay_crate::` are not this crate's root path.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The first segment of each item at depth 1 of the braces.
            let mut depth = 1;
            let mut item_start = true;
            let mut ident = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            // The last item ends at the closing brace: `crate::{a, b}`.
                            if item_start && !ident.is_empty() {
                                targets.insert(std::mem::take(&mut ident));
                            }
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 && item_start {
                    if c.is_alphanumeric() || c == '_' {
                        ident.push(c);
                    } else if !ident.is_empty() {
                        targets.insert(std::mem::take(&mut ident));
                        item_start = false;
                    }
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !ident.is_empty() {
                targets.insert(ident);
            }
        }
    }
    targets
}

/// Every edge `(file, its layer, the module it names)` that the table does not allow.
fn violations() -> Vec<String> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let Some(layer) = layer_of(relative) else {
            continue;
        };
        let Some((_, allowed)) = LAYERS.iter().find(|(name, _)| *name == layer) else {
            bad.push(format!(
                "src/{}: module `{layer}` has no place in the layer table of tests/it/layering.rs (and src/lib.rs)",
                relative.display()
            ));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for target in crate_targets(&code) {
            if target == layer
                || BOTTOM.contains(&target.as_str())
                || allowed.contains(&target.as_str())
            {
                continue;
            }
            bad.push(format!(
                "src/{}: layer `{layer}` uses `crate::{target}`, which is not below it (allowed: {})",
                relative.display(),
                allowed.join(", ")
            ));
        }
    }
    bad
}

#[test]
fn no_crate_path_points_up_the_layers() {
    let bad = violations();
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

#[test]
fn the_scanner_sees_plain_and_grouped_paths_but_not_comments_or_strings() {
    let code = code_only(
        "use crate::lead::Lead;\nuse crate::{store::types::{A, B}, config};\n\
         // crate::daemon in a comment\nlet s = \"crate::cli\"; let t = crate::host::x();\n\
         macro_rules! m { () => { $crate::bench } }\n",
    );
    let targets: Vec<String> = crate_targets(&code).into_iter().collect();
    assert_eq!(targets, ["config", "host", "lead", "store"]);
}

#[test]
fn the_layer_table_refuses_an_upward_edge() {
    // The table itself, not only today's code: the journal may not name the host, the triggers
    // or the config, and the connectors may not name the config (the cycles issue 9 removed).
    let allowed = |layer: &str, target: &str| {
        LAYERS
            .iter()
            .find(|(name, _)| *name == layer)
            .is_some_and(|(_, a)| a.contains(&target))
    };
    assert!(!allowed("store", "host"));
    assert!(!allowed("store", "trigger"));
    assert!(!allowed("store", "config"));
    assert!(!allowed("connectors", "config"));
    assert!(!allowed("lead", "connectors"));
    assert!(!allowed("config", "trigger"));
    assert!(allowed("trigger", "store"));
}

/// The top-level modules `src/lib.rs` declares with `pub mod`.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect()
}

#[test]
fn the_crate_map_names_every_module_and_the_layer_table_places_it() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let modules = declared_modules(&lib);
    assert!(modules.len() >= 10, "found only {modules:?} in src/lib.rs");
    for module in &modules {
        assert!(
            doc.contains(&format!("- [`{module}`] — ")),
            "src/lib.rs declares `pub mod {module}` but its crate doc has no map line \"- [`{module}`] — …\""
        );
        assert!(
            LAYERS.iter().any(|(name, _)| name == module),
            "`pub mod {module}` has no place in the layer table of tests/it/layering.rs"
        );
    }
    // And no map line for a module that is gone.
    for line in doc.lines() {
        if let Some(rest) = line.trim().strip_prefix("- [`") {
            let name = rest.split('`').next().unwrap();
            assert!(
                modules.iter().any(|m| m == name),
                "src/lib.rs maps [`{name}`], which is not a `pub mod`"
            );
        }
    }
}

/// The journal's seam: the database crates stay in their backend's folder, so everything above
/// `store` works with either backend.
#[test]
fn database_crates_stay_in_their_journal_backend() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut outside = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src_dir()).unwrap().to_path_buf();
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for (krate, home) in [
            ("rusqlite", "store/sqlite"),
            ("tokio_postgres", "store/postgres"),
            ("deadpool_postgres", "store/postgres"),
        ] {
            if code.contains(&format!("{krate}::")) && !relative.starts_with(home) {
                outside.push(format!(
                    "{} uses {krate} outside {home}/",
                    relative.display()
                ));
            }
        }
    }
    assert!(outside.is_empty(), "{outside:#?}");
}
