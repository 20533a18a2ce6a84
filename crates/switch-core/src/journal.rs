//! What the switch records as it goes: the trace of provider calls and the diagnostics, each
//! diagnostic kept once.

use indexmap::IndexSet;

use crate::report::Diagnostic;
use crate::trace::TraceEvent;

/// The switch's record: every provider call in order, and every distinct diagnostic in the
/// order first noticed.
///
/// Diagnostics are kept in an insertion-ordered hash set, so noting one costs the same however
/// many were noted before: a routing rebuild that re-notes its 200,000 host routes on every
/// address change stays linear in the number of routes.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub trace: Vec<TraceEvent>,
    diagnostics: IndexSet<Diagnostic>,
    /// The last provider panic the executor caught, with its call and message, until the
    /// code that drove the call decides what it means (a rejection, or a diagnostic).
    pub last_panic: Option<(crate::trace::Call, String)>,
}

impl Journal {
    /// Records `d` unless the same diagnostic is recorded already.
    pub fn note(&mut self, d: Diagnostic) {
        self.diagnostics.insert(d);
    }

    /// Records each of `ds` that is new.
    pub fn note_all(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(ds);
    }

    /// The diagnostics recorded, oldest first.
    pub fn diagnostics(&self) -> impl ExactSizeIterator<Item = &Diagnostic> {
        self.diagnostics.iter()
    }

    /// Takes the diagnostics recorded, leaving none: a diagnostic noticed again afterwards is
    /// recorded again.
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics).into_iter().collect()
    }
}
