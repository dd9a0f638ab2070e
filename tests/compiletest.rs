//! Misuse of the macros is a compile error that says the fix: one case a file under
//! `tests/ui/<topic>/`, with the expected message beside it in a `.stderr` file.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/derive/*.rs");
    cases.compile_fail("tests/ui/memoize/*.rs");
}
