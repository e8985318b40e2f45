use clap::Parser;

/// Stack of each runtime thread. Planning, naming and evaluating an expression recurse once
/// per level of nesting (`a OR b OR c …` of a BI tool's filter is a chain as deep as it is
/// long); tokio's default 2 MiB overflows near 5,000 levels and a stack overflow aborts the
/// whole server. The memory is reserved, not used, until a query needs it; statements nested
/// deeper than `sql_text::MAX_NESTING` are refused (54001) before they get here.
const THREAD_STACK_BYTES: usize = 256 * 1024 * 1024;

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,huaxiang=info"),
    )
    .init();
    let cli = huaxiang::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("huaxiang: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(huaxiang::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huaxiang: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
