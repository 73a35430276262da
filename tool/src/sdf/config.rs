//! `<config>`: a PD's configuration section written out in a plain SDF.
//!
//! A composed subsystem computes each component's configuration
//! ([`super::compose::configs`]); `mantle expand` writes every section it
//! computed as
//!
//! ```xml
//! <config kind="timer_driver" data="4d434647...">
//!     <paddr offset="0x11" mr="hpet" />
//! </config>
//! ```
//!
//! inside the PD, and `mantle build` writes those bytes into the PD's
//! [`mantle_config::SYMBOL`] exactly as the composed path does. `data` is
//! the whole section in hex (16-byte header: magic, version, kind, length,
//! checksum; then the payload), with every physical address 0: they are
//! only known once the build has placed memory, so each `<paddr>` names the
//! region whose address the build writes at `offset` (a byte offset in
//! `data`), after which it recomputes the checksum. The section is checked
//! when the SDF is read (header, kind, length, checksum, every field), so a
//! hand edit that breaks it is an error at the element, not a panic in the
//! component.

use super::model::System;
use crate::diag::{did_you_mean, Diags};
use mantle_config::{decode, net, serial, timer, Error, Kind, HEADER_SIZE};

/// Each kind's `kind` attribute value.
pub const TAGS: [(Kind, &str); 11] = [
    (Kind::SerialDriver, "serial_driver"),
    (Kind::SerialVirtTx, "serial_virt_tx"),
    (Kind::SerialVirtRx, "serial_virt_rx"),
    (Kind::SerialClient, "serial_client"),
    (Kind::TimerDriver, "timer_driver"),
    (Kind::TimerClient, "timer_client"),
    (Kind::NetDriver, "net_driver"),
    (Kind::NetVirtRx, "net_virt_rx"),
    (Kind::NetVirtTx, "net_virt_tx"),
    (Kind::NetCopier, "net_copier"),
    (Kind::NetClient, "net_client"),
];

/// The `kind` attribute value of `k`.
pub fn tag(k: Kind) -> &'static str {
    TAGS.iter().find(|(x, _)| *x == k).map_or("?", |(_, t)| t)
}

/// Payload size of a section of kind `k`, bytes.
pub fn payload_size(k: Kind) -> usize {
    use mantle_config::payload_size as p;
    match k {
        Kind::SerialDriver => p::<serial::SerialDriverConfig>(),
        Kind::SerialVirtTx => p::<serial::SerialVirtTxConfig>(),
        Kind::SerialVirtRx => p::<serial::SerialVirtRxConfig>(),
        Kind::SerialClient => p::<serial::SerialClientConfig>(),
        Kind::TimerDriver => p::<timer::TimerDriverConfig>(),
        Kind::TimerClient => p::<timer::TimerClientConfig>(),
        Kind::NetDriver => p::<net::NetDriverConfig>(),
        Kind::NetVirtRx => p::<net::NetVirtRxConfig>(),
        Kind::NetVirtTx => p::<net::NetVirtTxConfig>(),
        Kind::NetCopier => p::<net::NetCopierConfig>(),
        Kind::NetClient => p::<net::NetClientConfig>(),
    }
}

/// Decode section `b` as kind `k` (what the component will do at start-up).
pub fn decode_as(k: Kind, b: &[u8]) -> Result<(), Error> {
    match k {
        Kind::SerialDriver => decode::<serial::SerialDriverConfig, _>(b).map(drop),
        Kind::SerialVirtTx => decode::<serial::SerialVirtTxConfig, _>(b).map(drop),
        Kind::SerialVirtRx => decode::<serial::SerialVirtRxConfig, _>(b).map(drop),
        Kind::SerialClient => decode::<serial::SerialClientConfig, _>(b).map(drop),
        Kind::TimerDriver => decode::<timer::TimerDriverConfig, _>(b).map(drop),
        Kind::TimerClient => decode::<timer::TimerClientConfig, _>(b).map(drop),
        Kind::NetDriver => decode::<net::NetDriverConfig, _>(b).map(drop),
        Kind::NetVirtRx => decode::<net::NetVirtRxConfig, _>(b).map(drop),
        Kind::NetVirtTx => decode::<net::NetVirtTxConfig, _>(b).map(drop),
        Kind::NetCopier => decode::<net::NetCopierConfig, _>(b).map(drop),
        Kind::NetClient => decode::<net::NetClientConfig, _>(b).map(drop),
    }
}

/// Lower-case hex, two digits per byte.
pub fn to_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Hex → bytes; `Err` says what is wrong and where (character offset).
pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "is not hex: {c:?} at character {i}; expected two hex digits per byte, as `mantle expand` writes"
        ));
    }
    if s.len() % 2 != 0 {
        return Err(format!(
            "has an odd number of hex digits ({}); expected two per byte (was a digit lost?)",
            s.len()
        ));
    }
    Ok((0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect())
}

/// Check section `data` against `kind` (the attribute): the reason it is
/// not a valid section of that kind, if any. Physical-address fields
/// are expected to be 0 here (the build fills them in).
pub fn check_data(kind: Kind, data: &[u8]) -> Result<(), String> {
    let want = payload_size(kind);
    let regenerate = "regenerate it with `mantle expand` from the composed system";
    if data.len() < HEADER_SIZE {
        return Err(format!(
            "is {} bytes; a configuration section starts with a {HEADER_SIZE}-byte header and a {} section is {} bytes",
            data.len(),
            tag(kind),
            HEADER_SIZE + want
        ));
    }
    if let Err(e) = mantle_config::check_section(&data[..HEADER_SIZE.min(data.len())], kind, 0) {
        // Only the header's first fields are meaningful with 0 length.
        match e {
            Error::BadMagic(_) | Error::NotPatched => {
                return Err(format!(
                    "does not start with the magic \"MCFG\" (4d434647); it is not a configuration section ({regenerate})"
                ))
            }
            Error::Version { found, expected } => {
                return Err(format!(
                    "is a version {found} configuration; this tool and the components read version {expected} ({regenerate})"
                ))
            }
            Error::WrongKind { found, .. } => {
                let holds = Kind::from_u16(found).map_or_else(
                    || format!("an unknown kind {found}"),
                    |k| format!("a {} configuration (kind=\"{}\")", k.name(), tag(k)),
                );
                return Err(format!(
                    "holds {holds}, but the element says kind=\"{}\"; make them agree or {regenerate}",
                    tag(kind)
                ));
            }
            _ => {}
        }
    }
    let len = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
    if len != want || data.len() != HEADER_SIZE + want {
        return Err(format!(
            "is {} bytes with a payload length of {len} in its header; a {} section is {} bytes ({HEADER_SIZE}-byte header, {want}-byte payload) ({regenerate})",
            data.len(),
            tag(kind),
            HEADER_SIZE + want
        ));
    }
    match mantle_config::check_section(data, kind, want) {
        Ok(()) => {}
        Err(Error::Checksum) => {
            return Err(format!(
                "does not match its checksum: the payload was changed after it was written (a {} section cannot be edited by hand; {regenerate})",
                tag(kind)
            ))
        }
        Err(e) => return Err(format!("has a bad header: {e} ({regenerate})")),
    }
    decode_as(kind, data).map_err(|e| {
        format!(
            "does not decode as a {} configuration: {e} ({regenerate})",
            kind.name()
        )
    })
}

/// The sections of PD `pd`'s `<config>` elements, physical addresses
/// written in (`paddr` by region index; `None`: all 0) and checksums
/// recomputed.
pub fn explicit_sections(sys: &System, pd: usize, paddr: Option<&[u64]>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for c in &sys.pds[pd].configs {
        let mut data = c.data.clone();
        for r in &c.paddrs {
            let v = match (sys.mr_index(&r.mr), paddr) {
                (Some(mi), Some(p)) => p.get(mi).copied().unwrap_or(0),
                _ => 0,
            };
            if let Some(dst) = data.get_mut(r.offset..r.offset + 8) {
                dst.copy_from_slice(&v.to_le_bytes());
            }
        }
        let _ = mantle_config::reseal(&mut data);
        out.push(data);
    }
    out
}

/// Rules across elements: a `<paddr>` names a declared region; a PD has
/// one section of each kind, whether written or composed.
pub fn check(sys: &System, d: &mut Diags) {
    let composed = super::compose::configs(sys, None).unwrap_or_default();
    for (i, pd) in sys.pds.iter().enumerate() {
        for (k, c) in pd.configs.iter().enumerate() {
            if let Some(first) = pd.configs[..k].iter().find(|o| o.kind == c.kind) {
                d.error(
                    c.attrs.get("kind", c.pos),
                    format!(
                        "protection_domain '{}' has a second {} configuration (the first is at {}:{}); a PD has one configuration of each kind",
                        pd.name,
                        tag(c.kind),
                        first.pos.line,
                        first.pos.col
                    ),
                );
            }
            let from_subsystem = composed.iter().any(|(j, kinds, _)| {
                *j == i
                    && kinds.iter().filter(|x| **x == c.kind).count()
                        > pd.configs.iter().filter(|o| o.kind == c.kind).count()
            });
            if from_subsystem {
                d.error(
                    c.attrs.get("kind", c.pos),
                    format!(
                        "protection_domain '{}' gets its {} configuration from a composed subsystem and also from this <config>; keep one (drop the <config>, or the PD's <client> in the subsystem)",
                        pd.name,
                        tag(c.kind)
                    ),
                );
            }
            for r in &c.paddrs {
                if sys.mr_index(&r.mr).is_none() {
                    d.error(
                        r.attrs.get("mr", r.pos),
                        format!(
                            "paddr in the {} configuration of protection_domain '{}' names unknown memory_region '{}'{}",
                            tag(c.kind),
                            pd.name,
                            r.mr,
                            did_you_mean(&r.mr, sys.mrs.iter().map(|m| m.name.as_str()))
                        ),
                    );
                }
            }
        }
    }
}

/// What `mantle expand` writes for PD `pd`: each section of its
/// configuration (physical addresses 0) and, per section, where the build
/// must write which region's physical address (offset, region name).
pub fn for_writing(sys: &System) -> Vec<(usize, Vec<PdConfigText>)> {
    // Physical addresses are found by building the configurations once with
    // every address 0 and once per region with that region's address set to
    // a marker: where the marker appears, the configuration holds that
    // region's address.
    const MARK: u64 = 0xfeed_f00d_dead_b000;
    let zero = vec![0u64; sys.mrs.len()];
    let Ok(base) = super::compose::configs(sys, Some(&zero)) else {
        return Vec::new();
    };
    let mut refs: Vec<Vec<(usize, String)>> = vec![Vec::new(); base.len()];
    for mi in 0..sys.mrs.len() {
        let mut p = zero.clone();
        p[mi] = MARK;
        let Ok(probe) = super::compose::configs(sys, Some(&p)) else {
            continue;
        };
        for (n, ((_, _, b0), (_, _, b1))) in base.iter().zip(&probe).enumerate() {
            let mut at = 0;
            while at + 8 <= b1.len() {
                if b1[at..at + 8] == MARK.to_le_bytes() && b0[at..at + 8] == [0; 8] {
                    refs[n].push((at, sys.mrs[mi].name.clone()));
                    at += 8;
                } else {
                    at += 1;
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((pd, _, blob), mut r) in base.into_iter().zip(refs) {
        r.sort();
        let mut sections = Vec::new();
        let mut at = 0;
        while at + HEADER_SIZE <= blob.len() && blob[at..at + 4] == *b"MCFG" {
            let len = u32::from_le_bytes([blob[at + 8], blob[at + 9], blob[at + 10], blob[at + 11]])
                as usize;
            let end = (at + HEADER_SIZE + len).min(blob.len());
            let kind = Kind::from_u16(u16::from_le_bytes([blob[at + 6], blob[at + 7]]));
            if let Some(kind) = kind {
                sections.push(PdConfigText {
                    kind,
                    data: blob[at..end].to_vec(),
                    paddrs: r
                        .iter()
                        .filter(|(o, _)| *o >= at && *o < end)
                        .map(|(o, m)| (o - at, m.clone()))
                        .collect(),
                });
            }
            at = end;
        }
        out.push((pd, sections));
    }
    out
}

/// One section as `mantle expand` writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdConfigText {
    /// Its kind.
    pub kind: Kind,
    /// The section, physical addresses 0.
    pub data: Vec<u8>,
    /// (offset in `data`, region) of each physical address.
    pub paddrs: Vec<(usize, String)>,
}
