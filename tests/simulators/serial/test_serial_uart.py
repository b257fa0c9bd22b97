"""The UART bit model: matched settings are transparent, mismatched ones give deterministic garbage."""

from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from simulators.serial import uart
from simulators.serial.settings import BYTESIZES, PARITIES, STOPBITS, LineSettings

settings_st = st.builds(
    LineSettings,
    baudrate=st.sampled_from([1200, 2400, 4800, 9600, 19200, 57600, 115200]),
    bytesize=st.sampled_from(BYTESIZES),
    parity=st.sampled_from(PARITIES),
    stopbits=st.sampled_from(STOPBITS),
)


@given(settings_st, st.binary(max_size=64))
def test_bit_level_round_trip_with_same_settings(s, data):
    got, fe, pe = uart.decode(uart.encode(data, s), s.baudrate, s)
    assert got == bytes(b & s.data_mask for b in data)
    assert (fe, pe) == (0, 0)


@given(settings_st, st.binary(max_size=64))
def test_encode_length_is_bits_per_byte_in_half_cells(s, data):
    assert len(uart.encode(data, s)) == int(2 * s.bits_per_byte) * len(data)


@given(settings_st, settings_st, st.binary(max_size=48))
@hsettings(max_examples=200)
def test_receive_is_deterministic_and_bounded(tx, rx, data):
    a = uart.receive(data, tx, rx)
    b = uart.receive(data, tx, rx)
    assert a == b
    got, fe, pe = a
    assert all(x <= rx.data_mask for x in got)
    # a receiver can never see more start bits than the sender produced falling edges + 1 per byte
    assert len(got) <= len(uart.encode(data, tx))
    assert fe >= 0 and pe >= 0


def test_parity_bits_known_values():
    assert uart.parity_bit(0b1011, "E") == 1 and uart.parity_bit(0b1011, "O") == 0
    assert uart.parity_bit(0, "M") == 1 and uart.parity_bit(0xFF, "S") == 0


def test_7e1_sender_into_8n1_receiver_sets_the_top_bit_from_parity():
    # 'h' = 0x68 has three ones; even parity bit is 1, which the 8N1 receiver reads as bit 7
    got, fe, pe = uart.receive(b"hi", LineSettings(9600, 7, "E"), LineSettings(9600))
    assert got == b"\xe8i"
    assert (fe, pe) == (0, 0)


def test_half_baud_receiver_gets_fewer_garbled_bytes():
    got, fe, pe = uart.receive(b"hello", LineSettings(9600), LineSettings(4800))
    assert got != b"hello" and 0 < len(got) < 5


def test_double_baud_receiver_sees_framing_errors():
    got, fe, pe = uart.receive(b"hello", LineSettings(9600), LineSettings(19200))
    assert got != b"hello" and fe > 0


def test_odd_receiver_counts_parity_errors_on_even_sender():
    data = bytes(range(32))
    got, fe, pe = uart.receive(data, LineSettings(9600, 8, "E"), LineSettings(9600, 8, "O"))
    assert got == data and pe == len(data) and fe == 0


def test_stop_bit_count_alone_does_not_garble():
    got, fe, pe = uart.receive(b"\x00\xff\x55", LineSettings(9600, stopbits=2), LineSettings(9600))
    assert (got, fe, pe) == (b"\x00\xff\x55", 0, 0)
