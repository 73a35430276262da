//! Values patched into the program by `mantle build`: `setvar` symbols and
//! the PD's name.

use core::cell::UnsafeCell;
use mantle_abi::limits::MAX_NAME_LEN;

/// An 8-byte variable that `mantle build` patches by symbol name (an SDF
/// `<setvar>`, `setvar_vaddr`, `setvar_id`, ...). Declare it with
/// [`crate::setvar!`], which puts it in `.data` under its exact name, so the
/// value is file-backed and patchable. Read it with [`SetVar::get`]
/// (a volatile read, so the compiler never folds in the initial value).
#[repr(transparent)]
pub struct SetVar(UnsafeCell<u64>);

// SAFETY: the value is written only by the tool, before the PD runs; at run
// time it is only read.
unsafe impl Sync for SetVar {}

impl SetVar {
    /// A variable with `initial` as the value used when the tool does not
    /// patch it.
    pub const fn new(initial: u64) -> Self {
        SetVar(UnsafeCell::new(initial))
    }

    /// The (patched) value.
    pub fn get(&self) -> u64 {
        // SAFETY: the cell is valid for reads for the program's lifetime and
        // nothing writes it at run time.
        unsafe { self.0.get().read_volatile() }
    }
}

/// Declare `setvar` symbols patched by `mantle build`:
///
/// ```ignore
/// mantle_runtime::setvar!(shared_vaddr, 0x2000_0000);
/// let base = shared_vaddr.get();
/// ```
///
/// The symbol keeps its exact name (`#[no_mangle]`), is kept by the linker
/// (`#[used]`) and lives in `.data`, never `.bss`, even when the default is
/// 0, so it has file bytes for the tool to patch. The default (second
/// argument, 0 if omitted) is what the program sees if the SDF sets nothing.
#[macro_export]
macro_rules! setvar {
    ($name:ident) => {
        $crate::setvar!($name, 0);
    };
    ($name:ident, $default:expr) => {
        #[allow(non_upper_case_globals)]
        #[no_mangle]
        #[used]
        #[link_section = ".data"]
        static $name: $crate::SetVar = $crate::SetVar::new($default);
    };
}

/// The PD's name, patched by `mantle build` (NUL-padded, at most 64 bytes).
#[repr(transparent)]
struct NameBuf(UnsafeCell<[u8; MAX_NAME_LEN]>);

// SAFETY: written only by the tool before the PD runs; only read at run time.
unsafe impl Sync for NameBuf {}

#[no_mangle]
#[used]
#[link_section = ".data"]
static __mantle_pd_name: NameBuf = NameBuf(UnsafeCell::new([0; MAX_NAME_LEN]));

/// Longest name returned by [`pd_name`].
pub const NAME_CAPACITY: usize = MAX_NAME_LEN;

/// Holds a copy of the name so callers get a `&str` without touching the
/// patched symbol through a reference.
pub struct PdName {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl PdName {
    /// The name as text; `"?"` if the tool did not patch it (or it is not
    /// valid UTF-8).
    pub fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.bytes[..self.len]) {
            Ok(s) if !s.is_empty() => s,
            _ => "?",
        }
    }

    fn from_bytes(raw: [u8; MAX_NAME_LEN]) -> PdName {
        let len = raw.iter().position(|&b| b == 0).unwrap_or(MAX_NAME_LEN);
        PdName { bytes: raw, len }
    }
}

impl core::fmt::Display for PdName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// This PD's name as written in the SDF, from the symbol `__mantle_pd_name`
/// that `mantle build` patches; `"?"` when unpatched.
pub fn pd_name() -> PdName {
    // SAFETY: the symbol is valid for reads for the program's lifetime and
    // nothing writes it at run time; a volatile read keeps the compiler from
    // assuming its initial (all-zero) contents.
    let raw = unsafe { __mantle_pd_name.0.get().read_volatile() };
    PdName::from_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode() {
        assert_eq!(PdName::from_bytes([0; MAX_NAME_LEN]).as_str(), "?");
        let mut b = [0; MAX_NAME_LEN];
        b[..5].copy_from_slice(b"hello");
        assert_eq!(PdName::from_bytes(b).as_str(), "hello");
        assert_eq!(PdName::from_bytes([b'a'; MAX_NAME_LEN]).as_str().len(), 64);
        assert_eq!(pd_name().as_str(), "?");
    }
}
