/*
 * A sample SAN provider for the spi-abi tests: one source, several shared objects.
 *
 * Exactly one WSD_VARIANT_* macro selects the behaviour:
 *
 *   WSD_VARIANT_GOOD           addresses 10.1.0.5 and fd00::5, every extension
 *   WSD_VARIANT_FAULT_SIZE     as GOOD, but the first SIO_ADDRESS_LIST_QUERY after each
 *                              WSPStartupEx answers WSAEFAULT with the size needed even when
 *                              the buffer is large enough; later ones succeed
 *   WSD_VARIANT_NO_RDMA_READ   the optional RdmaRead and cache-callback extensions are
 *                              refused (WSAEOPNOTSUPP from the pointer request)
 *   WSD_VARIANT_NO_RDMA_WRITE  the mandatory RdmaWrite extension is refused the same way
 *   WSD_VARIANT_OLD_VERSION    WSPStartupEx refuses 2.2 (WSAVERNOTSUPPORTED)
 *   WSD_VARIANT_NULL_SOCKET    the WSPSocket slot of the procedure table stays NULL
 *
 * Only WSPStartupEx is exported; everything else is reached through the tables. The data
 * path (send, receive, RDMA, memory registration) is stubbed with WSAEOPNOTSUPP: these
 * objects exercise the binary interface, not a fabric.
 */
#include <stdatomic.h>
#include <string.h>

#include "wsd_provider.h"

#if defined(WSD_VARIANT_GOOD)
#  define VARIANT_NAME "good"
#elif defined(WSD_VARIANT_FAULT_SIZE)
#  define VARIANT_NAME "fault_size"
#elif defined(WSD_VARIANT_NO_RDMA_READ)
#  define VARIANT_NAME "no_rdma_read"
#elif defined(WSD_VARIANT_NO_RDMA_WRITE)
#  define VARIANT_NAME "no_rdma_write"
#elif defined(WSD_VARIANT_OLD_VERSION)
#  define VARIANT_NAME "old_version"
#elif defined(WSD_VARIANT_NULL_SOCKET)
#  define VARIANT_NAME "null_socket"
#else
#  error "define one WSD_VARIANT_* macro"
#endif

#if defined(WSD_VARIANT_NO_RDMA_READ)
#  define HAS_RDMA_READ 0
#else
#  define HAS_RDMA_READ 1
#endif

#if defined(WSD_VARIANT_NO_RDMA_WRITE)
#  define HAS_RDMA_WRITE 0
#else
#  define HAS_RDMA_WRITE 1
#endif

/* Our own socket values: SOCKET_BASE + slot. Distinct from anything the switch hands out, so
 * that mixing up the two kinds of handle shows in the tests. */
#define MAX_SOCKETS 16
#define SOCKET_BASE ((SOCKET)0x5A00)

/* The option values this provider reports. */
#define SAMPLE_MAX_MSG_SIZE 65536u
#define SAMPLE_MAX_RDMA_SIZE 1048576u
#define SAMPLE_RDMA_THRESHOLD 8192u

struct sample_socket {
    atomic_int in_use;
    SOCKET switch_socket; /* what WPUCreateSocketHandle returned: used in up-calls */
};

static struct sample_socket g_sockets[MAX_SOCKETS];
static WSPUPCALLTABLEEX g_upcalls;
static DWORD g_catalog_id;
static atomic_int g_started;
static atomic_int g_address_queries;

static const GUID k_register_memory = WSAID_REGISTERMEMORY;
static const GUID k_deregister_memory = WSAID_DEREGISTERMEMORY;
static const GUID k_register_rdma_memory = WSAID_REGISTERRDMAMEMORY;
static const GUID k_deregister_rdma_memory = WSAID_DEREGISTERRDMAMEMORY;
static const GUID k_rdma_write = WSAID_RDMAWRITE;
static const GUID k_rdma_read = WSAID_RDMAREAD;
static const GUID k_cache_callback = WSAID_MEMORYREGISTRATIONCACHECALLBACK;

static void set_error(LPINT lpErrno, int error)
{
    if (lpErrno != NULL) {
        *lpErrno = error;
    }
}

/* The slot of one of our socket values, or NULL. */
static struct sample_socket *lookup(SOCKET s)
{
    if (s < SOCKET_BASE || s >= SOCKET_BASE + MAX_SOCKETS) {
        return NULL;
    }
    struct sample_socket *slot = &g_sockets[s - SOCKET_BASE];
    return atomic_load(&slot->in_use) ? slot : NULL;
}

/* Looks `s` up, answering WSAENOTSOCK when it is not one of ours. */
#define REQUIRE_SOCKET(s, lpErrno, failure)                                                   \
    do {                                                                                      \
        if (lookup(s) == NULL) {                                                              \
            set_error((lpErrno), WSAENOTSOCK);                                                \
            return (failure);                                                                 \
        }                                                                                     \
    } while (0)

/* ------------------------------------------------------------------------------------------
 * Extensions (stubs)
 * ---------------------------------------------------------------------------------------- */

static HANDLE WSPAPI sample_register_memory(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
                                            DWORD dwFlags, LPINT lpErrno)
{
    (void)s;
    (void)lpBuffer;
    (void)dwBufferLength;
    (void)dwFlags;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return NULL;
}

static int WSPAPI sample_deregister_memory(SOCKET s, HANDLE Handle, LPINT lpErrno)
{
    (void)s;
    (void)Handle;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_register_rdma_memory(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
                                              DWORD dwFlags, LPVOID lpRdmaBufferDescriptor,
                                              LPDWORD lpdwDescriptorLength, LPINT lpErrno)
{
    (void)s;
    (void)lpBuffer;
    (void)dwBufferLength;
    (void)dwFlags;
    (void)lpRdmaBufferDescriptor;
    (void)lpdwDescriptorLength;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_deregister_rdma_memory(SOCKET s, LPVOID lpRdmaBufferDescriptor,
                                                DWORD dwDescriptorLength, LPINT lpErrno)
{
    (void)s;
    (void)lpRdmaBufferDescriptor;
    (void)dwDescriptorLength;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_rdma_write(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
                                    LPVOID lpTargetBufferDescriptor,
                                    DWORD dwTargetDescriptorLength, DWORD dwTargetBufferOffset,
                                    LPDWORD lpdwNumberOfBytesWritten, DWORD dwFlags,
                                    LPWSAOVERLAPPED lpOverlapped,
                                    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                                    LPWSATHREADID lpThreadId, LPINT lpErrno)
{
    (void)s;
    (void)lpBuffers;
    (void)dwBufferCount;
    (void)lpTargetBufferDescriptor;
    (void)dwTargetDescriptorLength;
    (void)dwTargetBufferOffset;
    (void)lpdwNumberOfBytesWritten;
    (void)dwFlags;
    (void)lpOverlapped;
    (void)lpCompletionRoutine;
    (void)lpThreadId;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_rdma_read(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
                                   LPVOID lpTargetBufferDescriptor,
                                   DWORD dwTargetDescriptorLength, DWORD dwTargetBufferOffset,
                                   LPDWORD lpdwNumberOfBytesRead, DWORD dwFlags,
                                   LPWSAOVERLAPPED lpOverlapped,
                                   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                                   LPWSATHREADID lpThreadId, LPINT lpErrno)
{
    (void)s;
    (void)lpBuffers;
    (void)dwBufferCount;
    (void)lpTargetBufferDescriptor;
    (void)dwTargetDescriptorLength;
    (void)dwTargetBufferOffset;
    (void)lpdwNumberOfBytesRead;
    (void)dwFlags;
    (void)lpOverlapped;
    (void)lpCompletionRoutine;
    (void)lpThreadId;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_cache_callback(PVOID lpvAddress, SIZE_T Size, LPINT lpErrno)
{
    (void)lpvAddress;
    (void)Size;
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

/* ------------------------------------------------------------------------------------------
 * Sockets
 * ---------------------------------------------------------------------------------------- */

static SOCKET WSPAPI sample_socket(int af, int type, int protocol,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g, DWORD dwFlags,
                                   LPINT lpErrno)
{
    (void)af;
    (void)type;
    (void)protocol;
    (void)lpProtocolInfo;
    (void)g;
    (void)dwFlags;
    if (g_upcalls.lpWPUCreateSocketHandle == NULL) {
        set_error(lpErrno, WSAENETDOWN);
        return INVALID_SOCKET;
    }
    for (int i = 0; i < MAX_SOCKETS; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&g_sockets[i].in_use, &expected, 1)) {
            continue;
        }
        SOCKET own = SOCKET_BASE + (SOCKET)i;
        int err = 0;
        SOCKET handle = g_upcalls.lpWPUCreateSocketHandle(g_catalog_id, (DWORD_PTR)own, &err);
        if (handle == INVALID_SOCKET) {
            atomic_store(&g_sockets[i].in_use, 0);
            set_error(lpErrno, err != 0 ? err : WSAENOBUFS);
            return INVALID_SOCKET;
        }
        g_sockets[i].switch_socket = handle;
        return own;
    }
    set_error(lpErrno, WSAEMFILE);
    return INVALID_SOCKET;
}

static int WSPAPI sample_close_socket(SOCKET s, LPINT lpErrno)
{
    struct sample_socket *slot = lookup(s);
    if (slot == NULL) {
        set_error(lpErrno, WSAENOTSOCK);
        return SOCKET_ERROR;
    }
    SOCKET handle = slot->switch_socket;
    slot->switch_socket = 0;
    atomic_store(&slot->in_use, 0);
    /* The last thing a close does: give the switch's handle back. */
    if (g_upcalls.lpWPUCloseSocketHandle != NULL) {
        int err = 0;
        if (g_upcalls.lpWPUCloseSocketHandle(handle, &err) != 0) {
            set_error(lpErrno, err != 0 ? err : WSAENOTSOCK);
            return SOCKET_ERROR;
        }
    }
    return 0;
}

static int WSPAPI sample_bind(SOCKET s, const SOCKADDR *name, int namelen, LPINT lpErrno)
{
    (void)name;
    (void)namelen;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    return 0;
}

static int WSPAPI sample_listen(SOCKET s, int backlog, LPINT lpErrno)
{
    (void)backlog;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    return 0;
}

static int WSPAPI sample_connect(SOCKET s, const SOCKADDR *name, int namelen,
                                 LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS,
                                 LPQOS lpGQOS, LPINT lpErrno)
{
    (void)name;
    (void)namelen;
    (void)lpCallerData;
    (void)lpCalleeData;
    (void)lpSQOS;
    (void)lpGQOS;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    set_error(lpErrno, WSAENETUNREACH);
    return SOCKET_ERROR;
}

static SOCKET WSPAPI sample_accept(SOCKET s, SOCKADDR *addr, LPINT addrlen,
                                   LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData,
                                   LPINT lpErrno)
{
    (void)addr;
    (void)addrlen;
    (void)lpfnCondition;
    (void)dwCallbackData;
    REQUIRE_SOCKET(s, lpErrno, INVALID_SOCKET);
    set_error(lpErrno, WSAEWOULDBLOCK);
    return INVALID_SOCKET;
}

static int WSPAPI sample_event_select(SOCKET s, WSAEVENT hEventObject, WSD_LONG lNetworkEvents,
                                      LPINT lpErrno)
{
    (void)hEventObject;
    (void)lNetworkEvents;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    return 0;
}

static int WSPAPI sample_enum_network_events(SOCKET s, WSAEVENT hEventObject,
                                             LPWSANETWORKEVENTS lpNetworkEvents, LPINT lpErrno)
{
    (void)hEventObject;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    if (lpNetworkEvents == NULL) {
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }
    memset(lpNetworkEvents, 0, sizeof *lpNetworkEvents);
    return 0;
}

static int WSPAPI sample_get_sock_opt(SOCKET s, int level, int optname, char *optval,
                                      LPINT optlen, LPINT lpErrno)
{
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    DWORD value;
    if (level != WSD_SOL_SOCKET) {
        set_error(lpErrno, WSAENOPROTOOPT);
        return SOCKET_ERROR;
    }
    switch (optname) {
    case SO_MAX_MSG_SIZE:
        value = SAMPLE_MAX_MSG_SIZE;
        break;
    case SO_MAX_RDMA_SIZE:
        value = SAMPLE_MAX_RDMA_SIZE;
        break;
    case SO_RDMA_THRESHOLD_SIZE:
        value = SAMPLE_RDMA_THRESHOLD;
        break;
    default:
        set_error(lpErrno, WSAENOPROTOOPT);
        return SOCKET_ERROR;
    }
    if (optval == NULL || optlen == NULL || *optlen < (int)sizeof value) {
        if (optlen != NULL) {
            *optlen = (int)sizeof value;
        }
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }
    memcpy(optval, &value, sizeof value);
    *optlen = (int)sizeof value;
    return 0;
}

static int WSPAPI sample_set_sock_opt(SOCKET s, int level, int optname, const char *optval,
                                      int optlen, LPINT lpErrno)
{
    (void)level;
    (void)optname;
    (void)optval;
    (void)optlen;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    return 0;
}

static int WSPAPI sample_send(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                              LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                              LPWSAOVERLAPPED lpOverlapped,
                              LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                              LPWSATHREADID lpThreadId, LPINT lpErrno)
{
    (void)lpBuffers;
    (void)dwBufferCount;
    (void)lpNumberOfBytesSent;
    (void)dwFlags;
    (void)lpOverlapped;
    (void)lpCompletionRoutine;
    (void)lpThreadId;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static int WSPAPI sample_recv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                              LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                              LPWSAOVERLAPPED lpOverlapped,
                              LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                              LPWSATHREADID lpThreadId, LPINT lpErrno)
{
    (void)lpBuffers;
    (void)dwBufferCount;
    (void)lpNumberOfBytesRecvd;
    (void)lpFlags;
    (void)lpOverlapped;
    (void)lpCompletionRoutine;
    (void)lpThreadId;
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

static BOOL WSPAPI sample_get_overlapped_result(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
                                                LPDWORD lpcbTransfer, BOOL fWait,
                                                LPDWORD lpdwFlags, LPINT lpErrno)
{
    (void)lpOverlapped;
    (void)lpcbTransfer;
    (void)fWait;
    (void)lpdwFlags;
    REQUIRE_SOCKET(s, lpErrno, FALSE);
    set_error(lpErrno, WSAEOPNOTSUPP);
    return FALSE;
}

/* ------------------------------------------------------------------------------------------
 * WSPIoctl
 * ---------------------------------------------------------------------------------------- */

/* SIO_ADDRESS_LIST_QUERY: the header, one SOCKET_ADDRESS per address, then the sockaddrs
 * the entries point to (absolute pointers into the caller's buffer). Written with memcpy:
 * the caller's buffer need not be aligned. */
static int address_list_query(LPVOID out, DWORD cbOut, LPDWORD lpcbBytesReturned,
                              LPINT lpErrno)
{
    enum { COUNT = 2 };
    SOCKADDR_IN v4;
    SOCKADDR_IN6 v6;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    v4.sin_family = WSD_AF_INET;
    v4.sin_port = 0;
    v4.sin_addr.S_un.s_b[0] = 10; /* 10.1.0.5 */
    v4.sin_addr.S_un.s_b[1] = 1;
    v4.sin_addr.S_un.s_b[2] = 0;
    v4.sin_addr.S_un.s_b[3] = 5;
    v6.sin6_family = WSD_AF_INET6;
    v6.sin6_addr.u.Byte[0] = 0xfd; /* fd00::5 */
    v6.sin6_addr.u.Byte[15] = 5;

    const void *addrs[COUNT] = { &v4, &v6 };
    const size_t lens[COUNT] = { sizeof v4, sizeof v6 };

    size_t entries = offsetof(SOCKET_ADDRESS_LIST, Address) + COUNT * sizeof(SOCKET_ADDRESS);
    if (entries < sizeof(SOCKET_ADDRESS_LIST)) {
        entries = sizeof(SOCKET_ADDRESS_LIST);
    }
    size_t needed = entries;
    for (int i = 0; i < COUNT; i++) {
        needed += lens[i];
    }

    if (lpcbBytesReturned == NULL) {
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }
    int query = atomic_fetch_add(&g_address_queries, 1);
#if defined(WSD_VARIANT_FAULT_SIZE)
    int fault_anyway = query == 0;
#else
    int fault_anyway = 0;
    (void)query;
#endif
    if (out == NULL || cbOut < needed || fault_anyway) {
        *lpcbBytesReturned = (DWORD)needed;
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }

    unsigned char *base = (unsigned char *)out;
    memset(base, 0, needed);
    INT count = COUNT;
    memcpy(base + offsetof(SOCKET_ADDRESS_LIST, iAddressCount), &count, sizeof count);
    size_t data = entries;
    for (int i = 0; i < COUNT; i++) {
        SOCKET_ADDRESS entry;
        memset(&entry, 0, sizeof entry);
        entry.lpSockaddr = (LPSOCKADDR)(void *)(base + data);
        entry.iSockaddrLength = (INT)lens[i];
        memcpy(base + offsetof(SOCKET_ADDRESS_LIST, Address) + i * sizeof(SOCKET_ADDRESS),
               &entry, sizeof entry);
        memcpy(base + data, addrs[i], lens[i]);
        data += lens[i];
    }
    *lpcbBytesReturned = (DWORD)needed;
    return 0;
}

/* Copies a function pointer into the caller's buffer (which need not be aligned). */
#define PUT_FN(type, fn)                                                                      \
    do {                                                                                      \
        type value_ = (fn);                                                                   \
        memcpy(lpvOutBuffer, &value_, sizeof value_);                                         \
        if (lpcbBytesReturned != NULL) {                                                      \
            *lpcbBytesReturned = (DWORD)sizeof value_;                                        \
        }                                                                                     \
    } while (0)

static int extension_pointer(LPVOID lpvInBuffer, DWORD cbInBuffer, LPVOID lpvOutBuffer,
                             DWORD cbOutBuffer, LPDWORD lpcbBytesReturned, LPINT lpErrno)
{
    if (lpvInBuffer == NULL || cbInBuffer < sizeof(GUID) || lpvOutBuffer == NULL ||
        cbOutBuffer < sizeof(void (*)(void))) {
        set_error(lpErrno, WSAEFAULT);
        return SOCKET_ERROR;
    }
    GUID id;
    memcpy(&id, lpvInBuffer, sizeof id);
    if (memcmp(&id, &k_register_memory, sizeof id) == 0) {
        PUT_FN(LPFN_WSPREGISTERMEMORY, sample_register_memory);
    } else if (memcmp(&id, &k_deregister_memory, sizeof id) == 0) {
        PUT_FN(LPFN_WSPDEREGISTERMEMORY, sample_deregister_memory);
    } else if (memcmp(&id, &k_register_rdma_memory, sizeof id) == 0) {
        PUT_FN(LPFN_WSPREGISTERRDMAMEMORY, sample_register_rdma_memory);
    } else if (memcmp(&id, &k_deregister_rdma_memory, sizeof id) == 0) {
        PUT_FN(LPFN_WSPDEREGISTERRDMAMEMORY, sample_deregister_rdma_memory);
    } else if (memcmp(&id, &k_rdma_write, sizeof id) == 0) {
#if HAS_RDMA_WRITE
        PUT_FN(LPFN_WSPRDMAWRITE, sample_rdma_write);
#else
        (void)sample_rdma_write;
        set_error(lpErrno, WSAEOPNOTSUPP);
        return SOCKET_ERROR;
#endif
    } else if (memcmp(&id, &k_rdma_read, sizeof id) == 0) {
#if HAS_RDMA_READ
        PUT_FN(LPFN_WSPRDMAREAD, sample_rdma_read);
#else
        (void)sample_rdma_read;
        set_error(lpErrno, WSAEOPNOTSUPP);
        return SOCKET_ERROR;
#endif
    } else if (memcmp(&id, &k_cache_callback, sizeof id) == 0) {
#if HAS_RDMA_READ
        PUT_FN(LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK, sample_cache_callback);
#else
        (void)sample_cache_callback;
        set_error(lpErrno, WSAEOPNOTSUPP);
        return SOCKET_ERROR;
#endif
    } else {
        set_error(lpErrno, WSAEINVAL);
        return SOCKET_ERROR;
    }
    return 0;
}

static int WSPAPI sample_ioctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
                               DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
                               LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                               LPWSATHREADID lpThreadId, LPINT lpErrno)
{
    (void)lpOverlapped;
    (void)lpCompletionRoutine;
    (void)lpThreadId;
    /* As real providers do, the socket is not needed to hand out extension pointers. */
    if (dwIoControlCode == SIO_GET_EXTENSION_FUNCTION_POINTER) {
        return extension_pointer(lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer,
                                 lpcbBytesReturned, lpErrno);
    }
    REQUIRE_SOCKET(s, lpErrno, SOCKET_ERROR);
    if (dwIoControlCode == SIO_ADDRESS_LIST_QUERY) {
        return address_list_query(lpvOutBuffer, cbOutBuffer, lpcbBytesReturned, lpErrno);
    }
    set_error(lpErrno, WSAEOPNOTSUPP);
    return SOCKET_ERROR;
}

/* ------------------------------------------------------------------------------------------
 * Start-up and clean-up
 * ---------------------------------------------------------------------------------------- */

static int WSPAPI sample_cleanup(LPINT lpErrno)
{
    int started = atomic_load(&g_started);
    do {
        if (started == 0) {
            set_error(lpErrno, WSANOTINITIALISED);
            return SOCKET_ERROR;
        }
    } while (!atomic_compare_exchange_weak(&g_started, &started, started - 1));
    if (started == 1) {
        /* The last clean-up: forget every socket (the switch has given its handles up). */
        for (int i = 0; i < MAX_SOCKETS; i++) {
            g_sockets[i].switch_socket = 0;
            atomic_store(&g_sockets[i].in_use, 0);
        }
    }
    return 0;
}

static void put_description(WCHAR *dst, const char *text)
{
    size_t i = 0;
    for (; text[i] != '\0' && i < WSPDESCRIPTION_LEN; i++) {
        dst[i] = (WCHAR)(unsigned char)text[i];
    }
    for (; i <= WSPDESCRIPTION_LEN; i++) {
        dst[i] = 0;
    }
}

WSD_EXPORT int WSPAPI WSPStartupEx(WORD wVersionRequested, LPWSPDATA lpWSPData,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                   LPWSPUPCALLTABLEEX lpUpcallTable,
                                   LPWSPPROC_TABLE lpProcTable)
{
    if (lpWSPData == NULL || lpProcTable == NULL || lpUpcallTable == NULL) {
        return WSAEFAULT;
    }
#if defined(WSD_VARIANT_OLD_VERSION)
    const int knows_only_2_0 = 1;
#else
    const int knows_only_2_0 = 0;
#endif
    if (knows_only_2_0) {
        /* A provider that only knows 2.0: it says so, and refuses. */
        lpWSPData->wVersion = MAKEWORD(2, 0);
        lpWSPData->wHighVersion = MAKEWORD(2, 0);
        put_description(lpWSPData->szDescription, "WSD sample provider (" VARIANT_NAME ")");
        return WSAVERNOTSUPPORTED;
    }
    if (LOBYTE(wVersionRequested) < 2 ||
        (LOBYTE(wVersionRequested) == 2 && HIBYTE(wVersionRequested) < 2)) {
        return WSAVERNOTSUPPORTED;
    }
    lpWSPData->wVersion = MAKEWORD(2, 2);
    lpWSPData->wHighVersion = MAKEWORD(2, 2);
    put_description(lpWSPData->szDescription, "WSD sample provider (" VARIANT_NAME ")");

    g_upcalls = *lpUpcallTable;
    g_catalog_id = lpProtocolInfo != NULL ? lpProtocolInfo->dwCatalogEntryId : 0;
    atomic_store(&g_address_queries, 0);

    memset(lpProcTable, 0, sizeof *lpProcTable);
    lpProcTable->lpWSPAccept = sample_accept;
    lpProcTable->lpWSPBind = sample_bind;
    lpProcTable->lpWSPCleanup = sample_cleanup;
    lpProcTable->lpWSPCloseSocket = sample_close_socket;
    lpProcTable->lpWSPConnect = sample_connect;
    lpProcTable->lpWSPEnumNetworkEvents = sample_enum_network_events;
    lpProcTable->lpWSPEventSelect = sample_event_select;
    lpProcTable->lpWSPGetOverlappedResult = sample_get_overlapped_result;
    lpProcTable->lpWSPGetSockOpt = sample_get_sock_opt;
    lpProcTable->lpWSPIoctl = sample_ioctl;
    lpProcTable->lpWSPListen = sample_listen;
    lpProcTable->lpWSPRecv = sample_recv;
    lpProcTable->lpWSPSend = sample_send;
    lpProcTable->lpWSPSetSockOpt = sample_set_sock_opt;
#  if defined(WSD_VARIANT_NULL_SOCKET)
    (void)sample_socket;
#  else
    lpProcTable->lpWSPSocket = sample_socket;
#  endif

    atomic_fetch_add(&g_started, 1);
    return 0;
}
