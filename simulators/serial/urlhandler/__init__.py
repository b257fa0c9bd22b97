"""pyserial URL handlers of this package (``protocol_<scheme>.py``); see :func:`simulators.serial.register`."""
