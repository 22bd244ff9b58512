//! `refresco-bench`: the load scenarios of `BENCHMARKS.md` (a thin layer over this crate's
//! library).

use clap::Parser;

use refresco_bench::BenchArgs;

/// The server's allocator (its `src/main.rs` says why it is mimalloc), so the server measured
/// here, which runs in this process, allocates as `refresco serve` does: its figures, peak RSS
/// above all, depend on it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = BenchArgs::parse();
    match refresco_bench::run_from_cli(&args).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: a scenario did not behave correctly");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
