//! Taking a provider down: close its socket if one is open, then call `WSPCleanup` if it had
//! started, each at most once (INIT-2a, INIT-4, HOT-3, CLOSE-2).
//!
//! Initialization ends this way when a step fails, and the switch ends a ready provider this
//! way when it leaves the catalog, when a re-query panics, and at shutdown. A failed or
//! panicking close does not stop the cleanup; a failed cleanup is reported
//! (`cleanup_failed`), a panic in either is reported with its message (`provider_panicked`).

use spi_types::WsaError;

use crate::call::{Answer, Finished, NextCall, ProviderMachine};
use crate::provider::ProviderSocket;
use crate::report::Diagnostic;
use crate::trace::Call;

/// The teardown of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teardown {
    provider: String,
    socket: Option<ProviderSocket>,
    cleanup_due: bool,
    cleaned_up: bool,
    diagnostics: Vec<Diagnostic>,
}

impl Teardown {
    /// The teardown of provider `provider`: close `socket` if given, then clean up if
    /// `started`.
    pub fn new(provider: &str, socket: Option<ProviderSocket>, started: bool) -> Self {
        Teardown {
            provider: provider.to_owned(),
            socket,
            cleanup_due: started,
            cleaned_up: false,
            diagnostics: Vec::new(),
        }
    }

    /// Whether `WSPCleanup` has been called.
    pub fn cleaned_up(&self) -> bool {
        self.cleaned_up
    }

    /// The socket still to close, if any.
    pub fn open_socket(&self) -> Option<ProviderSocket> {
        self.socket
    }

    /// Whether `WSPCleanup` is still to be called.
    pub fn cleanup_due(&self) -> bool {
        self.cleanup_due
    }

    /// What the teardown noticed, leaving none.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    fn panicked(&mut self, call: Call, message: String) {
        self.diagnostics.push(Diagnostic::ProviderPanicked {
            provider: self.provider.clone(),
            call,
            message,
        });
    }

    fn cleanup_failed(&mut self, error: WsaError) {
        self.diagnostics.push(Diagnostic::CleanupFailed {
            provider: self.provider.clone(),
            error,
        });
    }
}

impl ProviderMachine for Teardown {
    fn next_call(&self) -> Option<NextCall> {
        match (self.socket, self.cleanup_due) {
            (Some(s), _) => Some(NextCall::CloseSocket(s)),
            (None, true) => Some(NextCall::Cleanup),
            (None, false) => None,
        }
    }

    fn advance(&mut self, answer: Answer) -> Result<(), Finished> {
        match self.next_call().ok_or(Finished)? {
            NextCall::Cleanup => {
                self.cleanup_due = false;
                self.cleaned_up = true;
                match answer {
                    Answer::CleanedUp(Err(e)) => self.cleanup_failed(e),
                    Answer::Panicked(m) => self.panicked(Call::Cleanup, m),
                    _ => {}
                }
            }
            // A close that fails is still over: the provider's socket state is its own, and
            // the cleanup that follows releases it.
            _ => {
                self.socket = None;
                if let Answer::Panicked(m) = answer {
                    self.panicked(Call::CloseSocket, m);
                }
            }
        }
        Ok(())
    }

    fn call_budget(&self) -> usize {
        2
    }
}
