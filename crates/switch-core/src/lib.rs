//! The pure-logic Windows Sockets switch (architecture docs to follow).

pub mod id;
pub mod routing;
