//! Editor definitions (`leadrelay definitions`) for what Rhai's own writer cannot describe: the
//! stdlib modules are Rhai source, so their parameters have no types and their doc comments do
//! not reach the `.d.rhai` files; and a few natives exist only for the stdlib to stand on.
//!
//! Each stdlib function documents itself in its source: its `///` comment, whose last line is
//! its typed declaration (`/// fn round_robin(key: String, staff: Array) -> Dynamic`). A unit
//! test keeps every declaration's name and parameters equal to the function's.

use std::path::Path;

use super::stdlib::MODULES;

/// Natives the stdlib modules call that scripts should not: left out of the definitions.
pub const INTERNAL: &[&str] = &["assign_counter_next"];

/// One stdlib function as its source documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documented {
    /// The function's name.
    pub name: String,
    /// Its parameter names, as the `fn` line has them.
    pub params: Vec<String>,
    /// The typed declaration (`fn name(a: T) -> R`), if the comment ends with one.
    pub declaration: Option<String>,
    /// The doc comment lines without the declaration, each starting with `///`.
    pub docs: Vec<String>,
}

/// The documented functions of a stdlib module's source, in order.
pub fn documented(source: &str) -> Vec<Documented> {
    let mut out = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    for line in source.lines() {
        let line = line.trim_end();
        if line.starts_with("///") {
            comment.push(line.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let params = rest
                .split_once('(')
                .and_then(|(_, p)| p.split_once(')'))
                .map(|(p, _)| {
                    p.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let declaration = comment
                .last()
                .and_then(|l| l.strip_prefix("/// fn "))
                .map(|d| format!("fn {}", d.trim()));
            if declaration.is_some() {
                comment.pop();
            }
            out.push(Documented {
                name,
                params,
                declaration,
                docs: std::mem::take(&mut comment),
            });
        }
        comment.clear();
    }
    out
}

/// The `.d.rhai` text of one stdlib module.
pub fn module_definition(module: &str, source: &str) -> String {
    let mut text = format!("module {module};\n");
    let header: Vec<&str> = source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .collect();
    if !header.is_empty() {
        text.insert_str(0, &(header.join("\n") + "\n\n"));
    }
    for f in documented(source) {
        text.push('\n');
        for line in &f.docs {
            text.push_str(line);
            text.push('\n');
        }
        let declaration = f.declaration.clone().unwrap_or_else(|| {
            let params: Vec<String> = f.params.iter().map(|p| format!("{p}: ?")).collect();
            format!("fn {}({}) -> ?", f.name, params.join(", "))
        });
        text.push_str(&declaration);
        text.push_str(";\n");
    }
    text
}

/// `text` (a `.d.rhai` file) without the [`INTERNAL`] functions and their doc comments.
pub fn without_internals(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with("///") {
            pending.push(line);
            continue;
        }
        let internal = INTERNAL
            .iter()
            .any(|name| line.starts_with(&format!("fn {name}(")));
        if !internal {
            out.append(&mut pending);
            out.push(line);
        }
        pending.clear();
    }
    out.append(&mut pending);
    out.join("\n") + "\n"
}

/// Rewrites what Rhai wrote into `dir`: each stdlib module's file from its documented source,
/// and the global file without internals.
pub fn finish(dir: &Path) -> std::io::Result<()> {
    for (name, source) in MODULES {
        std::fs::write(
            dir.join(format!("{name}.d.rhai")),
            module_definition(name, source),
        )?;
    }
    let statics = dir.join("__static__.d.rhai");
    if statics.exists() {
        let text = std::fs::read_to_string(&statics)?;
        std::fs::write(&statics, without_internals(&text))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stdlib_function_has_docs_and_a_typed_declaration_matching_it() {
        for (module, source) in MODULES {
            let functions = documented(source);
            assert!(!functions.is_empty(), "{module}");
            for f in functions {
                let at = format!("stdlib/{module}.rhai: fn {}", f.name);
                assert!(!f.docs.is_empty(), "{at} has no doc comment");
                let declaration = f.declaration.unwrap_or_else(|| {
                    panic!("{at}: the doc comment does not end with `/// fn …`")
                });
                let (head, _) = declaration.split_once(')').expect("a declaration has (…)");
                let (name, params) = head
                    .trim_start_matches("fn ")
                    .split_once('(')
                    .expect("a declaration has (…)");
                assert_eq!(name, f.name, "{at}");
                let names: Vec<String> = params
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| {
                        let (n, ty) = p
                            .split_once(':')
                            .unwrap_or_else(|| panic!("{at}: `{p}` has no type"));
                        assert!(!ty.trim().is_empty(), "{at}");
                        n.trim().to_string()
                    })
                    .collect();
                assert_eq!(names, f.params, "{at}");
            }
        }
    }

    #[test]
    fn internals_are_left_out() {
        let text = "/// Now.\nfn now_beijing() -> map;\n\n/// Internal.\nfn assign_counter_next(_: ?) -> ;\n\n/// Skip.\nfn skip(reason: string) -> ();\n";
        assert_eq!(
            without_internals(text),
            "/// Now.\nfn now_beijing() -> map;\n\n\n/// Skip.\nfn skip(reason: string) -> ();\n"
        );
    }
}
