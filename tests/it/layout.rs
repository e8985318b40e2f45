//! ARCHITECTURE.md's invariants about the code's layout, checked on the sources:
//!
//! - no module imports a module that imports it back (between siblings: a module and its own
//!   parts may use each other), in `src/` and in `udfs/src/`;
//! - every session is built by the engine's session builder (`src/engine/session.rs`): nothing
//!   else registers functions or analyzer rules or builds a session state, and the
//!   registration functions of `pg` and the `udfs` crate are called from there alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A file's module path: `src/pg/rewrite/forms.rs` → `[pg, rewrite, forms]`; `mod.rs`,
/// `lib.rs` and `main.rs` are their directory's module.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments and its `#[cfg(test)]` modules (tests may reach
/// anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a piece of code names from `crate::` or `super::`, resolved against the module
/// `here`: `crate::a::b::{c, d}` gives `[a, b, c]` and `[a, b, d]`.
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (start, prefix) in code
        .match_indices("crate::")
        .map(|(i, _)| (i, "crate::"))
        .chain(code.match_indices("super::").map(|(i, _)| (i, "super::")))
    {
        if start > 0 && code[..start].ends_with(|c: char| is_ident(c) || c == ':') {
            continue; // `huaxiang_udfs::crate…` or `super::super::` (handled below)
        }
        let mut base: Vec<String> = if prefix == "crate::" {
            Vec::new()
        } else {
            // The parent of the file's module (`mod.rs` is its directory's module).
            let mut base = here.to_vec();
            base.pop();
            base
        };
        let mut rest = &code[start + prefix.len()..];
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        let mut path = base.clone();
        loop {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if name.is_empty() {
                if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let item: String =
                            item.trim().chars().take_while(|c| is_ident(*c)).collect();
                        if !item.is_empty() && item != "self" {
                            let mut p = path.clone();
                            p.push(item);
                            out.push(p);
                        }
                    }
                    path.clear();
                }
                break;
            }
            rest = &rest[name.len()..];
            path.push(name);
            match rest.strip_prefix("::") {
                Some(after) => rest = after,
                None => break,
            }
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

/// The longest prefix of `path` that is a module of `modules`.
fn module_named(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// The import circles between sibling modules of the crate under `root`, as `a ↔ b`
/// (through any chain).
fn circles(root: &Path) -> Vec<String> {
    let files = rust_files(root);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(root, f)).collect();
    // Edges between siblings: a use of `x::y` from `a::b` is an edge from the child of their
    // common ancestor that holds `a::b` to the one that holds `x::y`.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let here = module_of(root, file);
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for path in named_paths(&code_of(&text), &here) {
            let Some(target) = module_named(&path, &modules) else {
                continue;
            };
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == target.len() {
                continue; // a module and its own parts
            }
            edges
                .entry(here[..=common].to_vec())
                .or_default()
                .insert(target[..=common].to_vec());
        }
    }
    let reaches = |from: &Vec<String>, to: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut pending = vec![from.clone()];
        while let Some(m) = pending.pop() {
            if &m == to {
                return true;
            }
            if seen.insert(m.clone()) {
                pending.extend(edges.get(&m).into_iter().flatten().cloned());
            }
        }
        false
    };
    let mut found = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if from < to && reaches(to, from) {
                found.push(format!("{} ↔ {}", from.join("::"), to.join("::")));
            }
        }
    }
    found
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    for crate_root in ["src", "udfs/src"] {
        let found = circles(&workspace().join(crate_root));
        assert!(
            found.is_empty(),
            "import circles in {crate_root}/ (move the shared type where both can use it): {found:#?}"
        );
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).expect("dir");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("write");
    std::fs::write(src.join("a.rs"), "use crate::b::inner::Thing;\n").expect("write");
    std::fs::write(src.join("b/mod.rs"), "pub mod inner;\n").expect("write");
    std::fs::write(
        src.join("b/inner.rs"),
        "pub struct Thing;\nfn f() { crate::a::g(); }\n",
    )
    .expect("write");
    assert_eq!(circles(src), ["a ↔ b"]);
    // Within a module, its parts may use each other through `super`.
    std::fs::write(
        src.join("b/mod.rs"),
        "pub mod inner;\npub use inner::Thing;\n",
    )
    .expect("write");
    std::fs::write(src.join("a.rs"), "pub fn g() {}\n").expect("write");
    std::fs::write(
        src.join("b/inner.rs"),
        "pub struct Thing;\nfn f() { super::helper(); }\n",
    )
    .expect("write");
    assert!(circles(src).is_empty());
}

/// The calls that build or change a session.
const SESSION_BUILDING: &[&str] = &[
    "SessionStateBuilder",
    "add_analyzer_rule",
    "register_udf(",
    "register_udaf(",
    "register_udwf(",
    "register_udtf(",
    "register_catalog(",
];

#[test]
fn sessions_are_built_by_the_session_builder_alone() {
    let src = workspace().join("src");
    let builder = src.join("engine").join("session.rs");
    let pg = src.join("pg");
    let mut offenders = Vec::new();
    for file in rust_files(&src) {
        if file == builder {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let code = code_of(&text);
        let relative = file
            .strip_prefix(&src)
            .unwrap_or(&file)
            .display()
            .to_string();
        // `pg`'s registration functions register what `pg::register` is for; only the
        // builder calls it.
        if !file.starts_with(&pg) {
            for call in SESSION_BUILDING {
                if code.contains(call) {
                    offenders.push(format!("{relative}: {call}"));
                }
            }
        }
        for call in [
            "pg::register(",
            "register_all_with_models(",
            "register_all(",
        ] {
            if code.contains(call) {
                offenders.push(format!("{relative}: {call}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "sessions are built in src/engine/session.rs alone: {offenders:#?}"
    );
}
