//! Running an image in QEMU: the one definition of the command line, the
//! accelerator choice, the exit-status convention, and a captured run with
//! host timestamps and a timeout (for `cargo xtask test`).
//!
//! ```no_run
//! use std::time::Duration;
//! let (accel, why) = mantle::qemu::choose_accel(None);
//! mantle::qemu::announce(accel, &why);
//! let t = mantle::qemu::Command::new("hello.img")
//!     .accel(accel)
//!     .timeout(Duration::from_secs(10))
//!     .run_captured()
//!     .unwrap();
//! for line in &t.lines {
//!     println!("{:>8.3} {}", line.at.as_secs_f64(), line.text);
//! }
//! assert_eq!(t.outcome, mantle::qemu::Outcome::Guest(0));
//! ```

use crate::symbolise::Symboliser;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";
/// The firmware: qboot boots a PVH kernel in about 0.1 s.
pub const BIOS: &str = "/usr/share/qemu/qboot.rom";
/// SeaBIOS (Debian's `seabios`), the firmware seL4's x86 systems boot
/// with: it assigns PCI BARs as those systems expect ([`Bios::Seabios`]).
pub const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";
/// The guest's RAM, MiB (`-m`), unless a run asks for more.
pub const MEMORY_MIB: u64 = 512;

/// The firmware QEMU starts (both boot the image through PVH).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bios {
    /// qboot ([`BIOS`]): fast. It assigns PCI BARs its own way.
    #[default]
    Qboot,
    /// SeaBIOS ([`SEABIOS`]), with a standard VGA device, as in QEMU's
    /// default q35 machine that sDDF's x86 systems are written for: the
    /// VGA framebuffer's 16 MiB BAR goes to 0xfd000000 and the next
    /// (a virtio device's 64-bit BAR) to 0xfe000000, where sdfgen maps
    /// virtio-blk's registers. About a second slower to boot.
    Seabios,
}

impl Bios {
    /// `qboot` or `seabios`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bios::Qboot => "qboot",
            Bios::Seabios => "seabios",
        }
    }
    /// Parse `qboot` or `seabios`.
    pub fn parse(s: &str) -> Option<Bios> {
        match s {
            "qboot" => Some(Bios::Qboot),
            "seabios" => Some(Bios::Seabios),
            _ => None,
        }
    }
    /// The firmware file.
    pub fn path(self) -> &'static str {
        match self {
            Bios::Qboot => BIOS,
            Bios::Seabios => SEABIOS,
        }
    }
}

/// I/O port of the `isa-debug-exit` device.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// QEMU's instruction counting (TCG only): the guest's virtual clock, and
/// so its TSC, advances one nanosecond per instruction, with no throttling
/// to host time and no sleeping while the guest idles. Benchmarks then
/// report path lengths instead of times (the Linux guest harness's
/// `--icount` uses the same flags).
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,align=off,sleep=off"];

/// How QEMU runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Binary translation (always available).
    Tcg,
    /// Hardware virtualisation.
    Kvm,
}

impl Accel {
    /// `"tcg"` or `"kvm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
    /// Parse `"tcg"` or `"kvm"`.
    pub fn parse(s: &str) -> Option<Accel> {
        match s {
            "tcg" => Some(Accel::Tcg),
            "kvm" => Some(Accel::Kvm),
            _ => None,
        }
    }
}

/// Detect the accelerator: KVM only where `kvm_intel` or `kvm_amd` is loaded,
/// `kvm_pvm` is not (nested PVM emulates ring 0 very slowly), and `/dev/kvm`
/// opens read-write. Returns the choice and the reason.
pub fn detect_accel() -> (Accel, String) {
    let module = |m: &str| Path::new("/sys/module").join(m).exists();
    if !module("kvm_intel") && !module("kvm_amd") {
        return (Accel::Tcg, "neither kvm_intel nor kvm_amd is loaded".into());
    }
    if module("kvm_pvm") {
        return (
            Accel::Tcg,
            "kvm_pvm is loaded: nested PVM runs kernels far slower than TCG".into(),
        );
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => (Accel::Kvm, "hardware KVM and /dev/kvm is usable".into()),
        Err(e) => (Accel::Tcg, format!("/dev/kvm cannot be opened: {e}")),
    }
}

/// The accelerator to use: `explicit` (e.g. `--accel`), else `MANTLE_ACCEL`,
/// else [`detect_accel`]. An invalid `MANTLE_ACCEL` falls back to detection
/// and says so in the reason.
pub fn choose_accel(explicit: Option<Accel>) -> (Accel, String) {
    if let Some(a) = explicit {
        return (a, "requested with --accel".into());
    }
    match std::env::var("MANTLE_ACCEL") {
        Ok(v) if !v.is_empty() => match Accel::parse(&v) {
            Some(a) => (a, "MANTLE_ACCEL".into()),
            None => {
                let (a, why) = detect_accel();
                (
                    a,
                    format!("{why}; ignored MANTLE_ACCEL={v:?} (allowed: tcg, kvm)"),
                )
            }
        },
        _ => detect_accel(),
    }
}

/// Print `mantle: accelerator: MODE (reason)` to stderr.
pub fn announce(accel: Accel, reason: &str) {
    eprintln!("mantle: accelerator: {} ({reason})", accel.as_str());
}

/// QEMU's arguments (without the program name) to boot `image`: COM1 and
/// the `0xe9` debug console both write to stdout (one multiplexed `stdio`
/// chardev), and stdin feeds COM1.
pub fn qemu_args(image: &Path, accel: Accel) -> Vec<OsString> {
    machine_args(image, accel, Bios::Qboot, MEMORY_MIB)
}

/// [`qemu_args`] with another firmware and RAM size: SeaBIOS adds a
/// standard VGA device (see [`Bios::Seabios`]).
pub fn machine_args(image: &Path, accel: Accel, bios: Bios, memory_mib: u64) -> Vec<OsString> {
    let memory = format!("{memory_mib}M");
    let mut v: Vec<OsString> = [
        "-machine",
        &format!("q35,accel={}", accel.as_str()),
        "-cpu",
        "qemu64",
        "-m",
        &memory,
        "-smp",
        "1",
        "-bios",
        bios.path(),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        // COM1 and the debug console (port 0xe9) share one stdout; the mux
        // has no monitor attached and Ctrl-C goes to the guest (quit an
        // interactive run with Ctrl-A x). The mux sends input to the
        // frontend attached last, so COM1 (= `-serial chardev:con`) is
        // created after the debug console.
        "-chardev",
        "stdio,id=con,mux=on,signal=off",
        "-device",
        "isa-debugcon,iobase=0xe9,chardev=con",
        "-device",
        "isa-serial,chardev=con,iobase=0x3f8,irq=4",
        "-monitor",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-kernel",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(image.as_os_str().to_owned());
    if bios == Bios::Seabios {
        v.extend(["-device", "VGA"].map(OsString::from));
    }
    v
}

/// How a QEMU run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote `status` to `isa-debug-exit` (QEMU exited with
    /// `status << 1 | 1`).
    Guest(u8),
    /// QEMU exited with an even code: it ended without the guest asking
    /// (0: reset/triple fault under `-no-reboot`, or power-off; else a QEMU
    /// error).
    Qemu(i32),
    /// QEMU was killed by a signal.
    Signal(i32),
    /// The timeout expired and QEMU was killed.
    Timeout,
}

impl Outcome {
    /// Map QEMU's exit status, using its stderr to tell QEMU's own failure
    /// (status 1 with an error message) from a guest status of 0.
    pub fn classify(st: ExitStatus, qemu_stderr: &str) -> Outcome {
        let o = Outcome::from_status(st);
        if o == Outcome::Guest(0) && qemu_failed(qemu_stderr) {
            Outcome::Qemu(1)
        } else {
            o
        }
    }

    /// Map QEMU's exit status alone (status 1 means guest status 0).
    pub fn from_status(st: ExitStatus) -> Outcome {
        match st.code() {
            Some(c) if c & 1 == 1 => Outcome::Guest(((c >> 1) & 0xff) as u8),
            Some(c) => Outcome::Qemu(c),
            None => {
                #[cfg(unix)]
                {
                    use std::os::unix::process::ExitStatusExt;
                    Outcome::Signal(st.signal().unwrap_or(0))
                }
                #[cfg(not(unix))]
                Outcome::Signal(0)
            }
        }
    }
    /// The exit code `mantle run` uses: the guest's status; 124 on timeout;
    /// 1 when QEMU ended any other way (never 0, so only a guest that wrote
    /// 0 to isa-debug-exit counts as success).
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Guest(s) => s as i32,
            Outcome::Timeout => 124,
            _ => 1,
        }
    }
    /// A sentence for humans.
    pub fn describe(self) -> String {
        match self {
            Outcome::Guest(s) if s == mantle_abi::exit::DEADLOCK => format!(
                "the system deadlocked (status {s}): no PD could run and nothing could wake one; \
                 the kernel's `mantle: deadlock:` lines above give each PD's state"
            ),
            Outcome::Guest(s) => format!("the guest exited with status {s}"),
            Outcome::Qemu(0) => "QEMU exited (status 0) without the guest writing to isa-debug-exit: a reset or triple fault (-no-reboot), or a power-off".into(),
            Outcome::Qemu(c) => format!("QEMU failed with status {c}"),
            Outcome::Signal(s) => format!("QEMU was killed by signal {s}"),
            Outcome::Timeout => "timed out; QEMU was killed".into(),
        }
    }
}

/// Did QEMU print an error of its own (`qemu-system-x86_64: ...` or
/// `qemu: ...`)? Warnings do not count.
pub fn qemu_failed(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        (l.starts_with("qemu-system-") || l.starts_with("qemu:")) && !l.contains("warning:")
    })
}

/// One line of guest console output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// When it arrived, relative to QEMU's start (host clock).
    pub at: Duration,
    /// The text, without the line ending (invalid UTF-8 replaced).
    pub text: String,
}

/// Everything a captured run produced.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// Console lines.
    pub lines: Vec<Line>,
    /// QEMU's own stderr.
    pub stderr: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl Transcript {
    /// The console text, one line per line.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.text);
            s.push('\n');
        }
        s
    }
}

/// A QEMU invocation for one image.
#[derive(Clone, Debug)]
pub struct Command {
    program: OsString,
    image: PathBuf,
    accel: Option<Accel>,
    timeout: Option<Duration>,
    extra: Vec<OsString>,
    input: Vec<Input>,
    symbols: Option<Arc<Symboliser>>,
    bios: Bios,
    memory_mib: u64,
}

/// When a scripted [`Input`] step becomes due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    /// `delay` after QEMU started.
    Start,
    /// `delay` after the console printed this text (it need not end a
    /// line, so prompts match). The search starts where the previous
    /// step's marker matched, so a script cannot match one marker twice.
    Marker(String),
}

/// One step of console input: `bytes` go to COM1 (QEMU's stdin) when the
/// step is due. Steps run in order, each after the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// What the step waits for.
    pub after: After,
    /// How long after that it sends.
    pub delay: Duration,
    /// The bytes to send.
    pub bytes: Vec<u8>,
}

impl Input {
    /// Send `bytes` `delay` after QEMU starts.
    pub fn at(delay: Duration, bytes: impl Into<Vec<u8>>) -> Input {
        Input {
            after: After::Start,
            delay,
            bytes: bytes.into(),
        }
    }
    /// Send `bytes` `delay` after the console prints `marker`.
    pub fn after(marker: impl Into<String>, delay: Duration, bytes: impl Into<Vec<u8>>) -> Input {
        Input {
            after: After::Marker(marker.into()),
            delay,
            bytes: bytes.into(),
        }
    }
}

impl Command {
    /// Boot `image` (accelerator: [`choose_accel`] unless set).
    pub fn new(image: impl Into<PathBuf>) -> Command {
        Command {
            program: QEMU.into(),
            image: image.into(),
            accel: None,
            timeout: None,
            extra: Vec::new(),
            input: Vec::new(),
            symbols: None,
            bios: Bios::Qboot,
            memory_mib: MEMORY_MIB,
        }
    }
    /// Script console input for [`Command::spawn`] and
    /// [`Command::run_captured`]: the steps run in order (appended to any
    /// given before). A step whose marker never appears waits until the
    /// run ends. For input decided at run time use [`Running::send`].
    ///
    /// ```no_run
    /// use mantle::qemu::{Command, Input};
    /// use std::time::Duration;
    /// let t = Command::new("serial.img")
    ///     .timeout(Duration::from_secs(20))
    ///     .input(vec![
    ///         Input::after("client0: ready", Duration::from_millis(50), "hello\r"),
    ///         Input::at(Duration::from_secs(5), "q"),
    ///     ])
    ///     .run_captured()
    ///     .unwrap();
    /// ```
    pub fn input(mut self, steps: Vec<Input>) -> Command {
        self.input.extend(steps);
        self
    }
    /// Use this accelerator.
    pub fn accel(mut self, accel: Accel) -> Command {
        self.accel = Some(accel);
        self
    }
    /// Kill QEMU after this long.
    pub fn timeout(mut self, t: Duration) -> Command {
        self.timeout = Some(t);
        self
    }
    /// Boot with this firmware (default qboot).
    pub fn bios(mut self, bios: Bios) -> Command {
        self.bios = bios;
        self
    }
    /// Give the guest this much RAM, MiB (default [`MEMORY_MIB`]).
    pub fn memory_mib(mut self, mib: u64) -> Command {
        self.memory_mib = mib;
        self
    }
    /// Append an extra QEMU argument (e.g. `-icount shift=0`, a device).
    pub fn arg(mut self, a: impl Into<OsString>) -> Command {
        self.extra.push(a.into());
        self
    }
    /// Count instructions instead of timing them ([`ICOUNT`]; needs TCG).
    pub fn icount(self) -> Command {
        self.arg(ICOUNT[0]).arg(ICOUNT[1])
    }
    /// Symbolise fault reports: right after each `mantle: fault:` line the
    /// console shows (live in [`Command::run_interactive`]; as lines of the
    /// transcript in [`Command::spawn`] and [`Command::run_captured`]) come
    /// the lines [`Symboliser::annotate`] makes of it.
    pub fn symbolise(mut self, symbols: Symboliser) -> Command {
        self.symbols = Some(Arc::new(symbols));
        self
    }
    /// Use another QEMU binary.
    pub fn program(mut self, p: impl Into<OsString>) -> Command {
        self.program = p.into();
        self
    }
    /// The accelerator this command will use (chosen and announced on
    /// first use if not set).
    fn resolved_accel(&self) -> Accel {
        match self.accel {
            Some(a) => a,
            None => {
                let (a, why) = choose_accel(None);
                announce(a, &why);
                a
            }
        }
    }
    /// The full argument list.
    pub fn args(&self, accel: Accel) -> Vec<OsString> {
        let mut v = machine_args(&self.image, accel, self.bios, self.memory_mib);
        v.extend(self.extra.iter().cloned());
        v
    }
    fn std_command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(self.args(self.resolved_accel()));
        c
    }

    /// Start QEMU with the console captured and stdin piped (for
    /// [`Command::input`] and [`Running::send`]).
    pub fn spawn(&self) -> io::Result<Running> {
        let mut c = self.std_command();
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = c.spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let stdin = Arc::new(Mutex::new(child.stdin.take()));
        let (tx, rx) = mpsc::channel();
        let feed = if self.input.is_empty() {
            None
        } else {
            let (ftx, frx) = mpsc::channel();
            let steps = self.input.clone();
            let stdin = Arc::clone(&stdin);
            thread::spawn(move || feed_input(steps, start, frx, stdin));
            Some(ftx)
        };
        let symbols = self.symbols.clone();
        thread::spawn(move || read_console(stdout, start, tx, feed, symbols));
        let err_thread = thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stderr.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        });
        Ok(Running {
            child,
            rx,
            start,
            deadline: self.timeout.map(|t| start + t),
            err_thread: Some(err_thread),
            done: false,
            seen: Vec::new(),
            stdin,
        })
    }

    /// Run to the end (or the timeout) with the console captured.
    pub fn run_captured(&self) -> io::Result<Transcript> {
        Ok(self.spawn()?.finish())
    }

    /// Run with the console on this terminal (stdin, stdout and stderr
    /// inherited) until QEMU exits or the timeout expires. With
    /// [`Command::symbolise`], stdout passes through this process, which
    /// adds the annotations after each fault report.
    pub fn run_interactive(&self) -> io::Result<Outcome> {
        let mut c = self.std_command();
        c.stderr(Stdio::piped());
        if self.symbols.is_some() {
            c.stdout(Stdio::piped());
        }
        let mut child = c.spawn()?;
        let out_thread = match (child.stdout.take(), self.symbols.clone()) {
            (Some(out), Some(symbols)) => Some(thread::spawn(move || {
                forward_console(out, io::stdout(), &symbols)
            })),
            _ => None,
        };
        // Forward QEMU's stderr, keeping a copy to recognise its errors.
        let mut err = child.stderr.take().expect("piped");
        let err_thread = thread::spawn(move || {
            let mut kept = String::new();
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let s = String::from_utf8_lossy(&buf[..n]);
                        eprint!("{s}");
                        if kept.len() < 1 << 16 {
                            kept.push_str(&s);
                        }
                    }
                }
            }
            kept
        });
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break Some(st);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let kept = err_thread.join().unwrap_or_default();
        if let Some(t) = out_thread {
            let _ = t.join();
        }
        Ok(match status {
            Some(st) => Outcome::classify(st, &kept),
            None => Outcome::Timeout,
        })
    }
}

/// A running QEMU. Dropping it kills QEMU.
pub struct Running {
    child: Child,
    rx: Receiver<Line>,
    start: Instant,
    deadline: Option<Instant>,
    err_thread: Option<thread::JoinHandle<String>>,
    done: bool,
    /// Lines already handed out by `next_line` (they stay in the transcript).
    seen: Vec<Line>,
    /// QEMU's stdin (COM1 input), shared with the input script's thread.
    stdin: Arc<Mutex<Option<ChildStdin>>>,
}

/// `raw` without its line ending.
fn strip_line_end(mut raw: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = raw {
        raw = rest;
    }
    raw
}

/// Copy the console from `out` to `to` as it arrives (unfinished lines,
/// such as prompts, too), adding [`Symboliser::annotate`]'s lines after
/// each complete fault report. Output errors are ignored (QEMU must never
/// block on a full pipe); returns at the end of `out`.
fn forward_console(mut out: impl Read, mut to: impl Write, symbols: &Symboliser) {
    let mut buf = [0u8; 4096];
    // The line being received (only its start is kept: reports are short).
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let end = chunk.iter().position(|&b| b == b'\n');
            let (piece, rest) = chunk.split_at(end.map_or(chunk.len(), |i| i + 1));
            let _ = to.write_all(piece);
            if line.len() < 1 << 12 {
                line.extend_from_slice(&piece[..piece.len().min((1 << 12) - line.len())]);
            }
            if end.is_some() {
                let text = String::from_utf8_lossy(strip_line_end(&line)).into_owned();
                for a in symbols.annotate(&text) {
                    let _ = writeln!(to, "{a}");
                }
                line.clear();
            }
            chunk = rest;
        }
        let _ = to.flush();
    }
}

/// Read the console: complete lines to `lines` (each fault report followed
/// by its annotations, with `symbols`), every chunk of text (also
/// unfinished lines, such as prompts) to the input script.
fn read_console(
    mut out: impl Read,
    start: Instant,
    lines: Sender<Line>,
    feed: Option<Sender<String>>,
    symbols: Option<Arc<Symboliser>>,
) {
    let mut buf = [0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    let emit = |raw: &[u8]| {
        let at = start.elapsed();
        let text = String::from_utf8_lossy(strip_line_end(raw)).into_owned();
        let notes = symbols.as_ref().map(|s| s.annotate(&text));
        std::iter::once(text)
            .chain(notes.into_iter().flatten())
            .all(|text| lines.send(Line { at, text }).is_ok())
    };
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(f) = &feed {
            let _ = f.send(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if !emit(&line) {
                return;
            }
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
}

/// Run an input script: wait for each step's trigger, then write its bytes.
fn feed_input(
    steps: Vec<Input>,
    start: Instant,
    text: Receiver<String>,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
) {
    let mut seen = String::new();
    let mut cursor = 0usize;
    for step in steps {
        let due = match &step.after {
            After::Start => start + step.delay,
            After::Marker(m) => loop {
                if let Some(i) = seen.get(cursor..).and_then(|s| s.find(m.as_str())) {
                    cursor += i + m.len();
                    break Instant::now() + step.delay;
                }
                match text.recv() {
                    Ok(t) => seen.push_str(&t),
                    Err(_) => return,
                }
            },
        };
        // Keep collecting output while waiting, so later markers are seen.
        loop {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match text.recv_timeout(left) {
                Ok(t) => seen.push_str(&t),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => thread::sleep(left),
            }
        }
        let mut guard = match stdin.lock() {
            Ok(g) => g,
            Err(_) => return,
        };
        let Some(w) = guard.as_mut() else { return };
        if w.write_all(&step.bytes).and_then(|()| w.flush()).is_err() {
            return;
        }
    }
}

impl Running {
    /// When QEMU was started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The next console line, waiting at most `wait` (and never past the
    /// run's timeout). `None` at end of output or when the wait is over.
    /// Lines returned here are also part of [`Running::finish`]'s transcript.
    pub fn next_line(&mut self, wait: Duration) -> Option<Line> {
        let mut until = Instant::now() + wait;
        if let Some(d) = self.deadline {
            until = until.min(d);
        }
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Wait (as [`Running::next_line`]) for a line containing `needle`;
    /// returns it, or `None` if output ended or `wait` passed first.
    pub fn wait_for(&mut self, needle: &str, wait: Duration) -> Option<Line> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let l = self.next_line(left)?;
            if l.text.contains(needle) {
                return Some(l);
            }
        }
    }

    /// Send `bytes` to the guest's COM1 (QEMU's stdin) now.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut guard = self
            .stdin
            .lock()
            .map_err(|_| io::Error::other("stdin lock poisoned"))?;
        match guard.as_mut() {
            Some(w) => w.write_all(bytes).and_then(|()| w.flush()),
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "QEMU's stdin is closed",
            )),
        }
    }

    /// Close QEMU's stdin (the guest sees no more input).
    pub fn close_input(&mut self) {
        if let Ok(mut g) = self.stdin.lock() {
            g.take();
        }
    }

    /// Kill QEMU now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }

    /// Collect the rest of the output and wait for QEMU to exit (killing it
    /// at the deadline).
    pub fn finish(mut self) -> Transcript {
        let mut lines = std::mem::take(&mut self.seen);
        let mut timed_out = false;
        // Output until EOF or deadline.
        loop {
            let left = match self.deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        timed_out = true;
                        break;
                    }
                    d - now
                }
                None => Duration::from_secs(3600),
            };
            match self.rx.recv_timeout(left) {
                Ok(l) => lines.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    if self.deadline.is_some() {
                        timed_out = true;
                        break;
                    }
                }
            }
        }
        let outcome = if timed_out {
            self.kill();
            Outcome::Timeout
        } else {
            // stdout closed: QEMU is exiting.
            loop {
                match self.child.try_wait() {
                    Ok(Some(st)) => break Outcome::from_status(st),
                    Ok(None) => {}
                    Err(_) => break Outcome::Signal(0),
                }
                if self.deadline.is_some_and(|d| Instant::now() >= d) {
                    self.kill();
                    break Outcome::Timeout;
                }
                thread::sleep(Duration::from_millis(5));
            }
        };
        self.done = true;
        let elapsed = self.start.elapsed();
        // Lines that raced with the exit.
        while let Ok(l) = self.rx.try_recv() {
            lines.push(l);
        }
        let stderr = self
            .err_thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let outcome = if outcome == Outcome::Guest(0) && qemu_failed(&stderr) {
            Outcome::Qemu(1)
        } else {
            outcome
        };
        Transcript {
            lines,
            stderr,
            outcome,
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            self.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_the_documented_one() {
        let a = qemu_args(Path::new("x.img"), Accel::Tcg);
        let s: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(
            s.join(" "),
            "-machine q35,accel=tcg -cpu qemu64 -m 512M -smp 1 -bios /usr/share/qemu/qboot.rom -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con,mux=on,signal=off -device isa-debugcon,iobase=0xe9,chardev=con -device isa-serial,chardev=con,iobase=0x3f8,irq=4 -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel x.img"
        );
    }

    #[test]
    fn seabios_and_more_memory_change_only_their_arguments() {
        let a = machine_args(Path::new("x.img"), Accel::Tcg, Bios::Seabios, 2048);
        let s: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        let s = s.join(" ");
        assert!(s.contains(" -m 2048M "), "{s}");
        assert!(
            s.contains(" -bios /usr/share/seabios/bios-256k.bin "),
            "{s}"
        );
        assert!(s.ends_with(" -kernel x.img -device VGA"), "{s}");
        let q = machine_args(Path::new("x.img"), Accel::Tcg, Bios::Qboot, MEMORY_MIB);
        assert_eq!(q, qemu_args(Path::new("x.img"), Accel::Tcg));
        for b in [Bios::Qboot, Bios::Seabios] {
            assert_eq!(Bios::parse(b.as_str()), Some(b));
        }
        assert_eq!(Bios::parse("ovmf"), None);
    }

    const FAULT: &str = "mantle: fault: PD 'p' page fault ip=0x1 addr=0x2 error=0x6 (potential stack overflow, stack_size=0x2000)";
    const ADVICE: &str = "mantle:   PD 'p' overflowed its stack of 0x2000 bytes: raise stack_size on its <protection_domain> (e.g. stack_size=\"0x4000\")";

    /// Reads `chunks` one per `read` call.
    struct Chunks(Vec<Vec<u8>>);
    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let c = self.0.remove(0);
            buf[..c.len()].copy_from_slice(&c);
            Ok(c.len())
        }
    }

    fn split_console() -> Chunks {
        let text = format!("boot\nprompt> {FAULT}\nafter\npartial");
        let (a, b) = text.split_at(30);
        Chunks(vec![a.into(), b.into()])
    }

    #[test]
    fn captured_fault_reports_are_followed_by_annotations() {
        let (tx, rx) = mpsc::channel();
        let symbols = Arc::new(Symboliser::new(Vec::new(), None));
        read_console(split_console(), Instant::now(), tx, None, Some(symbols));
        let got: Vec<String> = rx.iter().map(|l| l.text).collect();
        let fault_line = format!("prompt> {FAULT}");
        assert_eq!(
            got,
            ["boot", fault_line.as_str(), ADVICE, "after", "partial"]
        );
    }

    #[test]
    fn forwarded_console_is_annotated_in_place() {
        let mut out = Vec::new();
        let symbols = Symboliser::new(Vec::new(), None);
        forward_console(split_console(), &mut out, &symbols);
        let want = format!("boot\nprompt> {FAULT}\n{ADVICE}\nafter\npartial");
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn exit_status_mapping() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            Outcome::from_status(ExitStatus::from_raw(1 << 8)),
            Outcome::Guest(0)
        );
        assert_eq!(
            Outcome::from_status(ExitStatus::from_raw(7 << 8)),
            Outcome::Guest(3)
        );
        assert_eq!(
            Outcome::from_status(ExitStatus::from_raw(0)),
            Outcome::Qemu(0)
        );
        assert_eq!(
            Outcome::from_status(ExitStatus::from_raw(9)),
            Outcome::Signal(9)
        );
        assert_eq!(Outcome::Guest(3).exit_code(), 3);
        assert_ne!(Outcome::Qemu(0).exit_code(), 0);
    }
}
