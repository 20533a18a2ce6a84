//! The call executor: the one place the switch calls a provider.
//!
//! Every provider call (initialization, address re-queries, teardown) goes through
//! [`Executor::call`]: it makes the call behind the panic boundary, so a provider that panics is
//! isolated (the call answers [`Answer::Panicked`] with the panic's message) and the switch goes
//! on, and it records the call's [`TraceEvent`]. [`Executor::drive`] runs a
//! [`ProviderMachine`] to its end, never past its call budget.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use spi_types::address_list::PointerWidth;
use spi_types::consts::SOL_SOCKET;
use spi_types::{
    IoctlCode, Protocol, ProtocolInfo, SocketFlags, SocketType, WinsockVersion, WsaError,
};

use crate::call::{AddressAnswer, Answer, NextCall, ProviderMachine, traced_args};
use crate::id::ProviderId;
use crate::journal::Journal;
use crate::provider::{ExtensionHandle, IoctlFailure, SanProvider, Upcalls};
use crate::report::ExtensionFailure;
use crate::trace::{Call, CallArgs, TraceEvent};

/// The version the switch asks for and requires.
pub const REQUIRED_VERSION: WinsockVersion = WinsockVersion::V2_2;

/// Runs `f`, turning a panic into its message.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panic_message)
}

fn panic_message(p: Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// A machine asked for more calls than it can legitimately make: it is broken, and driving it
/// stopped there rather than loop for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sequence asked for {pending} after {calls} calls, its whole budget")]
pub struct Overrun {
    /// Calls made.
    pub calls: usize,
    /// The call it asked for next.
    pub pending: Call,
}

/// What every provider call needs besides the provider: fixed for the switch's life.
#[derive(Clone)]
pub(crate) struct CallEnv {
    pub tcpip: ProtocolInfo,
    pub upcalls: Arc<dyn Upcalls>,
    pub width: PointerWidth,
    /// Whether data-path calls are recorded in the trace (initialization and control calls
    /// always are).
    pub trace_data: bool,
}

/// The provider being called, as the trace names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Callee<'a> {
    pub id: ProviderId,
    pub name: &'a Arc<str>,
}

/// Makes provider calls and records them in the journal.
pub(crate) struct Executor<'a> {
    pub env: &'a CallEnv,
    pub journal: &'a mut Journal,
}

impl Executor<'_> {
    /// Makes `call` on `provider` behind the panic boundary and records it.
    pub fn call(
        &mut self,
        callee: Callee<'_>,
        provider: &mut dyn SanProvider,
        call: NextCall,
    ) -> Answer {
        let answer = self.perform(provider, &call);
        let tcpip_guid = self.env.tcpip.provider_id;
        let ev = TraceEvent {
            provider: callee.id,
            provider_name: callee.name.clone(),
            call: call.call(),
            result: answer.result(),
            args: traced_args(&call, &answer, || CallArgs::Startup {
                version: REQUIRED_VERSION,
                protocol_info: tcpip_guid,
            }),
        };
        ev.emit();
        if self.env.trace_data || !ev.call.is_data() {
            self.journal.trace.push(ev);
        }
        if let Answer::Panicked(message) = &answer {
            self.journal.last_panic = Some((call.call(), message.clone()));
        }
        answer
    }

    /// Runs `machine` until it finishes, feeding it the answer to each call it asks for; stops
    /// with [`Overrun`] if it asks for more calls than its budget. Answers the number of calls
    /// made.
    pub fn drive(
        &mut self,
        callee: Callee<'_>,
        provider: &mut dyn SanProvider,
        machine: &mut dyn ProviderMachine,
    ) -> Result<usize, Overrun> {
        let budget = machine.call_budget();
        let mut calls = 0;
        while let Some(next) = machine.next_call() {
            if calls == budget {
                return Err(Overrun {
                    calls,
                    pending: next.call(),
                });
            }
            let pending = next.call();
            let answer = self.call(callee, provider, next);
            calls += 1;
            if machine.advance(answer).is_err() {
                // It asked for a call, then refused the answer: it can only ask again.
                return Err(Overrun { calls, pending });
            }
        }
        Ok(calls)
    }

    fn perform(&self, provider: &mut dyn SanProvider, call: &NextCall) -> Answer {
        let env = self.env;
        let answer = guarded(|| match *call {
            NextCall::StartupEx => {
                match provider.startup_ex(REQUIRED_VERSION, &env.tcpip, env.upcalls.clone()) {
                    Ok(a) if !a.missing_entry_points.is_empty() => Answer::MissingEntryPoints {
                        data: a.data,
                        missing: a.missing_entry_points,
                    },
                    r => Answer::Started(r.map(|a| a.data)),
                }
            }
            NextCall::Socket { family } => Answer::Socket(provider.socket(
                family,
                SocketType::STREAM,
                Protocol::TCP,
                SocketFlags::OVERLAPPED,
            )),
            NextCall::Bind { socket, address } => Answer::Done(provider.bind(socket, address)),
            NextCall::SetSockOpt {
                socket,
                level,
                name,
                ref value,
            } => Answer::Done(provider.set_sock_opt(socket, level, name, value)),
            NextCall::EventSelect {
                socket,
                event,
                events,
            } => Answer::Done(provider.event_select(socket, event, events)),
            NextCall::Connect { socket, address } => {
                Answer::Done(provider.connect(socket, address))
            }
            NextCall::Listen { socket, backlog } => Answer::Done(provider.listen(socket, backlog)),
            NextCall::Accept { socket, decision } => {
                let mut asked = false;
                let result = provider.accept(socket, &mut |_| {
                    asked = true;
                    decision
                });
                Answer::Accepted { result, asked }
            }
            NextCall::EnumNetworkEvents { socket, event } => {
                Answer::Events(provider.enum_network_events(socket, Some(event)))
            }
            NextCall::QueryAddresses { socket, buffer_len } => {
                let mut buffer = vec![0u8; buffer_len];
                // The buffer's address is what the provider's pointers are relative to; moving
                // the Vec afterwards does not move its heap allocation.
                let base = buffer.as_ptr() as usize as u64;
                Answer::Addresses(
                    match provider.ioctl(
                        socket,
                        IoctlCode::SIO_ADDRESS_LIST_QUERY,
                        &[],
                        &mut buffer,
                    ) {
                        Ok(returned) => AddressAnswer::Filled {
                            buffer,
                            base,
                            returned,
                        },
                        Err(f) => AddressAnswer::Failed(f),
                    },
                )
            }
            NextCall::GetExtension { socket, extension } => {
                let guid = extension.guid().to_bytes();
                let mut out = vec![0u8; env.width.bytes()];
                Answer::Extension(
                    match provider.ioctl(
                        socket,
                        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
                        &guid,
                        &mut out,
                    ) {
                        Ok(_) => {
                            let mut b = [0u8; 8];
                            b[..out.len()].copy_from_slice(&out);
                            match u64::from_le_bytes(b) {
                                0 => Err(ExtensionFailure::NoEntryPoint),
                                h => Ok(ExtensionHandle(h)),
                            }
                        }
                        Err(f) => Err(ExtensionFailure::Error(f.error)),
                    },
                )
            }
            NextCall::CloseSocket(s) => Answer::Closed(provider.close_socket(s)),
            NextCall::Cleanup => Answer::CleanedUp(provider.cleanup()),
            NextCall::GetSockOpt { socket, name } => {
                let mut value = [0u8; 4];
                Answer::SockOpt(
                    match provider.get_sock_opt(socket, SOL_SOCKET, name, &mut value) {
                        Ok(4) => Ok(u32::from_le_bytes(value)),
                        Ok(_) => Err(WsaError::WSAEFAULT),
                        Err(e) => Err(e),
                    },
                )
            }
            NextCall::Send {
                socket,
                ref buffers,
                overlapped,
            } => Answer::Data(provider.send(socket, buffers, overlapped)),
            NextCall::Recv {
                socket,
                ref buffers,
                overlapped,
            } => Answer::Data(provider.recv(socket, buffers, overlapped)),
            NextCall::GetOverlappedResult { socket, overlapped } => {
                Answer::Overlapped(provider.get_overlapped_result(socket, overlapped))
            }
            NextCall::RegisterMemory {
                entry,
                socket,
                ref range,
                access,
            } => Answer::Registered(provider.register_memory(entry, socket, range, access)),
            NextCall::DeregisterMemory {
                entry,
                socket,
                handle,
            } => Answer::Done(provider.deregister_memory(entry, socket, handle)),
            NextCall::RegisterRdmaMemory {
                entry,
                socket,
                ref range,
                access,
                descriptor_len,
            } => {
                let mut descriptor = vec![0u8; descriptor_len];
                Answer::RdmaRegistered(
                    match provider.register_rdma_memory(
                        entry,
                        socket,
                        range,
                        access,
                        &mut descriptor,
                    ) {
                        Ok(n) if n <= descriptor_len => {
                            descriptor.truncate(n);
                            Ok(descriptor)
                        }
                        // A length beyond the block is a provider fault: the block is all
                        // that was written.
                        Ok(n) => Err(IoctlFailure {
                            error: WsaError::WSAEFAULT,
                            bytes_returned: n,
                        }),
                        Err(f) => Err(f),
                    },
                )
            }
            NextCall::DeregisterRdmaMemory {
                entry,
                socket,
                ref descriptor,
            } => Answer::Done(provider.deregister_rdma_memory(entry, socket, descriptor)),
            NextCall::Rdma {
                read,
                entry,
                socket,
                ref local,
                ref target,
                target_offset,
                overlapped,
            } => Answer::Data(if read {
                provider.rdma_read(entry, socket, local, target, target_offset, overlapped)
            } else {
                provider.rdma_write(entry, socket, local, target, target_offset, overlapped)
            }),
            NextCall::CacheCallback {
                entry,
                address,
                size,
            } => Answer::Done(provider.memory_registration_cache_callback(entry, address, size)),
        });
        answer.unwrap_or_else(Answer::Panicked)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use spi_types::{
        AddressFamily, ConditionResult, NetworkEvents, WsaError, WsaNetworkEvents, WspData,
    };

    use super::*;
    use crate::call::Finished;
    use crate::provider::{Accepted, ConditionArgs, EventHandle, IoctlFailure, ProviderSocket};
    use crate::upcall::UpcallTable;

    /// A provider whose every call succeeds and counts.
    #[derive(Default)]
    struct Counting {
        cleanups: usize,
    }

    impl SanProvider for Counting {
        fn startup_ex(
            &mut self,
            _: WinsockVersion,
            _: &ProtocolInfo,
            _: Arc<dyn Upcalls>,
        ) -> Result<crate::provider::StartupAnswer, WsaError> {
            Ok(crate::provider::StartupAnswer {
                data: WspData {
                    version: REQUIRED_VERSION,
                    high_version: REQUIRED_VERSION,
                    description: String::new(),
                },
                missing_entry_points: Vec::new(),
            })
        }
        fn cleanup(&mut self) -> Result<(), WsaError> {
            self.cleanups += 1;
            Ok(())
        }
        fn socket(
            &mut self,
            _: AddressFamily,
            _: SocketType,
            _: Protocol,
            _: SocketFlags,
        ) -> Result<ProviderSocket, WsaError> {
            Ok(ProviderSocket(1))
        }
        fn bind(&mut self, _: ProviderSocket, _: SocketAddr) -> Result<(), WsaError> {
            Ok(())
        }
        fn listen(&mut self, _: ProviderSocket, _: i32) -> Result<(), WsaError> {
            Ok(())
        }
        fn connect(&mut self, _: ProviderSocket, _: SocketAddr) -> Result<(), WsaError> {
            Ok(())
        }
        fn accept(
            &mut self,
            _: ProviderSocket,
            _: &mut dyn FnMut(&ConditionArgs) -> ConditionResult,
        ) -> Result<Accepted, WsaError> {
            Err(WsaError::WSAEOPNOTSUPP)
        }
        fn event_select(
            &mut self,
            _: ProviderSocket,
            _: EventHandle,
            _: NetworkEvents,
        ) -> Result<(), WsaError> {
            Ok(())
        }
        fn enum_network_events(
            &mut self,
            _: ProviderSocket,
            _: Option<EventHandle>,
        ) -> Result<WsaNetworkEvents, WsaError> {
            Ok(WsaNetworkEvents::default())
        }
        fn ioctl(
            &mut self,
            _: ProviderSocket,
            _: IoctlCode,
            _: &[u8],
            _: &mut [u8],
        ) -> Result<usize, IoctlFailure> {
            Err(IoctlFailure::new(WsaError::WSAEINVAL))
        }
        fn close_socket(&mut self, _: ProviderSocket) -> Result<(), WsaError> {
            Ok(())
        }
    }

    /// A broken machine: it asks for `WSPCleanup` for ever (or refuses every answer).
    struct Endless {
        refuse: bool,
    }

    impl ProviderMachine for Endless {
        fn next_call(&self) -> Option<NextCall> {
            Some(NextCall::Cleanup)
        }
        fn advance(&mut self, _: Answer) -> Result<(), Finished> {
            if self.refuse { Err(Finished) } else { Ok(()) }
        }
        fn call_budget(&self) -> usize {
            3
        }
    }

    fn env() -> CallEnv {
        CallEnv {
            tcpip: ProtocolInfo::tcpip(1001),
            upcalls: Arc::new(UpcallTable::new()),
            width: PointerWidth::Bits64,
            trace_data: true,
        }
    }

    /// Drives `machine` on a fresh counting provider; answers the result, the provider and the
    /// journal.
    fn drive(machine: &mut dyn ProviderMachine) -> (Result<usize, Overrun>, Counting, Journal) {
        let env = env();
        let mut journal = Journal::default();
        let mut provider = Counting::default();
        let name: Arc<str> = "p".into();
        let callee = Callee {
            id: ProviderId(0),
            name: &name,
        };
        let result = Executor {
            env: &env,
            journal: &mut journal,
        }
        .drive(callee, &mut provider, machine);
        (result, provider, journal)
    }

    #[test]
    fn init_6_a_machine_that_never_finishes_is_stopped_at_its_budget() {
        let (result, provider, journal) = drive(&mut Endless { refuse: false });
        let err = result.unwrap_err();
        assert_eq!(
            err,
            Overrun {
                calls: 3,
                pending: Call::Cleanup
            }
        );
        assert_eq!(provider.cleanups, 3, "exactly the budget, no more");
        assert_eq!(journal.trace.len(), 3);
    }

    #[test]
    fn init_6_a_machine_that_refuses_an_answer_it_asked_for_is_stopped() {
        let (result, provider, _) = drive(&mut Endless { refuse: true });
        let err = result.unwrap_err();
        assert_eq!(err.calls, 1);
        assert_eq!(provider.cleanups, 1);
    }

    #[test]
    fn init_2_a_finishing_machine_answers_its_call_count_and_traces_each_call() {
        let mut t = crate::teardown::Teardown::new("p", Some(ProviderSocket(1)), true);
        let (result, provider, journal) = drive(&mut t);
        assert_eq!(result, Ok(2));
        let calls: Vec<Call> = journal.trace.iter().map(|e| e.call).collect();
        assert_eq!(calls, [Call::CloseSocket, Call::Cleanup]);
        assert_eq!(provider.cleanups, 1);
    }
}
