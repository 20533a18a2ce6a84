//! Fault injection and tracing as wrappers around any [`SanProvider`].
//!
//! [`FaultInjector`] and [`Tracer`] are middleware in the shape of smoltcp's
//! `phy::FaultInjector` and `phy::Tracer`: each owns an inner provider and is itself a
//! [`SanProvider`], so the switch calls it exactly as it calls the provider inside. A
//! [`FaultInjector`] makes chosen calls fail with a Winsock error or panic (by call kind and by
//! the calls' numbering, see [`When`]) and counts every call; a [`Tracer`] reports every call
//! and how it ended to a sink of your choosing. Neither knows what is inside: the faults and
//! the trace need nothing from the provider, unlike [`MockConfig`](crate::MockConfig)'s own
//! fault settings, which only a [`MockProvider`](crate::MockProvider) obeys.
//!
//! # Composition
//!
//! Wrappers nest, the outer one seeing what the inner one answers: a
//! `Tracer<FaultInjector<MockProvider>>` traces the injected faults as the switch sees them,
//! while a `FaultInjector<Tracer<MockProvider>>` traces only the calls that reached the mock.
//!
//! # Any provider, a library-loaded one included
//!
//! The wrappers hold their inner provider in a [`Box`] and are generic over
//! `P: SanProvider + ?Sized`, so they wrap a concrete provider ([`FaultInjector::new`],
//! [`Tracer::new`]) as well as the `Box<dyn SanProvider>` a
//! [`ProviderLoader`](switch_core::provider::ProviderLoader) answers ([`FaultInjector::from_box`],
//! [`Tracer::from_box`]), whatever is behind it: a mock, or a provider loaded from a shared
//! library by a platform shim. (The orphan rule forbids implementing switch-core's trait for
//! `Box<dyn SanProvider>` outside switch-core, and switch-core does not, hence the box inside.)
//! Every method is forwarded, the data-path and memory-extension methods too, so the inner
//! provider's own implementations are reached, never the trait's `WSAEOPNOTSUPP` defaults.
//!
//! # Naming the calls
//!
//! Calls are named by [`Call`], as the switch's trace names them. `WSPIoctl` is named by what
//! it asks ([`classify_ioctl`]): `SIO_ADDRESS_LIST_QUERY` is [`Call::AddressListQuery`],
//! `SIO_GET_EXTENSION_FUNCTION_POINTER` with a SAN extension's GUID is
//! [`Call::GetExtension`]. Any other ioctl (another code, or the extension code with a GUID that
//! is no SAN extension) has no name: both wrappers pass it straight through, uncounted, with no
//! fault and no trace. The switch never makes such a call.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use mock_provider::{CallLog, FaultInjector, MockConfig, MockProvider, TracedCall, Tracer, When};
//! use spi_types::{AddressFamily, Protocol, ProtocolInfo, SocketFlags, SocketType, WinsockVersion, WsaError};
//! use switch_core::provider::SanProvider;
//! use switch_core::trace::{Call, CallResult};
//! use switch_core::upcall::UpcallTable;
//!
//! let mock = MockProvider::new(MockConfig::generic("a"), CallLog::new());
//! let faulty = FaultInjector::new(mock).fail(Call::Socket, WsaError::WSAENOBUFS, When::Nth(2));
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! let mut p = Tracer::new(faulty, move |c: &TracedCall| sink.lock().unwrap().push(*c));
//!
//! p.startup_ex(WinsockVersion::V2_2, &ProtocolInfo::tcpip(1001), Arc::new(UpcallTable::new()))
//!     .unwrap();
//! let mut socket = || p.socket(AddressFamily::INET, SocketType::STREAM, Protocol::TCP, SocketFlags::OVERLAPPED);
//! assert!(socket().is_ok());
//! assert_eq!(socket(), Err(WsaError::WSAENOBUFS));
//! assert!(socket().is_ok());
//!
//! assert_eq!(p.inner().calls(Call::Socket), 3);
//! assert_eq!(seen.lock().unwrap()[2], TracedCall { call: Call::Socket, result: CallResult::Error(WsaError::WSAENOBUFS) });
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use spi_types::{
    AddressFamily, ConditionResult, IoctlCode, MemoryAccess, NetworkEvents, Protocol, ProtocolInfo,
    SanExtension, SocketFlags, SocketType, WinsockVersion, WsaError, WsaNetworkEvents,
};
use switch_core::memory::{MemoryHandle, MemoryRange, WsaBufEx};
use switch_core::provider::{
    Accepted, ConditionArgs, DataOutcome, EventHandle, ExtensionHandle, IoctlFailure, Overlapped,
    ProviderSocket, SanProvider, StartupAnswer, Upcalls,
};
use switch_core::trace::{Call, CallResult};

/// The call a `WSPIoctl` with `code` and `input` is, as the switch's trace names it:
/// [`Call::AddressListQuery`] for `SIO_ADDRESS_LIST_QUERY`, [`Call::GetExtension`] for
/// `SIO_GET_EXTENSION_FUNCTION_POINTER` with a SAN extension's GUID as input, and `None` for
/// any other ioctl (which the wrappers pass through untouched).
pub fn classify_ioctl(code: IoctlCode, input: &[u8]) -> Option<Call> {
    match code {
        IoctlCode::SIO_ADDRESS_LIST_QUERY => Some(Call::AddressListQuery),
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER => {
            SanExtension::from_guid_bytes(input).map(Call::GetExtension)
        }
        _ => None,
    }
}

/// Which calls of a kind a fault applies to, by their number: each kind of call ([`Call`]) is
/// numbered on its own from 1, the first call of that kind the wrapper receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// Every call.
    Always,
    /// Only the n-th call (1-based; `Nth(0)` never applies).
    Nth(u64),
    /// Every n-th call: the n-th, the 2n-th, ... (`Every(0)` never applies).
    Every(u64),
    /// Every call after the first n (`After(0)` is [`Always`](When::Always)).
    After(u64),
}

impl When {
    /// Whether the fault applies to the call numbered `n` (1-based) of its kind.
    pub fn applies(self, n: u64) -> bool {
        match self {
            When::Always => true,
            When::Nth(k) => n == k,
            When::Every(k) => k != 0 && n.is_multiple_of(k),
            When::After(k) => n > k,
        }
    }
}

/// What a fault does to a call it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// The call answers this error without reaching the inner provider (an ioctl or
    /// RegisterRdmaMemory answers it as an [`IoctlFailure`] with no size).
    Fail(WsaError),
    /// The call panics without reaching the inner provider, with a message naming the call.
    Panic,
}

/// One rule of a [`FaultPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The kind of call it applies to.
    pub call: Call,
    /// What it does.
    pub action: FaultAction,
    /// Which calls of that kind.
    pub when: When,
}

#[derive(Debug, Default)]
struct PlanState {
    faults: Vec<Fault>,
    counts: BTreeMap<Call, u64>,
}

/// The faults of a [`FaultInjector`] and its call counters, shared: a clone is a handle to the
/// same plan, so a test keeps one while the switch owns the injector, and can read the counters
/// or change the faults at any time (for example before an address change).
///
/// Rules are checked in the order they were added; the first that applies to a call decides
/// it. One plan shared by several injectors numbers their calls together.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan(Arc<Mutex<PlanState>>);

impl FaultPlan {
    /// A plan with no fault and every counter at 0.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, PlanState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule.
    pub fn add(&self, fault: Fault) -> &Self {
        self.lock().faults.push(fault);
        self
    }

    /// Makes the calls of kind `call` that `when` selects answer `error`.
    pub fn fail(&self, call: Call, error: WsaError, when: When) -> &Self {
        self.add(Fault {
            call,
            action: FaultAction::Fail(error),
            when,
        })
    }

    /// Makes the calls of kind `call` that `when` selects panic.
    pub fn panic_at(&self, call: Call, when: When) -> &Self {
        self.add(Fault {
            call,
            action: FaultAction::Panic,
            when,
        })
    }

    /// Removes every rule for `call` (its counter stays).
    pub fn clear(&self, call: Call) -> &Self {
        self.lock().faults.retain(|f| f.call != call);
        self
    }

    /// Removes every rule (the counters stay).
    pub fn clear_all(&self) -> &Self {
        self.lock().faults.clear();
        self
    }

    /// The rules, in the order they are checked.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    /// How many calls of kind `call` were received, faulted ones included.
    pub fn calls(&self, call: Call) -> u64 {
        self.lock().counts.get(&call).copied().unwrap_or(0)
    }

    /// How many calls of every kind were received.
    pub fn total_calls(&self) -> u64 {
        self.lock().counts.values().sum()
    }

    /// Counts a call of kind `call`; answers its number and the action of the first rule that
    /// applies to it.
    fn enter(&self, call: Call) -> (u64, Option<FaultAction>) {
        let mut state = self.lock();
        let n = {
            let count = state.counts.entry(call).or_insert(0);
            *count += 1;
            *count
        };
        let action = state
            .faults
            .iter()
            .find(|f| f.call == call && f.when.applies(n))
            .map(|f| f.action);
        (n, action)
    }
}

/// A provider wrapper that makes chosen calls fail or panic and counts every call; see the
/// [module documentation](self).
///
/// Each call is counted by its kind; if a rule of its [`FaultPlan`] applies, the call answers
/// the rule's error (in the method's own error type) or panics with a message naming the call,
/// and the inner provider never sees it. Otherwise it is delegated unchanged.
pub struct FaultInjector<P: ?Sized> {
    plan: FaultPlan,
    inner: Box<P>,
}

impl<P: SanProvider> FaultInjector<P> {
    /// Wraps `inner`, with no fault yet.
    pub fn new(inner: P) -> Self {
        Self::from_box(Box::new(inner))
    }

    /// The inner provider, unwrapped.
    pub fn into_inner(self) -> P {
        *self.inner
    }
}

impl<P: SanProvider + ?Sized> FaultInjector<P> {
    /// Wraps a boxed provider, `Box<dyn SanProvider>` included (what a
    /// [`ProviderLoader`](switch_core::provider::ProviderLoader) answers).
    pub fn from_box(inner: Box<P>) -> Self {
        FaultInjector {
            plan: FaultPlan::new(),
            inner,
        }
    }

    /// Uses `plan` (typically a clone of a handle the caller keeps) instead of its own.
    #[must_use]
    pub fn with_plan(mut self, plan: FaultPlan) -> Self {
        self.plan = plan;
        self
    }

    /// Adds a rule: the calls of kind `call` that `when` selects answer `error`.
    #[must_use]
    pub fn fail(self, call: Call, error: WsaError, when: When) -> Self {
        self.plan.fail(call, error, when);
        self
    }

    /// Adds a rule: the calls of kind `call` that `when` selects panic.
    #[must_use]
    pub fn panic_at(self, call: Call, when: When) -> Self {
        self.plan.panic_at(call, when);
        self
    }

    /// Its plan: a handle to add or remove rules and read counters later.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// How many calls of kind `call` it received, faulted ones included.
    pub fn calls(&self, call: Call) -> u64 {
        self.plan.calls(call)
    }

    /// The inner provider. Calls made directly on it are neither counted nor faulted.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner provider, mutably. Calls made directly on it are neither counted nor faulted.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The inner provider in its box (the only way out for an unsized one).
    pub fn into_box(self) -> Box<P> {
        self.inner
    }

    /// Counts the call; answers the injected error, or panics, if a rule says so.
    fn enter(&self, call: Call) -> Result<(), WsaError> {
        // The plan's lock is released before any panic, so the plan stays usable.
        match self.plan.enter(call) {
            (_, None) => Ok(()),
            (_, Some(FaultAction::Fail(e))) => Err(e),
            (n, Some(FaultAction::Panic)) => {
                panic!("fault injector: injected panic in {call} (call {n} of its kind)")
            }
        }
    }
}

impl<P: fmt::Debug + ?Sized> fmt::Debug for FaultInjector<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultInjector")
            .field("plan", &self.plan)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<P: SanProvider + ?Sized> SanProvider for FaultInjector<P> {
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError> {
        self.enter(Call::StartupEx)?;
        self.inner.startup_ex(version, protocol_info, upcalls)
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        self.enter(Call::Cleanup)?;
        self.inner.cleanup()
    }

    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError> {
        self.enter(Call::Socket)?;
        self.inner.socket(family, socket_type, protocol, flags)
    }

    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.enter(Call::Bind)?;
        self.inner.bind(socket, address)
    }

    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        self.enter(Call::Listen)?;
        self.inner.listen(socket, backlog)
    }

    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.enter(Call::Connect)?;
        self.inner.connect(socket, address)
    }

    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError> {
        self.enter(Call::Accept)?;
        self.inner.accept(socket, condition)
    }

    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        self.enter(Call::EventSelect)?;
        self.inner.event_select(socket, event, events)
    }

    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError> {
        self.enter(Call::EnumNetworkEvents)?;
        self.inner.enum_network_events(socket, event)
    }

    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        if let Some(call) = classify_ioctl(code, input) {
            self.enter(call).map_err(IoctlFailure::new)?;
        }
        self.inner.ioctl(socket, code, input, output)
    }

    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        self.enter(Call::CloseSocket)?;
        self.inner.close_socket(socket)
    }

    fn get_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &mut [u8],
    ) -> Result<usize, WsaError> {
        self.enter(Call::GetSockOpt)?;
        self.inner.get_sock_opt(socket, level, name, value)
    }

    fn set_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        self.enter(Call::SetSockOpt)?;
        self.inner.set_sock_opt(socket, level, name, value)
    }

    fn send(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.enter(Call::Send)?;
        self.inner.send(socket, buffers, overlapped)
    }

    fn recv(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.enter(Call::Recv)?;
        self.inner.recv(socket, buffers, overlapped)
    }

    fn get_overlapped_result(
        &mut self,
        socket: ProviderSocket,
        overlapped: Overlapped,
    ) -> Result<usize, WsaError> {
        self.enter(Call::GetOverlappedResult)?;
        self.inner.get_overlapped_result(socket, overlapped)
    }

    fn register_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> Result<MemoryHandle, WsaError> {
        self.enter(Call::RegisterMemory)?;
        self.inner.register_memory(entry, socket, range, access)
    }

    fn deregister_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        handle: MemoryHandle,
    ) -> Result<(), WsaError> {
        self.enter(Call::DeregisterMemory)?;
        self.inner.deregister_memory(entry, socket, handle)
    }

    fn register_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
        descriptor: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        self.enter(Call::RegisterRdmaMemory)
            .map_err(IoctlFailure::new)?;
        self.inner
            .register_rdma_memory(entry, socket, range, access, descriptor)
    }

    fn deregister_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        descriptor: &[u8],
    ) -> Result<(), WsaError> {
        self.enter(Call::DeregisterRdmaMemory)?;
        self.inner.deregister_rdma_memory(entry, socket, descriptor)
    }

    fn rdma_write(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.enter(Call::RdmaWrite)?;
        self.inner
            .rdma_write(entry, socket, local, target, target_offset, overlapped)
    }

    fn rdma_read(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.enter(Call::RdmaRead)?;
        self.inner
            .rdma_read(entry, socket, local, target, target_offset, overlapped)
    }

    fn memory_registration_cache_callback(
        &mut self,
        entry: ExtensionHandle,
        address: u64,
        size: usize,
    ) -> Result<(), WsaError> {
        self.enter(Call::MemoryRegistrationCacheCallback)?;
        self.inner
            .memory_registration_cache_callback(entry, address, size)
    }
}

/// One call a [`Tracer`] saw and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TracedCall {
    /// The entry point, as the switch's trace names it.
    pub call: Call,
    /// How it ended: [`CallResult::Ok`], the error it answered, or [`CallResult::Panic`] when
    /// the inner provider panicked (the panic then goes on).
    pub result: CallResult,
}

impl fmt::Display for TracedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.call, self.result)
    }
}

/// The error of a failed call, whatever the method's error type.
trait CallError {
    fn wsa(&self) -> WsaError;
}

impl CallError for WsaError {
    fn wsa(&self) -> WsaError {
        *self
    }
}

impl CallError for IoctlFailure {
    fn wsa(&self) -> WsaError {
        self.error
    }
}

/// The sink a [`Tracer`] reports to.
type Sink = Box<dyn FnMut(&TracedCall) + Send>;

/// A provider wrapper that reports every call and how it ended; see the
/// [module documentation](self).
///
/// Every method is delegated with its arguments unchanged (`WSPStartupEx`'s up-call table
/// included); once the inner call returns, the sink gets a [`TracedCall`]: `Ok` for any
/// success, or the error answered. If the inner provider panics, the sink gets
/// [`CallResult::Panic`] and the panic goes on unchanged (the switch's executor catches it).
/// So for initialization and control calls the sink sees what the switch's own trace records,
/// in the same order; two differences: the tracer reports data-path calls always (the switch
/// only with `SwitchConfig::trace_data`), and it reports what the provider answered, where the
/// switch may judge an answer a failure (a `WSPGetSockOpt` value of another size than 4 bytes,
/// a RegisterRdmaMemory descriptor longer than the block).
pub struct Tracer<P: ?Sized> {
    sink: Sink,
    inner: Box<P>,
}

impl<P: SanProvider> Tracer<P> {
    /// Wraps `inner`, reporting to `sink`.
    pub fn new(inner: P, sink: impl FnMut(&TracedCall) + Send + 'static) -> Self {
        Self::from_box(Box::new(inner), sink)
    }

    /// The inner provider, unwrapped.
    pub fn into_inner(self) -> P {
        *self.inner
    }
}

impl<P: SanProvider + ?Sized> Tracer<P> {
    /// Wraps a boxed provider, `Box<dyn SanProvider>` included (what a
    /// [`ProviderLoader`](switch_core::provider::ProviderLoader) answers), reporting to `sink`.
    pub fn from_box(inner: Box<P>, sink: impl FnMut(&TracedCall) + Send + 'static) -> Self {
        Tracer {
            sink: Box::new(sink),
            inner,
        }
    }

    /// The inner provider. Calls made directly on it are not traced.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The inner provider, mutably. Calls made directly on it are not traced.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The inner provider in its box (the only way out for an unsized one).
    pub fn into_box(self) -> Box<P> {
        self.inner
    }

    /// Makes the inner call `f` and reports it as `call`.
    fn traced<T, E: CallError>(
        &mut self,
        call: Call,
        f: impl FnOnce(&mut P) -> Result<T, E>,
    ) -> Result<T, E> {
        let inner = &mut *self.inner;
        match panic::catch_unwind(AssertUnwindSafe(|| f(inner))) {
            Ok(answer) => {
                let result = match &answer {
                    Ok(_) => CallResult::Ok,
                    Err(e) => CallResult::Error(e.wsa()),
                };
                (self.sink)(&TracedCall { call, result });
                answer
            }
            Err(payload) => {
                (self.sink)(&TracedCall {
                    call,
                    result: CallResult::Panic,
                });
                panic::resume_unwind(payload)
            }
        }
    }
}

impl<P: fmt::Debug + ?Sized> fmt::Debug for Tracer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<P: SanProvider + ?Sized> SanProvider for Tracer<P> {
    fn startup_ex(
        &mut self,
        version: WinsockVersion,
        protocol_info: &ProtocolInfo,
        upcalls: Arc<dyn Upcalls>,
    ) -> Result<StartupAnswer, WsaError> {
        self.traced(Call::StartupEx, |p| {
            p.startup_ex(version, protocol_info, upcalls)
        })
    }

    fn cleanup(&mut self) -> Result<(), WsaError> {
        self.traced(Call::Cleanup, |p| p.cleanup())
    }

    fn socket(
        &mut self,
        family: AddressFamily,
        socket_type: SocketType,
        protocol: Protocol,
        flags: SocketFlags,
    ) -> Result<ProviderSocket, WsaError> {
        self.traced(Call::Socket, |p| {
            p.socket(family, socket_type, protocol, flags)
        })
    }

    fn bind(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.traced(Call::Bind, |p| p.bind(socket, address))
    }

    fn listen(&mut self, socket: ProviderSocket, backlog: i32) -> Result<(), WsaError> {
        self.traced(Call::Listen, |p| p.listen(socket, backlog))
    }

    fn connect(&mut self, socket: ProviderSocket, address: SocketAddr) -> Result<(), WsaError> {
        self.traced(Call::Connect, |p| p.connect(socket, address))
    }

    fn accept(
        &mut self,
        socket: ProviderSocket,
        condition: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
    ) -> Result<Accepted, WsaError> {
        self.traced(Call::Accept, |p| p.accept(socket, condition))
    }

    fn event_select(
        &mut self,
        socket: ProviderSocket,
        event: EventHandle,
        events: NetworkEvents,
    ) -> Result<(), WsaError> {
        self.traced(Call::EventSelect, |p| p.event_select(socket, event, events))
    }

    fn enum_network_events(
        &mut self,
        socket: ProviderSocket,
        event: Option<EventHandle>,
    ) -> Result<WsaNetworkEvents, WsaError> {
        self.traced(Call::EnumNetworkEvents, |p| {
            p.enum_network_events(socket, event)
        })
    }

    fn ioctl(
        &mut self,
        socket: ProviderSocket,
        code: IoctlCode,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        match classify_ioctl(code, input) {
            Some(call) => self.traced(call, |p| p.ioctl(socket, code, input, output)),
            None => self.inner.ioctl(socket, code, input, output),
        }
    }

    fn close_socket(&mut self, socket: ProviderSocket) -> Result<(), WsaError> {
        self.traced(Call::CloseSocket, |p| p.close_socket(socket))
    }

    fn get_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &mut [u8],
    ) -> Result<usize, WsaError> {
        self.traced(Call::GetSockOpt, |p| {
            p.get_sock_opt(socket, level, name, value)
        })
    }

    fn set_sock_opt(
        &mut self,
        socket: ProviderSocket,
        level: i32,
        name: i32,
        value: &[u8],
    ) -> Result<(), WsaError> {
        self.traced(Call::SetSockOpt, |p| {
            p.set_sock_opt(socket, level, name, value)
        })
    }

    fn send(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.traced(Call::Send, |p| p.send(socket, buffers, overlapped))
    }

    fn recv(
        &mut self,
        socket: ProviderSocket,
        buffers: &[WsaBufEx],
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.traced(Call::Recv, |p| p.recv(socket, buffers, overlapped))
    }

    fn get_overlapped_result(
        &mut self,
        socket: ProviderSocket,
        overlapped: Overlapped,
    ) -> Result<usize, WsaError> {
        self.traced(Call::GetOverlappedResult, |p| {
            p.get_overlapped_result(socket, overlapped)
        })
    }

    fn register_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
    ) -> Result<MemoryHandle, WsaError> {
        self.traced(Call::RegisterMemory, |p| {
            p.register_memory(entry, socket, range, access)
        })
    }

    fn deregister_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        handle: MemoryHandle,
    ) -> Result<(), WsaError> {
        self.traced(Call::DeregisterMemory, |p| {
            p.deregister_memory(entry, socket, handle)
        })
    }

    fn register_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        range: &MemoryRange,
        access: MemoryAccess,
        descriptor: &mut [u8],
    ) -> Result<usize, IoctlFailure> {
        self.traced(Call::RegisterRdmaMemory, |p| {
            p.register_rdma_memory(entry, socket, range, access, descriptor)
        })
    }

    fn deregister_rdma_memory(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        descriptor: &[u8],
    ) -> Result<(), WsaError> {
        self.traced(Call::DeregisterRdmaMemory, |p| {
            p.deregister_rdma_memory(entry, socket, descriptor)
        })
    }

    fn rdma_write(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.traced(Call::RdmaWrite, |p| {
            p.rdma_write(entry, socket, local, target, target_offset, overlapped)
        })
    }

    fn rdma_read(
        &mut self,
        entry: ExtensionHandle,
        socket: ProviderSocket,
        local: &[WsaBufEx],
        target: &[u8],
        target_offset: u32,
        overlapped: Overlapped,
    ) -> Result<DataOutcome, WsaError> {
        self.traced(Call::RdmaRead, |p| {
            p.rdma_read(entry, socket, local, target, target_offset, overlapped)
        })
    }

    fn memory_registration_cache_callback(
        &mut self,
        entry: ExtensionHandle,
        address: u64,
        size: usize,
    ) -> Result<(), WsaError> {
        self.traced(Call::MemoryRegistrationCacheCallback, |p| {
            p.memory_registration_cache_callback(entry, address, size)
        })
    }
}
