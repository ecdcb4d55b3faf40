"""The shared check-digit algorithms and write-then-rename, pinned on published values."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakguard._files import replacing, write_atomically
from leakguard.checksums import luhn_check_digit, luhn_valid, mod97_valid, nhs_valid
from leakguard.exceptions import LeakGuardError, ScanTimedOut


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111 1111 1111 1111", True),  # the Visa test number
        ("4111-1111-1111-1112", False),
        ("79927398713", True),  # the worked example of ISO/IEC 7812-1 annex B
        ("79927398710", False),
        ("0", False),  # one digit: no check digit to speak of
        ("", False),
    ],
)
def test_luhn_valid_checks_the_digits_only(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize("payload", ["7992739871", "411111111111111", "5018 0000 000", "1"])
def test_the_luhn_check_digit_makes_the_payload_valid_and_no_other_digit_does(
    payload: str,
) -> None:
    check = luhn_check_digit(payload)
    assert luhn_valid(payload + str(check))
    assert not any(luhn_valid(payload + str(d)) for d in range(10) if d != check)


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),  # the IBAN registry's example
        ("GB82-WEST-1234-5698-7654-32", True),
        ("GB83 WEST 1234 5698 7654 32", False),
        ("DE89370400440532013000", True),
        ("GB8", False),
        ("GB82 WEST 1234 5698 7654 3!", False),
    ],
)
def test_mod97_valid_is_the_iban_check(iban: str, valid: bool) -> None:
    assert mod97_valid(iban) is valid


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("943 476 5919", True),  # NHS Digital's published example number
        ("9434765919", True),
        ("943 476 5918", False),
        ("401 023 2137", True),
        ("943 476 591", False),  # nine digits
    ],
)
def test_nhs_valid_is_the_mod_11_check(number: str, valid: bool) -> None:
    assert nhs_valid(number) is valid


def test_a_number_whose_nhs_check_would_be_10_is_never_valid() -> None:
    # 000000001: weighted sum 2, 11 - 2 = 9; 000000010: sum 3, check 8; ... 000000005: sum
    # 10, check 1; 000000006: sum 12 = 1 (mod 11), check 10, a number never issued.
    assert not any(nhs_valid(f"000000006{d}") for d in range(10))


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_atomically(target, "old\n")
    write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_tmp(tmp_path: Path) -> None:
    target = tmp_path / "index.lgx"
    target.write_text("old")

    def write_half() -> None:
        with replacing(target, fsync=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_half()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.lgx"]


def test_the_tmp_file_goes_to_the_given_folder(tmp_path: Path) -> None:
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    with replacing(tmp_path / "out.txt", tmp_dir=tmp_dir) as tmp:
        assert tmp.parent == tmp_dir
        tmp.write_text("x")
    assert (tmp_path / "out.txt").read_text() == "x"


def test_scan_timed_out_is_a_leakguard_error_and_keeps_its_old_import_path() -> None:
    from leakguard.online.scan_threads import ScanTimedOut as old_path

    assert old_path is ScanTimedOut
    assert issubclass(ScanTimedOut, LeakGuardError)
    assert issubclass(ScanTimedOut, TimeoutError)
