//! Runs the built `wsd-sim` binary: golden outputs of the default scenario, every example
//! with its expects, the fixed report fields, the exit codes, `explain`.
//!
//! Regenerate the golden files with `UPDATE_GOLDEN=1 cargo test -p wsd-sim --test run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wsd-sim");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wsd_sim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("WSD_SIM_DEBUG")
        .output()
        .unwrap_or_else(|e| panic!("run {BIN}: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scenario_file(tag: &str, text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wsd-sim-run-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.join(format!("{tag}-{n}.toml"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Compares `got` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .map_or(want.lines().count().min(got.lines().count()), |i| i);
        panic!(
            "{name} differs from the golden file at line {} (UPDATE_GOLDEN=1 to accept):\n  want: {:?}\n  got:  {:?}",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[test]
fn golden_default_text() {
    let o = wsd_sim(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    golden("default.txt", &stdout(&o));
    // `run` without a file and `run examples/default.toml` print the same.
    let file = root().join("examples/default.toml");
    let o2 = wsd_sim(&["run", &file.display().to_string()]);
    assert_eq!(stdout(&o), stdout(&o2));
}

#[test]
fn golden_default_json() {
    let o = wsd_sim(&["run", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    golden("default.json", &stdout(&o));
}

#[test]
fn golden_default_mermaid() {
    let o = wsd_sim(&["run", "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("sequenceDiagram\n"));
    assert!(out.contains("participant P1 as alpha.ibal\n"), "{out}");
    assert!(out.contains("Switch->>P1: WSPStartupEx\n"), "{out}");
    assert!(out.contains("participant P3 as alpha.flaky\n"), "{out}");
    assert!(out.contains("P3-->>Switch: WSASYSNOTREADY\n"), "{out}");
    golden("default.mmd", &out);
}

#[test]
fn output_is_deterministic() {
    for format in ["text", "json", "mermaid"] {
        let a = stdout(&wsd_sim(&["run", "--format", format]));
        let b = stdout(&wsd_sim(&["run", "--format", format]));
        assert_eq!(a, b, "{format}");
    }
    let p = root().join("examples/faults/pointer_outside.toml");
    let a = stdout(&wsd_sim(&[
        "run",
        &p.display().to_string(),
        "--format",
        "json",
    ]));
    assert!(
        !a.contains("0x"),
        "a memory address leaked into the report:\n{a}"
    );
}

fn examples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&root().join("examples"), &mut v);
    v.sort();
    v
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[track_caller]
fn has_fields(what: &str, v: &Value, fields: &[&str]) {
    for f in fields {
        assert!(v.get(f).is_some(), "{what} lacks {f}: {v}");
    }
}

/// Every fixed field of scenario.md §2 in every element.
fn check_fixed_fields(name: &str, r: &Value) {
    for k in [
        "providers",
        "routes",
        "diagnostics",
        "steps",
        "trace",
        "summary",
    ] {
        assert!(r.get(k).is_some(), "{name}: no {k}");
    }
    let arr = |k: &str| r[k].as_array().cloned().unwrap_or_default();
    let states = ["ready", "rejected", "ignored", "retiring", "retired"];
    for p in arr("providers") {
        has_fields(
            name,
            &p,
            &[
                "host",
                "name",
                "guid",
                "state",
                "reason",
                "version",
                "extensions",
                "addresses",
            ],
        );
        assert!(
            states.contains(&p["state"].as_str().unwrap_or("")),
            "{name}: {p}"
        );
        if !p["reason"].is_null() {
            has_fields(name, &p["reason"], &["step", "code", "detail"]);
        }
        let mut ext = keys(&p["extensions"]);
        ext.sort();
        assert_eq!(
            ext,
            [
                "deregister_memory",
                "deregister_rdma_memory",
                "memory_registration_cache_callback",
                "rdma_read",
                "rdma_write",
                "register_memory",
                "register_rdma_memory"
            ],
            "{name}"
        );
        assert!(p["addresses"].is_array(), "{name}: {p}");
        assert!(
            p["version"].is_null() || p["version"] == "2.2",
            "{name}: version is \"2.2\" or null: {p}"
        );
    }
    for x in arr("routes") {
        has_fields(name, &x, &["host", "subnet", "provider"]);
    }
    for x in arr("diagnostics") {
        has_fields(name, &x, &["host", "provider", "code", "detail"]);
    }
    for x in arr("steps") {
        has_fields(name, &x, &["host", "op", "target", "result", "reason"]);
        let op = x["op"].as_str().unwrap_or("");
        if op == "explain" || op == "connect" {
            has_fields(name, &x["reason"], &["code", "wsa", "detail"]);
        }
        if op == "send" {
            has_fields(name, &x, &["path", "messages", "rdma_ops"]);
            let path = &x["path"];
            assert!(
                path.is_null()
                    || ["inline", "rdma_read", "rdma_write", "tcp"]
                        .contains(&path.as_str().unwrap_or("")),
                "{name}: {x}"
            );
            // A send that succeeded says how; one that failed does not.
            assert_eq!(x["result"] == "ok", !path.is_null(), "{name}: {x}");
        }
    }
    for x in arr("connections") {
        has_fields(
            name,
            &x,
            &[
                "host",
                "id",
                "local",
                "remote",
                "via",
                "reason",
                "state",
                "bytes_sent",
                "bytes_received",
            ],
        );
    }
    for x in arr("trace") {
        has_fields(name, &x, &["host", "provider", "call", "result", "args"]);
        if x["call"] == "WSPStartupEx" {
            has_fields(name, &x["args"], &["version", "protocol_info"]);
        }
    }
    has_fields(
        name,
        &r["summary"],
        &[
            "providers",
            "connects",
            "reasons",
            "explains",
            "explain_reasons",
            "bytes_per_path",
        ],
    );
    let mut paths = keys(&r["summary"]["bytes_per_path"]);
    paths.sort();
    assert_eq!(
        paths,
        ["inline", "rdma_read", "rdma_write", "tcp"],
        "{name}"
    );
    for s in states {
        assert!(r["summary"]["providers"].get(s).is_some(), "{name}: {s}");
    }
}

#[test]
fn every_example_runs_with_its_expects_holding() {
    let all = examples();
    assert!(all.len() >= 34, "examples found: {all:?}");
    for data in [
        "inline",
        "rdma_read",
        "rdma_write",
        "enobufs",
        "urgent",
        "shutdown",
    ] {
        let p = root().join(format!("examples/data/{data}.toml"));
        assert!(all.contains(&p), "{} is not among {all:?}", p.display());
    }
    for p in all {
        let name = p.display().to_string();
        let o = wsd_sim(&["run", &name, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).is_empty(),
            "{name}: stderr not empty: {}",
            stderr(&o)
        );
        let r: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        check_fixed_fields(&name, &r);
        let steps = r["steps"].as_array().cloned().unwrap_or_default();
        assert!(
            steps.iter().any(|s| !s["expected"].is_null()),
            "{name}: no step has an expect"
        );
        for s in steps {
            assert_eq!(s["ok"], true, "{name}: {s}");
        }
        for f in ["text", "mermaid"] {
            let o = wsd_sim(&["run", &name, "--format", f]);
            assert_eq!(o.status.code(), Some(0), "{name} {f}");
        }
    }
}

#[test]
fn the_default_report_has_every_array_filled() {
    let o = wsd_sim(&["run", "--format", "json"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    check_fixed_fields("default", &r);
    for k in ["providers", "routes", "diagnostics", "steps", "trace"] {
        assert!(
            r[k].as_array().is_some_and(|a| !a.is_empty()),
            "default: {k} is empty"
        );
    }
    let flaky = r["providers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "flaky").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(flaky["state"], "rejected");
    assert_eq!(flaky["reason"]["step"], "WSPStartupEx");
    assert_eq!(flaky["reason"]["code"], "WSASYSNOTREADY");
    let stale = r["diagnostics"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|d| d["code"] == "registration_without_catalog_entry")
                .cloned()
        })
        .unwrap_or(Value::Null);
    assert_eq!(stale["provider"], Value::Null);
    assert_eq!(r["routes"][0]["provider"], "ibal");
    assert_eq!(r["trace"][0]["args"]["version"], "2.2");
}

#[test]
fn exit_0_when_expects_hold() {
    let p = scenario_file(
        "ok",
        "[[host]]\nname = \"a\"\ninterfaces = [\"10.1.2.5/24\"]\n[[host.provider]]\nname = \"p\"\naddresses = [\"10.1.2.5\"]\n[[step]]\nop = \"explain\"\nto = \"10.1.2.9:80\"\nexpect = \"san:p\"\n",
    );
    let o = wsd_sim(&["run", &p.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn exit_1_names_each_failed_expect_and_still_prints_the_report() {
    let text = "[[host]]\nname = \"a\"\ninterfaces = [\"10.1.2.5/24\"]\n[[host.provider]]\nname = \"p\"\naddresses = [\"10.1.2.5\"]\n[[step]]\nop = \"explain\"\nto = \"10.1.2.9:80\"\nexpect = \"tcp\"\n[[step]]\nop = \"explain\"\nto = \"10.9.0.1:80\"\nexpect = \"tcp\"\n[[step]]\nop = \"explain\"\nto = \"10.1.2.7:80\"\nkind = \"datagram\"\nexpect = \"san:p\"\n";
    let p = scenario_file("wrong", text);
    let o = wsd_sim(&["run", &p.display().to_string(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("line 7: explain on a: expected tcp, got san:p"),
        "{err}"
    );
    assert!(
        err.contains("line 15: explain on a: expected san:p, got tcp"),
        "{err}"
    );
    assert!(!err.contains("line 11"), "{err}");
    assert!(err.contains("2 expect(s) failed"), "{err}");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(r["steps"][0]["ok"], false);
    assert_eq!(r["steps"][1]["ok"], true);
}

#[test]
fn exit_2_for_bad_input() {
    let bad = scenario_file("bad", "[[host]]\nname = 3\n");
    let o = wsd_sim(&["run", &bad.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 2: host[0].name"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let o = wsd_sim(&["run", "/nonexistent/wsd-sim/none.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let o = wsd_sim(&["run", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
    let send = scenario_file(
        "send",
        "[[host]]\nname = \"a\"\n[[step]]\nop = \"connect\"\nto = \"10.0.0.1:80\"\nid = \"c\"\n[[step]]\nop = \"send\"\nid = \"c\"\nbytes = 16777217\n",
    );
    let o = wsd_sim(&["run", &send.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 10: step[1].bytes: 16777217 is out of range"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn panicking_providers_leave_the_output_clean() {
    let p = root().join("examples/faults/panic_at.toml");
    let o = wsd_sim(&["run", &p.display().to_string()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(stdout(&o).contains("provider_panicked"));
}

#[test]
fn explain_runs_every_step_data_steps_included_without_a_note() {
    let text = "[[host]]\nname = \"a\"\ninterfaces = [\"10.1.2.5/24\"]\n[[host.provider]]\nname = \"p\"\naddresses = [\"10.1.2.5\"]\n[[step]]\nop = \"listen\"\naddress = \"0.0.0.0:80\"\nid = \"l\"\n[[step]]\nop = \"connect\"\nto = \"10.1.2.9:80\"\nid = \"c\"\n[[step]]\nop = \"send\"\nid = \"c\"\nbytes = 10\n[[step]]\nop = \"shutdown\"\nid = \"c\"\nhow = \"both\"\n[[step]]\nop = \"explain\"\nto = \"10.1.2.9:80\"\nexpect = \"san:p\"\n";
    let p = scenario_file("explain-data", text);
    let p = p.display().to_string();
    let o = wsd_sim(&["explain", &p, "--connect", "10.1.2.9:80"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("a: connect 10.1.2.9:80 (stream) -> san:p"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // `run` runs them: the connect failed (nobody owns 10.1.2.9), so the send and the
    // shutdown answer WSAENOTCONN.
    let o = wsd_sim(&["run", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert_eq!(r["steps"][2]["result"], "error:WSAENOTCONN");
    assert_eq!(r["steps"][3]["result"], "error:WSAENOTCONN");
    // Nor does explain say anything on stderr for the default scenario.
    let d = root().join("examples/default.toml");
    let o = wsd_sim(&[
        "explain",
        &d.display().to_string(),
        "--connect",
        "10.1.2.9:80",
    ]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

fn json_of(path: &Path) -> Value {
    let o = wsd_sim(&["run", &path.display().to_string(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"))
}

fn provider<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["providers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no provider {name}"))
}

#[test]
fn version_is_the_accepted_one_and_answered_version_what_the_provider_said() {
    let r = json_of(&root().join("examples/faults/version_mismatch.toml"));
    let old = provider(&r, "old");
    assert_eq!(old["state"], "rejected");
    assert_eq!(old["reason"]["code"], "version_mismatch");
    assert_eq!(old["version"], Value::Null);
    assert_eq!(old["answered_version"], "2.0");
    let good = provider(&r, "good");
    assert_eq!(good["version"], "2.2");
    assert_eq!(good["answered_version"], "2.2");
    let r = json_of(&root().join("examples/default.toml"));
    let flaky = provider(&r, "flaky");
    assert_eq!(flaky["version"], Value::Null);
    assert_eq!(flaky["answered_version"], Value::Null);
    for p in r["providers"].as_array().cloned().unwrap_or_default() {
        assert!(
            p["version"].is_null() || p["version"] == "2.2",
            "version is \"2.2\" or null: {p}"
        );
    }
}

#[test]
fn entry_faults_without_addresses_still_reject() {
    let r = json_of(&root().join("examples/faults/fault_without_addresses.toml"));
    for name in ["alien", "stray"] {
        let p = provider(&r, name);
        assert_eq!(p["state"], "rejected", "{p}");
        assert_eq!(p["reason"]["code"], "address_list_invalid", "{p}");
        assert_eq!(
            p["reason"]["step"], "WSPIoctl(SIO_ADDRESS_LIST_QUERY)",
            "{p}"
        );
    }
    assert_eq!(provider(&r, "good")["state"], "ready");
}

#[test]
fn explains_are_counted_apart_from_connects() {
    let r = json_of(&root().join("examples/default.toml"));
    let sum = &r["summary"];
    assert_eq!(
        sum["connects"],
        serde_json::json!({"san:ibal": 1, "tcp": 2})
    );
    assert_eq!(
        sum["reasons"],
        serde_json::json!({"route_match": 1, "no_route": 1, "san_connect_failed": 1})
    );
    let explains: u64 = sum["explains"]
        .as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let steps = r["steps"]
        .as_array()
        .map(|a| a.iter().filter(|s| s["op"] == "explain").count())
        .unwrap_or(0);
    assert_eq!(explains, steps as u64);
    assert_eq!(sum["explains"]["san:ibal"], 4);
    assert_eq!(sum["explain_reasons"]["route_match"], 6);
}

#[test]
fn a_panicking_startup_is_traced_with_the_arguments_switch_core_recorded() {
    let r = json_of(&root().join("examples/faults/panic_at.toml"));
    let ev = r["trace"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["provider"] == "boom_startup" && t["call"] == "WSPStartupEx")
                .cloned()
        })
        .unwrap_or(Value::Null);
    assert_eq!(ev["result"], "panic");
    assert_eq!(ev["args"]["version"], "2.2");
    // The TCP/IP record's provider GUID, as for every other provider's startup.
    let good = r["trace"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|t| t["provider"] == "good" && t["call"] == "WSPStartupEx")
                .cloned()
        })
        .unwrap_or(Value::Null);
    assert_eq!(ev["args"]["protocol_info"], good["args"]["protocol_info"]);
    assert!(ev["args"]["protocol_info"].is_string(), "{ev}");
}

#[test]
fn explain_prints_the_decision_and_its_reason() {
    let p = root().join("examples/default.toml");
    let p = p.display().to_string();
    let o = wsd_sim(&["explain", &p, "--connect", "10.1.2.9:5000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("alpha: connect 10.1.2.9:5000 (stream) -> san:ibal"),
        "{out}"
    );
    assert!(out.contains("route_match"), "{out}");
    // After the file's steps: `late` is installed on alpha, `ofed` removed.
    let o = wsd_sim(&["explain", &p, "--connect", "10.3.0.9:6000"]);
    assert!(stdout(&o).contains("-> san:late"), "{}", stdout(&o));
    let o = wsd_sim(&["explain", &p, "--connect", "192.0.2.20:7000"]);
    assert!(stdout(&o).contains("-> tcp"), "{}", stdout(&o));
    let o = wsd_sim(&[
        "explain",
        &p,
        "--connect",
        "192.0.2.10:7000",
        "--host",
        "beta",
    ]);
    assert!(stdout(&o).contains("beta: connect"), "{}", stdout(&o));
    assert!(stdout(&o).contains("-> san:ofed"), "{}", stdout(&o));
    let o = wsd_sim(&[
        "explain",
        &p,
        "--connect",
        "10.1.2.9:5000",
        "--kind",
        "multicast",
    ]);
    assert!(stdout(&o).contains("socket_kind"), "{}", stdout(&o));
}

#[test]
fn mermaid_escapes_what_it_dislikes() {
    let p = scenario_file(
        "mermaid",
        "[[host]]\nname = \"h#1\"\ninterfaces = [\"10.1.2.5/24\"]\n[[host.provider]]\nname = \"p;x#y\"\naddresses = [\"10.1.2.5\"]\n[[step]]\nop = \"explain\"\nto = \"10.1.2.9:80\"\nexpect = \"san:p;x#y\"\n",
    );
    let o = wsd_sim(&["run", &p.display().to_string(), "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("participant P1 as h#35;1.p#59;x#35;y\n"),
        "{out}"
    );
    assert!(out.contains("san:p#59;x#35;y"), "{out}");
    for line in out.lines() {
        let body = line
            .replace("#35;", "")
            .replace("#59;", "")
            .replace("#gt;", "")
            .replace("#lt;", "");
        assert!(!body.contains(';') && !body.contains('#'), "{line}");
    }
}

#[test]
fn text_columns_stay_aligned_for_long_provider_names() {
    let path = scenario_file(
        "long-names",
        "[[host]]\nname = \"h\"\n\n[[host.provider]]\nname = \"a_rather_long_provider_name\"\n\n[[host.provider]]\nname = \"b\"\n",
    );
    let out = wsd_sim(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let columns: Vec<usize> = text
        .lines()
        .filter(|l| l.contains(" ready "))
        .map(|l| l.find(" ready ").unwrap())
        .collect();
    assert_eq!(columns.len(), 2, "{text}");
    assert_eq!(columns[0], columns[1], "{text}");
}

#[test]
fn the_text_report_labels_the_providers_and_routes_as_the_final_state_after_all_steps() {
    let out = stdout(&wsd_sim(&[]));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("final state (after all 23 steps):"));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some("host alpha"));
    // The state block comes before the steps and shows `late` as installed after step 12,
    // while step 11 (before the install) decided tcp.
    let state = out.find("late       ready").unwrap_or(usize::MAX);
    let steps = out.find("\nsteps (").unwrap_or(0);
    assert!(state < steps, "{out}");
    assert!(out.contains("10.3.0.9:6000 -> tcp"), "{out}");
    // Without steps, it says so.
    let p = scenario_file("no-steps", "[[host]]\nname = \"a\"\n");
    let out = stdout(&wsd_sim(&["run", &p.display().to_string()]));
    assert!(
        out.starts_with("state after initialization (the scenario has no steps):\n"),
        "{out}"
    );
}

#[test]
fn explain_help_says_it_decides_on_the_state_after_the_files_steps() {
    let o = wsd_sim(&["explain", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    assert!(
        help.contains("The decision is made on the state after all of the file's steps"),
        "{help}"
    );
    assert!(help.contains("skipped, with a note on stderr"), "{help}");
    // And it does: `late` is installed by a step, so 10.3.0.9 goes to it.
    let d = root().join("examples/default.toml");
    let o = wsd_sim(&[
        "explain",
        &d.display().to_string(),
        "--connect",
        "10.3.0.9:6000",
    ]);
    assert!(stdout(&o).contains("-> san:late"), "{}", stdout(&o));
}

#[test]
fn a_host_without_providers_is_shown_with_no_san_providers() {
    let p = scenario_file(
        "bare-host",
        "[[host]]\nname = \"a\"\n[[host.provider]]\nname = \"p\"\n[[host]]\nname = \"bare\"\ninterfaces = [\"10.9.0.1/24\"]\n[[host]]\nname = \"last\"\n",
    );
    let p = p.display().to_string();
    let out = stdout(&wsd_sim(&["run", &p]));
    for host in ["bare", "last"] {
        let block =
            format!("host {host}\n  providers: no SAN providers (TCP/IP only)\n  routes: none");
        assert!(out.contains(&block), "{host}:\n{out}");
    }
    let r = json_of(Path::new(&p));
    assert_eq!(r["hosts"], serde_json::json!(["a", "bare", "last"]));
}

#[test]
fn the_summary_is_split_per_host_in_text_and_in_new_json_fields() {
    let out = stdout(&wsd_sim(&[]));
    assert!(
        out.contains("\n           on alpha  2 ready, 2 rejected, 1 ignored, 0 retiring, 1 retired\n           on beta   3 ready, 0 rejected, 0 ignored, 0 retiring, 0 retired\n"),
        "{out}"
    );
    assert!(
        out.contains("\n           on beta   san:ibal 1; by reason route_match 1\n"),
        "{out}"
    );
    let r = json_of(&root().join("examples/default.toml"));
    let sum = &r["summary"];
    // The fixed fields are still there, over all hosts.
    assert_eq!(sum["providers"]["ready"], 5);
    assert_eq!(sum["explains"]["san:ibal"], 4);
    let hosts = sum["per_host"].as_array().cloned().unwrap_or_default();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["host"], "alpha");
    assert_eq!(hosts[0]["providers"]["ready"], 2);
    assert_eq!(hosts[0]["explains"]["san:ibal"], 3);
    assert_eq!(hosts[1]["host"], "beta");
    assert_eq!(hosts[1]["providers"]["ready"], 3);
    assert_eq!(hosts[1]["explain_reasons"]["route_match"], 1);
    // Per-host counts add up to the totals.
    for state in ["ready", "rejected", "ignored", "retiring", "retired"] {
        let total: u64 = hosts
            .iter()
            .filter_map(|h| h["providers"][state].as_u64())
            .sum();
        assert_eq!(Some(total), sum["providers"][state].as_u64(), "{state}");
    }
}

#[test]
fn explain_details_bracket_ipv6_and_say_broadcast_for_broadcast() {
    let d = root().join("examples/default.toml");
    let d = d.display().to_string();
    let explain = |to: &str| stdout(&wsd_sim(&["explain", &d, "--connect", to]));
    let out = explain("[::]:80");
    assert!(
        out.contains("reason: no_route: no SAN subnet contains [::]: TCP/IP"),
        "{out}"
    );
    let out = explain("255.255.255.255:80");
    assert!(
        out.contains("reason: socket_kind: 255.255.255.255 is the broadcast address: one-to-many traffic uses TCP/IP"),
        "{out}"
    );
    let out = explain("10.1.2.255:80");
    assert!(
        out.contains("socket_kind: 10.1.2.255 is the broadcast address of subnet 10.1.2.0/24"),
        "{out}"
    );
    let out = explain("224.0.0.1:80");
    assert!(
        out.contains("socket_kind: 224.0.0.1 is a multicast address"),
        "{out}"
    );
    for out in [explain("255.255.255.255:80"), explain("10.1.2.255:80")] {
        assert!(!out.contains("multicast"), "{out}");
    }
}

#[test]
fn mermaid_gives_providers_differing_only_in_punctuation_two_lifelines() {
    let p = scenario_file(
        "punctuation",
        "[[host]]\nname = \"h\"\n[[host.provider]]\nname = \"p-q;r\"\n[[host.provider]]\nname = \"p_q_r\"\n[[host.provider]]\nname = \"wrap:x%%y\"\n",
    );
    let o = wsd_sim(&["run", &p.display().to_string(), "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let participants: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("participant "))
        .collect();
    assert_eq!(
        participants,
        [
            "    participant Switch",
            "    participant P1 as h.p-q#59;r",
            "    participant P2 as h.p_q_r",
            "    participant P3 as h.wrap#58;x#37;#37;y",
        ],
        "{out}"
    );
    for id in ["P1", "P2", "P3"] {
        assert!(
            out.contains(&format!("Switch->>{id}: WSPStartupEx\n")),
            "{out}"
        );
    }
}

#[test]
fn mermaid_shows_the_extension_probes_of_one_init_as_one_arrow_pair_per_provider() {
    let out = stdout(&wsd_sim(&["run", "--format", "mermaid"]));
    assert!(
        !out.contains("SIO_GET_EXTENSION_FUNCTION_POINTER, "),
        "single probes left:\n{out}"
    );
    let probes: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER)"))
        .collect();
    // Every provider of the default scenario that got past WSPSocket: alpha's ibal, ofed,
    // nowrite, late (installed by a step) and beta's ibal, ofed, late.
    assert_eq!(probes.len(), 7, "{probes:#?}");
    let lines: Vec<&str> = out.lines().collect();
    let reply = |who: &str| {
        lines
            .iter()
            .position(|l| {
                *l == format!("    Switch->>{who}: WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) x7")
            })
            .or_else(|| {
                lines.iter().position(|l| {
                    *l == format!(
                        "    Switch->>{who}: WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) x5"
                    )
                })
            })
            .and_then(|i| lines.get(i + 1).copied())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(reply("P1"), "    P1-->>Switch: 7 ok"); // alpha.ibal
    assert_eq!(
        reply("P2"),
        "    P2-->>Switch: 6 ok, rdma_read WSAEOPNOTSUPP"
    ); // alpha.ofed
    assert_eq!(
        reply("P4"),
        "    P4-->>Switch: 4 ok, rdma_write WSAEOPNOTSUPP"
    ); // alpha.nowrite
    for p in probes {
        let n = lines.iter().filter(|l| **l == p).count();
        assert_eq!(n, 1, "{p}");
    }
}

fn steps_of(r: &Value) -> Vec<(String, String)> {
    r["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["op"] == "connect")
                .map(|s| {
                    (
                        s["result"].as_str().unwrap_or_default().to_owned(),
                        s["reason"]["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn conn_4_every_error_class_arises_from_the_topology() {
    let cases = [
        (
            "refused_no_listener",
            "error:WSAECONNREFUSED",
            "san_connect_fatal",
        ),
        (
            "rejecting_listener",
            "error:WSAECONNREFUSED",
            "san_connect_fatal",
        ),
        ("unreachable", "error:WSAEHOSTUNREACH", "san_connect_fatal"),
        ("reset", "error:WSAECONNRESET", "san_connect_fatal"),
        ("timeout_fallback", "tcp", "san_connect_failed"),
        ("companion_failed", "tcp", "companion_socket_failed"),
    ];
    for (name, result, code) in cases {
        let r = json_of(&root().join(format!("examples/connections/{name}.toml")));
        assert_eq!(
            steps_of(&r),
            [(result.to_owned(), code.to_owned())],
            "{name}"
        );
        // A fatal error never reaches TCP/IP; a fallback connects there.
        let tcp_ends = r["connections"]
            .as_array()
            .map(|a| a.iter().filter(|c| c["via"] == "tcp").count())
            .unwrap_or(0);
        assert_eq!(tcp_ends > 0, result == "tcp", "{name}");
    }
}

#[test]
fn san_deadline_and_negative_cache_run_on_the_simulated_clock() {
    let r = json_of(&root().join("examples/connections/deadline_and_negative_cache.toml"));
    let codes: Vec<String> = steps_of(&r).into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes, ["san_deadline", "negative_cache", "san_deadline"]);
}

#[test]
fn hot_2_a_provider_installed_later_joins_the_wildcard_listener() {
    let r = json_of(&root().join("examples/connections/hot_install_listener.toml"));
    let results: Vec<String> = steps_of(&r).into_iter().map(|(r, _)| r).collect();
    assert_eq!(results, ["tcp", "san:late"]);
    let listens = r["trace"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|t| {
                    t["host"] == "beta" && t["provider"] == "late" && t["call"] == "WSPListen"
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(listens, 1);
}

#[test]
fn connections_report_both_ends_and_their_state() {
    let r = json_of(&root().join("examples/default.toml"));
    let ends: Vec<(String, String, String, String)> = r["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                    (s("host"), s("id"), s("via"), s("state"))
                })
                .collect()
        })
        .unwrap_or_default();
    let e = |h: &str, id: &str, via: &str, state: &str| {
        (
            h.to_owned(),
            id.to_owned(),
            via.to_owned(),
            state.to_owned(),
        )
    };
    assert_eq!(
        ends,
        [
            e("alpha", "fast", "san:ibal", "closed"),
            e("beta", "fast", "san:ibal", "closed"),
            e("alpha", "fallback", "tcp", "open"),
            e("beta", "fallback", "tcp", "open"),
            e("alpha", "c1", "tcp", "open"),
            e("beta", "c1", "tcp", "open"),
        ]
    );
    let c = &r["connections"][0];
    assert_eq!(c["remote"], "10.1.2.9:5000");
    assert_eq!(r["connections"][1]["local"], "10.1.2.9:5000");
    assert_eq!(r["connections"][1]["remote"], c["local"]);
    assert_eq!(c["reason"]["code"], "route_match");
    assert_eq!(r["connections"][2]["reason"]["wsa"], "WSAETIMEDOUT");
}

#[test]
fn mermaid_draws_each_connection_between_the_hosts_after_its_step() {
    let o = wsd_sim(&["run", "--format", "mermaid"]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{out}"))
    };
    // alpha.ibal is P1, beta.ibal P5 (the order their first calls appear).
    assert!(out.contains("participant P5 as beta.ibal\n"), "{out}");
    let san = at("    P1-)P5: SAN connection alpha 10.1.2.5:");
    assert!(at("step 15 (line 176) alpha: connect 10.1.2.9:5000") < san);
    assert!(san < at("step 16 (line 184)"));
    let tcp = at("Note over Switch: tcp connection alpha 192.0.2.10:");
    assert!(at("step 16 (line 184)") < tcp && tcp < at("step 17 (line 191)"));
    // The sends on the SAN connection, between the same lifelines, after their steps; the
    // one over TCP/IP between the hosts' TCP/IP lifelines, declared after the providers.
    let small = at("    P1-)P5: 100 bytes inline");
    assert!(at("step 18 (line 199)") < small && small < at("step 19 (line 206)"));
    let large = at("    P1-)P5: 1048576 bytes rdma_read");
    assert!(at("step 19 (line 206)") < large && large < at("step 20 (line 213)"));
    assert!(out.contains("participant P9 as alpha.TCP/IP\n"), "{out}");
    assert!(out.contains("participant P10 as beta.TCP/IP\n"), "{out}");
    let tcp_send = at("    P9-)P10: 1048576 bytes tcp");
    assert!(at("step 20 (line 213)") < tcp_send && tcp_send < at("step 21 (line 219)"));
}
