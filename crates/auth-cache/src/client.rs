//! [`ClientId`]: who is charged for verification work — one IPv4 address, or one IPv6 /64
//! (a single host usually holds a whole /64, so counting addresses would let it rotate freely).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The unit budgets and the KDF pool's fair share are kept per.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(IpAddr);

impl ClientId {
    /// The client an address belongs to: IPv4 as is (also when written as an IPv4-mapped IPv6
    /// address), IPv6 by its /64 prefix.
    #[must_use]
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    /// The address (for IPv6, the first of its /64).
    #[must_use]
    pub fn address(&self) -> IpAddr {
        self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => v4.fmt(f),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_their_64_prefix_and_mapped_ipv4_is_ipv4() {
        let a = ClientId::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientId::of("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap());
        let other = ClientId::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        let mapped = ClientId::of("::ffff:127.0.0.2".parse().unwrap());
        assert_eq!(mapped, ClientId::of("127.0.0.2".parse().unwrap()));
        assert_eq!(mapped.to_string(), "127.0.0.2");
    }
}
