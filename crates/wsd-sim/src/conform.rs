//! The output of `wsd-sim conform`: the conformance report of `spi_abi::conform` as text, one
//! line per check, or as JSON.
//!
//! The text is the library's path, one line per check (`pass`, `FAIL` or `skip`, the rule,
//! the check's name and what the provider did), and a closing `result:` line:
//!
//! ```text
//! library: ./libwsd_good.so
//! pass  INIT-2   startup: WSPStartupEx(2.2) with the TCP/IP provider's protocol-info record returned 0
//! pass  INIT-3   address_list_size: WSAEFAULT with 84 bytes needed (4 offered)
//! …
//! result: pass: 16 of 16 checks passed
//! ```

use std::fmt::Write as _;

use spi_abi::conform::{ConformReport, Status};

/// The width of the rule column (the longest rule names, `INIT-2a` and `CLOSE-1`).
const RULE_WIDTH: usize = 7;

/// How a check's status reads in the text: `pass`, `FAIL` (upper case, to stand out) or
/// `skip`.
fn status_text(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
        Status::Skip => "skip",
    }
}

/// The report as text: the library, one line per check, and the result.
pub fn text(report: &ConformReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "library: {}", report.library);
    for c in &report.checks {
        let _ = writeln!(
            s,
            "{}  {:<RULE_WIDTH$}  {}: {}",
            status_text(c.status),
            c.rule,
            c.name,
            c.detail
        );
    }
    let count = |status| report.with_status(status).count();
    let (passed, failed, skipped) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
    );
    let total = report.checks.len();
    if report.passed {
        let _ = writeln!(s, "result: pass: {passed} of {total} checks passed");
    } else {
        let names: Vec<&str> = report
            .with_status(Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        let _ = writeln!(
            s,
            "result: FAIL: {failed} of {total} checks failed ({}), {skipped} skipped, {passed} passed",
            names.join(", ")
        );
    }
    s
}

/// The report as one pretty-printed JSON object (`library`, `checks[]` with `name`, `rule`,
/// `passed`, `status`, `detail`, and `passed`), with a final newline.
pub fn json(report: &ConformReport) -> String {
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use spi_abi::conform::Check;

    fn check(name: &str, rule: &'static str, status: Status, detail: &str) -> Check {
        Check {
            name: name.to_owned(),
            rule,
            passed: status == Status::Pass,
            status,
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn one_line_per_check_with_the_rule_in_a_column_and_a_result_line() {
        let report = ConformReport {
            library: "./libx.so".to_owned(),
            checks: vec![
                check("startup", "INIT-2", Status::Pass, "returned 0"),
                check(
                    "extension.rdma_write",
                    "INIT-4",
                    Status::Fail,
                    "mandatory: refused",
                ),
                check("cleanup", "CLOSE-2", Status::Skip, "skipped: why"),
            ],
            passed: false,
        };
        assert_eq!(
            text(&report),
            "library: ./libx.so\n\
             pass  INIT-2   startup: returned 0\n\
             FAIL  INIT-4   extension.rdma_write: mandatory: refused\n\
             skip  CLOSE-2  cleanup: skipped: why\n\
             result: FAIL: 1 of 3 checks failed (extension.rdma_write), 1 skipped, 1 passed\n"
        );
    }
}
