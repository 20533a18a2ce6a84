//! The `wsd-sim` command: see the library crate `wsd_sim` and `wsd-sim --help`.

fn main() -> std::process::ExitCode {
    wsd_sim::cli::main()
}
