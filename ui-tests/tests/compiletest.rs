//! Misuse of the macros is a compile error that says the fix: one case a file under
//! `tests/ui/<topic>/`, with the expected message beside it in a `.stderr` file.
//!
//! Each case is one misuse, and reports one error: a type that cannot be a key or a
//! value is not repeated for every place the generated code uses it. `two_errors.rs`
//! cases make two mistakes and must show both.

use std::path::Path;

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/cache/*.rs");
    cases.compile_fail("tests/ui/derive/*.rs");
    cases.compile_fail("tests/ui/memoize/*.rs");
}

/// The number of errors each expected output holds, checked apart from the text so that
/// regenerating the outputs (`TRYBUILD=overwrite`) cannot let a cascade of errors in.
#[test]
fn each_misuse_reports_one_error() {
    let mut checked = 0;
    for topic in ["cache", "derive", "memoize"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/ui")
            .join(topic);
        for entry in std::fs::read_dir(&dir).expect("ui folder") {
            let case = entry.expect("ui entry").path();
            if case.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let path = case.with_extension("stderr");
            let text = std::fs::read_to_string(&path).expect("each case has its stderr file");
            let errors = text.lines().filter(|l| l.starts_with("error")).count();
            let expected = if path.ends_with("two_errors.stderr") {
                2
            } else {
                1
            };
            assert_eq!(errors, expected, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked > 0, "no ui cases found");
}
