//! Opening provider shared objects and making providers of them for the switch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spi_types::{Guid, WsaError};
use switch_core::catalog::CatalogEntry;
use switch_core::provider::{ProviderLoader, SanProvider};

use crate::abi::WspStartupEx;
use crate::adapter::LibraryProvider;

/// A shared object could not be used as a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The system loader refused it (no such file, not a shared object, a missing
    /// dependency).
    #[error("cannot load {path}: {message}")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system loader said.
        message: String,
    },
    /// It has no `WSPStartupEx` export.
    #[error("{path} has no WSPStartupEx export: {message}")]
    NoStartup {
        /// The file.
        path: PathBuf,
        /// What the system loader said.
        message: String,
    },
}

/// A loaded provider shared object and its `WSPStartupEx`.
pub struct Library {
    lib: Arc<libloading::Library>,
    path: PathBuf,
    startup: WspStartupEx,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Library {
    /// Loads `path` and resolves its `WSPStartupEx`.
    ///
    /// Loading a shared object runs its initializers, as on Windows loading a provider DLL
    /// runs `DllMain`: the file is trusted to be a provider, as a catalog entry's DLL is.
    ///
    /// A bare file name is opened from the current directory (the system loader would search
    /// its library directories instead), and anything but a regular file is refused before
    /// the system loader sees it (opening a FIFO would block).
    pub fn open(path: impl AsRef<Path>) -> Result<Library, LoadError> {
        let given = path.as_ref();
        let path = if given.components().count() == 1 && given.is_relative() {
            Path::new(".").join(given)
        } else {
            given.to_path_buf()
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(LoadError::Open {
                    path,
                    message: "not a regular file".into(),
                });
            }
            Err(e) => {
                return Err(LoadError::Open {
                    path,
                    message: e.to_string(),
                });
            }
        }
        // Loading runs the library's initialization code; that is what loading a
        // provider means, and the caller names the file as one (see the doc comment).
        // SAFETY: for the reasons just above.
        let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| LoadError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // `WSPStartupEx` of a SAN provider has the signature `WspStartupEx` describes
        // (the SPI fixes it); the pointer is copied out, and `lib` is kept alive with it.
        // SAFETY: for the reasons just above.
        let startup = unsafe { lib.get::<WspStartupEx>(b"WSPStartupEx\0") }
            .map(|s| *s)
            .map_err(|e| LoadError::NoStartup {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(Library {
            lib: Arc::new(lib),
            path,
            startup,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A provider instance of it, not started yet.
    pub fn provider(&self) -> LibraryProvider {
        LibraryProvider::new(self.lib.clone(), self.path.clone(), self.startup)
    }
}

/// A [`ProviderLoader`] that loads each catalog entry's provider from the shared object
/// configured for its GUID, as ws2_32 loads the DLL a catalog entry names.
#[derive(Debug, Default)]
pub struct LibraryLoader {
    paths: HashMap<Guid, PathBuf>,
    loaded: Vec<(Guid, LoadError)>,
}

impl LibraryLoader {
    /// A loader with no library.
    pub fn new() -> Self {
        Self::default()
    }

    /// The provider with GUID `guid` is loaded from `path`.
    pub fn add(&mut self, guid: Guid, path: impl Into<PathBuf>) {
        self.paths.insert(guid, path.into());
    }

    /// The loads that failed so far, with why: the switch reports them only as
    /// `WSAEPROVIDERFAILEDINIT`.
    pub fn failures(&self) -> &[(Guid, LoadError)] {
        &self.loaded
    }
}

impl ProviderLoader for LibraryLoader {
    fn load(&mut self, entry: &CatalogEntry) -> Result<Box<dyn SanProvider>, WsaError> {
        let guid = entry.guid();
        let path = self
            .paths
            .get(&guid)
            .ok_or(WsaError::WSAEPROVIDERFAILEDINIT)?;
        match Library::open(path) {
            Ok(lib) => Ok(Box::new(lib.provider())),
            Err(e) => {
                self.loaded.push((guid, e));
                Err(WsaError::WSAEPROVIDERFAILEDINIT)
            }
        }
    }
}
