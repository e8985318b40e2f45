use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,huaxiang=info"),
    )
    .init();
    let cli = huaxiang::cli::Cli::parse();
    match huaxiang::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("huaxiang: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
