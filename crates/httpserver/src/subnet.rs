//! `-rpcallowip` values: a single IP, network/netmask or network/CIDR.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    network: IpAddr,
    prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        let all = if width == 32 { u128::from(u32::MAX) } else { u128::MAX };
        all & !((1u128 << (width - prefix)) - 1)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
#[must_use]
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

impl Subnet {
    /// The network of `ip` with the given prefix length.
    #[must_use]
    pub fn new(ip: IpAddr, prefix: u8) -> Option<Self> {
        let (value, width) = bits(ip);
        if prefix > width {
            return None;
        }
        let net = value & mask(prefix, width);
        let network = match ip {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(net).ok()?)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(net)),
        };
        Some(Self { network, prefix })
    }

    /// Parses Core's forms: `1.2.3.4`, `1.2.3.4/24`, `1.2.3.4/255.255.255.0`,
    /// `0.0.0.0/0`, `::/0`, `fe80::/10`, `::1`. No name lookups.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, suffix) = match s.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (s, None),
        };
        let ip = canonical(addr.parse::<IpAddr>().ok()?);
        let width = bits(ip).1;
        let prefix = match suffix {
            None => width,
            Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => m.parse::<u8>().ok()?,
            Some(m) => {
                // a netmask of the same family, made of leading ones only
                let mask_ip = canonical(m.parse::<IpAddr>().ok()?);
                let (value, mwidth) = bits(mask_ip);
                if mwidth != width {
                    return None;
                }
                let ones = u8::try_from((value << (128 - u32::from(width))).leading_ones()).ok()?;
                if mask(ones, width) != value {
                    return None;
                }
                ones
            }
        };
        Self::new(ip, prefix)
    }

    /// Whether `ip` lies in this network.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let (value, width) = bits(ip);
        let (net, net_width) = bits(self.network);
        width == net_width && value & mask(self.prefix, width) == net
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The networks allowed to connect: `127.0.0.0/8` and `::1` always, plus the
/// configured ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    subnets: Vec<Subnet>,
}

impl AllowList {
    /// Loopback plus `extra`.
    #[must_use]
    pub fn new(extra: &[Subnet]) -> Self {
        let mut subnets = vec![
            Subnet { network: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), prefix: 8 },
            Subnet { network: IpAddr::V6(Ipv6Addr::LOCALHOST), prefix: 128 },
        ];
        subnets.extend_from_slice(extra);
        Self { subnets }
    }

    /// Whether a peer at `ip` may connect.
    #[must_use]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.subnets.iter().any(|s| s.contains(ip))
    }
}

impl Default for AllowList {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.subnets {
            write!(f, "{s} ")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(Subnet::parse("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert_eq!(Subnet::parse("1.2.3.4/24").unwrap().to_string(), "1.2.3.0/24");
        assert_eq!(Subnet::parse("1.2.3.4/255.255.255.0").unwrap().to_string(), "1.2.3.0/24");
        assert_eq!(Subnet::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(Subnet::parse("::/0").unwrap().to_string(), "::/0");
        assert_eq!(Subnet::parse("fe80::1/10").unwrap().to_string(), "fe80::/10");
        assert_eq!(Subnet::parse("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        for bad in [
            "",
            "x",
            "1.2.3.4/33",
            "1.2.3.4/255.0.255.0",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "::/129",
            "1.2.3.4/ffff::",
            "localhost",
            "1.2.3.4/24x",
        ] {
            assert!(Subnet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn allow_list_with_synthetic_peers() {
        let list = AllowList::new(&[Subnet::parse("10.1.0.0/16").unwrap(), Subnet::parse("2001:db8::/32").unwrap()]);
        for ok in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1", "10.1.2.3", "::ffff:10.1.2.3", "2001:db8::5"]
        {
            assert!(list.allows(ip(ok)), "{ok}");
        }
        for no in ["10.2.0.1", "192.168.1.1", "::2", "2001:db9::1", "0.0.0.0", "fe80::1"] {
            assert!(!list.allows(ip(no)), "{no}");
        }
        assert!(AllowList::new(&[Subnet::parse("0.0.0.0/0").unwrap()]).allows(ip("8.8.8.8")));
        assert!(!AllowList::new(&[Subnet::parse("0.0.0.0/0").unwrap()]).allows(ip("2001::1")));
        assert!(AllowList::new(&[Subnet::parse("::/0").unwrap()]).allows(ip("2001::1")));
    }
}
