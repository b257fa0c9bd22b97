"""LineSettings: validation and the bit-timing maths."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from simulators.serial.settings import BYTESIZES, PARITIES, STOPBITS, LineSettings

settings_st = st.builds(
    LineSettings,
    baudrate=st.integers(1, 4_000_000),
    bytesize=st.sampled_from(BYTESIZES),
    parity=st.sampled_from(PARITIES),
    stopbits=st.sampled_from(STOPBITS),
)


def test_8n1_9600_is_ten_bits_and_960_bytes_per_second():
    s = LineSettings(9600)
    assert s.bits_per_byte == 10
    assert s.byte_time == pytest.approx(1 / 960)
    assert s.bytes_per_second == pytest.approx(960)
    assert s.short() == "9600 8N1"


def test_7e2_and_8o1_5_bit_counts():
    assert LineSettings(1200, 7, "E", 2).bits_per_byte == 11
    assert LineSettings(1200, 8, "O", 1.5).bits_per_byte == 11.5
    assert LineSettings(1200, 8, "O", 1.5).short() == "1200 8O1.5"


@given(settings_st)
def test_bits_per_byte_counts_start_data_parity_stop(s):
    assert s.bits_per_byte == 1 + s.bytesize + (s.parity != "N") + s.stopbits
    assert 6.5 <= s.bits_per_byte <= 12


@given(settings_st, st.integers(0, 100_000))
def test_transmit_time_is_linear_and_consistent_with_throughput(s, n):
    assert s.transmit_time(n) == pytest.approx(n * s.bits_per_byte / s.baudrate)
    assert s.bytes_per_second * s.byte_time == pytest.approx(1.0)
    assert s.data_mask == 2**s.bytesize - 1


@pytest.mark.parametrize(
    "kw",
    [
        dict(baudrate=0),
        dict(baudrate=9600.5),
        dict(baudrate=True),
        dict(bytesize=9),
        dict(parity="X"),
        dict(stopbits=3),
    ],
)
def test_impossible_settings_raise_value_error(kw):
    with pytest.raises(ValueError):
        LineSettings(**kw)


def test_from_serial_reads_pyserial_attributes():
    import serial

    p = serial.serial_for_url(
        "loop://", do_not_open=True, baudrate=4800, bytesize=7, parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_TWO
    )
    assert LineSettings.from_serial(p) == LineSettings(4800, 7, "E", 2)
