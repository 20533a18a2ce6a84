//! The report's three formats: JSON (`scenario.md` §2), readable text, and a Mermaid
//! sequence diagram of the trace. All three are deterministic: they show only what the
//! report holds, in its order.

use std::fmt::Write as _;

use crate::report::{ProviderReport, Report, StepReport};

/// The report as one pretty-printed JSON object, with a final newline.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

/// The hosts in report order (first appearance in providers, routes, diagnostics, steps).
fn hosts(report: &Report) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let all = report
        .providers
        .iter()
        .map(|p| p.host.as_str())
        .chain(report.routes.iter().map(|r| r.host.as_str()))
        .chain(report.diagnostics.iter().map(|d| d.host.as_str()))
        .chain(report.steps.iter().map(|s| s.host.as_str()))
        .chain(report.trace.iter().map(|t| t.host.as_str()));
    for h in all {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

fn extensions_text(p: &ProviderReport) -> String {
    let e = &p.extensions;
    let all = [
        ("register_memory", e.register_memory),
        ("deregister_memory", e.deregister_memory),
        ("register_rdma_memory", e.register_rdma_memory),
        ("deregister_rdma_memory", e.deregister_rdma_memory),
        ("rdma_write", e.rdma_write),
        ("rdma_read", e.rdma_read),
        (
            "memory_registration_cache_callback",
            e.memory_registration_cache_callback,
        ),
    ];
    let on = all.iter().filter(|(_, b)| *b).count();
    if on == all.len() {
        return "all 7".to_owned();
    }
    if on == 0 {
        return "none".to_owned();
    }
    let missing: Vec<&str> = all.iter().filter(|(_, b)| !*b).map(|(n, _)| *n).collect();
    format!("{on} of 7, without {}", missing.join(", "))
}

fn step_line(i: usize, s: &StepReport) -> String {
    let mut line = format!(
        "  {:>2}. line {:<4} {:<8} {:<15} {} -> {}",
        i + 1,
        s.line,
        s.host,
        s.op,
        s.target,
        s.result
    );
    match (&s.expected, s.ok) {
        (Some(_), true) => line.push_str("  [expect ok]"),
        (Some(e), false) => line.push_str(&format!("  [EXPECTED {e}]")),
        (None, _) => {}
    }
    line
}

/// The report as readable text.
pub fn text(report: &Report) -> String {
    let mut o = String::new();
    for host in hosts(report) {
        let _ = writeln!(o, "host {host}");
        let providers: Vec<&ProviderReport> =
            report.providers.iter().filter(|p| p.host == host).collect();
        if providers.is_empty() {
            let _ = writeln!(o, "  providers: none (TCP/IP only)");
        } else {
            let _ = writeln!(o, "  providers:");
        }
        // The name column is as wide as the longest name on the host (at least 10).
        let width = providers
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0)
            .max(10);
        for p in providers {
            let _ = writeln!(
                o,
                "    {:<width$} {:<9} version {:<4} {}",
                p.name,
                state_name(p),
                p.version.as_deref().unwrap_or("-"),
                p.guid
            );
            if p.version.is_some() {
                let _ = writeln!(o, "      extensions: {}", extensions_text(p));
            }
            if !p.addresses.is_empty() {
                let _ = writeln!(o, "      addresses:  {}", p.addresses.join(", "));
            }
            if let Some(r) = &p.reason {
                let _ = writeln!(
                    o,
                    "      reason:     {} at {}: {}",
                    r.code, r.step, r.detail
                );
            }
        }
        let routes: Vec<_> = report.routes.iter().filter(|r| r.host == host).collect();
        if routes.is_empty() {
            let _ = writeln!(o, "  routes: none (everything goes to TCP/IP)");
        } else {
            let _ = writeln!(o, "  routes:");
            for r in routes {
                let _ = writeln!(o, "    {:<22} -> {}", r.subnet, r.provider);
            }
        }
        let diags: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.host == host)
            .collect();
        if !diags.is_empty() {
            let _ = writeln!(o, "  diagnostics:");
            for d in diags {
                let who = d.provider.as_deref().unwrap_or("-");
                let _ = writeln!(o, "    {} ({who}): {}", d.code, d.detail);
            }
        }
        let _ = writeln!(o);
    }
    if !report.steps.is_empty() {
        let _ = writeln!(o, "steps:");
        for (i, s) in report.steps.iter().enumerate() {
            let _ = writeln!(o, "{}", step_line(i, s));
            if let Some(r) = &s.reason {
                let wsa = r
                    .wsa
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                let _ = writeln!(o, "        {}{wsa}: {}", r.code.name(), r.detail);
            }
        }
        let _ = writeln!(o);
    }
    let sum = &report.summary;
    let p = &sum.providers;
    let _ = writeln!(
        o,
        "summary: providers {} ready, {} rejected, {} ignored, {} retiring, {} retired",
        p.ready, p.rejected, p.ignored, p.retiring, p.retired
    );
    // Connects and explains (decisions, not connections) are counted apart.
    for (label, results, reasons) in [
        ("connects", &sum.connects, &sum.reasons),
        ("explains", &sum.explains, &sum.explain_reasons),
    ] {
        if results.is_empty() {
            continue;
        }
        let c: Vec<String> = results.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let r: Vec<String> = reasons
            .iter()
            .map(|(k, v)| format!("{} {v}", k.name()))
            .collect();
        let _ = writeln!(o, "         {label} {}", c.join(", "));
        let _ = writeln!(o, "           by reason {}", r.join(", "));
    }
    let failed = report.steps.iter().filter(|s| !s.ok).count();
    let checked = report.steps.iter().filter(|s| s.expected.is_some()).count();
    let _ = writeln!(
        o,
        "         expects  {} of {checked} held",
        checked - failed
    );
    o
}

fn state_name(p: &ProviderReport) -> &'static str {
    use crate::report::ProviderState as S;
    match p.state {
        S::Ready => "ready",
        S::Rejected => "rejected",
        S::Ignored => "ignored",
        S::Retiring => "retiring",
        S::Retired => "retired",
    }
}

/// Mermaid text: `;` and `#` (and `<`, `>`) become entity codes, line breaks spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A participant id: `host.provider` with characters Mermaid dislikes replaced by `_`.
fn participant(host: &str, provider: &str) -> String {
    format!("{host}.{provider}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The trace as a Mermaid `sequenceDiagram`: a `Switch` participant and one per provider
/// and host, an arrow per call and a reply arrow with its result, a note per host
/// initialization and per step.
pub fn mermaid(report: &Report) -> String {
    let mut o = String::from("sequenceDiagram\n    participant Switch\n");
    let mut seen: Vec<String> = Vec::new();
    for t in &report.trace {
        let id = participant(&t.host, &t.provider);
        if !seen.contains(&id) {
            let _ = writeln!(o, "    participant {id}");
            seen.push(id);
        }
    }
    let mut current: Option<Option<usize>> = None;
    let mut current_host: Option<&str> = None;
    let note = |o: &mut String, step: Option<usize>, host: &str| {
        let text = match step.and_then(|i| report.steps.get(i).map(|s| (i, s))) {
            Some((i, s)) => format!(
                "step {} (line {}) {}: {} {} → {}",
                i + 1,
                s.line,
                s.host,
                s.op,
                s.target,
                s.result
            ),
            None => format!("{host}: initialize"),
        };
        let _ = writeln!(o, "    Note over Switch: {}", escape(&text));
    };
    let mut next_step = 0usize;
    for t in &report.trace {
        // Steps without calls get their note when a later call (or the end) passes them.
        if let Some(s) = t.step {
            while next_step < s {
                note(&mut o, Some(next_step), "");
                next_step += 1;
            }
        }
        if current != Some(t.step) || (t.step.is_none() && current_host != Some(&t.host)) {
            note(&mut o, t.step, &t.host);
            if let Some(s) = t.step {
                next_step = s + 1;
            }
            current = Some(t.step);
            current_host = Some(&t.host);
        }
        let id = participant(&t.host, &t.provider);
        let _ = writeln!(o, "    Switch->>{id}: {}", escape(&t.call));
        let _ = writeln!(o, "    {id}-->>Switch: {}", escape(&t.result));
    }
    while next_step < report.steps.len() {
        note(&mut o, Some(next_step), "");
        next_step += 1;
    }
    o
}
