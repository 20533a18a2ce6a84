//! The repository stands on its own: no test, doc, example or help text reaches for a folder
//! beside it, and every relative link in the README and docs points at a file that exists.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name == ".git" || name == "fuzz" {
            continue;
        }
        if p.is_dir() {
            files(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("rs" | "md" | "toml" | "json")
        ) {
            out.push(p);
        }
    }
}

#[test]
fn nothing_refers_to_a_folder_outside_the_repository() {
    let outside = ["..", "/shared"].concat();
    let mut all = Vec::new();
    files(Path::new(ROOT), &mut all);
    assert!(all.len() > 50, "found only {} files", all.len());
    let offenders: Vec<_> = all
        .iter()
        .filter(|p| {
            fs::read_to_string(p)
                .map(|t| t.contains(&outside))
                .unwrap_or(false)
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:?} refer to {outside}");
}

#[test]
fn relative_links_in_the_readme_and_docs_resolve() {
    let mut docs = vec![PathBuf::from(ROOT).join("README.md")];
    for e in fs::read_dir(Path::new(ROOT).join("docs"))
        .unwrap()
        .flatten()
    {
        docs.push(e.path());
    }
    let mut checked = 0;
    for doc in docs {
        let text = fs::read_to_string(&doc).unwrap();
        let dir = doc.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap();
            if target.is_empty() || target.contains("://") || target.contains(' ') {
                continue;
            }
            assert!(
                dir.join(target).exists(),
                "{}: link to {target} does not resolve",
                doc.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} links checked");
}
