//! The compiled lookup structure: a sorted array of disjoint address intervals, each carrying
//! its resolved answer, reached through a direct bucket index.
//!
//! A set of prefixes (nested or disjoint, never equal) is flattened into non-overlapping
//! intervals that cover the whole key space; each interval stores the answer of the longest
//! prefix covering it (or "no route"). A lookup is then:
//!
//! 1. one subtraction and shift to find the key's bucket, and one load from `index`, which gives
//!    the first interval that can contain the key;
//! 2. a branch-free binary search of fixed depth (the same depth for every key of one table, so
//!    the loop branch is perfectly predicted) over a window of `2 * half` starts;
//! 3. one load from `vals`.
//!
//! The index covers only the span between the first and the last interval boundary
//! (`base .. base + (buckets << shift)`); keys below or above that span clamp to the first or
//! last bucket, which is still correct because the answer is then the first or last interval.

use std::fmt::Debug;
use std::hint::select_unpredictable;

/// Route-level "no route" marker used while flattening.
pub(crate) const NO_ROUTE: u32 = u32::MAX;

/// An unsigned integer key: an IPv4 address (`u32`), the top half of an IPv6 address (`u64`) or
/// a whole IPv6 address (`u128`).
pub(crate) trait Key: Copy + Ord + Debug + Send + Sync + 'static {
    /// Width in bits.
    const BITS: u32;
    /// Zero.
    const ZERO: Self;
    /// All ones.
    const MAX: Self;
    /// `self - other`, or zero when `other > self`.
    fn sat_sub(self, other: Self) -> Self;
    /// `self + 1`, or `None` at `MAX`.
    fn succ(self) -> Option<Self>;
    /// `self - 1` (callers guarantee `self > 0`).
    fn pred(self) -> Self;
    /// `self >> s` for `s < BITS`.
    fn shr(self, s: u32) -> Self;
    /// `b << s` (callers guarantee it fits).
    fn from_bucket(b: usize, s: u32) -> Self;
    /// `min(self, limit)` as a `usize`.
    fn min_usize(self, limit: usize) -> usize;
    /// Number of leading zero bits.
    fn lz(self) -> u32;
    /// `self + other` (callers guarantee no overflow).
    fn add(self, other: Self) -> Self;
    /// Widen to `u128`.
    fn widen(self) -> u128;
}

macro_rules! impl_key {
    ($t:ty) => {
        impl Key for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn sat_sub(self, other: Self) -> Self {
                self.saturating_sub(other)
            }
            #[inline(always)]
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            #[inline(always)]
            fn pred(self) -> Self {
                self.wrapping_sub(1)
            }
            #[inline(always)]
            fn shr(self, s: u32) -> Self {
                self >> s
            }
            #[inline(always)]
            fn from_bucket(b: usize, s: u32) -> Self {
                (b as $t) << s
            }
            #[inline(always)]
            fn min_usize(self, limit: usize) -> usize {
                if self < limit as $t {
                    self as usize
                } else {
                    limit
                }
            }
            #[inline(always)]
            fn lz(self) -> u32 {
                self.leading_zeros()
            }
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn widen(self) -> u128 {
                self as u128
            }
        }
    };
}
impl_key!(u32);
impl_key!(u64);
impl_key!(u128);

/// One family's compiled intervals (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Flat<K> {
    /// Keys below `base` clamp to bucket 0.
    base: K,
    /// Bucket width in bits.
    shift: u32,
    /// Index of the last bucket.
    last_bucket: usize,
    /// Half the search window (a power of two, or zero for a one-interval window).
    half: usize,
    /// Per bucket: the last interval starting at or before the bucket's first key.
    index: Box<[u32]>,
    /// Interval starts, ascending, `starts[0] == 0`; padded with `MAX` to a whole window.
    starts: Box<[K]>,
    /// Class of each interval (0 = no route); padding repeats the last interval's class.
    vals: Box<[u32]>,
    /// Number of real (unpadded) intervals.
    len: usize,
}

impl<K: Key> Flat<K> {
    /// An empty table: one interval, no route.
    #[cfg(test)]
    pub(crate) fn empty() -> Self {
        Self::compile(vec![K::ZERO], vec![0])
    }

    /// The class of the interval containing `key`.
    #[inline(always)]
    pub(crate) fn find(&self, key: K) -> u32 {
        let b = key
            .sat_sub(self.base)
            .shr(self.shift)
            .min_usize(self.last_bucket);
        let mut pos = self.index[b] as usize;
        let mut half = self.half;
        while half > 0 {
            let mid = pos + half;
            pos = select_unpredictable(self.starts[mid] <= key, mid, pos);
            half >>= 1;
        }
        self.vals[pos]
    }

    /// The real intervals as `(first key, last key, class)`.
    pub(crate) fn intervals(&self) -> impl Iterator<Item = (K, K, u32)> + '_ {
        (0..self.len).map(move |i| {
            let end = if i + 1 < self.len {
                self.starts[i + 1].pred()
            } else {
                K::MAX
            };
            (self.starts[i], end, self.vals[i])
        })
    }

    /// Heap and inline bytes of this structure.
    pub(crate) fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.index)
            + std::mem::size_of_val(&*self.starts)
            + std::mem::size_of_val(&*self.vals)
    }

    /// Number of real intervals.
    #[cfg(test)]
    pub(crate) fn interval_count(&self) -> usize {
        self.len
    }

    /// Builds the index over sorted, disjoint intervals (`starts[0] == 0`, adjacent classes
    /// differ or not, both are fine).
    pub(crate) fn compile(mut starts: Vec<K>, mut vals: Vec<u32>) -> Self {
        debug_assert_eq!(starts.len(), vals.len());
        debug_assert!(!starts.is_empty() && starts[0] == K::ZERO);
        let n = starts.len();
        if n == 1 {
            return Self {
                base: K::ZERO,
                shift: K::BITS - 1,
                last_bucket: 0,
                half: 0,
                index: vec![0].into_boxed_slice(),
                starts: starts.into_boxed_slice(),
                vals: vals.into_boxed_slice(),
                len: 1,
            };
        }
        let base = starts[1].pred();
        let range = starts[n - 1].sat_sub(base);
        let need = K::BITS - range.lz();
        let shift = need.saturating_sub(bucket_bits(n));
        let buckets = range.shr(shift).min_usize(usize::MAX - 1) + 1;
        let mut index = Vec::with_capacity(buckets);
        let mut i = 0usize;
        for b in 0..buckets {
            let t = base.add(K::from_bucket(b, shift));
            while i + 1 < n && starts[i + 1] <= t {
                i += 1;
            }
            index.push(i as u32);
        }
        let mut widest = 1usize;
        for b in 0..buckets {
            let hi = if b + 1 < buckets {
                index[b + 1] as usize
            } else {
                n - 1
            };
            widest = widest.max(hi - index[b] as usize + 1);
        }
        let window = widest.next_power_of_two();
        let last_val = vals[n - 1];
        starts.resize(n + window - 1, K::MAX);
        vals.resize(n + window - 1, last_val);
        Self {
            base,
            shift,
            last_bucket: buckets - 1,
            half: window / 2,
            index: index.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            vals: vals.into_boxed_slice(),
            len: n,
        }
    }
}

/// log2 of the number of buckets for `n` intervals: about one bucket per interval for small
/// tables (the index stays in L1/L2), one per four intervals for large ones (memory).
fn bucket_bits(n: usize) -> u32 {
    let lg = usize::BITS - (n - 1).leading_zeros();
    if n <= 1 << 14 { lg } else { lg - 2 }.min(24)
}

/// Flattens prefixes sorted by `(start, prefix length)` (parents before children, no two equal)
/// into intervals `(start, route)` covering the whole key space, `route == NO_ROUTE` for gaps.
/// Every returned interval is non-empty and adjacent intervals carry different routes.
pub(crate) fn flatten<K: Key>(
    prefixes: impl Iterator<Item = (K, K, u32)>,
    cap: usize,
) -> Vec<(K, u32)> {
    fn emit<K: Key>(out: &mut Vec<(K, u32)>, start: K, route: u32) {
        let n = out.len();
        if out[n - 1].0 == start {
            out[n - 1].1 = route;
            if n >= 2 && out[n - 2].1 == route {
                out.pop();
            }
        } else if out[n - 1].1 != route {
            out.push((start, route));
        }
    }
    let mut out: Vec<(K, u32)> = Vec::with_capacity(2 * cap + 1);
    out.push((K::ZERO, NO_ROUTE));
    let mut stack: Vec<(K, u32)> = Vec::with_capacity(16);
    for (start, end, route) in prefixes {
        while let Some(&(top_end, _)) = stack.last() {
            if top_end >= start {
                break;
            }
            stack.pop();
            let parent = stack.last().map_or(NO_ROUTE, |t| t.1);
            // top_end < start <= MAX, so this cannot overflow.
            if let Some(next) = top_end.succ() {
                emit(&mut out, next, parent);
            }
        }
        emit(&mut out, start, route);
        stack.push((end, route));
    }
    while let Some((top_end, _)) = stack.pop() {
        let parent = stack.last().map_or(NO_ROUTE, |t| t.1);
        if let Some(next) = top_end.succ() {
            emit(&mut out, next, parent);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(prefixes: &[(u32, u32, u32)], key: u32) -> u32 {
        prefixes
            .iter()
            .filter(|p| p.0 <= key && key <= p.1)
            .min_by_key(|p| p.1 - p.0)
            .map_or(0, |p| p.2 + 1)
    }

    #[test]
    fn route_1_flatten_nested_prefixes_gives_longest_match() {
        // 10.0.0.0/8 -> 0, 10.1.0.0/16 -> 1, 10.1.2.0/24 -> 2, 10.255.255.0/24 -> 3
        let p = [
            (0x0a00_0000, 0x0aff_ffff, 0),
            (0x0a01_0000, 0x0a01_ffff, 1),
            (0x0a01_0200, 0x0a01_02ff, 2),
            (0x0aff_ff00, 0x0aff_ffff, 3),
        ];
        let iv = flatten(p.iter().copied(), p.len());
        let (s, v): (Vec<u32>, Vec<u32>) = iv.iter().map(|&(s, r)| (s, r.wrapping_add(1))).unzip();
        let flat = Flat::compile(s, v);
        assert_eq!(flat.interval_count(), 8);
        for key in [
            0u32,
            0x09ff_ffff,
            0x0a00_0000,
            0x0a01_0000,
            0x0a01_0200,
            0x0a01_02ff,
            0x0a01_0300,
            0x0a01_ffff,
            0x0a02_0000,
            0x0aff_feff,
            0x0aff_ff00,
            0x0aff_ffff,
            0x0b00_0000,
            u32::MAX,
        ] {
            assert_eq!(flat.find(key), reference(&p, key), "key {key:#x}");
        }
    }

    #[test]
    fn route_1_prefix_ending_at_max_and_whole_space() {
        let p = [(0, u32::MAX, 0), (0xffff_ff00, u32::MAX, 1)];
        let iv = flatten(p.iter().copied(), 2);
        assert_eq!(iv, vec![(0, 0), (0xffff_ff00, 1)]);
        let (s, v): (Vec<u32>, Vec<u32>) = iv.iter().map(|&(s, r)| (s, r + 1)).unzip();
        let flat = Flat::compile(s, v);
        assert_eq!(flat.find(u32::MAX), 2);
        assert_eq!(flat.find(0xffff_feff), 1);
        assert_eq!(flat.find(0), 1);
    }

    #[test]
    fn route_1_empty_flat_has_no_route() {
        let flat = Flat::<u128>::empty();
        assert_eq!(flat.find(0), 0);
        assert_eq!(flat.find(u128::MAX), 0);
    }
}
