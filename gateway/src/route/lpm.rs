//! Longest-prefix match over fixed-width keys: a multibit trie with prefix expansion, a 16-bit
//! first stride (65,536-slot root, as DPDK's DIR-24-8 uses a wide first level) and 8-bit strides
//! below it. An IPv4 /24 takes two loads, a /32 three; IPv6 up to 15.
//!
//! The table is immutable once built: [`LpmBuilder`] collects prefixes and [`LpmBuilder::build`]
//! inserts them shortest first, so a child node created for a longer prefix inherits the value
//! of the slot it hangs from, and lookups return the value of the deepest slot they reach. A
//! lookup is at most `N` dependent loads and never allocates.

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    value: u32,
    child: u32, // 0 = none (node 0 is the root, never a child)
}

const EMPTY: Slot = Slot { value: NONE, child: 0 };

/// An immutable LPM table from `N`-byte keys (`N` ≥ 2) to `u32` values.
pub struct Lpm<const N: usize> {
    /// Indexed by the key's first two bytes.
    root: Vec<Slot>,
    /// Node 0 is unused so that `child == 0` can mean "none".
    nodes: Vec<[Slot; 256]>,
    prefixes: usize,
}

const ROOT_BITS: usize = 16;

/// Collects `(prefix, length, value)` entries; the last value given for a prefix wins.
pub struct LpmBuilder<const N: usize> {
    entries: Vec<([u8; N], u8, u32)>,
}

impl<const N: usize> Default for LpmBuilder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LpmBuilder<N> {
    pub fn new() -> Self {
        LpmBuilder { entries: Vec::new() }
    }

    /// Adds a prefix. Bits beyond `len` are ignored. `len` is clamped to the key width.
    pub fn insert(&mut self, key: [u8; N], len: u8, value: u32) {
        assert!(value != NONE, "u32::MAX is reserved");
        let len = len.min((N * 8) as u8);
        self.entries.push((mask(key, len), len, value));
    }

    pub fn build(mut self) -> Lpm<N> {
        // Shortest first; the stable sort keeps insertion order among equal prefixes, so the
        // last one given wins.
        self.entries.sort_by_key(|e| (e.1, e.0));
        let mut dedup: Vec<([u8; N], u8, u32)> = Vec::with_capacity(self.entries.len());
        for e in self.entries {
            match dedup.last_mut() {
                Some(d) if d.1 == e.1 && d.0 == e.0 => d.2 = e.2,
                _ => dedup.push(e),
            }
        }
        let mut lpm =
            Lpm { root: vec![EMPTY; 1 << ROOT_BITS], nodes: vec![[EMPTY; 256]], prefixes: dedup.len() };
        for (key, len, value) in dedup {
            lpm.insert_sorted(key, len, value);
        }
        lpm
    }
}

fn mask<const N: usize>(mut key: [u8; N], len: u8) -> [u8; N] {
    for (i, b) in key.iter_mut().enumerate() {
        let bit = (i * 8) as u32;
        let len = len as u32;
        if bit >= len {
            *b = 0;
        } else if len - bit < 8 {
            *b &= 0xffu8 << (8 - (len - bit));
        }
    }
    key
}

impl<const N: usize> Lpm<N> {
    fn insert_sorted(&mut self, key: [u8; N], len: u8, value: u32) {
        // Sorted insertion means no slot in the range being set has a child yet (children are
        // only made by longer prefixes, which come later), so setting values is all there is to
        // do; a child made later inherits the value of the slot it hangs from.
        let len = len as usize;
        let top = u16::from_be_bytes([key[0], key[1]]) as usize;
        if len <= ROOT_BITS {
            let span = 1usize << (ROOT_BITS - len);
            for slot in &mut self.root[top..top + span] {
                slot.value = value;
            }
            return;
        }
        // Walk or create the root's child, then one node per further byte above the last.
        let last = (len - 1) / 8; // index of the byte the prefix ends in (≥ 2)
        let mut node = self.child_of_root(top);
        for &byte in key.iter().take(last).skip(2) {
            node = self.child_of_node(node, byte as usize);
        }
        let bits_in_last = len - last * 8; // 1..=8
        let span = 1usize << (8 - bits_in_last);
        let start = key[last] as usize;
        for slot in &mut self.nodes[node][start..start + span] {
            slot.value = value;
        }
    }

    fn child_of_root(&mut self, i: usize) -> usize {
        let slot = self.root[i];
        if slot.child != 0 {
            return slot.child as usize;
        }
        let idx = self.nodes.len();
        self.nodes.push([Slot { value: slot.value, child: 0 }; 256]);
        self.root[i].child = idx as u32;
        idx
    }

    fn child_of_node(&mut self, node: usize, i: usize) -> usize {
        let slot = self.nodes[node][i];
        if slot.child != 0 {
            return slot.child as usize;
        }
        let idx = self.nodes.len();
        self.nodes.push([Slot { value: slot.value, child: 0 }; 256]);
        self.nodes[node][i].child = idx as u32;
        idx
    }

    /// The value of the longest prefix covering `key`.
    #[inline]
    pub fn lookup(&self, key: &[u8; N]) -> Option<u32> {
        let top = u16::from_be_bytes([key[0], key[1]]) as usize;
        // The root has exactly 2^16 slots and node indices come from build(): in range.
        let mut s = self.root[top];
        let mut i = 2;
        while s.child != 0 && i < N {
            s = self.nodes[s.child as usize][key[i] as usize];
            i += 1;
        }
        if s.value == NONE {
            None
        } else {
            Some(s.value)
        }
    }

    /// Number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Approximate memory held by the trie.
    pub fn memory_bytes(&self) -> usize {
        self.root.len() * std::mem::size_of::<Slot>() + self.nodes.len() * std::mem::size_of::<[Slot; 256]>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive reference: scan all prefixes, keep the longest match.
    fn naive(entries: &[([u8; 4], u8, u32)], key: [u8; 4]) -> Option<u32> {
        let k = u32::from_be_bytes(key);
        let mut best: Option<(u8, u32)> = None;
        for &(p, len, v) in entries {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            if k & m == u32::from_be_bytes(p) & m && best.is_none_or(|(bl, _)| len >= bl) {
                best = Some((len, v));
            }
        }
        best.map(|b| b.1)
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn basic_longest_match() {
        let mut b = LpmBuilder::<4>::new();
        b.insert([0, 0, 0, 0], 0, 1);
        b.insert([198, 51, 100, 0], 24, 2);
        b.insert([198, 51, 100, 128], 25, 3);
        b.insert([198, 51, 100, 7], 32, 4);
        b.insert([198, 0, 0, 0], 8, 5);
        let t = b.build();
        assert_eq!(t.lookup(&[198, 51, 100, 1]), Some(2));
        assert_eq!(t.lookup(&[198, 51, 100, 200]), Some(3));
        assert_eq!(t.lookup(&[198, 51, 100, 7]), Some(4));
        assert_eq!(t.lookup(&[198, 1, 1, 1]), Some(5));
        assert_eq!(t.lookup(&[203, 0, 113, 1]), Some(1));
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn empty_and_no_default() {
        let t = LpmBuilder::<4>::new().build();
        assert_eq!(t.lookup(&[1, 2, 3, 4]), None);
        let mut b = LpmBuilder::<4>::new();
        b.insert([192, 0, 2, 0], 24, 9);
        let t = b.build();
        assert_eq!(t.lookup(&[192, 0, 3, 0]), None);
        assert_eq!(t.lookup(&[192, 0, 2, 255]), Some(9));
    }

    #[test]
    fn host_bits_are_ignored_and_last_duplicate_wins() {
        let mut b = LpmBuilder::<4>::new();
        b.insert([192, 0, 2, 77], 24, 1);
        b.insert([192, 0, 2, 0], 24, 2);
        let t = b.build();
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(&[192, 0, 2, 1]), Some(2));
    }

    #[test]
    fn matches_naive_model_on_random_tables() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for round in 0..40 {
            let mut entries = Vec::new();
            let mut b = LpmBuilder::<4>::new();
            let n = 1 + (rng.next() % 300) as usize;
            for i in 0..n {
                // Cluster prefixes so they overlap a lot.
                let base = (rng.next() as u32) & 0xC0FF_FFFF;
                let len = (rng.next() % 33) as u8;
                let key = mask(base.to_be_bytes(), len);
                entries.retain(|e: &([u8; 4], u8, u32)| !(e.0 == key && e.1 == len));
                entries.push((key, len, i as u32));
                b.insert(key, len, i as u32);
            }
            let t = b.build();
            for _ in 0..2000 {
                let k = ((rng.next() as u32) & 0xC0FF_FFFF).to_be_bytes();
                assert_eq!(t.lookup(&k), naive(&entries, k), "round {round} key {k:?}");
            }
            for e in &entries {
                assert_eq!(t.lookup(&e.0), naive(&entries, e.0));
            }
        }
    }

    #[test]
    fn ipv6_prefixes() {
        let mut b = LpmBuilder::<16>::new();
        let net = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        b.insert(net("2001:db8::"), 32, 1);
        b.insert(net("2001:db8:1::"), 48, 2);
        b.insert(net("2001:db8:1::5"), 128, 3);
        b.insert(net("2001:db8:1:8000::"), 49, 4);
        let t = b.build();
        assert_eq!(t.lookup(&net("2001:db8:2::1")), Some(1));
        assert_eq!(t.lookup(&net("2001:db8:1::1")), Some(2));
        assert_eq!(t.lookup(&net("2001:db8:1::5")), Some(3));
        assert_eq!(t.lookup(&net("2001:db8:1:9000::1")), Some(4));
        assert_eq!(t.lookup(&net("2001:db9::1")), None);
    }
}
