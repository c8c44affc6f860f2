//! `mosaico-bridge`: the command-line edge. Everything below `cli` turns typed library errors into
//! messages and exit codes; the library itself never prints.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
