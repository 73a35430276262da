//! Building blocks shared by every component's configuration.

use crate::wire::{wire_struct, Reader, Wire, Writer};
use crate::{Bytes, Error};

/// Channel ids are 0..=61 (one id space per PD, shared with IRQs).
pub const MAX_CHANNEL_ID: u8 = 61;

/// A channel or IRQ id, checked to be at most [`MAX_CHANNEL_ID`] when
/// decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Ch(pub u8);

impl Wire for Ch {
    fn put(&self, w: &mut Writer<'_>) {
        w.put(&[self.0]);
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        let v = r.take::<1>()?[0];
        if v > MAX_CHANNEL_ID {
            return Err(Error::Invalid("channel id above 61"));
        }
        Ok(Ch(v))
    }
}

wire_struct! {
    /// A memory region as one PD sees it.
    pub struct Region {
        /// Where the PD maps it.
        pub vaddr: u64,
        /// Its size in bytes.
        pub size: u64,
        /// Its physical address (0 unless the component needs it, e.g. for
        /// DMA).
        pub paddr: u64,
    }
}

impl Region {
    /// Is `[vaddr, vaddr + size)` a non-empty range that does not wrap?
    pub fn is_valid(&self) -> bool {
        self.size > 0 && self.vaddr.checked_add(self.size).is_some()
    }
}

/// Longest [`Name`], bytes.
pub const NAME_LEN: usize = 32;

/// A short name (a PD's name, cut to [`NAME_LEN`] bytes), NUL-padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Name(pub [u8; NAME_LEN]);

impl Name {
    /// `s`, cut to [`NAME_LEN`] bytes at a character boundary.
    pub fn new(s: &str) -> Name {
        let mut n = [0u8; NAME_LEN];
        let mut end = s.len().min(NAME_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        n[..end].copy_from_slice(&s.as_bytes()[..end]);
        Name(n)
    }
    /// The name (up to the first NUL; `"?"` if it is not UTF-8).
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        core::str::from_utf8(&self.0[..end]).unwrap_or("?")
    }
}

impl Wire for Name {
    fn put(&self, w: &mut Writer<'_>) {
        w.put(&self.0);
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        Ok(Name(r.take()?))
    }
}

/// Up to `N` items: a `u16` count, then `N` items (unused ones encoded as
/// `T::default()`), so the size is fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct List<T, const N: usize> {
    len: usize,
    items: [T; N],
}

impl<T: Copy + Default, const N: usize> Default for List<T, N> {
    fn default() -> Self {
        List {
            len: 0,
            items: [T::default(); N],
        }
    }
}

impl<T: Copy + Default, const N: usize> List<T, N> {
    /// Most items.
    pub const CAPACITY: usize = N;
    /// Append `item`; `Err(item)` when full.
    pub fn push(&mut self, item: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                Ok(())
            }
            None => Err(item),
        }
    }
    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }
    /// No items?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T: Wire + Copy + Default, const N: usize> Wire for List<T, N> {
    fn put(&self, w: &mut Writer<'_>) {
        (self.len as u16).put(w);
        for it in &self.items {
            it.put(w);
        }
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        let len = u16::get(r)? as usize;
        if len > N {
            return Err(Error::Count { count: len, max: N });
        }
        let mut l = List::default();
        for i in 0..N {
            let v = T::get(r)?;
            if i < len {
                l.items[i] = v;
            }
        }
        l.len = len;
        Ok(l)
    }
}

/// A MAC address.
pub type Mac = [u8; 6];
