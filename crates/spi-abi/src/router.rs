//! The up-call table a loaded provider calls, bridged to the switch's [`Upcalls`].
//!
//! A C provider keeps the `WSPUPCALLTABLEEX` it was given and calls its function pointers with
//! no context of the switch: `WPUCreateSocketHandle(dwCatalogEntryId, dwContext, lpErrno)`. So
//! that several providers (and several switches, as in tests) can be loaded at once, the shim
//! has [`SLOTS`] tables, each a distinct set of functions (a const-generic instantiation per
//! slot) that routes to the [`Upcalls`] of the switch that started the provider holding the
//! slot. A provider instance claims a slot in `WSPStartupEx` and gives it back when it is
//! dropped.
//!
//! `WPUCreateSocketHandle`, `WPUCloseSocketHandle` and `WPUQuerySocketHandleContext` reach the
//! switch; `WPUCompleteOverlappedRequest` refuses every request with `WSAEINVAL`, since the
//! shim starts no overlapped request yet (its data path answers `WSAEOPNOTSUPP`); the others
//! answer an error
//! (`WSAEOPNOTSUPP`, or a null handle), as the switch has no events, messages, APCs or
//! threads to offer a provider. A panic inside the switch's side never unwinds into the
//! provider: the up-call answers `WSAENOBUFS`.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};

use spi_types::WsaError;
use switch_core::provider::{SwitchSocket, Upcalls};

use crate::abi::{
    Bool, Handle, INVALID_SOCKET, SOCKET_ERROR, Socket, UpcallTableEx, WsaOverlapped, WsaThreadId,
};

/// How many provider instances can be loaded at once.
pub const SLOTS: usize = 16;

static ROUTES: Mutex<[Option<Arc<dyn Upcalls>>; SLOTS]> = Mutex::new([const { None }; SLOTS]);

fn routes() -> MutexGuard<'static, [Option<Arc<dyn Upcalls>>; SLOTS]> {
    // Each update is one assignment, so a poisoned lock is still consistent.
    ROUTES.lock().unwrap_or_else(|p| p.into_inner())
}

/// A claimed slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot(usize);

impl Slot {
    /// The up-call table of this slot, valid for the program's life.
    pub(crate) fn table(&self) -> &'static UpcallTableEx {
        &TABLES[self.0]
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        routes()[self.0] = None;
    }
}

/// Claims a free slot routing to `upcalls`; `None` when all [`SLOTS`] are taken.
pub(crate) fn claim(upcalls: Arc<dyn Upcalls>) -> Option<Slot> {
    let mut r = routes();
    let i = r.iter().position(Option::is_none)?;
    r[i] = Some(upcalls);
    Some(Slot(i))
}

/// The switch behind slot `N`.
fn route<const N: usize>() -> Option<Arc<dyn Upcalls>> {
    routes()[N].clone()
}

/// Stores `code` through a provider's `lpErrno`, if it passed one.
///
/// # Safety
///
/// `errno` is null or points to an `int` the caller may write.
unsafe fn set_errno(errno: *mut i32, code: WsaError) {
    if !errno.is_null() {
        // SAFETY: not null, and the caller guarantees it is writable.
        unsafe { *errno = code.code() };
    }
}

/// Runs `f` on the switch behind slot `N`, never letting a panic out.
fn with_route<const N: usize, T>(
    f: impl FnOnce(&dyn Upcalls) -> Result<T, WsaError>,
) -> Result<T, WsaError> {
    let Some(u) = route::<N>() else {
        return Err(WsaError::WSAEINVAL);
    };
    catch_unwind(AssertUnwindSafe(|| f(u.as_ref()))).unwrap_or(Err(WsaError::WSAENOBUFS))
}

crate::wsp_extern! {
    unsafe fn close_event(_event: Handle, errno: *mut i32) -> Bool {
        // SAFETY: `errno` is the provider's own `lpErrno`.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        0
    }

    unsafe fn create_event(errno: *mut i32) -> Handle {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        std::ptr::null_mut()
    }

    unsafe fn fd_is_set(_s: Socket, _set: *mut c_void) -> i32 {
        0
    }

    unsafe fn get_provider_path(
        _guid: *mut c_void,
        _path: *mut u16,
        _len: *mut i32,
        errno: *mut i32,
    ) -> i32 {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        SOCKET_ERROR
    }

    unsafe fn modify_ifs_handle(_catalog: u32, _proposed: Socket, errno: *mut i32) -> Socket {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        INVALID_SOCKET
    }

    unsafe fn post_message(_wnd: Handle, _msg: u32, _w: usize, _l: isize) -> Bool {
        0
    }

    unsafe fn query_blocking_callback(
        _catalog: u32,
        _callback: *mut *const c_void,
        _context: *mut usize,
        errno: *mut i32,
    ) -> i32 {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        SOCKET_ERROR
    }

    unsafe fn queue_apc(
        _thread: *const WsaThreadId,
        _apc: *const c_void,
        _context: usize,
        errno: *mut i32,
    ) -> i32 {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        SOCKET_ERROR
    }

    unsafe fn event(_event: Handle, errno: *mut i32) -> Bool {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        0
    }

    unsafe fn thread(_thread: *mut WsaThreadId, errno: *mut i32) -> i32 {
        // SAFETY: as above.
        unsafe { set_errno(errno, WsaError::WSAEOPNOTSUPP) };
        SOCKET_ERROR
    }
}

/// Defines the four routed up-calls, generic over the slot.
macro_rules! routed {
    ($abi:literal) => {
        unsafe extern $abi fn create_socket_handle<const N: usize>(
            catalog_entry_id: u32,
            context: usize,
            errno: *mut i32,
        ) -> Socket {
            match with_route::<N, _>(|u| u.create_socket_handle(catalog_entry_id, context as u64)) {
                Ok(s) => usize::try_from(s.0).unwrap_or(INVALID_SOCKET),
                Err(e) => {
                    // SAFETY: `errno` is the provider's own `lpErrno`.
                    unsafe { set_errno(errno, e) };
                    INVALID_SOCKET
                }
            }
        }

        unsafe extern $abi fn close_socket_handle<const N: usize>(s: Socket, errno: *mut i32) -> i32 {
            match with_route::<N, _>(|u| u.close_socket_handle(SwitchSocket(s as u64))) {
                Ok(()) => 0,
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { set_errno(errno, e) };
                    SOCKET_ERROR
                }
            }
        }

        unsafe extern $abi fn query_socket_handle_context<const N: usize>(
            s: Socket,
            context: *mut usize,
            errno: *mut i32,
        ) -> i32 {
            match with_route::<N, _>(|u| u.query_socket_handle_context(SwitchSocket(s as u64))) {
                Ok(c) if !context.is_null() => {
                    // SAFETY: not null; the provider passes its `lpContext` to be written.
                    unsafe { *context = c as usize };
                    0
                }
                Ok(_) => {
                    // SAFETY: as above.
                    unsafe { set_errno(errno, WsaError::WSAEFAULT) };
                    SOCKET_ERROR
                }
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { set_errno(errno, e) };
                    SOCKET_ERROR
                }
            }
        }

        unsafe extern $abi fn complete_overlapped_request<const N: usize>(
            s: Socket,
            overlapped: *mut WsaOverlapped,
            _error: u32,
            _bytes: u32,
            errno: *mut i32,
        ) -> i32 {
            // The shim starts no overlapped request yet (its data path answers
            // WSAEOPNOTSUPP), so no completion can be one of its own: the socket must still be
            // the switch's, and the request is refused.
            let known = with_route::<N, _>(|u| u.query_socket_handle_context(SwitchSocket(s as u64)));
            let error = match known {
                Ok(_) if overlapped.is_null() => WsaError::WSAEINVAL,
                Ok(_) => WsaError::WSAEINVAL,
                Err(e) => e,
            };
            // SAFETY: `errno` is the provider's own `lpErrno`.
            unsafe { set_errno(errno, error) };
            SOCKET_ERROR
        }
    };
}

#[cfg(windows)]
routed!("system");
#[cfg(all(not(windows), target_arch = "x86_64"))]
routed!("win64");
#[cfg(all(not(windows), not(target_arch = "x86_64")))]
routed!("C");

const fn table<const N: usize>() -> UpcallTableEx {
    UpcallTableEx {
        close_event: Some(close_event),
        close_socket_handle: Some(close_socket_handle::<N>),
        create_event: Some(create_event),
        create_socket_handle: Some(create_socket_handle::<N>),
        fd_is_set: Some(fd_is_set),
        get_provider_path: Some(get_provider_path),
        modify_ifs_handle: Some(modify_ifs_handle),
        post_message: Some(post_message),
        query_blocking_callback: Some(query_blocking_callback),
        query_socket_handle_context: Some(query_socket_handle_context::<N>),
        queue_apc: Some(queue_apc),
        reset_event: Some(event),
        set_event: Some(event),
        open_current_thread: Some(thread),
        close_thread: Some(thread),
        complete_overlapped_request: Some(complete_overlapped_request::<N>),
    }
}

static TABLES: [UpcallTableEx; SLOTS] = [
    table::<0>(),
    table::<1>(),
    table::<2>(),
    table::<3>(),
    table::<4>(),
    table::<5>(),
    table::<6>(),
    table::<7>(),
    table::<8>(),
    table::<9>(),
    table::<10>(),
    table::<11>(),
    table::<12>(),
    table::<13>(),
    table::<14>(),
    table::<15>(),
];
