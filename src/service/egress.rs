//! Outbound requests to addresses users choose (webhooks). Such a URL must not make the server
//! call itself or its private network (SSRF): loopback, private, link-local, shared and other
//! non-global addresses are refused unless the operator allows the host or network
//! (`webhook_allow_hosts`, `ASSETD_WEBHOOK_ALLOW_HOSTS`).
//!
//! The check runs on every delivery, after DNS resolution, inside the HTTP client's own
//! resolver ([`GuardedResolver`]): the addresses it checks are the ones the connection uses,
//! so a name that resolves to a public address when checked and to loopback a moment later
//! (DNS rebinding) cannot slip through. IP literals never reach a resolver and are checked by
//! [`EgressPolicy::check_url`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// Hosts and networks the operator allows even though they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

/// A refused target.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "{host} resolves to {addr}, a loopback, private or otherwise non-public address; an \
     operator can allow it with webhook_allow_hosts (ASSETD_WEBHOOK_ALLOW_HOSTS)"
)]
pub struct Refused {
    /// The host as written in the URL.
    pub host: String,
    /// The address it resolved to.
    pub addr: IpAddr,
}

impl EgressPolicy {
    /// Parses allow-list entries: host names (matched exactly, case-insensitively), IP
    /// addresses and CIDR networks such as `10.0.0.0/8`.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.nets.push(net.trunc());
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if entry.contains('/') || entry.contains(char::is_whitespace) {
                return Err(format!(
                    "webhook_allow_hosts: {entry:?} is neither a host name, an IP address nor \
                     a CIDR network"
                ));
            } else {
                policy
                    .hosts
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        Ok(policy)
    }

    /// Whether connecting to `addr` for `host` is allowed.
    pub fn check(&self, host: &str, addr: IpAddr) -> Result<(), Refused> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let addr = canonical(addr);
        let allowed = is_public(addr)
            || self.hosts.contains(&host)
            || self.nets.iter().any(|n| n.contains(&addr));
        if allowed {
            Ok(())
        } else {
            Err(Refused { host, addr })
        }
    }

    /// Checks a URL whose host is an IP literal (which no resolver sees); names are checked
    /// when they are resolved. URLs without a host are left to the HTTP client to refuse.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(addr) => self.check(host, addr),
            Err(_) => Ok(()),
        }
    }

    /// Resolves `host` and checks every address it has; all must be allowed.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| ResolveError::Lookup(format!("{host}: {e}")))?
            .collect();
        for addr in &addrs {
            self.check(host, addr.ip())?;
        }
        Ok(addrs)
    }
}

/// Why a name could not be resolved to allowed addresses.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// DNS failed.
    #[error("could not resolve {0}")]
    Lookup(String),
    /// An address is not allowed.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// IPv4 addresses written as IPv6 (mapped `::ffff:a.b.c.d`) are judged as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `addr` is a global unicast address a public service could have.
pub fn is_public(addr: IpAddr) -> bool {
    match canonical(addr) {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let embedded_v4 = ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64
        || ip.segments()[..6] == [0; 6]; // IPv4-compatible (deprecated)
    if embedded_v4 && !ip.is_unspecified() && !ip.is_loopback() {
        let [.., a, b] = ip.segments();
        let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0xdb8)) // documentation
}

/// A DNS resolver for the webhook HTTP client that refuses names resolving to addresses the
/// policy does not allow; see the module documentation.
#[derive(Debug, Clone)]
pub struct GuardedResolver(pub Arc<EgressPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The [`Refused`] in `err`'s chain of sources, if an address was refused.
pub fn refused_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        if let Some(ResolveError::Refused(refused)) = e.downcast_ref::<ResolveError>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_global_unicast_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(private)), "{private} must not be public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_ips_and_networks() {
        let policy = EgressPolicy::parse(&[
            "127.0.0.1".into(),
            " 10.0.0.0/8 ".into(),
            "Hooks.Internal.".into(),
            "::1".into(),
            String::new(),
        ])
        .unwrap();
        assert!(policy.check("127.0.0.1", ip("127.0.0.1")).is_ok());
        assert!(policy.check("localhost", ip("127.0.0.2")).is_err());
        assert!(policy.check("x", ip("10.200.0.1")).is_ok());
        assert!(policy.check("hooks.internal", ip("192.168.0.9")).is_ok());
        assert!(policy.check("[::1]", ip("::1")).is_ok());
        assert!(policy.check("other", ip("192.168.0.9")).is_err());
        assert!(policy.check("public.example", ip("8.8.8.8")).is_ok());
        assert!(EgressPolicy::parse(&["10.0.0.0/99".into()]).is_err());
        assert!(EgressPolicy::parse(&["not a host".into()]).is_err());
    }

    #[test]
    fn refusals_name_the_address_and_the_setting() {
        let err = EgressPolicy::default()
            .check("LocalHost", ip("127.0.0.1"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("localhost resolves to 127.0.0.1"), "{msg}");
        assert!(msg.contains("webhook_allow_hosts"), "{msg}");
    }

    #[test]
    fn ip_literals_in_urls_are_checked() {
        let policy = EgressPolicy::default();
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
        ] {
            assert!(policy.check_url(&url.parse().unwrap()).is_err(), "{url}");
        }
        assert!(policy
            .check_url(&"https://hooks.example/x".parse().unwrap())
            .is_ok());
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let policy = EgressPolicy::default();
        let err = policy.resolve("localhost").await.unwrap_err();
        assert!(matches!(err, ResolveError::Refused(_)), "{err}");
        let allowed = EgressPolicy::parse(&["localhost".into()]).unwrap();
        assert!(!allowed.resolve("localhost").await.unwrap().is_empty());
    }
}
