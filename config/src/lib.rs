//! # mantle-config: one definition of every component's configuration
//!
//! `mantle build` expands a composed system description (a
//! `<serial_subsystem>`, `<timer_subsystem>` or `<net_subsystem>`) into
//! protection domains, memory regions and channels, and writes each
//! component's typed configuration (region addresses and sizes, channel
//! ids, client tables, MAC addresses) into the 4 KiB symbol
//! [`SYMBOL`] of that PD's image. The component declares the symbol with
//! [`config_blob!`] and decodes it at start-up with [`decode`]. Both sides
//! use the types defined here, so they cannot disagree, and no channel id is
//! written down twice.
//!
//! ## Design principles
//! - **One section per subsystem.** A PD that belongs to several
//!   subsystems (a serial client that is also a timer client) gets one
//!   section of each kind, one after another ([`append`]); [`decode`] finds
//!   the section of the type asked for.
//! - **Fixed layout, little-endian.** Every field is encoded in declaration
//!   order with no padding ([`wire`]); optional values and lists have a
//!   fixed size too, so a configuration's size depends only on its type.
//! - **Checked at start-up.** Each section starts with a 16-byte header: magic
//!   [`MAGIC`], [`VERSION`], the configuration's [`Kind`], the payload's
//!   length and an FNV-1a checksum. [`decode`] checks all of them, and every
//!   field (channel ids ≤ 61, list counts, booleans), and says which check
//!   failed ([`Error`]); an image the tool never patched reads
//!   [`Error::NotPatched`].
//! - **Never panics, no `unsafe`.** Decoding reads through [`Bytes`], which
//!   returns `None` out of range; the only `unsafe` (the volatile read of
//!   the patched symbol) is in the component, written by [`config_blob!`].
//! - `no_std`, no allocation: usable in every PD.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod net;
pub mod serial;
pub mod timer;
pub mod types;
pub mod wire;

pub use types::{Ch, List, Mac, Name, Region};
use wire::{Reader, Wire, Writer};

/// The symbol the tool patches: a `.data` array of [`CONFIG_SIZE`] bytes.
pub const SYMBOL: &str = "__mantle_config";
/// Size of [`SYMBOL`], bytes.
pub const CONFIG_SIZE: usize = 4096;
/// `b"MCFG"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"MCFG");
/// The encoding's version; bump on any change to a type's layout.
pub const VERSION: u16 = 1;
/// Header size, bytes.
pub const HEADER_SIZE: usize = 16;

/// Which configuration a blob holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Kind {
    /// [`serial::SerialDriverConfig`].
    SerialDriver = 1,
    /// [`serial::SerialVirtTxConfig`].
    SerialVirtTx = 2,
    /// [`serial::SerialVirtRxConfig`].
    SerialVirtRx = 3,
    /// [`serial::SerialClientConfig`].
    SerialClient = 4,
    /// [`timer::TimerDriverConfig`].
    TimerDriver = 5,
    /// [`timer::TimerClientConfig`].
    TimerClient = 6,
    /// [`net::NetDriverConfig`].
    NetDriver = 7,
    /// [`net::NetVirtRxConfig`].
    NetVirtRx = 8,
    /// [`net::NetVirtTxConfig`].
    NetVirtTx = 9,
    /// [`net::NetCopierConfig`].
    NetCopier = 10,
    /// [`net::NetClientConfig`].
    NetClient = 11,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Kind::SerialDriver,
        Kind::SerialVirtTx,
        Kind::SerialVirtRx,
        Kind::SerialClient,
        Kind::TimerDriver,
        Kind::TimerClient,
        Kind::NetDriver,
        Kind::NetVirtRx,
        Kind::NetVirtTx,
        Kind::NetCopier,
        Kind::NetClient,
    ];
    /// The kind numbered `v`.
    pub fn from_u16(v: u16) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u16 == v)
    }
    /// A short name, e.g. `"serial driver"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SerialDriver => "serial driver",
            Kind::SerialVirtTx => "serial transmit virtualiser",
            Kind::SerialVirtRx => "serial receive virtualiser",
            Kind::SerialClient => "serial client",
            Kind::TimerDriver => "timer driver",
            Kind::TimerClient => "timer client",
            Kind::NetDriver => "network driver",
            Kind::NetVirtRx => "network receive virtualiser",
            Kind::NetVirtTx => "network transmit virtualiser",
            Kind::NetCopier => "network copier",
            Kind::NetClient => "network client",
        }
    }
}

/// Why a blob could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The blob is all zeros where the header should be: the tool did not
    /// patch this image (was the PD built into a composed system?).
    NotPatched,
    /// The magic number is wrong.
    BadMagic(u32),
    /// Encoded with another version of this crate.
    Version {
        /// In the blob.
        found: u16,
        /// This crate's [`VERSION`].
        expected: u16,
    },
    /// The blob holds another kind of configuration (`found` is the raw
    /// number).
    WrongKind {
        /// In the blob.
        found: u16,
        /// What the caller asked for.
        expected: Kind,
    },
    /// The payload length in the header is not the type's size.
    Length {
        /// In the header.
        found: u32,
        /// The type's encoded size.
        expected: u32,
    },
    /// The checksum does not match the payload.
    Checksum,
    /// The blob ends before the data does.
    Truncated,
    /// A list claims more items than it can hold.
    Count {
        /// Claimed.
        count: usize,
        /// Capacity.
        max: usize,
    },
    /// A field has a value its type does not allow.
    Invalid(&'static str),
    /// Encoding: the configuration needs more bytes than were given.
    TooLarge {
        /// Bytes needed.
        needed: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NotPatched => write!(
                f,
                "no configuration: the tool did not patch {SYMBOL} (only a PD named in a \
                 composed subsystem, such as a <client> of a <timer_subsystem>, gets one)"
            ),
            Error::BadMagic(m) => write!(f, "bad magic {m:#010x} (expected {MAGIC:#010x})"),
            Error::Version { found, expected } => {
                write!(
                    f,
                    "configuration version {found}, this program reads {expected}"
                )
            }
            Error::WrongKind { found, expected } => write!(
                f,
                "configuration kind {found} ({}), expected {} ({})",
                Kind::from_u16(*found).map_or("unknown", Kind::name),
                *expected as u16,
                expected.name()
            ),
            Error::Length { found, expected } => {
                write!(f, "payload length {found}, expected {expected}")
            }
            Error::Checksum => write!(f, "checksum mismatch"),
            Error::Truncated => write!(f, "truncated"),
            Error::Count { count, max } => write!(f, "list of {count} items, at most {max}"),
            Error::Invalid(what) => write!(f, "invalid {what}"),
            Error::TooLarge { needed } => write!(f, "needs {needed} bytes"),
        }
    }
}

/// A source of bytes to decode from: a slice, or a patched symbol read
/// with volatile loads ([`config_blob!`]).
pub trait Bytes {
    /// Number of bytes.
    fn len(&self) -> usize;
    /// The byte at `i`, `None` past the end.
    fn byte(&self, i: usize) -> Option<u8>;
    /// No bytes?
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Bytes for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn byte(&self, i: usize) -> Option<u8> {
        self.get(i).copied()
    }
}

impl<const N: usize> Bytes for [u8; N] {
    fn len(&self) -> usize {
        N
    }
    fn byte(&self, i: usize) -> Option<u8> {
        self.get(i).copied()
    }
}

/// A component's configuration type.
pub trait Config: Wire + Default {
    /// Its kind, recorded in the header.
    const KIND: Kind;
}

/// Encoded size of `C`'s payload.
pub fn payload_size<C: Config>() -> usize {
    let mut sink = [0u8; 0];
    let mut w = Writer::new(&mut sink);
    C::default().put(&mut w);
    match w.finish() {
        Ok(n) | Err(Error::TooLarge { needed: n }) => n,
        Err(_) => 0,
    }
}

/// FNV-1a over `len` bytes of `b` from `start`.
fn checksum<B: Bytes + ?Sized>(b: &B, start: usize, len: usize) -> Option<u32> {
    let mut h: u32 = 0x811c_9dc5;
    for i in start..start.checked_add(len)? {
        h ^= b.byte(i)? as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    Some(h)
}

/// Encode `c` with its header into `out` (normally [`CONFIG_SIZE`] bytes);
/// returns the number of bytes written.
pub fn encode<C: Config>(c: &C, out: &mut [u8]) -> Result<usize, Error> {
    append(c, out, 0)
}

/// Encode `c` as a section starting at `out[at]` (after the sections
/// before it); returns the offset after it. A PD that is part of several
/// subsystems (a serial client that is also a timer client) gets one
/// section of each kind in its blob.
pub fn append<C: Config>(c: &C, out: &mut [u8], at: usize) -> Result<usize, Error> {
    let len = payload_size::<C>();
    let total = at
        .checked_add(HEADER_SIZE + len)
        .ok_or(Error::TooLarge { needed: usize::MAX })?;
    if out.len() < total {
        return Err(Error::TooLarge { needed: total });
    }
    let body = at + HEADER_SIZE;
    let mut w = Writer::new(&mut out[body..total]);
    c.put(&mut w);
    w.finish()?;
    let sum = checksum(&out[..], body, len).ok_or(Error::Truncated)?;
    let mut h = Writer::new(&mut out[at..body]);
    MAGIC.put(&mut h);
    VERSION.put(&mut h);
    (C::KIND as u16).put(&mut h);
    (len as u32).put(&mut h);
    sum.put(&mut h);
    h.finish()?;
    Ok(total)
}

/// Recompute the checksum of the section at the start of `section` after
/// its payload was changed in place (the tool writes physical addresses
/// into a configuration carried as bytes, e.g. by `<config>` in a plain
/// SDF). Checks the header's magic and length first.
pub fn reseal(section: &mut [u8]) -> Result<(), Error> {
    let h = header(section, 0)?.ok_or(Error::NotPatched)?;
    let len = h.len as usize;
    if section.len() < HEADER_SIZE + len {
        return Err(Error::Truncated);
    }
    let sum = checksum(&section[..], HEADER_SIZE, len).ok_or(Error::Truncated)?;
    section[12..16].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

/// Check the header of the section at the start of `b` against kind `k`:
/// magic, version, kind, payload length (the kind's size; `b` holds
/// exactly one section) and checksum. The payload's fields are not
/// decoded.
pub fn check_section<B: Bytes + ?Sized>(b: &B, k: Kind, payload_len: usize) -> Result<(), Error> {
    let h = header(b, 0)?.ok_or(Error::NotPatched)?;
    if h.kind != k as u16 {
        return Err(Error::WrongKind {
            found: h.kind,
            expected: k,
        });
    }
    if h.len as usize != payload_len || b.len() != HEADER_SIZE + payload_len {
        return Err(Error::Length {
            found: h.len,
            expected: payload_len as u32,
        });
    }
    if checksum(b, HEADER_SIZE, payload_len) != Some(h.sum) {
        return Err(Error::Checksum);
    }
    Ok(())
}

/// A section header.
struct Header {
    kind: u16,
    len: u32,
    sum: u32,
}

/// Read the section header at `at`: `Ok(None)` where the sections end
/// (all-zero bytes), `Err` for anything else that is not a header.
fn header<B: Bytes + ?Sized>(b: &B, at: usize) -> Result<Option<Header>, Error> {
    let mut r = Reader::new(b, at, at.saturating_add(HEADER_SIZE));
    let magic = u32::get(&mut r)?;
    if magic != MAGIC {
        let zero = (at..at + HEADER_SIZE).all(|i| b.byte(i) == Some(0));
        return if zero {
            Ok(None)
        } else {
            Err(Error::BadMagic(magic))
        };
    }
    let version = u16::get(&mut r)?;
    if version != VERSION {
        return Err(Error::Version {
            found: version,
            expected: VERSION,
        });
    }
    Ok(Some(Header {
        kind: u16::get(&mut r)?,
        len: u32::get(&mut r)?,
        sum: u32::get(&mut r)?,
    }))
}

/// Decode the `C` section of blob `b`, checking its header (magic, version,
/// length, checksum) and every field. Never panics.
///
/// Errors: [`Error::NotPatched`] for an all-zero blob; [`Error::WrongKind`]
/// when the blob has sections but none of kind `C::KIND` (`found` is the
/// first section's kind).
pub fn decode<C: Config, B: Bytes + ?Sized>(b: &B) -> Result<C, Error> {
    let mut at = 0usize;
    let mut first = None;
    loop {
        let h = match header(b, at)? {
            Some(h) => h,
            None if at == 0 => return Err(Error::NotPatched),
            None => {
                return Err(Error::WrongKind {
                    found: first.unwrap_or(0),
                    expected: C::KIND,
                })
            }
        };
        first.get_or_insert(h.kind);
        let body = at + HEADER_SIZE;
        let end = body.checked_add(h.len as usize).ok_or(Error::Truncated)?;
        if end > b.len() {
            return Err(Error::Truncated);
        }
        if h.kind == C::KIND as u16 {
            let want = payload_size::<C>();
            if h.len as usize != want {
                return Err(Error::Length {
                    found: h.len,
                    expected: want as u32,
                });
            }
            if checksum(b, body, want) != Some(h.sum) {
                return Err(Error::Checksum);
            }
            let mut r = Reader::new(b, body, end);
            return C::get(&mut r);
        }
        at = end;
        if at + HEADER_SIZE > b.len() {
            return Err(Error::WrongKind {
                found: first.unwrap_or(0),
                expected: C::KIND,
            });
        }
    }
}

/// The kinds of the sections in a blob, in order (at most 16; stops at
/// the first malformed header).
pub fn kinds_of<B: Bytes + ?Sized>(b: &B) -> ([Option<Kind>; 16], usize) {
    let mut out = [None; 16];
    let mut n = 0;
    let mut at = 0usize;
    while n < out.len() {
        let Ok(Some(h)) = header(b, at) else { break };
        out[n] = Kind::from_u16(h.kind);
        n += 1;
        match (at + HEADER_SIZE).checked_add(h.len as usize) {
            Some(e) if e <= b.len() => at = e,
            _ => break,
        }
    }
    (out, n)
}

/// The kind of the first section of a blob, if its header is well-formed.
pub fn kind_of<B: Bytes + ?Sized>(b: &B) -> Option<Kind> {
    let (k, n) = kinds_of(b);
    if n == 0 {
        None
    } else {
        k[0]
    }
}

/// Declare the patched symbol [`SYMBOL`] in a component (once per program):
///
/// ```ignore
/// mantle_config::config_blob!();
///
/// fn init() {
///     let cfg: mantle_config::serial::SerialClientConfig =
///         match mantle_config::decode(&__mantle_config) {
///             Ok(c) => c,
///             Err(e) => panic!("bad configuration: {e}"),
///         };
///     // cfg.tx.channel, cfg.tx.queue.data.vaddr, ...
/// }
/// ```
///
/// The symbol keeps its exact name, is kept by the linker, and lives in
/// `.data` (never `.bss`), so it has file bytes for `mantle build` to
/// patch. Its bytes are read with volatile loads, so the compiler never
/// assumes the all-zero initial contents.
#[macro_export]
macro_rules! config_blob {
    () => {
        /// The configuration `mantle build` patched into this program.
        #[repr(transparent)]
        pub struct MantleConfigBlob(::core::cell::UnsafeCell<[u8; $crate::CONFIG_SIZE]>);

        // SAFETY: written only by the tool, before the PD runs; at run time
        // it is only read.
        unsafe impl ::core::marker::Sync for MantleConfigBlob {}

        impl $crate::Bytes for MantleConfigBlob {
            fn len(&self) -> usize {
                $crate::CONFIG_SIZE
            }
            fn byte(&self, i: usize) -> ::core::option::Option<u8> {
                if i >= $crate::CONFIG_SIZE {
                    return ::core::option::Option::None;
                }
                // SAFETY: `i` is in bounds; the array is valid for reads for
                // the program's lifetime and nothing writes it at run time.
                ::core::option::Option::Some(unsafe {
                    (self.0.get() as *const u8).add(i).read_volatile()
                })
            }
        }

        #[allow(non_upper_case_globals)]
        #[no_mangle]
        #[used]
        #[link_section = ".data"]
        static __mantle_config: MantleConfigBlob =
            MantleConfigBlob(::core::cell::UnsafeCell::new([0; $crate::CONFIG_SIZE]));
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serial::*;

    fn client() -> SerialClientConfig {
        SerialClientConfig {
            tx: serial::SerialConn {
                channel: Ch(3),
                queue: SerialQueue {
                    queue: Region {
                        vaddr: 0x4000_0000,
                        size: 0x1000,
                        paddr: 0,
                    },
                    data: Region {
                        vaddr: 0x4000_1000,
                        size: 0x1000,
                        paddr: 0,
                    },
                },
            },
            rx: None,
        }
    }

    #[test]
    fn header_checks() {
        let mut buf = [0u8; CONFIG_SIZE];
        assert_eq!(
            decode::<SerialClientConfig, _>(&buf[..]),
            Err(Error::NotPatched)
        );
        let n = encode(&client(), &mut buf).unwrap();
        assert_eq!(n, HEADER_SIZE + payload_size::<SerialClientConfig>());
        assert_eq!(decode::<SerialClientConfig, _>(&buf[..]), Ok(client()));
        assert_eq!(kind_of(&buf[..]), Some(Kind::SerialClient));
        assert!(matches!(
            decode::<SerialDriverConfig, _>(&buf[..]),
            Err(Error::WrongKind { found: 4, .. })
        ));
        // A second section of another kind.
        let t = timer::TimerClientConfig { channel: Ch(9) };
        let m = append(&t, &mut buf, n).unwrap();
        assert_eq!(decode::<timer::TimerClientConfig, _>(&buf[..]), Ok(t));
        assert_eq!(decode::<SerialClientConfig, _>(&buf[..]), Ok(client()));
        assert_eq!(
            decode::<timer::TimerClientConfig, _>(&buf[..m - 1]),
            Err(Error::Truncated)
        );
        let (kinds, count) = kinds_of(&buf[..]);
        assert_eq!(
            &kinds[..count],
            &[Some(Kind::SerialClient), Some(Kind::TimerClient)]
        );
        buf[n..m].fill(0);
        let mut v = buf;
        v[4] = 9;
        assert!(matches!(
            decode::<SerialClientConfig, _>(&v[..]),
            Err(Error::Version { found: 9, .. })
        ));
        let mut c = buf;
        c[HEADER_SIZE] ^= 1;
        assert_eq!(
            decode::<SerialClientConfig, _>(&c[..]),
            Err(Error::Checksum)
        );
        let mut m = buf;
        m[0] = b'X';
        assert!(matches!(
            decode::<SerialClientConfig, _>(&m[..]),
            Err(Error::BadMagic(_))
        ));
        assert_eq!(
            decode::<SerialClientConfig, _>(&buf[..n - 1]),
            Err(Error::Truncated)
        );
        assert!(matches!(
            encode(&client(), &mut [0u8; 20]),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn every_payload_fits_the_symbol() {
        let sizes = [
            payload_size::<SerialDriverConfig>(),
            payload_size::<SerialVirtTxConfig>(),
            payload_size::<SerialVirtRxConfig>(),
            payload_size::<SerialClientConfig>(),
            payload_size::<timer::TimerDriverConfig>(),
            payload_size::<timer::TimerClientConfig>(),
            payload_size::<net::NetDriverConfig>(),
            payload_size::<net::NetVirtRxConfig>(),
            payload_size::<net::NetVirtTxConfig>(),
            payload_size::<net::NetCopierConfig>(),
            payload_size::<net::NetClientConfig>(),
        ];
        for s in sizes {
            assert!(s > 0 && HEADER_SIZE + s <= CONFIG_SIZE, "{sizes:?}");
        }
    }

    #[test]
    fn names_are_cut_at_char_boundaries() {
        let n = Name::new("ééééééééééééééééé"); // 34 bytes
        assert_eq!(n.as_str().len(), 32);
        assert_eq!(Name::new("uart").as_str(), "uart");
    }
}
