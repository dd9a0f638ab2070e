//! Compile-fail tests of smartcache's macros, in `tests/`: a package of their own so that
//! trybuild builds each case against smartcache with its default features only.
