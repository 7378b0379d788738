//! Union-find whose root is always the smallest member, so clusters (and "first" keepers) do
//! not depend on the order unions happen in.

/// Disjoint sets over `0..n`, growing on demand.
///
/// ```
/// use millstone_core::UnionFind;
/// let mut uf = UnionFind::default();
/// uf.union(3, 1);
/// uf.union(4, 3);
/// assert_eq!(uf.find(4), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn ensure(&mut self, x: u32) {
        while self.parent.len() <= x as usize {
            self.parent.push(self.parent.len() as u32);
        }
    }

    /// The root (smallest member) of `x`'s set, with path halving.
    pub fn find(&mut self, mut x: u32) -> u32 {
        self.ensure(x);
        while self.parent[x as usize] != x {
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    /// Joins the sets of `a` and `b`; the smaller root becomes the root.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[high as usize] = low;
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Heap bytes.
    pub fn retained_bytes(&self) -> usize {
        self.parent.capacity() * 4
    }
}
