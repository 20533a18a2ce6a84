//! The wsd-sim scenario parser on arbitrary UTF-8 text: `wsd_sim::scenario::parse` (what
//! `wsd-sim check` and `run` use) never panics; a failure carries at least one error, sorted
//! by line, each on a line of the text (1 to the number of lines), and every error displays.

use std::fmt::Write;

/// The target's body: one input, any bytes.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Err(errors) = wsd_sim::scenario::parse(text) else {
        return;
    };
    let errors = errors.errors();
    assert!(!errors.is_empty(), "a failed parse reported no error");
    assert!(
        errors.windows(2).all(|w| w[0].line <= w[1].line),
        "errors not sorted by line"
    );
    let lines = 1 + text.matches('\n').count();
    let mut out = String::new();
    for e in errors {
        assert!(
            (1..=lines).contains(&e.line),
            "line {} outside 1..={lines}: {e}",
            e.line
        );
        let _ = writeln!(out, "{e}");
    }
}
