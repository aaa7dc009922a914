//! The `omnimarket` command: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    omnimarket::cli::run()
}
