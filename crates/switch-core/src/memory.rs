//! Memory the switch lends to providers for data transfer (SESS-1, SESS-2, MEM-1..3).
//!
//! On Windows a provider's data calls take buffers the caller owns and has registered: a
//! `WSABUFEX` is a length, a pointer and the handle `WSPRegisterMemory` returned for that
//! memory, and an overlapped call that answers `WSA_IO_PENDING` may read or write the buffer
//! until it completes. In safe Rust that is a [`Buffer`]: a fixed heap block behind a shared
//! handle. A provider that answers pending keeps a clone of the handle, so the memory stays
//! alive however long the operation takes, and the block never moves, so its
//! [`address`](Buffer::addr) is what a registration names, as a virtual address is on Windows.
//!
//! A [`MemoryRange`] is a part of a buffer (what `WSPRegisterMemory` and
//! `WSPRegisterRdmaMemory` take); a [`WsaBufEx`] is a range with its registration handle (what
//! `WSPSend`, `WSPRecv`, `WSPRdmaWrite` and `WSPRdmaRead` take).

use std::sync::{Arc, Mutex, MutexGuard};

/// A range lies (partly) outside its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{len} bytes at offset {offset} lie outside a buffer of {size} bytes")]
pub struct OutOfBounds {
    /// The range's offset.
    pub offset: usize,
    /// The range's length.
    pub len: usize,
    /// The buffer's size.
    pub size: usize,
}

#[derive(Debug)]
struct Block {
    bytes: Mutex<Box<[u8]>>,
    addr: u64,
}

/// A block of memory that never moves, shared between the switch and the providers it lends
/// it to. Cloning it clones the handle, not the bytes.
#[derive(Debug, Clone)]
pub struct Buffer(Arc<Block>);

impl Buffer {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        Self::from_vec(vec![0; len])
    }

    /// The bytes of `v`, without copying them.
    pub fn from_vec(v: Vec<u8>) -> Self {
        let bytes = v.into_boxed_slice();
        // The address of the heap block; a boxed slice is never reallocated, so it stays valid
        // for the buffer's life.
        let addr = bytes.as_ptr() as usize as u64;
        Buffer(Arc::new(Block {
            bytes: Mutex::new(bytes),
            addr,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Box<[u8]>> {
        // Every access is a plain copy that cannot leave the bytes half-updated in a way a
        // later reader could not handle, so a poisoned lock is still usable.
        self.0.bytes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The block's address: what a registration of it names.
    pub fn addr(&self) -> u64 {
        self.0.addr
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `other` is a handle of the same block.
    pub fn same(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// How many handles of the block exist (the switch's and those providers keep).
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Runs `f` on the bytes.
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.lock())
    }

    /// Runs `f` on the bytes, which it may change.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        f(&mut self.lock())
    }

    /// Copies `out.len()` bytes from `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), OutOfBounds> {
        let bytes = self.lock();
        let src = slice(&bytes, offset, out.len())?;
        out.copy_from_slice(src);
        Ok(())
    }

    /// Copies `data` into the buffer at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        let mut bytes = self.lock();
        let size = bytes.len();
        let dst = offset
            .checked_add(data.len())
            .and_then(|end| bytes.get_mut(offset..end))
            .ok_or(OutOfBounds {
                offset,
                len: data.len(),
                size,
            })?;
        dst.copy_from_slice(data);
        Ok(())
    }

    /// Copies `len` bytes from `from` at `from_offset` to `to` at `to_offset` (the two may be
    /// the same buffer; overlapping ranges are copied as `memmove` would).
    pub fn copy(
        from: &Buffer,
        from_offset: usize,
        to: &Buffer,
        to_offset: usize,
        len: usize,
    ) -> Result<(), OutOfBounds> {
        if from.same(to) {
            let mut bytes = from.lock();
            slice(&bytes, from_offset, len)?;
            slice(&bytes, to_offset, len)?;
            bytes.copy_within(from_offset..from_offset + len, to_offset);
            return Ok(());
        }
        // Lock in address order, so two copies in opposite directions cannot deadlock.
        let (first, second) = if from.addr() <= to.addr() {
            (from, to)
        } else {
            (to, from)
        };
        let a = first.lock();
        let b = second.lock();
        let (src, mut dst) = if from.addr() <= to.addr() {
            (a, b)
        } else {
            (b, a)
        };
        let src = slice(&src, from_offset, len)?;
        let size = dst.len();
        let dst = to_offset
            .checked_add(len)
            .and_then(|end| dst.get_mut(to_offset..end))
            .ok_or(OutOfBounds {
                offset: to_offset,
                len,
                size,
            })?;
        dst.copy_from_slice(src);
        Ok(())
    }

    /// The bytes as a vector: without copying when this is the only handle.
    pub fn into_vec(self) -> Vec<u8> {
        match Arc::try_unwrap(self.0) {
            Ok(block) => block
                .bytes
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .into_vec(),
            Err(shared) => Buffer(shared).with(|b| b.to_vec()),
        }
    }
}

fn slice(bytes: &[u8], offset: usize, len: usize) -> Result<&[u8], OutOfBounds> {
    offset
        .checked_add(len)
        .and_then(|end| bytes.get(offset..end))
        .ok_or(OutOfBounds {
            offset,
            len,
            size: bytes.len(),
        })
}

/// A part of a [`Buffer`]: what a registration covers.
#[derive(Debug, Clone)]
pub struct MemoryRange {
    /// The buffer.
    pub buffer: Buffer,
    /// Where the range starts in it.
    pub offset: usize,
    /// Its length.
    pub len: usize,
}

impl MemoryRange {
    /// The whole of `buffer`.
    pub fn whole(buffer: &Buffer) -> Self {
        MemoryRange {
            buffer: buffer.clone(),
            offset: 0,
            len: buffer.len(),
        }
    }

    /// The range's first address.
    pub fn addr(&self) -> u64 {
        self.buffer.addr().wrapping_add(self.offset as u64)
    }

    /// Whether the range lies inside its buffer.
    pub fn check(&self) -> Result<(), OutOfBounds> {
        let size = self.buffer.len();
        match self.offset.checked_add(self.len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(OutOfBounds {
                offset: self.offset,
                len: self.len,
                size,
            }),
        }
    }
}

/// Two ranges are equal when they cover the same bytes of the same buffer.
impl PartialEq for MemoryRange {
    fn eq(&self, other: &Self) -> bool {
        self.buffer.same(&other.buffer) && self.offset == other.offset && self.len == other.len
    }
}

impl Eq for MemoryRange {}

/// What `WSPRegisterMemory` returns for a local registration: the handle a `WSABUFEX` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemoryHandle(pub u64);

/// One buffer of a data call (`WSABUFEX`): a range and the handle of the local registration
/// that covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsaBufEx {
    /// The memory.
    pub range: MemoryRange,
    /// Its registration.
    pub handle: MemoryHandle,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_keeps_its_address_and_copies_within_bounds() {
        let a = Buffer::from_vec(vec![1, 2, 3, 4]);
        let b = Buffer::zeroed(4);
        assert!(!a.is_empty() && Buffer::zeroed(0).is_empty());
        assert!(a.same(&a.clone()) && !a.same(&b));
        let addr = a.addr();
        assert_ne!(a.addr(), b.addr());
        Buffer::copy(&a, 1, &b, 0, 3).unwrap();
        assert_eq!(b.with(|x| x.to_vec()), vec![2, 3, 4, 0]);
        Buffer::copy(&b, 0, &a, 0, 3).unwrap();
        assert_eq!(a.with(|x| x.to_vec()), vec![2, 3, 4, 4]);
        assert_eq!(
            Buffer::copy(&a, 2, &b, 0, 3),
            Err(OutOfBounds {
                offset: 2,
                len: 3,
                size: 4
            })
        );
        assert_eq!(
            Buffer::copy(&a, 0, &b, usize::MAX, 1).unwrap_err().offset,
            usize::MAX
        );
        Buffer::copy(&a, 0, &a, 1, 3).unwrap();
        assert_eq!(a.with(|x| x.to_vec()), vec![2, 2, 3, 4]);
        assert!(a.write(3, &[9, 9]).is_err());
        let mut out = [0u8; 2];
        assert!(a.read(3, &mut out).is_err());
        a.read(2, &mut out).unwrap();
        assert_eq!(out, [3, 4]);
        assert_eq!(a.addr(), addr);
        let held = a.clone();
        assert_eq!(a.holders(), 2);
        assert_eq!(a.into_vec(), vec![2, 2, 3, 4]);
        assert_eq!(held.holders(), 1);
        assert!(
            MemoryRange {
                buffer: held,
                offset: 3,
                len: 2
            }
            .check()
            .is_err()
        );
    }
}
