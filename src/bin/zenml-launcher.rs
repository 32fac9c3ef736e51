//! `zenml-launcher`: the launcher's admin binary (doctor, cache, install into an env). Its
//! commands are its own; nothing is added to ZenML's CLI.

fn main() -> std::process::ExitCode {
    zenml_launcher::admin::main()
}
