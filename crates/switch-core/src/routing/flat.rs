//! The compiled lookup structure: a sorted array of disjoint address intervals, each carrying
//! its resolved answer, reached through a direct bucket index.
//!
//! A set of prefixes (nested or disjoint, never equal) is flattened into non-overlapping
//! intervals that cover the whole key space; each interval stores the answer of the longest
//! prefix covering it (or "no route"). A lookup is then:
//!
//! 1. a shift (IPv6: also a subtraction and a clamp) to find the key's bucket, and one load
//!    from `index`, which gives the first interval that can contain the key;
//! 2. only when some bucket holds more than `K::COUNT` interval starts: a fixed number of
//!    branch-free halvings (the same number for every key of one table, so the loop branch is
//!    always predicted);
//! 3. a branch-free count of the next `K::COUNT` starts that are `<=` the key, and one load
//!    from `vals`.
//!
//! The IPv6 index covers only the span between the first and the last interval boundary
//! (`base ..`); keys below or above it clamp to the first or last bucket, which is still
//! correct because the answer is then in the first or last interval. The arrays are padded
//! with `MAX` starts (whose answers repeat the last interval's) so that no window reads out of
//! bounds.

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
    /// Width of the final counting window (vectorises well for `u32`; scalar for wider keys).
    const COUNT: usize;
    /// Whether the bucket index spans only the used key range (`base..`) instead of all keys.
    const NORMALIZE: bool;
    /// The low bits as a `usize` (callers guarantee the value fits).
    fn low_usize(self) -> usize;
    /// `self - other`, or zero when `other > self`.
    fn sat_sub(self, other: Self) -> Self;
    /// `self + 1`, or `None` at `MAX`.
    fn succ(self) -> Option<Self>;
    /// `self - 1` (callers guarantee `self > 0`).
    fn pred(self) -> Self;
    /// `self >> s` for `s < BITS`.
    fn shr(self, s: u32) -> Self;
    /// `min(self, limit)` as a `usize`.
    fn min_usize(self, limit: usize) -> usize;
    /// Number of leading zero bits.
    fn lz(self) -> u32;
    /// `self + other` (callers guarantee no overflow).
    fn add(self, other: Self) -> Self;
    /// Widen to `u128`.
    fn widen(self) -> u128;
    /// Bitwise exclusive or.
    fn xor(self, other: Self) -> Self;
}

macro_rules! impl_key {
    ($t:ty, $count:expr, $normalize:expr) => {
        impl Key for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            const MAX: Self = <$t>::MAX;
            const COUNT: usize = $count;
            const NORMALIZE: bool = $normalize;
            #[inline(always)]
            fn low_usize(self) -> usize {
                self as usize
            }
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
            #[inline(always)]
            fn xor(self, other: Self) -> Self {
                self ^ other
            }
        }
    };
}
// IPv4 keys index the whole address space (one shift, no clamp); IPv6 keys, concentrated in a
// small part of theirs (2000::/3), index the span between the first and last boundary.
impl_key!(u32, 8, false);
impl_key!(u64, 4, true);
impl_key!(u128, 1, true);

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
        let b = if K::NORMALIZE {
            key.sat_sub(self.base)
                .shr(self.shift)
                .min_usize(self.last_bucket)
        } else {
            key.shr(self.shift).low_usize()
        };
        let mut pos = self.index[b] as usize;
        // Binary phase (only for windows wider than COUNT): a fixed number of halvings, so the
        // loop branch is predicted; the step itself is a conditional move.
        let mut half = self.half;
        while half >= K::COUNT {
            let mid = pos + half;
            pos = select_unpredictable(self.starts[mid] <= key, mid, pos);
            half >>= 1;
        }
        // Counting phase: the answer is in `pos .. pos + COUNT`, so it is `pos` plus the number
        // of the next COUNT starts that are <= key (sorted; branch-free, vectorisable).
        let mut found = 0usize;
        for &s in &self.starts[pos + 1..pos + 1 + K::COUNT] {
            found += usize::from(s <= key);
        }
        self.vals[pos + found]
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
        let (base, range) = if K::NORMALIZE && n > 1 {
            let base = starts[1].pred();
            (base, starts[n - 1].sat_sub(base))
        } else {
            (K::ZERO, K::MAX)
        };
        let need = K::BITS - range.lz();
        let shift_for = |k: u32| need.saturating_sub(k).min(K::BITS - 1);
        // The fewest buckets whose widest window fits the counting phase (at most COUNT
        // starts in one bucket), within the memory bounds of `bucket_bits`.
        let (k_min, k_max) = bucket_bits(n);
        let c = K::COUNT;
        let k = if c >= 2 && n > c + 1 {
            // Starts i and i + c share a bucket iff their offsets agree above the shift.
            let mut max_shift = K::BITS - 1;
            for i in 1..n - c {
                let a = starts[i].sat_sub(base).pred();
                let b = starts[i + c].sat_sub(base).pred();
                max_shift = max_shift.min(K::BITS - 1 - a.xor(b).lz());
            }
            need.saturating_sub(max_shift).clamp(k_min, k_max)
        } else {
            k_max
        };
        let mut memo = [0usize; 129];
        let mut window_at = |k: u32| {
            let slot = &mut memo[k as usize];
            if *slot == 0 {
                *slot = window_for(&starts, base, shift_for(k));
            }
            *slot
        };
        let mut k = k;
        let mut window = window_at(k);
        if window > c {
            // The counting window is out of reach (dense clusters): take the fewest buckets
            // that still give this window (windows only shrink as buckets get finer).
            let (mut lo, mut hi) = (k_min, k);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if window_at(mid) <= window {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            k = hi;
            window = window_at(k);
        }
        let shift = shift_for(k);
        let buckets = range.shr(shift).min_usize(usize::MAX - 1) + 1;
        // Bucket b starts at key t_b = base + (b << shift) and points at the last interval
        // starting at or before t_b: fill runs of buckets interval by interval.
        let mut index: Vec<u32> = Vec::with_capacity(buckets);
        for (i, &s) in starts.iter().enumerate().skip(1) {
            // First bucket with t_b >= s (s > base for every interval after the first).
            let first = s.sat_sub(base).pred().shr(shift).min_usize(buckets - 1) + 1;
            index.resize(first.min(buckets).max(index.len()), (i - 1) as u32);
        }
        index.resize(buckets, (n - 1) as u32);
        let last_val = vals[n - 1];
        let padded = n + window.max(K::COUNT) + 1;
        starts.resize(padded, K::MAX);
        vals.resize(padded, last_val);
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

/// Range of log2 bucket counts to try for `n` intervals: up to four buckets per interval for
/// small tables (the index stays in cache), one per two to four intervals (about one per
/// prefix, at most 4 bytes a prefix) for large ones.
fn bucket_bits(n: usize) -> (u32, u32) {
    let lg = usize::BITS - n.saturating_sub(1).leading_zeros();
    if n <= 1 << 14 {
        (lg.saturating_sub(1), lg + 2)
    } else {
        (lg - 2, lg - 1)
    }
}

/// The widest search window (a power of two) that buckets of `1 << shift` keys from `base`
/// need: the most interval starts falling inside one bucket, rounded up to a power of two.
/// Halvings from `half = window / 2` down to `COUNT` reach `window` intervals past the
/// bucket's first one, and the counting phase alone reaches `COUNT`, so a bucket holding
/// exactly `COUNT` starts needs no halving.
fn window_for<K: Key>(starts: &[K], base: K, shift: u32) -> usize {
    let mut widest = 0usize;
    let mut run = 0usize;
    // No bucket number is MAX: offsets minus one are at most MAX - 1.
    let mut current = K::MAX;
    for &s in starts.iter().skip(1) {
        let bucket = s.sat_sub(base).pred().shr(shift);
        run = if bucket == current { run + 1 } else { 1 };
        current = bucket;
        widest = widest.max(run);
    }
    widest.next_power_of_two()
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

    #[test]
    fn route_1_dense_bucket_uses_binary_phase_and_stays_exact() {
        // 200 host routes and nested /30s in one corner, one far-away /8: one bucket gets
        // hundreds of intervals, so the lookup needs binary steps before counting.
        let mut p: Vec<(u32, u32, u32)> = Vec::new();
        for i in 0..50u32 {
            p.push((0x0a00_0000 + i * 8, 0x0a00_0000 + i * 8 + 3, i));
            p.push((0x0a00_0000 + i * 8 + 1, 0x0a00_0000 + i * 8 + 1, 100 + i));
        }
        p.push((0xc800_0000, 0xc8ff_ffff, 999));
        p.sort_by_key(|x| (x.0, u32::MAX - (x.1 - x.0)));
        let iv = flatten(p.iter().copied(), p.len());
        let (s, v): (Vec<u32>, Vec<u32>) = iv.iter().map(|&(s, r)| (s, r.wrapping_add(1))).unzip();
        let flat = Flat::compile(s, v);
        assert!(
            flat.half >= <u32 as Key>::COUNT,
            "window {} should exceed COUNT",
            flat.half * 2
        );
        for key in
            (0x09ff_fff0..0x0a00_0200).chain([0xc7ff_ffff, 0xc800_0000, 0xc8ff_ffff, 0xc900_0000])
        {
            assert_eq!(flat.find(key), reference(&p, key), "key {key:#x}");
        }
    }
}
