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
