//! The `lanebench` binary: a thin shell over the library (see `lanebench::cli`).

fn main() {
    std::process::exit(lanebench::cli::main());
}
