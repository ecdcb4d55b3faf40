"""False findings of the pattern detectors on real technical prose (issue 19): versions read
as IP addresses, addresses that identify nobody, "v3" as a driver licence, dates and lists
as street addresses, dates, standards, ZIP+4 codes and ranges as phone numbers, man-page
metavariables as secrets. Each shape comes from Debian docs or man pages; the real value
right beside it must still be found."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from faker import Faker

from leakguard.guard import Guard
from leakguard.pii.recognizers.ip import personal_ip, version_like_ip
from leakguard.pii.recognizers.near_miss import is_near_miss


def labelled(guard: Guard, text: str) -> list[tuple[str, str]]:
    return [(f.label, text[f.start : f.end]) for f in guard.scan(text).findings]


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1", "::1", "0.0.0.0", "0.0.0.0/0", "10.20.30.40", "172.16.5.4",
        "192.168.1.78", "255.255.255.0", "255.255.255.252", "169.254.10.1", "fe80::1%eth0",
        "224.0.0.251", "ff02::fb", "100.64.3.2", "192.0.2.10", "198.51.100.23", "203.0.113.42",
        "2001:db8::8a2e:370:7334", "fd12:3456:789a::1", "::ffff:192.168.1.1", "1.1.1.1",
        "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "2606:4700:4700::1111",
        "2001:4860:4860::8844", "1.2.3.4", "240.1.2.3", "199.36.153.4", "199.36.153.11",
    ],
)  # fmt: skip
def test_addresses_that_identify_nobody_are_not_personal(value: str) -> None:
    assert not personal_ip(value)


@pytest.mark.parametrize(
    "value",
    [
        "81.2.69.160",
        "84.17.46.201",
        "185.199.108.153",
        "2a02:8070:a284:5100::1",
        "::ffff:81.2.69.142",
        # unallocated IPv6 space, where Faker's ipv6() draws 7 times in 8: an invented
        # address in a text stands for a real one
        "8ac8:9a22:a4d8:173a:503a:6da7:42ce:340c",
    ],
)
def test_public_host_addresses_are_personal(value: str) -> None:
    assert personal_ip(value)
    assert personal_ip(value, private_networks=True)


@pytest.mark.parametrize(
    "value", ["10.20.30.40", "172.16.5.4", "192.168.1.78", "100.64.3.2", "fd12:3456:789a::1"]
)
def test_private_network_addresses_count_only_when_asked(value: str) -> None:
    assert not personal_ip(value)
    assert personal_ip(value, private_networks=True)


def test_non_personal_addresses_are_reported_as_ip_addresses_says(
    guard: Guard, make_guard: Callable[..., Guard]
) -> None:
    text = "Ping 127.0.0.1, then the router 192.168.1.1; the client came from 81.2.69.160."
    assert labelled(guard, text) == [("IP_ADDRESS", "192.168.1.1"), ("IP_ADDRESS", "81.2.69.160")]
    personal = make_guard({"pii": {"ip_addresses": "personal"}})
    assert labelled(personal, text) == [("IP_ADDRESS", "81.2.69.160")]
    every = make_guard({"pii": {"ip_addresses": "all"}})
    assert [v for label, v in labelled(every, text) if label == "IP_ADDRESS"] == [
        "127.0.0.1",
        "192.168.1.1",
        "81.2.69.160",
    ]
    private = make_guard({"pii": {"ip_addresses": "personal_and_private"}})
    assert [v for label, v in labelled(private, text) if label == "IP_ADDRESS"] == [
        "192.168.1.1",
        "81.2.69.160",
    ]


@pytest.mark.parametrize(
    ("text", "value", "version"),
    [
        ("Git 1.8.1.3 Release Notes", "1.8.1.3", True),
        ("Fixes since 1.5.4.7\n------", "1.5.4.7", True),
        ("pam (0.99.7.1-5) unstable; urgency=low", "0.99.7.1", True),
        ("The fix for this in 1.8.1.2 had performance degradation", "1.8.1.2", True),
        ("Unfortunately, 1.5.3.8 shares the same issue.", "1.5.3.8", True),
        ("- Improved documentation.\n\n0.2.7.1 (2013-10-22)", "0.2.7.1", True),
        ("- Translation updates\n\nMajor changes in 3.31.0.2\n=======", "3.31.0.2", True),
        ("at-spi2-core 2.39.90.1\n======================", "2.39.90.1", True),
        ("the content would be::", "be::", True),
        ("after version 84.17.46.201", "84.17.46.201", True),
        # the same shapes on a line about networks, or with a port or prefix: addresses
        ("ping 1.8.1.3 to check the link", "1.8.1.3", False),
        ("a GRE tunnel bound to 1.2.3.4:7777", "1.2.3.4", False),
        ("the block 5.6.7.8/30 of our ISP", "5.6.7.8", False),
        ("connection from 84.17.46.201 refused", "84.17.46.201", False),
        ("fe80::1 is the router", "fe80::1", False),
        ("the range 84.17.46.1-84.17.46.9 was banned", "84.17.46.1", False),
    ],
)
def test_versions_read_as_ip_addresses_are_near_misses(
    text: str, value: str, version: bool
) -> None:
    start = text.index(value)
    assert version_like_ip(text, start, start + len(value)) is version
    assert is_near_miss(text, start, start + len(value), "IP_ADDRESS") is version


def test_random_public_addresses_are_almost_never_version_shaped() -> None:
    """Faker's ipv4_public (what generated sets plant): 20,000 draws, each alone on a
    line with no network word, none taken for a version (expected: ~0.26)."""
    fake = Faker()
    fake.seed_instance(19)
    read_as_versions = 0
    for _ in range(20_000):
        value = fake.ipv4_public()
        text = f"It was {value} yesterday."
        read_as_versions += version_like_ip(text, 7, 7 + len(value))
    assert read_as_versions == 0


@pytest.mark.parametrize(
    "text",
    [
        "you run services that make explicit use of cgroup v1\n features",
        '<h3><a href="COPYING">License</a></h3>',
        "libstdc++-2.90 to libstdc++-v3 can be found in the libstdc++ License",
        "SHA-256 instead of SHA-1 as implicit\n    preference.  [T6043, T6063]",
        "To delete an organization firewall policy with ID 123456789, run:",
        "delete the policy orchestrator my-orchestrator in the folder 123456:",
        "(change introduced in v1.2). Commons CLI 1.4 at least",
    ],
)
def test_versions_tags_and_ids_are_not_driver_licences(guard: Guard, text: str) -> None:
    assert [v for label, v in labelled(guard, text) if label == "US_DRIVER_LICENSE"] == []


@pytest.mark.parametrize(
    ("text", "licence"),
    [
        ("My driver's license number is D1234567.", "D1234567"),
        ("Driver license: 123456789", "123456789"),
        ("Driving licence no. T6063, expires in May", "T6063"),
        ("Permit W4417722 (class C), issued 2019", "W4417722"),
    ],
)
def test_licences_with_a_whole_word_cue_are_still_found(
    guard: Guard, text: str, licence: str
) -> None:
    assert ("US_DRIVER_LICENSE", licence) in labelled(guard, text)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks to all!\n\nThe polkit team & polkit community\nOctober 26, 2022\n\n## polkit 121",
        "Version 1.0.0 was released in\nMarch 1998.\n\n****\nNote that some of the",
        '{ "values": [1, 2, 3, 4], "key": 1 },\n{ "values": [5, 6, 7, 8], "key": 2 }',
        "43\n\n43.beta.1\n - build: fix dist tarball creation (symlink issue) #206",
        "#124\n40.1\n - 5G cellular status (issue 114)\n - night light",
        "This limitation does not apply to tokens enrolled via PKCS#11 because",
        "creates a default route (destination 0.0.0.0/0, next hop default internet gateway)",
        "IPv4 route for destination 199.36.153.4/30 using the default gateway",
        "--alternative-name-servers=192.168.1.1,192.168.1.2 via 192.168.1.1 or so",
        "ip route add 10.1.2.0/24 via eth0",
        "Limited NFSv4 ACL support for Mac OS (Darwin)\n\nJan 10, 2017: POSIX.1e and NFSv4 ACL",
    ],
)
def test_dates_lists_versions_and_ip_routes_are_not_street_addresses(
    guard: Guard, text: str
) -> None:
    assert [v for label, v in labelled(guard, text) if label == "STREET_ADDRESS"] == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "Free Software Foundation, 51 Franklin St, Fifth Floor, Boston, MA 02110-1301, USA.",
            "51 Franklin St, Fifth Floor, Boston, MA 02110-1301, USA",
        ),
        ("Ship it to Via Roma 10, 00184 Roma by Friday.", "Via Roma 10, 00184 Roma"),
        ("Meet me at 12 October Street, Dublin tomorrow.", "12 October Street"),
    ],
)
def test_street_addresses_beside_those_shapes_are_found(
    guard: Guard, text: str, address: str
) -> None:
    assert [v for label, v in labelled(guard, text) if label == "STREET_ADDRESS"] == [address]


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("  -rwsr-xr-x 1 root root 30736 2007-01-31 00:10 /bin/ping", []),
        ("strictly POSIX compliant, as described in the\nPOSIX 1003.1-2004 document.", []),
        (
            "Franklin St, Fifth Floor, Boston, MA 02110-1301, USA. Tel 617-542-5942",
            ["617-542-5942"],
        ),
        ("gid pairs have been allocated in the static range\n60000-64999. They are", []),
        ("ports 49152-65535 are ephemeral; call 212-555-0147 instead", ["212-555-0147"]),
        ("phoneNumber: '+1.8005550123'", ["+1.8005550123"]),
        ("call 212-555-0147, not the subnet 10.1.2.0/24", ["212-555-0147"]),
        ("Ligue para (11) 91234-5678 hoje", ["(11) 91234-5678"]),
        ("call me on 98765-43210 tonight", ["98765-43210"]),
        ('"osRelease": "3.10.0-862.el7.x86_64", "phone": "+1 415 555 0134"', ["+1 415 555 0134"]),
        ("where 0 is the highest priority and 2147483647 is the lowest", []),
        ('3. 4294967295, aka "32bit (uid_t) -1"', []),
        ("  16  11  10  16  24  40  51  61\n  12  12  14  19  26  58  60  55", []),
        ("   setuptools 20.6.7  21.0.0 wheel\n   docutils 0.14    0.17.1 wheel", []),
        ("-- $MawkId: README,v 1.6 2019/01/29 02:05:45 tom Exp $", []),
        ("Ana Ruiz  415-555-0134  2024", ["415-555-0134"]),
    ],
)
def test_dates_standards_zip_codes_and_ranges_are_not_phone_numbers(
    guard: Guard, text: str, phones: list[str]
) -> None:
    assert [v for label, v in labelled(guard, text) if label == "PHONE_NUMBER"] == phones


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        ("--forward-ssh-password=FORWARD_SSH_PASSWORD | --forward-ssh-private-key=KEY_FILE", []),
        ("--service-agent-auth=SERVICE_AGENT_AUTH --username=USERNAME", []),
        ("--password=hunter2Secret99 --api-key=API_KEY", ["hunter2Secret99"]),
        ("--token=GH_TOKEN_2024x --auth=SERVICE-AGENT-AUTH", ["GH_TOKEN_2024x"]),
        ("dismiss a request by its name (e.g. projects/12345/approvalRequests/abc123)", []),
        ("organizations/123/locations/global/securityHealthAnalyticsCustomModules/123456", []),
        ("update (CREDENTIAL : --location=LOCATION --oauth-client=OAUTH_CLIENT)", []),
        (
            "--kms-key='projects/my-project/locations/us-central1/keyRings/my-key-ring' "
            "--api-key=gh/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zz",
            ["gh/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zz"],
        ),
    ],
)
def test_man_page_metavariables_are_not_secrets(
    guard: Guard, text: str, secrets: list[str]
) -> None:
    assert [v for label, v in labelled(guard, text) if label == "SECRET"] == secrets
