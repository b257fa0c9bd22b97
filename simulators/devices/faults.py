"""Device faults as named switches (``--fault NAME[=VALUE]``).

Each fault is what a device meets in the field or on its line (devices.md §1.4, §6; standards.md
§6: paper out, a power cut, clock drift, CRC errors, a silent device), which a correct host must
cope with.  Firmware bugs (defects of the device itself that break a requirement, which a
conformance suite must catch) are no switch of the models: they are subclasses a proof installs
from outside (conformance/proofs/device_firmware.py).
A :class:`FaultSet` is parsed from CLI-style specs and asked by the device
models (``faults.on("paper_out")``, ``faults.value("clock_drift")``).

Unknown names or bad values raise :class:`FaultError` (zh + en), which the CLI
reports as a usage error (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from profiles.errors import RoucaiError


class FaultError(RoucaiError, ValueError):
    """An unknown device fault or bad parameters (exit 2)."""


@dataclass(frozen=True)
class FaultKind:
    """A named fault: who has it, what it does, its parameter (if any)."""

    name: str
    devices: tuple[str, ...]
    zh: str
    en: str
    param: str | None = None  # "int" | "float" | None
    default: float | int | None = None
    unit: str = ""


FAULTS: dict[str, FaultKind] = {
    f.name: f
    for f in [
        FaultKind(
            "paper_out",
            ("scale",),
            "打印机缺纸：拒绝销售（PAPER_OUT），状态报告缺纸",
            "printer out of paper: sales refused (PAPER_OUT), status reports it",
        ),
        FaultKind(
            "paper_low",
            ("scale",),
            "纸将尽：状态报告纸将尽，可打印N张后缺纸",
            "paper low: status says low; runs out after N receipts",
            "int",
            3,
            "receipts",
        ),
        FaultKind(
            "ink_out",
            ("scale",),
            "打印头/墨故障：小票为空白，状态报告打印故障",
            "print head / ink fault: receipts come out blank, status reports it",
        ),
        FaultKind(
            "memory_full",
            ("scale",),
            "存储已满：容量设为N条，存满后拒绝销售",
            "memory full: capacity set to N records, sales refused when full",
            "int",
            0,
            "records",
        ),
        FaultKind(
            "power_loss",
            ("scale",),
            "第N笔销售进行中断电：未提交的丢失，已提交的保留",
            "power cut during the Nth sale: the uncommitted sale is lost, committed ones kept",
            "int",
            1,
            "sale",
        ),
        FaultKind("clock_drift", ("scale", "reader"), "时钟漂移（ppm）", "clock drift (ppm)", "float", 500.0, "ppm"),
        FaultKind(
            "bad_crc",
            ("scale", "reader"),
            "线路或固件：每N帧应答的CRC错误",
            "on the line or in the firmware: every Nth response frame has a bad CRC",
            "int",
            5,
            "frames",
        ),
        FaultKind("tamper", ("scale",), "防拆开关触发", "tamper switch tripped"),
        FaultKind("battery_low", ("scale",), "电池电量低", "battery low"),
        FaultKind(
            "mute",
            ("scale", "reader"),
            "设备不应答（主机应报告超时）",
            "device never answers (host must report a timeout)",
        ),
        FaultKind(
            "no_events",
            ("scale", "reader"),
            "设备不主动上送事件（只能轮询读取）",
            "device pushes no events (records only by polling)",
        ),
        FaultKind(
            "card_pulled",
            ("reader",),
            "写卡时在第N字节处拿走卡片（撕裂写）",
            "card pulled during a block write after N bytes (torn write)",
            "int",
            8,
            "bytes",
        ),
        FaultKind(
            "wrong_key",
            ("reader",),
            "卡片密钥不是本配置的密钥（认证失败）",
            "the card's keys are not the profile's (authentication fails)",
        ),
        FaultKind(
            "corrupt_block", ("reader",), "卡片第N块数据损坏", "block N of the card is corrupt", "int", 4, "block"
        ),
        FaultKind(
            "cloned_uid",
            ("reader",),
            "读卡器上是一张克隆卡（同UID，复制的旧数据）",
            "the card in the field is a clone (same UID, copied old data)",
        ),
        FaultKind("http_timeout", ("handheld",), "上传无应答（超时）", "uploads get no answer (timeout)"),
    ]
}


class FaultSet:
    """The active faults of one device, parsed from ``NAME`` / ``NAME=VALUE`` specs."""

    def __init__(self, specs: list[str] | None = None, device: str | None = None):
        self._on: dict[str, float | int | None] = {}
        for spec in specs or []:
            self.add(spec, device)

    def add(self, spec: str, device: str | None = None) -> None:
        name, _, raw = str(spec).partition("=")
        name = name.strip()
        kind = FAULTS.get(name)
        if kind is None:
            raise FaultError(
                f"未知故障「{name}」；可用：{', '.join(sorted(FAULTS))}",
                f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}",
            )
        if device is not None and device not in kind.devices:
            raise FaultError(
                f"故障「{name}」不适用于{device}（适用：{'、'.join(kind.devices)}）",
                f"fault {name!r} does not apply to a {device} (applies to {', '.join(kind.devices)})",
            )
        if raw and kind.param is None:
            raise FaultError(f"故障「{name}」不带参数", f"fault {name!r} takes no value")
        value = kind.default
        if raw:
            try:
                value = int(raw) if kind.param == "int" else float(raw)
            except ValueError:
                raise FaultError(
                    f"故障「{name}」的参数应为{'整数' if kind.param == 'int' else '数字'}：{raw!r}",
                    f"fault {name!r} needs a{'n integer' if kind.param == 'int' else ' number'}: {raw!r}",
                )
            if kind.param == "int" and value < 0:
                raise FaultError(f"故障「{name}」的参数不能为负", f"fault {name!r} value must not be negative")
        self._on[name] = value

    def on(self, name: str) -> bool:
        return name in self._on

    def value(self, name: str, default=None):
        return self._on.get(name, default) if name in self._on else default

    def clear(self, name: str) -> None:
        self._on.pop(name, None)

    @property
    def names(self) -> list[str]:
        return sorted(self._on)

    def describe(self, lang: str = "zh") -> list[str]:
        out = []
        for n in self.names:
            k = FAULTS[n]
            v = self._on[n]
            text = k.en if lang == "en" else k.zh
            out.append(f"{n}{'' if v is None else '=' + str(v)}: {text}")
        return out

    def __bool__(self) -> bool:
        return bool(self._on)
