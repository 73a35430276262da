//! The fixed-layout little-endian encoding: [`Wire`] types write
//! themselves field by field, in declaration order, with no padding.
//! Decoding is bounds-checked and never panics.

use crate::{Bytes, Error};

/// Writes into a byte slice.
pub struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    /// Write into `out` from offset 0.
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer {
            out,
            at: 0,
            overflow: false,
        }
    }
    /// Append `bytes` (remembering, not panicking, when they do not fit).
    pub fn put(&mut self, bytes: &[u8]) {
        match self.out.get_mut(self.at..self.at + bytes.len()) {
            Some(dst) if !self.overflow => dst.copy_from_slice(bytes),
            _ => self.overflow = true,
        }
        self.at = self.at.saturating_add(bytes.len());
    }
    /// Bytes written so far, or `Err` if they did not all fit.
    pub fn finish(&self) -> Result<usize, Error> {
        if self.overflow {
            Err(Error::TooLarge { needed: self.at })
        } else {
            Ok(self.at)
        }
    }
}

/// Reads from a [`Bytes`] source, from an offset up to a limit.
pub struct Reader<'a, B: Bytes + ?Sized> {
    src: &'a B,
    at: usize,
    end: usize,
}

impl<'a, B: Bytes + ?Sized> Reader<'a, B> {
    /// Read `src[start..end]` (`end` is clamped to the source's length).
    pub fn new(src: &'a B, start: usize, end: usize) -> Self {
        Reader {
            src,
            at: start,
            end: end.min(src.len()),
        }
    }
    /// The next `N` bytes.
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        if self.at.checked_add(N).is_none_or(|e| e > self.end) {
            return Err(Error::Truncated);
        }
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.src.byte(self.at + i).ok_or(Error::Truncated)?;
        }
        self.at += N;
        Ok(a)
    }
    /// Offset of the next byte.
    pub fn offset(&self) -> usize {
        self.at
    }
}

/// A type with a fixed-layout little-endian encoding.
pub trait Wire: Sized {
    /// Append the encoding.
    fn put(&self, w: &mut Writer<'_>);
    /// Decode, checking every field.
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error>;
}

macro_rules! int_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, w: &mut Writer<'_>) {
                w.put(&self.to_le_bytes());
            }
            fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
                Ok(<$t>::from_le_bytes(r.take()?))
            }
        }
    )*};
}
int_wire!(u8, u16, u32, u64);

impl Wire for bool {
    fn put(&self, w: &mut Writer<'_>) {
        w.put(&[*self as u8]);
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        match r.take::<1>()?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Invalid("boolean")),
        }
    }
}

impl<const N: usize> Wire for [u8; N] {
    fn put(&self, w: &mut Writer<'_>) {
        w.put(self);
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        r.take()
    }
}

/// `None` is a 0 byte followed by the zero encoding of `T`; `Some` is 1
/// and the value, so the size is fixed.
impl<T: Wire + Default> Wire for Option<T> {
    fn put(&self, w: &mut Writer<'_>) {
        match self {
            None => {
                w.put(&[0]);
                T::default().put(w);
            }
            Some(v) => {
                w.put(&[1]);
                v.put(w);
            }
        }
    }
    fn get<B: Bytes + ?Sized>(r: &mut Reader<'_, B>) -> Result<Self, Error> {
        let present = bool::get(r)?;
        let v = T::get(r)?;
        Ok(present.then_some(v))
    }
}

/// Declare a plain struct whose fields are all [`Wire`], with its encoding
/// (fields in order).
macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }
        impl $crate::wire::Wire for $name {
            fn put(&self, w: &mut $crate::wire::Writer<'_>) {
                $( $crate::wire::Wire::put(&self.$f, w); )*
            }
            fn get<B: $crate::Bytes + ?Sized>(
                r: &mut $crate::wire::Reader<'_, B>,
            ) -> Result<Self, $crate::Error> {
                Ok($name { $($f: <$t as $crate::wire::Wire>::get(r)?,)* })
            }
        }
    };
}
pub(crate) use wire_struct;
