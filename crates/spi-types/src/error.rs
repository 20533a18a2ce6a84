//! Winsock error codes (`WSAE*` and the Win32-aliased `WSA_*` codes).

use std::fmt;
use std::str::FromStr;

/// A Winsock error code as a provider or the switch reports it.
///
/// This is a newtype over the numeric value, so a code this crate does not know is kept exactly
/// as it came (`WsaError::from_code(12345).code() == 12345`), never mapped to a catch-all. Every
/// code of the Winsock headers has a named constant with its Windows name
/// (`WsaError::WSAECONNREFUSED`), and names parse back:
///
/// ```
/// use spi_types::WsaError;
/// let e: WsaError = "WSAECONNREFUSED".parse().unwrap();
/// assert_eq!(e, WsaError::WSAECONNREFUSED);
/// assert_eq!(e.code(), 10061);
/// assert_eq!(e.to_string(), "WSAECONNREFUSED (10061)");
/// assert_eq!(WsaError::from_code(4242).to_string(), "unknown Winsock error (4242)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
#[error("{} ({})", self.name().unwrap_or("unknown Winsock error"), self.0)]
pub struct WsaError(i32);

macro_rules! wsa_codes {
    ($($(#[$m:meta])* $name:ident = $val:expr;)*) => {
        #[allow(missing_docs)]
        impl WsaError {
            $(
                $(#[$m])*
                #[doc = concat!("`", stringify!($name), "` = ", stringify!($val), ".")]
                pub const $name: WsaError = WsaError($val);
            )*
            /// Every named code, in the order of the Winsock headers.
            pub const ALL: &'static [WsaError] = &[$(WsaError::$name),*];
        }
        const NAMES: &[(&str, i32)] = &[$((stringify!($name), $val)),*];
    };
}

wsa_codes! {
    WSA_INVALID_HANDLE = 6;
    WSA_NOT_ENOUGH_MEMORY = 8;
    WSA_INVALID_PARAMETER = 87;
    WSA_OPERATION_ABORTED = 995;
    WSA_IO_INCOMPLETE = 996;
    WSA_IO_PENDING = 997;
    WSAEINTR = 10004;
    WSAEBADF = 10009;
    WSAEACCES = 10013;
    WSAEFAULT = 10014;
    WSAEINVAL = 10022;
    WSAEMFILE = 10024;
    WSAEWOULDBLOCK = 10035;
    WSAEINPROGRESS = 10036;
    WSAEALREADY = 10037;
    WSAENOTSOCK = 10038;
    WSAEDESTADDRREQ = 10039;
    WSAEMSGSIZE = 10040;
    WSAEPROTOTYPE = 10041;
    WSAENOPROTOOPT = 10042;
    WSAEPROTONOSUPPORT = 10043;
    WSAESOCKTNOSUPPORT = 10044;
    WSAEOPNOTSUPP = 10045;
    WSAEPFNOSUPPORT = 10046;
    WSAEAFNOSUPPORT = 10047;
    WSAEADDRINUSE = 10048;
    WSAEADDRNOTAVAIL = 10049;
    WSAENETDOWN = 10050;
    WSAENETUNREACH = 10051;
    WSAENETRESET = 10052;
    WSAECONNABORTED = 10053;
    WSAECONNRESET = 10054;
    WSAENOBUFS = 10055;
    WSAEISCONN = 10056;
    WSAENOTCONN = 10057;
    WSAESHUTDOWN = 10058;
    WSAETOOMANYREFS = 10059;
    WSAETIMEDOUT = 10060;
    WSAECONNREFUSED = 10061;
    WSAELOOP = 10062;
    WSAENAMETOOLONG = 10063;
    WSAEHOSTDOWN = 10064;
    WSAEHOSTUNREACH = 10065;
    WSAENOTEMPTY = 10066;
    WSAEPROCLIM = 10067;
    WSAEUSERS = 10068;
    WSAEDQUOT = 10069;
    WSAESTALE = 10070;
    WSAEREMOTE = 10071;
    WSASYSNOTREADY = 10091;
    WSAVERNOTSUPPORTED = 10092;
    WSANOTINITIALISED = 10093;
    WSAEDISCON = 10101;
    WSAENOMORE = 10102;
    WSAECANCELLED = 10103;
    WSAEINVALIDPROCTABLE = 10104;
    WSAEINVALIDPROVIDER = 10105;
    WSAEPROVIDERFAILEDINIT = 10106;
    WSASYSCALLFAILURE = 10107;
    WSASERVICE_NOT_FOUND = 10108;
    WSATYPE_NOT_FOUND = 10109;
    WSA_E_NO_MORE = 10110;
    WSA_E_CANCELLED = 10111;
    WSAEREFUSED = 10112;
    WSAHOST_NOT_FOUND = 11001;
    WSATRY_AGAIN = 11002;
    WSANO_RECOVERY = 11003;
    WSANO_DATA = 11004;
}

/// `WSABASEERR`: the base of the `WSAE*` codes.
pub const WSABASEERR: i32 = 10000;

impl WsaError {
    /// The error with this numeric value, named or not.
    pub const fn from_code(code: i32) -> Self {
        WsaError(code)
    }

    /// The numeric value.
    pub const fn code(self) -> i32 {
        self.0
    }

    /// The Windows name (`"WSAEFAULT"`), or `None` for a code this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(_, v)| *v == self.0).map(|(n, _)| *n)
    }

    /// The code with this Windows name (exact, upper case, as in the headers).
    pub fn from_name(name: &str) -> Option<Self> {
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| WsaError(*v))
    }

    /// Whether this crate knows the code by name.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for WsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "WsaError({})", self.0),
        }
    }
}

impl From<WsaError> for i32 {
    fn from(e: WsaError) -> i32 {
        e.0
    }
}

impl From<i32> for WsaError {
    fn from(code: i32) -> Self {
        WsaError(code)
    }
}

/// The text given to [`WsaError::from_str`] is not a Winsock error name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a Winsock error name (expected a name such as WSAECONNREFUSED)")]
pub struct UnknownErrorName(pub String);

impl FromStr for WsaError {
    type Err = UnknownErrorName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WsaError::from_name(s).ok_or_else(|| UnknownErrorName(s.to_owned()))
    }
}
