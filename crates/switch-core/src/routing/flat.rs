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
    /// Number of real (unpadded) intervals (interval numbers are `u32`, as in `index`).
    len: u32,
    /// How many halvings the binary phase makes: from `half` down to `COUNT`. Fixed at
    /// compile time so the lookup loop is bounded by construction.
    halvings: u32,
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
        for _ in 0..self.halvings {
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
        let len = self.len as usize;
        (0..len).map(move |i| {
            let end = if i + 1 < len {
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
        self.len as usize
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
        // The `min` never binds (mutating its bound is equivalent): it would take k = 0 with
        // need = BITS, but k_min = 0 only for n <= 2, where k = k_max >= 2 and the window is 1.
        let shift_for = |k: u32| need.saturating_sub(k).min(K::BITS - 1);
        // The fewest buckets whose widest window fits the counting phase (at most COUNT
        // starts in one bucket), within the memory bounds of `bucket_bits`.
        let (k_min, k_max) = bucket_bits(n);
        let c = K::COUNT;
        let k = if c >= 2 && n > c + 1 {
            // Starts i and i + c share a bucket iff their offsets agree above the shift.
            // The initial value only needs to be >= BITS - 1 (mutating it is equivalent): the
            // loop runs at least once (n - c >= 2) and every term is at most BITS - 1.
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
            // k lies in k_min..=k, at most 129 values: eight halvings always settle it, so the
            // search is bounded by construction.
            for _ in 0..8 {
                if lo >= hi {
                    break;
                }
                let mid = lo + (hi - lo) / 2;
                if window_at(mid) <= window {
                    hi = mid;
                } else {
                    // `lo = mid` (mutating `+ 1` to `* 1`) is equivalent here: each step
                    // still halves `hi - lo` until they are one apart, and `hi` always gives
                    // the window, so the answer is the same within the eight steps.
                    lo = mid + 1;
                }
            }
            k = hi;
            window = window_at(k);
        }
        let shift = shift_for(k);
        // `range >> shift < 2^k`: the `min_usize` bound never binds (only keeps `+ 1` from
        // overflowing), so raising it to usize::MAX is an equivalent mutant.
        let buckets = range.shr(shift).min_usize(usize::MAX - 1) + 1;
        // Bucket b starts at key t_b = base + (b << shift) and points at the last interval
        // starting at or before t_b: fill runs of buckets interval by interval.
        let mut index: Vec<u32> = Vec::with_capacity(buckets);
        for (i, &s) in starts.iter().enumerate().skip(1) {
            // First bucket with t_b >= s (s > base for every interval after the first).
            // `(s - base - 1) >> shift <= range >> shift = buckets - 1`, so neither clamp
            // binds (mutating `buckets - 1` here is equivalent); they are defensive.
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
            halvings: halvings(window / 2, K::COUNT),
            index: index.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            vals: vals.into_boxed_slice(),
            len: n as u32,
        }
    }
}

/// How many halvings take `half` down below `count` (both powers of two, or `half` zero): one
/// per power of two from `half` down to `count`.
fn halvings(half: usize, count: usize) -> u32 {
    if half >= count {
        (half / count).ilog2() + 1
    } else {
        0
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

    // ---- Sizing: the properties behind the README's lookup and memory figures. ----
    //
    // Lookups stay correct with any bucket count, window or `base`, so the tests below pin the
    // chosen sizes themselves, each computed by hand in its comments. Bucket `b` of a table
    // starts at key `t_b = base + (b << shift)`; a start `s` is counted in bucket
    // `(s - base - 1) >> shift` (see `window_for`).

    /// Checks `find` against a linear scan at every boundary, its neighbours and the extremes,
    /// and every index entry against its definition (the last interval starting at or before
    /// the bucket's first key).
    fn assert_exact<K: Key>(flat: &Flat<K>) {
        let n = flat.len as usize;
        let (starts, vals) = (&flat.starts[..n], &flat.vals[..n]);
        let expect = |key: K| vals[starts.partition_point(|&s| s <= key) - 1];
        let mut keys = vec![K::ZERO, K::MAX, flat.base];
        for &s in starts {
            keys.push(s);
            keys.extend(s.succ());
            if s > K::ZERO {
                keys.push(s.pred());
            }
        }
        for key in keys {
            assert_eq!(flat.find(key), expect(key), "key {key:?}");
        }
        assert_eq!(flat.index.len(), flat.last_bucket + 1);
        for (b, &first) in flat.index.iter().enumerate() {
            let t = ((b as u128) << flat.shift).checked_add(flat.base.widen());
            let last = t.map_or(n, |t| starts.partition_point(|&s| s.widen() <= t)) - 1;
            assert_eq!(first as usize, last, "bucket {b}");
        }
    }

    /// `Flat::compile` of `starts` with class `i` for interval `i` (so a lookup names the
    /// interval it found).
    fn compile<K: Key>(starts: Vec<K>) -> Flat<K> {
        let vals = (0..starts.len() as u32).collect();
        Flat::compile(starts, vals)
    }

    /// log2 of the bucket count.
    fn bucket_bits_of<K>(flat: &Flat<K>) -> u32 {
        let buckets = flat.last_bucket + 1;
        assert!(buckets.is_power_of_two(), "{buckets} buckets");
        buckets.trailing_zeros()
    }

    #[test]
    fn route_1_bucket_bits_bounds_follow_table_size() {
        // lg = bits of (n - 1), i.e. ceil(log2 n). Up to 2^14 intervals: 2^(lg-1) ..= 2^(lg+2)
        // buckets (up to four per interval; the index stays in cache); above: 2^(lg-2) ..=
        // 2^(lg-1) (one bucket per two to four intervals, the README's ~20 bytes a prefix).
        for (n, bounds) in [
            (1, (0, 2)),
            (2, (0, 3)),
            (3, (1, 4)),
            (4, (1, 4)),
            (5, (2, 5)),
            (8, (2, 5)),
            (9, (3, 6)),
            (16, (3, 6)),
            (17, (4, 7)),
            (4096, (11, 14)),
            (1 << 14, (13, 16)),
            ((1 << 14) + 1, (13, 14)),
            (1 << 16, (14, 15)),
            (1_000_000, (18, 19)),
            (1 << 20, (18, 19)),
            ((1 << 20) + 1, (19, 20)),
        ] {
            assert_eq!(bucket_bits(n), bounds, "n = {n}");
        }
    }

    #[test]
    fn route_1_window_is_densest_bucket_rounded_to_power_of_two() {
        // Buckets of 16 keys from 0: starts 1..=16 are bucket 0, 17..=32 bucket 1.
        assert_eq!(window_for::<u32>(&[0], 0, 4), 1, "no start: one interval");
        assert_eq!(window_for::<u32>(&[0, 5, 40], 0, 4), 1);
        assert_eq!(
            window_for::<u32>(&[0, 1, 16, 17], 0, 4),
            2,
            "1 and 16 share bucket 0"
        );
        assert_eq!(
            window_for::<u32>(&[0, 10, 11, 12, 100], 0, 4),
            4,
            "3 rounds up to 4"
        );
        // Runs of 2, 5 (17..=21) and 1: the densest is the middle one, 5 -> 8.
        let s = [0u32, 3, 9, 17, 18, 19, 20, 21, 40];
        assert_eq!(window_for(&s, 0, 4), 8);
        // A run of exactly 8 stays 8; one start more doubles it.
        let eight: Vec<u32> = (0..9).collect();
        assert_eq!(window_for(&eight, 0, 4), 8);
        let nine: Vec<u32> = (0..10).collect();
        assert_eq!(window_for(&nine, 0, 4), 16);
        // Offsets from `base` (u64): base + 1 ..= base + 16 is bucket 0.
        let base = 0x2001_0db8_0000_0000u64;
        let s = [0, base + 1, base + 16, base + 17, base + 33];
        assert_eq!(window_for(&s, base, 4), 2);
        assert_eq!(
            window_for(&s, base, 5),
            4,
            "32-key buckets: base+1 ..= base+32"
        );
    }

    /// Evenly spaced starts `i << (32 - p)`, `n = 2^p` intervals.
    fn uniform_v4(p: u32) -> Flat<u32> {
        compile((0..1u32 << p).map(|i| i << (32 - p)).collect())
    }

    #[test]
    fn route_1_halvings_take_half_down_to_count() {
        // The binary phase makes one halving per power of two from `half` down to `COUNT`:
        // the count the unbounded loop `while half >= COUNT { half >>= 1 }` would make.
        for count in [1usize, 2, 4, 8] {
            for half in [0usize, 1, 2, 4, 8, 16, 32, 64, 1024] {
                let mut h = half;
                let mut expected = 0;
                while h >= count && h > 0 {
                    expected += 1;
                    h >>= 1;
                }
                assert_eq!(
                    halvings(half, count),
                    expected,
                    "half {half}, count {count}"
                );
            }
        }
    }

    #[test]
    fn route_1_index_bucket_bits_grow_with_table_size() {
        // n = 2^p evenly spaced starts (spacing d = 2^(32-p)): any 9 consecutive ones span
        // 8d, so 2^(p-3) buckets would already hold at most 8 (COUNT) starts each; the lower
        // bound of `bucket_bits` wins. Up to 2^14: 2^(p-1) buckets of 2d keys, two starts
        // each; above: 2^(p-2) buckets of 4d keys, four starts each. One lookup is then one
        // index load and one 8-wide count, no binary step.
        for (p, bits, window) in [
            (4, 3, 2),
            (8, 7, 2),
            (12, 11, 2),
            (14, 13, 2),
            (16, 14, 4),
            (18, 16, 4),
            (20, 18, 4),
        ] {
            let flat = uniform_v4(p);
            assert_eq!(bucket_bits_of(&flat), bits, "2^{p} intervals");
            assert_eq!(flat.shift, 32 - bits, "2^{p} intervals");
            assert_eq!(flat.half * 2, window, "2^{p} intervals");
            assert_eq!(flat.base, 0, "IPv4 indexes the whole space");
            if p <= 12 {
                assert_exact(&flat);
            }
        }
    }

    #[test]
    fn route_1_index_bucket_bits_follow_densest_run_between_bounds() {
        // 16 starts 2^22 apart (up to 2^26), then 48 starts 2^21 apart: n = 65, bounds (6, 9).
        // The finer part decides: 9 consecutive starts there span 8 * 2^21 = 2^24, and starts
        // 2^26 + 2^21 ..= 2^26 + 2^24 share a 2^24-key bucket (8 of them), so 2^8 buckets of
        // 2^24 keys are the fewest with at most COUNT starts per bucket. The deciding starts
        // sit past the first n / 8 entries.
        let mut s: Vec<u32> = vec![0];
        s.extend((1..=16).map(|i| i << 22));
        s.extend((1..=48).map(|i| (1 << 26) + (i << 21)));
        let flat = compile(s);
        assert_eq!(bucket_bits(65), (6, 9));
        assert_eq!(bucket_bits_of(&flat), 8);
        assert_eq!(flat.shift, 24);
        assert_eq!(flat.half, 4, "window 8 = COUNT: no binary step");
        assert_exact(&flat);
    }

    #[test]
    fn route_1_small_tables_get_the_finest_index() {
        // At most COUNT + 1 intervals: any bucket count fits the counting window; the upper
        // bound (four buckets per interval) is taken.
        // n = 5: bounds (2, 5) -> 32 buckets of 2^27 keys, starts in distinct buckets.
        let flat = compile(vec![
            0u32,
            0x0a00_0000,
            0x0b00_0000,
            0xc0a8_0000,
            0xc0a9_0000,
        ]);
        assert_eq!(bucket_bits_of(&flat), 5);
        assert_eq!(
            (flat.shift, flat.half),
            (27, 1),
            "0xc0a8.. and 0xc0a9.. share bucket 24"
        );
        assert_exact(&flat);
        // n = 9, eight starts in one 2^26-key bucket (bounds (3, 6)): window exactly 8 =
        // COUNT, still 64 buckets and no binary step.
        let mut s = vec![0u32];
        s.extend((0..8).map(|i| 0x0a00_0000 + i * 256));
        let flat = compile(s);
        assert_eq!(bucket_bits_of(&flat), 6);
        assert_eq!((flat.shift, flat.half), (26, 4));
        // Padding: n + max(window, COUNT) + 1 starts.
        assert_eq!(flat.starts.len(), 9 + 8 + 1);
        assert_exact(&flat);
        // The empty table: one interval, 4 buckets (upper bound of n = 1), window 1.
        let flat = Flat::<u32>::empty();
        assert_eq!((flat.shift, flat.last_bucket, flat.half), (30, 3, 0));
        assert_eq!(&*flat.index, &[0, 0, 0, 0]);
        assert_eq!(flat.starts.len(), 1 + 8 + 1);
        assert_exact(&flat);
    }

    /// 64 starts 2^20 apart (i << 20, i = 1..=64) and a cluster of `m` consecutive starts at
    /// 0x0200_1000, between the 32nd and 33rd.
    fn clustered_v4(m: u32) -> Flat<u32> {
        let mut s: Vec<u32> = vec![0];
        s.extend((1..=64).map(|i| i << 20));
        s.extend((0..m).map(|j| 0x0200_1000 + j));
        s.sort_unstable();
        compile(s)
    }

    #[test]
    fn route_1_dense_cluster_window_is_densest_bucket_rounded_up() {
        // With buckets of 2^s keys (19 < s <= 25) the cluster's bucket also holds the
        // 2^(s-20) background starts 33 << 20 ..; every other bucket holds at most 32. The
        // cluster needs more than COUNT starts at any size, so the index takes the fewest
        // buckets (within bounds (6, 9), n = 65 + m) giving the window of the finest one:
        //   m = 20: s = 23 (k = 9): 20 + 8 = 28 -> 32; s = 24: 36 -> 64.     k = 9, window 32
        //   m = 32: s = 23..=25: 40, 48, 64 -> 64; s = 26: 64 + 32 -> 128.    k = 7, window 64
        //   m = 48: s = 23, 24: 56, 64 -> 64; s = 25: 80 -> 128.              k = 8, window 64
        for (m, bits, window, densest) in [(20, 9, 32, 28), (32, 7, 64, 64), (48, 8, 64, 64)] {
            let flat = clustered_v4(m);
            assert_eq!(bucket_bits(65 + m as usize), (6, 9));
            assert_eq!(bucket_bits_of(&flat), bits, "m = {m}");
            assert_eq!(flat.half * 2, window, "m = {m}");
            let n = flat.len as usize;
            assert_eq!(
                window_for(&flat.starts[..n], 0, flat.shift),
                window,
                "m = {m}"
            );
            let cluster = flat.starts[1..n]
                .iter()
                .filter(|&&s| (s - 1) >> flat.shift == 0x0200_0fff >> flat.shift)
                .count();
            assert_eq!(cluster, densest, "m = {m}");
            assert_eq!(flat.starts.len(), n + window + 1, "m = {m}");
            assert_exact(&flat);
        }
    }

    #[test]
    fn route_1_ipv6_index_spans_first_to_last_boundary() {
        // IPv6 keys sit in a small corner (2001:db8::/32 here): `base` is one below the first
        // boundary after 0 and the index covers only base ..= the last boundary.
        let s0 = 0x2001_0db8_0000_0000u64;
        // 16 starts 2^16 apart: range = 15 * 2^16 + 1 (20 bits). Any 5 consecutive starts
        // span 4 * 2^16, so 2^(20-18) = 4 buckets would do; bounds (4, 7) for n = 17 give
        // 16 buckets of 2^16 keys: exactly one start per bucket, window 1.
        let mut s = vec![0u64];
        s.extend((0..16).map(|j| s0 + (j << 16)));
        let flat = compile(s);
        assert_eq!(flat.base, s0 - 1);
        assert_eq!(flat.shift, 16);
        assert_eq!(flat.last_bucket, 15);
        assert_eq!(flat.half, 0);
        // Bucket b starts at s0 - 1 + b * 2^16: intervals 0, 1, ..., 15.
        assert_eq!(&*flat.index, &(0..16).collect::<Vec<u32>>()[..]);
        assert_exact(&flat);
        // Keys below `base` clamp to bucket 0, keys past the last boundary to the last one.
        assert_eq!(flat.find(0), 0);
        assert_eq!(flat.find(s0 - 2), 0);
        assert_eq!(flat.find(s0 + (15 << 16)), 16);
        assert_eq!(flat.find(u64::MAX), 16);

        // At most COUNT + 1 intervals: the upper bound (4) of n = 4. range = 2^32 + 1 (33
        // bits): shift 29, buckets (range >> 29) + 1 = 9; the last boundary s0 + 2^32 is
        // base + 2^32 + 1, just past bucket 8's first key.
        let flat = compile(vec![0, s0, s0 + (1 << 16), s0 + (1 << 32)]);
        assert_eq!((flat.base, flat.shift, flat.last_bucket), (s0 - 1, 29, 8));
        assert_eq!(&*flat.index, &[0, 2, 2, 2, 2, 2, 2, 2, 2]);
        assert_eq!(flat.half, 1, "s0 and s0 + 2^16 share bucket 0");
        assert_eq!(flat.starts.len(), 4 + 4 + 1);
        assert_exact(&flat);

        // One interval: nothing to normalise; base 0, 4 buckets over the whole space.
        let flat = Flat::<u64>::empty();
        assert_eq!((flat.base, flat.shift, flat.last_bucket), (0, 62, 3));
        assert_exact(&flat);
    }

    #[test]
    fn route_1_ipv6_full_keys_size_index_by_window_alone() {
        // u128 keys: COUNT = 1, so the bucket count comes from the window search alone.
        let s0 = 0x2001_0db8_0000_0000_0000_0000_0000_0000u128;
        // Sparse, n = 5, bounds (2, 5): range = 3 * 2^64 + 1 (66 bits) -> upper bound 5,
        // shift 61, 25 buckets; each start alone in its bucket, window 1.
        let flat = compile(vec![0, s0, s0 + (1 << 64), s0 + (2 << 64), s0 + (3 << 64)]);
        assert_eq!((flat.base, flat.shift, flat.last_bucket), (s0 - 1, 61, 24));
        assert_eq!(flat.half, 0);
        let mut index = vec![0u32];
        for i in 1..=3 {
            index.extend([i; 8]);
        }
        assert_eq!(&*flat.index, &index[..]);
        assert_eq!(flat.starts.len(), 5 + 1 + 1);
        assert_exact(&flat);
        // A /128 inside a /64 (n = 4, bounds (1, 4)): s0 and s0 + 1 share a bucket at every
        // size, so the window is 2 and the fewest buckets giving it win: 2 buckets of 2^64
        // keys (range = 2^64 + 1).
        let flat = compile(vec![0, s0, s0 + 1, s0 + (1 << 64)]);
        assert_eq!((flat.base, flat.shift, flat.last_bucket), (s0 - 1, 64, 1));
        assert_eq!(flat.half, 1);
        assert_eq!(&*flat.index, &[0, 2]);
        assert_exact(&flat);
        // Empty: base 0, the whole space in 4 buckets.
        let flat = Flat::<u128>::empty();
        assert_eq!((flat.base, flat.shift, flat.last_bucket), (0, 126, 3));
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn route_1_memory_bytes_is_struct_plus_three_arrays() {
        // Flat<u32> inline: base u32 (4) + shift u32 (4) + last_bucket, half, len usize (3 x 8)
        // + index, starts, vals boxed slices (3 x 16, pointer and length) = 80.
        assert_eq!(std::mem::size_of::<Flat<u32>>(), 80);
        // 8 intervals (10/8, 10.1/16, 10.1.2/24, 10.255.255/24 flattened), bounds (2, 5):
        // n <= COUNT + 1 -> 2^5 buckets -> index 32 x 4 = 128 bytes. All 7 boundaries fall in
        // bucket 1 (0x0800_0000 ..= 0x0fff_ffff): window 8, padded length 8 + 8 + 1 = 17 ->
        // starts 17 x 4 = 68, vals 17 x 4 = 68. Total 80 + 128 + 68 + 68 = 344.
        let flat = compile(vec![
            0u32,
            0x0a00_0000,
            0x0a01_0000,
            0x0a01_0200,
            0x0a01_0300,
            0x0a02_0000,
            0x0aff_ff00,
            0x0b00_0000,
        ]);
        assert_eq!(
            (flat.index.len(), flat.starts.len(), flat.vals.len()),
            (32, 17, 17)
        );
        assert_eq!(flat.memory_bytes(), 344);
        // Flat<u128> inline: base u128 (16, 16-aligned) + 4 + 3 x 8 + 3 x 16 = 92 -> 96. The
        // sparse 5-interval table above: index 25 x 4 = 100, starts 7 x 16 = 112, vals
        // 7 x 4 = 28. Total 96 + 100 + 112 + 28 = 336.
        assert_eq!(std::mem::size_of::<Flat<u128>>(), 96);
        let s0 = 0x2001_0db8u128 << 96;
        let flat = compile(vec![0, s0, s0 + (1 << 64), s0 + (2 << 64), s0 + (3 << 64)]);
        assert_eq!(flat.memory_bytes(), 336);
    }

    #[test]
    fn route_1_intervals_cover_the_key_space() {
        let flat = compile(vec![0u32, 10, 20]);
        let got: Vec<_> = flat.intervals().collect();
        assert_eq!(got, vec![(0, 9, 0), (10, 19, 1), (20, u32::MAX, 2)]);
        let flat = Flat::<u64>::empty();
        assert_eq!(flat.intervals().collect::<Vec<_>>(), vec![(0, u64::MAX, 0)]);
    }

    #[test]
    fn route_1_flatten_merges_adjacent_equal_routes() {
        // [70, 79] continues route 4 of [60, 69]: its start overwrites the gap interval at 70
        // and the two merge (the interval before the gap, at index n - 2, has route 4).
        let p = [
            (0u32, 9, 1),
            (20, 29, 2),
            (40, 49, 3),
            (60, 69, 4),
            (70, 79, 4),
        ];
        let iv = flatten(p.iter().copied(), p.len());
        let expected = vec![
            (0, 1),
            (10, NO_ROUTE),
            (20, 2),
            (30, NO_ROUTE),
            (40, 3),
            (50, NO_ROUTE),
            (60, 4),
            (80, NO_ROUTE),
        ];
        assert_eq!(iv, expected);
    }
}
