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

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";
/// The firmware: qboot boots a PVH kernel in about 0.1 s.
pub const BIOS: &str = "/usr/share/qemu/qboot.rom";
/// I/O port of the `isa-debug-exit` device.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

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
    let mut v: Vec<OsString> = [
        "-machine",
        &format!("q35,accel={}", accel.as_str()),
        "-cpu",
        "qemu64",
        "-m",
        "512M",
        "-smp",
        "1",
        "-bios",
        BIOS,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        // COM1 and the debug console (port 0xe9) share one stdout; the mux
        // has no monitor attached and Ctrl-C goes to the guest (quit an
        // interactive run with Ctrl-A x).
        "-chardev",
        "stdio,id=con,mux=on,signal=off",
        "-serial",
        "chardev:con",
        "-debugcon",
        "chardev:con",
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
        }
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
    /// Append an extra QEMU argument (e.g. `-icount shift=0`, a device).
    pub fn arg(mut self, a: impl Into<OsString>) -> Command {
        self.extra.push(a.into());
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
        let mut v = qemu_args(&self.image, accel);
        v.extend(self.extra.iter().cloned());
        v
    }
    fn std_command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(self.args(self.resolved_accel()));
        c
    }

    /// Start QEMU with the console captured.
    pub fn spawn(&self) -> io::Result<Running> {
        let mut c = self.std_command();
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = c.spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                            buf.pop();
                        }
                        let line = Line {
                            at: start.elapsed(),
                            text: String::from_utf8_lossy(&buf).into_owned(),
                        };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
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
        })
    }

    /// Run to the end (or the timeout) with the console captured.
    pub fn run_captured(&self) -> io::Result<Transcript> {
        Ok(self.spawn()?.finish())
    }

    /// Run with the console on this terminal (stdin, stdout and stderr
    /// inherited) until QEMU exits or the timeout expires.
    pub fn run_interactive(&self) -> io::Result<Outcome> {
        let mut c = self.std_command();
        c.stderr(Stdio::piped());
        let mut child = c.spawn()?;
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
            "-machine q35,accel=tcg -cpu qemu64 -m 512M -smp 1 -bios /usr/share/qemu/qboot.rom -nodefaults -no-user-config -display none -no-reboot -chardev stdio,id=con,mux=on,signal=off -serial chardev:con -debugcon chardev:con -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel x.img"
        );
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
