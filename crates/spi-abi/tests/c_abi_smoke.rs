//! Smoke tests of the C side of the ABI: the sample providers in `providers/`, built by
//! `build.rs` against `include/wsd_provider.h`, are opened with `libloading` and driven
//! through the raw tables of `spi_abi::abi`, with no adapter in between. A layout or calling
//! convention mismatch between the header and `abi.rs` shows here as a wrong value or a crash.
#![cfg(unix)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use libloading::{Library, Symbol};
use spi_abi::abi::{
    INVALID_SOCKET, ProcTable, ProtocolInfoRaw, SOCKET_ERROR, Socket, UpcallTableEx, WspDataRaw,
    WspRegisterMemory, WspStartupEx,
};
use spi_types::address_list::{PointerWidth, decode_address_list, required_size};
use spi_types::{IoctlCode, SanExtension, WsaError, WspData};

/// The providers share process-wide state (their own statics, and the up-call counters
/// below), so the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const VERSION_2_2: u16 = 0x0202;
const CATALOG_ID: u32 = 1001;
/// The first handle the fake switch hands out.
const SWITCH_HANDLE_BASE: usize = 0x7000;
const AF_INET: i32 = 2;
const SOCK_STREAM: i32 = 1;
const IPPROTO_TCP: i32 = 6;
const WSA_FLAG_OVERLAPPED: u32 = 1;
const SOL_SOCKET: i32 = 0xffff;
const SO_MAX_MSG_SIZE: i32 = 0x2003;
const SO_MAX_RDMA_SIZE: i32 = 0x700D;
const SO_RDMA_THRESHOLD_SIZE: i32 = 0x700E;

#[cfg(target_pointer_width = "64")]
const WIDTH: PointerWidth = PointerWidth::Bits64;
#[cfg(target_pointer_width = "32")]
const WIDTH: PointerWidth = PointerWidth::Bits32;

static CREATED: AtomicUsize = AtomicUsize::new(0);
static LAST_CATALOG: AtomicUsize = AtomicUsize::new(0);
static LAST_CONTEXT: AtomicUsize = AtomicUsize::new(0);
static LAST_CREATED: AtomicUsize = AtomicUsize::new(0);
static LAST_CLOSED: AtomicUsize = AtomicUsize::new(0);

spi_abi::wsp_extern! {
    /// `WPUCreateSocketHandle` of the fake switch: hands out 0x7000, 0x7001, ...
    unsafe fn create_socket_handle(catalog: u32, context: usize, errno: *mut i32) -> Socket {
        let _ = errno;
        LAST_CATALOG.store(catalog as usize, Ordering::SeqCst);
        LAST_CONTEXT.store(context, Ordering::SeqCst);
        let handle = SWITCH_HANDLE_BASE + CREATED.fetch_add(1, Ordering::SeqCst);
        LAST_CREATED.store(handle, Ordering::SeqCst);
        handle
    }

    /// `WPUCloseSocketHandle` of the fake switch: records the handle.
    unsafe fn close_socket_handle(s: Socket, errno: *mut i32) -> i32 {
        let _ = errno;
        LAST_CLOSED.store(s, Ordering::SeqCst);
        0
    }
}

fn upcalls() -> UpcallTableEx {
    UpcallTableEx {
        close_event: None,
        close_socket_handle: Some(close_socket_handle),
        create_event: None,
        create_socket_handle: Some(create_socket_handle),
        fd_is_set: None,
        get_provider_path: None,
        modify_ifs_handle: None,
        post_message: None,
        query_blocking_callback: None,
        query_socket_handle_context: None,
        queue_apc: None,
        reset_event: None,
        set_event: None,
        open_current_thread: None,
        close_thread: None,
        complete_overlapped_request: None,
    }
}

/// A `WSAPROTOCOL_INFOW` whose only non-zero field is `dwCatalogEntryId` (offset 36).
fn protocol_info() -> ProtocolInfoRaw {
    let mut info = ProtocolInfoRaw([0; 628]);
    info.0[36..40].copy_from_slice(&CATALOG_ID.to_le_bytes());
    info
}

fn provider_path(name: &str) -> PathBuf {
    PathBuf::from(env!("WSD_SAMPLE_PROVIDERS"))
        .join(format!("{name}.{}", std::env::consts::DLL_EXTENSION))
}

fn open(name: &str) -> Library {
    let path = provider_path(name);
    // SAFETY: the sample providers are this crate's own C sources; loading them runs no
    // initialisers beyond the C runtime's.
    unsafe { Library::new(&path) }.unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// What `WSPStartupEx` answered, and what it filled.
struct Started {
    result: i32,
    data: WspDataRaw,
    table: ProcTable,
}

fn start(lib: &Library, version: u16) -> Started {
    // SAFETY: `WSPStartupEx` is exported by the sample providers with the signature and the
    // calling convention `WspStartupEx` declares (`include/wsd_provider.h` mirrors `abi.rs`).
    let startup: Symbol<WspStartupEx> =
        unsafe { lib.get(b"WSPStartupEx\0") }.expect("WSPStartupEx is exported");
    let mut data = WspDataRaw::zeroed();
    let mut info = protocol_info();
    let upcalls = upcalls();
    let mut table = ProcTable::empty();
    // SAFETY: every pointer is to a live local of the layout the provider expects; the
    // provider copies the up-call table and does not keep the other pointers.
    let result = unsafe { startup(version, &mut data, &mut info, &upcalls, &mut table) };
    Started {
        result,
        data,
        table,
    }
}

fn cleanup(table: &ProcTable) -> (i32, i32) {
    let mut errno = 0;
    // SAFETY: the provider filled the slot in `WSPStartupEx`; `errno` outlives the call.
    let rc = unsafe { table.cleanup.expect("WSPCleanup")(&mut errno) };
    (rc, errno)
}

fn close(table: &ProcTable, s: Socket) -> (i32, i32) {
    let mut errno = 0;
    // SAFETY: the slot was filled by `WSPStartupEx`; a socket value the provider does not
    // know is answered with WSAENOTSOCK, never dereferenced.
    let rc = unsafe { table.close_socket.expect("WSPCloseSocket")(s, &mut errno) };
    (rc, errno)
}

fn open_socket(table: &ProcTable) -> Socket {
    let info = protocol_info();
    let mut errno = 0;
    // SAFETY: the slot was filled by `WSPStartupEx`; the protocol info and `errno` are live
    // locals.
    let s = unsafe {
        table.socket.expect("WSPSocket")(
            AF_INET,
            SOCK_STREAM,
            IPPROTO_TCP,
            &info,
            0,
            WSA_FLAG_OVERLAPPED,
            &mut errno,
        )
    };
    assert_ne!(s, INVALID_SOCKET, "WSPSocket failed with {errno}");
    s
}

/// `WSPIoctl` with an input and an output buffer; returns (result, bytes returned, errno).
fn ioctl(
    table: &ProcTable,
    s: Socket,
    code: IoctlCode,
    input: &[u8],
    out: &mut [u8],
) -> (i32, u32, i32) {
    let mut returned = 0u32;
    let mut errno = 0;
    // SAFETY: the slot was filled by `WSPStartupEx`; the buffers are live slices whose real
    // lengths are passed, and the provider completes synchronously (no OVERLAPPED).
    let rc = unsafe {
        table.ioctl.expect("WSPIoctl")(
            s,
            code.value(),
            input.as_ptr().cast(),
            input.len() as u32,
            out.as_mut_ptr().cast(),
            out.len() as u32,
            &mut returned,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
            &mut errno,
        )
    };
    (rc, returned, errno)
}

/// `SIO_GET_EXTENSION_FUNCTION_POINTER` for `ext`: the pointer, or the error.
fn extension(table: &ProcTable, s: Socket, ext: SanExtension) -> Result<usize, i32> {
    let mut out = [0u8; std::mem::size_of::<usize>()];
    let guid = ext.guid().to_bytes();
    let (rc, _, errno) = ioctl(
        table,
        s,
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
        &guid,
        &mut out,
    );
    if rc == 0 {
        Ok(usize::from_ne_bytes(out))
    } else {
        assert_eq!(rc, SOCKET_ERROR);
        Err(errno)
    }
}

fn expected_addresses() -> Vec<SocketAddr> {
    vec![
        "10.1.0.5:0".parse().unwrap(),
        "[fd00::5]:0".parse().unwrap(),
    ]
}

fn get_option(table: &ProcTable, s: Socket, name: i32, len: i32) -> Result<u32, (i32, i32)> {
    let mut value = [0u8; 8];
    let mut optlen = len;
    let mut errno = 0;
    // SAFETY: the slot was filled by `WSPStartupEx`; `value` has room for 8 bytes and `len`
    // never exceeds that.
    let rc = unsafe {
        table.get_sock_opt.expect("WSPGetSockOpt")(
            s,
            SOL_SOCKET,
            name,
            value.as_mut_ptr(),
            &mut optlen,
            &mut errno,
        )
    };
    if rc == 0 {
        assert_eq!(optlen, 4);
        Ok(u32::from_le_bytes(value[..4].try_into().unwrap()))
    } else {
        Err((errno, optlen))
    }
}

#[test]
fn every_sample_provider_was_built() {
    for name in [
        "libwsd_good",
        "libwsd_fault_size",
        "libwsd_no_rdma_read",
        "libwsd_no_rdma_write",
        "libwsd_old_version",
        "libwsd_null_socket",
        "libwsd_no_export",
    ] {
        assert!(
            provider_path(name).is_file(),
            "{} missing",
            provider_path(name).display()
        );
    }
}

#[test]
fn good_provider_round_trip() {
    let _turn = serial();
    let lib = open("libwsd_good");
    let started = start(&lib, VERSION_2_2);
    assert_eq!(started.result, 0);
    assert_eq!(started.data.version, VERSION_2_2);
    assert_eq!(started.data.high_version, VERSION_2_2);
    let data = WspData::decode(&started.data.to_bytes()).expect("WSPDATA decodes");
    assert!(data.description.contains("good"), "{:?}", data.description);
    let table = started.table;
    assert!(table.missing().is_empty(), "{:?}", table.missing());
    assert!(table.get_sock_opt.is_some() && table.set_sock_opt.is_some());
    assert!(table.send.is_some() && table.recv.is_some() && table.get_overlapped_result.is_some());
    assert!(table.duplicate_socket.is_none() && table.string_to_address.is_none());

    // WSPSocket: the provider's own value, and an up-call for the switch's handle.
    let created_before = CREATED.load(Ordering::SeqCst);
    let s = open_socket(&table);
    assert_eq!(CREATED.load(Ordering::SeqCst), created_before + 1);
    let switch_handle = LAST_CREATED.load(Ordering::SeqCst);
    assert_ne!(s, switch_handle, "the provider returns its own value");
    assert_eq!(LAST_CATALOG.load(Ordering::SeqCst), CATALOG_ID as usize);
    assert_eq!(LAST_CONTEXT.load(Ordering::SeqCst), s);

    // SIO_ADDRESS_LIST_QUERY: too small, then exactly large enough.
    let needed = required_size(&expected_addresses(), WIDTH);
    let mut small = [0u8; 16];
    let (rc, returned, errno) = ioctl(
        &table,
        s,
        IoctlCode::SIO_ADDRESS_LIST_QUERY,
        &[],
        &mut small,
    );
    assert_eq!(rc, SOCKET_ERROR);
    assert_eq!(errno, WsaError::WSAEFAULT.code());
    assert_eq!(returned as usize, needed);
    let mut buf = vec![0u8; needed];
    let (rc, returned, errno) = ioctl(&table, s, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut buf);
    assert_eq!((rc, errno), (0, 0));
    assert_eq!(returned as usize, needed);
    let addrs = decode_address_list(&buf, buf.as_ptr() as u64, WIDTH).expect("list decodes");
    assert_eq!(addrs, expected_addresses());

    // Every extension, and one called through the pointer it came back as.
    for ext in SanExtension::ALL {
        let pointer = extension(&table, s, ext).unwrap_or_else(|e| panic!("{ext:?}: {e}"));
        assert_ne!(pointer, 0, "{ext:?}");
    }
    let mut bogus = SanExtension::RegisterMemory.guid().to_bytes();
    bogus[0] ^= 0xff;
    let mut out = [0u8; 8];
    let (rc, _, errno) = ioctl(
        &table,
        s,
        IoctlCode::SIO_GET_EXTENSION_FUNCTION_POINTER,
        &bogus,
        &mut out,
    );
    assert_eq!((rc, errno), (SOCKET_ERROR, WsaError::WSAEINVAL.code()));
    let pointer = extension(&table, s, SanExtension::RegisterMemory).unwrap();
    // SAFETY: the provider answered the REGISTERMEMORY GUID with a non-null pointer to its
    // WSPRegisterMemory, whose type is `WspRegisterMemory`.
    let register: WspRegisterMemory =
        unsafe { std::mem::transmute::<usize, WspRegisterMemory>(pointer) };
    let mut memory = [0u8; 64];
    let mut errno = 0;
    // SAFETY: a live buffer of the length passed; the stub only writes `errno`.
    let handle = unsafe { register(s, memory.as_mut_ptr().cast(), 64, 3, &mut errno) };
    assert!(handle.is_null());
    assert_eq!(errno, WsaError::WSAEOPNOTSUPP.code());

    // An unknown control code.
    let (rc, _, errno) = ioctl(&table, s, IoctlCode::SIO_GET_QOS, &[], &mut out);
    assert_eq!((rc, errno), (SOCKET_ERROR, WsaError::WSAEOPNOTSUPP.code()));

    // Options.
    assert_eq!(get_option(&table, s, SO_MAX_MSG_SIZE, 4), Ok(65536));
    assert_eq!(get_option(&table, s, SO_MAX_RDMA_SIZE, 8), Ok(1_048_576));
    assert_eq!(get_option(&table, s, SO_RDMA_THRESHOLD_SIZE, 4), Ok(8192));
    assert_eq!(
        get_option(&table, s, SO_MAX_MSG_SIZE, 2),
        Err((WsaError::WSAEFAULT.code(), 4))
    );
    assert_eq!(
        get_option(&table, s, 0x0001, 4).unwrap_err().0,
        WsaError::WSAENOPROTOOPT.code()
    );

    // WSPConnect is refused as unreachable, WSPAccept has nothing pending.
    let peer = [2u8, 0, 0, 80, 10, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut errno = 0;
    // SAFETY: the slot was filled by `WSPStartupEx`; `peer` is a 16-byte SOCKADDR_IN.
    let rc = unsafe {
        table.connect.expect("WSPConnect")(
            s,
            peer.as_ptr(),
            16,
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
            &mut errno,
        )
    };
    assert_eq!((rc, errno), (SOCKET_ERROR, WsaError::WSAENETUNREACH.code()));
    let mut errno = 0;
    // SAFETY: as above; a NULL address and length are allowed when nothing is accepted.
    let accepted = unsafe {
        table.accept.expect("WSPAccept")(
            s,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            None,
            0,
            &mut errno,
        )
    };
    assert_eq!(
        (accepted, errno),
        (INVALID_SOCKET, WsaError::WSAEWOULDBLOCK.code())
    );

    // WSPCloseSocket gives the switch's handle back; a second close is refused.
    assert_eq!(close(&table, s), (0, 0));
    assert_eq!(LAST_CLOSED.load(Ordering::SeqCst), switch_handle);
    assert_eq!(
        close(&table, s),
        (SOCKET_ERROR, WsaError::WSAENOTSOCK.code())
    );

    assert_eq!(cleanup(&table), (0, 0));
    assert_eq!(
        cleanup(&table),
        (SOCKET_ERROR, WsaError::WSANOTINITIALISED.code())
    );
}

#[test]
fn good_provider_refuses_an_older_version() {
    let _turn = serial();
    let lib = open("libwsd_good");
    let started = start(&lib, 0x0002);
    assert_eq!(started.result, WsaError::WSAVERNOTSUPPORTED.code());
    assert!(started.table.ioctl.is_none());
}

#[test]
fn old_version_provider_refuses_2_2() {
    let _turn = serial();
    let lib = open("libwsd_old_version");
    let started = start(&lib, VERSION_2_2);
    assert_eq!(started.result, WsaError::WSAVERNOTSUPPORTED.code());
    assert!(started.table.socket.is_none());
}

#[test]
fn null_socket_provider_leaves_the_slot_empty() {
    let _turn = serial();
    let lib = open("libwsd_null_socket");
    let started = start(&lib, VERSION_2_2);
    assert_eq!(started.result, 0);
    assert!(started.table.socket.is_none());
    assert_eq!(started.table.missing(), vec!["WSPSocket"]);
    assert_eq!(cleanup(&started.table), (0, 0));
}

#[test]
fn fault_size_provider_refuses_the_first_address_query() {
    let _turn = serial();
    let lib = open("libwsd_fault_size");
    let started = start(&lib, VERSION_2_2);
    assert_eq!(started.result, 0);
    let table = started.table;
    let s = open_socket(&table);
    let needed = required_size(&expected_addresses(), WIDTH);
    let mut buf = vec![0u8; 256];
    let (rc, returned, errno) = ioctl(&table, s, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut buf);
    assert_eq!((rc, errno), (SOCKET_ERROR, WsaError::WSAEFAULT.code()));
    assert_eq!(returned as usize, needed);
    let (rc, returned, errno) = ioctl(&table, s, IoctlCode::SIO_ADDRESS_LIST_QUERY, &[], &mut buf);
    assert_eq!((rc, errno), (0, 0));
    assert_eq!(returned as usize, needed);
    let addrs = decode_address_list(&buf[..needed], buf.as_ptr() as u64, WIDTH).unwrap();
    assert_eq!(addrs, expected_addresses());
    assert_eq!(close(&table, s), (0, 0));
    assert_eq!(cleanup(&table), (0, 0));
}

#[test]
fn rdma_variants_refuse_their_extensions() {
    let _turn = serial();
    let cases: [(&str, &[SanExtension]); 2] = [
        (
            "libwsd_no_rdma_read",
            &[
                SanExtension::RdmaRead,
                SanExtension::MemoryRegistrationCacheCallback,
            ],
        ),
        ("libwsd_no_rdma_write", &[SanExtension::RdmaWrite]),
    ];
    for (name, refused) in cases {
        let lib = open(name);
        let started = start(&lib, VERSION_2_2);
        assert_eq!(started.result, 0, "{name}");
        let table = started.table;
        let s = open_socket(&table);
        for ext in SanExtension::ALL {
            let answer = extension(&table, s, ext);
            if refused.contains(&ext) {
                assert_eq!(
                    answer,
                    Err(WsaError::WSAEOPNOTSUPP.code()),
                    "{name} {ext:?}"
                );
            } else {
                assert!(
                    matches!(answer, Ok(p) if p != 0),
                    "{name} {ext:?}: {answer:?}"
                );
            }
        }
        assert_eq!(close(&table, s), (0, 0), "{name}");
        assert_eq!(cleanup(&table), (0, 0), "{name}");
    }
}

#[test]
fn no_export_has_no_entry_point() {
    let lib = open("libwsd_no_export");
    // SAFETY: only looks the symbol up; it is never called.
    let symbol = unsafe { lib.get::<WspStartupEx>(b"WSPStartupEx\0") };
    assert!(symbol.is_err());
}
