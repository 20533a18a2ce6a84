//! Identifiers shared by the switch's modules.

use std::fmt;

/// A SAN provider known to the switch.
///
/// Ids are assigned in catalog order when the switch first sees a provider's catalog entry and are
/// never reused, so comparing two ids compares catalog order: the lower id is the earlier entry.
/// (A provider installed while running is appended to the catalog and so gets a higher id.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderId(pub u32);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provider#{}", self.0)
    }
}
