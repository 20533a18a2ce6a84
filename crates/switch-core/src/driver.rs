//! Making provider calls: each call runs behind a panic boundary, so a provider that panics is
//! isolated (its call answers [`Answer::Panicked`]) and the switch goes on.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use spi_types::address_list::PointerWidth;
use spi_types::{
    AddressFamily, IoctlCode, Protocol, ProtocolInfo, SocketFlags, SocketType, WsaError,
};

use crate::provider::{ExtensionHandle, ProviderSocket, SanProvider, Upcalls};
use crate::report::ExtensionFailure;
use crate::startup::{AddressAnswer, Answer, NextCall, REQUIRED_VERSION};

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

/// What a provider call needs besides the provider.
pub(crate) struct CallContext<'a> {
    pub tcpip: &'a ProtocolInfo,
    pub upcalls: Arc<dyn Upcalls>,
    pub width: PointerWidth,
}

/// One address-list query on `socket` with a buffer of `buffer_len` bytes.
pub(crate) fn query_addresses(
    provider: &mut dyn SanProvider,
    socket: ProviderSocket,
    buffer_len: usize,
) -> Answer {
    let mut buffer = vec![0u8; buffer_len];
    // The buffer's address is what the provider's pointers are relative to; moving the Vec
    // below does not move its heap allocation.
    let base = buffer.as_ptr() as usize as u64;
    match guarded(|| provider.ioctl(socket, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut buffer)) {
        Ok(Ok(_)) => Answer::Addresses(AddressAnswer::Filled { buffer, base }),
        Ok(Err(f)) => Answer::Addresses(AddressAnswer::Failed(f)),
        Err(msg) => Answer::Panicked(msg),
    }
}

/// Makes the call a machine asked for and returns the provider's answer.
pub(crate) fn perform(
    provider: &mut dyn SanProvider,
    next: NextCall,
    ctx: &CallContext<'_>,
) -> Option<Answer> {
    let answer = match next {
        NextCall::StartupEx => {
            let upcalls = ctx.upcalls.clone();
            match guarded(|| provider.startup_ex(REQUIRED_VERSION, ctx.tcpip, upcalls)) {
                Ok(r) => Answer::Started(r.map(|a| a.data)),
                Err(m) => Answer::Panicked(m),
            }
        }
        NextCall::Socket => match guarded(|| {
            provider.socket(
                AddressFamily::INET,
                SocketType::STREAM,
                Protocol::TCP,
                SocketFlags::OVERLAPPED,
            )
        }) {
            Ok(r) => Answer::Socket(r),
            Err(m) => Answer::Panicked(m),
        },
        NextCall::QueryAddresses { socket, buffer_len } => {
            query_addresses(provider, socket, buffer_len)
        }
        NextCall::GetExtension { socket, extension } => {
            let guid = extension.guid().to_bytes();
            let mut out = vec![0u8; ctx.width.bytes()];
            match guarded(|| {
                provider.ioctl(
                    socket,
                    IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
                    &guid,
                    &mut out,
                )
            }) {
                Ok(Ok(_)) => {
                    let mut b = [0u8; 8];
                    b[..out.len()].copy_from_slice(&out);
                    let h = u64::from_le_bytes(b);
                    Answer::Extension(if h == 0 {
                        Err(ExtensionFailure::NoEntryPoint)
                    } else {
                        Ok(ExtensionHandle(h))
                    })
                }
                Ok(Err(f)) => Answer::Extension(Err(ExtensionFailure::Error(f.error))),
                Err(m) => Answer::Panicked(m),
            }
        }
        NextCall::CloseSocket(s) => match guarded(|| provider.close_socket(s)) {
            Ok(r) => Answer::Closed(r),
            Err(m) => Answer::Panicked(m),
        },
        NextCall::Cleanup => match guarded(|| provider.cleanup()) {
            Ok(r) => Answer::CleanedUp(r),
            Err(m) => Answer::Panicked(m),
        },
        NextCall::Done => return None,
    };
    Some(answer)
}

/// A provider call's result behind the panic boundary: `Err(None)` is a panic.
pub(crate) type Guarded = Result<(), Option<WsaError>>;

/// Closes `socket` and cleans the provider up, each behind the panic boundary; answers what
/// each call returned.
pub(crate) fn close_and_cleanup(
    provider: &mut dyn SanProvider,
    socket: Option<ProviderSocket>,
) -> (Option<Guarded>, Guarded) {
    let closed = socket.map(|s| match guarded(|| provider.close_socket(s)) {
        Ok(r) => r.map_err(Some),
        Err(_) => Err(None),
    });
    let cleaned = match guarded(|| provider.cleanup()) {
        Ok(r) => r.map_err(Some),
        Err(_) => Err(None),
    };
    (closed, cleaned)
}
