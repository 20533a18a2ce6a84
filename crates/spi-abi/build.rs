//! Builds the sample SAN providers (`providers/*.c`) into shared objects for the tests.
//!
//! On unix targets every variant of `providers/sample_provider.c` (and `providers/no_export.c`)
//! is compiled with the C compiler the `cc` crate picks for the target, into
//! `$OUT_DIR/providers/`; `WSD_SAMPLE_PROVIDERS` tells the crate where. On other targets the
//! directory is left empty. A compiler error fails the build with the compiler's output.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// (file name without extension, source, the macro selecting the variant).
const PROVIDERS: &[(&str, &str, Option<&str>)] = &[
    ("libwsd_good", "sample_provider.c", Some("WSD_VARIANT_GOOD")),
    (
        "libwsd_fault_size",
        "sample_provider.c",
        Some("WSD_VARIANT_FAULT_SIZE"),
    ),
    (
        "libwsd_no_rdma_read",
        "sample_provider.c",
        Some("WSD_VARIANT_NO_RDMA_READ"),
    ),
    (
        "libwsd_no_rdma_write",
        "sample_provider.c",
        Some("WSD_VARIANT_NO_RDMA_WRITE"),
    ),
    (
        "libwsd_old_version",
        "sample_provider.c",
        Some("WSD_VARIANT_OLD_VERSION"),
    ),
    (
        "libwsd_null_socket",
        "sample_provider.c",
        Some("WSD_VARIANT_NULL_SOCKET"),
    ),
    ("libwsd_no_export", "no_export.c", None),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let sources = manifest_dir.join("providers");
    let include = manifest_dir
        .join("..")
        .join("..")
        .join("include")
        .canonicalize()
        .expect("the repository's include/ directory");
    let providers_dir = out_dir.join("providers");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", sources.display());
    println!(
        "cargo:rerun-if-changed={}",
        include.join("wsd_provider.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        sources.join("sample_provider.c").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        sources.join("no_export.c").display()
    );

    // Start from an empty directory: no stale object from an earlier build survives.
    if providers_dir.exists() {
        fs::remove_dir_all(&providers_dir).expect("clear OUT_DIR/providers");
    }
    fs::create_dir_all(&providers_dir).expect("create OUT_DIR/providers");
    println!(
        "cargo:rustc-env=WSD_SAMPLE_PROVIDERS={}",
        providers_dir.display()
    );

    if env::var_os("CARGO_CFG_UNIX").is_none() {
        return;
    }
    let extension = match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos") | Ok("ios") => "dylib",
        _ => "so",
    };
    for (name, source, variant) in PROVIDERS {
        compile(
            &sources.join(source),
            &include,
            *variant,
            &providers_dir.join(format!("{name}.{extension}")),
        );
    }
}

/// Compiles one shared object, panicking with the compiler's output on failure.
fn compile(source: &Path, include: &Path, variant: Option<&str>, output: &Path) {
    let compiler = cc::Build::new().get_compiler();
    let mut command = compiler.to_command();
    command
        .arg("-shared")
        .arg("-fPIC")
        .arg("-O1")
        .arg("-Wall")
        .arg("-Werror")
        .arg(format!("-I{}", include.display()));
    if let Some(variant) = variant {
        command.arg(format!("-D{variant}"));
    }
    command.arg("-o").arg(output).arg(source);
    // The command line without the environment `Debug` would print.
    let line = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let result = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler ({line}): {e}"));
    if !result.status.success() {
        panic!(
            "compiling {} failed ({}):\n{line}\n{}{}",
            source.display(),
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr),
        );
    }
}
