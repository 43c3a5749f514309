//! Settings shared by the notebooks.
//!
//! The test runner executes every notebook with `WORKBOOK_QUICK=1` set, so experiments that
//! take minutes at full size run the same code at a reduced size there. A reader (JupyterLab,
//! `./workbook.sh book`) gets the full size. Every notebook prints which one it ran.

/// The environment variable the test runner sets.
pub const QUICK_VAR: &str = "WORKBOOK_QUICK";

/// True when the notebook runs at reduced size (`WORKBOOK_QUICK` set and not `0`).
pub fn quick() -> bool {
    std::env::var(QUICK_VAR).is_ok_and(|v| v != "0" && !v.is_empty())
}

/// `full`, or `reduced` under [`quick`].
pub fn size<T>(full: T, reduced: T) -> T {
    if quick() {
        reduced
    } else {
        full
    }
}

/// A line for the top of a notebook saying which size runs.
pub fn mode() -> String {
    if quick() {
        format!("reduced size ({QUICK_VAR} is set): same code, smaller experiments")
    } else {
        "full size".to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn size_follows_the_switch() {
        // One test touches the variable, so no other test races with it.
        std::env::remove_var(super::QUICK_VAR);
        assert_eq!(super::size(1000, 10), 1000);
        assert_eq!(super::mode(), "full size");
        std::env::set_var(super::QUICK_VAR, "1");
        assert_eq!(super::size(1000, 10), 10);
        std::env::set_var(super::QUICK_VAR, "0");
        assert!(!super::quick());
        std::env::remove_var(super::QUICK_VAR);
    }
}
