//! The `mantle` command; see [`mantle::cli`].
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(mantle::cli::main(std::env::args_os().skip(1).collect()));
}
