use std::process::ExitCode;

fn main() -> ExitCode {
    let args = std::env::args_os().skip(1).collect();
    match zenml_launcher::app::run(args) {
        Ok(code) => code,
        Err(err) => {
            zenml_launcher::error::report(&err);
            ExitCode::from(1)
        }
    }
}
