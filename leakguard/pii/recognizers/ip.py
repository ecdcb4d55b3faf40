"""Which IP addresses Presidio finds are personal data, and which "addresses" are versions.

* **Addresses that identify nobody** (:func:`personal_ip` is False): the special-purpose
  blocks of the IANA registries (RFC 6890: loopback, link-local, multicast, reserved and
  "this network", netmasks, the documentation ranges of RFC 5737 / RFC 3849), the public
  DNS resolvers everyone names (1.1.1.1, 8.8.8.8, 9.9.9.9 ...), Google's API endpoints
  199.36.153.4/30 and .8/30 (which cloud docs name) and the placeholder 1.2.3.4; and,
  unless asked for (``pii.ip_addresses: personal_and_private``), private networks'
  addresses (RFC 1918, CGNAT, unique-local), which name a machine inside one
  organisation. ``pii.ip_addresses: all`` reports every address.
* **Versions** (:func:`version_like_ip`): "Git 1.8.1.3 Release Notes", "pam (0.99.7.1-5)",
  "Fixes since 1.5.4.7", "the content would be::" (an IPv6 reading of a reST literal).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["personal_ip", "version_like_ip"]

# Public resolvers (Cloudflare, Google, Quad9, OpenDNS, AdGuard): a service, never a person.
_SERVICES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "1.1.1.1", "1.0.0.1", "1.1.1.2", "1.0.0.2", "1.1.1.3", "1.0.0.3",
        "8.8.8.8", "8.8.4.4", "9.9.9.9", "149.112.112.112", "9.9.9.10", "149.112.112.10",
        "208.67.222.222", "208.67.220.220", "94.140.14.14", "94.140.15.15",
        "2606:4700:4700::1111", "2606:4700:4700::1001", "2606:4700:4700::1112",
        "2606:4700:4700::1002", "2001:4860:4860::8888", "2001:4860:4860::8844",
        "2620:fe::fe", "2620:fe::9", "2620:119:35::35", "2620:119:53::53",
        # the placeholder of countless examples (in APNIC's research block 1.0.0.0/8)
        "1.2.3.4",
    )
)  # fmt: skip
_SERVICE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "199.36.153.4/30",  # Google's restricted.googleapis.com
        "199.36.153.8/30",  # Google's private.googleapis.com
    )
)
# Networks of an organisation's own hosts: RFC 1918, RFC 6598 shared space (carrier-grade
# NAT), unique-local IPv6. They name a machine inside one network, not a subscriber.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def personal_ip(value: str, *, private_networks: bool = False) -> bool:
    """May ``value`` (an address as Presidio matched it, with an optional ``/prefix``,
    ``%zone`` or brackets) identify a person's host? False for the special-purpose and
    well-known service addresses above, and for private-network addresses unless
    ``private_networks``; True for anything else, a value that does not parse included
    (it is reported, never silently passed)."""
    core = value.strip("[]").split("/", 1)[0].split("%", 1)[0]
    try:
        address = ipaddress.ip_address(core)
    except ValueError:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _PRIVATE_NETWORKS):
        return private_networks
    if address in _SERVICES or any(address in network for network in _SERVICE_NETWORKS):
        return False
    special = (
        address.is_private,  # documentation, benchmarking, "this network" ...
        address.is_loopback,
        address.is_link_local,
        address.is_multicast,
        address.is_unspecified,
        # IPv4's 240/4 holds the netmasks (255.255.255.0) and the broadcast address. IPv6's
        # "reserved" is every block IANA has not allocated (7/8 of the space): an address
        # there is invented, and an invented address in a text stands for a real one.
        isinstance(address, ipaddress.IPv4Address) and address.is_reserved,
    )
    return not any(special)


# A version right before: "version 1.2.3.4", "v1.2.3.4", "Fixes since 1.5.4.7" ...
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\bversion|\bv|\brelease|\bbuild|_version|\bver|\bsince|\bfixed in|\bintroduced in"
    r"|\b(?:new|added|changed|removed|deprecated|changes) in|\bchanges since|\bas of"
    r"|\bprior to)\W{0,4}$"
)
# ... or right after: a Debian revision in a changelog header ("pam (0.99.7.1-5)"), release
# notes, a changelog date ("0.2.7.1 (2013-10-22)"), a heading's underline ("3.31.0.2\n===").
_VERSION_AFTER = re.compile(
    r"(?i)^(?:[-~+][\w.+~]*\)|\s*(?:release\b|released\b|\(\d{4}-\d{2}-\d{2}\))"
    r"|:?[ \t]*\r?\n(?:=|-|~|\^){3})"
)
# Words of a line that talks about networks: a version-shaped address there is an address.
_NETWORK_WORDS = re.compile(
    r"(?i)\b(?:ip|ipv[46]|inet6?|addr|address(?:es)?|hosts?|hostname|servers?|dns|nameservers?"
    r"|route[sd]?|routing|ping|gateway|gw|subnet|netmask|mask|network|interface|eth\d*"
    r"|dhcp|proxy|peer|client|connect\w*|listen\w*|bind|firewall|nat|vpn|tcp|udp|icmp|port"
    r"|from|via|src|dst|source|destination|login|logged)\b"
)
_QUAD = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def version_like_ip(text: str, start: int, end: int) -> bool:
    """Is the address Presidio matched at ``text[start:end]`` rather a version number?

    * a version cue right before or after it (``_VERSION_BEFORE``, ``_VERSION_AFTER``);
    * an IPv6 reading without a single digit ("be::", "add::" in reST and C++);
    * a version-shaped quad, first part at most 9 and the others at most 20 ("1.8.1.2"),
      on a line with no network word, port (":80") or prefix ("/24"). A public address
      drawn at random (Faker's ``ipv4_public``) has that shape with probability ~1.3e-5
      (1/3 of draws in class A, 9 of its 125 first octets, (21/256)^3 for the rest; 1 of
      300,000 seeded draws had it).
    """
    value = text[start:end]
    if ":" in value and "." not in value:
        return not any(c.isdigit() for c in value)
    before = text[max(0, start - 24) : start]
    after = text[end : end + 16]
    if _VERSION_BEFORE.search(before):
        return True
    if _VERSION_AFTER.match(after):
        return True
    quad = _QUAD.fullmatch(value)
    if quad is None:
        return False
    parts = [int(p) for p in quad.groups()]
    if parts[0] > 9 or max(parts[1:]) > 20 or after[:1] in (":", "/"):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    return _NETWORK_WORDS.search(line) is None
