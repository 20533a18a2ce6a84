//! The platform shim: SAN providers loaded from shared objects through the Windows SPI ABI.
//!
//! A real SAN provider is a DLL with one export, `WSPStartupEx`, that fills a table of 30
//! function pointers (`WSPPROC_TABLE`) and receives a table of 16 up-calls
//! (`WSPUPCALLTABLEEX`), with Windows layouts and the Windows x64 calling convention. This crate
//! drives such a binary from the portable core:
//!
//! - [`abi`]: the `#[repr(C)]` layouts, checked at compile time, and the calling convention
//!   ([`wsp_fn_types!`](crate::wsp_fn_types), [`wsp_extern!`](crate::wsp_extern)): `system` on Windows, `win64` on x86_64 elsewhere
//!   (so Linux tests exercise exactly what a Windows provider sees), `C` on other
//!   architectures.
//! - [`loader`]: [`Library`] opens a shared object and resolves `WSPStartupEx`;
//!   [`LibraryLoader`] is the switch's `ProviderLoader` over a GUID-to-path map.
//! - [`adapter`]: [`LibraryProvider`], the switch's `SanProvider` over the filled procedure
//!   table. Nothing the provider writes is trusted: the adapter owns and sizes every buffer,
//!   and whatever holds pointers or records goes through `spi-types`' decoders. A provider
//!   that leaves an entry point the switch calls empty is rejected (`missing_entry_point`).
//! - the up-call table (a private module): the provider's up-calls reach the switch's
//!   `Upcalls` (`WPUCreateSocketHandle`, `WPUCloseSocketHandle`,
//!   `WPUQuerySocketHandleContext`); the others answer an error.
//! - [`conform`]: the checks `wsd-sim conform` runs against a provider.
//!
//! This is the only crate of the workspace with `unsafe` code; every block says why it is
//! sound in a `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks` is denied here).
//!
//! ## On Windows
//!
//! The crate builds unchanged: the convention macro picks `extern "system"`, and a shim opens
//! the DLL a catalog entry names (`WSCGetProviderPath`) with [`Library::open`]. The tests run
//! on Linux and macOS against sample providers written in C (`include/wsd_provider.h` is the
//! header a provider author compiles against).
//!
//! ```
//! use spi_abi::{Library, LoadError};
//! // A file that is not there: an error naming it, never a crash.
//! let err = Library::open("/nonexistent/libprovider.so").unwrap_err();
//! assert!(matches!(err, LoadError::Open { .. }));
//! ```

pub mod abi;
pub mod adapter;
pub mod conform;
pub mod loader;
mod router;

pub use adapter::LibraryProvider;
pub use loader::{Library, LibraryLoader, LoadError};
pub use router::SLOTS;
