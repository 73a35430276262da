//! The command line: `mantle check|build|run|report`.

use crate::build::{build, default_kernel_path, BuildOptions, Built};
use crate::diag::{Diagnostic, Error};
use crate::qemu::{self, Accel};
use crate::symbolise::Symboliser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Usage text.
pub const USAGE: &str = "\
usage:
  mantle check SYSTEM [--search-path DIR]...
  mantle expand SYSTEM [-o FILE] [--search-path DIR]...
  mantle diagram SYSTEM -o FILE.svg|FILE.dot [--search-path DIR]...
  mantle build SYSTEM -o IMAGE [--kernel KERNEL_ELF] [--search-path DIR]... [--report FILE]
  mantle report SYSTEM [--kernel KERNEL_ELF] [--search-path DIR]... [--report FILE]
  mantle run SYSTEM [-o IMAGE] [--kernel KERNEL_ELF] [--search-path DIR]... [--report FILE]
                    [--accel tcg|kvm] [--timeout SECS] [--bios qboot|seabios]
                    [--memory SIZE] [--qemu-arg ARG]...

  check    validate the system description (program images are not read;
           prefill_path files are)
  expand   print the plain SDF that composed subsystems (<serial_subsystem>,
           <timer_subsystem>, <net_subsystem>) expand to (stdout, or -o FILE)
  diagram  draw the system: SVG, or Graphviz DOT when FILE ends in .dot
  build    validate, lay out and write one bootable ELF image
  report   like build, but print the report (to stdout, or --report FILE) and write no image
  run      build, then boot the image in QEMU with the console on this terminal;
           fault reports are followed by the faulting function, source line and
           backtrace (from the PDs' ELF files) and, for a stack overflow, the
           stack_size to raise; exits with the status the system wrote to
           isa-debug-exit

  --kernel        kernel ELF (default: $MANTLE_KERNEL, else
                  target/kernel/x86_64-unknown-none/release/mantle-kernel)
  --search-path   folder searched for program images and prefill files after
                  the SDF's own folder (may be repeated)
  --report        write a readable report of the layout to FILE
  --accel         QEMU accelerator (default: $MANTLE_ACCEL, else detected)
  --timeout       kill QEMU after SECS seconds (exit status 124)
  --bios          firmware: qboot (default, fast) or seabios (with a VGA
                  device: PCI BARs where sDDF's x86 systems expect them,
                  e.g. virtio-blk's at 0xfe000000)
  --memory        the guest's RAM, e.g. 2G or 1024M (default 512M; sdfgen's
                  x86_64_generic systems place DMA memory up to 0x70000000)
  --qemu-arg      one more QEMU argument (repeat it: --qemu-arg -device
                  --qemu-arg virtio-blk-pci,drive=hd,addr=0x3.0)

exit status: 0 success, 1 error (run: the guest's status)";

#[derive(Default)]
struct Opts {
    system: Option<PathBuf>,
    output: Option<PathBuf>,
    kernel: Option<PathBuf>,
    search: Vec<PathBuf>,
    report: Option<PathBuf>,
    accel: Option<Accel>,
    timeout: Option<Duration>,
    bios: qemu::Bios,
    memory_mib: Option<u64>,
    qemu_args: Vec<OsString>,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("mantle: error: {msg}");
    1
}

fn print_diags(d: &[Diagnostic]) {
    for x in d {
        eprintln!("{x}");
    }
}

fn print_error(e: &Error) {
    print_diags(&e.diagnostics);
    let n = e.errors().count();
    eprintln!("mantle: {n} error{} found", if n == 1 { "" } else { "s" });
}

fn parse_opts(cmd: &str, args: &[OsString]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        let mut val = |name: &str| -> Result<OsString, String> {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match s.as_ref() {
            "-o" | "--output" if matches!(cmd, "build" | "run" | "expand" | "diagram") => {
                o.output = Some(val("-o")?.into())
            }
            "--kernel" if matches!(cmd, "build" | "run" | "report") => {
                o.kernel = Some(val("--kernel")?.into())
            }
            "--search-path" | "-L" => o.search.push(val("--search-path")?.into()),
            "--report" if matches!(cmd, "build" | "run" | "report") => {
                o.report = Some(val("--report")?.into())
            }
            "--accel" if cmd == "run" => {
                let v = val("--accel")?;
                o.accel =
                    Some(Accel::parse(&v.to_string_lossy()).ok_or_else(|| {
                        format!("--accel {:?} is not valid; allowed: tcg, kvm", v)
                    })?);
            }
            "--timeout" if cmd == "run" => {
                let v = val("--timeout")?.to_string_lossy().into_owned();
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        format!("--timeout {v:?} is not a positive number of seconds")
                    })?;
                o.timeout = Some(Duration::from_secs_f64(secs));
            }
            "--bios" if cmd == "run" => {
                let v = val("--bios")?.to_string_lossy().into_owned();
                o.bios = qemu::Bios::parse(&v)
                    .ok_or_else(|| format!("--bios {v:?} is not valid; allowed: qboot, seabios"))?;
            }
            "--memory" if cmd == "run" => {
                let v = val("--memory")?.to_string_lossy().into_owned();
                o.memory_mib = Some(parse_memory(&v).ok_or_else(|| {
                    format!(
                        "--memory {v:?} is not valid; allowed: MiB with M or GiB with G, {}M..=3G (e.g. 2G)",
                        qemu::MEMORY_MIB
                    )
                })?);
            }
            "--qemu-arg" if cmd == "run" => o.qemu_args.push(val("--qemu-arg")?),
            _ if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option '{s}' for `mantle {cmd}`"))
            }
            _ => {
                if o.system.is_some() {
                    return Err(format!("more than one system description given ('{s}')"));
                }
                o.system = Some(a.into());
            }
        }
    }
    if o.system.is_none() {
        return Err(format!("`mantle {cmd}` needs a SYSTEM file"));
    }
    Ok(o)
}

/// `2G`, `1024M` → MiB. At least [`qemu::MEMORY_MIB`] (the tool places
/// the system below it) and at most 3 GiB (q35's RAM below the PCI hole).
fn parse_memory(v: &str) -> Option<u64> {
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    let mib = match unit {
        "G" | "g" => n.checked_mul(1024)?,
        "M" | "m" => n,
        _ => return None,
    };
    (qemu::MEMORY_MIB..=3072).contains(&mib).then_some(mib)
}

/// Run the tool with `args` (without the program name); returns the exit
/// status.
pub fn main(args: Vec<OsString>) -> i32 {
    let Some(cmd) = args.first().map(|a| a.to_string_lossy().into_owned()) else {
        eprintln!("{USAGE}");
        return 1;
    };
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return 0;
        }
        "-V" | "--version" => {
            println!("mantle {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        "check" | "build" | "run" | "report" | "expand" | "diagram" => {}
        other => return fail(format!("unknown command '{other}'\n{USAGE}")),
    }
    let o = match parse_opts(&cmd, &args[1..]) {
        Ok(o) => o,
        Err(e) => return fail(format!("{e}\n{USAGE}")),
    };
    let system = o.system.clone().expect("checked");
    if cmd == "check" {
        return match crate::check_with(&system, &o.search) {
            Ok(w) => {
                print_diags(&w);
                eprintln!("mantle: {}: ok", system.display());
                0
            }
            Err(e) => {
                print_error(&e);
                1
            }
        };
    }
    if cmd == "expand" {
        return expand(&system, &o);
    }
    if cmd == "diagram" {
        return diagram(&system, &o);
    }
    if cmd == "build" && o.output.is_none() {
        return fail(format!("`mantle build` needs -o IMAGE\n{USAGE}"));
    }
    let opts = BuildOptions {
        kernel: o.kernel.clone().unwrap_or_else(default_kernel_path),
        search_paths: o.search.clone(),
    };
    let built = match build(&system, &opts) {
        Ok(b) => b,
        Err(e) => {
            print_error(&e);
            return 1;
        }
    };
    print_diags(&built.warnings);
    if let Err(code) = write_report(&o, &built, cmd == "report") {
        return code;
    }
    if cmd == "report" {
        return 0;
    }
    let (image, temporary) = match &o.output {
        Some(p) => (p.clone(), false),
        None => {
            let stem = system
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "system".into());
            (
                std::env::temp_dir().join(format!("mantle-{stem}-{}.img", std::process::id())),
                true,
            )
        }
    };
    if let Err(e) = std::fs::write(&image, &built.image) {
        return fail(format!("cannot write {}: {e}", image.display()));
    }
    if cmd == "build" {
        eprintln!(
            "mantle: wrote {} ({} PDs, {} bytes)",
            image.display(),
            built.spec.pds.len(),
            built.image.len()
        );
        return 0;
    }
    // Fault reports name functions and source lines from the PDs' ELFs
    // (paths shown relative to the current folder).
    let mut search = vec![system.parent().map(Path::to_path_buf).unwrap_or_default()];
    search.extend(o.search.iter().cloned());
    let symbols = Symboliser::from_system(
        &built.system,
        &system.display().to_string(),
        &search,
        std::env::current_dir().ok(),
    );
    let code = run_image(&image, &o, symbols);
    if temporary {
        let _ = std::fs::remove_file(&image);
    }
    code
}

fn write_report(o: &Opts, built: &Built, to_stdout: bool) -> Result<(), i32> {
    let text = crate::report::render(built);
    match &o.report {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| fail(format!("cannot write report {}: {e}", p.display()))),
        None if to_stdout => {
            print!("{text}");
            Ok(())
        }
        None => Ok(()),
    }
}

fn run_image(image: &Path, o: &Opts, symbols: Symboliser) -> i32 {
    let (accel, why) = qemu::choose_accel(o.accel);
    qemu::announce(accel, &why);
    let mut c = qemu::Command::new(image)
        .accel(accel)
        .symbolise(symbols)
        .bios(o.bios)
        .memory_mib(o.memory_mib.unwrap_or(qemu::MEMORY_MIB));
    for a in &o.qemu_args {
        c = c.arg(a.clone());
    }
    if let Some(t) = o.timeout {
        c = c.timeout(t);
    }
    match c.run_interactive() {
        Ok(out) => {
            match out {
                qemu::Outcome::Guest(0) => {}
                other => eprintln!("mantle: {}", other.describe()),
            }
            out.exit_code()
        }
        Err(e) => fail(format!("cannot start {}: {e}", qemu::QEMU)),
    }
}

fn expand(system: &Path, o: &Opts) -> i32 {
    match crate::expand(system, &o.search) {
        Ok((text, warnings)) => {
            print_diags(&warnings);
            match &o.output {
                Some(p) => match std::fs::write(p, text) {
                    Ok(()) => {
                        eprintln!("mantle: wrote {}", p.display());
                        0
                    }
                    Err(e) => fail(format!("cannot write {}: {e}", p.display())),
                },
                None => {
                    print!("{text}");
                    0
                }
            }
        }
        Err(e) => {
            print_error(&e);
            1
        }
    }
}

fn diagram(system: &Path, o: &Opts) -> i32 {
    let Some(out) = &o.output else {
        return fail(format!(
            "`mantle diagram` needs -o FILE.svg or -o FILE.dot\n{USAGE}"
        ));
    };
    let dot = out.extension().is_some_and(|e| e == "dot");
    match crate::diagram::render_file(system, &o.search, dot) {
        Ok((text, warnings)) => {
            print_diags(&warnings);
            match std::fs::write(out, text) {
                Ok(()) => {
                    eprintln!("mantle: wrote {}", out.display());
                    0
                }
                Err(e) => fail(format!("cannot write {}: {e}", out.display())),
            }
        }
        Err(e) => {
            print_error(&e);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_opts(args: &[&str]) -> Result<Opts, String> {
        let a: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_opts("run", &a)
    }

    #[test]
    fn run_takes_a_bios_memory_and_qemu_arguments() {
        let o = run_opts(&[
            "s.system",
            "--bios",
            "seabios",
            "--memory",
            "2G",
            "--qemu-arg",
            "-device",
            "--qemu-arg",
            "x",
        ])
        .unwrap();
        assert_eq!(o.bios, qemu::Bios::Seabios);
        assert_eq!(o.memory_mib, Some(2048));
        assert_eq!(
            o.qemu_args,
            vec![OsString::from("-device"), OsString::from("x")]
        );
        let o = run_opts(&["s.system"]).unwrap();
        assert_eq!((o.bios, o.memory_mib), (qemu::Bios::Qboot, None));
    }

    #[test]
    fn bad_bios_and_memory_values_are_refused() {
        for (args, want) in [
            (
                &["s.system", "--bios", "ovmf"][..],
                "--bios \"ovmf\" is not valid; allowed: qboot, seabios",
            ),
            (
                &["s.system", "--memory", "256M"][..],
                "--memory \"256M\" is not valid",
            ),
            (
                &["s.system", "--memory", "4G"][..],
                "--memory \"4G\" is not valid",
            ),
            (
                &["s.system", "--memory", "2"][..],
                "--memory \"2\" is not valid",
            ),
            (
                &["s.system", "--memory", ""][..],
                "--memory \"\" is not valid",
            ),
        ] {
            let e = run_opts(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} accepted"));
            assert!(e.contains(want), "{args:?}: {e}");
        }
        assert_eq!(parse_memory("1024M"), Some(1024));
        assert_eq!(parse_memory("3G"), Some(3072));
        let a = [
            OsString::from("s.system"),
            OsString::from("--bios"),
            OsString::from("seabios"),
        ];
        assert!(parse_opts("build", &a).is_err());
    }
}
