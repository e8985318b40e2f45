"""Checks huaxiang's phone functions against libphonenumber (Python `phonenumbers`, the same
metadata release as the Rust crate): for each row of the CSV huaxiang wrote — text, default
region, normalize_phone, phone_valid, phone_region — the number is parsed in the region and
must be valid exactly when `is_valid_number` says so, with the same E.164 text and region
(`region_code_for_number`). Prints every disagreement and "mismatches N"; exits non-zero on any.

Usage: phone_reference.py OURS.csv
"""

import csv
import sys

import phonenumbers


def reference(text, region):
    """(e164, valid, region) as libphonenumber answers; (None, False, None) when not valid."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False, None
    if not phonenumbers.is_valid_number(number):
        return None, False, None
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        True,
        phonenumbers.region_code_for_number(number),
    )


def main():
    mismatches = 0
    rows = 0
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows += 1
            ours = (row["e164"] or None, row["valid"] == "true", row["region"] or None)
            expected = reference(row["text"], row["default_region"])
            if ours != expected:
                mismatches += 1
                print(f"{row['text']!r} in {row['default_region']}: ours {ours}, libphonenumber {expected}")
    print(f"{rows} numbers, mismatches {mismatches}")
    sys.exit(1 if mismatches or rows == 0 else 0)


if __name__ == "__main__":
    main()
