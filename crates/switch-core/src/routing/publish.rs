//! Publishing a table: one atomic swap, readers never blocked (ADDR-1).

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::table::RoutingTable;

/// The current routing table, shared between the readers deciding connects and the writer
/// rebuilding on address changes.
///
/// [`load`](Self::load) is lock-free and returns one whole table; [`replace`](Self::replace)
/// publishes a new one in a single pointer swap. A reader holding a guard keeps its table alive
/// and consistent however many swaps happen meanwhile.
#[derive(Debug)]
pub struct SharedRoutes {
    current: ArcSwap<RoutingTable>,
}

impl SharedRoutes {
    /// Publishes `table` as the first current table.
    pub fn new(table: RoutingTable) -> Self {
        Self {
            current: ArcSwap::from_pointee(table),
        }
    }

    /// The current table, for a few lookups (cheap, lock-free; do not hold it for long).
    pub fn load(&self) -> Guard<Arc<RoutingTable>> {
        self.current.load()
    }

    /// The current table as an owned `Arc`, for holding across long operations.
    pub fn snapshot(&self) -> Arc<RoutingTable> {
        self.current.load_full()
    }

    /// Replaces the current table in one atomic step and returns the previous one.
    pub fn replace(&self, table: RoutingTable) -> Arc<RoutingTable> {
        self.current.swap(Arc::new(table))
    }
}

impl Default for SharedRoutes {
    /// An empty table: every connect goes to TCP.
    fn default() -> Self {
        Self::new(RoutingTable::default())
    }
}
