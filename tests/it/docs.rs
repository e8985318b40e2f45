//! The README's function reference is printed from the functions' documentation; this test
//! fails when they drift apart. Regenerate with
//! `HUAXIANG_UPDATE_README=1 cargo test --test it readme`.

const BEGIN: &str = "<!-- functions:begin: generated from the functions' documentation; \
                     HUAXIANG_UPDATE_README=1 cargo test --test it readme -->";
const END: &str = "<!-- functions:end -->";

#[test]
fn readme_function_reference_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let generated = huaxiang_udfs::reference_markdown();
    assert!(
        !generated.contains("UNDOCUMENTED"),
        "undocumented functions:\n{generated}"
    );
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md lacks the markers {BEGIN} ... {END}");
    };
    let current = &readme[start + BEGIN.len()..end];
    let wanted = format!("\n\n{generated}\n");
    if current != wanted {
        if std::env::var("HUAXIANG_UPDATE_README").is_ok() {
            let updated = format!("{}{BEGIN}{wanted}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated).expect("write README.md");
        } else {
            panic!(
                "README.md's function reference is out of date; run \
                 HUAXIANG_UPDATE_README=1 cargo test --test it readme"
            );
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Every walk-through in `sql/examples/` runs to the end on the demo data (a copy of it: the
/// examples create tables and views).
#[test]
fn sql_examples_run_on_the_demo_data() {
    use super::common::{demo_dir, path_str, run, temp_dir};
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/examples");
    let mut files: Vec<_> = std::fs::read_dir(&examples)
        .expect("sql/examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", examples.display());
    let dir = temp_dir();
    let data = dir.path().join("data");
    copy_dir(demo_dir(), &data);
    for file in files {
        let out = run(&["sql", "--data-dir", path_str(&data), "-f", path_str(&file)]);
        assert!(
            out.status.success(),
            "{} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("rows)"),
            "{} printed no result: {text}",
            file.display()
        );
    }
}
