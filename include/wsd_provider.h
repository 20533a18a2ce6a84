/*
 * wsd_provider.h - the Windows Sockets Direct service-provider interface for SAN provider
 * authors, without the Windows SDK.
 *
 * A SAN provider is a shared object whose single export is WSPStartupEx. The switch calls it
 * with a table of up-calls (WSPUPCALLTABLEEX) and a procedure table (WSPPROC_TABLE) that the
 * provider fills; everything else (the SAN extensions such as WSPRegisterMemory) is reached
 * through WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER).
 *
 * This header reproduces the Windows x64/x86 layouts with fixed-width types, so that the same
 * provider source builds for Windows and for the platform-independent switch (the `spi-abi`
 * crate, whose Rust declarations these must match).
 *
 * Calling convention: every entry point and up-call uses WSPAPI. On Windows that is the
 * system convention (stdcall on 32-bit x86, the single convention on x64). On x86_64
 * elsewhere it is the Microsoft x64 convention (`ms_abi`), so that a provider built on Linux
 * is called exactly as on Windows. On other architectures it is the C convention.
 *
 * Names: this header stands in for <winsock2.h>/<ws2spi.h>/<ws2san.h>; do not include those
 * with it. By default it also declares the Windows spellings that the host's socket headers
 * define differently: `struct sockaddr`, `struct sockaddr_in`, `struct sockaddr_in6`,
 * `struct in_addr`, `struct in6_addr`, `u_short`, `u_long`, `AF_INET6` (23, not 10 or 30),
 * `SOL_SOCKET` (0xffff), `SO_DEBUG`, `IOC_IN`/`IOC_OUT`/... A translation unit that also
 * needs the host's sockets defines WSD_HOST_SOCKETS before including this header: the
 * structure tags then get a `wsd_` prefix (the typedefs SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6
 * are the same in both modes) and only the WSD_-prefixed spellings (WSD_AF_INET6,
 * WSD_SOL_SOCKET, ...) are defined, so that `AF_INET6` there keeps the host's meaning.
 */
#ifndef WSD_PROVIDER_H
#define WSD_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Calling convention and export
 * ------------------------------------------------------------------------------------- */

#if defined(_WIN32)
#  if defined(_WIN64)
#    define WSPAPI
#  else
#    define WSPAPI __stdcall
#  endif
#  define WSD_EXPORT __declspec(dllexport)
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define WSPAPI __attribute__((ms_abi))
#  define WSD_EXPORT __attribute__((visibility("default")))
#elif defined(__GNUC__) || defined(__clang__)
#  define WSPAPI
#  define WSD_EXPORT __attribute__((visibility("default")))
#else
#  define WSPAPI
#  define WSD_EXPORT
#endif

/* Callbacks (condition function, APCs, completion routines) use the same convention. */
#define WSD_CALLBACK WSPAPI

/* ---------------------------------------------------------------------------------------
 * Scalar types (Windows is LLP64: long and DWORD are 32-bit everywhere)
 * ------------------------------------------------------------------------------------- */

typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int32_t INT;
typedef uint32_t UINT;
typedef int32_t BOOL;
typedef int32_t WSD_LONG; /* Windows `long` */
typedef uint32_t ULONG;
typedef uint16_t WCHAR;
typedef uintptr_t UINT_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef uintptr_t SIZE_T;
typedef uintptr_t WPARAM;
typedef intptr_t LPARAM;
typedef void *HANDLE;
typedef void *HWND;
typedef void *PVOID;
typedef void *LPVOID;
typedef int32_t *LPINT;
typedef DWORD *LPDWORD;
typedef DWORD *PDWORD;
typedef DWORD_PTR *PDWORD_PTR;
typedef UINT_PTR SOCKET;
typedef HANDLE WSAEVENT;
typedef uint32_t GROUP;

#ifndef TRUE
#  define TRUE 1
#endif
#ifndef FALSE
#  define FALSE 0
#endif

#define INVALID_SOCKET ((SOCKET)~(SOCKET)0)
#define SOCKET_ERROR (-1)

/* Version words: low byte major, high byte minor; 2.2 = 0x0202. */
#define MAKEWORD(low, high) ((WORD)(((BYTE)(low)) | (((WORD)((BYTE)(high))) << 8)))
#define LOBYTE(w) ((BYTE)((w) & 0xff))
#define HIBYTE(w) ((BYTE)(((WORD)(w) >> 8) & 0xff))

/* ---------------------------------------------------------------------------------------
 * GUID and the SAN extension identifiers
 * ------------------------------------------------------------------------------------- */

typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID, *LPGUID;

/* Initializers, usable as `static const GUID g = WSAID_RDMAWRITE;`. */
#define WSAID_REGISTERMEMORY \
    { 0xC0B422F5, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_DEREGISTERMEMORY \
    { 0xC0B422F6, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_REGISTERRDMAMEMORY \
    { 0xC0B422F7, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_DEREGISTERRDMAMEMORY \
    { 0xC0B422F8, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_RDMAWRITE \
    { 0xC0B422F9, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
/* Optional: a provider without it fails the pointer request with WSAEOPNOTSUPP. */
#define WSAID_RDMAREAD \
    { 0xC0B422FA, 0xF58C, 0x11D1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
/* Optional, like WSAID_RDMAREAD. */
#define WSAID_MEMORYREGISTRATIONCACHECALLBACK \
    { 0xE5DA4AF8, 0xD824, 0x48CD, { 0xA7, 0x99, 0x63, 0x37, 0xA9, 0x8E, 0xD2, 0xAF } }

/* ---------------------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------------------- */

/* Winsock error codes (WSABASEERR + n), returned through lpErrno (or, for WSPStartupEx, as
 * the return value). */
#define WSABASEERR 10000
#define WSAEINTR 10004
#define WSAEBADF 10009
#define WSAEACCES 10013
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEINPROGRESS 10036
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038
#define WSAEDESTADDRREQ 10039
#define WSAEMSGSIZE 10040
#define WSAEPROTOTYPE 10041
#define WSAENOPROTOOPT 10042
#define WSAEPROTONOSUPPORT 10043
#define WSAESOCKTNOSUPPORT 10044
#define WSAEOPNOTSUPP 10045
#define WSAEPFNOSUPPORT 10046
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAENETRESET 10052
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAEHOSTDOWN 10064
#define WSAEHOSTUNREACH 10065
#define WSAEPROCLIM 10067
#define WSASYSNOTREADY 10091
#define WSAVERNOTSUPPORTED 10092
#define WSANOTINITIALISED 10093
#define WSAEDISCON 10101
#define WSAEPROVIDERFAILEDINIT 10106
#define WSATRY_AGAIN 11002
/* Winsock codes that alias Win32 errors. */
#define WSA_INVALID_HANDLE 6
#define WSA_NOT_ENOUGH_MEMORY 8
#define WSA_INVALID_PARAMETER 87
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997

/* WSAOVERLAPPED.Internal while an operation is pending. */
#define WSS_OPERATION_IN_PROGRESS 0x00000103u

/* Control codes. */
#define SIO_GET_EXTENSION_FUNCTION_POINTER 0xC8000006u /* _WSAIORW(IOC_WS2, 6) */
#define SIO_GET_QOS 0xC8000007u                        /* _WSAIORW(IOC_WS2, 7) */
#define SIO_SET_QOS 0x8800000Bu                        /* _WSAIOW(IOC_WS2, 11) */
#define SIO_ADDRESS_LIST_QUERY 0x48000016u             /* _WSAIOR(IOC_WS2, 22) */
#define SIO_ADDRESS_LIST_CHANGE 0x28000017u            /* _WSAIO(IOC_WS2, 23) */

/* Socket options. */
#define WSD_SOL_SOCKET 0xffff
#define WSD_SO_DEBUG 0x0001
#define SO_GROUP_ID 0x2001
#define SO_GROUP_PRIORITY 0x2002
#define SO_MAX_MSG_SIZE 0x2003
#define SO_MAX_RDMA_SIZE 0x700D
#define SO_RDMA_THRESHOLD_SIZE 0x700E

/* Address families, socket types, protocols (Windows values: AF_INET6 is 23). */
#define WSD_AF_UNSPEC 0
#define WSD_AF_INET 2
#define WSD_AF_INET6 23
#define WSD_SOCK_STREAM 1
#define WSD_IPPROTO_TCP 6

/* The Windows spellings that the host's socket and ioctl headers also define. */
#ifndef WSD_HOST_SOCKETS
typedef uint16_t u_short;
typedef uint32_t u_long;
#  define IOC_VOID 0x20000000u
#  define IOC_OUT 0x40000000u
#  define IOC_IN 0x80000000u
#  define IOC_INOUT (IOC_IN | IOC_OUT)
#  define IOC_WS2 0x08000000u
#  define _WSAIO(x, y) (IOC_VOID | (x) | (y))
#  define _WSAIOR(x, y) (IOC_OUT | (x) | (y))
#  define _WSAIOW(x, y) (IOC_IN | (x) | (y))
#  define _WSAIORW(x, y) (IOC_INOUT | (x) | (y))
#  define SO_DEBUG WSD_SO_DEBUG
#  define SOL_SOCKET WSD_SOL_SOCKET
#  define AF_UNSPEC WSD_AF_UNSPEC
#  define AF_INET WSD_AF_INET
#  define AF_INET6 WSD_AF_INET6
#  define SOCK_STREAM WSD_SOCK_STREAM
#  define IPPROTO_TCP WSD_IPPROTO_TCP
#endif

/* WSPSocket flags. */
#define WSA_FLAG_OVERLAPPED 0x01

/* Network events (WSPEventSelect / WSPEnumNetworkEvents); iErrorCode is indexed by *_BIT. */
#define FD_READ_BIT 0
#define FD_WRITE_BIT 1
#define FD_OOB_BIT 2
#define FD_ACCEPT_BIT 3
#define FD_CONNECT_BIT 4
#define FD_CLOSE_BIT 5
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_MAX_EVENTS 10

/* Condition function results (WSPAccept). */
#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002

/* Memory registration flags (WSPRegisterMemory / WSPRegisterRdmaMemory). */
#define MEM_READ 1
#define MEM_WRITE 2
#define MEM_READWRITE 3

/* Protocol information. */
#define WSAPROTOCOL_LEN 255
#define MAX_PROTOCOL_CHAIN 7
#define WSPDESCRIPTION_LEN 255

/* ---------------------------------------------------------------------------------------
 * Addresses (Windows layout: a 16-bit family first, no BSD length byte)
 * ------------------------------------------------------------------------------------- */

#ifdef WSD_HOST_SOCKETS
#  define WSD_TAG(name) wsd_##name
#else
#  define WSD_TAG(name) name
#endif

typedef struct WSD_TAG(sockaddr) {
    uint16_t sa_family;
    char sa_data[14];
} SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

typedef struct WSD_TAG(in_addr) {
    union {
        uint8_t s_b[4];
        uint16_t s_w[2];
        uint32_t S_addr; /* network byte order */
    } S_un;
} IN_ADDR, *PIN_ADDR;

typedef struct WSD_TAG(sockaddr_in) {
    int16_t sin_family; /* AF_INET */
    uint16_t sin_port;  /* network byte order */
    IN_ADDR sin_addr;
    char sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN;

typedef struct WSD_TAG(in6_addr) {
    union {
        uint8_t Byte[16];
        uint16_t Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR;

typedef struct WSD_TAG(sockaddr_in6) {
    int16_t sin6_family; /* AF_INET6 (23) */
    uint16_t sin6_port;  /* network byte order */
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
    ULONG sin6_scope_id;
} SOCKADDR_IN6, *PSOCKADDR_IN6;

typedef struct _SOCKET_ADDRESS {
    LPSOCKADDR lpSockaddr;
    INT iSockaddrLength;
} SOCKET_ADDRESS, *PSOCKET_ADDRESS, *LPSOCKET_ADDRESS;

/* Variable length: iAddressCount entries, the sockaddrs they point to after them (the
 * answer to SIO_ADDRESS_LIST_QUERY; the pointers are absolute, into the same buffer). */
typedef struct _SOCKET_ADDRESS_LIST {
    INT iAddressCount;
    SOCKET_ADDRESS Address[1];
} SOCKET_ADDRESS_LIST, *PSOCKET_ADDRESS_LIST, *LPSOCKET_ADDRESS_LIST;

/* ---------------------------------------------------------------------------------------
 * Structures
 * ------------------------------------------------------------------------------------- */

typedef struct _WSPDATA {
    WORD wVersion;     /* the version the switch is to use (0x0202) */
    WORD wHighVersion; /* the highest version supported */
    WCHAR szDescription[WSPDESCRIPTION_LEN + 1];
} WSPDATA, *LPWSPDATA;

typedef struct _WSAPROTOCOLCHAIN {
    INT ChainLen; /* 0 layered, 1 base provider, >1 chain */
    DWORD ChainEntries[MAX_PROTOCOL_CHAIN];
} WSAPROTOCOLCHAIN, *LPWSAPROTOCOLCHAIN;

typedef struct _WSAPROTOCOL_INFOW {
    DWORD dwServiceFlags1;
    DWORD dwServiceFlags2;
    DWORD dwServiceFlags3;
    DWORD dwServiceFlags4;
    DWORD dwProviderFlags;
    GUID ProviderId;
    DWORD dwCatalogEntryId;
    WSAPROTOCOLCHAIN ProtocolChain;
    INT iVersion;
    INT iAddressFamily;
    INT iMaxSockAddr;
    INT iMinSockAddr;
    INT iSocketType;
    INT iProtocol;
    INT iProtocolMaxOffset;
    INT iNetworkByteOrder;
    INT iSecurityScheme;
    DWORD dwMessageSize;
    DWORD dwProviderReserved;
    WCHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;

typedef struct _WSABUF {
    ULONG len;
    char *buf;
} WSABUF, *LPWSABUF;

/* A WSABUF with the handle WSPRegisterMemory returned for its memory. */
typedef struct _WSABUFEX {
    ULONG len;
    char *buf;
    HANDLE handle;
} WSABUFEX, *LPWSABUFEX;

/* OVERLAPPED. In WSD: Internal = status (WSS_OPERATION_IN_PROGRESS while pending),
 * InternalHigh = bytes, Offset = result flags, OffsetHigh = Winsock error; a set low bit in
 * hEvent means the switch polls with WSPGetOverlappedResult and nothing is to be signalled.
 * (In the SDK Offset/OffsetHigh share a union with a pointer; the layout is the same.) */
typedef struct _WSAOVERLAPPED {
    ULONG_PTR Internal;
    ULONG_PTR InternalHigh;
    DWORD Offset;
    DWORD OffsetHigh;
    HANDLE hEvent;
} WSAOVERLAPPED, *LPWSAOVERLAPPED;

typedef struct _WSATHREADID {
    HANDLE ThreadHandle;
    DWORD_PTR Reserved;
} WSATHREADID, *LPWSATHREADID;

typedef struct _WSANETWORKEVENTS {
    WSD_LONG lNetworkEvents;
    INT iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

typedef struct _flowspec {
    ULONG TokenRate;
    ULONG TokenBucketSize;
    ULONG PeakBandwidth;
    ULONG Latency;
    ULONG DelayVariation;
    ULONG ServiceType;
    ULONG MaxSduSize;
    ULONG MinimumPolicedSize;
} FLOWSPEC, *LPFLOWSPEC;

typedef struct _QualityOfService {
    FLOWSPEC SendingFlowspec;
    FLOWSPEC ReceivingFlowspec;
    WSABUF ProviderSpecific;
} QOS, *LPQOS;

/* Opaque: the switch never hands a provider one. */
struct wsd_fd_set;

/* ---------------------------------------------------------------------------------------
 * Callback types
 * ------------------------------------------------------------------------------------- */

typedef void(WSD_CALLBACK *LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError,
                                                               DWORD cbTransferred,
                                                               LPWSAOVERLAPPED lpOverlapped,
                                                               DWORD dwFlags);

/* Called by WSPAccept on the calling thread before it returns; answers CF_*. */
typedef int(WSD_CALLBACK *LPCONDITIONPROC)(LPWSABUF lpCallerId, LPWSABUF lpCallerData,
                                           LPQOS lpSQOS, LPQOS lpGQOS, LPWSABUF lpCalleeId,
                                           LPWSABUF lpCalleeData, GROUP *g,
                                           DWORD_PTR dwCallbackData);

typedef BOOL(WSD_CALLBACK *LPBLOCKINGCALLBACK)(DWORD_PTR dwContext);
typedef void(WSD_CALLBACK *LPWSAUSERAPC)(DWORD_PTR dwContext);

/* ---------------------------------------------------------------------------------------
 * Provider entry points (WSPPROC_TABLE)
 * ------------------------------------------------------------------------------------- */

typedef SOCKET(WSPAPI *LPWSPACCEPT)(SOCKET s, struct WSD_TAG(sockaddr) *addr, LPINT addrlen,
                                    LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData,
                                    LPINT lpErrno);
typedef int(WSPAPI *LPWSPBIND)(SOCKET s, const struct WSD_TAG(sockaddr) *name, int namelen,
                               LPINT lpErrno);
typedef int(WSPAPI *LPWSPCLEANUP)(LPINT lpErrno);
typedef int(WSPAPI *LPWSPCLOSESOCKET)(SOCKET s, LPINT lpErrno);
typedef int(WSPAPI *LPWSPCONNECT)(SOCKET s, const struct WSD_TAG(sockaddr) *name, int namelen,
                                  LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS,
                                  LPQOS lpGQOS, LPINT lpErrno);
typedef int(WSPAPI *LPWSPENUMNETWORKEVENTS)(SOCKET s, WSAEVENT hEventObject,
                                            LPWSANETWORKEVENTS lpNetworkEvents, LPINT lpErrno);
typedef int(WSPAPI *LPWSPEVENTSELECT)(SOCKET s, WSAEVENT hEventObject, WSD_LONG lNetworkEvents,
                                      LPINT lpErrno);
typedef BOOL(WSPAPI *LPWSPGETOVERLAPPEDRESULT)(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
                                               LPDWORD lpcbTransfer, BOOL fWait,
                                               LPDWORD lpdwFlags, LPINT lpErrno);
typedef int(WSPAPI *LPWSPGETSOCKOPT)(SOCKET s, int level, int optname, char *optval,
                                     LPINT optlen, LPINT lpErrno);
typedef int(WSPAPI *LPWSPIOCTL)(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
                                DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
                                LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
                                LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                                LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPWSPLISTEN)(SOCKET s, int backlog, LPINT lpErrno);
typedef int(WSPAPI *LPWSPRECV)(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                               LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
                               LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                               LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPWSPSEND)(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
                               LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
                               LPWSAOVERLAPPED lpOverlapped,
                               LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                               LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPWSPSETSOCKOPT)(SOCKET s, int level, int optname, const char *optval,
                                     int optlen, LPINT lpErrno);
typedef SOCKET(WSPAPI *LPWSPSOCKET)(int af, int type, int protocol,
                                    LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g, DWORD dwFlags,
                                    LPINT lpErrno);

/* The slots the switch never calls (a SAN provider leaves them NULL, or fills them for its
 * own use): only their size matters here. */
typedef LPVOID LPWSPUNUSEDSLOT;

/* 30 slots, in the order of the SDK's ws2spi.h. */
typedef struct _WSPPROC_TABLE {
    LPWSPACCEPT lpWSPAccept;                             /*  1 */
    LPWSPUNUSEDSLOT lpWSPAddressToString;                /*  2 */
    LPWSPUNUSEDSLOT lpWSPAsyncSelect;                    /*  3 */
    LPWSPBIND lpWSPBind;                                 /*  4 */
    LPWSPUNUSEDSLOT lpWSPCancelBlockingCall;             /*  5 */
    LPWSPCLEANUP lpWSPCleanup;                           /*  6 */
    LPWSPCLOSESOCKET lpWSPCloseSocket;                   /*  7 */
    LPWSPCONNECT lpWSPConnect;                           /*  8 */
    LPWSPUNUSEDSLOT lpWSPDuplicateSocket;                /*  9 */
    LPWSPENUMNETWORKEVENTS lpWSPEnumNetworkEvents;       /* 10 */
    LPWSPEVENTSELECT lpWSPEventSelect;                   /* 11 */
    LPWSPGETOVERLAPPEDRESULT lpWSPGetOverlappedResult;   /* 12 */
    LPWSPUNUSEDSLOT lpWSPGetPeerName;                    /* 13 */
    LPWSPUNUSEDSLOT lpWSPGetSockName;                    /* 14 */
    LPWSPGETSOCKOPT lpWSPGetSockOpt;                     /* 15 */
    LPWSPUNUSEDSLOT lpWSPGetQOSByName;                   /* 16 */
    LPWSPIOCTL lpWSPIoctl;                               /* 17 */
    LPWSPUNUSEDSLOT lpWSPJoinLeaf;                       /* 18 */
    LPWSPLISTEN lpWSPListen;                             /* 19 */
    LPWSPRECV lpWSPRecv;                                 /* 20 */
    LPWSPUNUSEDSLOT lpWSPRecvDisconnect;                 /* 21 */
    LPWSPUNUSEDSLOT lpWSPRecvFrom;                       /* 22 */
    LPWSPUNUSEDSLOT lpWSPSelect;                         /* 23 */
    LPWSPSEND lpWSPSend;                                 /* 24 */
    LPWSPUNUSEDSLOT lpWSPSendDisconnect;                 /* 25 */
    LPWSPUNUSEDSLOT lpWSPSendTo;                         /* 26 */
    LPWSPSETSOCKOPT lpWSPSetSockOpt;                     /* 27 */
    LPWSPUNUSEDSLOT lpWSPShutdown;                       /* 28 */
    LPWSPSOCKET lpWSPSocket;                             /* 29 */
    LPWSPUNUSEDSLOT lpWSPStringToAddress;                /* 30 */
} WSPPROC_TABLE, *LPWSPPROC_TABLE;

/* ---------------------------------------------------------------------------------------
 * SAN extensions (fetched with SIO_GET_EXTENSION_FUNCTION_POINTER)
 * ------------------------------------------------------------------------------------- */

typedef HANDLE(WSPAPI *LPFN_WSPREGISTERMEMORY)(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
                                               DWORD dwFlags, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPDEREGISTERMEMORY)(SOCKET s, HANDLE Handle, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPREGISTERRDMAMEMORY)(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
                                                DWORD dwFlags, LPVOID lpRdmaBufferDescriptor,
                                                LPDWORD lpdwDescriptorLength, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPDEREGISTERRDMAMEMORY)(SOCKET s, LPVOID lpRdmaBufferDescriptor,
                                                  DWORD dwDescriptorLength, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPRDMAWRITE)(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
                                       LPVOID lpTargetBufferDescriptor,
                                       DWORD dwTargetDescriptorLength,
                                       DWORD dwTargetBufferOffset,
                                       LPDWORD lpdwNumberOfBytesWritten, DWORD dwFlags,
                                       LPWSAOVERLAPPED lpOverlapped,
                                       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                                       LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPRDMAREAD)(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
                                      LPVOID lpTargetBufferDescriptor,
                                      DWORD dwTargetDescriptorLength, DWORD dwTargetBufferOffset,
                                      LPDWORD lpdwNumberOfBytesRead, DWORD dwFlags,
                                      LPWSAOVERLAPPED lpOverlapped,
                                      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
                                      LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK)(PVOID lpvAddress, SIZE_T Size,
                                                             LPINT lpErrno);

/* ---------------------------------------------------------------------------------------
 * Up-calls (WSPUPCALLTABLEEX): the provider passes the SWITCH's socket handle (the one
 * WPUCreateSocketHandle returned), never its own.
 * ------------------------------------------------------------------------------------- */

typedef BOOL(WSPAPI *LPWPUCLOSEEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int(WSPAPI *LPWPUCLOSESOCKETHANDLE)(SOCKET s, LPINT lpErrno);
typedef WSAEVENT(WSPAPI *LPWPUCREATEEVENT)(LPINT lpErrno);
typedef SOCKET(WSPAPI *LPWPUCREATESOCKETHANDLE)(DWORD dwCatalogEntryId, DWORD_PTR dwContext,
                                                LPINT lpErrno);
typedef int(WSPAPI *LPWPUFDISSET)(SOCKET s, struct wsd_fd_set *fdset);
typedef int(WSPAPI *LPWPUGETPROVIDERPATH)(LPGUID lpProviderId, WCHAR *lpszProviderDllPath,
                                          LPINT lpProviderDllPathLen, LPINT lpErrno);
typedef SOCKET(WSPAPI *LPWPUMODIFYIFSHANDLE)(DWORD dwCatalogEntryId, SOCKET ProposedHandle,
                                             LPINT lpErrno);
typedef BOOL(WSPAPI *LPWPUPOSTMESSAGE)(HWND hWnd, UINT Msg, WPARAM wParam, LPARAM lParam);
typedef int(WSPAPI *LPWPUQUERYBLOCKINGCALLBACK)(DWORD dwCatalogEntryId,
                                                LPBLOCKINGCALLBACK *lplpfnCallback,
                                                PDWORD_PTR lpdwContext, LPINT lpErrno);
typedef int(WSPAPI *LPWPUQUERYSOCKETHANDLECONTEXT)(SOCKET s, PDWORD_PTR lpContext,
                                                   LPINT lpErrno);
typedef int(WSPAPI *LPWPUQUEUEAPC)(LPWSATHREADID lpThreadId, LPWSAUSERAPC lpfnUserApc,
                                   DWORD_PTR dwContext, LPINT lpErrno);
typedef BOOL(WSPAPI *LPWPURESETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef BOOL(WSPAPI *LPWPUSETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int(WSPAPI *LPWPUOPENCURRENTTHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPWPUCLOSETHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int(WSPAPI *LPWPUCOMPLETEOVERLAPPEDREQUEST)(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
                                                    DWORD dwError, DWORD cbTransferred,
                                                    LPINT lpErrno);

/* 16 up-calls, in order; the last one is what the SAN table adds to WSPUPCALLTABLE. */
typedef struct _WSPUPCALLTABLEEX {
    LPWPUCLOSEEVENT lpWPUCloseEvent;                               /*  1 */
    LPWPUCLOSESOCKETHANDLE lpWPUCloseSocketHandle;                 /*  2 */
    LPWPUCREATEEVENT lpWPUCreateEvent;                             /*  3 */
    LPWPUCREATESOCKETHANDLE lpWPUCreateSocketHandle;               /*  4 */
    LPWPUFDISSET lpWPUFDIsSet;                                     /*  5 */
    LPWPUGETPROVIDERPATH lpWPUGetProviderPath;                     /*  6 */
    LPWPUMODIFYIFSHANDLE lpWPUModifyIFSHandle;                     /*  7 */
    LPWPUPOSTMESSAGE lpWPUPostMessage;                             /*  8 */
    LPWPUQUERYBLOCKINGCALLBACK lpWPUQueryBlockingCallback;         /*  9 */
    LPWPUQUERYSOCKETHANDLECONTEXT lpWPUQuerySocketHandleContext;   /* 10 */
    LPWPUQUEUEAPC lpWPUQueueApc;                                   /* 11 */
    LPWPURESETEVENT lpWPUResetEvent;                               /* 12 */
    LPWPUSETEVENT lpWPUSetEvent;                                   /* 13 */
    LPWPUOPENCURRENTTHREAD lpWPUOpenCurrentThread;                 /* 14 */
    LPWPUCLOSETHREAD lpWPUCloseThread;                             /* 15 */
    LPWPUCOMPLETEOVERLAPPEDREQUEST lpWPUCompleteOverlappedRequest; /* 16 */
} WSPUPCALLTABLEEX, *LPWSPUPCALLTABLEEX;

/* ---------------------------------------------------------------------------------------
 * The export
 * ------------------------------------------------------------------------------------- */

/* Checks the version (2.2 = MAKEWORD(2, 2)), fills lpWSPData and lpProcTable, keeps the
 * up-call table; returns 0 or a WSA error code (not through an lpErrno). */
typedef int(WSPAPI *LPWSPSTARTUPEX)(WORD wVersionRequested, LPWSPDATA lpWSPData,
                                    LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                    LPWSPUPCALLTABLEEX lpUpcallTable,
                                    LPWSPPROC_TABLE lpProcTable);

WSD_EXPORT int WSPAPI WSPStartupEx(WORD wVersionRequested, LPWSPDATA lpWSPData,
                                   LPWSAPROTOCOL_INFOW lpProtocolInfo,
                                   LPWSPUPCALLTABLEEX lpUpcallTable,
                                   LPWSPPROC_TABLE lpProcTable);

/* ---------------------------------------------------------------------------------------
 * Layout checks (Windows x64 sizes and offsets; 32-bit targets have their own)
 * ------------------------------------------------------------------------------------- */

#if defined(__cplusplus)
#  define WSD_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#  define WSD_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

WSD_STATIC_ASSERT(sizeof(GUID) == 16, "GUID");
WSD_STATIC_ASSERT(sizeof(WSAPROTOCOLCHAIN) == 32, "WSAPROTOCOLCHAIN");
WSD_STATIC_ASSERT(sizeof(WSAPROTOCOL_INFOW) == 628, "WSAPROTOCOL_INFOW size");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, ProviderId) == 20, "ProviderId");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, dwCatalogEntryId) == 36, "dwCatalogEntryId");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, ProtocolChain) == 40, "ProtocolChain");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, iVersion) == 72, "iVersion");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, dwProviderReserved) == 112,
                  "dwProviderReserved");
WSD_STATIC_ASSERT(offsetof(WSAPROTOCOL_INFOW, szProtocol) == 116, "szProtocol");
WSD_STATIC_ASSERT(sizeof(WSPDATA) == 516, "WSPDATA size");
WSD_STATIC_ASSERT(offsetof(WSPDATA, szDescription) == 4, "WSPDATA.szDescription");
WSD_STATIC_ASSERT(sizeof(SOCKADDR) == 16, "SOCKADDR");
WSD_STATIC_ASSERT(sizeof(SOCKADDR_IN) == 16, "SOCKADDR_IN");
WSD_STATIC_ASSERT(offsetof(SOCKADDR_IN, sin_addr) == 4, "sin_addr");
WSD_STATIC_ASSERT(sizeof(SOCKADDR_IN6) == 28, "SOCKADDR_IN6");
WSD_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_addr) == 8, "sin6_addr");
WSD_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_scope_id) == 24, "sin6_scope_id");
WSD_STATIC_ASSERT(sizeof(WSANETWORKEVENTS) == 44, "WSANETWORKEVENTS size");
WSD_STATIC_ASSERT(offsetof(WSANETWORKEVENTS, iErrorCode) == 4, "iErrorCode");

#if UINTPTR_MAX > 0xFFFFFFFFu
WSD_STATIC_ASSERT(sizeof(WSABUF) == 16, "WSABUF size");
WSD_STATIC_ASSERT(offsetof(WSABUF, buf) == 8, "WSABUF.buf");
WSD_STATIC_ASSERT(sizeof(WSABUFEX) == 24, "WSABUFEX size");
WSD_STATIC_ASSERT(offsetof(WSABUFEX, handle) == 16, "WSABUFEX.handle");
WSD_STATIC_ASSERT(sizeof(WSAOVERLAPPED) == 32, "WSAOVERLAPPED size");
WSD_STATIC_ASSERT(offsetof(WSAOVERLAPPED, Offset) == 16, "Offset");
WSD_STATIC_ASSERT(offsetof(WSAOVERLAPPED, OffsetHigh) == 20, "OffsetHigh");
WSD_STATIC_ASSERT(offsetof(WSAOVERLAPPED, hEvent) == 24, "hEvent");
WSD_STATIC_ASSERT(sizeof(WSATHREADID) == 16, "WSATHREADID");
WSD_STATIC_ASSERT(sizeof(SOCKET_ADDRESS) == 16, "SOCKET_ADDRESS");
WSD_STATIC_ASSERT(sizeof(SOCKET_ADDRESS_LIST) == 24, "SOCKET_ADDRESS_LIST");
WSD_STATIC_ASSERT(offsetof(SOCKET_ADDRESS_LIST, Address) == 8, "SOCKET_ADDRESS_LIST.Address");
WSD_STATIC_ASSERT(sizeof(QOS) == 80, "QOS");
WSD_STATIC_ASSERT(sizeof(WSPPROC_TABLE) == 240, "WSPPROC_TABLE size");
WSD_STATIC_ASSERT(offsetof(WSPPROC_TABLE, lpWSPBind) == 3 * 8, "lpWSPBind");
WSD_STATIC_ASSERT(offsetof(WSPPROC_TABLE, lpWSPIoctl) == 16 * 8, "lpWSPIoctl");
WSD_STATIC_ASSERT(offsetof(WSPPROC_TABLE, lpWSPSocket) == 28 * 8, "lpWSPSocket");
WSD_STATIC_ASSERT(offsetof(WSPPROC_TABLE, lpWSPStringToAddress) == 29 * 8,
                  "lpWSPStringToAddress");
WSD_STATIC_ASSERT(sizeof(WSPUPCALLTABLEEX) == 128, "WSPUPCALLTABLEEX size");
WSD_STATIC_ASSERT(offsetof(WSPUPCALLTABLEEX, lpWPUCreateSocketHandle) == 3 * 8,
                  "lpWPUCreateSocketHandle");
WSD_STATIC_ASSERT(offsetof(WSPUPCALLTABLEEX, lpWPUQuerySocketHandleContext) == 9 * 8,
                  "lpWPUQuerySocketHandleContext");
WSD_STATIC_ASSERT(offsetof(WSPUPCALLTABLEEX, lpWPUCompleteOverlappedRequest) == 15 * 8,
                  "lpWPUCompleteOverlappedRequest");
#else
WSD_STATIC_ASSERT(sizeof(WSABUFEX) == 12, "WSABUFEX size (32-bit)");
WSD_STATIC_ASSERT(sizeof(WSAOVERLAPPED) == 20, "WSAOVERLAPPED size (32-bit)");
WSD_STATIC_ASSERT(sizeof(SOCKET_ADDRESS_LIST) == 12, "SOCKET_ADDRESS_LIST (32-bit)");
WSD_STATIC_ASSERT(sizeof(WSPPROC_TABLE) == 120, "WSPPROC_TABLE size (32-bit)");
WSD_STATIC_ASSERT(sizeof(WSPUPCALLTABLEEX) == 64, "WSPUPCALLTABLEEX size (32-bit)");
#endif

#ifdef __cplusplus
}
#endif

#endif /* WSD_PROVIDER_H */
