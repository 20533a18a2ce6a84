//! The report's three formats: JSON (`docs/scenario.md`), readable text, and a Mermaid
//! sequence diagram of the trace. All three are deterministic: they show only what the
//! report holds, in its order.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{
    ConnectionReport, DataCounts, ProviderReport, ReasonCode, Received, Report, SendFields,
    StateCounts, StepCounts, StepReport, TraceEvent,
};

/// The report as one pretty-printed JSON object, with a final newline.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

/// The hosts in report order: the report's `hosts` (every host of the scenario, in file
/// order), then any other host an element names (a report built without `hosts`).
fn hosts(report: &Report) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let all = report
        .hosts
        .iter()
        .map(String::as_str)
        .chain(report.providers.iter().map(|p| p.host.as_str()))
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

/// `n byte(s)`.
fn bytes_text(n: u64) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

/// A send as an arrow between the hosts: `alpha -> beta: 100 bytes inline, 1 message, 0 RDMA
/// operations` (`… 100 bytes tcp` on TCP/IP), or `… not sent (error:WSAENOBUFS)` when the
/// send failed.
fn send_text(s: &StepReport, f: &SendFields) -> String {
    let urgent = if f.oob { " urgent" } else { "" };
    let ends = match &f.to {
        Some(to) => format!("{} -> {to}", s.host),
        None => s.host.clone(),
    };
    let what = format!("{ends}: {}{urgent}", bytes_text(f.bytes));
    match (&f.path, f.messages, f.rdma_ops) {
        (Some(path), _, _) if path == "tcp" => format!("{what} tcp"),
        (Some(path), Some(m), Some(r)) => {
            let messages = if m == 1 { "message" } else { "messages" };
            let ops = if r == 1 { "operation" } else { "operations" };
            format!("{what} {path}, {m} {messages}, {r} RDMA {ops}")
        }
        _ => format!("{what} not sent ({})", s.result),
    }
}

/// What the other end read: `beta read 100 bytes, intact`, `beta read nothing, then the end of
/// the stream, intact`, `beta read 9 bytes: NOT INTACT: …`.
fn received_text(r: &Received) -> String {
    let mut parts = Vec::new();
    if r.bytes > 0 {
        parts.push(bytes_text(r.bytes));
    }
    if r.urgent > 0 {
        parts.push("the urgent byte".to_owned());
    }
    let mut t = format!(
        "{} read {}",
        r.host,
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(" and ")
        }
    );
    if r.end_of_stream {
        t.push_str(", then the end of the stream");
    }
    match (&r.detail, r.intact) {
        (d, false) => {
            t.push_str(": NOT INTACT");
            if let Some(d) = d {
                t.push_str(&format!(": {d}"));
            }
        }
        (Some(d), true) => t.push_str(&format!(", intact ({d})")),
        (None, true) => t.push_str(", intact"),
    }
    t
}

/// The line under a send or shutdown step: the send, and what the other end read.
fn data_line(s: &StepReport) -> Option<String> {
    let received = s.received.as_ref().map(|r| r.as_ref().map(received_text));
    match (&s.send, received) {
        (Some(f), Some(Some(r))) => Some(format!("{}; {r}", send_text(s, f))),
        (Some(f), _) => Some(send_text(s, f)),
        (None, Some(Some(r))) => Some(r),
        (None, _) => None,
    }
}

/// The report as readable text: the final state of each host (its providers, routes and
/// diagnostics after all steps, under a heading that says so), the steps with their results
/// (each decided on the state at its point), and the summary, over all hosts and per host.
pub fn text(report: &Report) -> String {
    let mut o = String::new();
    match report.steps.len() {
        0 => o.push_str("state after initialization (the scenario has no steps):\n\n"),
        1 => o.push_str("final state (after the scenario's one step):\n\n"),
        n => {
            let _ = writeln!(o, "final state (after all {n} steps):\n");
        }
    }
    for host in hosts(report) {
        host_text(&mut o, report, host);
    }
    if !report.steps.is_empty() {
        let _ = writeln!(
            o,
            "steps (in order; each result is from the state at that step):"
        );
        for (i, s) in report.steps.iter().enumerate() {
            let _ = writeln!(o, "{}", step_line(i, s));
            if let Some(on) = &s.listeners {
                let _ = writeln!(o, "        listening on: {}", on.join(", "));
            }
            if let Some(r) = &s.reason {
                let wsa = r
                    .wsa
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                let _ = writeln!(o, "        {}{wsa}: {}", r.code.name(), r.detail);
            }
            if let Some(line) = data_line(s) {
                let _ = writeln!(o, "        {line}");
            }
        }
        let _ = writeln!(o);
    }
    summary_text(&mut o, report);
    o
}

/// One host's block of the final state.
fn host_text(o: &mut String, report: &Report, host: &str) {
    let _ = writeln!(o, "host {host}");
    let providers: Vec<&ProviderReport> =
        report.providers.iter().filter(|p| p.host == host).collect();
    if providers.is_empty() {
        let _ = writeln!(o, "  providers: no SAN providers (TCP/IP only)");
    } else {
        let _ = writeln!(o, "  providers:");
    }
    // The name column is as wide as the longest name on the host (at least 10).
    let width = providers
        .iter()
        .map(|p| p.name.chars().count())
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
    let conns: Vec<_> = report
        .connections
        .iter()
        .filter(|c| c.host == host)
        .collect();
    if !conns.is_empty() {
        let _ = writeln!(o, "  connections:");
        for c in conns {
            let _ = writeln!(
                o,
                "    {:<10} {} -> {} via {} ({}; sent {}, received {})",
                c.id, c.local, c.remote, c.via, c.state, c.bytes_sent, c.bytes_received
            );
        }
    }
    let _ = writeln!(o);
}

fn states_text(p: &StateCounts) -> String {
    format!(
        "{} ready, {} rejected, {} ignored, {} retiring, {} retired",
        p.ready, p.rejected, p.ignored, p.retiring, p.retired
    )
}

fn counts_text<K>(m: &BTreeMap<K, u32>, name: impl Fn(&K) -> &str) -> String {
    let v: Vec<String> = m.iter().map(|(k, n)| format!("{} {n}", name(k))).collect();
    v.join(", ")
}

/// The summary: each count over all hosts, then per host (`on <host>`) when there are
/// several hosts.
fn summary_text(o: &mut String, report: &Report) {
    let sum = &report.summary;
    let split = sum.per_host.len() > 1;
    let width = sum
        .per_host
        .iter()
        .map(|h| h.host.chars().count())
        .max()
        .unwrap_or(0);
    let _ = writeln!(o, "summary: providers {}", states_text(&sum.providers));
    if split {
        for h in &sum.per_host {
            let _ = writeln!(
                o,
                "           on {:<width$}  {}",
                h.host,
                states_text(&h.providers)
            );
        }
    }
    // Connects and explains (decisions, not connections) are counted apart.
    type Pick = fn(&StepCounts) -> (&BTreeMap<String, u32>, &BTreeMap<ReasonCode, u32>);
    let picks: [(&str, Pick); 2] = [
        ("connects", |c| (&c.connects, &c.reasons)),
        ("explains", |c| (&c.explains, &c.explain_reasons)),
    ];
    for (label, pick) in picks {
        let (results, reasons) = pick(&sum.steps);
        if results.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "         {label} {}",
            counts_text(results, String::as_str)
        );
        let _ = writeln!(
            o,
            "           by reason {}",
            counts_text(reasons, |k| k.name())
        );
        if split {
            for h in &sum.per_host {
                let (results, reasons) = pick(&h.steps);
                let line = if results.is_empty() {
                    "none".to_owned()
                } else {
                    format!(
                        "{}; by reason {}",
                        counts_text(results, String::as_str),
                        counts_text(reasons, |k| k.name())
                    )
                };
                let _ = writeln!(o, "           on {:<width$}  {line}", h.host);
            }
        }
    }
    if !sum.data.sends.is_empty() {
        let _ = writeln!(
            o,
            "         sends {}",
            counts_text(&sum.data.sends, String::as_str)
        );
        let _ = writeln!(o, "           bytes per path {}", paths_text(&sum.data));
        if split {
            for h in &sum.per_host {
                let line = if h.data.sends.is_empty() {
                    "none".to_owned()
                } else {
                    format!(
                        "{}; bytes per path {}",
                        counts_text(&h.data.sends, String::as_str),
                        paths_text(&h.data)
                    )
                };
                let _ = writeln!(o, "           on {:<width$}  {line}", h.host);
            }
        }
    }
    let failed = report.steps.iter().filter(|s| !s.ok).count();
    let checked = report.steps.iter().filter(|s| s.expected.is_some()).count();
    let _ = writeln!(
        o,
        "         expects  {} of {checked} held",
        checked - failed
    );
}

fn paths_text(d: &DataCounts) -> String {
    let b = &d.bytes_per_path;
    format!(
        "inline {}, rdma_read {}, rdma_write {}, tcp {}",
        b.inline, b.rdma_read, b.rdma_write, b.tcp
    )
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

/// Mermaid text: the characters Mermaid's sequence-diagram syntax gives a meaning become entity
/// codes (`#` starts an entity or, in a participant's alias, a comment; `;` ends a statement;
/// `%%` starts a comment; `<` and `>` would be HTML; `:` could start a `wrap:` directive in an
/// alias); line breaks and other control characters become spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '%' => out.push_str("#37;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A participant's display text (`participant P1 as <alias>`): `host.provider`, escaped, with
/// `:` as an entity too.
fn alias(host: &str, provider: &str) -> String {
    escape(&format!("{host}.{provider}")).replace(':', "#58;")
}

/// The call name of an extension query, up to the extension's name.
const EXTENSION_QUERY: &str = "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, ";

/// The extension an event queries (`rdma_read`), if it is an extension query.
fn extension_queried(t: &TraceEvent) -> Option<&str> {
    t.call.strip_prefix(EXTENSION_QUERY)?.strip_suffix(')')
}

/// The extension queries in `trace` from its start that go to the same provider of the same
/// host in the same step (or initialization) as the first: the calls one arrow stands for.
fn extension_run(trace: &[TraceEvent]) -> &[TraceEvent] {
    let Some(first) = trace.first().filter(|t| extension_queried(t).is_some()) else {
        return &[];
    };
    let n = trace
        .iter()
        .take_while(|t| {
            extension_queried(t).is_some()
                && t.host == first.host
                && t.provider == first.provider
                && t.step == first.step
        })
        .count();
    &trace[..n]
}

/// The answer of a run of extension queries in one reply: `"7 ok"`,
/// `"6 ok, rdma_read WSAEOPNOTSUPP"`.
fn extension_answers(run: &[TraceEvent]) -> String {
    let ok = run.iter().filter(|t| t.result == "ok").count();
    let mut parts = Vec::new();
    if ok > 0 {
        parts.push(format!("{ok} ok"));
    }
    for t in run.iter().filter(|t| t.result != "ok") {
        parts.push(format!(
            "{} {}",
            extension_queried(t).unwrap_or(""),
            t.result
        ));
    }
    parts.join(", ")
}

/// The two ends of the connection a send step sent on: the sender's (on the step's host), the
/// receiver's (on its `to` host).
fn send_ends(report: &Report, step: usize) -> Option<(&ConnectionReport, &ConnectionReport)> {
    let s = report.steps.get(step)?;
    let f = s.send.as_ref()?;
    let to = f.to.as_deref()?;
    let of = |c: &&ConnectionReport| c.id == f.connection;
    let from = report
        .connections
        .iter()
        .filter(of)
        .find(|c| c.host == s.host)?;
    let to = report
        .connections
        .iter()
        .filter(of)
        .find(|c| c.host == to && !std::ptr::eq(*c, from))?;
    Some((from, to))
}

/// The trace as a Mermaid `sequenceDiagram`: a `Switch` participant and one per provider
/// and host (generated ids `P1`, `P2`, ... with the escaped `host.provider` as the alias, so
/// that names differing only in punctuation stay apart), an arrow per call and a reply arrow
/// with its result, a note per host initialization and per step. The extension queries
/// (`SIO_GET_EXTENSION_FUNCTION_POINTER`) one provider answers in a row are one arrow,
/// `WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) x7`, with one reply summing up the answers.
pub fn mermaid(report: &Report) -> String {
    let mut o = String::from("sequenceDiagram\n    participant Switch\n");
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for t in &report.trace {
        let key = (t.host.as_str(), t.provider.as_str());
        if !seen.contains(&key) {
            seen.push(key);
            let _ = writeln!(
                o,
                "    participant P{} as {}",
                seen.len(),
                alias(&t.host, &t.provider)
            );
        }
    }
    // The TCP/IP side of each host that sends over TCP, after the providers.
    let mut tcp: Vec<&str> = Vec::new();
    for i in 0..report.steps.len() {
        for c in send_ends(report, i).into_iter().flat_map(|(a, b)| [a, b]) {
            if c.via == "tcp" && !tcp.contains(&c.host.as_str()) {
                tcp.push(&c.host);
                let _ = writeln!(
                    o,
                    "    participant P{} as {}",
                    seen.len() + tcp.len(),
                    alias(&c.host, "TCP/IP")
                );
            }
        }
    }
    // The participant of one end of a connection: its SAN provider, or its host's TCP/IP.
    let lifeline = |c: &ConnectionReport| -> Option<usize> {
        match c.via.strip_prefix("san:") {
            Some(p) => seen.iter().position(|&k| k == (c.host.as_str(), p)),
            None => tcp
                .iter()
                .position(|h| *h == c.host)
                .map(|i| seen.len() + i),
        }
    };
    let id = |t: &TraceEvent| {
        let n = seen
            .iter()
            .position(|&(h, p)| h == t.host && p == t.provider)
            .map_or(0, |i| i + 1);
        format!("P{n}")
    };
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
    // The connections a connect step made, drawn between the hosts once its calls are shown;
    // a send, drawn between the two ends' lifelines.
    let connections = |o: &mut String, step: Option<usize>| {
        let Some(step) = step else { return };
        if let (Some((a, b)), Some(s)) = (send_ends(report, step), report.steps.get(step))
            && let (Some(f), Some(t), Some(send)) = (lifeline(a), lifeline(b), &s.send)
        {
            let urgent = if send.oob { " urgent" } else { "" };
            let (arrow, what) = match &send.path {
                Some(path) if s.result == "ok" => ("-)", path.clone()),
                _ => ("-x", s.result.clone()),
            };
            let _ = writeln!(
                o,
                "    P{}{arrow}P{}: {}",
                f + 1,
                t + 1,
                escape(&format!("{}{urgent} {what}", bytes_text(send.bytes)))
            );
        }
        let ends: Vec<_> = report
            .connections
            .iter()
            .filter(|c| c.step == step)
            .collect();
        for pair in ends.chunks(2) {
            let [a, b] = pair else { continue };
            let line = format!("{} {} → {} {}", a.host, a.local, b.host, b.local);
            let provider = a.via.strip_prefix("san:");
            let from = provider.and_then(|p| seen.iter().position(|&k| k == (a.host.as_str(), p)));
            let to = provider.and_then(|p| seen.iter().position(|&k| k == (b.host.as_str(), p)));
            match (from, to) {
                (Some(f), Some(t)) => {
                    let _ = writeln!(
                        o,
                        "    P{}-)P{}: {}",
                        f + 1,
                        t + 1,
                        escape(&format!("SAN connection {line}"))
                    );
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "    Note over Switch: {}",
                        escape(&format!("{} connection {line}", a.via))
                    );
                }
            }
        }
    };
    let mut next_step = 0usize;
    let mut rest: &[TraceEvent] = &report.trace;
    while let Some(t) = rest.first() {
        let changed =
            current != Some(t.step) || (t.step.is_none() && current_host != Some(&t.host));
        if changed {
            // The connections the previous step made, then the steps without calls that lie
            // between (each with its connections), then this step's note.
            if let Some(prev) = current {
                connections(&mut o, prev);
            }
            if let Some(s) = t.step {
                while next_step < s {
                    note(&mut o, Some(next_step), "");
                    connections(&mut o, Some(next_step));
                    next_step += 1;
                }
            }
            note(&mut o, t.step, &t.host);
            if let Some(s) = t.step {
                next_step = s + 1;
            }
            current = Some(t.step);
            current_host = Some(&t.host);
        }
        let id = id(t);
        let run = extension_run(rest);
        if run.len() > 1 {
            let _ = writeln!(
                o,
                "    Switch->>{id}: {}",
                escape(&format!(
                    "WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) x{}",
                    run.len()
                ))
            );
            let _ = writeln!(o, "    {id}-->>Switch: {}", escape(&extension_answers(run)));
            rest = &rest[run.len()..];
            continue;
        }
        let _ = writeln!(o, "    Switch->>{id}: {}", escape(&t.call));
        let _ = writeln!(o, "    {id}-->>Switch: {}", escape(&t.result));
        rest = &rest[1..];
    }
    if let Some(prev) = current {
        connections(&mut o, prev);
    }
    while next_step < report.steps.len() {
        note(&mut o, Some(next_step), "");
        connections(&mut o, Some(next_step));
        next_step += 1;
    }
    o
}
