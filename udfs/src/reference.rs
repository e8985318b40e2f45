//! The function reference in Markdown, printed from the functions' own documentation so the
//! README cannot drift from the code (DataFusion's `print_functions_docs` prints only its own
//! doc sections).

use std::collections::BTreeMap;
use std::fmt::Write;

use datafusion::logical_expr::Documentation;

/// Markdown for every function of this crate, grouped by documentation section.
pub fn reference_markdown() -> String {
    let scalars = crate::scalar_functions();
    let windows = crate::window_functions();
    let aggregates = crate::aggregate_functions();
    let mut entries: BTreeMap<(&str, String, &str), &Documentation> = BTreeMap::new();
    let mut missing = Vec::new();
    for udf in &scalars {
        match udf.documentation() {
            Some(doc) => {
                entries.insert(
                    (doc.doc_section.label, udf.name().to_string(), "scalar"),
                    doc,
                );
            }
            None => missing.push(udf.name().to_string()),
        }
    }
    for udwf in &windows {
        match udwf.documentation() {
            Some(doc) => {
                entries.insert(
                    (doc.doc_section.label, udwf.name().to_string(), "window"),
                    doc,
                );
            }
            None => missing.push(udwf.name().to_string()),
        }
    }
    for udaf in &aggregates {
        match udaf.documentation() {
            Some(doc) => {
                entries.insert(
                    (doc.doc_section.label, udaf.name().to_string(), "aggregate"),
                    doc,
                );
            }
            None => missing.push(udaf.name().to_string()),
        }
    }
    for table in crate::table_functions() {
        match table.documentation {
            Some(doc) => {
                entries.insert(
                    (doc.doc_section.label, table.name.to_string(), "table"),
                    doc,
                );
            }
            None => missing.push(table.name.to_string()),
        }
    }
    let mut out = String::new();
    for name in &missing {
        let _ = writeln!(out, "- `{name}`: UNDOCUMENTED");
    }
    let mut section = "";
    for ((label, name, kind), doc) in &entries {
        if *label != section {
            let _ = writeln!(out, "### {label}\n");
            section = label;
        }
        let _ = writeln!(out, "#### `{name}` ({kind} function)\n");
        let _ = writeln!(out, "{}\n", doc.description);
        let _ = writeln!(out, "```\n{}\n```\n", doc.syntax_example);
        if let Some(arguments) = &doc.arguments {
            for (arg, description) in arguments {
                let _ = writeln!(out, "- `{arg}`: {description}");
            }
            out.push('\n');
        }
        if let Some(example) = &doc.sql_example {
            let _ = writeln!(out, "{}\n", example.trim());
        }
    }
    out
}
