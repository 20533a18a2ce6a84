//! Subnet-to-provider routing table (being written).
